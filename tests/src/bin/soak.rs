//! A bounded soak: `soak [--clients 16] [--seconds 60] [--sync]`.
//!
//! Starts a kvsql-server (from the same target directory) on a temporary directory and
//! runs N clients for M seconds of mixed work: point reads, inserts, range counts and
//! transfer transactions (retried on conflicts). Prints throughput and server memory
//! (RSS) every few seconds, errors by SQLSTATE (only 40001, retryable conflicts, are
//! allowed), and a final consistency check; exits non-zero if anything else went wrong.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use kvsql_protocol::{Client, Error};
use kvsql_tests::TestServer;
use kvsql_tests::rng::Rng;

/// Run mixed reads, writes and transactions against one server for a while.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Concurrent client connections.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// How long to run.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Run the server with --sync.
    #[arg(long)]
    sync: bool,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5)]
    every: u64,
}

const ACCOUNTS: i64 = 1000;
const START: i64 = 100;

#[derive(Default)]
struct Tally {
    reads: AtomicU64,
    inserts: AtomicU64,
    transfers: AtomicU64,
    scans: AtomicU64,
    conflicts: AtomicU64,
    /// Other errors by SQLSTATE (or kind), with one example message.
    errors: Mutex<BTreeMap<String, (u64, String)>>,
}

impl Tally {
    fn error(&self, e: &Error) {
        if e.code() == "40001" {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut errors = self.errors.lock().unwrap();
        let entry = errors
            .entry(e.code().to_string())
            .or_insert((0, e.to_string()));
        entry.0 += 1;
    }

    fn operations(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
            + self.inserts.load(Ordering::Relaxed)
            + self.transfers.load(Ordering::Relaxed)
            + self.scans.load(Ordering::Relaxed)
    }
}

async fn client_loop(client: Client, n: u64, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ (n + 1));
    let (read, insert, scan) = match (
        client
            .prepare("SELECT balance FROM acct WHERE id = $1")
            .await,
        client
            .prepare("INSERT INTO log (client, amount) VALUES ($1, $2)")
            .await,
        client
            .prepare("SELECT count(*), sum(amount) FROM log WHERE id BETWEEN $1 AND $1 + 99")
            .await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tally.error(&e);
            return;
        }
    };
    let client_id = n as i64;
    while !stop.load(Ordering::Relaxed) {
        let dice = rng.below(100);
        let outcome = if dice < 50 {
            let id = rng.below(ACCOUNTS as u64) as i64;
            client.query_one(&read, &[&id]).await.map(|_| &tally.reads)
        } else if dice < 70 {
            let amount = rng.below(100) as i64;
            client
                .execute(&insert, &[&client_id, &amount])
                .await
                .map(|_| &tally.inserts)
        } else if dice < 80 {
            // 100 consecutive log rows, somewhere among those written so far.
            let written =
                tally.inserts.load(Ordering::Relaxed) + tally.transfers.load(Ordering::Relaxed);
            let low = rng.below(written.max(1)) as i64;
            client.query_one(&scan, &[&low]).await.map(|_| &tally.scans)
        } else {
            let from = rng.below(ACCOUNTS as u64) as i64;
            let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
            let amount = 1 + rng.below(10) as i64;
            let script = format!(
                "BEGIN; UPDATE acct SET balance = balance - {amount} WHERE id = {from}; \
                 UPDATE acct SET balance = balance + {amount} WHERE id = {to}; \
                 INSERT INTO log (client, amount) VALUES ({client_id}, -{amount}); COMMIT"
            );
            let done = client.batch_execute(&script).await;
            if done.is_err() {
                let _ = client.execute("ROLLBACK", &[]).await;
            }
            done.map(|_| &tally.transfers)
        };
        match outcome {
            Ok(counter) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tally.error(&e),
        }
    }
}

