//! The statement path: any text, parsed, planned and run against an in-memory database
//! holding a small table with an index, must give results or an error, never a panic.

#![no_main]

use kvsql_engine::Database;
use libfuzzer_sys::fuzz_target;

const SETUP: &str = "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL);
CREATE INDEX t_b ON t (b);
INSERT INTO t VALUES (1, 'x', 1.5), (2, NULL, -2.0), (3, 'y', NULL)";

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let db = Database::memory();
    let mut session = db.session();
    session.query(SETUP).expect("setup");
    let _ = session.query(sql);
    // Whatever happened, the session still works.
    session.query("SELECT count(*) FROM t").expect("the session survives");
});
