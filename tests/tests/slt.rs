//! SQLite's sqllogictest corpus as a referee (an unedited copy of the shared corpus in
//! `tests/sqllogictest/`, so that a clone anywhere runs it; `diff -r` against
//! `../shared/sqllogictest` shows it identical):
//! every applicable file runs on the real engine over RocksDB, in process, and a
//! selection runs through a real server and the driver. Every record must pass, except
//! the disagreements listed in [`KNOWN`], each of which must fail exactly as described.
//!
//! Not run: `slt_lang_createtrigger.test` and `slt_lang_droptrigger.test` (kvsql has no
//! triggers; their records carry no skipif/onlyif label to skip them by).

use std::path::{Path, PathBuf};

use kvsql_tests::TestServer;
use kvsql_tests::slt::{self, Engine, FileReport, LABELS, Remote};

/// Files of the corpus that apply to kvsql.
const FILES: &[&str] = &[
    "select1.test",
    "select2.test",
    "select3.test",
    "select4.test",
    "select5.test",
    "evidence/in1.test",
    "evidence/in2.test",
    "evidence/slt_lang_aggfunc.test",
    "evidence/slt_lang_createview.test",
    "evidence/slt_lang_dropindex.test",
    "evidence/slt_lang_droptable.test",
    "evidence/slt_lang_dropview.test",
    "evidence/slt_lang_reindex.test",
    "evidence/slt_lang_replace.test",
    "evidence/slt_lang_update.test",
];

/// Records whose expected result no engine following SQLite can give: (file, line, what
/// the failure must contain).
const KNOWN: &[(&str, u32, &str)] = &[
    // sum() of integers that overflows: SQLite 3.40 raises "integer overflow" here too
    // (checked with the sqlite3 shell); the file expects an empty result.
    (
        "evidence/slt_lang_aggfunc.test",
        480,
        "22003 integer overflow",
    ),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sqllogictest")
}

fn labels() -> Vec<String> {
    LABELS.iter().map(|s| s.to_string()).collect()
}

/// Checks a file's report: something ran, and every failure is a known one.
fn check(file: &str, report: &FileReport) {
    assert!(report.passed > 0, "{file}: ran no record");
    let known: Vec<&(&str, u32, &str)> = KNOWN.iter().filter(|k| k.0 == file).collect();
    assert_eq!(
        report.failed,
        known.len(),
        "{file}: {} passed, {} failed; first failures:\n{}",
        report.passed,
        report.failed,
        report.failures.join("\n\n")
    );
    for (_, line, needle) in known {
        let location = format!("{file}:{line}:");
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.contains(&location) && f.contains(needle)),
            "{file}: expected the known failure at line {line} ({needle}), got:\n{}",
            report.failures.join("\n\n")
        );
    }
}

#[test]
fn the_corpus_passes_in_process_on_rocksdb() {
    let mut total = 0;
    for file in FILES {
        let dir = tempfile::tempdir().unwrap();
        let db = kvsql_engine::Database::open(dir.path()).unwrap();
        let mut session = db.session();
        let report = slt::run_file(&corpus().join(file), &mut session, &labels(), 10).unwrap();
        eprintln!(
            "{file}: {} passed, {} failed, {} skipped",
            report.passed, report.failed, report.skipped
        );
        check(file, &report);
        total += report.passed;
    }
    assert!(total > 11_000, "only {total} records passed");
}

#[test]
fn the_corpus_passes_through_a_server() {
    let server = TestServer::start();
    let addr = server.addr().to_string();
    for file in [
        "select1.test",
        "select4.test",
        "evidence/in1.test",
        "evidence/slt_lang_createview.test",
    ] {
        let mut remote = Remote::connect(&addr).unwrap();
        let report = slt::run_file(&corpus().join(file), &mut remote, &labels(), 10).unwrap();
        check(file, &report);
        // The next file starts from an empty database, as in process.
        for view in &report.views {
            let _ = remote.run(&format!("DROP VIEW IF EXISTS {view}"));
        }
        for table in &report.tables {
            let _ = remote.run(&format!("DROP TABLE IF EXISTS {table}"));
        }
    }
}

#[test]
fn a_wrong_result_is_reported_as_a_failure() {
    // The referee itself: a file whose expectations are wrong must fail, with the line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.test");
    std::fs::write(
        &path,
        "statement ok\nCREATE TABLE t(a INTEGER)\n\nstatement ok\nINSERT INTO t VALUES(1),(2)\n\n\
         query I rowsort\nSELECT a FROM t\n----\n1\n3\n\n\
         query R nosort\nSELECT 1.5\n----\n1.500\n\n\
         onlyif mysql\nquery I nosort\nSELECT nonsense\n----\n1\n",
    )
    .unwrap();
    let db = kvsql_engine::Database::memory();
    let mut session = db.session();
    let report = slt::run_file(&path, &mut session, &labels(), 10).unwrap();
    assert_eq!((report.passed, report.failed, report.skipped), (3, 1, 1));
    assert!(
        report.failures[0].contains("wrong.test:7"),
        "{:?}",
        report.failures
    );
}
