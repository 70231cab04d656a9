//! End to end through the driver: a real `kvsql-server` process on loopback.

use std::io::{Read, Write};
use std::time::Duration;

use kvsql_protocol::codec::PREAMBLE;
use kvsql_protocol::{Client, ColumnType, Error, pb};
use kvsql_tests::raw::{
    connect_raw, errors_until_closed, handshake, hello_frame, read_response, send_request,
};
use kvsql_tests::{TestServer, runtime, scalar, server_code};

#[test]
fn create_fill_query_update_delete_through_the_driver() {
    let server = TestServer::start();
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        assert_eq!(client.server_info().major, 1);
        client
            .execute(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)",
                &[],
            )
            .await
            .unwrap();
        let inserted = client
            .execute(
                "INSERT INTO t VALUES (1, 'ann', 2.5), (2, 'bob', NULL), (3, 'cy', -1)",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(inserted, 3);

        let rows = client
            .query(
                "SELECT id, name, score FROM t WHERE id >= 2 ORDER BY id",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        let columns: Vec<(&str, ColumnType)> = rows[0]
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.column_type))
            .collect();
        assert_eq!(
            columns,
            [
                ("id", ColumnType::Integer),
                ("name", ColumnType::Text),
                ("score", ColumnType::Real)
            ]
        );
        assert_eq!(rows[0].get::<i64>("id").unwrap(), 2);
        assert_eq!(rows[0].get::<Option<f64>>("score").unwrap(), None);
        assert_eq!(rows[1].get::<&str>(1).unwrap(), "cy");
        assert_eq!(rows[1].get::<f64>(2).unwrap(), -1.0);
        assert!(matches!(
            rows[1].get::<i64>(1),
            Err(Error::Conversion { .. })
        ));

        assert_eq!(
            client
                .execute("UPDATE t SET score = 0 WHERE id <> 1", &[])
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            client
                .execute("DELETE FROM t WHERE id = 3", &[])
                .await
                .unwrap(),
            1
        );
        let rows = client
            .query("SELECT name, score FROM t ORDER BY name", &[])
            .await
            .unwrap();
        let got: Vec<(String, f64)> = rows
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
            .collect();
        assert_eq!(got, [("ann".to_string(), 2.5), ("bob".to_string(), 0.0)]);

        // Exactly one / at most one row.
        let row = client
            .query_one("SELECT name FROM t WHERE id = 1", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<&str>(0).unwrap(), "ann");
        let none = client
            .query_opt("SELECT name FROM t WHERE id = 42", &[])
            .await
            .unwrap();
        assert!(none.is_none());
        let err = client
            .query_one("SELECT name FROM t", &[])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::RowCount { got: 2, .. }), "{err}");
        assert!(client.query_opt("SELECT name FROM t", &[]).await.is_err());
        client
            .batch_execute("CREATE TABLE s (x INTEGER); INSERT INTO s VALUES (1); DROP TABLE s")
            .await
            .unwrap();

        // Several statements in one request: one result each.
        let results = client
            .simple_query("INSERT INTO t VALUES (9, 'z', 1); SELECT count_me FROM t")
            .await;
        assert_eq!(server_code(&results.unwrap_err()), "42703");
        let rows = client
            .query("SELECT name FROM t WHERE id = 9", &[])
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            1,
            "statements before the failing one stay committed"
        );
    });
}

#[test]
fn errors_carry_codes_positions_and_leave_nothing_behind() {
    let server = TestServer::start();
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let err = client
            .query("SELECT * FROM missing", &[])
            .await
            .unwrap_err();
        assert_eq!(server_code(&err), "42P01");
        assert!(err.to_string().contains("no such table: missing"), "{err}");

        let err = client.query("SELECT 1;\nSELEC 2", &[]).await.unwrap_err();
        assert_eq!(server_code(&err), "42601");
        let Error::Server { position, .. } = &err else {
            unreachable!()
        };
        assert_eq!(*position, Some((2, 1)), "{err}");

        client
            .execute("CREATE TABLE k (id INTEGER PRIMARY KEY)", &[])
            .await
            .unwrap();
        client
            .execute("INSERT INTO k VALUES (3)", &[])
            .await
            .unwrap();
        let err = client
            .execute("INSERT INTO k VALUES (1), (2), (3), (4)", &[])
            .await
            .unwrap_err();
        assert_eq!(server_code(&err), "23505");
        let rows = client.query("SELECT id FROM k", &[]).await.unwrap();
        assert_eq!(rows.len(), 1, "a failed multi-row insert left rows behind");

        let err = client
            .query("SELECT id FROM k GROUP BY ROLLUP (id)", &[])
            .await
            .unwrap_err();
        assert_eq!(server_code(&err), "0A000");
        // The session is still usable after errors.
        assert_eq!(scalar(&client, "SELECT 1 + 1").await, 2);
    });
}

