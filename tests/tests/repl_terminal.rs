//! The `kvsql` shell used interactively: the real binary in a pseudo-terminal against a
//! real server, typed at as a person would: waiting for each new prompt before typing the
//! next line. (Typing ahead works too, see `lines_pasted_at_once_all_run`, but not after
//! Ctrl-C, which like a terminal's interrupt drops what was typed ahead.)

use std::path::Path;
use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{ControlCode, Expect, Regex, Session};
use kvsql_tests::{TestServer, run};

const TAB: &str = "\t";
const UP: &str = "\x1b[A";

/// A table `d` of the digits 0-9, for joins that make many rows.
const DIGITS: [&str; 2] = [
    "CREATE TABLE d (x INTEGER PRIMARY KEY)",
    "INSERT INTO d VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
];

/// Starts `kvsql` in a terminal against `server`, with its history in `history`.
fn open_shell(server: &TestServer, history: &Path, env: &[(&str, &str)]) -> OsSession {
    let mut command = server.kvsql();
    command
        .env("KVSQL_HISTORY", history)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .env_remove("PAGER");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut shell = Session::spawn(command).expect("spawn kvsql in a pty");
    shell.set_expect_timeout(Some(Duration::from_secs(20)));
    shell.expect("Type \\help for help.").unwrap();
    shell
}

/// Waits for a new `prompt`, then types `line` and Enter.
///
/// A new prompt starts a line: the line editor redraws the prompt and the line being
/// typed after every key, so the prompt alone also matches the echo of the line just
/// sent, before the shell has even read its end.
fn type_at(shell: &mut OsSession, prompt: &str, line: &str) {
    let escaped: String = prompt
        .chars()
        .flat_map(|c| {
            let escape = "\\()[]{}.*+?|^$".contains(c).then_some('\\');
            escape.into_iter().chain([c])
        })
        .collect();
    shell
        .expect(Regex(format!("\n[^\n]*{escaped}")))
        .unwrap_or_else(|e| panic!("no new prompt {prompt:?} before typing {line:?}: {e}"));
    shell.send_line(line).unwrap();
}

fn at_prompt(shell: &mut OsSession, line: &str) {
    type_at(shell, "kvsql> ", line);
}

/// Creates tables with -c before a session starts.
fn setup(server: &TestServer, statements: &[&str]) {
    let mut command = server.kvsql();
    for statement in statements {
        command.args(["-c", statement]);
    }
    let (status, _, err) = run(&mut command, "");
    assert!(status.success(), "{err}");
}

#[test]
fn interactive_session_in_a_terminal() {
    let server = TestServer::start();
    let temp = tempfile::tempdir().unwrap();
    let history = temp.path().join("history");
    let mut shell = open_shell(&server, &history, &[]);
    at_prompt(
        &mut shell,
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);",
    );
    shell.expect("CREATE TABLE").unwrap();

    // A statement over two lines: the continuation prompt says more is expected.
    at_prompt(&mut shell, "INSERT INTO t VALUES (1, 'x;y'),");
    type_at(&mut shell, "kvsql-> ", "(2, 'z');");
    shell.expect("INSERT 2").unwrap();

    // An open string and an open parenthesis show in the prompt.
    at_prompt(&mut shell, "SELECT 'two");
    type_at(&mut shell, "kvsql'> ", "lines' AS s, (1");
    type_at(&mut shell, "kvsql(> ", "+ 2) AS n;");
    shell.expect("two\r\nlines").unwrap();
    shell.expect("(1 row)").unwrap();

    at_prompt(&mut shell, "SELECT b FROM t ORDER BY a;");
    shell.expect("\r\n x;y\r\n z\r\n(2 rows)").unwrap();

    // Errors keep the session going.
    at_prompt(&mut shell, "SELEC 1;");
    shell.expect("ERROR 42601").unwrap();
    at_prompt(&mut shell, "SELECT * FROM nope;");
    shell.expect("ERROR 42P01").unwrap();

    // Ctrl-C clears the line being typed, and every line of an unfinished statement.
    shell.expect("kvsql> ").unwrap();
    shell.send("SELECT 'abandoned'").unwrap();
    shell.send(ControlCode::EndOfText).unwrap();
    at_prompt(&mut shell, "SELECT 'also abandoned',");
    shell.expect("kvsql-> ").unwrap();
    shell.send(ControlCode::EndOfText).unwrap();
    at_prompt(&mut shell, "SELECT 40 + 2 AS answer;");
    shell.expect(" 42\r\n(1 row)").unwrap();

    at_prompt(&mut shell, "\\help");
    shell.expect("Meta commands").unwrap();
    at_prompt(&mut shell, "\\dt");
    shell.expect(" t\r\n(1 row)").unwrap();
    at_prompt(&mut shell, "\\d t");
    shell.expect("primary_key").unwrap();
    shell.expect(" a      | INTEGER").unwrap();
    at_prompt(&mut shell, "\\timing on");
    shell.expect("Timing is on.").unwrap();
    at_prompt(&mut shell, "SELECT 1;");
    shell.expect("Time: ").unwrap();
    shell.expect(" ms").unwrap();
    at_prompt(&mut shell, "\\conninfo");
    shell
        .expect(format!("Connected to {} as session", server.addr()).as_str())
        .unwrap();
    // Ctrl-D at an empty prompt ends the session.
    shell.expect("kvsql> ").unwrap();
    shell.send(ControlCode::EndOfTransmission).unwrap();
    shell.expect(expectrl::Eof).unwrap();

    let saved = std::fs::read_to_string(&history).expect("history file written");
    assert!(
        saved.contains("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);"),
        "{saved}"
    );
    assert!(!saved.contains("abandoned"), "{saved}");
}

