//! The driver against a real server: parameters, prepared statements, pipelining,
//! streaming, cancellation, transactions, metadata, and a restart.

use std::time::{Duration, Instant};

use kvsql_protocol::{Client, Error, Value};
use kvsql_tests::{TestServer, runtime};

#[test]
fn parameters_of_every_type_and_prepared_statements() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, ok BOOLEAN, data BLOB)",
        )
        .await
        .unwrap();
        let inserted = c
            .execute(
                "INSERT INTO t VALUES ($1, $2, $3, $4, $5)",
                &[
                    &1i64,
                    &"Robert'); DROP TABLE t;--",
                    &2.5f64,
                    &true,
                    &vec![0u8, 255],
                ],
            )
            .await
            .unwrap();
        assert_eq!(inserted, 1);
        c.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            &[
                &2i32,
                &None::<String>,
                &None::<f64>,
                &None::<bool>,
                &None::<Vec<u8>>,
            ],
        )
        .await
        .unwrap();
        let row = c
            .query_one(
                "SELECT name, score, ok, data FROM t WHERE id = $1",
                &[&1i64],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<&str>(0).unwrap(), "Robert'); DROP TABLE t;--");
        assert_eq!(row.get::<f64>("score").unwrap(), 2.5);
        assert!(row.get::<bool>(2).unwrap());
        assert_eq!(row.get::<&[u8]>(3).unwrap(), &[0, 255]);
        let row = c
            .query_one("SELECT name, score FROM t WHERE id = $1", &[&2i64])
            .await
            .unwrap();
        assert_eq!(row.get::<Option<String>>(0).unwrap(), None);
        // NULL into a non-Option type, and a missing column, are typed errors.
        assert!(matches!(
            row.try_get::<String>(0),
            Err(Error::Conversion { .. })
        ));
        assert!(matches!(
            row.try_get::<f64>("nope"),
            Err(Error::NoSuchColumn(_))
        ));
        // The wrong number of values is refused by the server.
        let err = c.query("SELECT $1, $2", &[&1i64]).await.unwrap_err();
        assert_eq!(err.code(), "08P01", "{err}");

        // Prepared: types reported, reused 10,000 times.
        let insert = c
            .prepare("INSERT INTO t (id, name) VALUES ($1, $2)")
            .await
            .unwrap();
        assert_eq!(
            insert.params(),
            [
                kvsql_protocol::ColumnType::Integer,
                kvsql_protocol::ColumnType::Text
            ]
        );
        for id in 10..10_010i64 {
            let name = format!("n{id}");
            c.execute(&insert, &[&id, &name]).await.unwrap();
        }
        let get = c.prepare("SELECT name FROM t WHERE id = $1").await.unwrap();
        assert_eq!(get.columns()[0].name, "name");
        for id in (10..10_010i64).step_by(97) {
            let row = c.query_one(&get, &[&id]).await.unwrap();
            assert_eq!(row.get::<String>(0).unwrap(), format!("n{id}"));
        }
        // A prepared query with a recursive CTE, a window function and a FULL JOIN,
        // its parameters in each: ranks of every fifth id from $1, ten of them.
        let ranked = c
            .prepare(
                "WITH RECURSIVE s (id) AS (SELECT $1 UNION ALL SELECT id + 5 FROM s WHERE id < $1 + 45) \
                 SELECT s.id, t.name, rank() OVER (ORDER BY t.name DESC) AS r \
                 FROM s FULL JOIN t ON t.id = s.id WHERE s.id IS NOT NULL ORDER BY r",
            )
            .await
            .unwrap();
        let rows = c.query(&ranked, &[&100i64]).await.unwrap();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0].get::<i64>("id").unwrap(), 145);
        assert_eq!(rows[0].get::<String>("name").unwrap(), "n145");
        assert_eq!(rows[9].get::<i64>("r").unwrap(), 10);
        let rows = c.query(&ranked, &[&10_005i64]).await.unwrap();
        assert_eq!(rows.len(), 10, "ids past the table come with a NULL name");
        assert_eq!(rows[0].get::<Option<String>>("name").unwrap(), Some("n10005".into()));
        assert!(rows[1].get::<Option<String>>("name").unwrap().is_none());
        c.close(ranked).await.unwrap();

        // A schema change: the statement is planned again (and sees the new column).
        c.batch_execute("ALTER TABLE t ADD COLUMN extra INTEGER DEFAULT 7")
            .await
            .unwrap();
        let all = c.prepare("SELECT * FROM t WHERE id = $1").await.unwrap();
        c.batch_execute("ALTER TABLE t ADD COLUMN more TEXT DEFAULT 'm'")
            .await
            .unwrap();
        let row = c.query_one(&all, &[&10i64]).await.unwrap();
        assert_eq!(row.get::<String>("more").unwrap(), "m");
        c.close(all).await.unwrap();

        // Rows into structs.
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Named {
            id: i64,
            name: Option<String>,
            extra: i64,
        }
        let named: Vec<Named> = c
            .query_as(
                "SELECT id, name, extra FROM t WHERE id <= $1 ORDER BY id",
                &[&10i64],
            )
            .await
            .unwrap();
        assert_eq!(
            named,
            [
                Named {
                    id: 1,
                    name: Some("Robert'); DROP TABLE t;--".into()),
                    extra: 7
                },
                Named {
                    id: 2,
                    name: None,
                    extra: 7
                },
                Named {
                    id: 10,
                    name: Some("n10".into()),
                    extra: 7
                },
            ]
        );

        // The catalog.
        c.batch_execute("CREATE UNIQUE INDEX t_name ON t (name)")
            .await
            .unwrap();
        assert_eq!(c.tables().await.unwrap(), ["t"]);
        let columns = c.columns("t").await.unwrap();
        assert_eq!(columns[1].get::<String>(0).unwrap(), "name");
        let indexes = c.indexes("t").await.unwrap();
        assert_eq!(indexes[0].get::<String>("index").unwrap(), "t_name");
        assert!(indexes[0].get::<bool>("unique").unwrap());
    });
}

