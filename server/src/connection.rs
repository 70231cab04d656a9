//! One client connection: preamble, handshake, then requests answered in order.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvsql_engine::{Database, Pending, Prepared, ResultSink, Session, Value};
use kvsql_protocol::codec::{self, FrameError, FrameReader, PREAMBLE};
use kvsql_protocol::pb::{self, request, response::Kind};
use kvsql_protocol::{PROTOCOL_MAJOR, PROTOCOL_MINOR};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tracing::{debug, info, warn};

use crate::Config;
use crate::acks::{AckQueue, AckSlot, SyncWait};
use crate::sink::{ChannelSink, Outgoing};

/// A prepared statement that touches one row by primary key (see
/// `Prepared::is_point`) runs on the connection's task instead of a blocking thread:
/// such statements take microseconds and gain most from skipping the handoff and back.
/// One that took longer than this there `SLOW_STREAK` times in a row (cold reads from
/// disk) runs its next `POOL_RUNS` runs on the blocking pool, then tries the
/// connection's task again. A single slow run does not count: on a busy machine a run is
/// often slow only because its thread was preempted, or waited its turn in RocksDB's
/// write group, and sending such runs to the pool made 50-client inserts a fifth slower
/// (the handoffs cost more than they saved). (Waiting for the disk with --sync does not
/// count either: the task waits without blocking.)
const INLINE_BELOW: Duration = Duration::from_micros(150);
const SLOW_STREAK: u8 = 3;
const POOL_RUNS: u32 = 8;
/// Runs on the connection's task are timed one in this many, and every one after a
/// slow one: reading the clock twice a run was 3% of the server's time under pipelined
/// point selects, and a streak of slow runs is still caught within a few more runs.
const TIME_EVERY: u8 = 8;

/// How long a new connection may take to send its preamble and hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Reader = FrameReader<Box<dyn AsyncRead + Send + Unpin>>;

/// Requests read ahead while a statement runs, at most; past this the connection stops
/// reading until the queue drains (the client then waits, as TCP makes it).
const QUEUE_LIMIT: usize = 256;

/// Responses are encoded into one buffer and written with one syscall when the client
/// has nothing more buffered for us (or the buffer is large): pipelined requests share
/// their writes.
struct Writer {
    inner: Box<dyn AsyncWrite + Send + Unpin>,
    buf: Vec<u8>,
    /// With --sync over plain TCP: acknowledgements the sync thread may write to this
    /// socket (see [`crate::acks`]); every write here waits for them first.
    acks: Option<Arc<AckSlot>>,
}

/// Buffered bytes past which `write` sends them at once.
const WRITE_CHUNK: usize = 64 * 1024;
/// Batches of rows from this size on are written from their own buffer (a streamed
/// result's batches, about 64 KiB); smaller ones are copied into the write buffer, to
/// share a system call with what comes next.
const WHOLE_FRAME_BYTES: usize = 16 * 1024;

impl Writer {
    fn new(inner: Box<dyn AsyncWrite + Send + Unpin>) -> Self {
        Writer {
            inner,
            buf: Vec::with_capacity(WRITE_CHUNK),
            acks: None,
        }
    }

    /// Waits for an acknowledgement handed to the sync thread to be written, and puts
    /// what it could not write ahead of everything buffered.
    async fn settle(&mut self) {
        if let Some(slot) = &self.acks
            && let Some(rest) = slot.settled().await
        {
            self.buf.splice(0..0, rest);
        }
    }

    /// Adds a response to the buffer.
    fn push(&mut self, response: &pb::Response) {
        codec::encode_frame(response, &mut self.buf);
    }

    /// Adds a response, and writes the buffer out if it has grown large.
    async fn write(&mut self, response: &pb::Response) -> std::io::Result<()> {
        self.push(response);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.settle().await;
            self.inner.write_all(&self.buf).await?;
            self.buf.clear();
            if self.buf.capacity() > 16 * WRITE_CHUNK {
                // After a huge value: do not keep its buffer for the life of the session.
                self.buf = Vec::with_capacity(WRITE_CHUNK);
            }
        }
        self.inner.flush().await
    }

    /// Writes what is buffered and then `bytes` (not buffered: large, and written out
    /// now without being copied), with as few system calls as the socket allows. Like
    /// `write`, it leaves the flush to the caller.
    async fn write_through(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.settle().await;
        let (mut head, mut tail) = (0, 0);
        while tail < bytes.len() {
            let slices = [
                std::io::IoSlice::new(&self.buf[head..]),
                std::io::IoSlice::new(&bytes[tail..]),
            ];
            let n = self.inner.write_vectored(&slices).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            let from_head = n.min(self.buf.len() - head);
            head += from_head;
            tail += n - from_head;
        }
        self.buf.clear();
        Ok(())
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        self.settle().await;
        self.flush().await?;
        self.inner.shutdown().await
    }
}

/// An error the connection layer itself reports (no statement position, not retryable).
fn error(code: &str, message: impl Into<String>) -> pb::Error {
    pb::Error {
        code: code.into(),
        message: message.into(),
        line: 0,
        column: 0,
        retryable: false,
    }
}

/// A protocol violation (08P01); the connection is closed after it.
fn protocol_error(message: impl Into<String>) -> pb::Error {
    error("08P01", message)
}

async fn send(writer: &mut Writer, id: u64, kind: Kind) -> std::io::Result<()> {
    writer.push(&pb::Response {
        id,
        kind: Some(kind),
    });
    writer.flush().await
}

