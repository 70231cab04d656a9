//! `kvsql-bench` runs a tiny workload end to end against a real server and reports.
//! (Benchmarks are not tests: nothing here asserts a duration.)

use std::process::Command;

use kvsql_tests::{TestServer, binary};

#[test]
fn kvsql_bench_runs_every_workload_and_prints_a_json_line() {
    let server = TestServer::start();
    let addr = server.addr().to_string();
    for (workload, extra) in [
        ("point-select", vec![]),
        ("insert", vec!["--no-load"]),
        ("update", vec!["--no-load"]),
        ("range-scan", vec!["--no-load"]),
        ("mixed", vec!["--no-load", "--read-ratio", "0.5"]),
        ("full-scan", vec!["--no-load"]),
    ] {
        let output = Command::new(binary("kvsql-bench"))
            .args(["--addr", &addr, "--keys", "300", "--requests", "200"])
            .args(["--connections", "2", "--pipeline", "2", "--json"])
            .args(["--workload", workload])
            .args(&extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{workload}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json = stdout.lines().last().unwrap_or("");
        assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
        assert!(
            json.contains(&format!("\"workload\":\"{workload}\"")),
            "{json}"
        );
        assert!(json.contains("\"requests\":200"), "{json}");
        assert!(json.contains("\"errors\":0"), "{json}");
        if workload == "full-scan" {
            // Every scan streamed the whole table (300 loaded rows and 200 inserted).
            assert!(stdout.contains("streamed 100000 rows"), "{stdout}");
            assert!(!json.contains("\"rows_per_s\":0.0"), "{json}");
        }
    }
    // The inserts landed, next to the 300 loaded rows.
    let output = Command::new(binary("kvsql"))
        .args([
            "-H",
            &server.addr().ip().to_string(),
            "-p",
            &server.addr().port().to_string(),
        ])
        .args(["-c", "SELECT count(*) FROM bench_kv"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("500"),
        "{:?}",
        output
    );
}

#[test]
fn compare_sh_parses() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/compare.sh");
    let status = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success(), "bash -n {}", script.display());
}