/// Prepared point selects outside a transaction are answered from the server's row
/// cache once a row is hot; each one still sees every commit that another session has
/// finished, and nothing that is not committed yet.
#[test]
fn a_hot_row_read_by_a_prepared_select_follows_every_commit() {
    let server = TestServer::start();
    runtime().block_on(async {
        let reader = Client::connect(server.addr()).await.unwrap();
        let writer = Client::connect(server.addr()).await.unwrap();
        writer
            .batch_execute(
                "CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO kv VALUES (1, 'a')",
            )
            .await
            .unwrap();
        let get = reader
            .prepare("SELECT v FROM kv WHERE id = $1")
            .await
            .unwrap();
        let read = || async {
            reader
                .query_opt(&get, &[&1i64])
                .await
                .unwrap()
                .map(|row| row.get::<String>(0).unwrap())
        };
        for _ in 0..3 {
            assert_eq!(read().await.as_deref(), Some("a"));
        }
        // Each step's SQL, then what the reader must see right after it.
        let steps = [
            (&writer, "UPDATE kv SET v = 'b' WHERE id = 1", Some("b")),
            // An open transaction's write stays invisible until its commit.
            (
                &writer,
                "BEGIN; UPDATE kv SET v = 'c' WHERE id = 1",
                Some("b"),
            ),
            (&writer, "COMMIT", Some("c")),
            // A rolled-back write never shows.
            (
                &writer,
                "BEGIN; DELETE FROM kv WHERE id = 1; ROLLBACK",
                Some("c"),
            ),
            (&writer, "DELETE FROM kv WHERE id = 1", None),
            (&writer, "INSERT INTO kv VALUES (1, 'd')", Some("d")),
            // The reader's own writes too.
            (&reader, "UPDATE kv SET v = 'e' WHERE id = 1", Some("e")),
        ];
        for (client, sql, expected) in steps {
            client.batch_execute(sql).await.unwrap();
            assert_eq!(read().await.as_deref(), expected, "after {sql}");
        }
    });
}

#[test]
fn a_hundred_requests_in_flight_from_many_tasks_share_one_connection() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        let statement = c.prepare("SELECT $1 * 2").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..100i64 {
            let c = c.clone();
            let statement = statement.clone();
            tasks.push(tokio::spawn(async move {
                let row = c.query_one(&statement, &[&i]).await.unwrap();
                row.get::<i64>(0).unwrap()
            }));
        }
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), i as i64 * 2);
        }
    });
}