#[test]
fn data_survives_a_restart_and_shutdown_is_clean() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", &[])
            .await
            .unwrap();
        client
            .execute("INSERT INTO notes VALUES (1, 'kept'), (2, 'also kept')", &[])
            .await
            .unwrap();
        client.execute("CREATE TABLE plain (x TEXT)", &[]).await.unwrap();
        client
            .execute("INSERT INTO plain VALUES ('r1'), ('r2')", &[])
            .await
            .unwrap();
        client
            .execute("CREATE TABLE draft (id INTEGER PRIMARY KEY); INSERT INTO draft VALUES (7)", &[])
            .await
            .unwrap();
        client
            .execute("ALTER TABLE draft ADD COLUMN tag TEXT DEFAULT 'new'; ALTER TABLE draft RENAME TO final", &[])
            .await
            .unwrap();
    });
    let status = server.stop();
    assert!(status.success(), "SIGTERM exit status {status:?}");
    assert!(server.log().contains("database closed"), "{}", server.log());

    let server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let rows = client
            .query("SELECT body FROM notes ORDER BY id", &[])
            .await
            .unwrap();
        let bodies: Vec<String> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(bodies, ["kept", "also kept"]);
        let rows = client
            .query("SELECT id, tag FROM final", &[])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i64>(0).unwrap(), 7);
        assert_eq!(rows[0].get::<&str>(1).unwrap(), "new");
        // Hidden row ids continue after the stored ones instead of overwriting them.
        client
            .execute("INSERT INTO plain VALUES ('r3')", &[])
            .await
            .unwrap();
        let rows = client.query("SELECT x FROM plain", &[]).await.unwrap();
        let xs: Vec<String> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(xs, ["r1", "r2", "r3"]);
    });
}

#[test]
fn killed_server_keeps_acknowledged_writes() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .execute("CREATE TABLE w (id INTEGER PRIMARY KEY)", &[])
            .await
            .unwrap();
        for i in 0..50 {
            client
                .execute(&format!("INSERT INTO w VALUES ({i})"), &[])
                .await
                .unwrap();
        }
    });
    server.kill();
    let server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        assert_eq!(
            client.query("SELECT id FROM w", &[]).await.unwrap().len(),
            50
        );
    });
}

/// Waits for writer tasks against a --sync server; a commit never acknowledged fails the
/// test after a minute instead of hanging it.
async fn all_acknowledged(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a --sync insert was never acknowledged")
            .unwrap();
    }
}

/// With --sync, a prepared insert is acknowledged once a group sync of the log covers
/// it, and each connection thread learns of that sync through its own relay. Sessions
/// spread over three threads all get their answers (a thread left unwoken would leave
/// its sessions waiting, and the timeout fail the test), and every acknowledged row is
/// there after the server is killed.
#[test]
fn sync_commits_on_every_connection_thread_are_acknowledged_and_kept() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut server = TestServer::start_in(&dir, &["--sync", "--threads", "3"]);
    const CLIENTS: i64 = 6;
    const ROWS: i64 = 40;
    runtime().block_on(async {
        let setup = Client::connect(server.addr()).await.unwrap();
        setup
            .execute("CREATE TABLE w (id INTEGER PRIMARY KEY, who INTEGER)", &[])
            .await
            .unwrap();
        drop(setup);
        let mut tasks = Vec::new();
        for who in 0..CLIENTS {
            // Connections go to the threads in turn: two sessions on each of three.
            let client = Client::connect(server.addr()).await.unwrap();
            tasks.push(tokio::spawn(async move {
                let insert = client
                    .prepare("INSERT INTO w VALUES ($1, $2)")
                    .await
                    .unwrap();
                for i in 0..ROWS {
                    let id = who * ROWS + i;
                    client.execute(&insert, &[&id, &who]).await.unwrap();
                }
            }));
        }
        all_acknowledged(tasks).await;
    });
    server.kill();
    let server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let rows = client.query("SELECT id FROM w", &[]).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(ids, (0..CLIENTS * ROWS).collect::<Vec<_>>());
    });
}

