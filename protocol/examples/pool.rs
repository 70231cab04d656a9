//! A connection pool (needs the `pool` feature): many tasks, few connections.
//!
//! `cargo run -p kvsql-protocol --features pool --example pool -- 127.0.0.1:7878`

use kvsql_protocol::pool::{Manager, Pool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let config: kvsql_protocol::Config = format!("kvsql://{addr}").parse()?;
    let pool = Pool::builder(Manager::new(config)).max_size(4).build()?;
    let mut tasks = Vec::new();
    for i in 0..32i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            let row = client
                .query_one("SELECT $1 * $1", &[&i])
                .await
                .map_err(|e| e.to_string())?;
            row.get::<i64>(0).map_err(|e| e.to_string())
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    println!(
        "sum of squares 0..32 = {total}, over {} connections",
        pool.status().size
    );
    Ok(())
}