/// A pipeline's requests go out together and each gets its own answer, in order: rows,
/// a write's count, an error that stops nothing after it, text and prepared alike; a
/// pipeline and single requests from other tasks share the connection.
#[test]
fn a_pipeline_answers_each_request_in_order_and_a_failure_stops_nothing_else() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        let insert = c.prepare("INSERT INTO p VALUES ($1, $2)").await.unwrap();
        let select = c.prepare("SELECT v FROM p WHERE id = $1").await.unwrap();
        assert!(c.pipeline().run().await.is_empty());

        let mut pipeline = c.pipeline();
        for id in 1..=20i64 {
            pipeline.query(&insert, &[&id, &format!("v{id}")]);
        }
        // A duplicate key, then requests after it: only the duplicate fails.
        pipeline.query(&insert, &[&5i64, &"again"]);
        pipeline.query("SELECT count(*) FROM p", &[]);
        pipeline.query(&select, &[&20i64]);
        assert_eq!(pipeline.len(), 23);
        let results = pipeline.run().await;
        assert_eq!(results.len(), 23);
        for (i, result) in results[..20].iter().enumerate() {
            let result = result
                .as_ref()
                .unwrap_or_else(|e| panic!("insert {i}: {e}"));
            assert_eq!(result[0].rows_affected, 1);
        }
        assert_eq!(results[20].as_ref().unwrap_err().code(), "23505");
        let count = results[21].as_ref().unwrap();
        assert_eq!(count[0].rows[0].get::<i64>(0).unwrap(), 20);
        let row = &results[22].as_ref().unwrap()[0].rows[0];
        assert_eq!(row.get::<String>("v").unwrap(), "v20");

        // Pipelines from many tasks at once, and single requests among them.
        let mut tasks = Vec::new();
        for t in 0..8i64 {
            let (c, select) = (c.clone(), select.clone());
            tasks.push(tokio::spawn(async move {
                let mut pipeline = c.pipeline();
                let ids: Vec<i64> = (0..16).map(|i| (t * 16 + i) % 25 + 1).collect();
                for id in &ids {
                    pipeline.query(&select, &[id]);
                }
                let alone = c.query_opt(&select, &[&(t + 1)]).await.unwrap();
                assert_eq!(
                    alone.unwrap().get::<String>(0).unwrap(),
                    format!("v{}", t + 1)
                );
                let results = pipeline.run().await;
                for (id, result) in ids.iter().zip(results) {
                    let rows = &result.unwrap()[0].rows;
                    if *id <= 20 {
                        assert_eq!(rows[0].get::<String>(0).unwrap(), format!("v{id}"));
                    } else {
                        assert!(rows.is_empty(), "row for absent id {id}");
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn whole_answers_queued_behind_a_stream_each_get_their_own_rows() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        let values: Vec<String> = (1..=5000i64).map(|i| format!("({i}, {})", i * i)).collect();
        c.batch_execute(&format!(
            "CREATE TABLE n (id INTEGER PRIMARY KEY, sq INTEGER); INSERT INTO n VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
        let by_id = c.prepare("SELECT sq FROM n WHERE id = $1").await.unwrap();
        // A stream of 5000 rows, suspended after each 1000, with requests sent behind
        // it: prepared point selects, a text query with many rows, a failing statement.
        let mut stream = c.query_stream("SELECT id FROM n", &[]).await.unwrap();
        let mut points = Vec::new();
        for i in [7i64, 4999, 12] {
            let (c, by_id) = (c.clone(), by_id.clone());
            points.push(tokio::spawn(async move {
                c.query_one(&by_id, &[&i])
                    .await
                    .unwrap()
                    .get::<i64>(0)
                    .unwrap()
            }));
        }
        let many = {
            let c = c.clone();
            tokio::spawn(async move { c.query("SELECT id FROM n WHERE id <= 3000", &[]).await })
        };
        let failing = {
            let c = c.clone();
            tokio::spawn(async move { c.query("SELECT nope FROM n", &[]).await })
        };
        let mut seen = 0i64;
        while let Some(row) = stream.next().await {
            seen += 1;
            assert_eq!(row.unwrap().get::<i64>(0).unwrap(), seen);
        }
        assert_eq!(seen, 5000);
        let mut squares = Vec::new();
        for point in points {
            squares.push(point.await.unwrap());
        }
        assert_eq!(squares, [49, 4999 * 4999, 144]);
        let rows = many.await.unwrap().unwrap();
        assert_eq!(rows.len(), 3000);
        assert_eq!(rows[2999].get::<i64>(0).unwrap(), 3000);
        let err = failing.await.unwrap().unwrap_err();
        assert_eq!(err.code(), "42703", "{err}");
        // The connection is in step afterwards.
        assert_eq!(
            c.query_one(&by_id, &[&3i64])
                .await
                .unwrap()
                .get::<i64>(0)
                .unwrap(),
            9
        );
    });
}

/// Rows of every type come back as stored, whether the server sends a whole answer in
/// batches or a stream fetched 1,000 rows at a time, for whole rows and for columns
/// picked in another order, in both key orders (past the 4,096 rows the server reads
/// through one storage iterator).
#[test]
fn rows_of_every_type_come_back_as_stored_whole_or_fetched_in_pieces() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute(
            "CREATE TABLE v (id INTEGER PRIMARY KEY, t TEXT, r REAL, b BOOLEAN, x BLOB)",
        )
        .await
        .unwrap();
        // Row i: every fifth value NULL, the rest spread over each type's range.
        let expected: Vec<Vec<Value>> = (0..5_000i64)
            .map(|i| {
                let id = i * 7 - 9_000;
                let null = |k: i64| (i + k) % 5 == 0;
                vec![
                    Value::Integer(id),
                    if null(1) {
                        Value::Null
                    } else {
                        Value::Text(format!("t{i}-é✓-{}", "z".repeat((i % 300) as usize)))
                    },
                    if null(2) {
                        Value::Null
                    } else {
                        Value::Real(i as f64 * -1.5e-3 + 1e300 * f64::from(i == 7))
                    },
                    if null(3) {
                        Value::Null
                    } else {
                        Value::Boolean(i % 2 == 0)
                    },
                    if null(4) {
                        Value::Null
                    } else {
                        Value::Blob((0..(i % 40) as u8).map(|b| b.wrapping_mul(37)).collect())
                    },
                ]
            })
            .collect();
        let insert = c
            .prepare("INSERT INTO v VALUES ($1, $2, $3, $4, $5)")
            .await
            .unwrap();
        for row in &expected {
            let params: Vec<&(dyn kvsql_protocol::ToValue + Sync)> =
                row.iter().map(|v| v as _).collect();
            c.execute(&insert, &params).await.unwrap();
        }
        let values = |rows: Vec<kvsql_protocol::Row>| -> Vec<Vec<Value>> {
            rows.into_iter().map(|r| r.values().to_vec()).collect()
        };
        // Whole answers, by text and prepared.
        assert_eq!(
            values(c.query("SELECT * FROM v", &[]).await.unwrap()),
            expected
        );
        let all = c.prepare("SELECT * FROM v").await.unwrap();
        assert_eq!(values(c.query(&all, &[]).await.unwrap()), expected);
        // Streamed 1,000 rows at a time.
        let mut stream = c.query_stream(&all, &[]).await.unwrap();
        let mut streamed = Vec::new();
        while let Some(row) = stream.next().await {
            streamed.push(row.unwrap().values().to_vec());
        }
        assert_eq!(streamed, expected);
        // Columns picked in another order, over a key range, in descending order.
        let picked: Vec<Vec<Value>> = expected[100..4_900]
            .iter()
            .rev()
            .map(|row| {
                vec![
                    row[4].clone(),
                    row[0].clone(),
                    row[1].clone(),
                    row[0].clone(),
                ]
            })
            .collect();
        let sql = "SELECT x, id, t, id FROM v WHERE id >= $1 AND id < $2 ORDER BY id DESC";
        let (low, high) = (100i64 * 7 - 9_000, 4_900i64 * 7 - 9_000);
        let bounds: [&(dyn kvsql_protocol::ToValue + Sync); 2] = [&low, &high];
        assert_eq!(values(c.query(sql, &bounds).await.unwrap()), picked);
        let mut stream = c.query_stream(sql, &bounds).await.unwrap();
        let mut streamed = Vec::new();
        while let Some(row) = stream.next().await {
            streamed.push(row.unwrap().values().to_vec());
        }
        assert_eq!(streamed, picked);
    });
}

#[test]
fn a_million_rows_stream_in_bounded_memory_and_long_queries_cancel() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        kvsql_tests::create_ids_table(&c, "k", 1000).await;
        // 1,000 x 1,000 = 1,000,000 rows, read 1,000 at a time.
        let mut stream = c
            .query_stream("SELECT a.id, b.id FROM k a, k b", &[])
            .await
            .unwrap();
        let (mut count, mut sum) = (0u64, 0i64);
        while let Some(row) = stream.next().await {
            let row = row.unwrap();
            count += 1;
            sum += row.get::<i64>(0).unwrap();
        }
        assert_eq!(count, 1_000_000);
        assert_eq!(sum, 499_500 * 1000);
        // Rows arrive in batches (the server's are at most 256 rows), never more than one
        // fetch of 1,000 at a time.
        assert!(
            (1..=1000).contains(&stream.most_buffered()),
            "{}",
            stream.most_buffered()
        );
        drop(stream);

        // A stream dropped early cancels its statement; the connection goes on.
        let mut stream = c
            .query_stream("SELECT a.id FROM k a, k b", &[])
            .await
            .unwrap();
        stream.next().await.unwrap().unwrap();
        drop(stream);
        assert_eq!(
            c.query_one("SELECT 41 + 1", &[])
                .await
                .unwrap()
                .get::<i64>(0)
                .unwrap(),
            42
        );

        // A query of 10^9 rows, cancelled from another connection with the token.
        let token = c.cancel_token();
        let started = Instant::now();
        let long = tokio::spawn({
            let c = c.clone();
            async move { c.query("SELECT count(*) FROM k a, k b, k c", &[]).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel().await.unwrap();
        let err = long.await.unwrap().unwrap_err();
        assert_eq!(err.code(), "57014", "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // ... and in band, by request.
        let long = tokio::spawn({
            let c = c.clone();
            async move { c.query("SELECT count(*) FROM k a, k b, k c", &[]).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.cancel_request(0).await.unwrap();
        let err = long.await.unwrap().unwrap_err();
        assert_eq!(err.code(), "57014", "{err}");
        // The session is fine afterwards.
        assert_eq!(
            c.query_one("SELECT 1", &[])
                .await
                .unwrap()
                .get::<i64>(0)
                .unwrap(),
            1
        );
    });
}

#[test]
fn transactions_roll_back_when_dropped_and_retry_on_conflict() {
    let server = TestServer::start();
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute(
            "CREATE TABLE acct (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO acct VALUES (1, 0)",
        )
        .await
        .unwrap();
        {
            let tx = c.transaction().await.unwrap();
            tx.execute("UPDATE acct SET n = $1 WHERE id = 1", &[&100i64])
                .await
                .unwrap();
            // Dropped without commit.
        }
        let n: i64 = c
            .query_one("SELECT n FROM acct", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 0);
        let tx = c.transaction().await.unwrap();
        tx.execute("UPDATE acct SET n = 5 WHERE id = 1", &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let n: i64 = c
            .query_one("SELECT n FROM acct", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 5);

        // Concurrent increments, each a transaction retried on 40001, lose nothing.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let client = Client::connect(server.addr()).await.unwrap();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    kvsql_protocol::retry(50, || async {
                        let tx = client.transaction().await?;
                        let n: i64 = tx
                            .query_one("SELECT n FROM acct WHERE id = 1", &[])
                            .await?
                            .get(0)?;
                        tx.execute("UPDATE acct SET n = $1 WHERE id = 1", &[&(n + 1)])
                            .await?;
                        tx.commit().await
                    })
                    .await
                    .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let n: i64 = c
            .query_one("SELECT n FROM acct", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 45);
    });
}

#[test]
fn a_server_restart_is_a_clean_error_then_a_new_connection_works() {
    let mut server = TestServer::start();
    let dir = server.data_dir().to_path_buf();
    let rt = runtime();
    let c = rt.block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute("CREATE TABLE kept (id INTEGER PRIMARY KEY); INSERT INTO kept VALUES (1)")
            .await
            .unwrap();
        c
    });
    server.stop();
    let err = rt
        .block_on(c.query("SELECT id FROM kept", &[]))
        .unwrap_err();
    assert!(matches!(err, Error::Closed | Error::Io(_)), "{err:?}");
    let server = TestServer::start_in(&dir, &[]);
    rt.block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        let id: i64 = c
            .query_one("SELECT id FROM kept", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(id, 1);
        let _ = Value::Null;
    });
}