/// With --sync the log sync thread writes a commit's acknowledgement itself when it is
/// all its connection has to send. Requests that overlap it (a pipeline, other tasks on
/// the same connection, a failing insert, a select) must still be answered in order,
/// each with its own answer, and every acknowledged row be there after a kill.
#[test]
fn sync_acknowledgements_keep_their_order_among_overlapping_requests() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut server = TestServer::start_in(&dir, &["--sync"]);
    const TASKS: i64 = 6;
    const ROUNDS: i64 = 40;
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .execute("CREATE TABLE o (id INTEGER PRIMARY KEY, who INTEGER)", &[])
            .await
            .unwrap();
        let insert = client
            .prepare("INSERT INTO o VALUES ($1, $2)")
            .await
            .unwrap();
        let count = client
            .prepare("SELECT count(*) FROM o WHERE who = $1")
            .await
            .unwrap();
        let by_id = client
            .prepare("SELECT who FROM o WHERE id = $1")
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for who in 0..TASKS {
            // All tasks share one connection: their requests interleave on it, and a
            // select's answer (no sync to wait for) must not overtake an insert's.
            let (client, insert, count, by_id) =
                (client.clone(), insert.clone(), count.clone(), by_id.clone());
            tasks.push(tokio::spawn(async move {
                let mut next = who * 1000;
                for round in 0..ROUNDS {
                    // One insert alone: the sync thread's to acknowledge.
                    let n = client.execute(&insert, &[&next, &who]).await.unwrap();
                    assert_eq!(n, 1);
                    let row = client.query_one(&by_id, &[&next]).await.unwrap();
                    assert_eq!(row.get::<i64>(0).unwrap(), who);
                    next += 1;
                    // Then three inserts, a duplicate and a count, sent together.
                    let mut pipeline = client.pipeline();
                    for id in next..next + 3 {
                        pipeline.query(&insert, &[&id, &who]);
                    }
                    pipeline.query(&insert, &[&next, &who]);
                    pipeline.query(&count, &[&who]);
                    let results = pipeline.run().await;
                    for result in &results[..3] {
                        assert_eq!(result.as_ref().unwrap()[0].rows_affected, 1);
                    }
                    assert_eq!(results[3].as_ref().unwrap_err().code(), "23505");
                    let counted = &results[4].as_ref().unwrap()[0].rows[0];
                    assert_eq!(counted.get::<i64>(0).unwrap(), (round + 1) * 4);
                    next += 3;
                }
            }));
        }
        all_acknowledged(tasks).await;
    });
    server.kill();
    let server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let rows = client
            .query("SELECT who, count(*) FROM o GROUP BY who ORDER BY who", &[])
            .await
            .unwrap();
        let counts: Vec<(i64, i64)> = rows
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
            .collect();
        assert_eq!(
            counts,
            (0..TASKS).map(|who| (who, ROUNDS * 4)).collect::<Vec<_>>()
        );
    });
}

#[test]
fn a_second_server_on_the_same_directory_is_refused() {
    let server = TestServer::start();
    let log = server.data_dir().with_extension("second.log");
    let err = TestServer::try_start(server.data_dir(), &[], &log)
        .err()
        .expect("second server must not start");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("in use by another kvsql process"),
        "{err}\n{log}"
    );
}

#[test]
fn two_clients_work_at_once() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = Client::connect(server.addr()).await.unwrap();
        let b = Client::connect(server.addr()).await.unwrap();
        a.execute(
            "CREATE TABLE shared (id INTEGER PRIMARY KEY, who TEXT)",
            &[],
        )
        .await
        .unwrap();
        let write = |client: Client, who: &'static str, base: i64| async move {
            for i in 0..100 {
                client
                    .execute(
                        &format!("INSERT INTO shared VALUES ({}, '{who}')", base + i),
                        &[],
                    )
                    .await
                    .unwrap();
            }
        };
        tokio::join!(write(a.clone(), "a", 0), write(b.clone(), "b", 1000));
        let seen_by_a = a
            .query("SELECT id FROM shared WHERE who = 'b'", &[])
            .await
            .unwrap();
        let seen_by_b = b
            .query("SELECT id FROM shared WHERE who = 'a'", &[])
            .await
            .unwrap();
        assert_eq!((seen_by_a.len(), seen_by_b.len()), (100, 100));

        // Many requests in flight on one connection at once, answered in order.
        let queries = (0..20).map(|i| {
            let a = a.clone();
            async move { a.query(&format!("SELECT {i} * 2"), &[]).await }
        });
        let answers = futures_join_all(queries.collect()).await;
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap()[0].get::<i64>(0).unwrap(), i as i64 * 2);
        }
    });
}

