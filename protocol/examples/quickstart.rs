//! Connects to a kvsql server, creates a table, writes and reads it back.
//!
//! Run against a server (default 127.0.0.1:7878):
//! `cargo run -p kvsql-protocol --example quickstart -- 127.0.0.1:7878`

use kvsql_protocol::{Client, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let client = Client::connect(addr.as_str()).await?;
    let info = client.server_info();
    println!(
        "connected to kvsql-server {} (session {})",
        info.server_version, info.session_id
    );

    client
        .execute(
            "CREATE TABLE IF NOT EXISTS quickstart (id INTEGER PRIMARY KEY, name TEXT, score REAL)",
            &[],
        )
        .await?;
    client.execute("DELETE FROM quickstart", &[]).await?;
    let inserted = client
        .execute(
            "INSERT INTO quickstart VALUES (1, 'ann', 9.5), (2, 'bob', NULL), (3, 'cy', 7.25)",
            &[],
        )
        .await?;
    println!("inserted {inserted} rows");

    for row in client
        .query(
            "SELECT id, name, score FROM quickstart WHERE id >= 1 ORDER BY id",
            &[],
        )
        .await?
    {
        let id: i64 = row.get("id")?;
        let name: String = row.get("name")?;
        let score: Option<f64> = row.get(2)?;
        println!("{id:>3} {name:<5} {score:?}");
    }

    // Errors carry a SQLSTATE code.
    match client.query("SELECT * FROM no_such_table", &[]).await {
        Err(e) => println!("as expected: {e}"),
        Ok(_) => println!("unexpected: the table exists"),
    }
    Ok(())
}
