//! End to end through the `kvsql` shell as a plain process: -c, -f, piped input, output
//! formats, meta commands, variables and \copy. (Interactive use, through a terminal, is
//! in repl_terminal.rs.)

use std::path::Path;

use kvsql_tests::{TestServer, run};

#[test]
fn dash_c_creates_fills_queries_updates_and_deletes() {
    let server = TestServer::start();
    let (status, out, err) = run(
        server.kvsql().args([
            "-c",
            "CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)",
            "-c",
            "INSERT INTO fruit VALUES (1, 'apple', 0.5), (2, 'banana', 0.25), (10, 'cherry', NULL)",
            "-c",
            "UPDATE fruit SET price = 3 WHERE id = 10; DELETE FROM fruit WHERE name = 'banana'",
            "-c",
            "SELECT id, name, price FROM fruit ORDER BY id",
        ]),
        "",
    );
    assert!(status.success(), "{status:?}\n{err}");
    assert_eq!(
        out,
        "\
CREATE TABLE
INSERT 3
UPDATE 1
DELETE 1
 id |  name  | price
----+--------+-------
  1 | apple  |   0.5
 10 | cherry |   3.0
(2 rows)
"
    );
    assert_eq!(err, "");
}

#[test]
fn piped_statements_split_on_semicolons_outside_strings_and_comments() {
    let server = TestServer::start();
    let script = "\
-- a comment; with a semicolon
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'one; two'), /* ; */ (2, 'it''s');
SELECT body FROM notes
  WHERE id >= 1
  ORDER BY id;
";
    let (status, out, err) = run(&mut server.kvsql(), script);
    assert!(status.success(), "{err}");
    assert_eq!(
        out,
        "CREATE TABLE\nINSERT 2\n   body\n----------\n one; two\n it's\n(2 rows)\n"
    );
}

#[test]
fn a_syntax_error_is_reported_locally_and_nothing_runs() {
    let server = TestServer::start();
    let script =
        "CREATE TABLE never (id INTEGER PRIMARY KEY);\nSELECT * FROM never;\n  SELEC oops;\n";
    let (status, out, err) = run(&mut server.kvsql(), script);
    assert!(!status.success());
    assert_eq!(out, "");
    assert!(
        err.starts_with("ERROR 42601: syntax error at line 3, column 3"),
        "{err}"
    );
    // Nothing was sent: the table from the first line does not exist.
    let (status, _, err) = run(server.kvsql().args(["-c", "SELECT * FROM never"]), "");
    assert!(!status.success());
    assert!(err.contains("ERROR 42P01: no such table: never"), "{err}");
}

#[test]
fn with_no_bail_a_syntax_error_fails_only_its_statement() {
    let server = TestServer::start();
    let script = "CREATE TABLE kept (id INTEGER PRIMARY KEY);\nINSERT INTO kept VALUES (1); SELEC oops;\n\
                  INSERT INTO kept VALUES (2);\n  SELECT * FROM WHERE;\nSELECT count(*) FROM kept;\n";
    let (status, out, err) = run(
        server.kvsql().args(["--no-bail", "--format", "csv"]),
        script,
    );
    assert_eq!(status.code(), Some(1), "{err}");
    // Both INSERTs ran (CSV prints no command tags).
    assert_eq!(out, "count(*)\n2\n");
    let errors: Vec<&str> = err.lines().collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(
        errors[0].starts_with("ERROR 42601: syntax error at line 2, column 30"),
        "{err}"
    );
    assert!(
        errors[1].starts_with("ERROR 42601: syntax error at line 4, column "),
        "{err}"
    );
    // The same from a file, and with -c.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.sql");
    std::fs::write(&file, "SELEC 1;\nINSERT INTO kept VALUES (3);\n").unwrap();
    let (status, _, err) = run(server.kvsql().arg("--no-bail").arg("-f").arg(&file), "");
    assert_eq!(status.code(), Some(1));
    assert!(
        err.starts_with("ERROR 42601: syntax error at line 1, column 1"),
        "{err}"
    );
    let (status, out, _) = run(
        server
            .kvsql()
            .args(["--no-bail", "-c", "SELEC 2; SELECT max(id) FROM kept"]),
        "",
    );
    assert_eq!(status.code(), Some(1));
    assert!(out.contains("       3\n"), "{out}");
}

