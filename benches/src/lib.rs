//! Benchmarks for kvsql live in `benches/` (run them with `cargo bench`); this library
//! holds what they share.

use kvsql_engine::{Database, Session};

/// Creates `kv (id INTEGER PRIMARY KEY, value TEXT)` and fills it with `rows` rows of
/// `value_size`-byte values, in multi-row INSERTs.
pub fn load_kv(db: &Database, rows: u64, value_size: usize) -> Session {
    let mut session = db.session();
    session
        .query("CREATE TABLE kv (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
        .expect("create kv");
    let value = "x".repeat(value_size);
    let mut id = 0;
    while id < rows {
        let batch: Vec<String> = (id..(id + 500).min(rows))
            .map(|i| format!("({i}, '{value}')"))
            .collect();
        session
            .query(&format!("INSERT INTO kv VALUES {}", batch.join(", ")))
            .expect("load kv");
        id += batch.len() as u64;
    }
    session
}
