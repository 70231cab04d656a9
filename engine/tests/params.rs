//! Statement parameters and prepared statements, in process.

use kvsql_engine::{DataType, Database, ResultSet, Value};

fn rows(results: Vec<ResultSet>) -> Vec<Vec<Value>> {
    results
        .into_iter()
        .last()
        .map(|r| r.rows)
        .unwrap_or_default()
}

fn collect(
    session: &mut kvsql_engine::Session,
    prepared: &mut kvsql_engine::Prepared,
    params: &[Value],
) -> kvsql_engine::Result<Vec<Vec<Value>>> {
    struct Rows(Vec<Vec<Value>>);
    impl kvsql_engine::ResultSink for Rows {
        fn columns(&mut self, _: &[kvsql_engine::ColumnInfo]) -> kvsql_engine::Result<()> {
            Ok(())
        }
        fn row(&mut self, row: Vec<Value>) -> kvsql_engine::Result<()> {
            self.0.push(row);
            Ok(())
        }
        fn complete(&mut self, _: &kvsql_engine::Outcome) -> kvsql_engine::Result<()> {
            Ok(())
        }
    }
    let mut sink = Rows(Vec::new());
    session.execute_prepared(prepared, params, &mut sink)?;
    Ok(sink.0)
}

#[test]
fn parameters_carry_every_type_and_are_never_spliced() {
    let db = Database::memory();
    let mut s = db.session();
    s.query(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, ok BOOLEAN, data BLOB)",
    )
    .unwrap();
    let insert = "INSERT INTO t VALUES ($1, $2, $3, $4, $5)";
    s.query_with(
        insert,
        &[
            Value::Integer(1),
            Value::Text("it's; DROP TABLE t".into()),
            Value::Real(2.5),
            Value::Boolean(true),
            Value::Blob(vec![0, 255]),
        ],
    )
    .unwrap();
    s.query_with(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
        &[
            Value::Integer(2),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
    )
    .unwrap();
    let got = rows(
        s.query_with(
            "SELECT name, score, ok, data FROM t WHERE id = $1",
            &[Value::Integer(1)],
        )
        .unwrap(),
    );
    assert_eq!(
        got,
        [[
            Value::Text("it's; DROP TABLE t".into()),
            Value::Real(2.5),
            Value::Boolean(true),
            Value::Blob(vec![0, 255])
        ]]
    );
    let got = rows(
        s.query_with(
            "SELECT id FROM t WHERE name IS NULL AND $1 IS NULL",
            &[Value::Null],
        )
        .unwrap(),
    );
    assert_eq!(got, [[Value::Integer(2)]]);
    // The wrong number of values is refused, naming the counts.
    let err = s.query_with(insert, &[Value::Integer(3)]).unwrap_err();
    assert_eq!(err.code(), "08P01");
    assert!(
        err.to_string().contains("takes 5 parameters, 1 given"),
        "{err}"
    );
    let err = s
        .query_with("SELECT 1; SELECT $1", &[Value::Integer(1)])
        .unwrap_err();
    assert_eq!(err.code(), "08P01");
    // A type that does not fit the column is the usual type error.
    let err = s
        .query_with(
            insert,
            &[
                Value::Text("x".into()),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        )
        .unwrap_err();
    assert_eq!(err.code(), "42804", "{err}");
}

#[test]
fn a_prepared_statement_plans_once_and_reads_by_key() {
    let db = Database::memory();
    let mut s = db.session();
    s.query("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT); CREATE INDEX kv_v ON kv (v)")
        .unwrap();
    let mut insert = s.prepare("INSERT INTO kv VALUES ($1, $2)").unwrap();
    assert_eq!(
        insert.param_types,
        [Some(DataType::Integer), Some(DataType::Text)]
    );
    for k in 0..200 {
        collect(
            &mut s,
            &mut insert,
            &[Value::Integer(k), Value::Text(format!("v{}", k % 10))],
        )
        .unwrap();
    }
    let mut get = s.prepare("SELECT v FROM kv WHERE k = $1").unwrap();
    assert_eq!(get.param_types, [Some(DataType::Integer)]);
    assert_eq!(get.columns[0].name, "v");
    for k in 0..200 {
        let got = collect(&mut s, &mut get, &[Value::Integer(k)]).unwrap();
        assert_eq!(got, [[Value::Text(format!("v{}", k % 10))]]);
    }
    // With the value known, the scan is a point lookup (and an index scan for v).
    let mut explain = s.prepare("EXPLAIN SELECT v FROM kv WHERE k = $1").unwrap();
    let plan = collect(&mut s, &mut explain, &[Value::Integer(7)]).unwrap();
    assert!(
        format!("{plan:?}").contains("point lookup on primary key: k = 7"),
        "{plan:?}"
    );
    let mut explain = s.prepare("EXPLAIN SELECT k FROM kv WHERE v = $1").unwrap();
    let plan = collect(&mut s, &mut explain, &[Value::Text("v3".into())]).unwrap();
    assert!(
        format!("{plan:?}").contains("index scan on index kv_v"),
        "{plan:?}"
    );
}

#[test]
fn a_schema_change_replans_or_fails_clearly() {
    let db = Database::memory();
    let mut s = db.session();
    s.query("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)")
        .unwrap();
    let mut all = s.prepare("SELECT * FROM t").unwrap();
    assert_eq!(
        collect(&mut s, &mut all, &[]).unwrap(),
        [[Value::Integer(1)]]
    );
    // Another session changes the table: the statement sees the new column.
    db.session()
        .query("ALTER TABLE t ADD COLUMN note TEXT DEFAULT 'x'")
        .unwrap();
    assert_eq!(
        collect(&mut s, &mut all, &[]).unwrap(),
        [[Value::Integer(1), Value::Text("x".into())]]
    );
    db.session().query("DROP TABLE t").unwrap();
    let err = collect(&mut s, &mut all, &[]).unwrap_err();
    assert_eq!(err.code(), "42P01", "{err}");
}

/// Prepared point selects take a shortcut (a key built from the parameters) where they
/// can; every case here must give what the general path gives: the same statement
/// written so that it cannot take the shortcut (`+ 0` on the key) is the referee.
#[test]
fn prepared_point_selects_agree_with_the_general_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        .unwrap();
    s.query("INSERT INTO t VALUES (1, 'one', 1.5), (2, 'two', NULL), (-7, 'neg', 0.0)")
        .unwrap();
    s.query("CREATE TABLE pair (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))")
        .unwrap();
    s.query("INSERT INTO pair VALUES ('x', 1, 'x1'), ('x', 2, 'x2'), ('y', 1, 'y1')")
        .unwrap();
    let cases: &[(&str, &str, &[&[Value]])] = &[
        (
            "SELECT name, id, score FROM t WHERE id = $1",
            "SELECT name, id, score FROM t WHERE id + 0 = $1",
            &[
                &[Value::Integer(1)],
                &[Value::Integer(2)],
                &[Value::Integer(-7)],
                &[Value::Integer(99)],
                &[Value::Null],
                &[Value::Text("1".into())],
                &[Value::Real(1.0)],
            ],
        ),
        (
            "SELECT * FROM t WHERE $1 = id",
            "SELECT * FROM t WHERE $1 = id + 0",
            &[&[Value::Integer(1)], &[Value::Integer(3)]],
        ),
        (
            "SELECT v FROM pair WHERE b = $2 AND a = $1",
            "SELECT v FROM pair WHERE b + 0 = $2 AND a = $1",
            &[
                &[Value::Text("x".into()), Value::Integer(2)],
                &[Value::Text("y".into()), Value::Integer(1)],
                &[Value::Text("y".into()), Value::Integer(2)],
                &[Value::Integer(1), Value::Integer(1)],
            ],
        ),
    ];
    for (fast, general, runs) in cases {
        let mut fast_stmt = s.prepare(fast).unwrap();
        let mut general_stmt = s.prepare(general).unwrap();
        assert!(fast_stmt.is_key_lookup(), "{fast}");
        assert!(!general_stmt.is_key_lookup(), "{general}");
        for params in *runs {
            let got = collect(&mut s, &mut fast_stmt, params);
            let want = collect(&mut s, &mut general_stmt, params);
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "{fast} with {params:?}"
            );
        }
    }
    // A column added later: old rows read with its default, through the shortcut too.
    let mut by_id = s.prepare("SELECT * FROM t WHERE id = $1").unwrap();
    s.query("ALTER TABLE t ADD COLUMN extra INTEGER DEFAULT 5")
        .unwrap();
    assert_eq!(
        collect(&mut s, &mut by_id, &[Value::Integer(1)]).unwrap(),
        vec![vec![
            Value::Integer(1),
            Value::Text("one".into()),
            Value::Real(1.5),
            Value::Integer(5)
        ]]
    );
    // Inside a transaction the statement sees the transaction's own writes.
    s.query("BEGIN").unwrap();
    s.query("INSERT INTO t (id, name) VALUES (40, 'mine')")
        .unwrap();
    let mut name = s.prepare("SELECT name FROM t WHERE id = $1").unwrap();
    assert_eq!(
        collect(&mut s, &mut name, &[Value::Integer(40)]).unwrap(),
        vec![vec![Value::Text("mine".into())]]
    );
    s.query("ROLLBACK").unwrap();
    assert!(
        collect(&mut s, &mut name, &[Value::Integer(40)])
            .unwrap()
            .is_empty()
    );
    // The wrong number of parameters is still an error.
    assert!(collect(&mut s, &mut name, &[]).is_err());
}
