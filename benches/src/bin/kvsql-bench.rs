//! `kvsql-bench`: a load generator in the style of redis-benchmark and pgbench. It loads
//! its own table, runs one workload over N connections (each sending D requests
//! at a time) using prepared statements, then prints throughput and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

/// The allocator kvsql-server uses too: per-request allocations in the driver (channels,
/// decoded responses, rows) took a sixth of the client's time with glibc malloc, and the
/// load generator shares the machine with the server it measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use hdrhistogram::Histogram;
use kvsql_protocol::{Client, Error, Pipeline, Statement};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// SELECT value FROM t WHERE id = $1, random existing keys.
    PointSelect,
    /// INSERT INTO t VALUES ($1, $2), new keys.
    Insert,
    /// UPDATE t SET value = $2 WHERE id = $1, random existing keys.
    Update,
    /// SELECT id, value FROM t WHERE id >= $1 AND id < $1 + 100 (100 rows).
    RangeScan,
    /// Point selects and updates, --read-ratio of them reads.
    Mixed,
    /// SELECT id, value FROM t: the whole table streamed to the client per request
    /// (rows per second are printed too; --read-delay-ms makes a slow reader).
    FullScan,
}

#[derive(Parser, Debug)]
#[command(
    name = "kvsql-bench",
    about = "Load generator for kvsql: throughput and latency percentiles of one workload",
    long_about = "Loads a table of --keys rows of --value-size bytes (unless --no-load), then \
        runs the workload over --connections connections, each sending --pipeline requests at a \
        time, for --duration seconds or --requests requests in all, using prepared \
        statements. Prints requests per second and latency p50 / p99 / p99.9 (and, with \
        --json, one JSON line for scripts). Always stops by itself."
)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: String,
    /// Connections (clients) in parallel.
    #[arg(short = 'c', long, default_value_t = 1)]
    connections: usize,
    /// Requests sent at once per connection (one write), answered before the next
    /// batch, as redis-benchmark -P.
    #[arg(short = 'P', long, default_value_t = 1)]
    pipeline: usize,
    /// Run for this many seconds...
    #[arg(short = 'd', long, default_value_t = 10.0)]
    duration: f64,
    /// ... or stop after this many requests in all.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Rows in the table.
    #[arg(short = 'k', long, default_value_t = 100_000)]
    keys: u64,
    /// Bytes per value.
    #[arg(short = 'b', long, default_value_t = 100)]
    value_size: usize,
    #[arg(short = 'w', long, value_enum, default_value_t = Workload::PointSelect)]
    workload: Workload,
    /// For the mixed workload: the share of reads.
    #[arg(long, default_value_t = 0.9)]
    read_ratio: f64,
    /// The table to use.
    #[arg(long, default_value = "bench_kv")]
    table: String,
    /// Use the table as it is (it must exist with --keys rows).
    #[arg(long)]
    no_load: bool,
    /// Print one JSON line with the results.
    #[arg(long)]
    json: bool,
    /// For full-scan: pause this long after every 1,000 rows read, as a slow client.
    #[arg(long, default_value_t = 0)]
    read_delay_ms: u64,
    /// Client threads. One (the default, as redis-benchmark) drives every connection
    /// from a single thread and leaves the other cores to the server when both share a
    /// machine; more let the client itself use more cores.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The server's process id: sample its resident memory every second and print the
    /// lowest and highest (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// A cheap per-task random generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Rows per INSERT while loading.
const LOAD_BATCH: u64 = 1000;
/// Connections loading at once. Eight keep the server's statement pipeline (a frame
/// read and decoded, the statement run, the commit) full where four left gaps: 1M-row
/// loads after 10 s of inserts 1.06M-1.25M rows/s against 0.90M-1.00M with four, on a
/// fresh server 1.23M-1.41M against 1.17M-1.27M (docs/performance.md, session 14).
const LOADERS: u64 = 8;