/// Lines pasted into the terminal arrive in one read; every one of them runs, in order,
/// not only the first.
#[test]
fn lines_pasted_at_once_all_run() {
    let server = TestServer::start();
    let temp = tempfile::tempdir().unwrap();
    let mut shell = open_shell(&server, &temp.path().join("history"), &[]);
    shell.expect("kvsql> ").unwrap();
    shell
        .send("CREATE TABLE p (k INTEGER PRIMARY KEY);\nINSERT INTO p VALUES (1),\n(2);\nSELECT count(*) AS pasted FROM p;\n")
        .unwrap();
    shell.expect("CREATE TABLE").unwrap();
    shell.expect("INSERT 2").unwrap();
    shell.expect(" pasted\r\n").unwrap();
    shell.expect(" 2\r\n(1 row)").unwrap();
    at_prompt(&mut shell, "\\q");
    shell.expect(expectrl::Eof).unwrap();
}

#[test]
fn tab_completes_keywords_tables_columns_and_meta_commands() {
    let server = TestServer::start();
    setup(
        &server,
        &[
            "CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT, price REAL)",
            "INSERT INTO fruit VALUES (1, 'apple', 0.5)",
        ],
    );
    let temp = tempfile::tempdir().unwrap();
    let mut shell = open_shell(&server, &temp.path().join("history"), &[]);

    // Keyword, column of the table named later in the line, and table name.
    shell.expect("kvsql> ").unwrap();
    for piece in ["sel", " na", ", pr", " fr", " fr", " wher", " fruit.i"] {
        shell.send(piece).unwrap();
        shell.send(TAB).unwrap();
    }
    shell.send_line(" = 1;").unwrap();
    shell.expect(" name  | price\r\n").unwrap();
    shell.expect(" apple |   0.5\r\n(1 row)").unwrap();

    // A table created in the session is offered right away.
    at_prompt(
        &mut shell,
        "CREATE TABLE zebra_stripes (n INTEGER PRIMARY KEY);",
    );
    shell.expect("CREATE TABLE").unwrap();
    shell.expect("kvsql> ").unwrap();
    shell.send("SELECT count(*) AS stripes FROM zeb").unwrap();
    shell.send(TAB).unwrap();
    shell.send_line(";").unwrap();
    shell.expect(" stripes\r\n").unwrap();
    shell.expect("(1 row)").unwrap();

    // Meta commands after a backslash.
    shell.expect("kvsql> ").unwrap();
    shell.send("\\connin").unwrap();
    shell.send(TAB).unwrap();
    shell.send_line("").unwrap();
    shell.expect("Connected to").unwrap();
    at_prompt(&mut shell, "\\q");
    shell.expect(expectrl::Eof).unwrap();
}

#[test]
fn keywords_strings_and_numbers_are_coloured_unless_no_color() {
    let server = TestServer::start();
    let temp = tempfile::tempdir().unwrap();
    let mut shell = open_shell(&server, &temp.path().join("history"), &[]);
    at_prompt(&mut shell, "SELECT 'txt', 7;");
    // The echo of the line as typed: keyword bold blue, string green, number yellow.
    shell.expect("\x1b[1;34mSELECT\x1b[0m").unwrap();
    shell.expect("\x1b[32m'txt'\x1b[0m").unwrap();
    shell.expect("\x1b[33m7\x1b[0m").unwrap();
    shell.expect("(1 row)").unwrap();
    at_prompt(&mut shell, "\\q");
    shell.expect(expectrl::Eof).unwrap();

    let mut plain = open_shell(&server, &temp.path().join("history"), &[("NO_COLOR", "1")]);
    at_prompt(&mut plain, "SELECT 'txt', 7;");
    let echoed = plain.expect("(1 row)").unwrap();
    let text = String::from_utf8_lossy(echoed.before()).into_owned();
    assert!(text.contains("SELECT 'txt', 7;"), "{text:?}");
    assert!(!text.contains("\x1b[1;34m"), "{text:?}");
}