#[test]
fn the_first_server_error_stops_the_script_with_a_failure_status() {
    let server = TestServer::start();
    let script = "CREATE TABLE a (id INTEGER PRIMARY KEY);\nINSERT INTO missing VALUES (1);\nINSERT INTO a VALUES (1);\n";
    let (status, out, err) = run(&mut server.kvsql(), script);
    assert_eq!(status.code(), Some(1));
    assert_eq!(out, "CREATE TABLE\n");
    assert!(err.contains("ERROR 42P01: no such table: missing"), "{err}");
    let (_, out, _) = run(server.kvsql().args(["-c", "SELECT id FROM a"]), "");
    assert!(
        out.contains("(0 rows)"),
        "the statement after the error ran: {out}"
    );

    let (status, _, err) = run(
        server
            .kvsql()
            .args(["-c", "SELECT sum(id) OVER w FROM a WINDOW w AS ()"]),
        "",
    );
    assert!(!status.success());
    assert!(
        err.contains("ERROR 0A000: not supported: named windows"),
        "{err}"
    );
}

#[test]
fn connection_refused_is_explained() {
    let server = TestServer::start();
    let mut command = server.kvsql();
    // A port nothing listens on: take the server's and stop the server.
    drop(server);
    let (status, _, err) = run(command.args(["-c", "SELECT 1"]), "");
    assert!(!status.success());
    assert!(err.contains("cannot connect to 127.0.0.1:"), "{err}");
}

#[test]
fn writes_with_returning_print_their_rows_then_the_count() {
    let server = TestServer::start();
    let script = "CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO k (v) VALUES ('x'), ('y') RETURNING id, v;\n";
    let (status, out, err) = run(&mut server.kvsql(), script);
    assert!(status.success(), "{err}");
    assert_eq!(
        out,
        "CREATE TABLE\n id | v\n----+---\n  1 | x\n  2 | y\n(2 rows)\nINSERT 2\n"
    );
}

#[test]
fn describe_and_di_show_indexes_from_the_catalog() {
    let server = TestServer::start();
    let (status, _, err) = run(
        server.kvsql().args([
            "-c",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT UNIQUE, city TEXT)",
            "-c",
            "CREATE INDEX t_city ON t (city)",
        ]),
        "",
    );
    assert!(status.success(), "{err}");
    let (status, out, err) = run(server.kvsql().args(["-c", "\\d t"]), "");
    assert!(status.success(), "{err}");
    assert!(out.contains(" email  | TEXT"), "{out}");
    assert!(
        out.contains("Indexes:\n    \"t_email_key\" UNIQUE (email)\n    \"t_city\" (city)\n"),
        "{out}"
    );
    let (status, out, _) = run(server.kvsql().args(["-c", "\\di"]), "");
    assert!(status.success());
    assert_eq!(out, "t_email_key on t (email) UNIQUE\nt_city on t (city)\n");
    let (status, _, err) = run(server.kvsql().args(["-c", "\\nope"]), "");
    assert!(!status.success());
    assert!(err.contains("unknown command \\nope"), "{err}");
}

#[test]
fn output_formats_print_machine_readable_results() {
    let server = TestServer::start();
    let (status, _, err) = run(
        server.kvsql().args([
            "-c",
            "CREATE TABLE f (id INTEGER PRIMARY KEY, name TEXT, score REAL, ok BOOLEAN)",
            "-c",
            "INSERT INTO f VALUES (1, 'ann, \"the\" first', 2.5, TRUE), (2, NULL, NULL, FALSE)",
        ]),
        "",
    );
    assert!(status.success(), "{err}");
    let query = "SELECT * FROM f ORDER BY id";
    // Each format's output is kept in tests/expected/formats/FORMAT.out.
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("expected/formats");
    for (format, flags) in [
        ("table", &[][..]),
        ("expanded", &["--expanded"][..]),
        ("csv", &["--format", "csv"][..]),
        ("json", &["--format", "json"][..]),
        ("markdown", &["--format", "markdown"][..]),
    ] {
        let want = std::fs::read_to_string(expected.join(format!("{format}.out"))).unwrap();
        let (status, out, err) = run(server.kvsql().args(flags).args(["-c", query]), "");
        assert!(status.success(), "{format}: {err}");
        assert_eq!(out, want, "{format}");
    }
    // \format switches within a script; writes print no tag in CSV.
    let (status, out, _) = run(
        server.kvsql().args([
            "-c",
            "\\format csv",
            "-c",
            "UPDATE f SET score = 1",
            "-c",
            "SELECT score FROM f ORDER BY id",
        ]),
        "",
    );
    assert!(status.success());
    assert_eq!(out, "Output format is csv.\nscore\n1.0\n1.0\n");
}