/// Creates the table and fills it with prepared 1,000-row INSERTs over a few
/// connections at once; returns rows per second.
async fn load(client: &Client, args: &Arc<Args>) -> Result<f64, Error> {
    let t = &args.table;
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (id INTEGER PRIMARY KEY, value TEXT NOT NULL)"
        ))
        .await?;
    let started = Instant::now();
    let mut loaders = Vec::new();
    for loader in 0..LOADERS {
        let args = args.clone();
        loaders.push(tokio::spawn(async move {
            let client = Client::connect(args.addr.as_str()).await?;
            let placeholders: Vec<String> = (0..LOAD_BATCH)
                .map(|r| format!("(${}, ${})", 2 * r + 1, 2 * r + 2))
                .collect();
            let full = client
                .prepare(&format!(
                    "INSERT INTO {} VALUES {}",
                    args.table,
                    placeholders.join(",")
                ))
                .await?;
            let value = "v".repeat(args.value_size);
            // Batches loader, loader + LOADERS, ...: every loader a share of the keys.
            let mut batch = loader;
            while batch * LOAD_BATCH < args.keys {
                let first = batch * LOAD_BATCH;
                let end = (first + LOAD_BATCH).min(args.keys);
                let ids: Vec<i64> = (first as i64..end as i64).collect();
                let mut params: Vec<&(dyn kvsql_protocol::ToValue + Sync)> = Vec::new();
                for id in &ids {
                    params.push(id);
                    params.push(&value);
                }
                if end - first == LOAD_BATCH {
                    client.execute(&full, &params).await?;
                } else {
                    let tail = format!(
                        "INSERT INTO {} VALUES {}",
                        args.table,
                        placeholders[..(end - first) as usize].join(",")
                    );
                    client.execute(tail.as_str(), &params).await?;
                }
                batch += LOADERS;
            }
            Ok::<(), Error>(())
        }));
    }
    for loader in loaders {
        loader
            .await
            .map_err(|e| Error::Protocol(format!("loader failed: {e}")))??;
    }
    Ok(args.keys as f64 / started.elapsed().as_secs_f64())
}

struct Shared {
    deadline: Option<Instant>,
    remaining: Option<AtomicU64>,
    stop: AtomicBool,
    next_insert: AtomicU64,
    /// Rows received by full scans.
    rows: AtomicU64,
    errors: AtomicU64,
    /// Requests sent again after a serialization conflict (40001).
    retries: AtomicU64,
}

impl Shared {
    /// Claims the right to send one more request.
    fn take(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        if let Some(deadline) = self.deadline
            && Instant::now() >= deadline
        {
            self.stop.store(true, Ordering::Relaxed);
            return false;
        }
        if let Some(remaining) = &self.remaining {
            return remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
        }
        true
    }
}

struct Prepared {
    select: Statement,
    insert: Statement,
    update: Statement,
    range: Statement,
    all: Statement,
}

/// One request of the workload, with its parameters.
enum Request {
    Select(i64),
    Insert(i64),
    Update(i64),
    Range(i64),
}

impl Request {
    /// The next request of the workload (not for full scans).
    fn next(args: &Args, shared: &Shared, rng: &mut Rng) -> Request {
        let key = (rng.next() % args.keys.max(1)) as i64;
        match args.workload {
            Workload::PointSelect | Workload::FullScan => Request::Select(key),
            Workload::Mixed if (rng.next() % 10_000) as f64 / 10_000.0 < args.read_ratio => {
                Request::Select(key)
            }
            Workload::Update | Workload::Mixed => Request::Update(key),
            Workload::Insert => {
                Request::Insert(shared.next_insert.fetch_add(1, Ordering::Relaxed) as i64)
            }
            Workload::RangeScan => Request::Range(key.min(args.keys.saturating_sub(100) as i64)),
        }
    }

    /// Adds the request to a pipeline.
    fn add(&self, pipeline: &mut Pipeline<'_>, statements: &Prepared, value: &str) {
        match self {
            Request::Select(key) => pipeline.query(&statements.select, &[key]),
            Request::Insert(id) => pipeline.query(&statements.insert, &[id, &value]),
            Request::Update(key) => pipeline.query(&statements.update, &[key, &value]),
            Request::Range(start) => pipeline.query(&statements.range, &[start]),
        };
    }

    /// Sends the request alone.
    async fn run(&self, client: &Client, statements: &Prepared, value: &str) -> Result<(), Error> {
        match self {
            Request::Select(key) => client.query(&statements.select, &[key]).await.map(drop),
            Request::Insert(id) => client
                .execute(&statements.insert, &[id, &value])
                .await
                .map(drop),
            Request::Update(key) => client
                .execute(&statements.update, &[key, &value])
                .await
                .map(drop),
            Request::Range(start) => client.query(&statements.range, &[start]).await.map(drop),
        }
    }
}

