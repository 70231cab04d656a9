//! `slt`: runs sqllogictest files against kvsql and reports, per file, how many records
//! passed, failed and were skipped. Exits non-zero if any record failed, or if a file
//! ran no record at all.
//!
//! In process (a fresh database per file): `slt FILES...`
//! Against a running server: `slt --server 127.0.0.1:7878 FILES...`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kvsql_tests::slt::{self, Engine, Remote};

#[derive(Parser)]
#[command(
    name = "slt",
    about = "Run sqllogictest files against kvsql and report passed / failed / skipped per file",
    long_about = "Run sqllogictest files (.test / .slt) against kvsql.\n\n\
        Each value is rendered by the column type its record declares (I, R with three \
        decimals, T), results past the hash threshold compare by MD5, and \
        rowsort / valuesort / nosort apply as in SQLite's runner. `skipif` / `onlyif` \
        records are honoured; by default this runner answers to the labels `kvsql` and \
        `sqlite` (kvsql follows SQLite's semantics).\n\n\
        Without --server, every file runs against a fresh in-process database."
)]
struct Args {
    /// Run against the server at this address instead of in process. The tables and
    /// views each file creates are dropped after it.
    #[arg(long, value_name = "ADDR")]
    server: Option<String>,
    /// In process: the storage engine (rocksdb in a temporary directory, or memory).
    #[arg(long, default_value = "rocksdb", value_parser = ["rocksdb", "memory"])]
    engine: String,
    /// The engine labels to answer to in skipif / onlyif (repeatable).
    #[arg(long = "label", default_values_t = slt::LABELS.iter().map(|s| s.to_string()))]
    labels: Vec<String>,
    /// How many failures to show in detail per file.
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// The files to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut ok = true;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for file in &args.files {
        let started = std::time::Instant::now();
        let result = match &args.server {
            Some(addr) => match Remote::connect(addr) {
                Ok(mut remote) => {
                    let report = slt::run_file(file, &mut remote, &args.labels, args.show);
                    if let Ok(report) = &report {
                        for view in &report.views {
                            let _ = remote.run(&format!("DROP VIEW IF EXISTS {view}"));
                        }
                        for table in &report.tables {
                            let _ = remote.run(&format!("DROP TABLE IF EXISTS {table}"));
                        }
                    }
                    report
                }
                Err(e) => Err(e),
            },
            None => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let db = if args.engine == "memory" {
                    kvsql_engine::Database::memory()
                } else {
                    match kvsql_engine::Database::open(dir.path()) {
                        Ok(db) => db,
                        Err(e) => {
                            eprintln!("cannot open a database: {e}");
                            return ExitCode::FAILURE;
                        }
                    }
                };
                let mut session = db.session();
                slt::run_file(file, &mut session, &args.labels, args.show)
            }
        };
        match result {
            Ok(report) => {
                for failure in &report.failures {
                    println!("FAIL {failure}\n");
                }
                println!(
                    "{}: {} passed, {} failed, {} skipped ({:.1} s)",
                    file.display(),
                    report.passed,
                    report.failed,
                    report.skipped,
                    started.elapsed().as_secs_f64()
                );
                if report.passed + report.failed == 0 {
                    println!("{}: ran no record at all", file.display());
                    ok = false;
                }
                ok &= report.failed == 0;
                passed += report.passed;
                failed += report.failed;
                skipped += report.skipped;
            }
            Err(e) => {
                println!("{}: {e}", file.display());
                ok = false;
            }
        }
    }
    if args.files.len() > 1 {
        println!("total: {passed} passed, {failed} failed, {skipped} skipped");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