#[test]
fn files_run_in_order_and_no_bail_goes_on_with_a_failure_status() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.sql");
    let second = dir.path().join("second.sql");
    std::fs::write(
        &first,
        "CREATE TABLE n (id INTEGER PRIMARY KEY);\nINSERT INTO n VALUES (1);\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        "INSERT INTO nope VALUES (2);\nINSERT INTO n VALUES (3);\n",
    )
    .unwrap();
    let file_args = |extra: &[&str]| {
        let mut cmd = server.kvsql();
        cmd.args(extra).arg("-f").arg(&first).arg("-f").arg(&second);
        cmd
    };
    // Stops at the first failure: 3 is never inserted.
    let (status, _, err) = run(&mut file_args(&[]), "");
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("no such table: nope"), "{err}");
    let (_, out, _) = run(
        server
            .kvsql()
            .args(["--format", "csv", "-c", "SELECT id FROM n"]),
        "",
    );
    assert_eq!(out, "id\n1\n");
    // --no-bail goes on, and still fails overall.
    let (status, _, _) = run(
        server
            .kvsql()
            .args(["-c", "DROP TABLE n", "--no-bail"])
            .arg("-f")
            .arg(&first)
            .arg("-f")
            .arg(&second),
        "",
    );
    assert_eq!(status.code(), Some(1));
    let (_, out, _) = run(
        server
            .kvsql()
            .args(["--format", "csv", "-c", "SELECT id FROM n ORDER BY id"]),
        "",
    );
    assert_eq!(out, "id\n1\n3\n");
    // A missing file is an error naming it.
    let (status, _, err) = run(server.kvsql().args(["-f", "/nonexistent/x.sql"]), "");
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("cannot read /nonexistent/x.sql"), "{err}");
}

/// Runs `kvsql` with `args` against `server`, expecting success; returns its output.
fn kvsql_ok(server: &TestServer, args: &[&str], stdin: &str) -> String {
    let (status, out, err) = run(server.kvsql().args(args), stdin);
    assert!(status.success(), "kvsql {args:?} failed: {err}\n{out}");
    out
}

#[test]
fn variables_are_substituted_outside_strings() {
    let server = TestServer::start();
    kvsql_ok(
        &server,
        &[
            "-c",
            "CREATE TABLE v (id INTEGER PRIMARY KEY, name TEXT)",
            "-c",
            "INSERT INTO v VALUES (1, 'ann'), (2, 'o''brien')",
        ],
        "",
    );
    let out = kvsql_ok(
        &server,
        &[
            "--set",
            "id=2",
            "--format",
            "csv",
            "-c",
            "SELECT name, ':id' AS literal FROM v WHERE id = :id",
        ],
        "",
    );
    assert_eq!(out, "name,literal\no'brien,:id\n");
    // \set in a script, a quoted value, and :'name' as a string literal.
    let script = "\\set who 'o''brien'\n\\format csv\nSELECT id FROM v WHERE name = :'who';\n\\set\n\\unset who\nSELECT :'who' AS kept;\n";
    let (status, out, err) = run(&mut server.kvsql(), script);
    assert!(!status.success(), "an unknown variable is left as written");
    assert_eq!(
        out, "Output format is csv.\nid\n2\nwho = 'o'brien'\n",
        "{err}"
    );
}

