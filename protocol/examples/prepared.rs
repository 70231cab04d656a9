//! Prepared statements in a loop: prepare once, run with new parameters each time.
//!
//! `cargo run -p kvsql-protocol --example prepared -- 127.0.0.1:7878`

use kvsql_protocol::{Client, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let client = Client::connect(addr.as_str()).await?;
    client
        .batch_execute(
            "DROP TABLE IF EXISTS squares; CREATE TABLE squares (n INTEGER PRIMARY KEY, square INTEGER)",
        )
        .await?;
    let insert = client
        .prepare("INSERT INTO squares VALUES ($1, $2)")
        .await?;
    println!("parameter types: {:?}", insert.params());
    let started = std::time::Instant::now();
    for n in 0..1_000i64 {
        client.execute(&insert, &[&n, &(n * n)]).await?;
    }
    println!("1,000 prepared inserts in {:?}", started.elapsed());
    let lookup = client
        .prepare("SELECT square FROM squares WHERE n = $1")
        .await?;
    for n in [3i64, 31, 999] {
        let square: i64 = client.query_one(&lookup, &[&n]).await?.get(0)?;
        println!("{n}^2 = {square}");
    }
    Ok(())
}
