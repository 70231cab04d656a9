//! Transaction isolation, proven with several real sessions over the network against a
//! real server: what snapshot isolation forbids never happens, and the one anomaly it
//! allows (write skew) is shown to happen, as docs/transactions.md says.

use kvsql_protocol::{Client, Error};
use kvsql_tests::{TestServer, runtime, scalar};

async fn session(server: &TestServer) -> Client {
    Client::connect(server.addr()).await.unwrap()
}

async fn ids(client: &Client, sql: &str) -> Vec<i64> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect()
}

#[test]
fn a_transaction_reads_one_snapshot_and_no_uncommitted_writes() {
    let server = TestServer::start();
    runtime().block_on(async {
        let a = session(&server).await;
        let b = session(&server).await;
        a.batch_execute(
            "CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER);
             CREATE INDEX acct_owner ON acct (owner);
             INSERT INTO acct VALUES (1, 'ann', 100), (2, 'bob', 50)",
        )
        .await
        .unwrap();

        // Dirty reads: b's uncommitted write is invisible to a, by key and by index.
        b.batch_execute("BEGIN; UPDATE acct SET balance = 0, owner = 'zed' WHERE id = 1")
            .await
            .unwrap();
        assert_eq!(scalar(&a, "SELECT balance FROM acct WHERE id = 1").await, 100);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE owner = 'zed'").await, [0i64; 0]);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE owner = 'ann'").await, [1]);
        // ... while b sees its own write.
        assert_eq!(scalar(&b, "SELECT balance FROM acct WHERE id = 1").await, 0);
        b.execute("ROLLBACK", &[]).await.unwrap();
        assert_eq!(scalar(&a, "SELECT balance FROM acct WHERE id = 1").await, 100);

        // Non-repeatable reads and phantoms: inside a's transaction, b's committed
        // update and insert do not show; after a commits, they do.
        a.execute("BEGIN", &[]).await.unwrap();
        assert_eq!(scalar(&a, "SELECT balance FROM acct WHERE id = 2").await, 50);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE balance > 10").await, [1, 2]);
        b.batch_execute(
            "UPDATE acct SET balance = 75 WHERE id = 2; INSERT INTO acct VALUES (3, 'cy', 20)",
        )
        .await
        .unwrap();
        assert_eq!(scalar(&a, "SELECT balance FROM acct WHERE id = 2").await, 50);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE balance > 10").await, [1, 2]);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE owner = 'cy'").await, [0i64; 0]);
        a.execute("COMMIT", &[]).await.unwrap();
        assert_eq!(scalar(&a, "SELECT balance FROM acct WHERE id = 2").await, 75);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE owner = 'cy'").await, [3]);

        // A write-write conflict: the second committer gets 40001, retryable, and none
        // of its writes.
        a.batch_execute("BEGIN; UPDATE acct SET balance = balance + 1 WHERE id = 3")
            .await
            .unwrap();
        b.batch_execute("BEGIN; UPDATE acct SET balance = balance + 10 WHERE id = 3; INSERT INTO acct VALUES (4, 'dee', 1)")
            .await
            .unwrap();
        a.execute("COMMIT", &[]).await.unwrap();
        let err = b.execute("COMMIT", &[]).await.unwrap_err();
        assert_eq!(err.code(), "40001", "{err}");
        assert!(err.is_retryable());
        assert!(err.to_string().contains("retry"), "{err}");
        assert_eq!(scalar(&a, "SELECT balance FROM acct WHERE id = 3").await, 21);
        assert_eq!(ids(&a, "SELECT id FROM acct WHERE id = 4").await, [0i64; 0]);
    });
}

#[test]
fn read_modify_write_in_the_client_loses_no_update() {
    let server = TestServer::start();
    runtime().block_on(async {
        let setup = session(&server).await;
        setup
            .batch_execute(
                "CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO c VALUES (1, 0)",
            )
            .await
            .unwrap();
        const CLIENTS: usize = 6;
        const INCREMENTS: usize = 10;
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let client = session(&server).await;
            tasks.push(tokio::spawn(async move {
                let mut retries = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        // The new value is computed here, from what the transaction read.
                        let attempt: Result<(), Error> = async {
                            client.execute("BEGIN", &[]).await?;
                            let n: i64 = client
                                .query_one("SELECT n FROM c WHERE id = 1", &[])
                                .await?
                                .get(0)?;
                            client
                                .execute(&format!("UPDATE c SET n = {} WHERE id = 1", n + 1), &[])
                                .await?;
                            client.execute("COMMIT", &[]).await?;
                            Ok(())
                        }
                        .await;
                        match attempt {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() => {
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
        assert_eq!(
            scalar(&setup, "SELECT n FROM c WHERE id = 1").await,
            (CLIENTS * INCREMENTS) as i64,
            "after {retries} retries"
        );
    });
}

#[test]
fn concurrent_inserts_of_one_unique_value_let_exactly_one_in() {
    let server = TestServer::start();
    runtime().block_on(async {
        let setup = session(&server).await;
        setup
            .execute(
                "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)",
                &[],
            )
            .await
            .unwrap();
        // Each round: several sessions open transactions that insert the same email
        // under different ids, and all try to commit.
        for round in 0..5 {
            let mut sessions = Vec::new();
            for i in 0..4 {
                let client = session(&server).await;
                client
                    .batch_execute(&format!(
                        "BEGIN; INSERT INTO users VALUES ({}, 'e{round}@x')",
                        round * 10 + i
                    ))
                    .await
                    .unwrap();
                sessions.push(client);
            }
            let mut committed = 0;
            for client in &sessions {
                match client.execute("COMMIT", &[]).await {
                    Ok(_) => committed += 1,
                    Err(e) => assert_eq!(e.code(), "40001", "{e}"),
                }
            }
            assert_eq!(committed, 1, "round {round}");
            let found = ids(
                &setup,
                &format!("SELECT id FROM users WHERE email = 'e{round}@x'"),
            )
            .await;
            assert_eq!(found.len(), 1, "round {round}: {found:?}");
        }
    });
}

#[test]
fn write_skew_is_possible_under_snapshot_isolation() {
    // Two doctors on call; each goes off call if the other is still on. Serializable
    // execution would leave one on call; snapshot isolation lets both go, because the
    // two transactions write different rows. This is the documented anomaly.
    let server = TestServer::start();
    runtime().block_on(async {
        let a = session(&server).await;
        let b = session(&server).await;
        a.batch_execute(
            "CREATE TABLE oncall (doctor TEXT PRIMARY KEY, on_call BOOLEAN);
             INSERT INTO oncall VALUES ('alice', TRUE), ('bob', TRUE)",
        )
        .await
        .unwrap();
        let on_call = "SELECT doctor FROM oncall WHERE on_call = TRUE";
        a.execute("BEGIN", &[]).await.unwrap();
        b.execute("BEGIN", &[]).await.unwrap();
        assert_eq!(a.query(on_call, &[]).await.unwrap().len(), 2);
        assert_eq!(b.query(on_call, &[]).await.unwrap().len(), 2);
        a.execute(
            "UPDATE oncall SET on_call = FALSE WHERE doctor = 'alice'",
            &[],
        )
        .await
        .unwrap();
        b.execute(
            "UPDATE oncall SET on_call = FALSE WHERE doctor = 'bob'",
            &[],
        )
        .await
        .unwrap();
        a.execute("COMMIT", &[]).await.unwrap();
        b.execute("COMMIT", &[]).await.unwrap();
        assert_eq!(a.query(on_call, &[]).await.unwrap().len(), 0);
    });
}