#[test]
fn quiet_prints_results_but_no_tags_or_confirmations() {
    let server = TestServer::start();
    let out = kvsql_ok(
        &server,
        &[
            "--quiet",
            "-c",
            "CREATE TABLE q (id INTEGER PRIMARY KEY)",
            "-c",
            "INSERT INTO q VALUES (1), (2)",
            "-c",
            "\\timing off",
            "-c",
            "SELECT id FROM q ORDER BY id",
        ],
        "",
    );
    assert_eq!(out, " id\n----\n  1\n  2\n(2 rows)\n");
}

#[test]
fn output_redirection_include_and_reconnect() {
    let server = TestServer::start();
    let other = TestServer::start();
    kvsql_ok(
        &other,
        &["-c", "CREATE TABLE elsewhere (id INTEGER PRIMARY KEY)"],
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.txt");
    let included = dir.path().join("included.sql");
    std::fs::write(
        &included,
        "CREATE TABLE inc (id INTEGER PRIMARY KEY);\nINSERT INTO inc VALUES (7);\n",
    )
    .unwrap();
    let script = format!(
        "\\i {}\n\\o {}\nSELECT id AS to_file FROM inc;\n\\o\nSELECT id + 1 AS to_screen FROM inc;\n\\c 127.0.0.1:{}\nSELECT count(*) AS tables FROM elsewhere;\n",
        included.display(),
        saved.display(),
        other.addr().port()
    );
    let out = kvsql_ok(&server, &[], &script);
    assert_eq!(
        out,
        format!(
            "CREATE TABLE\nINSERT 1\n to_screen\n-----------\n         8\n(1 row)\n\
             Connected to 127.0.0.1:{} (server {}, session 2).\n tables\n--------\n      0\n(1 row)\n",
            other.addr().port(),
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        " to_file\n---------\n       7\n(1 row)\n"
    );
    // A failed reconnect keeps the session it had.
    let (status, out, err) = run(
        server.kvsql().args([
            "--no-bail",
            "-c",
            "\\c 127.0.0.1:1",
            "-c",
            "SELECT id FROM inc",
        ]),
        "",
    );
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("cannot connect to 127.0.0.1:1"), "{err}");
    assert!(err.contains("still connected to"), "{err}");
    assert!(out.contains("(1 row)"), "{out}");
}

/// A CSV of `rows` people with a header line; `bad` replaces the score on one line.
fn people_csv(rows: usize, bad: Option<(usize, &str)>) -> String {
    let mut csv = String::from("id,name,score\n");
    for id in 1..=rows {
        let line = id + 1;
        let score = match bad {
            Some((at, text)) if at == line => text.to_string(),
            _ => format!("{}.5", id % 10),
        };
        let name = match id % 3 {
            0 => format!("\"smith, {id}\""),
            1 => String::new(),
            _ => format!("p{id}"),
        };
        csv.push_str(&format!("{id},{name},{score}\n"));
    }
    csv
}

fn count(server: &TestServer, table: &str) -> String {
    kvsql_ok(
        server,
        &[
            "--format",
            "csv",
            "-c",
            &format!("SELECT count(*) AS n FROM {table}"),
        ],
        "",
    )
}

#[test]
fn copy_loads_csv_in_whole_batches_and_reports_the_first_bad_line() {
    let server = TestServer::start();
    kvsql_ok(
        &server,
        &[
            "-c",
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL NOT NULL)",
        ],
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, people_csv(2500, None)).unwrap();
    let out = kvsql_ok(
        &server,
        &[
            "-c",
            &format!("\\copy people FROM '{}' HEADER", good.display()),
        ],
        "",
    );
    assert_eq!(out, "COPY 2500\n");
    assert_eq!(count(&server, "people"), "n\n2500\n");
    let out = kvsql_ok(
        &server,
        &[
            "--format",
            "csv",
            "-c",
            "SELECT id, name, score FROM people WHERE id IN (1, 2, 3) ORDER BY id",
        ],
        "",
    );
    // An empty field is NULL; quotes and commas come through.
    assert_eq!(out, "id,name,score\n1,,1.5\n2,p2,2.5\n3,\"smith, 3\",3.5\n");

    // A bad value on line 1,503 (in the second batch of 1,000 rows): the first batch
    // stays, nothing of the second is stored.
    // Emptied by key (a bulk write), the count still reported.
    assert_eq!(
        kvsql_ok(&server, &["-c", "DELETE FROM people"], ""),
        "DELETE 2500\n"
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, people_csv(2500, Some((1503, "lots")))).unwrap();
    let (status, out, err) = run(
        server.kvsql().args([
            "-c",
            &format!("\\copy people FROM '{}' HEADER", bad.display()),
        ]),
        "",
    );
    assert_eq!(status.code(), Some(1));
    assert_eq!(out, "");
    assert!(
        err.contains("line 1503, column score: \"lots\" is not a REAL"),
        "{err}"
    );
    assert!(err.contains("1000 rows were copied before it"), "{err}");
    assert_eq!(count(&server, "people"), "n\n1000\n");

    // A row the server refuses (a duplicate key) fails its whole batch the same way.
    kvsql_ok(&server, &["-c", "DELETE FROM people WHERE id > 1"], "");
    let duplicate = dir.path().join("duplicate.csv");
    std::fs::write(&duplicate, "2,a,1\n3,b,2\n1,again,3\n4,c,4\n").unwrap();
    let (status, _, err) = run(
        server.kvsql().args([
            "-c",
            &format!(
                "\\copy people (id, name, score) FROM '{}'",
                duplicate.display()
            ),
        ]),
        "",
    );
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("ERROR 23505"), "{err}");
    assert!(err.contains("in the batch of lines 1-4"), "{err}");
    assert_eq!(count(&server, "people"), "n\n1\n");

    // Wrong field counts and unknown columns are explained.
    std::fs::write(&duplicate, "5,a\n").unwrap();
    let (_, _, err) = run(
        server.kvsql().args([
            "-c",
            &format!("\\copy people FROM '{}'", duplicate.display()),
        ]),
        "",
    );
    assert!(err.contains("line 1: expected 3 fields, found 2"), "{err}");
    let (_, _, err) = run(
        server.kvsql().args([
            "-c",
            &format!("\\copy people (id, nope) FROM '{}'", duplicate.display()),
        ]),
        "",
    );
    assert!(err.contains("table people has no column \"nope\""), "{err}");

    assert_eq!(
        kvsql_ok(&server, &["-c", "TRUNCATE people"], ""),
        "TRUNCATE TABLE\n"
    );
    assert_eq!(count(&server, "people"), "n\n0\n");
}