/// Drives one connection: sends --pipeline requests at once (one write, as
/// redis-benchmark -P does), waits for all their answers, and again, until the run ends.
/// A request's latency is the time from its batch's send to the batch's last answer.
async fn worker(
    client: Client,
    statements: Arc<Prepared>,
    shared: Arc<Shared>,
    args: Arc<Args>,
    seed: u64,
) -> Histogram<u64> {
    // Latencies gather in a small buffer and go into the worker's histogram in runs: a
    // histogram is a few hundred KiB of counters, and touching one (of hundreds, with
    // many connections and a deep pipeline) per request took the client's share of the
    // machine's cache, and of its time, away from the server it measures.
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
    let mut latencies: Vec<u64> = Vec::with_capacity(LATENCY_RUN);
    let mut rng = Rng(seed | 1);
    let value = "w".repeat(args.value_size);
    // A full scan streams on its own: one at a time per connection.
    let depth = match args.workload {
        Workload::FullScan => 1,
        _ => args.pipeline.max(1),
    };
    let mut batch: Vec<Request> = Vec::with_capacity(depth);
    loop {
        batch.clear();
        while batch.len() < depth && shared.take() {
            batch.push(Request::next(&args, &shared, &mut rng));
        }
        if batch.is_empty() {
            break;
        }
        let started = Instant::now();
        let results: Vec<Result<(), Error>> = if args.workload == Workload::FullScan {
            vec![full_scan(&client, &statements.all, &shared, &args).await]
        } else if batch.len() == 1 {
            vec![batch[0].run(&client, &statements, &value).await]
        } else {
            let mut pipeline = client.pipeline();
            for request in &batch {
                request.add(&mut pipeline, &statements, &value);
            }
            let answers = pipeline.run().await;
            answers.into_iter().map(|r| r.map(drop)).collect()
        };
        // One clock read per batch: its requests were all answered by now.
        let answered = (started.elapsed().as_micros() as u64).max(1);
        for (request, mut result) in batch.iter().zip(results) {
            // Two writes to one row at once: the later commit gets 40001. Send it again,
            // alone, as a client would; the latency includes the retries.
            let mut retried = false;
            while let Err(e) = &result
                && e.is_retryable()
                && !shared.stop.load(Ordering::Relaxed)
            {
                shared.retries.fetch_add(1, Ordering::Relaxed);
                result = request.run(&client, &statements, &value).await;
                retried = true;
            }
            match result {
                Ok(()) => {
                    let latency = if retried {
                        (started.elapsed().as_micros() as u64).max(1)
                    } else {
                        answered
                    };
                    latencies.push(latency);
                    if latencies.len() == LATENCY_RUN {
                        record_all(&mut histogram, &mut latencies);
                    }
                }
                Err(e) => {
                    if shared.errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("request failed: {e}");
                    }
                }
            }
        }
    }
    record_all(&mut histogram, &mut latencies);
    histogram
}

/// Latencies a worker keeps before adding them to its histogram.
const LATENCY_RUN: usize = 4096;

/// Adds the latencies (microseconds) to the histogram, sorted so that equal and nearby
/// values meet the same counters one after another.
fn record_all(histogram: &mut Histogram<u64>, latencies: &mut Vec<u64>) {
    latencies.sort_unstable();
    for run in latencies.chunk_by(|a, b| a == b) {
        let _ = histogram.record_n(run[0], run.len() as u64);
    }
    latencies.clear();
}

/// Streams the whole table, counting rows (pausing as a slow reader if asked).
async fn full_scan(
    client: &Client,
    all: &Statement,
    shared: &Shared,
    args: &Args,
) -> Result<(), Error> {
    let mut rows = client.query_stream(all, &[]).await?;
    let mut n = 0u64;
    while let Some(row) = rows.next().await {
        row?;
        n += 1;
        if n.is_multiple_of(1000) {
            shared.rows.fetch_add(1000, Ordering::Relaxed);
            if args.read_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(args.read_delay_ms)).await;
            }
            let late = shared.deadline.is_some_and(|d| Instant::now() >= d);
            if late || shared.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
        }
    }
    shared.rows.fetch_add(n % 1000, Ordering::Relaxed);
    Ok(())
}

