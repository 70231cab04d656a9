//! Kill -9 at random moments under concurrent writers, 20 times: see kvsql_tests::crash.
//! `KVSQL_CRASH_CYCLES=N` runs more (or `target/debug/crash --cycles N`).

#[test]
fn acknowledged_writes_survive_sigkill_and_nothing_is_half_applied() {
    let cycles = std::env::var("KVSQL_CRASH_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("crash test seed {seed} (repeat with target/debug/crash --seed {seed})");
    let temp = tempfile::tempdir().unwrap();
    let report = kvsql_tests::crash::run(temp.path(), cycles, false, seed);
    eprintln!("{report:?}");
    assert_eq!(report.cycles, cycles);
    // The writers got work done between kills: the check is not vacuous.
    assert!(
        report.acknowledged >= u64::from(cycles),
        "too few writes acknowledged to prove anything: {report:?}"
    );
}

/// The same with --sync, whose single-row writes are acknowledged through group commit
/// (commit, then wait for a shared fsync of the log). A --sync server starts on a log
/// written in full beforehand (see the storage's `prepare_logs`), so every kill here
/// lands inside one: recovery must stop where this run's records end.
#[test]
fn group_committed_writes_survive_sigkill() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("crash test seed {seed} (repeat with target/debug/crash --sync --seed {seed})");
    let temp = tempfile::tempdir().unwrap();
    let report = kvsql_tests::crash::run(temp.path(), 10, true, seed);
    eprintln!("{report:?}");
    assert_eq!(report.cycles, 10);
    assert!(
        report.acknowledged >= 10,
        "too few writes acknowledged to prove anything: {report:?}"
    );
}

/// Prepared single-row inserts are acknowledged after one write of the log for the
/// commits of many sessions (the server runs them on the connection's thread and hands
/// the log to the OS before answering). With no other writer to write the log out, each
/// acknowledged row must still survive a kill -9 that follows at once.
#[test]
fn acknowledged_prepared_inserts_survive_an_immediate_sigkill() {
    use kvsql_protocol::Client;
    use kvsql_tests::{TestServer, runtime, scalar};
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let rt = runtime();
    let mut server = TestServer::start_in(&data, &[]);
    let addr = server.addr();
    let acknowledged = rt.block_on(async {
        let setup = Client::connect(addr).await.unwrap();
        setup
            .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
            .await
            .unwrap();
        // Two sessions on the server's threads at once, so that commits share writes.
        let mut writers = Vec::new();
        for w in 0..2i64 {
            writers.push(tokio::spawn(async move {
                let client = Client::connect(addr).await.unwrap();
                let insert = client
                    .prepare("INSERT INTO t VALUES ($1, $2)")
                    .await
                    .unwrap();
                for i in 0..200i64 {
                    let id = w * 1000 + i;
                    let value = format!("row {id}");
                    assert_eq!(client.execute(&insert, &[&id, &value]).await.unwrap(), 1);
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        400
    });
    server.kill();
    let server = TestServer::start_in(&data, &[]);
    rt.block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        assert_eq!(
            scalar(&client, "SELECT count(*) FROM t").await,
            acknowledged,
            "acknowledged rows lost by a kill -9"
        );
        assert_eq!(
            scalar(&client, "SELECT count(*) FROM t WHERE v = 'row ' || id").await,
            acknowledged
        );
    });
}

/// With --sync, RocksDB writes new logs over old ones (recycled logs), from the start
/// (see the storage's `prepare_logs`) and again each time a flushed memtable's log is
/// reused. A kill -9 in the middle of such a log leaves the old log's records after the
/// new ones; recovery must stop where the new ones end and keep every acknowledged row.
/// Tiny memtables (--memtable-mb 1) make the server switch logs within a second; the
/// kill waits until RocksDB's own log says it reused one while the writers ran.
#[test]
fn group_committed_writes_survive_sigkill_inside_a_recycled_log() {
    use kvsql_protocol::Client;
    use kvsql_tests::{TestServer, runtime, scalar};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    const WRITERS: i64 = 4;
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let args = ["--sync", "--memtable-mb", "1"];
    let rt = runtime();
    let acknowledged: Arc<Mutex<Vec<i64>>> = Arc::default();
    {
        let server = TestServer::start_in(&data, &args);
        rt.block_on(async {
            let client = Client::connect(server.addr()).await.unwrap();
            client
                .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT)", &[])
                .await
                .unwrap();
        });
    }
    for cycle in 0..3i64 {
        let mut server = TestServer::start_in(&data, &args);
        let addr = server.addr();
        // The reuse that prepared the log this run starts on is counted already: wait
        // for one that the writers' commits bring about.
        let reused_before = reused_logs(&data);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let acknowledged = acknowledged.clone();
                rt.spawn(async move {
                    let client = Client::connect(addr).await.unwrap();
                    let insert = client
                        .prepare("INSERT INTO t VALUES ($1, $2)")
                        .await
                        .unwrap();
                    let pad = "p".repeat(2000);
                    for i in 0.. {
                        let id = (cycle * WRITERS + w) * 1_000_000 + i;
                        // Ends with an error once the server is killed.
                        if client.execute(&insert, &[&id, &pad]).await.is_err() {
                            break;
                        }
                        acknowledged.lock().unwrap().push(id);
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while reused_logs(&data) <= reused_before {
            assert!(
                Instant::now() < deadline,
                "RocksDB never reused a log file (cycle {cycle})"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Some commits into the reused log, then the kill, mid-write.
        std::thread::sleep(Duration::from_millis(100));
        server.kill();
        rt.block_on(async {
            for writer in writers {
                tokio::time::timeout(Duration::from_secs(30), writer)
                    .await
                    .expect("a writer hung after the kill")
                    .unwrap();
            }
        });
    }
    // The last recovery without --sync (no reuse): the logs it reads were written with
    // reuse on, and it must stop where their new records end all the same.
    let server = TestServer::start_in(&data, &[]);
    let acknowledged = acknowledged.lock().unwrap().clone();
    rt.block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let rows = client.query("SELECT id FROM t", &[]).await.unwrap();
        let stored: std::collections::HashSet<i64> =
            rows.iter().map(|r| r.get(0).unwrap()).collect();
        let lost: Vec<i64> = acknowledged
            .iter()
            .copied()
            .filter(|id| !stored.contains(id))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged rows lost, first {:?}",
            lost.len(),
            acknowledged.len(),
            &lost[..lost.len().min(5)]
        );
        assert_eq!(
            scalar(&client, "SELECT count(*) FROM t WHERE length(pad) <> 2000").await,
            0,
            "a row came back torn"
        );
    });
}

/// How many times RocksDB's info log in `data` says it reused a log file.
fn reused_logs(data: &std::path::Path) -> usize {
    std::fs::read_to_string(data.join("LOG"))
        .unwrap_or_default()
        .matches("from recycle list")
        .count()
}
