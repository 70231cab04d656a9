//! The crash test: concurrent writers against a real server that is killed with SIGKILL
//! at random moments and restarted, again and again. After each restart it checks that
//! every write a client saw acknowledged is there, that no statement or transaction is
//! half applied, and that indexes agree with their table.
//!
//! Run by `cargo test --test crash` (20 cycles) and, for more, by
//! `target/debug/crash --cycles 500 [--sync] [--seed N]`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kvsql_protocol::{Client, Error, ToValue};

use crate::rng::Rng;
use crate::{TestServer, runtime, scalar};

/// Rows each balance account starts with; transfers keep the total.
const ACCOUNTS: i64 = 10;
const START_BALANCE: i64 = 1000;
/// Concurrent writers.
const WRITERS: i64 = 4;
/// Distinct tags (an indexed column).
const TAGS: i64 = 7;

/// What one cycle did and found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    pub cycles: u32,
    /// Statements and transactions acknowledged to a client, over all cycles.
    pub acknowledged: u64,
    /// Rows those wrote, every one checked after each restart.
    pub rows_checked: u64,
    /// Writes in flight when the server died (either outcome is allowed, but whole).
    pub in_doubt: u64,
}

/// A write a client sent: the rows (ids) it inserts, all or none.
#[derive(Clone, Debug)]
struct Write {
    ids: Vec<i64>,
}

#[derive(Default, Clone)]
struct Ledger {
    acknowledged: Vec<Write>,
    in_doubt: Vec<Write>,
}

const SCHEMA: &str = "\
CREATE TABLE items (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, grp INTEGER NOT NULL, \
gsize INTEGER NOT NULL, tag TEXT NOT NULL, pad TEXT);
CREATE INDEX items_tag ON items (tag);
CREATE UNIQUE INDEX items_writer_id ON items (writer, id);
CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
CREATE INDEX acct_balance ON acct (balance);";

fn row_sql(id: i64, writer: i64, grp: i64, gsize: usize) -> String {
    format!(
        "({id}, {writer}, {grp}, {gsize}, 't{}', '{}')",
        id % TAGS,
        "x".repeat((id % 50) as usize)
    )
}

/// One writer: single-row inserts (as SQL text, and prepared: the server runs those on
/// the connection's thread and acknowledges them after one write of the log for many
/// sessions' commits), multi-row inserts and transactions (two rows and a transfer
/// between accounts), until the server goes away.
async fn writer(
    addr: std::net::SocketAddr,
    writer: i64,
    first_id: i64,
    ledger: Arc<Mutex<Ledger>>,
    mut rng: Rng,
) {
    let Ok(client) = Client::connect(addr).await else {
        return;
    };
    let Ok(prepared) = client
        .prepare("INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6)")
        .await
    else {
        return;
    };
    let mut next_id = first_id;
    loop {
        let kind = rng.below(4);
        let size = match kind {
            0 | 3 => 1,
            1 => 2 + rng.below(4) as usize,
            _ => 2,
        };
        let ids: Vec<i64> = (next_id..next_id + size as i64).collect();
        next_id += size as i64;
        let grp = ids[0];
        let values: Vec<String> = ids
            .iter()
            .map(|&id| row_sql(id, writer, grp, size))
            .collect();
        let insert = format!("INSERT INTO items VALUES {}", values.join(", "));
        let write = Write { ids: ids.clone() };
        ledger.lock().unwrap().in_doubt.push(write.clone());
        let outcome: Result<(), Error> = if kind < 2 {
            client.execute(insert.as_str(), &[]).await.map(drop)
        } else if kind == 3 {
            let id = ids[0];
            let (tag, pad) = (format!("t{}", id % TAGS), "x".repeat((id % 50) as usize));
            let params: [&(dyn ToValue + Sync); 6] = [&id, &writer, &grp, &1i64, &tag, &pad];
            client.execute(&prepared, &params).await.map(drop)
        } else {
            let from = rng.below(ACCOUNTS as u64) as i64;
            let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
            let amount = 1 + rng.below(5) as i64;
            let script = format!(
                "BEGIN; {insert}; UPDATE acct SET balance = balance - {amount} WHERE id = {from}; \
                 UPDATE acct SET balance = balance + {amount} WHERE id = {to}; COMMIT"
            );
            client.batch_execute(&script).await
        };
        let died = {
            let mut ledger = ledger.lock().unwrap();
            ledger.in_doubt.retain(|w| w.ids[0] != grp);
            match &outcome {
                Ok(()) => ledger.acknowledged.push(write),
                // A conflict: nothing of it was stored.
                Err(e) if e.code() == "40001" => {}
                // The server died: the write may or may not have landed, but whole.
                Err(_) => ledger.in_doubt.push(write),
            }
            matches!(&outcome, Err(e) if e.code() != "40001")
        };
        if died {
            return;
        }
        if outcome.is_err() {
            // Close what the failed transaction left open, and go on.
            let _ = client.execute("ROLLBACK", &[]).await;
        }
    }
}