/// Awaits every future concurrently (spawned on the runtime) and returns results in order.
async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// Creates `table (id INTEGER PRIMARY KEY, pad TEXT)` holding ids 0..rows, each with a
/// `pad_len`-byte text, inserted 500 rows per statement.
fn fill_padded(server: &TestServer, table: &str, rows: i64, pad_len: usize) {
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .execute(
                &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, pad TEXT)"),
                &[],
            )
            .await
            .unwrap();
        let pad = "p".repeat(pad_len);
        for start in (0..rows).step_by(500) {
            let values: Vec<String> = (start..(start + 500).min(rows))
                .map(|i| format!("({i}, '{pad}')"))
                .collect();
            client
                .execute(
                    &format!("INSERT INTO {table} VALUES {}", values.join(",")),
                    &[],
                )
                .await
                .unwrap();
        }
    });
}

#[test]
fn a_client_vanishing_mid_result_harms_nobody() {
    let server = TestServer::start();
    fill_padded(&server, "big", 10_000, 200);
    // A raw client asks for every row and hangs up after the first bytes of the answer.
    let mut raw = handshake(&server);
    send_request(&mut raw, 1, "SELECT * FROM big");
    let mut some = [0u8; 1024];
    raw.read_exact(&mut some).unwrap();
    drop(raw);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let rows = client
            .query("SELECT id FROM big WHERE id >= 9990", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 10);
        assert_eq!(
            client
                .execute("DELETE FROM big WHERE id < 5000", &[])
                .await
                .unwrap(),
            5000
        );
    });
}

#[test]
fn protocol_violations_get_an_error_and_a_closed_connection() {
    let server = TestServer::start();

    // Not our preamble (an HTTP client, say).
    let mut stream = connect_raw(&server);
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let errors = errors_until_closed(&mut stream);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "08P01");
    assert!(
        errors[0].message.contains("not a kvsql client"),
        "{:?}",
        errors[0]
    );

    // A protocol version from the future.
    let mut stream = connect_raw(&server);
    stream.write_all(&PREAMBLE).unwrap();
    stream.write_all(&hello_frame(2)).unwrap();
    let errors = errors_until_closed(&mut stream);
    assert!(
        errors[0]
            .message
            .contains("unsupported protocol version 2.0"),
        "{errors:?}"
    );

    // A length prefix of 4 GiB after the handshake.
    let mut stream = handshake(&server);
    stream.write_all(&[0xFF, 0xFF, 0xFF, 0xFF]).unwrap();
    let errors = errors_until_closed(&mut stream);
    assert!(
        errors[0].message.contains("exceeds the limit"),
        "{errors:?}"
    );

    // A frame of garbage that is not a protobuf message.
    let mut stream = handshake(&server);
    stream
        .write_all(&[0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
        .unwrap();
    let errors = errors_until_closed(&mut stream);
    assert_eq!(errors[0].code, "08P01", "{errors:?}");

    // A query before the handshake.
    let mut stream = connect_raw(&server);
    stream.write_all(&PREAMBLE).unwrap();
    send_request(&mut stream, 5, "SELECT 1");
    let errors = errors_until_closed(&mut stream);
    assert!(
        errors[0].message.contains("first request must be a hello"),
        "{errors:?}"
    );

    // Random bytes, of many lengths.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for n in 0..40 {
        let mut stream = handshake(&server);
        let bytes: Vec<u8> = (0..(n * 7 + 1))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = stream.write_all(&bytes);
        drop(stream);
    }

    // After all that, the server still answers.
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        assert_eq!(scalar(&client, "SELECT 40 + 2").await, 42);
    });
}

#[test]
fn shutdown_lets_a_running_statement_finish() {
    let mut server = TestServer::start();
    fill_padded(&server, "wide", 20_000, 500);
    // About 10 MB of result: far more than the socket buffers hold, so the statement is
    // still running (waiting for us to read) when the server is told to stop.
    let mut raw = handshake(&server);
    send_request(&mut raw, 1, "SELECT id, pad FROM wide");
    let first = read_response(&mut raw).expect("result header");
    assert!(matches!(first.kind, Some(pb::response::Kind::Header(_))));
    std::thread::sleep(Duration::from_millis(200));
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let mut rows = 0;
    let last = loop {
        let response = read_response(&mut raw).expect("the statement ran to its end");
        match response.kind {
            Some(pb::response::Kind::Rows(batch)) => rows += batch.rows.len(),
            Some(pb::response::Kind::Complete(_)) => {}
            other => break other,
        }
    };
    assert!(
        matches!(last, Some(pb::response::Kind::Done(_))),
        "{last:?}"
    );
    assert_eq!(rows, 20_000);
    assert!(
        read_response(&mut raw).is_none(),
        "the session closes after its statement"
    );
    let status = server.wait();
    assert!(status.success(), "{status:?}");
}