/// What another task needs to reach the request a connection is running: its id, the
/// flag that cancels it, and where to send `fetch` credits.
struct Running {
    id: u64,
    cancel: Arc<AtomicBool>,
    fetch: mpsc::UnboundedSender<FetchMsg>,
}

enum FetchMsg {
    /// Send up to this many more rows (0: all).
    More(u32),
    Cancel,
}

/// A connection's state shared between its reader task, its main loop, and (through the
/// registry) cancel requests from other connections.
#[derive(Default)]
pub struct ConnState {
    running: Option<Running>,
    /// Requests cancelled before they started.
    cancelled: HashSet<u64>,
}

impl ConnState {
    fn cancel(&mut self, id: Option<u64>) {
        match &self.running {
            Some(r) if id.is_none_or(|id| id == r.id) => {
                r.cancel.store(true, Ordering::Relaxed);
                let _ = r.fetch.send(FetchMsg::Cancel);
            }
            _ => {
                if let Some(id) = id {
                    self.cancelled.insert(id);
                }
            }
        }
    }
}

/// Every live session, by id: its cancel key and state.
pub type Registry = Arc<Mutex<HashMap<u64, (u64, Arc<Mutex<ConnState>>)>>>;

/// A cancel key: random per server process and session (SipHash with a random key).
fn cancel_key(session_id: u64) -> u64 {
    RandomState::new().hash_one(session_id)
}

/// A request read from the client, or what went wrong reading one.
enum Incoming {
    Request(pb::Request),
    /// A frame that breaks the protocol: answer and close.
    Bad(String),
}

/// Reads the next frame and acts at once on what cannot wait its turn: a cancel reaches
/// the running request (and is itself answered in order), a fetch resumes it. Everything
/// else joins `queue`. Returns false at the end of the stream (or after a bad frame),
/// after stopping whatever the client was running.
fn accept(
    frame: Result<Option<pb::Request>, FrameError>,
    state: &Mutex<ConnState>,
    queue: &mut VecDeque<Incoming>,
) -> bool {
    let incoming = match frame {
        Ok(Some(request)) => match &request.kind {
            Some(request::Kind::Cancel(c)) => {
                // 0 names whatever is running.
                let target = (c.request_id != 0).then_some(c.request_id);
                state.lock().expect("poisoned").cancel(target);
                Incoming::Request(request)
            }
            Some(request::Kind::Fetch(f)) => {
                let state = state.lock().expect("poisoned");
                match &state.running {
                    Some(r) if r.id == f.request_id => {
                        let _ = r.fetch.send(FetchMsg::More(f.max_rows));
                        return true;
                    }
                    _ => Incoming::Bad(format!(
                        "fetch for request {}, which is not suspended",
                        f.request_id
                    )),
                }
            }
            _ => Incoming::Request(request),
        },
        Ok(None) | Err(FrameError::Io(_)) => {
            // The client is gone: stop what it was running.
            state.lock().expect("poisoned").cancel(None);
            return false;
        }
        Err(e) => Incoming::Bad(e.to_string()),
    };
    let bad = matches!(incoming, Incoming::Bad(_));
    if bad {
        state.lock().expect("poisoned").cancel(None);
    }
    queue.push_back(incoming);
    !bad
}