#[test]
fn copy_saves_query_results_and_tables_that_load_back_the_same() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.csv");
    std::fs::write(&source, people_csv(1200, None)).unwrap();
    let saved = dir.path().join("saved.csv");
    let some = dir.path().join("some.csv");
    let out = kvsql_ok(
        &server,
        &[
            "-c",
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL)",
            "-c",
            "CREATE TABLE copy2 (id INTEGER PRIMARY KEY, name TEXT, score REAL)",
            "-c",
            &format!("\\copy people FROM '{}' HEADER", source.display()),
            "-c",
            "INSERT INTO people VALUES (5000, '', NULL), (5001, ' pad ', -0.25)",
            "-c",
            &format!("\\copy people TO '{}'", saved.display()),
            "-c",
            &format!("\\copy copy2 FROM '{}'", saved.display()),
            "-c",
            &format!(
                "\\copy (SELECT id, name FROM people WHERE id IN (3, 4, 5000, 5001) ORDER BY id) TO '{}' WITH (FORMAT csv, HEADER)",
                some.display()
            ),
        ],
        "",
    );
    assert_eq!(
        out,
        "CREATE TABLE\nCREATE TABLE\nCOPY 1200\nINSERT 2\nCOPY 1202\nCOPY 1202\nCOPY 4\n"
    );
    assert_eq!(
        std::fs::read_to_string(&some).unwrap(),
        "id,name\n3,\"smith, 3\"\n4,\n5000,\"\"\n5001,\" pad \"\n"
    );
    // Every row came back exactly, NULLs and empty strings apart.
    let out = kvsql_ok(
        &server,
        &[
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS differ FROM (SELECT * FROM people EXCEPT SELECT * FROM copy2) AS x",
            "-c",
            "SELECT count(*) AS nulls FROM copy2 WHERE name IS NULL",
        ],
        "",
    );
    assert_eq!(out, "differ\n0\nnulls\n400\n");
}