/// Checks that rows of `items` matching `condition` count the same through its index
/// and by a full scan.
async fn index_agrees(client: &Client, condition: &str, cycle: u32) {
    let by_index = scalar(
        client,
        &format!("SELECT count(*) FROM items WHERE {condition}"),
    )
    .await;
    let by_scan = scalar(
        client,
        &format!("SELECT count(*) FROM items NOT INDEXED WHERE {condition}"),
    )
    .await;
    assert_eq!(
        by_index, by_scan,
        "cycle {cycle}: the index disagrees for {condition}"
    );
}

/// Checks the data after a restart; panics with what is wrong.
async fn check(client: &Client, ledger: &Ledger, cycle: u32) -> u64 {
    let present: std::collections::HashSet<i64> = client
        .query("SELECT id FROM items", &[])
        .await
        .expect("read items")
        .iter()
        .map(|r| r.get::<i64>(0).expect("id"))
        .collect();
    let mut checked = 0;
    for write in &ledger.acknowledged {
        for id in &write.ids {
            assert!(
                present.contains(id),
                "cycle {cycle}: acknowledged row {id} (of write {:?}) is missing",
                write.ids
            );
            checked += 1;
        }
    }
    for write in &ledger.in_doubt {
        let landed = write.ids.iter().filter(|id| present.contains(id)).count();
        assert!(
            landed == 0 || landed == write.ids.len(),
            "cycle {cycle}: a write in flight at the kill is half applied: {landed} of {:?}",
            write.ids
        );
    }
    // No group (a statement or transaction) is partly there.
    let partial = client
        .query(
            "SELECT grp, count(*), max(gsize) FROM items GROUP BY grp HAVING count(*) <> max(gsize)",
            &[],
        )
        .await
        .expect("group check");
    assert!(
        partial.is_empty(),
        "cycle {cycle}: half-applied groups: {partial:?}"
    );
    // Transfers keep the total, and the accounts are all there.
    assert_eq!(
        scalar(client, "SELECT sum(balance) FROM acct").await,
        ACCOUNTS * START_BALANCE,
        "cycle {cycle}: a transfer was half applied"
    );
    // Indexes agree with the table: each tag counted through its index and by a scan,
    // and every row found again through the unique (writer, id) index.
    for tag in 0..TAGS {
        index_agrees(client, &format!("tag = 't{tag}'"), cycle).await;
    }
    let total = present.len() as i64;
    for w in 0..WRITERS {
        index_agrees(client, &format!("writer = {w}"), cycle).await;
    }
    assert_eq!(scalar(client, "SELECT count(*) FROM items").await, total);
    let by_balance = scalar(client, "SELECT count(*) FROM acct WHERE balance > -1000000").await;
    assert_eq!(
        by_balance, ACCOUNTS,
        "cycle {cycle}: index acct_balance lost rows"
    );
    checked
}

/// Runs `cycles` kill/restart cycles on a fresh data directory under `dir`.
pub fn run(dir: &Path, cycles: u32, sync: bool, seed: u64) -> Report {
    let data = dir.join("data");
    let args: &[&str] = if sync { &["--sync"] } else { &[] };
    let rt = runtime();
    let mut rng = Rng::new(seed);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut report = Report::default();
    {
        let server = TestServer::start_in(&data, args);
        rt.block_on(async {
            let client = Client::connect(server.addr()).await.expect("connect");
            client.batch_execute(SCHEMA).await.expect("schema");
            let accounts: Vec<String> = (0..ACCOUNTS)
                .map(|i| format!("({i}, {START_BALANCE})"))
                .collect();
            client
                .execute(
                    format!("INSERT INTO acct VALUES {}", accounts.join(", ")).as_str(),
                    &[],
                )
                .await
                .expect("accounts");
        });
    }
    for cycle in 0..cycles {
        let mut server = TestServer::start_in(&data, args);
        let addr = server.addr();
        // Check what the last cycle left, then write until killed.
        rt.block_on(async {
            let client = Client::connect(addr).await.expect("connect after restart");
            let snapshot = ledger.lock().unwrap().clone();
            report.rows_checked += check(&client, &snapshot, cycle).await;
        });
        {
            let mut ledger = ledger.lock().unwrap();
            report.in_doubt += ledger.in_doubt.len() as u64;
            ledger.in_doubt.clear();
        }
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let first_id = (i64::from(cycle) * WRITERS + w) * 1_000_000;
                let writer_rng = Rng::new(rng.next_u64());
                rt.spawn(writer(addr, w, first_id, ledger.clone(), writer_rng))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + rng.below(250)));
        server.kill();
        rt.block_on(async {
            for task in writers {
                let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
            }
        });
        report.cycles += 1;
    }
    // The last cycle's writes, checked once more.
    let server = TestServer::start_in(&data, args);
    rt.block_on(async {
        let client = Client::connect(server.addr()).await.expect("connect");
        let snapshot = ledger.lock().unwrap().clone();
        report.rows_checked += check(&client, &snapshot, cycles).await;
        report.acknowledged = snapshot.acknowledged.len() as u64;
        report.in_doubt += snapshot.in_doubt.len() as u64;
    });
    report
}