#[test]
fn transactions_across_sessions_lose_nothing_and_leak_nothing() {
    let server = TestServer::start();
    runtime().block_on(async {
        let setup = Client::connect(server.addr()).await.unwrap();
        setup
            .execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0)", &[])
            .await
            .unwrap();

        // Uncommitted writes are invisible, and vanish with a client that disconnects.
        let writer = Client::connect(server.addr()).await.unwrap();
        writer
            .execute("BEGIN; INSERT INTO counter VALUES (2, 99)", &[])
            .await
            .unwrap();
        assert!(setup.query("SELECT n FROM counter WHERE id = 2", &[]).await.unwrap().is_empty());
        drop(writer);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(setup.query("SELECT n FROM counter WHERE id = 2", &[]).await.unwrap().is_empty());
        setup.execute("INSERT INTO counter VALUES (2, 0)", &[]).await.unwrap();

        // No lost updates: concurrent read-modify-write transactions, retried on 40001.
        const CLIENTS: usize = 8;
        const INCREMENTS: usize = 15;
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let client = Client::connect(server.addr()).await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut retries = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        let attempt = client
                            .execute("BEGIN; UPDATE counter SET n = n + 1 WHERE id = 1; COMMIT", &[])
                            .await;
                        match attempt {
                            Ok(_) => break,
                            Err(e) if e.is_retryable() => {
                                assert_eq!(e.code(), "40001");
                                retries += 1;
                                client.execute("ROLLBACK", &[]).await.unwrap();
                            }
                            Err(e) => panic!("increment failed: {e}"),
                        }
                    }
                }
                retries
            }));
        }
        let mut retries = 0;
        for task in tasks {
            retries += task.await.unwrap();
        }
        eprintln!("{CLIENTS} clients x {INCREMENTS} increments needed {retries} retries");
        let rows = setup.query("SELECT n FROM counter WHERE id = 1", &[]).await.unwrap();
        assert_eq!(
            rows[0].get::<i64>(0).unwrap(),
            (CLIENTS * INCREMENTS) as i64,
            "after {retries} retries"
        );
    });
}