#[test]
fn the_pool_hands_out_checked_connections() {
    use kvsql_protocol::pool::{Manager, Pool};
    let server = TestServer::start();
    runtime().block_on(async {
        let config: kvsql_protocol::Config = format!("kvsql://{}", server.addr()).parse().unwrap();
        let pool = Pool::builder(Manager::new(config))
            .max_size(2)
            .build()
            .unwrap();
        pool.get()
            .await
            .unwrap()
            .batch_execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        {
            // Returned to the pool with a transaction open...
            let c = pool.get().await.unwrap();
            c.batch_execute("BEGIN; INSERT INTO p VALUES (1)")
                .await
                .unwrap();
        }
        // ... which the pool rolls back before lending the connection again.
        let c = pool.get().await.unwrap();
        assert!(c.query("SELECT id FROM p", &[]).await.unwrap().is_empty());
        drop(c);
        // Twenty tasks share two connections.
        let mut tasks = Vec::new();
        for i in 0..20i64 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let c = pool.get().await.unwrap();
                c.execute("INSERT INTO p VALUES ($1)", &[&i]).await.unwrap()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        assert_eq!(pool.status().size, 2);
        let rows = pool
            .get()
            .await
            .unwrap()
            .query("SELECT id FROM p", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 20);
    });
}
