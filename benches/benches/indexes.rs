//! An indexed lookup against a full scan, on a table of a million rows (RocksDB,
//! in-process, whole statement path). `email` is indexed; `email_copy` holds the same
//! values without an index, so the two queries differ only in their access path.
//!
//! Run: `cargo bench -p kvsql-benches --bench indexes`. Loading the table takes a while.

use criterion::{Criterion, criterion_group, criterion_main};
use kvsql_engine::Database;

const ROWS: u64 = 1_000_000;

fn indexed_vs_full_scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut session = db.session();
    session
        .query(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, email_copy TEXT, age INTEGER)",
        )
        .unwrap();
    session
        .query("CREATE INDEX people_email ON people (email)")
        .unwrap();
    let mut id = 0;
    while id < ROWS {
        let batch: Vec<String> = (id..(id + 1000).min(ROWS))
            .map(|i| {
                // Emails in an order unrelated to the primary key.
                let e = (i * 7919) % ROWS;
                format!(
                    "({i}, 'user{e}@example.com', 'user{e}@example.com', {})",
                    i % 90
                )
            })
            .collect();
        session
            .query(&format!("INSERT INTO people VALUES {}", batch.join(", ")))
            .unwrap();
        id += batch.len() as u64;
    }
    let mut group = c.benchmark_group("people_1m");
    let mut n = 0u64;
    group.bench_function("lookup_by_indexed_email", |b| {
        b.iter(|| {
            n = (n + 104_729) % ROWS;
            let rows = session
                .query(&format!(
                    "SELECT id FROM people WHERE email = 'user{n}@example.com'"
                ))
                .unwrap();
            assert_eq!(rows[0].rows.len(), 1);
        })
    });
    group.sample_size(10);
    group.bench_function("lookup_by_unindexed_email_full_scan", |b| {
        b.iter(|| {
            n = (n + 104_729) % ROWS;
            let rows = session
                .query(&format!(
                    "SELECT id FROM people WHERE email_copy = 'user{n}@example.com'"
                ))
                .unwrap();
            assert_eq!(rows[0].rows.len(), 1);
        })
    });
    group.finish();
}

criterion_group!(benches, indexed_vs_full_scan);
criterion_main!(benches);
