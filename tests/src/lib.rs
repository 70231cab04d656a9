//! Harness for end-to-end tests: starts the real `kvsql-server` binary on an ephemeral
//! loopback port with a temporary data directory, and locates the `kvsql` binary.
//!
//! The binaries must be built first (`cargo build --workspace --all-targets`); the README's
//! test command, `scripts/test.sh`, does that before running the tests.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod crash;
pub mod raw;
pub mod rng;
pub mod slt;

/// Creates `table (id INTEGER PRIMARY KEY)` holding the ids 0 .. n: joined with itself
/// it makes results as large as a test needs (n x n, n x n x n rows).
pub async fn create_ids_table(client: &kvsql_protocol::Client, table: &str, n: u32) {
    let values: Vec<String> = (0..n).map(|i| format!("({i})")).collect();
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id INTEGER PRIMARY KEY); INSERT INTO {table} VALUES {}",
            values.join(", ")
        ))
        .await
        .expect("create the ids table");
}

/// The single integer a query returns (panics on anything else).
pub async fn scalar(client: &kvsql_protocol::Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The SQLSTATE of a server's error (panics on an error of any other kind).
pub fn server_code(e: &kvsql_protocol::Error) -> &str {
    match e {
        kvsql_protocol::Error::Server { code, .. } => code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// A small multi-threaded runtime for a test's async part.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How long a server may take to start or to stop before the test fails.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// The path of a workspace binary in the target directory the tests were built into.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>; a harness binary (crash,
    // slt) lives in target/<profile> itself.
    let mut dir = exe.parent().expect("executable has a directory");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target/<profile>/deps");
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --all-targets` \
         (scripts/test.sh does this)",
        path.display()
    );
    path
}

/// A running `kvsql-server` process, killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server with a fresh temporary data directory.
    pub fn start() -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(&temp.path().join("data"), &[]);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on `data_dir` with extra arguments, waiting until it listens.
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> TestServer {
        let log = data_dir.with_extension(format!("log.{}", std::process::id()));
        match Self::try_start(data_dir, extra_args, &log) {
            Ok(server) => server,
            Err(message) => panic!(
                "kvsql-server did not start: {message}\n--- server log ---\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    }

    /// Starts a server; Err holds why it did not come up (it may have exited).
    pub fn try_start(
        data_dir: &Path,
        extra_args: &[&str],
        log: &Path,
    ) -> Result<TestServer, String> {
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let log_file = File::create(log).map_err(|e| e.to_string())?;
        let mut child = Command::new(binary("kvsql-server"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot spawn: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {} // keep draining so the server never blocks on stdout
        });
        let line = match rx.recv_timeout(PROCESS_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let status = child.wait().ok();
                return Err(format!(
                    "no address line ({other:?}), exit status {status:?}"
                ));
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| format!("unexpected first line {line:?}"))?;
        Ok(TestServer {
            child: Some(child),
            addr,
            data_dir: data_dir.to_path_buf(),
            log: log.to_path_buf(),
            _temp: None,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit, returning its status.
    pub fn stop(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        self.wait()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server still running").id()
    }

    /// Waits for the server to exit by itself (after a signal sent elsewhere).
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server still running");
        wait_with_timeout(&mut child, PROCESS_TIMEOUT).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("server did not stop within {PROCESS_TIMEOUT:?}")
        })
    }

    /// Kills the process with SIGKILL (a crash) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A `kvsql` command aimed at this server.
    pub fn kvsql(&self) -> Command {
        let mut command = Command::new(binary("kvsql"));
        command
            .args(["--host", &self.addr.ip().to_string()])
            .args(["--port", &self.addr.port().to_string()])
            .env_remove("KVSQL_HOST")
            .env_remove("KVSQL_PORT");
        command
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for a child to exit, up to `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Runs a command to completion with a timeout (killing it if it overruns), feeding it
/// `stdin`; returns (status, stdout, stderr).
pub fn run(command: &mut Command, stdin: &str) -> (ExitStatus, String, String) {
    use std::io::{Read, Write};
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = wait_with_timeout(&mut child, PROCESS_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("command did not finish within {PROCESS_TIMEOUT:?}")
    });
    let _ = writer.join();
    (
        status,
        stdout.join().expect("stdout reader"),
        stderr.join().expect("stderr reader"),
    )
}
