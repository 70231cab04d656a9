//! `kvsql-server`: serves a kvsql database over TCP.

mod acks;
mod connection;
mod sink;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use kvsql_engine::{Database, Durability, Options};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

/// The kvsql database server.
///
/// Serves the database in --data-dir to kvsql clients (the `kvsql` shell, or programs
/// using the kvsql-protocol driver) on --listen. Stop it with Ctrl-C or SIGTERM: it
/// stops accepting connections, lets running statements finish, and closes the
/// database cleanly. Set RUST_LOG (e.g. RUST_LOG=debug) for more log detail.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
pub struct Config {
    /// Address to listen on (use port 0 to pick a free port; the chosen address is
    /// printed on standard output as "listening on ADDR").
    #[arg(long, default_value = "127.0.0.1:7878", env = "KVSQL_LISTEN")]
    pub listen: SocketAddr,

    /// Directory holding the database; created if missing.
    #[arg(long, default_value = "./kvsql-data", env = "KVSQL_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Serve TLS only, with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM_FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM_FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// RocksDB block cache, in MiB: table blocks read from disk stay here, uncompressed.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub cache_mb: usize,

    /// Rows kept in memory for point selects outside transactions, in MiB: a hot row is
    /// answered from a hash table instead of RocksDB's memtable and files. Every commit
    /// forgets the rows it writes, so reads always see the latest commit. 0 turns it off.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub row_cache_mb: usize,

    /// Writes are gathered in memory tables of this many MiB before RocksDB writes them
    /// to a table file; two may be in memory at once (one taking writes while the other
    /// is written out). Larger tables mean fewer, larger files to compact.
    #[arg(long, default_value_t = 128, value_name = "MIB",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub memtable_mb: u32,

    /// Open the database for reading only: queries work, every write fails with 25006.
    /// (A data directory on a read-only file system is served this way by itself.)
    #[arg(long)]
    pub read_only: bool,

    /// On a database with no users yet, create this admin user at start, with the
    /// password in the environment variable KVSQL_ADMIN_PASSWORD (or in
    /// --admin-password-file). Once any user exists, every client must log in.
    #[arg(long, env = "KVSQL_ADMIN_USER", value_name = "NAME")]
    pub admin_user: Option<String>,

    /// A file whose first line is the initial admin's password (instead of
    /// KVSQL_ADMIN_PASSWORD).
    #[arg(long, value_name = "FILE", requires = "admin_user")]
    pub admin_password_file: Option<PathBuf>,

    /// Before starting, fill a new --data-dir with a copy of this backup (made by
    /// `BACKUP TO 'dir'`). Refused if --data-dir already holds data.
    #[arg(long, value_name = "BACKUP_DIR")]
    pub restore_from: Option<PathBuf>,

    /// Memory one statement may use for sorts, hash tables, DISTINCT and held rows, in
    /// MiB; a statement needing more fails with 53200 (out of memory) instead of
    /// growing the server. 0: no limit.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub statement_memory_mb: usize,

    /// Fsync the write-ahead log before acknowledging each commit, so that
    /// acknowledged writes survive power loss, not only a crash of the server process.
    /// Commits are grouped, one fsync for many sessions, and the log is written over an
    /// old log file rather than grown: at start the server writes and syncs one log
    /// file of --memtable-mb to begin on.
    #[arg(long)]
    pub sync: bool,

    /// Largest request frame accepted, in bytes; a client sending a larger one gets an
    /// error and is disconnected.
    #[arg(long, default_value_t = kvsql_protocol::codec::DEFAULT_MAX_FRAME)]
    pub max_frame_bytes: usize,

    /// Most client connections served at once; a client beyond that gets an error
    /// (SQLSTATE 53300) at its handshake and is disconnected.
    #[arg(long, default_value_t = 1000)]
    pub max_connections: usize,

    /// Longest SQL text accepted in one request, in bytes; longer ones get an error
    /// (SQLSTATE 54000) and the session goes on. Defaults to the frame limit.
    #[arg(long)]
    pub max_statement_bytes: Option<usize>,

    /// Close a session that sends nothing for this many seconds (SQLSTATE 57P05 is
    /// sent first); 0 never closes idle sessions.
    #[arg(long, default_value_t = 0)]
    pub idle_timeout: u64,

    /// After answering a session that is the only one its connection thread has been
    /// answering (others may sit idle there), keep polling it for its next request for up to this many microseconds before the thread may
    /// sleep: a client that sends again at once finds the thread awake, without the
    /// wake-up delay (large on virtual machines), for at most that much CPU per
    /// request. 0 turns it off.
    #[arg(long, default_value_t = 50)]
    pub idle_spin_us: u64,