#[test]
fn integer_keys_left_out_are_unique_under_concurrency_and_across_restarts() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut server = TestServer::start_in(&dir, &[]);
    const CLIENTS: usize = 8;
    const ROWS: usize = 50;
    runtime().block_on(async {
        let setup = Client::connect(server.addr()).await.unwrap();
        setup
            .execute(
                "CREATE TABLE log (id INTEGER PRIMARY KEY, who INTEGER)",
                &[],
            )
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for who in 0..CLIENTS {
            let client = Client::connect(server.addr()).await.unwrap();
            tasks.push(tokio::spawn(async move {
                for _ in 0..ROWS {
                    client
                        .execute(&format!("INSERT INTO log (who) VALUES ({who})"), &[])
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let rows = setup.query("SELECT id FROM log", &[]).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(ids, (1..=(CLIENTS * ROWS) as i64).collect::<Vec<_>>());
    });
    assert!(server.stop().success());
    let server = TestServer::start_in(&dir, &[]);
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        client
            .execute("INSERT INTO log (who) VALUES (99)", &[])
            .await
            .unwrap();
        let rows = client
            .query("SELECT id FROM log WHERE who = 99", &[])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i64>(0).unwrap(), (CLIENTS * ROWS) as i64 + 1);
    });
}

#[test]
fn config_urls_connect_and_silent_peers_time_out() {
    let server = TestServer::start();
    runtime().block_on(async {
        let url = format!("kvsql://someone@127.0.0.1:{}", server.addr().port());
        let config: kvsql_protocol::Config = url.parse().unwrap();
        let client = config.connect().await.unwrap();
        assert_eq!(scalar(&client, "SELECT 7").await, 7);

        // A listener that accepts and never speaks: the handshake must not hang.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = kvsql_protocol::Config {
            port: silent.local_addr().unwrap().port(),
            connect_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let err = config.connect().await.expect_err("no handshake, no client");
        assert_eq!(err.code(), "08006");
        assert!(err.to_string().contains("within"), "{err}");
        drop(silent);
    });
}

#[test]
fn clients_beyond_max_connections_are_refused_with_a_reason() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&temp.path().join("data"), &["--max-connections", "3"]);
    runtime().block_on(async {
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(Client::connect(server.addr()).await.unwrap());
        }
        let err = Client::connect(server.addr())
            .await
            .expect_err("a 4th is refused");
        assert_eq!(err.code(), "53300", "{err}");
        assert!(err.to_string().contains("at most 3"), "{err}");
        // The three admitted sessions are unaffected, and a freed slot is reused.
        for client in &clients {
            assert_eq!(scalar(client, "SELECT 1").await, 1);
        }
        drop(clients.pop());
        let mut admitted = None;
        for _ in 0..50 {
            // The server notices the departure asynchronously.
            match Client::connect(server.addr()).await {
                Ok(client) => {
                    admitted = Some(client);
                    break;
                }
                Err(e) => assert_eq!(e.code(), "53300", "{e}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let client = admitted.expect("a freed slot admits a new client");
        assert_eq!(scalar(&client, "SELECT 2").await, 2);
    });
}

#[test]
fn a_thousand_simultaneous_connections_are_each_served_or_refused_cleanly() {
    const CONNECTIONS: usize = 1000;
    const LIMIT: usize = 600;
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&temp.path().join("data"), &["--max-connections", "600"]);
    runtime().block_on(async {
        let attempts: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let addr = server.addr();
                tokio::spawn(async move {
                    match Client::connect(addr).await {
                        Ok(client) => {
                            let answer = scalar(&client, &format!("SELECT {i} + 1")).await;
                            assert_eq!(answer, i as i64 + 1);
                            // Stay connected so that the slots stay taken.
                            Ok(client)
                        }
                        Err(e) => Err(e.code().to_string()),
                    }
                })
            })
            .collect();
        let mut served = Vec::new();
        let mut refused = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(client) => served.push(client),
                Err(code) => {
                    assert_eq!(code, "53300", "a connection failed otherwise than refused");
                    refused += 1;
                }
            }
        }
        assert_eq!((served.len(), refused), (LIMIT, CONNECTIONS - LIMIT));
    });
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn statement_length_and_idle_limits_answer_with_their_codes() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(
        &temp.path().join("data"),
        &["--max-statement-bytes", "100", "--idle-timeout", "1"],
    );
    runtime().block_on(async {
        let client = Client::connect(server.addr()).await.unwrap();
        let long = format!("SELECT '{}'", "x".repeat(200));
        let err = client.query(&long, &[]).await.unwrap_err();
        assert_eq!(server_code(&err), "54000");
        assert!(
            err.to_string().contains("exceeds the limit of 100 bytes"),
            "{err}"
        );
        assert_eq!(scalar(&client, "SELECT 5").await, 5, "the session goes on");
    });
    // A session that sends nothing for longer than the idle timeout is told, then closed.
    let mut raw = handshake(&server);
    let response = read_response(&mut raw).expect("an idle-timeout error");
    let Some(pb::response::Kind::Error(error)) = response.kind else {
        panic!("expected an error, got {response:?}");
    };
    assert_eq!(error.code, "57P05");
    assert!(read_response(&mut raw).is_none(), "closed after the error");
}

#[test]
fn a_statement_past_the_statement_timeout_stops_with_57014() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(&dir.path().join("data"), &["--statement-timeout", "1"]);
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        kvsql_tests::create_ids_table(&c, "k", 1000).await;
        // 10^9 rows to count: far longer than a second. The bound below only keeps the
        // test from hanging if the timeout did not work.
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            c.query("SELECT count(*) FROM k a, k b, k c", &[]),
        )
        .await
        .expect("the statement timeout stops the query")
        .unwrap_err();
        assert_eq!(server_code(&err), "57014");
        assert!(err.to_string().contains("statement timeout"), "{err}");
        assert!(err.to_string().contains("--statement-timeout"), "{err}");
        // Short statements are unaffected, and the session goes on.
        assert_eq!(scalar(&c, "SELECT count(*) FROM k").await, 1000);
    });
}

