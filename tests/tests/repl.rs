//! End to end through the `kvsql` shell as a plain process: -c, -f, piped input, output
//! formats, meta commands, variables and \copy. (Interactive use, through a terminal, is
//! in repl_terminal.rs.)

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
            .args(["-c", "SELECT 1 FROM a RIGHT JOIN a AS b ON TRUE"]),
        "",
    );
    assert!(!status.success());
    assert!(
        err.contains("ERROR 0A000: not supported: Right joins"),
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
    let expected = [
        (
            "csv",
            "id,name,score,ok\n1,\"ann, \"\"the\"\" first\",2.5,true\n2,,,false\n",
        ),
        (
            "json",
            "[{\"id\":1,\"name\":\"ann, \\\"the\\\" first\",\"score\":2.5,\"ok\":true},\n \
             {\"id\":2,\"name\":null,\"score\":null,\"ok\":false}]\n",
        ),
        (
            "markdown",
            "| id | name | score | ok |\n|---|---|---|---|\n| 1 | ann, \"the\" first | 2.5 | true |\n\
             | 2 | NULL | NULL | false |\n",
        ),
    ];
    for (format, want) in expected {
        let (status, out, err) = run(server.kvsql().args(["--format", format, "-c", query]), "");
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
