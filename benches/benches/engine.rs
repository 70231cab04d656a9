//! In-process engine benchmarks: point lookup by primary key, a 100-row primary-key range
//! scan and single-row insert, through the whole statement path (parse, plan, execute,
//! commit) on RocksDB.
//!
//! Run: `cargo bench -p kvsql-benches --bench engine`.

use std::sync::atomic::{AtomicI64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvsql_benches::load_kv;
use kvsql_engine::Database;

const ROWS: u64 = 100_000;

fn point_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut session = load_kv(&db, ROWS, 100);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    let mut key = 0u64;
    group.bench_function("point_select_100k_rows", |b| {
        b.iter(|| {
            key = (key + 7919) % ROWS;
            let result = session
                .query(&format!("SELECT value FROM kv WHERE id = {key}"))
                .unwrap();
            assert_eq!(result[0].rows.len(), 1);
        })
    });
    group.bench_function("range_scan_100_rows", |b| {
        b.iter(|| {
            key = (key + 7919) % (ROWS - 100);
            let end = key + 100;
            let result = session
                .query(&format!(
                    "SELECT id, value FROM kv WHERE id >= {key} AND id < {end}"
                ))
                .unwrap();
            assert_eq!(result[0].rows.len(), 100);
        })
    });
    let next = AtomicI64::new(ROWS as i64);
    group.bench_function("insert_one_row", |b| {
        b.iter(|| {
            let id = next.fetch_add(1, Ordering::Relaxed);
            session
                .query(&format!(
                    "INSERT INTO kv VALUES ({id}, 'a value of some bytes')"
                ))
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, point_lookup);
criterion_main!(benches);
