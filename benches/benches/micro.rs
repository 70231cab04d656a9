//! Micro-benchmarks of the parts a request passes through, and end-to-end requests
//! through a real server on loopback:
//! - key and row encoding and decoding;
//! - parse + plan of a point query (preparing it);
//! - protocol frames: encoding and decoding a response of 100 rows;
//! - a prepared point select and a single-row insert through `kvsql-server`.
//!
//! Run: `cargo bench -p kvsql-benches --bench micro` (builds the release server first:
//! `cargo build --release --bins`).

use std::process::{Child, Command, Stdio};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kvsql_engine::encoding::{keycode, row};
use kvsql_engine::{Database, Value};
use kvsql_protocol::pb;
use prost::Message;

fn encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encoding");
    let key = vec![
        Value::Integer(123_456_789),
        Value::Text("customer-00042".into()),
        Value::Real(3.25),
    ];
    group.bench_function("key_encode_3_columns", |b| {
        b.iter(|| keycode::encode_key(std::hint::black_box(&key)))
    });
    let encoded = keycode::encode_key(&key);
    group.bench_function("key_decode_3_columns", |b| {
        b.iter(|| {
            let mut input = std::hint::black_box(encoded.as_slice());
            for _ in 0..3 {
                keycode::decode_value(&mut input).unwrap();
            }
        })
    });
    let values = vec![
        Value::Integer(42),
        Value::Text("x".repeat(100)),
        Value::Real(1.5),
        Value::Null,
        Value::Boolean(true),
    ];
    group.bench_function("row_encode_5_columns", |b| {
        b.iter(|| row::encode_row(1, std::hint::black_box(&values)))
    });
    let stored = row::encode_row(1, &values);
    group.bench_function("row_decode_5_columns", |b| {
        b.iter(|| row::decode_row(std::hint::black_box(&stored)).unwrap())
    });
    group.finish();
}

fn parse_and_plan(c: &mut Criterion) {
    let db = Database::memory();
    let mut session = db.session();
    session
        .query("CREATE TABLE kv (id INTEGER PRIMARY KEY, value TEXT)")
        .unwrap();
    c.bench_function("parse_plan_point_query", |b| {
        b.iter(|| {
            session
                .prepare("SELECT value FROM kv WHERE id = $1")
                .unwrap()
        })
    });
}

fn frames(c: &mut Criterion) {
    let rows: Vec<pb::Row> = (0..100)
        .map(|i| pb::Row {
            values: vec![
                pb::Value {
                    kind: Some(pb::value::Kind::Integer(i)),
                },
                pb::Value {
                    kind: Some(pb::value::Kind::Text("v".repeat(100))),
                },
            ],
        })
        .collect();
    let response = pb::Response {
        id: 7,
        kind: Some(pb::response::Kind::Rows(pb::RowBatch { rows })),
    };
    let mut group = c.benchmark_group("frames");
    group.throughput(Throughput::Elements(100));
    group.bench_function("encode_100_row_batch", |b| {
        b.iter_batched(
            Vec::new,
            |mut buf| kvsql_protocol::codec::encode_frame(&response, &mut buf),
            BatchSize::SmallInput,
        )
    });
    let mut bytes = Vec::new();
    kvsql_protocol::codec::encode_frame(&response, &mut bytes);
    group.bench_function("decode_100_row_batch", |b| {
        b.iter(|| pb::Response::decode(&bytes[4..]).unwrap())
    });
    group.finish();
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(dir: &std::path::Path) -> Server {
    let exe =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kvsql-server");
    let mut child = Command::new(&exe)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "start {} (cargo build --release --bins): {e}",
                exe.display()
            )
        });
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().trim_start_matches("listening on ").to_string();
    Server(child, addr)
}

fn end_to_end(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(kvsql_protocol::Client::connect(server.1.as_str()))
        .unwrap();
    rt.block_on(async {
        client
            .batch_execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, value TEXT)")
            .await
            .unwrap();
        for chunk in 0..10 {
            let rows: Vec<String> = (chunk * 1000..(chunk + 1) * 1000)
                .map(|i| format!("({i}, '{}')", "x".repeat(100)))
                .collect();
            client
                .execute(&format!("INSERT INTO kv VALUES {}", rows.join(", ")), &[])
                .await
                .unwrap();
        }
    });
    let select = rt
        .block_on(client.prepare("SELECT value FROM kv WHERE id = $1"))
        .unwrap();
    let insert = rt
        .block_on(client.prepare("INSERT INTO kv VALUES ($1, $2)"))
        .unwrap();
    let mut group = c.benchmark_group("server");
    group.throughput(Throughput::Elements(1));
    let mut key = 0i64;
    group.bench_function("point_select_prepared", |b| {
        b.iter(|| {
            key = (key + 7919) % 10_000;
            rt.block_on(client.query_one(&select, &[&key])).unwrap()
        })
    });
    let mut next = 1_000_000i64;
    let value = "y".repeat(100);
    group.bench_function("insert_prepared", |b| {
        b.iter(|| {
            next += 1;
            rt.block_on(client.execute(&insert, &[&next, &value]))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, encoding, parse_and_plan, frames, end_to_end);
criterion_main!(benches);
