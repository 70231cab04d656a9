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
/// (commit, then wait for a shared fsync of the log).
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
