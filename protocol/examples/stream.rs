//! Streaming a large result in bounded memory: rows arrive 1,000 at a time.
//!
//! `cargo run -p kvsql-protocol --example stream -- 127.0.0.1:7878`

use kvsql_protocol::{Client, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let client = Client::connect(addr.as_str()).await?;
    let values: Vec<String> = (0..1000).map(|i| format!("({i})")).collect();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS digits; CREATE TABLE digits (n INTEGER PRIMARY KEY);
             INSERT INTO digits VALUES {}",
            values.join(", ")
        ))
        .await?;
    // A million rows (1,000 x 1,000), never more than 1,000 of them in memory.
    let mut rows = client
        .query_stream("SELECT a.n * 1000 + b.n FROM digits a, digits b", &[])
        .await?;
    let (mut count, mut sum) = (0u64, 0i64);
    while let Some(row) = rows.next().await {
        sum += row?.get::<i64>(0)?;
        count += 1;
    }
    println!(
        "{count} rows, sum {sum}, at most {} held at once",
        rows.most_buffered()
    );
    Ok(())
}
