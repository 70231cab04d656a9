//! A transaction retried on serialization conflicts (40001): move money between two
//! accounts from several tasks at once; the total never changes.
//!
//! `cargo run -p kvsql-protocol --example transfer -- 127.0.0.1:7878`

use kvsql_protocol::{Client, Error, retry};

async fn transfer(client: &Client, from: i64, to: i64, amount: i64) -> Result<(), Error> {
    retry(20, || async {
        let tx = client.transaction().await?;
        let balance: i64 = tx
            .query_one("SELECT balance FROM accounts WHERE id = $1", &[&from])
            .await?
            .get(0)?;
        if balance >= amount {
            tx.execute(
                "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
                &[&amount, &from],
            )
            .await?;
            tx.execute(
                "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
                &[&amount, &to],
            )
            .await?;
        }
        tx.commit().await
    })
    .await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let setup = Client::connect(addr.as_str()).await?;
    setup
        .batch_execute(
            "DROP TABLE IF EXISTS accounts;
             CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
             INSERT INTO accounts VALUES (1, 1000), (2, 1000)",
        )
        .await?;
    let mut tasks = Vec::new();
    for i in 0..8i64 {
        let client = Client::connect(addr.as_str()).await?;
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let (from, to) = if i % 2 == 0 { (1, 2) } else { (2, 1) };
                transfer(&client, from, to, 10).await?;
            }
            Ok::<(), Error>(())
        }));
    }
    for task in tasks {
        task.await.expect("task")?;
    }
    let total: i64 = setup
        .query_one("SELECT sum(balance) FROM accounts", &[])
        .await?
        .get(0)?;
    println!("total after 200 transfers: {total}");
    Ok(())
}
