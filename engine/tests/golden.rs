//! Golden scripts: each file in `tests/scripts/` is a sequence of statements, each line
//! starting with `> ` (continued on lines starting with `>> `), followed by the output
//! expected from it. Statements run in one session per script; `> @name SQL` runs SQL in
//! another session called `name` (created on first use), for concurrency cases. Every script runs against the in-memory store and against RocksDB.
//! Adding a case is adding text. Run with `UPDATE_GOLDEN=1` to rewrite the expected
//! output from what the engine does now (then read the diff!).

use std::fmt::Write;
use std::path::Path;

use std::collections::HashMap;

use kvsql_engine::{Database, Session, Value};

/// Renders what a statement produced, the way the scripts spell it.
fn render(session: &mut Session, sql: &str) -> String {
    let mut out = String::new();
    match session.query(sql) {
        Ok(results) => {
            for result in results {
                if result.columns.is_empty() {
                    let _ = writeln!(
                        out,
                        "ok {} {}",
                        result.outcome.tag, result.outcome.rows_affected
                    );
                    continue;
                }
                let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
                let _ = writeln!(out, "{}", names.join(" | "));
                for row in &result.rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|v| match v {
                            Value::Text(s) => s.clone(),
                            other => other.render(),
                        })
                        .collect();
                    let _ = writeln!(out, "{}", cells.join(" | "));
                }
                let _ = writeln!(out, "({} rows)", result.rows.len());
            }
        }
        Err(e) => {
            let _ = writeln!(out, "error {}: {e}", e.code());
        }
    }
    out
}

struct Case {
    /// Comment lines just before the statement, kept when regenerating.
    comments: Vec<String>,
    sql: String,
    expected: String,
}

fn parse(script: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut comments = Vec::new();
    for line in script.lines() {
        if let Some(sql) = line.strip_prefix("> ") {
            cases.push(Case {
                comments: std::mem::take(&mut comments),
                sql: sql.to_string(),
                expected: String::new(),
            });
        } else if let Some(more) = line.strip_prefix(">> ") {
            let case = cases.last_mut().expect("continuation after a statement");
            case.sql.push('\n');
            case.sql.push_str(more);
        } else if line.starts_with('#') {
            comments.push(line.to_string());
        } else if !line.is_empty() {
            let case = cases.last_mut().expect("output after a statement");
            case.expected.push_str(line);
            case.expected.push('\n');
        }
    }
    cases
}

fn run_script(path: &Path, db: &Database, backend: &str) -> Option<String> {
    let script = std::fs::read_to_string(path).expect("read script");
    let mut failures = Vec::new();
    let mut regenerated = String::new();
    let mut main = db.session();
    let mut others: HashMap<String, Session> = HashMap::new();
    for case in parse(&script) {
        let actual = match case.sql.strip_prefix('@').and_then(|s| s.split_once(' ')) {
            Some((name, sql)) => {
                let session = others
                    .entry(name.to_string())
                    .or_insert_with(|| db.session());
                render(session, sql)
            }
            None => render(&mut main, &case.sql),
        };
        for comment in &case.comments {
            let _ = writeln!(regenerated, "{comment}");
        }
        for (i, line) in case.sql.lines().enumerate() {
            let _ = writeln!(regenerated, "{}{line}", if i == 0 { "> " } else { ">> " });
        }
        regenerated.push_str(&actual);
        regenerated.push('\n');
        if actual != case.expected {
            failures.push(format!(
                "[{backend}] {}\n  statement: {}\n  expected:\n{}  actual:\n{}",
                path.display(),
                case.sql,
                case.expected,
                actual
            ));
        }
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() && backend == "memory" {
        std::fs::write(path, regenerated).expect("write script");
        return None;
    }
    (!failures.is_empty()).then(|| failures.join("\n"))
}

#[test]
fn golden_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("scripts directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {}", dir.display());
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in &paths {
        cases += parse(&std::fs::read_to_string(path).unwrap()).len();
        let memory = Database::memory();
        failures.extend(run_script(path, &memory, "memory"));
        let temp = tempfile::tempdir().unwrap();
        let rocks = Database::open(temp.path()).unwrap();
        failures.extend(run_script(path, &rocks, "rocksdb"));
    }
    assert!(cases > 0, "the scripts hold no statements");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
