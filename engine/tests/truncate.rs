//! TRUNCATE and DELETE without WHERE on RocksDB: every key of the table and of its
//! indexes goes in the statement's one commit (run outside BEGIN as a bulk write), by
//! a prepared statement as by text, it lasts past a reopen, and a cancelled one deletes
//! nothing. What users see of them (counts, indexes, transactions, concurrent commits)
//! is in `tests/scripts/truncate.sql`.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kvsql_engine::encoding::keys;
use kvsql_engine::storage::rocks::RocksStore;
use kvsql_engine::storage::{Durability, KeyRange, Store};
use kvsql_engine::{Database, Outcome, Session, Value};

/// More rows than `clear` deletes between two looks at the cancel flag.
const ROWS: i64 = 5000;

fn count(session: &mut Session, table: &str) -> i64 {
    match &session
        .query(&format!("SELECT count(*) FROM {table}"))
        .unwrap()[0]
        .rows[0][0]
    {
        Value::Integer(n) => *n,
        other => panic!("count(*) gave {other:?}"),
    }
}

fn fill(session: &mut Session) {
    session.query("DELETE FROM t").unwrap();
    for chunk in 0..ROWS / 1000 {
        let values: Vec<String> = (0..1000)
            .map(|i| {
                let id = chunk * 1000 + i;
                format!("({id}, 'v{id}')")
            })
            .collect();
        session
            .query(&format!("INSERT INTO t VALUES {}", values.join(",")))
            .unwrap();
    }
}

/// How many keys the store holds in the row space and in the index space.
fn stored_keys(dir: &Path) -> (usize, usize) {
    let store = RocksStore::open(dir, Durability::Process).unwrap();
    let mut txn = store.begin().unwrap();
    let mut keys_in = |space: Vec<u8>| {
        let range = KeyRange {
            end: Bound::Excluded(keys::end_of(&space)),
            start: Bound::Included(space),
        };
        txn.scan(range, false).count()
    };
    (keys_in(keys::row_space()), keys_in(keys::index_space()))
}

fn setup(s: &mut Session) {
    s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE); CREATE INDEX tv ON t (v)")
        .unwrap();
    s.query("CREATE TABLE keep (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
        .unwrap();
    s.query("INSERT INTO keep VALUES (1, 'a'), (2, 'b')")
        .unwrap();
}

#[test]
fn every_key_of_the_table_goes_and_stays_gone_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        setup(&mut s);
        fill(&mut s);
        // keep: 2 rows and 2 entries; t: ROWS rows and 2 entries each.
        drop(db);
    }
    assert_eq!(
        stored_keys(dir.path()),
        (2 + ROWS as usize, 2 + 2 * ROWS as usize)
    );
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        let deleted = s.query("DELETE FROM t").unwrap();
        assert_eq!(deleted[0].outcome.tag, "DELETE");
        assert_eq!(deleted[0].outcome.rows_affected, ROWS as u64);

        fill(&mut s);
        let truncated = s.query("TRUNCATE TABLE t").unwrap();
        assert_eq!(truncated[0].outcome.tag, "TRUNCATE TABLE");

        // Prepared, the statements take the same path.
        fill(&mut s);
        let mut prepared = s.prepare("DELETE FROM t").unwrap();
        let mut outcome = None;
        s.execute_prepared(&mut prepared, Vec::new(), &mut Tag(&mut outcome))
            .unwrap();
        assert_eq!(outcome.map(|o| o.rows_affected), Some(ROWS as u64));
        fill(&mut s);
        let mut prepared = s.prepare("TRUNCATE t").unwrap();
        s.execute_prepared(&mut prepared, Vec::new(), &mut Tag(&mut None))
            .unwrap();
        assert_eq!(count(&mut s, "t"), 0);
        assert_eq!(count(&mut s, "keep"), 2);
    }
    // Only the other table's keys are left in the store.
    assert_eq!(stored_keys(dir.path()), (2, 2));
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    assert_eq!(count(&mut s, "t"), 0);
    s.query("INSERT INTO t VALUES (1, 'v1')").unwrap();
    assert_eq!(
        s.query("SELECT id FROM t WHERE v = 'v1'").unwrap()[0].rows,
        vec![vec![Value::Integer(1)]]
    );
}

#[test]
fn a_cancelled_truncate_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    setup(&mut s);
    fill(&mut s);
    let cancel = Arc::new(AtomicBool::new(true));
    for sql in ["TRUNCATE t", "DELETE FROM t"] {
        // Alone (a bulk write), and inside a transaction (deletes of its own).
        s.set_interrupt(Some(cancel.clone()));
        let err = s.query(sql).unwrap_err();
        assert_eq!(err.code(), "57014", "{sql}: {err}");
        s.set_interrupt(None);
        assert_eq!(count(&mut s, "t"), ROWS, "{sql}");

        s.query("BEGIN").unwrap();
        s.set_interrupt(Some(cancel.clone()));
        let err = s.query(sql).unwrap_err();
        assert_eq!(err.code(), "57014", "{sql} in BEGIN: {err}");
        s.set_interrupt(None);
        s.query("ROLLBACK").unwrap();
        assert_eq!(count(&mut s, "t"), ROWS, "{sql} in BEGIN");
    }
    assert_eq!(
        s.query("SELECT id FROM t WHERE v = 'v4999'").unwrap()[0].rows,
        vec![vec![Value::Integer(4999)]]
    );
}

/// A sink that keeps a statement's outcome.
struct Tag<'a>(&'a mut Option<Outcome>);

impl kvsql_engine::ResultSink for Tag<'_> {
    fn columns(&mut self, _: &[kvsql_engine::ColumnInfo]) -> kvsql_engine::Result<()> {
        Ok(())
    }
    fn row(&mut self, _: Vec<Value>) -> kvsql_engine::Result<()> {
        Ok(())
    }
    fn complete(&mut self, outcome: &Outcome) -> kvsql_engine::Result<()> {
        *self.0 = Some(outcome.clone());
        Ok(())
    }
}
