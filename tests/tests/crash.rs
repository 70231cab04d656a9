//! Kill -9 at random moments under concurrent writers, 20 times: see kvsql_tests::crash.
//! `KVSQL_CRASH_CYCLES=N` runs more (or `target/debug/crash --cycles N`).

#[test]
fn acknowledged_writes_survive_sigkill_and_nothing_is_half_applied() {
    let cycles = std::env::var("KVSQL_CRASH_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("crash test seed {seed} (repeat with target/debug/crash --seed {seed})");
    let temp = tempfile::tempdir().unwrap();
    let report = kvsql_tests::crash::run(temp.path(), cycles, false, seed);
    eprintln!("{report:?}");
    assert_eq!(report.cycles, cycles);
    // The writers got work done between kills: the check is not vacuous.
    assert!(
        report.acknowledged >= u64::from(cycles),
        "too few writes acknowledged to prove anything: {report:?}"
    );
}

/// The same with --sync, whose single-row writes are acknowledged through group commit
/// (commit, then wait for a shared fsync of the log).
#[test]
fn group_committed_writes_survive_sigkill() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("crash test seed {seed} (repeat with target/debug/crash --sync --seed {seed})");
    let temp = tempfile::tempdir().unwrap();
    let report = kvsql_tests::crash::run(temp.path(), 10, true, seed);
    eprintln!("{report:?}");
    assert_eq!(report.cycles, 10);
    assert!(
        report.acknowledged >= 10,
        "too few writes acknowledged to prove anything: {report:?}"
    );
}
