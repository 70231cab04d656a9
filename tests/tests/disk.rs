//! A full disk and a read-only data directory, on real (tmpfs) file systems: writes get
//! clear errors, reads go on, nothing committed is lost.
//!
//! Mounting needs root with CAP_SYS_ADMIN (as on the development and CI machines); where
//! mounting is not permitted, the mount-based checks say so on standard error and are
//! skipped, and only `--read-only` is checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use kvsql_protocol::Client;
use kvsql_tests::{TestServer, runtime, scalar, server_code};

/// A tmpfs mounted for the length of a test.
struct Mount {
    path: PathBuf,
}

impl Mount {
    /// Mounts a tmpfs of `megabytes` at `path`, or None if mounting is not permitted.
    fn tmpfs(path: &Path, megabytes: u32) -> Option<Mount> {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .ok()?;
        if !status.success() {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs at {} (needs root)",
                path.display()
            );
            return None;
        }
        Some(Mount {
            path: path.to_path_buf(),
        })
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn a_full_disk_fails_writes_clearly_keeps_reads_and_loses_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let Some(mount) = Mount::tmpfs(&data, 24) else {
        return;
    };
    let mut server = TestServer::start_in(&data, &[]);
    let value = "x".repeat(1 << 20);
    let acknowledged = runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        let mut acknowledged = 0i64;
        let err = loop {
            match c
                .execute("INSERT INTO big VALUES ($1, $2)", &[&acknowledged, &value])
                .await
            {
                Ok(_) => acknowledged += 1,
                Err(e) => break e,
            }
            assert!(acknowledged < 100, "24 MiB never filled up");
        };
        assert_eq!(server_code(&err), "53100", "{err}");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(acknowledged >= 5, "{acknowledged}");
        // Reads go on, in this session and in new ones.
        assert_eq!(scalar(&c, "SELECT count(*) FROM big").await, acknowledged);
        let fresh = Client::connect(server.addr()).await.unwrap();
        assert_eq!(
            scalar(&fresh, "SELECT length(v) FROM big WHERE id = 0").await,
            1 << 20
        );
        // Writes keep failing clearly.
        let err = fresh
            .execute("INSERT INTO big VALUES (-1, 'small')", &[])
            .await
            .unwrap_err();
        assert!(matches!(server_code(&err), "53100" | "58030"), "{err}");
        acknowledged
    });
    // With space again and a restart, every acknowledged row is there and writes work.
    server.kill();
    mount.remount("size=96m");
    let server = TestServer::start_in(&data, &[]);
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        assert_eq!(scalar(&c, "SELECT count(*) FROM big").await, acknowledged);
        assert_eq!(
            scalar(&c, "SELECT count(*) FROM big WHERE length(v) = 1048576").await,
            acknowledged
        );
        c.execute("INSERT INTO big VALUES (-1, 'small')", &[])
            .await
            .unwrap();
    });
    drop(server);
}

/// Checks a server that must refuse writes (with `why` in the message) and serve reads.
async fn reads_only(c: &Client, why: &str) {
    assert_eq!(scalar(c, "SELECT count(*) FROM t").await, 3);
    assert_eq!(scalar(c, "SELECT id FROM t WHERE name = 'b'").await, 2);
    for sql in [
        "INSERT INTO t VALUES (4, 'd')",
        "UPDATE t SET name = 'z'",
        "CREATE TABLE u (id INTEGER PRIMARY KEY)",
    ] {
        let err = c.execute(sql, &[]).await.unwrap_err();
        assert_eq!(server_code(&err), "25006", "{sql}: {err}");
        assert!(err.to_string().contains(why), "{err}");
    }
    assert_eq!(scalar(c, "SELECT count(*) FROM t").await, 3);
}

#[test]
fn a_read_only_data_directory_serves_reads_and_refuses_writes() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mount = Mount::tmpfs(&data, 64);
    let mut server = TestServer::start_in(&data, &[]);
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        c.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
             CREATE INDEX t_name ON t (name);
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        )
        .await
        .unwrap();
    });
    server.stop();
    // Asked for: --read-only.
    let server = TestServer::start_in(&data, &["--read-only"]);
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        reads_only(&c, "--read-only").await;
    });
    drop(server);
    // Found: a file system mounted read-only.
    let Some(mount) = mount else {
        return;
    };
    mount.remount("ro");
    let server = TestServer::start_in(&data, &[]);
    runtime().block_on(async {
        let c = Client::connect(server.addr()).await.unwrap();
        reads_only(&c, "read-only file system").await;
    });
    assert!(
        server.log().contains("serving reads only"),
        "{}",
        server.log()
    );
    drop(server);
    mount.remount("rw");
}
