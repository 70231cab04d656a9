//! In-process engine benchmarks: point lookup by primary key, a 100-row primary-key range
//! scan and single-row insert, through the whole statement path (parse, plan, execute,
//! commit) on RocksDB; a prepared 1,000-row INSERT (one step of a bulk load, as
//! `kvsql-bench` loads); and the storage layer's latest-value point read (what a prepared
//! point select does) with and without the row cache in front of RocksDB.
//!
//! Run: `cargo bench -p kvsql-benches --bench engine`.

use std::sync::atomic::{AtomicI64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvsql_benches::load_kv;
use kvsql_engine::storage::rocks::{DEFAULT_ROW_CACHE_BYTES, RocksStore};
use kvsql_engine::storage::{Durability, Store};
use kvsql_engine::{ColumnInfo, Database, Outcome, ResultSink, Value};

/// The allocator kvsql-server uses, so that allocation costs here are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Takes a statement's outcome and nothing else (an INSERT returns no rows).
struct Discard;

impl ResultSink for Discard {
    fn columns(&mut self, _: &[ColumnInfo]) -> kvsql_engine::Result<()> {
        Ok(())
    }
    fn row(&mut self, _: Vec<Value>) -> kvsql_engine::Result<()> {
        Ok(())
    }
    fn complete(&mut self, outcome: &Outcome) -> kvsql_engine::Result<()> {
        assert_eq!(outcome.rows_affected, BULK_ROWS as u64);
        Ok(())
    }
}

/// Rows per INSERT in the bulk benchmark: as `kvsql-bench` loads.
const BULK_ROWS: usize = 1000;

/// A prepared INSERT of 1,000 rows of 100-byte values, new keys each time, as the server
/// runs each request of a bulk load (the parameters already decoded from the wire).
fn bulk_insert(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut session = db.session();
    session
        .query("CREATE TABLE bulk (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")
        .unwrap();
    let tuples: Vec<String> = (0..BULK_ROWS)
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let mut insert = session
        .prepare(&format!("INSERT INTO bulk VALUES {}", tuples.join(", ")))
        .unwrap();
    let value = "v".repeat(100);
    let mut next = 0i64;
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(BULK_ROWS as u64));
    group.bench_function("insert_1000_rows_prepared", |b| {
        b.iter_batched(
            || {
                let params: Vec<Value> = (next..next + BULK_ROWS as i64)
                    .flat_map(|id| [Value::Integer(id), Value::Text(value.clone())])
                    .collect();
                next += BULK_ROWS as i64;
                params
            },
            |params| {
                session
                    .execute_prepared(&mut insert, params, &mut Discard)
                    .unwrap()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// `Store::get_latest` of random keys among 100,000 rows of 100 bytes held in the
/// memtable (as right after a load), through the row cache and straight from RocksDB.
fn latest_reads(c: &mut Criterion) {
    let mut group = c.benchmark_group("storage");
    group.throughput(Throughput::Elements(1));
    for (name, row_cache) in [
        ("get_latest_row_cache", DEFAULT_ROW_CACHE_BYTES),
        ("get_latest_rocksdb", 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process)
            .unwrap()
            .with_row_cache(row_cache);
        let key = |i: u64| (i * 2_654_435_761 % ROWS).to_be_bytes();
        for chunk in (0..ROWS).collect::<Vec<_>>().chunks(1000) {
            let mut txn = store.begin().unwrap();
            for &i in chunk {
                txn.set(&key(i), &[b'v'; 100]).unwrap();
            }
            txn.commit().unwrap();
        }
        let mut i = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 7919) % ROWS;
                assert!(store.get_latest(&key(i)).unwrap().is_some());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, point_lookup, bulk_insert, latest_reads);
criterion_main!(benches);