#[test]
fn an_online_backup_taken_under_writers_restores_row_for_row() {
    let temp = tempfile::tempdir().unwrap();
    let backup = temp.path().join("backups/first");
    let server = TestServer::start_in(&temp.path().join("data"), &[]);
    let rt = runtime();
    let (stable, acked_before, written) = rt.block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute(
            "CREATE TABLE stable (id INTEGER PRIMARY KEY, v TEXT, n REAL);
             CREATE TABLE moving (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
             CREATE INDEX moving_v ON moving (v)",
        )
        .await
        .unwrap();
        for batch in 0..5 {
            let rows: Vec<String> = (batch * 1000..(batch + 1) * 1000)
                .map(|i| format!("({i}, 'v{}', {})", i * 7 % 13, f64::from(i) / 4.0))
                .collect();
            c.execute(
                format!("INSERT INTO stable VALUES {}", rows.join(", ")).as_str(),
                &[],
            )
            .await
            .unwrap();
        }
        // A writer inserts rows one by one throughout the backup.
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = tokio::spawn({
            let c = Client::connect(server.addr()).await.unwrap();
            let (acked, stop) = (acked.clone(), stop.clone());
            async move {
                let mut i = 0i64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.execute("INSERT INTO moving VALUES ($1, 'm' || $1)", &[&i])
                        .await
                        .unwrap();
                    i += 1;
                    acked.store(i, std::sync::atomic::Ordering::Relaxed);
                }
                i
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let acked_before = acked.load(std::sync::atomic::Ordering::Relaxed);
        let sql = format!("BACKUP TO '{}'", backup.display());
        let results = c.simple_query(&sql).await.unwrap();
        assert_eq!(results[0].tag, "BACKUP");
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.await.unwrap();
        assert!(
            written > acked_before,
            "the writer kept writing during the backup"
        );
        // A second backup to the same place is refused, naming the problem.
        let err = c.simple_query(&sql).await.unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let stable = c
            .query("SELECT * FROM stable ORDER BY id", &[])
            .await
            .unwrap();
        (stable, acked_before, written)
    });
    assert_eq!(stable.len(), 5000);

    let restored = TestServer::start_in(
        &temp.path().join("restored"),
        &["--restore-from", backup.to_str().unwrap()],
    );
    rt.block_on(async {
        let c = Client::connect(restored.addr()).await.unwrap();
        // The table nobody wrote during the backup comes back row for row.
        let back = c
            .query("SELECT * FROM stable ORDER BY id", &[])
            .await
            .unwrap();
        assert_eq!(back.len(), stable.len());
        for (a, b) in stable.iter().zip(&back) {
            assert_eq!(a.values(), b.values());
        }
        // The written table holds a prefix of the writes: at least all acknowledged
        // before the backup began, each row whole, and its index agrees.
        let ids: Vec<i64> = c
            .query("SELECT id FROM moving ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        let n = ids.len() as i64;
        assert!(
            n >= acked_before && n <= written,
            "{n} rows, {acked_before}..{written}"
        );
        assert_eq!(ids, (0..n).collect::<Vec<_>>());
        assert_eq!(
            scalar(&c, "SELECT count(*) FROM moving WHERE v = 'm' || id").await,
            n
        );
        assert_eq!(
            scalar(&c, "SELECT count(*) FROM moving WHERE v >= 'm'").await,
            n
        );
    });
    // Restoring over data is refused.
    let log = temp.path().join("refused.log");
    let err = TestServer::try_start(
        &temp.path().join("restored"),
        &["--restore-from", backup.to_str().unwrap()],
        &log,
    )
    .err()
    .expect("restore over data must be refused");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("already holds data"), "{err}\n{log}");
}

/// Writes one request of `kind` with `id`.
fn send_kind(stream: &mut std::net::TcpStream, id: u64, kind: pb::request::Kind) {
    let mut frame = Vec::new();
    kvsql_protocol::codec::encode_frame(
        &pb::Request {
            id,
            kind: Some(kind),
        },
        &mut frame,
    );
    stream.write_all(&frame).unwrap();
}

/// Every response to request `id`, up to and including its final one.
fn answer(stream: &mut std::net::TcpStream, id: u64) -> Vec<pb::response::Kind> {
    use pb::response::Kind;
    let mut kinds = Vec::new();
    loop {
        let response = read_response(stream).expect("an answer");
        assert_eq!(response.id, id, "{response:?}");
        let kind = response.kind.expect("a response kind");
        let last = matches!(
            kind,
            Kind::Done(_) | Kind::Error(_) | Kind::Prepared(_) | Kind::Result(_)
        );
        kinds.push(kind);
        if last {
            return kinds;
        }
    }
}

#[test]
fn a_compact_execute_is_answered_in_one_frame_unless_the_columns_changed() {
    use pb::response::Kind;
    let server = TestServer::start();
    let mut raw = handshake(&server);
    send_request(
        &mut raw,
        1,
        "CREATE TABLE c (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO c VALUES (1, 'one')",
    );
    assert!(matches!(answer(&mut raw, 1).last(), Some(Kind::Done(_))));
    let prepare = |raw: &mut std::net::TcpStream, id, sql: &str| {
        send_kind(
            raw,
            id,
            pb::request::Kind::Prepare(pb::Prepare { sql: sql.into() }),
        );
        match answer(raw, id).pop() {
            Some(Kind::Prepared(p)) => p.statement_id,
            other => panic!("{other:?}"),
        }
    };
    let execute = |raw: &mut std::net::TcpStream, id, statement_id, key: i64, compact| {
        let key = pb::Value {
            kind: Some(pb::value::Kind::Integer(key)),
        };
        let execute = pb::Execute {
            statement_id,
            params: vec![key],
            max_rows: 0,
            compact,
        };
        send_kind(raw, id, pb::request::Kind::Execute(execute));
        answer(raw, id)
    };
    let select = prepare(&mut raw, 2, "SELECT * FROM c WHERE id = $1");

    // Asked for: the row, its tag and count, in one final frame.
    match execute(&mut raw, 3, select, 1, true).as_slice() {
        [Kind::Result(result)] => {
            assert_eq!(result.rows.len(), 1);
            assert_eq!(
                result.rows[0].values[1].kind,
                Some(pb::value::Kind::Text("one".into()))
            );
            assert_eq!((result.tag.as_str(), result.rows_returned), ("SELECT", 1));
        }
        other => panic!("{other:?}"),
    }
    // A missing key: no rows, still one frame.
    match execute(&mut raw, 4, select, 99, true).as_slice() {
        [Kind::Result(result)] => assert!(result.rows.is_empty()),
        other => panic!("{other:?}"),
    }
    // Not asked for: the usual four responses.
    let usual = execute(&mut raw, 5, select, 1, false);
    assert!(
        matches!(
            usual.as_slice(),
            [
                Kind::Header(_),
                Kind::Rows(_),
                Kind::Complete(_),
                Kind::Done(_)
            ]
        ),
        "{usual:?}"
    );

    // A write: its count in one frame; a failure is the usual error.
    let insert = prepare(&mut raw, 6, "INSERT INTO c VALUES ($1, 'new')");
    match execute(&mut raw, 7, insert, 2, true).as_slice() {
        [Kind::Result(result)] => {
            assert_eq!((result.tag.as_str(), result.rows_affected), ("INSERT", 1));
        }
        other => panic!("{other:?}"),
    }
    match execute(&mut raw, 8, insert, 2, true).as_slice() {
        [Kind::Error(e)] => assert_eq!(e.code, "23505", "{e:?}"),
        other => panic!("{other:?}"),
    }

    // A few rows fit in one frame; many go out the usual way, in order.
    let values: Vec<String> = (11..=50).map(|i| format!("({i}, 'n')")).collect();
    send_request(
        &mut raw,
        11,
        &format!("INSERT INTO c VALUES {}", values.join(", ")),
    );
    assert!(matches!(answer(&mut raw, 11).last(), Some(Kind::Done(_))));
    let range = prepare(&mut raw, 12, "SELECT id FROM c WHERE id >= $1 ORDER BY id");
    match execute(&mut raw, 13, range, 48, true).as_slice() {
        [Kind::Result(result)] => assert_eq!(result.rows.len(), 3),
        other => panic!("{other:?}"),
    }
    let many = execute(&mut raw, 14, range, 0, true);
    match many.as_slice() {
        [
            Kind::Header(_),
            batches @ ..,
            Kind::Complete(c),
            Kind::Done(_),
        ] => {
            let ids: Vec<_> = batches
                .iter()
                .flat_map(|b| match b {
                    Kind::Rows(b) => b.rows.clone(),
                    other => panic!("{other:?}"),
                })
                .map(|r| r.values[0].kind.clone())
                .collect();
            assert_eq!(ids.len(), 42);
            assert_eq!(ids[0], Some(pb::value::Kind::Integer(1)));
            assert_eq!(ids[41], Some(pb::value::Kind::Integer(50)));
            assert_eq!(c.rows_returned, 42);
        }
        other => panic!("{other:?}"),
    }

    // After a schema change `SELECT *` has a column the client was never told of: the
    // answer carries its header again.
    send_request(
        &mut raw,
        9,
        "ALTER TABLE c ADD COLUMN extra INTEGER DEFAULT 7",
    );
    assert!(matches!(answer(&mut raw, 9).last(), Some(Kind::Done(_))));
    match execute(&mut raw, 10, select, 1, true).as_slice() {
        [
            Kind::Header(h),
            Kind::Rows(rows),
            Kind::Complete(_),
            Kind::Done(_),
        ] => {
            assert_eq!(h.columns.len(), 3);
            assert_eq!(rows.rows[0].values.len(), 3);
        }
        other => panic!("{other:?}"),
    }
}
