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
    session.execute_prepared(prepared, params.to_vec(), &mut sink)?;
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
    // The wrong number of values is refused, and the statement still runs after it.
    let err = collect(&mut s, &mut insert, &[Value::Integer(900)]).unwrap_err();
    assert!(
        err.to_string().contains("takes 2 parameters, 1 given"),
        "{err}"
    );
    let mut taken = s
        .prepare("INSERT INTO kv VALUES ($1, 'x'), ($2, 'y'), ($3, 'z')")
        .unwrap();
    let err = collect(
        &mut s,
        &mut taken,
        &[Value::Integer(901), Value::Integer(5), Value::Integer(902)],
    )
    .unwrap_err();
    assert_eq!(err.code(), "23505", "{err}");
    collect(
        &mut s,
        &mut taken,
        &[
            Value::Integer(901),
            Value::Integer(903),
            Value::Integer(902),
        ],
    )
    .unwrap();
    let mut get = s.prepare("SELECT v FROM kv WHERE k = $1").unwrap();
    assert_eq!(get.param_types, [Some(DataType::Integer)]);
    assert_eq!(get.columns[0].name, "v");
    for k in 0..200 {
        let got = collect(&mut s, &mut get, &[Value::Integer(k)]).unwrap();
        assert_eq!(got, [[Value::Text(format!("v{}", k % 10))]]);
    }
    let got = collect(&mut s, &mut get, &[Value::Integer(903)]).unwrap();
    assert_eq!(got, [[Value::Text("y".into())]]);
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
    // A row wider than the shortcut decodes on the stack (20 columns), and values
    // longer than the row cache copies onto the stack (2,000 bytes).
    let columns: Vec<String> = (0..19).map(|i| format!("c{i} TEXT")).collect();
    s.query(&format!(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, {})",
        columns.join(", ")
    ))
    .unwrap();
    let values: Vec<String> = (0..19).map(|i| format!("'v{i}'")).collect();
    s.query(&format!(
        "INSERT INTO wide VALUES (1, {})",
        values.join(", ")
    ))
    .unwrap();
    s.query(&format!(
        "INSERT INTO wide (id, c3) VALUES (2, '{}')",
        "L".repeat(2000)
    ))
    .unwrap();
    let one: &[Value] = &[Value::Integer(1)];
    let two: &[Value] = &[Value::Integer(2)];
    let whole_runs = [one, two, one];
    let runs = [two, two, one];
    let mut cases: Vec<(&str, &str, &[&[Value]])> = cases.to_vec();
    cases.push((
        "SELECT * FROM wide WHERE id = $1",
        "SELECT * FROM wide WHERE id + 0 = $1",
        &whole_runs,
    ));
    cases.push((
        "SELECT c18, c3, id FROM wide WHERE id = $1",
        "SELECT c18, c3, id FROM wide WHERE id + 0 = $1",
        &runs,
    ));
    for (fast, general, runs) in &cases {
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

/// Prepared INSERTs of many rows outside BEGIN run as bulk writes (one batch, other
/// commits held off): a taken key fails the whole statement and writes nothing, ids
/// left out are allocated, and concurrent loads of overlapping keys each keep every
/// key exactly once, with a unique violation for the loser of each overlap.
#[test]
fn bulk_inserts_are_atomic_and_concurrent_ones_never_lose_or_double_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    s.query("CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT)")
        .unwrap();
    let placeholders: Vec<String> = (0..20)
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!("INSERT INTO b VALUES {}", placeholders.join(", "));
    let params = |first: i64| -> Vec<Value> {
        (first..first + 20)
            .flat_map(|id| [Value::Integer(id), Value::Text(format!("v{id}"))])
            .collect()
    };
    let mut insert = s.prepare(&sql).unwrap();
    collect(&mut s, &mut insert, &params(0)).unwrap();
    // Rows 10..30: 10..20 are taken, so nothing of it is written.
    let err = collect(&mut s, &mut insert, &params(10)).unwrap_err();
    assert_eq!(err.code(), "23505", "{err}");
    let count = |s: &mut kvsql_engine::Session| {
        rows(s.query("SELECT count(*) FROM b").unwrap())[0][0].clone()
    };
    assert_eq!(count(&mut s), Value::Integer(20));
    // Ids left out: allocated past the largest the failed statement offered (29; ids
    // a rolled-back statement noted are skipped, as for any insert).
    let mut auto = s
        .prepare(&format!(
            "INSERT INTO b (v) VALUES {}",
            (1..=20)
                .map(|i| format!("(${i})"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .unwrap();
    let texts: Vec<Value> = (0..20).map(|i| Value::Text(format!("auto{i}"))).collect();
    collect(&mut s, &mut auto, &texts).unwrap();
    assert_eq!(
        rows(
            s.query("SELECT min(id), max(id) FROM b WHERE v LIKE 'auto%'")
                .unwrap()
        ),
        [[Value::Integer(30), Value::Integer(49)]]
    );
    // Four sessions load batches of 20 rows over 1000..1400, each batch offered twice.
    let loaders: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            let sql = sql.clone();
            std::thread::spawn(move || {
                let mut s = db.session();
                let mut insert = s.prepare(&sql).unwrap();
                let mut won = 0;
                for batch in 0..20i64 {
                    let first = 1000 + ((batch * 2 + t) % 20) * 20;
                    match collect(&mut s, &mut insert, &params(first)) {
                        Ok(_) => won += 1,
                        Err(e) if e.code() == "23505" => {}
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: i64 = loaders.into_iter().map(|l| l.join().unwrap()).sum();
    assert_eq!(won, 20, "each of the 20 batches lands exactly once");
    assert_eq!(count(&mut s), Value::Integer(40 + 400));
    assert_eq!(
        rows(
            s.query("SELECT count(*) FROM b WHERE id >= 1000 AND v = 'v' || id")
                .unwrap()
        ),
        [[Value::Integer(400)]]
    );
}

/// Prepared single-row INSERTs outside BEGIN run as bulk writes too: four sessions
/// offering overlapping keys each land every key exactly once (the loser of each gets
/// a unique violation), a transaction that wrote a key first still fails at COMMIT
/// when a single-row insert of that key lands before it, and a point select sees each
/// row as soon as its insert returns.
#[test]
fn single_row_inserts_from_many_sessions_land_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    s.query("CREATE TABLE one (id INTEGER PRIMARY KEY, v TEXT)")
        .unwrap();
    // A transaction writes key 7; a single-row insert of 7 lands first.
    let mut txn = db.session();
    txn.query("BEGIN").unwrap();
    txn.query("INSERT INTO one VALUES (7, 'txn')").unwrap();
    let mut insert = s.prepare("INSERT INTO one VALUES ($1, $2)").unwrap();
    collect(
        &mut s,
        &mut insert,
        &[Value::Integer(7), Value::Text("single".into())],
    )
    .unwrap();
    let err = txn.query("COMMIT").unwrap_err();
    assert_eq!(err.code(), "40001", "{err}");
    let err = collect(
        &mut s,
        &mut insert,
        &[Value::Integer(7), Value::Text("again".into())],
    )
    .unwrap_err();
    assert_eq!(err.code(), "23505", "{err}");
    // Four sessions over keys 1000..1400, every key offered by two of them.
    let writers: Vec<_> = (0..4i64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut s = db.session();
                let mut insert = s.prepare("INSERT INTO one VALUES ($1, $2)").unwrap();
                let mut point = s.prepare("SELECT v FROM one WHERE id = $1").unwrap();
                let mut won = 0;
                for i in 0..200i64 {
                    let id = 1000 + (t % 2) * 200 + i;
                    let value = Value::Text(format!("w{t}"));
                    match collect(&mut s, &mut insert, &[Value::Integer(id), value.clone()]) {
                        Ok(_) => {
                            won += 1;
                            assert_eq!(
                                collect(&mut s, &mut point, &[Value::Integer(id)]).unwrap(),
                                [[value]]
                            );
                        }
                        Err(e) if e.code() == "23505" => {}
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: i64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(won, 400, "each of the 400 keys lands exactly once");
    assert_eq!(
        rows(
            s.query("SELECT count(*), count(DISTINCT id) FROM one WHERE id >= 1000")
                .unwrap()
        ),
        [[Value::Integer(400), Value::Integer(400)]]
    );
    assert_eq!(
        rows(s.query("SELECT v FROM one WHERE id = 7").unwrap()),
        [[Value::Text("single".into())]]
    );
}

/// With synced commits (`--sync`), a bulk insert waits for its group sync like any
/// commit and survives a reopen; a prepared point select (the row cache's reader) that
/// found a key absent sees the bulk write's row at once.
#[test]
fn bulk_inserts_are_durable_under_sync_and_point_reads_see_them_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let options = kvsql_engine::Options {
        durability: kvsql_engine::Durability::Sync,
        ..Default::default()
    };
    {
        let db = Database::open_with(dir.path(), options).unwrap();
        let mut s = db.session();
        s.query("CREATE TABLE d (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        s.query("INSERT INTO d VALUES (1, 'one')").unwrap();
        let mut point = s.prepare("SELECT v FROM d WHERE id = $1").unwrap();
        assert_eq!(
            collect(&mut s, &mut point, &[Value::Integer(1)]).unwrap(),
            [[Value::Text("one".into())]]
        );
        assert!(
            collect(&mut s, &mut point, &[Value::Integer(17)])
                .unwrap()
                .is_empty()
        );
        let values: Vec<String> = (0..32)
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let mut insert = s
            .prepare(&format!("INSERT INTO d VALUES {}", values.join(", ")))
            .unwrap();
        let params: Vec<Value> = (2..34i64)
            .flat_map(|id| [Value::Integer(id), Value::Text(format!("v{id}"))])
            .collect();
        collect(&mut s, &mut insert, &params).unwrap();
        assert_eq!(
            collect(&mut s, &mut point, &[Value::Integer(17)]).unwrap(),
            [[Value::Text("v17".into())]]
        );
    }
    let db = Database::open_with(dir.path(), options).unwrap();
    let mut s = db.session();
    assert_eq!(
        rows(s.query("SELECT count(*), max(v) FROM d").unwrap()),
        [[Value::Integer(33), Value::Text("v9".into())]]
    );
}

/// Bulk inserts whose ids are left out, into new tables from several sessions at once:
/// the first insert into a table reads its largest id (seeding the id counter) while
/// other bulk writes hold the commit gate and take ids. Every statement finishes.
#[test]
fn concurrent_bulk_inserts_with_generated_ids_into_new_tables_all_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    // The tables first (concurrent CREATE TABLEs conflict on the catalog, 40001).
    let mut setup = db.session();
    for t in 0..3 {
        for i in 0..30 {
            setup
                .query(&format!(
                    "CREATE TABLE g{t}_{i} (id INTEGER PRIMARY KEY, v TEXT)"
                ))
                .unwrap();
        }
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for t in 0..3 {
        let (db, done_tx) = (db.clone(), done_tx.clone());
        std::thread::spawn(move || {
            let mut s = db.session();
            for i in 0..30 {
                let table = format!("g{t}_{i}");
                let placeholders: Vec<String> = (1..=20).map(|p| format!("(${p})")).collect();
                let mut insert = s
                    .prepare(&format!(
                        "INSERT INTO {table} (v) VALUES {}",
                        placeholders.join(", ")
                    ))
                    .unwrap();
                let values: Vec<Value> = (0..20).map(|v| Value::Text(format!("r{v}"))).collect();
                collect(&mut s, &mut insert, &values).unwrap();
                collect(&mut s, &mut insert, &values).unwrap();
                let ids = rows(
                    s.query(&format!("SELECT count(*), min(id), max(id) FROM {table}"))
                        .unwrap(),
                );
                assert_eq!(
                    ids,
                    [[Value::Integer(40), Value::Integer(1), Value::Integer(40)]]
                );
            }
            done_tx.send(t).unwrap();
        });
    }
    for _ in 0..3 {
        done_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("a session is stuck: the id counters and the commit gate wait on each other");
    }
}

/// A prepared INSERT owns its values and moves each one its plan uses once into the
/// row; a value used twice, or inside an expression, is still read where it is used.
#[test]
fn prepared_inserts_fill_rows_from_parameters_used_once_or_more() {
    let db = Database::memory();
    let mut s = db.session();
    s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER)")
        .unwrap();
    let text = |s: &str| Value::Text(s.into());
    let run = |s: &mut kvsql_engine::Session, sql: &str, params: Vec<Value>| {
        let mut prepared = s.prepare(sql).unwrap();
        collect(s, &mut prepared, &params)
    };
    // Each parameter once, given straight as a value: moved.
    run(
        &mut s,
        "INSERT INTO t VALUES ($1, $2, $3), ($4, $5, 7)",
        vec![
            Value::Integer(1),
            text("one"),
            Value::Integer(10),
            Value::Integer(2),
            text("two"),
        ],
    )
    .unwrap();
    // $2 fills two rows.
    run(
        &mut s,
        "INSERT INTO t VALUES ($1, $2, NULL), ($3, $2, NULL)",
        vec![Value::Integer(3), text("shared"), Value::Integer(4)],
    )
    .unwrap();
    // Parameters inside expressions, beside one given straight.
    run(
        &mut s,
        "INSERT INTO t VALUES ($1 + 4, $2 || '!', $3)",
        vec![Value::Integer(1), text("five"), Value::Integer(50)],
    )
    .unwrap();
    // RETURNING reads a parameter the row also takes.
    let returned = run(
        &mut s,
        "INSERT INTO t VALUES ($1, $2, NULL) RETURNING v, $2",
        vec![Value::Integer(6), text("six")],
    )
    .unwrap();
    assert_eq!(returned, [[text("six"), text("six")]]);
    // ON CONFLICT reads a parameter the row also takes.
    run(
        &mut s,
        "INSERT INTO t VALUES ($1, $2, NULL) ON CONFLICT (id) DO UPDATE SET v = $2",
        vec![Value::Integer(1), text("uno")],
    )
    .unwrap();
    // A statement that fails leaves nothing behind, and the same prepared statement
    // runs again with new values.
    let mut prepared = s.prepare("INSERT INTO t VALUES ($1, $2, NULL)").unwrap();
    let err = collect(&mut s, &mut prepared, &[Value::Integer(7), Value::Null]).unwrap_err();
    assert_eq!(err.code(), "23502", "{err}");
    collect(&mut s, &mut prepared, &[Value::Integer(7), text("seven")]).unwrap();
    let got = rows(s.query("SELECT id, v, n FROM t ORDER BY id").unwrap());
    let row = |id: i64, v: &str, n: Option<i64>| {
        vec![
            Value::Integer(id),
            text(v),
            n.map_or(Value::Null, Value::Integer),
        ]
    };
    assert_eq!(
        got,
        [
            row(1, "uno", Some(10)),
            row(2, "two", Some(7)),
            row(3, "shared", None),
            row(4, "shared", None),
            row(5, "five!", Some(50)),
            row(6, "six", None),
            row(7, "seven", None),
        ]
    );
}

/// `?` parameters are numbered in the order they are written, common table expressions
/// first, however often those are named; `$n` in them works prepared too.
#[test]
fn question_marks_in_common_table_expressions_number_in_written_order() {
    let db = Database::memory();
    let mut s = db.session();
    s.query("CREATE TABLE t (id INTEGER PRIMARY KEY, tag TEXT)")
        .unwrap();
    s.query("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'a'), (4, 'c')")
        .unwrap();
    let found = s
        .query_with(
            "WITH x AS (SELECT id FROM t WHERE tag = ?) \
             SELECT a.id FROM x a, x b WHERE a.id > b.id AND a.id < ?",
            &[Value::Text("a".into()), Value::Integer(10)],
        )
        .unwrap();
    assert_eq!(rows(found), vec![vec![Value::Integer(3)]]);
    let mut prepared = s
        .prepare(
            "WITH x AS (SELECT id FROM t WHERE tag <> ?) \
             UPDATE t SET tag = ? WHERE id IN (SELECT id FROM x) RETURNING id",
        )
        .unwrap();
    let updated = collect(
        &mut s,
        &mut prepared,
        &[Value::Text("a".into()), Value::Text("z".into())],
    )
    .unwrap();
    assert_eq!(
        updated,
        vec![vec![Value::Integer(2)], vec![Value::Integer(4)]]
    );
    let mut count = s
        .prepare("WITH z AS (SELECT * FROM t WHERE tag = $1) SELECT count(*) FROM z")
        .unwrap();
    assert_eq!(
        collect(&mut s, &mut count, &[Value::Text("z".into())]).unwrap(),
        vec![vec![Value::Integer(2)]]
    );
}