    /// Stop a statement that runs longer than this many seconds, with error 57014
    /// ("statement timeout"); 0 means no limit. The session and its transaction go on
    /// (inside BEGIN the transaction is aborted, as after any error).
    #[arg(long, default_value_t = 0, env = "KVSQL_STATEMENT_TIMEOUT")]
    pub statement_timeout: u64,

    /// Threads serving connections (0: one per CPU core less one, at least one; the
    /// core left over runs RocksDB's background work and slow statements). Each runs its
    /// own event loop and keeps the connections given to it, so a connection's requests
    /// never wait for another thread to wake up. Slow statements run on a separate pool.
    #[arg(long, default_value_t = 0, env = "KVSQL_THREADS")]
    pub threads: usize,

    /// How long to wait at shutdown for running statements to finish, in seconds.
    #[arg(long, default_value_t = 30)]
    pub shutdown_timeout: u64,
}

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // This thread accepts connections and hands them to the workers (see --threads).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            eprintln!("kvsql-server: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    raise_open_files_limit();
    let options = Options {
        durability: if config.sync {
            Durability::Sync
        } else {
            Durability::Process
        },
        statement_memory: (config.statement_memory_mb > 0)
            .then(|| config.statement_memory_mb.saturating_mul(1 << 20)),
        read_only: config.read_only,
        cache_bytes: Some(config.cache_mb.saturating_mul(1 << 20)),
        row_cache_bytes: Some(config.row_cache_mb.saturating_mul(1 << 20)),
        memtable_bytes: Some((config.memtable_mb as usize) << 20),
    };
    if let Some(backup) = &config.restore_from {
        restore(backup, &config.data_dir)?;
        info!(
            backup = %backup.display(),
            data_dir = %config.data_dir.display(),
            "restored"
        );
    }
    let data_dir = config.data_dir.clone();
    let db = tokio::task::spawn_blocking(move || Database::open_with(&data_dir, options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot open {}: {e}", config.data_dir.display()))?;
    if let Some(admin) = &config.admin_user {
        let password = match &config.admin_password_file {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            None => std::env::var("KVSQL_ADMIN_PASSWORD").map_err(|_| {
                "--admin-user needs a password: set KVSQL_ADMIN_PASSWORD or --admin-password-file"
                    .to_string()
            })?,
        };
        let created = db
            .create_initial_admin(admin, &password)
            .map_err(|e| format!("cannot create admin user {admin}: {e}"))?;
        if created {
            info!(user = %admin, "created the initial admin user; clients must now log in");
        } else {
            info!(user = %admin, "users exist already; --admin-user left them as they are");
        }
    }
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    info!(
        data_dir = %config.data_dir.display(),
        sync = config.sync,
        "kvsql-server {} listening on {local}",
        env!("CARGO_PKG_VERSION")
    );
    // Tests and scripts read the address from here when they asked for port 0.
    println!("listening on {local}");

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let config = Arc::new(config);
    let session_ids = AtomicU64::new(1);
    let registry = connection::Registry::default();
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut connections = JoinSet::new();
    let threads = match config.threads {
        0 => default_threads(std::thread::available_parallelism().map_or(1, |n| n.get())),
        n => n,
    };
    let workers = Workers::start(threads).map_err(|e| format!("cannot start threads: {e}"))?;
    // With --sync, after each group sync: first the acknowledgements that the sync
    // thread writes itself, then the relays of the worker threads whose connections
    // wait for it (see `acks`).
    let acks = config.sync.then(|| Arc::new(acks::AckQueue::default()));
    let relays = workers.relays.clone();
    let sync_acks = acks.clone();
    db.on_synced(Box::new(move |synced| {
        if let Some(acks) = &sync_acks {
            acks.synced(synced.upto, |ticket| synced.outcome(ticket));
        }
        for relay in &relays {
            relay.synced(synced.upto);
        }
    }));
    let mut next_worker = 0usize;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let session_id = session_ids.fetch_add(1, Ordering::Relaxed);
                    // Held by the connection until it ends; None when all are taken.
                    let slot = slots.clone().try_acquire_owned().ok();
                    // The socket moves to a worker's event loop (round robin).
                    let stream = match stream.into_std() {
                        Ok(stream) => stream,
                        Err(e) => {
                            warn!(%peer, "cannot hand the connection to a worker: {e}");
                            continue;
                        }
                    };
                    let index = next_worker % workers.handles.len();
                    next_worker = next_worker.wrapping_add(1);
                    let (db, config, registry, shutdown, tls, synced, acks) = (
                        db.clone(),
                        config.clone(),
                        registry.clone(),
                        shutdown_rx.clone(),
                        tls.clone(),
                        workers.waits[index].clone(),
                        acks.clone(),
                    );
                    let worker = &workers.handles[index];
                    connections.spawn_on(
                        async move {
                            match tokio::net::TcpStream::from_std(stream) {
                                Ok(stream) => {
                                    connection::serve(
                                        stream, peer, session_id, slot, db, config, registry,
                                        shutdown, tls, synced, acks,
                                    )
                                    .await
                                }
                                Err(e) => warn!(%peer, "cannot serve the connection: {e}"),
                            }
                        },
                        worker,
                    );
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            name = &mut signal => {
                info!("{name} received: shutting down");
                break;
            }
        }
    }
    drop(listener);
    let _ = shutdown_tx.send(true);
    let open = connections.len();
    if open > 0 {
        info!("waiting for {open} connection(s) to finish their statements");
    }
    let deadline = Duration::from_secs(config.shutdown_timeout);
    if tokio::time::timeout(deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        warn!("statements still running after {deadline:?}; abandoning them");
        connections.abort_all();
    }
    tokio::task::spawn_blocking(move || workers.stop())
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        if let Err(e) = db.flush() {
            warn!("flush at shutdown failed (the write-ahead log still has every commit): {e}");
        }
        drop(db);
    })
    .await
    .map_err(|e| e.to_string())?;
    info!("database closed; goodbye");
    Ok(())
}