/// Serves one connection until the client leaves, breaks the protocol, or the server
/// shuts down (after the running request, if any, has finished).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    session_id: u64,
    slot: Option<OwnedSemaphorePermit>,
    db: Database,
    config: Arc<Config>,
    registry: Registry,
    mut shutdown: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut synced: SyncWait,
    acks: Option<Arc<AckQueue>>,
) {
    let _ = stream.set_nodelay(true);
    // With --sync over plain TCP, the sync thread may write acknowledgements to a
    // duplicate of the socket (see `crate::acks`).
    let ack_slot = match (&acks, &tls) {
        (Some(_), None) => match stream
            .as_fd()
            .try_clone_to_owned()
            .and_then(|fd| AckSlot::new(std::net::TcpStream::from(fd)))
        {
            Ok(slot) => Some(slot),
            Err(e) => {
                debug!(%peer, "acknowledgements from this connection's thread only: {e}");
                None
            }
        },
        _ => None,
    };
    let (read, write): (
        Box<dyn AsyncRead + Send + Unpin>,
        Box<dyn AsyncWrite + Send + Unpin>,
    ) = match tls {
        None => {
            let (read, write) = stream.into_split();
            (Box::new(read), Box::new(write))
        }
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let (read, write) = tokio::io::split(stream);
                    (Box::new(read), Box::new(write))
                }
                Ok(Err(e)) => {
                    info!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    info!(%peer, "no TLS handshake within 10 seconds");
                    return;
                }
            }
        }
    };
    let mut reader: Reader = FrameReader::new(read, config.max_frame_bytes);
    let mut writer = Writer::new(write);
    writer.acks = ack_slot;
    let key = cancel_key(session_id);

    let client = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        handshake(
            &mut reader,
            &mut writer,
            &config,
            session_id,
            key,
            slot.is_some(),
            &registry,
            &db,
        ),
    )
    .await
    {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(reason)) => {
            info!(%peer, "handshake ended: {reason}");
            return;
        }
        Err(_) => {
            let _ = send(
                &mut writer,
                0,
                Kind::Error(protocol_error("no handshake within 10 seconds")),
            )
            .await;
            info!(%peer, "handshake timed out");
            return;
        }
    };
    let (client, user) = client;
    info!(
        %peer,
        session_id,
        client = %client,
        user = user.as_ref().map_or("-", |u| u.name.as_str()),
        "session started"
    );

    let _counted = ThreadSession::enter();
    let state: Arc<Mutex<ConnState>> = Arc::default();
    registry
        .lock()
        .expect("poisoned")
        .insert(session_id, (key, state.clone()));

    // Requests read but not answered yet (read ahead while a statement ran, or after a
    // cancel that must wait its turn), and whether the client can send more.
    let mut queue: VecDeque<Incoming> = VecDeque::new();
    let mut open = true;

    let statement_limit = config.max_statement_bytes.unwrap_or(config.max_frame_bytes);
    let mut session = Some(db.session());
    if let Some(session) = &mut session {
        session.set_user(user);
    }
    let mut prepared: HashMap<u64, Kept> = HashMap::new();
    let mut next_statement = 1u64;
    let mut served = Served::default();
    loop {
        if queue.is_empty() && open && reader.has_frame() {
            // The client's next request is already read (pipelined): take it at once,
            // without waiting on anything else; its answer shares the pending write.
            open = accept(reader.next().await, &state, &mut queue);
        } else if queue.is_empty() && open {
            // Nothing left to answer from what was read: send what is buffered, then wait.
            if writer.flush().await.is_err() {
                break;
            }
            let idle = async {
                match config.idle_timeout {
                    0 => std::future::pending().await,
                    seconds => tokio::time::sleep(Duration::from_secs(seconds)).await,
                }
            };
            enum Next {
                Frame(Result<Option<pb::Request>, FrameError>),
                Shutdown,
                Idle,
            }
            let mut frame = std::pin::pin!(reader.next());
            let mut spun = None;
            if config.idle_spin_us > 0 && served.alone() {
                // Poll for the next request without letting the thread sleep: each
                // yield lets the runtime look at its sockets (and run other tasks).
                let until = Instant::now() + Duration::from_micros(config.idle_spin_us);
                loop {
                    let polled =
                        std::future::poll_fn(|cx| std::task::Poll::Ready(frame.as_mut().poll(cx)))
                            .await;
                    if let std::task::Poll::Ready(next) = polled {
                        spun = Some(next);
                        break;
                    }
                    if Instant::now() >= until {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
            let next = if let Some(next) = spun {
                Next::Frame(next)
            } else {
                tokio::select! {
                frame = &mut frame => Next::Frame(frame),
                _ = shutdown.wait_for(|stop| *stop) => Next::Shutdown,
                () = idle => Next::Idle,
                }
            };
            match next {
                Next::Frame(frame) => open = accept(frame, &state, &mut queue),
                Next::Shutdown => {
                    debug!(session_id, "closing idle session for shutdown");
                    break;
                }
                Next::Idle => {
                    info!(
                        session_id,
                        "closing session idle for {} s", config.idle_timeout
                    );
                    let message = format!(
                        "session closed after {} s without a request (--idle-timeout)",
                        config.idle_timeout
                    );
                    let _ = send(&mut writer, 0, Kind::Error(error("57P05", message))).await;
                    break;
                }
            }
        }
        let request = match queue.pop_front() {
            None if open => continue,
            None => break,
            Some(request) => {
                served.one();
                request
            }
        };
        let request = match request {
            Incoming::Bad(message) => {
                warn!(session_id, %peer, "bad frame, closing: {message}");
                let _ = send(&mut writer, 0, Kind::Error(protocol_error(message))).await;
                break;
            }
            Incoming::Request(request) => request,
        };
        let id = request.id;
        if state.lock().expect("poisoned").cancelled.remove(&id) {
            let refusal = Kind::Error(error("57014", "statement cancelled before it started"));
            if send(&mut writer, id, refusal).await.is_err() {
                break;
            }
            continue;
        }
        let work = match request.kind {
            Some(request::Kind::Query(query)) if query.sql.len() > statement_limit => {
                let message = format!(
                    "statement of {} bytes exceeds the limit of {statement_limit} bytes \
                     (--max-statement-bytes)",
                    query.sql.len()
                );
                let refusal = Kind::Error(error("54000", message));
                if send(&mut writer, id, refusal).await.is_err() {
                    break;
                }
                continue;
            }
            Some(request::Kind::Query(query)) => Work::Sql {
                sql: query.sql,
                params: query.params.into_iter().map(engine_value).collect(),
                max_rows: query.max_rows,
            },
            Some(request::Kind::Execute(execute)) => {
                match prepared.get_mut(&execute.statement_id) {
                    Some(kept)
                        if kept.placement.inline()
                            && execute.max_rows == 0
                            && kept.statement.is_point() =>
                    {
                        // A statement that runs in microseconds (a point select or a
                        // single-row write): run it here, without the handoff to a blocking
                        // thread and back; its responses go out with the next write.
                        let current = session.as_mut().expect("session between requests");
                        let (responses, pending) = run_point(id, execute, kept, current);
                        if let (Some(Pending::Sync(ticket)), Some(acks), Some(slot)) =
                            (&pending, &acks, &writer.acks)
                            && writer.buf.is_empty()
                            && queue.is_empty()
                            && !reader.has_frame()
                            && acks.hand_over(slot, *ticket, id, &responses)
                        {
                            // Nothing else to send before it: the sync thread writes it.
                            continue;
                        }
                        let responses =
                            made_durable(id, responses, pending, &db, &mut synced).await;
                        for response in responses {
                            writer.push(&response);
                        }
                        continue;
                    }
                    Some(_) => {
                        let mut kept = prepared
                            .remove(&execute.statement_id)
                            .expect("the statement was just found");
                        kept.placement.ran_on_pool();
                        Work::Prepared {
                            statement_id: execute.statement_id,
                            kept: Box::new(kept),
                            params: execute.params.into_iter().map(engine_value).collect(),
                            max_rows: execute.max_rows,
                            compact: execute.compact,
                        }
                    }
                    None => {
                        let message = format!(
                            "no prepared statement {} on this connection",
                            execute.statement_id
                        );
                        if send(&mut writer, id, Kind::Error(error("26000", message)))
                            .await
                            .is_err()
                        {
                            break;
                        }
                        continue;
                    }
                }
            }
            Some(request::Kind::Prepare(prepare)) if prepare.sql.len() > statement_limit => {
                let message = format!(
                    "statement of {} bytes exceeds the limit of {statement_limit} bytes \
                     (--max-statement-bytes)",
                    prepare.sql.len()
                );
                if send(&mut writer, id, Kind::Error(error("54000", message)))
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            Some(request::Kind::Prepare(prepare)) => Work::Prepare {
                sql: prepare.sql,
                statement_id: {
                    next_statement += 1;
                    next_statement - 1
                },
            },
            Some(request::Kind::Metadata(metadata)) => Work::Metadata(metadata),
            Some(request::Kind::Close(close)) => {
                prepared.remove(&close.statement_id);
                if send(&mut writer, id, Kind::Done(pb::Done {}))
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            Some(request::Kind::Cancel(_)) => {
                if send(&mut writer, id, Kind::Done(pb::Done {}))
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            Some(
                request::Kind::Hello(_) | request::Kind::CancelOther(_) | request::Kind::Login(_),
            ) => {
                let error = protocol_error("hello, login or cancel_other after the handshake");
                let _ = send(&mut writer, id, Kind::Error(error)).await;
                break;
            }
            Some(request::Kind::Fetch(_)) => unreachable!("handled by the reader"),
            None => {
                let error = protocol_error("unknown request kind (is the client newer?)");
                let _ = send(&mut writer, id, Kind::Error(error)).await;
                break;
            }
        };
        let running = session
            .take()
            .expect("session is returned after each request");
        match run(
            id,
            work,
            running,
            Conn {
                writer: &mut writer,
                reader: &mut reader,
                queue: &mut queue,
                open: &mut open,
                state: &state,
            },
            config.statement_timeout,
        )
        .await
        {
            Some((returned, kept)) => {
                session = Some(returned);
                if let Some((statement_id, kept)) = kept {
                    prepared.insert(statement_id, kept);
                }
            }
            None => break,
        }
    }
    registry.lock().expect("poisoned").remove(&session_id);
    let _ = writer.shutdown().await;
    info!(session_id, "session ended");
}

thread_local! {
    /// Sessions served by this connection thread (each runs on one thread for life).
    static THREAD_SESSIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Requests taken up by the sessions of this thread, all told.
    static THREAD_REQUESTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Whether a session is the only one its thread has been answering. Such a session
/// polls for its next request for `--idle-spin-us` before the thread sleeps: waking a
/// sleeping thread costs more than the round trip itself on a virtual machine (1-client
/// point selects went from about 10k to 25k per second). While other sessions of the
/// thread are answered too it does not: their requests keep the thread awake, and on a
/// busy machine the polling would take CPU from the clients. Sessions that only sit
/// idle on the thread (a pool's spare connections) do not count.
#[derive(Default)]
struct Served {
    /// [`THREAD_REQUESTS`] when this session last went to wait.
    mark: u64,
    /// Requests this session took up since then.
    own: u64,
}

impl Served {
    /// This session takes up a request.
    fn one(&mut self) {
        self.own += 1;
        THREAD_REQUESTS.set(THREAD_REQUESTS.get() + 1);
    }

    /// About to wait for the next request: whether no other session of the thread took
    /// up a request since this one last waited.
    fn alone(&mut self) -> bool {
        let now = THREAD_REQUESTS.get();
        let others = now - self.mark - self.own;
        self.mark = now;
        self.own = 0;
        others == 0
    }
}

/// Counts a session in [`THREAD_SESSIONS`] while it lives (see [`run_point`]).
struct ThreadSession;

impl ThreadSession {
    fn enter() -> ThreadSession {
        THREAD_SESSIONS.set(THREAD_SESSIONS.get() + 1);
        ThreadSession
    }
}

impl Drop for ThreadSession {
    fn drop(&mut self) {
        THREAD_SESSIONS.set(THREAD_SESSIONS.get() - 1);
    }
}

/// Runs a point statement on the connection's task and returns its responses, and the
/// durability its commit still waits for (see [`made_durable`]).
fn run_point(
    id: u64,
    execute: pb::Execute,
    kept: &mut Kept,
    session: &mut Session,
) -> (Vec<pb::Response>, Option<Pending>) {
    let started = kept.placement.timed().then(Instant::now);
    let params: Vec<Value> = execute.params.into_iter().map(engine_value).collect();
    let mut sink = ChannelSink::buffered(id);
    if execute.compact {
        sink = sink.compact(kept.announced.clone());
    }
    session.set_defer_durability(true);
    let result = session.execute_prepared(&mut kept.statement, params, &mut sink);
    session.set_defer_durability(false);
    if let Some(started) = started {
        kept.placement.ran_inline(started.elapsed());
    }
    let pending = session.take_pending();
    sink.finish(result);
    (sink.into_buffer(), pending)
}

/// Makes a point statement's commit durable as `pending` asks and returns its responses
/// (or the error that it could not be). With --sync the commit does not wait for the
/// disk on this thread: the task waits (without blocking the thread) for a group sync
/// to cover it, and acknowledges only then.
async fn made_durable(
    id: u64,
    responses: Vec<pb::Response>,
    pending: Option<Pending>,
    db: &Database,
    synced: &mut SyncWait,
) -> Vec<pb::Response> {
    let durable = match pending {
        None => return responses,
        Some(Pending::Flush) => {
            if THREAD_SESSIONS.get() > 1 {
                // Let the other sessions of this thread run what they have read first:
                // the first of them to flush the log writes out every commit made
                // meanwhile, so one write to the log serves many commits.
                tokio::task::yield_now().await;
            }
            db.flush_log()
        }
        Some(Pending::Sync(ticket)) => {
            synced.until(ticket).await;
            // Acknowledge only what a finished sync covers: if the sync thread stopped
            // without covering it, say so rather than "ok".
            db.sync_outcome(ticket).unwrap_or_else(|| {
                Err(kvsql_engine::Error::Storage(
                    "the commit was written but the log sync stopped before covering it; \
                     it may not survive a power loss"
                        .into(),
                ))
            })
        }
    };
    match durable {
        Ok(()) => responses,
        Err(e) => vec![crate::sink::error_response(id, &e)],
    }
}

/// Where a point statement runs: on the connection's task, or (after `SLOW_STREAK`
/// slow runs there in a row) on the blocking pool for its next `POOL_RUNS` runs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Placement {
    /// Runs left on the blocking pool before trying the connection's task again.
    pool_runs: u32,
    /// Runs on the connection's task in a row that took INLINE_BELOW or longer.
    slow_runs: u8,
    /// Untimed runs on the connection's task before the next timed one.
    untimed: u8,
}

impl Placement {
    /// Whether the next run goes on the connection's task.
    fn inline(&self) -> bool {
        self.pool_runs == 0
    }

    /// Whether to time the next run on the connection's task (see [`TIME_EVERY`]); a
    /// run that is timed must be reported to [`Placement::ran_inline`].
    fn timed(&mut self) -> bool {
        if self.slow_runs > 0 || self.untimed == 0 {
            self.untimed = TIME_EVERY - 1;
            true
        } else {
            self.untimed -= 1;
            false
        }
    }

    /// A run on the connection's task took `spent`.
    fn ran_inline(&mut self, spent: Duration) {
        if spent < INLINE_BELOW {
            self.slow_runs = 0;
            return;
        }
        self.slow_runs += 1;
        if self.slow_runs >= SLOW_STREAK {
            self.slow_runs = 0;
            self.pool_runs = POOL_RUNS;
        }
    }

    /// A run went to the blocking pool.
    fn ran_on_pool(&mut self) {
        self.pool_runs = self.pool_runs.saturating_sub(1);
        // Back on the connection's task, time the first run.
        self.untimed = 0;
    }
}

/// A prepared statement of the connection.
struct Kept {
    statement: Prepared,
    /// Where its next run goes, if it is a point statement.
    placement: Placement,
    /// The columns the client was told at prepare: a compact answer leaves them out, so
    /// it is sent only while the statement's columns are still these.
    announced: Arc<[pb::Column]>,
}

/// A request for the session's blocking thread.
enum Work {
    Sql {
        sql: String,
        params: Vec<Value>,
        max_rows: u32,
    },
    Prepared {
        statement_id: u64,
        kept: Box<Kept>,
        params: Vec<Value>,
        max_rows: u32,
        /// The client asked for a compact answer.
        compact: bool,
    },
    Prepare {
        sql: String,
        statement_id: u64,
    },
    Metadata(pb::Metadata),
}

fn engine_value(v: pb::Value) -> Value {
    use pb::value::Kind as V;
    match v.kind {
        None => Value::Null,
        Some(V::Boolean(b)) => Value::Boolean(b),
        Some(V::Integer(i)) => Value::Integer(i),
        Some(V::Real(r)) => Value::Real(r),
        Some(V::Text(s)) => Value::Text(s),
        Some(V::Blob(b)) => Value::Blob(b),
    }
}

/// Reads the preamble and hello; answers with the server hello or an error.
#[allow(clippy::too_many_arguments)]
async fn handshake(
    reader: &mut Reader,
    writer: &mut Writer,
    config: &Config,
    session_id: u64,
    key: u64,
    admitted: bool,
    registry: &Registry,
    db: &Database,
) -> Result<(String, Option<kvsql_engine::User>), String> {
    let preamble = reader
        .read_raw::<4>()
        .await
        .map_err(|e| format!("no preamble: {e}"))?;
    if preamble != PREAMBLE {
        return refuse(
            writer,
            "not a kvsql client: the connection must start with \"KVSQ\"".into(),
        )
        .await;
    }
    let request: pb::Request = match reader.next().await {
        Ok(Some(request)) => request,
        Ok(None) => return Err("closed before hello".into()),
        Err(e) => return refuse(writer, format!("bad hello frame: {e}")).await,
    };
    if let Some(request::Kind::CancelOther(other)) = &request.kind {
        // Answered the same whether or not the key matched, so that it reveals nothing.
        let target = registry
            .lock()
            .expect("poisoned")
            .get(&other.session_id)
            .filter(|(k, _)| *k == other.cancel_key)
            .map(|(_, state)| state.clone());
        if let Some(state) = target {
            state.lock().expect("poisoned").cancel(None);
        }
        let _ = send(writer, request.id, Kind::Done(pb::Done {})).await;
        return Err(format!("cancel request for session {}", other.session_id));
    }
    let Some(request::Kind::Hello(hello)) = request.kind else {
        return refuse(writer, "the first request must be a hello".into()).await;
    };
    if !admitted {
        // Answer the hello (rather than closing at once) so the client reads a reason.
        let message = format!(
            "too many connections: this server serves at most {} at once (--max-connections)",
            config.max_connections
        );
        let _ = send(
            writer,
            request.id,
            Kind::Error(error("53300", message.clone())),
        )
        .await;
        return Err(message);
    }
    if hello.major != PROTOCOL_MAJOR {
        return refuse(
            writer,
            format!(
            "unsupported protocol version {}.{}; this server speaks {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}",
            hello.major, hello.minor
        ),
        )
        .await;
    }
    let auth_required = match db.auth_required() {
        Ok(required) => required,
        Err(e) => return refuse(writer, format!("cannot read the users: {e}")).await,
    };
    let reply = Kind::Hello(pb::ServerHello {
        major: PROTOCOL_MAJOR,
        minor: PROTOCOL_MINOR,
        server_version: env!("CARGO_PKG_VERSION").into(),
        session_id,
        cancel_key: key,
        auth_required,
    });
    send(writer, request.id, reply)
        .await
        .map_err(|e| format!("cannot answer hello: {e}"))?;
    if !auth_required {
        return Ok((hello.client_name, None));
    }
    // Nothing but a login until one succeeds.
    let request: pb::Request = match reader.next().await {
        Ok(Some(request)) => request,
        Ok(None) => return Err("closed before logging in".into()),
        Err(e) => return refuse(writer, format!("bad login frame: {e}")).await,
    };
    let Some(request::Kind::Login(login)) = request.kind else {
        let message = "authentication required: this server accepts only a login \
                       (user name and password) after the hello";
        let _ = send(writer, request.id, Kind::Error(error("28000", message))).await;
        return Err(message.into());
    };
    let checker = db.clone();
    let user_name = login.user.clone();
    let verified =
        tokio::task::spawn_blocking(move || checker.authenticate(&user_name, &login.password))
            .await
            .map_err(|e| e.to_string())?;
    match verified {
        Ok(Some(user)) => {
            send(writer, request.id, Kind::Done(pb::Done {}))
                .await
                .map_err(|e| format!("cannot answer login: {e}"))?;
            Ok((hello.client_name, Some(user)))
        }
        Ok(None) => {
            // The same answer, after the same delay, for a wrong password and an
            // unknown user: guessing is slow and tells nothing.
            tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
            let message = "login failed: wrong user name or password";
            let _ = send(writer, request.id, Kind::Error(error("28P01", message))).await;
            Err(format!("{message} (user {:?})", login.user))
        }
        Err(e) => refuse(writer, format!("cannot check the login: {e}")).await,
    }
}

/// How long a failed login waits before its answer.
const LOGIN_FAILURE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// Sends a protocol error and gives the reason to the caller.
async fn refuse<T>(writer: &mut Writer, message: String) -> Result<T, String> {
    let _ = send(writer, 0, Kind::Error(protocol_error(message.clone()))).await;
    Err(message)
}

/// The connection's parts a running request uses: it writes responses, and reads ahead
/// meanwhile so that cancels and fetches reach it at once.
struct Conn<'a> {
    writer: &'a mut Writer,
    reader: &'a mut Reader,
    queue: &'a mut VecDeque<Incoming>,
    /// False once the client's side of the stream ended (or broke the protocol).
    open: &'a mut bool,
    state: &'a Arc<Mutex<ConnState>>,
}

impl Conn<'_> {
    /// Whether to read ahead now.
    fn may_read(&self) -> bool {
        *self.open && self.queue.len() < QUEUE_LIMIT
    }

    fn accept(&mut self, frame: Result<Option<pb::Request>, FrameError>) {
        *self.open = accept(frame, self.state, self.queue);
    }
}

/// Runs a request on a blocking thread, forwarding its responses as they come (pausing
/// after `max_rows` rows until a fetch). Returns the session for the next request (and a
/// prepared statement to keep), or None when the connection is gone.
async fn run(
    id: u64,
    work: Work,
    mut session: Session,
    mut conn: Conn<'_>,
    timeout_seconds: u64,
) -> Option<(Session, Option<(u64, Kept)>)> {
    let state = conn.state;
    let cancel = Arc::new(AtomicBool::new(false));
    // The statement timeout sets the same flag a cancel does, and says so.
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = (timeout_seconds > 0).then(|| {
        let (cancel, timed_out) = (cancel.clone(), timed_out.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(timeout_seconds)).await;
            timed_out.store(true, Ordering::Relaxed);
            cancel.store(true, Ordering::Relaxed);
        })
    });
    let (fetch_tx, mut fetch_rx) = mpsc::unbounded_channel();
    state.lock().expect("poisoned").running = Some(Running {
        id,
        cancel: cancel.clone(),
        fetch: fetch_tx,
    });
    let max_rows = match &work {
        Work::Sql { max_rows, .. } | Work::Prepared { max_rows, .. } => *max_rows,
        _ => 0,
    };
    let (tx, mut rx) = mpsc::channel(4);
    let flag = cancel.clone();
    let task = tokio::task::spawn_blocking(move || {
        session.set_interrupt(Some(flag));
        let mut sink = ChannelSink::new(id, tx);
        if let Work::Prepared {
            kept,
            compact: true,
            max_rows: 0,
            ..
        } = &work
        {
            sink = sink.compact(kept.announced.clone());
        }
        let mut kept = None;
        let result = match work {
            Work::Sql { sql, params, .. } => {
                debug!(id, sql = %sql, "query");
                session.execute_with(&sql, &params, &mut sink)
            }
            Work::Prepared {
                statement_id,
                kept: mut statement,
                params,
                ..
            } => {
                let result = session.execute_prepared(&mut statement.statement, params, &mut sink);
                kept = Some((statement_id, *statement));
                result
            }
            Work::Prepare { sql, statement_id } => match session.prepare(&sql) {
                Ok(statement) => {
                    let reply = sink.prepared(statement_id, &statement);
                    kept = Some((
                        statement_id,
                        Kept {
                            announced: crate::sink::wire_columns(&statement.columns).into(),
                            statement,
                            placement: Placement::default(),
                        },
                    ));
                    reply
                }
                Err(e) => Err(e),
            },
            Work::Metadata(metadata) => metadata_rows(&mut session, &metadata, &mut sink),
        };
        sink.finish(result);
        session.set_interrupt(None);
        (session, kept)
    });
    let mut connected = true;
    let mut budget: Option<u64> = (max_rows > 0).then_some(u64::from(max_rows));
    loop {
        let outgoing = tokio::select! {
            outgoing = rx.recv() => match outgoing {
                Some(outgoing) => outgoing,
                None => break,
            },
            frame = conn.reader.next(), if conn.may_read() => {
                conn.accept(frame);
                continue;
            }
        };
        let mut rows = match outgoing {
            Outgoing::Rows(rows) => rows,
            // Rows made as messages, under a budget: cut as encoded rows are cut.
            Outgoing::Response(pb::Response {
                kind: Some(Kind::Rows(batch)),
                ..
            }) if budget.is_some() => {
                let mut rows = kvsql_protocol::codec::EncodedRows::default();
                for row in &batch.rows {
                    rows.push_message(row);
                }
                rows
            }
            Outgoing::Response(mut response) => {
                if let Some(Kind::Error(e)) = &mut response.kind
                    && e.code == "57014"
                    && timed_out.load(Ordering::Relaxed)
                {
                    e.message = format!(
                        "statement timeout: the statement ran longer than {timeout_seconds} \
                         s (--statement-timeout)"
                    );
                }
                let written = async {
                    conn.writer.write(&response).await?;
                    if rx.is_empty() {
                        conn.writer.flush().await?;
                    }
                    Ok::<(), std::io::Error>(())
                };
                if let Err(e) = written.await {
                    debug!(id, "client went away mid-result: {e}");
                    connected = false;
                    break;
                }
                continue;
            }
        };
        let last = rx.is_empty();
        match forward_rows(
            &mut conn,
            id,
            &mut rows,
            &mut budget,
            &mut fetch_rx,
            &cancel,
            last,
        )
        .await
        {
            Ok(()) => {}
            Err(Stop::Cancelled) => break,
            Err(Stop::Gone) => {
                connected = false;
                break;
            }
        }
    }
    // Dropping the receiver makes the statement's next send fail, which aborts it and
    // rolls its transaction back; either way wait for it to stop.
    let stopped_early = !rx.is_closed() || rx.try_recv().is_ok();
    drop(rx);
    if let Some(timer) = timer {
        timer.abort();
    }
    state.lock().expect("poisoned").running = None;
    let outcome = task.await.ok();
    if connected && stopped_early && cancel.load(Ordering::Relaxed) {
        // Cancelled while suspended: the statement's own error could not be sent.
        let refusal = Kind::Error(error("57014", "statement cancelled"));
        if send(conn.writer, id, refusal).await.is_err() {
            return None;
        }
    }
    if connected { outcome } else { None }
}

/// Why forwarding rows stopped early.
enum Stop {
    /// The client went away.
    Gone,
    /// The client cancelled while the statement waited for it to fetch.
    Cancelled,
}

/// Sends a batch of encoded rows to the client. Under a row budget (a fetch of N rows
/// at a time) it sends at most the budget, then says `suspended` and waits for the
/// client to ask for more (or to cancel, which sets `cancel`).
async fn forward_rows(
    conn: &mut Conn<'_>,
    id: u64,
    rows: &mut kvsql_protocol::codec::EncodedRows,
    budget: &mut Option<u64>,
    fetch_rx: &mut mpsc::UnboundedReceiver<FetchMsg>,
    cancel: &AtomicBool,
    last: bool,
) -> Result<(), Stop> {
    if budget.is_none() && rows.bytes() >= WHOLE_FRAME_BYTES {
        // A large batch with no budget to cut it by: one frame, written from the batch's
        // own buffer instead of copied into the write buffer.
        let frame = rows.whole_frame(id);
        conn.writer
            .write_through(frame)
            .await
            .map_err(|_| Stop::Gone)?;
        // Out of TLS's buffer too, as a flush after a full write buffer does.
        conn.writer.flush().await.map_err(|_| Stop::Gone)?;
        return Ok(());
    }
    let mut sent = 0;
    while sent < rows.rows() {
        if *budget == Some(0) {
            // Wait for the client to ask for more (or to cancel).
            if send(conn.writer, id, Kind::Suspended(pb::Suspended {}))
                .await
                .is_err()
            {
                return Err(Stop::Gone);
            }
            let message = loop {
                tokio::select! {
                    message = fetch_rx.recv() => break message,
                    frame = conn.reader.next(), if conn.may_read() => conn.accept(frame),
                }
            };
            match message {
                Some(FetchMsg::More(0)) => *budget = None,
                Some(FetchMsg::More(n)) => *budget = Some(u64::from(n)),
                Some(FetchMsg::Cancel) | None => {
                    cancel.store(true, Ordering::Relaxed);
                    return Err(Stop::Cancelled);
                }
            }
        }
        let take = budget.map_or(rows.rows() - sent, |b| (b as usize).min(rows.rows() - sent));
        rows.write_frame(id, sent..sent + take, &mut conn.writer.buf);
        sent += take;
        if let Some(b) = budget {
            *b -= take as u64;
        }
        if conn.writer.buf.len() >= WRITE_CHUNK {
            conn.writer.flush().await.map_err(|_| Stop::Gone)?;
        }
    }
    if last {
        conn.writer.flush().await.map_err(|_| Stop::Gone)?;
    }
    Ok(())
}

/// Answers a metadata request with rows.
fn metadata_rows(
    session: &mut Session,
    metadata: &pb::Metadata,
    sink: &mut ChannelSink,
) -> kvsql_engine::Result<()> {
    let quoted = format!("\"{}\"", metadata.table.replace('"', "\"\""));
    match pb::metadata::Kind::try_from(metadata.kind).unwrap_or(pb::metadata::Kind::Tables) {
        pb::metadata::Kind::Tables => session.execute("SHOW TABLES", sink),
        pb::metadata::Kind::Columns => session.execute(&format!("DESCRIBE {quoted}"), sink),
        pb::metadata::Kind::Indexes => {
            let table = (!metadata.table.is_empty()).then_some(metadata.table.as_str());
            let indexes = session.indexes(table)?;
            let text = |name: &str| kvsql_engine::ColumnInfo {
                name: name.into(),
                data_type: Some(kvsql_engine::DataType::Text),
            };
            sink.columns(&[
                text("table"),
                text("index"),
                text("columns"),
                kvsql_engine::ColumnInfo {
                    name: "unique".into(),
                    data_type: Some(kvsql_engine::DataType::Boolean),
                },
            ])?;
            let n = indexes.len() as u64;
            for (table, index, columns, unique) in indexes {
                sink.row(vec![
                    Value::Text(table),
                    Value::Text(index),
                    Value::Text(columns.join(", ")),
                    Value::Boolean(unique),
                ])?;
            }
            sink.complete(&kvsql_engine::Outcome {
                tag: "INDEXES",
                rows_affected: 0,
                rows_returned: n,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session polls while it is the only one its thread answers, however many idle
    /// sessions share the thread, and stops while another one is answered too.
    #[test]
    fn a_session_polls_only_while_no_other_session_of_its_thread_is_answered() {
        let (mut busy, mut idle, mut other) =
            (Served::default(), Served::default(), Served::default());
        // The first wait of a session measures from nothing: it does not poll yet.
        idle.one();
        idle.alone();
        busy.one();
        assert!(!busy.alone());
        // From then on only `busy` sends; `idle` stays connected and silent.
        for _ in 0..5 {
            busy.one();
            assert!(busy.alone(), "an idle session stopped the polling");
        }
        // Two requests in one turn (pipelined) are still the session's own.
        busy.one();
        busy.one();
        assert!(busy.alone());
        // Another session is answered between two of its requests: no polling...
        busy.one();
        other.one();
        assert!(!busy.alone());
        assert!(!other.alone());
        // ... and it comes back once the other one is quiet again.
        busy.one();
        assert!(busy.alone());
    }

    #[test]
    fn a_point_statement_moves_to_the_pool_only_after_a_streak_of_slow_runs() {
        let fast = INLINE_BELOW / 2;
        let slow = INLINE_BELOW * 4;
        let mut p = Placement::default();
        assert!(p.inline());
        // Slow runs broken by a fast one (a preempted thread now and then) stay inline.
        for _ in 0..10 {
            for _ in 1..SLOW_STREAK {
                p.ran_inline(slow);
            }
            p.ran_inline(fast);
            assert!(p.inline(), "{p:?}");
        }
        // A streak (cold reads from disk) sends the next POOL_RUNS runs to the pool...
        for _ in 0..SLOW_STREAK {
            p.ran_inline(slow);
        }
        for _ in 0..POOL_RUNS {
            assert!(!p.inline(), "{p:?}");
            p.ran_on_pool();
        }
        // ... then the connection's task is tried again, with a fresh count.
        assert!(p.inline());
        assert_eq!(p, Placement::default());
        p.ran_inline(slow);
        assert!(p.inline());
    }

    /// Runs as the connection times them: one in TIME_EVERY, and each after a slow one.
    fn run(p: &mut Placement, spent: Duration) {
        if p.timed() {
            p.ran_inline(spent);
        }
    }

    #[test]
    fn runs_are_timed_one_in_a_few_yet_a_streak_of_slow_ones_still_moves_to_the_pool() {
        let mut p = Placement::default();
        let timed = (0..TIME_EVERY as usize * 10).filter(|_| p.timed()).count();
        assert_eq!(timed, 10);
        // Fast runs, then every run slow: on the pool within a sampling period and a
        // streak, wherever in the period the slowness starts.
        for offset in 0..TIME_EVERY as usize {
            let mut p = Placement::default();
            for _ in 0..offset {
                run(&mut p, INLINE_BELOW / 2);
            }
            let mut runs = 0;
            while p.inline() {
                run(&mut p, INLINE_BELOW * 4);
                runs += 1;
                assert!(runs <= TIME_EVERY as usize + SLOW_STREAK as usize, "{p:?}");
            }
            // Back from the pool, the first run is timed.
            for _ in 0..POOL_RUNS {
                p.ran_on_pool();
            }
            assert!(p.timed());
        }
    }
}
