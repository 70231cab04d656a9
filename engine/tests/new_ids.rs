//! A single-row INSERT of an id above every id its table has had skips the primary key
//! lookup (the id allocator knows no row has it). Sessions racing to insert the same
//! ids, on RocksDB, must still see exactly one insert of each id succeed, and the row
//! stored must be the one whose insert succeeded: no insert may overwrite another.

use std::sync::{Arc, Barrier};

use kvsql_engine::{Database, Value};

struct Discard;

impl kvsql_engine::ResultSink for Discard {
    fn columns(&mut self, _: &[kvsql_engine::ColumnInfo]) -> kvsql_engine::Result<()> {
        Ok(())
    }
    fn row(&mut self, _: Vec<Value>) -> kvsql_engine::Result<()> {
        Ok(())
    }
    fn complete(&mut self, _: &kvsql_engine::Outcome) -> kvsql_engine::Result<()> {
        Ok(())
    }
}

const IDS: i64 = 5000;

/// Inserts ids 0..IDS in order, tagging each row with `who`; returns the ids it
/// inserted. Even sessions use a prepared statement (a bulk write under the commit
/// gate), odd ones SQL text (an optimistic transaction), and the last one explicit
/// transactions.
fn racer(db: &Database, who: usize, sessions: usize, start: &Barrier) -> Vec<i64> {
    let mut s = db.session();
    let mut prepared = s.prepare("INSERT INTO t VALUES ($1, $2)").unwrap();
    start.wait();
    let mut won = Vec::new();
    for id in 0..IDS {
        let result = if who == sessions - 1 {
            s.query(&format!(
                "BEGIN; INSERT INTO t VALUES ({id}, 'session {who}'); COMMIT"
            ))
            .map(|_| ())
        } else if who.is_multiple_of(2) {
            let params = [Value::Integer(id), Value::Text(format!("session {who}"))];
            s.execute_prepared(&mut prepared, params.to_vec(), &mut Discard)
        } else {
            s.query(&format!("INSERT INTO t VALUES ({id}, 'session {who}')"))
                .map(|_| ())
        };
        match result {
            Ok(()) => won.push(id),
            Err(e) if matches!(e.code(), "23505" | "40001") => {
                // Ends a failed explicit transaction; fails harmlessly where the
                // failure already ended it, or there was none.
                let _ = s.query("ROLLBACK");
            }
            Err(e) => panic!("session {who}, id {id}: {e}"),
        }
    }
    won
}

#[test]
fn racing_inserts_of_new_ids_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.session()
        .query("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
        .unwrap();
    let sessions = 4;
    let start = Arc::new(Barrier::new(sessions));
    let racers: Vec<_> = (0..sessions)
        .map(|who| {
            let (db, start) = (db.clone(), start.clone());
            std::thread::spawn(move || racer(&db, who, sessions, &start))
        })
        .collect();
    let mut winner = vec![None; IDS as usize];
    for (who, racer) in racers.into_iter().enumerate() {
        for id in racer.join().unwrap() {
            let slot = &mut winner[id as usize];
            assert!(
                slot.is_none(),
                "id {id} inserted by sessions {slot:?} and {who}"
            );
            *slot = Some(who);
        }
    }
    let mut s = db.session();
    let stored = s.query("SELECT id, who FROM t ORDER BY id").unwrap()[0]
        .rows
        .clone();
    assert_eq!(stored.len(), IDS as usize);
    for row in stored {
        let Value::Integer(id) = row[0] else {
            panic!("id {:?}", row[0])
        };
        let who = winner[id as usize].unwrap_or_else(|| panic!("id {id}: no insert succeeded"));
        assert_eq!(
            row[1],
            Value::Text(format!("session {who}")),
            "id {id}: the stored row is not the one whose insert succeeded"
        );
    }
    // An id the table has had is looked up again, even when it is the largest.
    let err = s.query("INSERT INTO t VALUES (4999, 'again')").unwrap_err();
    assert_eq!(err.code(), "23505", "{err}");
    let mut prepared = s.prepare("INSERT INTO t VALUES ($1, $2)").unwrap();
    let err = s
        .execute_prepared(
            &mut prepared,
            vec![Value::Integer(4999), Value::Text("again".into())],
            &mut Discard,
        )
        .unwrap_err();
    assert_eq!(err.code(), "23505", "{err}");
}

/// Ids counted from the store when the database opens: a row written before a restart
/// is found by the next insert of its id, and so is one deleted and written again.
#[test]
fn ids_stored_before_a_restart_are_not_new() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
            .unwrap();
        s.query("INSERT INTO t VALUES (10, 'first'), (20, 'first')")
            .unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    let mut prepared = s.prepare("INSERT INTO t VALUES ($1, $2)").unwrap();
    for id in [20, 10] {
        let err = s
            .execute_prepared(
                &mut prepared,
                vec![Value::Integer(id), Value::Text("second".into())],
                &mut Discard,
            )
            .unwrap_err();
        assert_eq!(err.code(), "23505", "id {id}: {err}");
    }
    s.query("DELETE FROM t WHERE id = 20").unwrap();
    let params = [Value::Integer(20), Value::Text("third".into())];
    s.execute_prepared(&mut prepared, params.to_vec(), &mut Discard)
        .unwrap();
    let err = s
        .execute_prepared(&mut prepared, params.to_vec(), &mut Discard)
        .unwrap_err();
    assert_eq!(err.code(), "23505", "{err}");
    let rows = s.query("SELECT who FROM t ORDER BY id").unwrap()[0]
        .rows
        .clone();
    assert_eq!(
        rows,
        vec![
            vec![Value::Text("first".into())],
            vec![Value::Text("third".into())]
        ]
    );
}