/// The server's resident memory in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let temp = tempfile::tempdir().expect("temporary directory");
    let server_args: &[&str] = if args.sync { &["--sync"] } else { &[] };
    let server = TestServer::start_in(&temp.path().join("data"), server_args);
    let pid = server.pid();
    let rt = kvsql_tests::runtime();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    println!(
        "soak: {} clients for {} s against kvsql-server pid {pid} (sync: {})",
        args.clients, args.seconds, args.sync
    );
    let setup = rt.block_on(async {
        let c = Client::connect(server.addr()).await?;
        c.batch_execute(
            "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
             CREATE INDEX acct_balance ON acct (balance);
             CREATE TABLE log (id INTEGER PRIMARY KEY, client INTEGER NOT NULL, amount INTEGER NOT NULL);
             CREATE INDEX log_client_amount ON log (client, amount)",
        )
        .await?;
        let rows: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, {START})")).collect();
        c.execute(format!("INSERT INTO acct VALUES {}", rows.join(", ")).as_str(), &[])
            .await?;
        Ok::<_, Error>(c)
    });
    let checker = match setup {
        Ok(c) => c,
        Err(e) => {
            eprintln!("soak: setup failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut tasks = Vec::new();
    for n in 0..args.clients {
        let client = match rt.block_on(Client::connect(server.addr())) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("soak: client {n} cannot connect: {e}");
                return ExitCode::FAILURE;
            }
        };
        tasks.push(rt.spawn(client_loop(client, n as u64, tally.clone(), stop.clone())));
    }
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let mut rss_samples = Vec::new();
    while started.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_secs(args.every.max(1)));
        let done = tally.operations();
        let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), done);
        let rss = rss_kib(pid).unwrap_or(0);
        rss_samples.push(rss);
        println!(
            "{:>5.0} s  {:>9} ops  {:>8.0} ops/s  conflicts {:>6}  server RSS {:>7} KiB",
            started.elapsed().as_secs_f64(),
            done,
            rate,
            tally.conflicts.load(Ordering::Relaxed),
            rss
        );
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let inserts = tally.inserts.load(Ordering::Relaxed);
    let transfers = tally.transfers.load(Ordering::Relaxed);
    println!(
        "done: {} ops in {elapsed:.1} s ({:.0} ops/s): {} reads, {inserts} inserts, {} range counts, \
         {transfers} transfers, {} conflicts (retryable)",
        tally.operations(),
        tally.operations() as f64 / elapsed,
        tally.reads.load(Ordering::Relaxed),
        tally.scans.load(Ordering::Relaxed),
        tally.conflicts.load(Ordering::Relaxed)
    );
    if let (Some(first), Some(max)) = (rss_samples.first(), rss_samples.iter().max()) {
        println!(
            "server RSS: first sample {first} KiB, highest {max} KiB, last {} KiB",
            rss_samples.last().unwrap_or(first)
        );
    }
    let mut ok = true;
    for (code, (count, example)) in tally.errors.lock().unwrap().iter() {
        println!("UNEXPECTED errors {code}: {count} (e.g. {example})");
        ok = false;
    }
    // Final consistency: money kept, every acknowledged log row there, indexes agree.
    let check = rt.block_on(async {
        let one = |sql: &'static str| {
            let c = checker.clone();
            async move { c.query_one(sql, &[]).await?.get::<i64>(0) }
        };
        let total = one("SELECT sum(balance) FROM acct").await?;
        let logged = one("SELECT count(*) FROM log").await?;
        let by_scan = one("SELECT count(*) FROM log NOT INDEXED WHERE client >= 0").await?;
        let by_index = one("SELECT count(*) FROM log WHERE client >= 0").await?;
        let balances = one("SELECT count(*) FROM acct WHERE balance > -1000000000").await?;
        Ok::<_, Error>((total, logged, by_scan, by_index, balances))
    });
    match check {
        Ok((total, logged, by_scan, by_index, balances)) => {
            let expected_rows = (inserts + transfers) as i64;
            let consistent = total == ACCOUNTS * START
                && logged == expected_rows
                && by_scan == by_index
                && by_index == logged
                && balances == ACCOUNTS;
            println!(
                "consistency: balance total {total} (expected {}), log rows {logged} \
                 (acknowledged {expected_rows}), index/scan counts {by_index}/{by_scan}: {}",
                ACCOUNTS * START,
                if consistent { "ok" } else { "WRONG" }
            );
            ok &= consistent;
        }
        Err(e) => {
            println!("consistency check failed: {e}");
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