/// A process's resident memory in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args = Arc::new(Args::parse());
    let runtime = match args.threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kvsql-bench: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(args)) {
        eprintln!("kvsql-bench: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Arc<Args>) -> Result<(), Error> {
    let setup = Client::connect(args.addr.as_str()).await?;
    let load_rate = if args.no_load {
        None
    } else {
        Some(load(&setup, &args).await?)
    };
    // Only the workload's connections stay open while it runs: an idle extra session
    // is not part of the workload (redis-benchmark and pgbench keep none either).
    drop(setup);
    let t = &args.table;
    let shared = Arc::new(Shared {
        deadline: match args.requests {
            Some(_) => None,
            None => Some(Instant::now() + Duration::from_secs_f64(args.duration)),
        },
        remaining: args.requests.map(AtomicU64::new),
        stop: AtomicBool::new(false),
        // New keys above the loaded ones, and above those of earlier runs (microseconds
        // since 1970 grow faster than any run inserts).
        next_insert: AtomicU64::new(
            args.keys
                + std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1_000_000_000, |t| t.as_micros() as u64),
        ),
        rows: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        retries: AtomicU64::new(0),
    });
    // Safety net: however the server behaves, stop after the duration plus a minute.
    let watchdog = {
        let shared = shared.clone();
        let limit = Duration::from_secs_f64(args.duration) + Duration::from_secs(60);
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            shared.stop.store(true, Ordering::Relaxed);
        })
    };
    // Server memory, sampled each second while the workload runs.
    let memory = args.server_pid.map(|pid| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !shared.stop.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    samples.push(kib);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            samples
        })
    });
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..args.connections {
        let client = Client::connect(args.addr.as_str()).await?;
        let statements = Arc::new(Prepared {
            select: client
                .prepare(&format!("SELECT value FROM {t} WHERE id = $1"))
                .await?,
            insert: client
                .prepare(&format!("INSERT INTO {t} VALUES ($1, $2)"))
                .await?,
            update: client
                .prepare(&format!("UPDATE {t} SET value = $2 WHERE id = $1"))
                .await?,
            range: client
                .prepare(&format!(
                    "SELECT id, value FROM {t} WHERE id >= $1 AND id < $1 + 100"
                ))
                .await?,
            all: client.prepare(&format!("SELECT * FROM {t}")).await?,
        });
        tasks.push(tokio::spawn(worker(
            client,
            statements,
            shared.clone(),
            args.clone(),
            c as u64 * 0x9E37_79B9 + 7,
        )));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
    for task in tasks {
        histogram
            .add(task.await.expect("worker"))
            .expect("same bounds");
    }
    watchdog.abort();
    let elapsed = started.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(memory) = memory {
        let samples = memory.await.unwrap_or_default();
        if let (Some(low), Some(high)) = (samples.iter().min(), samples.iter().max()) {
            println!(
                "server RSS over {} samples: lowest {low} KiB, highest {high} KiB, first {} KiB, last {} KiB",
                samples.len(),
                samples[0],
                samples[samples.len() - 1]
            );
        }
    }
    let rows = shared.rows.load(Ordering::Relaxed);
    if rows > 0 {
        println!(
            "streamed {rows} rows in {elapsed:.2} s: {:.0} rows/s",
            rows as f64 / elapsed
        );
    }
    let done = histogram.len();
    let rate = done as f64 / elapsed;
    let errors = shared.errors.load(Ordering::Relaxed);
    let retries = shared.retries.load(Ordering::Relaxed);
    let p = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    let workload = args
        .workload
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string());
    if let Some(load_rate) = load_rate {
        println!(
            "loaded {} rows of {} bytes at {load_rate:.0} rows/s",
            args.keys, args.value_size
        );
    }
    println!(
        "{workload}: {done} requests in {elapsed:.2} s over {} connections x {} in flight: \
         {rate:.0} req/s; latency ms p50 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}; {errors} errors, \
         {retries} retries after write conflicts",
        args.connections,
        args.pipeline,
        p(0.5),
        p(0.99),
        p(0.999),
        histogram.max() as f64 / 1000.0
    );
    if args.json {
        println!(
            "{{\"workload\":\"{workload}\",\"connections\":{},\"pipeline\":{},\"requests\":{done},\"seconds\":{elapsed:.3},\"rps\":{rate:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"errors\":{errors},\"retries\":{retries},\"load_rows_per_s\":{},\"rows_per_s\":{:.1}}}",
            args.connections,
            args.pipeline,
            p(0.5),
            p(0.99),
            p(0.999),
            load_rate.map_or("null".to_string(), |r| format!("{r:.1}")),
            rows as f64 / elapsed
        );
    }
    if errors > 0 {
        return Err(Error::Protocol(format!("{errors} requests failed")));
    }
    Ok(())
}