/// Connection threads for `--threads 0` on a machine of `cores` cores: one per core but
/// one, which is left to what else the server runs (RocksDB's flushes and compactions,
/// the statement pool, the log sync), and at least one. On 2 cores one connection
/// thread served 50 clients on the same machine 1.3-1.4x faster than two (point
/// selects and single-row inserts; docs/performance.md, session 13): two connection
/// threads beside the other work kept more threads busy than there are cores, and their
/// commits queued for RocksDB's write lock against each other.
fn default_threads(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

/// The threads that serve connections, each with a single-threaded runtime of its own.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    /// Per thread: how its connections wait for --sync commits to become durable.
    waits: Vec<acks::SyncWait>,
    relays: Vec<Arc<acks::Relay>>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn start(n: usize) -> std::io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::new(),
            waits: Vec::new(),
            relays: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (relay, wait) = acks::Relay::new();
            workers.handles.push(runtime.handle().clone());
            workers.waits.push(wait);
            workers.relays.push(relay.clone());
            workers.stops.push(stop);
            workers.threads.push(
                std::thread::Builder::new()
                    .name(format!("kvsql-worker-{i}"))
                    .spawn(move || {
                        runtime.block_on(async {
                            // Sends from this thread: waking the connections that wait
                            // queues them here, with no syscall per connection.
                            tokio::select! {
                                _ = stopped => {}
                                () = relay.run() => {}
                            }
                        });
                    })?,
            );
        }
        Ok(workers)
    }

    /// Stops the threads (after their connections have ended) and waits for them.
    fn stop(self) {
        drop(self.stops);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Raises the soft limit on open files to the hard one. Each connection takes a
/// descriptor (two with --sync, see `acks`), and RocksDB keeps its files open: the usual
/// soft limit of 1024 would refuse connections well below --max-connections.
fn raise_open_files_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // None is "unlimited".
    let below = match (limit.current, limit.maximum) {
        (Some(soft), Some(hard)) => soft < hard,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if below {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => info!(
                from = limit.current.unwrap_or(u64::MAX),
                to = %limit
                    .maximum
                    .map_or("unlimited".to_string(), |n| n.to_string()),
                "raised the open files limit"
            ),
            Err(e) => warn!("cannot raise the open files limit: {e}"),
        }
    }
}

/// Resolves with the signal's name at the first SIGINT or SIGTERM.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Copies a backup directory into a new data directory.
fn restore(backup: &std::path::Path, data_dir: &std::path::Path) -> Result<(), String> {
    if !backup.join("CURRENT").is_file() {
        return Err(format!(
            "cannot restore from {}: not a kvsql backup (no CURRENT file)",
            backup.display()
        ));
    }
    let occupied = std::fs::read_dir(data_dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        return Err(format!(
            "cannot restore into {}: it already holds data; name a new or empty --data-dir",
            data_dir.display()
        ));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let entries =
        std::fs::read_dir(backup).map_err(|e| format!("cannot read {}: {e}", backup.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", backup.display()))?;
        let path = entry.path();
        if path.is_file() {
            std::fs::copy(&path, data_dir.join(entry.file_name()))
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// A TLS acceptor for the certificate chain and key in these PEM files.
fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read --tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in --tls-cert {}", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read --tls-key {}: {e}", key.display()))?;
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| format!("--tls-cert and --tls-key do not make a usable pair: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::default_threads;

    /// `--threads 0` leaves one core to the rest of the server, but never serves with none.
    #[test]
    fn the_default_leaves_a_core_over_and_keeps_at_least_one_thread() {
        assert_eq!(default_threads(1), 1);
        assert_eq!(default_threads(2), 1);
        assert_eq!(default_threads(8), 7);
    }
}
