//! DROP TABLE and DROP INDEX on RocksDB: the rows go with one range deletion after the
//! commit, a rolled-back drop keeps them, and what a crash leaves between that commit
//! and the deletion is swept when the database opens.

use std::ops::Bound;
use std::path::Path;

use kvsql_engine::Database;
use kvsql_engine::catalog;
use kvsql_engine::encoding::keys;
use kvsql_engine::storage::rocks::RocksStore;
use kvsql_engine::storage::{Durability, KeyRange, Store};

fn count(session: &mut kvsql_engine::Session, sql: &str) -> String {
    session.query(sql).unwrap()[0].rows[0][0].to_string()
}

/// The table or index ids that own keys in the row and index spaces, as the store
/// holds them.
fn owners(dir: &Path) -> (Vec<u64>, Vec<u64>, Option<u64>) {
    let store = RocksStore::open(dir, Durability::Process).unwrap();
    let mut txn = store.begin().unwrap();
    let mut ids = |space: Vec<u8>| {
        let range = KeyRange {
            end: Bound::Excluded(keys::end_of(&space)),
            start: Bound::Included(space),
        };
        let mut ids: Vec<u64> = txn
            .scan(range, false)
            .map(|kv| keys::owner_id(&kv.unwrap().0).unwrap())
            .collect();
        ids.dedup();
        ids
    };
    let rows = ids(keys::row_space());
    let entries = ids(keys::index_space());
    let keep = catalog::get_table(txn.as_mut(), "keep")
        .unwrap()
        .map(|t| t.id);
    (rows, entries, keep)
}

#[test]
fn a_dropped_table_takes_its_rows_and_entries_and_a_rolled_back_drop_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t (v)")
            .unwrap();
        s.query("CREATE TABLE keep (id INTEGER PRIMARY KEY)")
            .unwrap();
        s.query("INSERT INTO keep VALUES (1), (2), (3)").unwrap();
        for chunk in 0..5 {
            let values: Vec<String> = (0..1000)
                .map(|i| format!("({}, 'v{}')", chunk * 1000 + i, chunk * 1000 + i))
                .collect();
            s.query(&format!("INSERT INTO t VALUES {}", values.join(",")))
                .unwrap();
        }
        s.query("BEGIN; DROP TABLE t; ROLLBACK").unwrap();
        assert_eq!(count(&mut s, "SELECT count(*) FROM t"), "5000");
        assert_eq!(
            count(&mut s, "SELECT count(*) FROM t WHERE v = 'v4321'"),
            "1"
        );
        s.query("DROP INDEX tv").unwrap();
        assert_eq!(
            count(&mut s, "SELECT count(*) FROM t WHERE v = 'v4321'"),
            "1"
        );
        let (_, entries, _) = {
            drop(s);
            drop(db);
            owners(dir.path())
        };
        assert!(
            entries.is_empty(),
            "a dropped index left entries of {entries:?}"
        );
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.query("DROP TABLE t").unwrap();
        // The name is free again, for a new, empty table.
        s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        assert_eq!(count(&mut s, "SELECT count(*) FROM t"), "0");
        s.query("DROP TABLE t").unwrap();
        assert_eq!(count(&mut s, "SELECT count(*) FROM keep"), "3");
    }
    let (rows, entries, keep) = owners(dir.path());
    assert_eq!(
        rows,
        vec![keep.unwrap()],
        "only the kept table has rows left"
    );
    assert!(entries.is_empty());
}

/// Keys under a table id and an index id that the catalog does not hold, as a crash
/// right after a DROP's commit leaves them, are gone once the database has opened.
#[test]
fn what_a_crash_left_after_a_drop_is_swept_when_the_database_opens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.query("CREATE TABLE keep (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX kv ON keep (v)")
            .unwrap();
        s.query("INSERT INTO keep VALUES (1, 'a'), (2, 'b')")
            .unwrap();
    }
    {
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let mut txn = store.begin().unwrap();
        for i in 0..100u8 {
            txn.set(&[keys::row_prefix(9_999), vec![i]].concat(), b"orphan row")
                .unwrap();
            txn.set(
                &[keys::index_prefix(9_998), vec![i]].concat(),
                b"orphan entry",
            )
            .unwrap();
        }
        txn.commit().unwrap();
    }
    let (rows, entries, _) = owners(dir.path());
    assert!(rows.contains(&9_999) && entries.contains(&9_998));
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        assert_eq!(
            count(&mut s, "SELECT count(*) FROM keep WHERE v = 'b'"),
            "1"
        );
    }
    let (rows, entries, keep) = owners(dir.path());
    assert_eq!(rows, vec![keep.unwrap()]);
    assert_eq!(entries.len(), 1, "only the kept table's index: {entries:?}");
}