#[test]
fn ctrl_c_cancels_the_running_statement_and_keeps_the_session() {
    let server = TestServer::start();
    setup(&server, &DIGITS);
    let temp = tempfile::tempdir().unwrap();
    let mut shell = open_shell(&server, &temp.path().join("history"), &[]);
    at_prompt(&mut shell, "BEGIN;");
    at_prompt(&mut shell, "INSERT INTO d VALUES (10);");
    shell.expect("INSERT 1").unwrap();
    // 10^12 rows to count (joins of rows held in memory): it runs until cancelled.
    at_prompt(
        &mut shell,
        "SELECT count(*) FROM d a, d b, d c, d e, d f, d g, d h, d i, d j, d k, d l, d m;",
    );
    std::thread::sleep(Duration::from_millis(700));
    shell.send(ControlCode::EndOfText).unwrap();
    shell.expect("Cancel request sent.").unwrap();
    shell.expect("ERROR 57014").unwrap();
    // The session is still there; as after any error, its transaction must be rolled
    // back, and then it goes on.
    at_prompt(&mut shell, "SELECT count(*) AS n FROM d;");
    shell.expect("ERROR 25P02").unwrap();
    at_prompt(&mut shell, "ROLLBACK;");
    shell.expect("ROLLBACK").unwrap();
    at_prompt(&mut shell, "SELECT count(*) AS n FROM d;");
    shell.expect("\r\n 10\r\n(1 row)").unwrap();
    at_prompt(&mut shell, "\\q");
    shell.expect(expectrl::Eof).unwrap();
}

#[test]
fn history_is_kept_across_sessions() {
    let server = TestServer::start();
    let temp = tempfile::tempdir().unwrap();
    let history = temp.path().join("history");
    let mut first = open_shell(&server, &history, &[]);
    at_prompt(&mut first, "SELECT 'from the first session' AS said;");
    first.expect("(1 row)").unwrap();
    at_prompt(&mut first, "\\q");
    first.expect(expectrl::Eof).unwrap();

    let mut second = open_shell(&server, &history, &[]);
    second.expect("kvsql> ").unwrap();
    // Up arrow: \q, up again: the statement.
    second.send(UP).unwrap();
    second.send(UP).unwrap();
    second.send_line("").unwrap();
    second.expect(" from the first session\r\n(1 row)").unwrap();
    // Typing the start of a remembered statement shows the rest as a grey hint, which
    // the Right arrow takes.
    second.expect("kvsql> ").unwrap();
    second.send("SELECT 'from").unwrap();
    second
        .expect("\x1b[90m the first session' AS said;\x1b[0m")
        .unwrap();
    second.send("\x1b[C").unwrap();
    second.send_line("").unwrap();
    second.expect(" from the first session\r\n(1 row)").unwrap();
    at_prompt(&mut second, "\\q");
    second.expect(expectrl::Eof).unwrap();
}

#[test]
fn a_pager_shows_tall_results_until_turned_off() {
    let server = TestServer::start();
    setup(&server, &DIGITS);
    let temp = tempfile::tempdir().unwrap();
    let pager = "sed 's/^/paged:/'";
    let mut shell = open_shell(
        &server,
        &temp.path().join("history"),
        &[("PAGER", pager), ("LINES", "24")],
    );
    // 100 rows: taller than the terminal, so they go through $PAGER.
    at_prompt(
        &mut shell,
        "SELECT a.x * 10 + b.x AS n FROM d a, d b ORDER BY n;",
    );
    shell.expect("paged: 99\r\n").unwrap();
    shell.expect("paged:(100 rows)").unwrap();
    // Short results print directly.
    at_prompt(&mut shell, "SELECT 1 AS one;");
    shell.expect("\r\n-----\r\n   1\r\n(1 row)").unwrap();
    at_prompt(&mut shell, "\\pager off");
    shell.expect("Pager is off.").unwrap();
    at_prompt(
        &mut shell,
        "SELECT a.x * 10 + b.x AS n FROM d a, d b ORDER BY n;",
    );
    shell.expect("\r\n 99\r\n(100 rows)").unwrap();
    at_prompt(&mut shell, "\\q");
    shell.expect(expectrl::Eof).unwrap();
}

#[test]
fn copy_shows_progress_on_a_terminal() {
    let server = TestServer::start();
    setup(
        &server,
        &["CREATE TABLE nums (n INTEGER PRIMARY KEY, half REAL)"],
    );
    let temp = tempfile::tempdir().unwrap();
    let csv = temp.path().join("nums.csv");
    let rows: String = (1..=3000)
        .map(|n| format!("{n},{}\n", n as f64 / 2.0))
        .collect();
    std::fs::write(&csv, rows).unwrap();
    let mut shell = open_shell(&server, &temp.path().join("history"), &[]);
    at_prompt(&mut shell, &format!("\\copy nums FROM '{}'", csv.display()));
    // The last progress line before it is cleared, then the tag.
    shell.expect("3,000 rows, ").unwrap();
    shell.expect(" rows/s").unwrap();
    shell.expect("COPY 3000").unwrap();
    at_prompt(&mut shell, "SELECT sum(half) AS total FROM nums;");
    shell.expect(" 2250750.0\r\n(1 row)").unwrap();
    at_prompt(&mut shell, "\\q");
    shell.expect(expectrl::Eof).unwrap();
}
