//! The async driver: a [`Client`] owns one connection, shared by all its clones.
//!
//! A caller encodes its request straight into the connection's outgoing buffer, and a
//! writer task sends whatever has gathered there with one write: requests made while a
//! write is under way share the next one (pipelining). Requests are answered in order; a
//! reader task routes each response to the request it answers (checking the id). For a
//! request answered whole (a statement run to its end), the reader itself gathers the
//! rows and hands the caller its results once, so such a request costs no channel.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::codec::{self, DEFAULT_MAX_FRAME, PREAMBLE};
use crate::error::Error;
use crate::pb::{self, response::Kind};
use crate::row::{Column, ColumnType, Row, Value};
use crate::{PROTOCOL_MAJOR, PROTOCOL_MINOR};

/// What the server said about itself at the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub major: u32,
    pub minor: u32,
    pub server_version: String,
    pub session_id: u64,
    /// With the session id and the address, lets another connection cancel what this
    /// session runs (see [`Client::cancel_token`]).
    pub cancel_key: u64,
}

/// The result of one statement.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// Empty for statements that return no rows.
    pub columns: Arc<[Column]>,
    pub rows: Vec<Row>,
    /// "SELECT", "INSERT", ...
    pub tag: String,
    pub rows_affected: u64,
}

/// Where the responses to one request go.
enum Replies {
    /// Each response as it arrives, to a reader that may take its time (a stream).
    Stream(mpsc::Sender<pb::Response>),
    /// Gathered by the reader task into results, handed over when the request ends.
    Whole(
        Box<Collector>,
        oneshot::Sender<Result<Vec<QueryResult>, Error>>,
    ),
    /// The requests of a [`Pipeline`], one collector each, in order; the results go
    /// over together once the last request ends.
    Batch(Box<Batch>),
    /// Nobody reads them (a rollback or cancel sent from a destructor).
    Discard,
}

/// The requests of a pipeline being answered.
struct Batch {
    /// One per request, in the order sent.
    collectors: Vec<Collector>,
    /// Results of the requests answered so far.
    results: Vec<Result<Vec<QueryResult>, Error>>,
    tx: oneshot::Sender<Vec<Result<Vec<QueryResult>, Error>>>,
}

impl Batch {
    /// Takes in the next response; true once every request has ended.
    fn feed(&mut self, response: pb::Response, last: bool) -> bool {
        let Some(collector) = self.collectors.get_mut(self.results.len()) else {
            return true;
        };
        collector.feed(response);
        if last {
            let done = std::mem::replace(collector, Collector::new(0, None));
            self.results.push(done.finish());
        }
        self.results.len() == self.collectors.len()
    }
}

/// What callers share with the writer and reader tasks: requests encoded and not yet
/// written, and requests written (or about to be) and not yet fully answered, in order.
/// Both change under one lock, so the order of `waiting` is the order on the wire. Once
/// `closed` is set (the connection ended) nothing more is queued, so no caller can wait
/// forever.
#[derive(Default)]
struct Outbox {
    /// Frames for the writer task to send.
    buf: Vec<u8>,
    waiting: VecDeque<Replies>,
    closed: bool,
    /// Every `Client` of the connection is gone: send what is left, then hang up.
    hangup: bool,
}

struct Shared {
    outbox: Mutex<Outbox>,
    /// Wakes the writer task: there are frames to send, or it is time to hang up.
    wake: Notify,
}

/// Dropped with the last clone of a [`Client`]: tells the writer task to hang up.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.outbox.lock().expect("poisoned").hangup = true;
        self.0.wake.notify_one();
    }
}

/// The two directions of a connection, plain TCP or TLS.
type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A connection to a kvsql server. Clones share the connection.
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
    next_id: Arc<AtomicU64>,
    server: Arc<ServerInfo>,
    /// The server's address, for cancel requests.
    addr: std::net::SocketAddr,
    /// How this connection was encrypted, for cancel requests' own connections.
    tls: Option<crate::TlsConfig>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.addr)
            .field("session_id", &self.server.session_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects and performs the version handshake, giving up after 10 seconds (use
    /// [`crate::Config`] for other settings).
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Client, Error> {
        let defaults = crate::Config::default();
        Self::connect_timeout(addr, &defaults.client_name, defaults.connect_timeout).await
    }

    /// Connects, naming the client program in the handshake (it appears in server logs),
    /// giving up after 10 seconds.
    pub async fn connect_as(addr: impl ToSocketAddrs, client_name: &str) -> Result<Client, Error> {
        let timeout = crate::Config::default().connect_timeout;
        Self::connect_timeout(addr, client_name, timeout).await
    }

    /// Connects and performs the handshake, failing if both take longer than `timeout`.
    pub async fn connect_timeout(
        addr: impl ToSocketAddrs,
        client_name: &str,
        timeout: std::time::Duration,
    ) -> Result<Client, Error> {
        Self::connect_login(addr, client_name, timeout, None, None).await
    }

    /// Connects and logs in as `user` with `password` (servers with users require it).
    pub async fn connect_user(
        addr: impl ToSocketAddrs,
        user: &str,
        password: &str,
    ) -> Result<Client, Error> {
        let defaults = crate::Config::default();
        let login = Some((user, password));
        Self::connect_login(
            addr,
            &defaults.client_name,
            defaults.connect_timeout,
            login,
            None,
        )
        .await
    }

    /// Connects over TLS (the server's certificate checked as `tls` says), logging in
    /// when `login` is given.
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        tls: &crate::TlsConfig,
        login: Option<(&str, &str)>,
    ) -> Result<Client, Error> {
        let defaults = crate::Config::default();
        Self::connect_login(
            addr,
            &defaults.client_name,
            defaults.connect_timeout,
            login,
            Some(tls),
        )
        .await
    }

    /// Connects, performs the handshake and, when the server requires it, logs in.
    pub(crate) async fn connect_login(
        addr: impl ToSocketAddrs,
        client_name: &str,
        timeout: std::time::Duration,
        login: Option<(&str, &str)>,
        tls: Option<&crate::TlsConfig>,
    ) -> Result<Client, Error> {
        tokio::time::timeout(timeout, Self::connect_now(addr, client_name, login, tls))
            .await
            .map_err(|_| {
                Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from the server within {timeout:?}"),
                ))
            })?
    }

    async fn connect_now(
        addr: impl ToSocketAddrs,
        client_name: &str,
        login: Option<(&str, &str)>,
        tls: Option<&crate::TlsConfig>,
    ) -> Result<Client, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let (read, write): (ReadHalf, WriteHalf) = match tls {
            None => {
                let (read, write) = stream.into_split();
                (Box::new(read), Box::new(write))
            }
            Some(tls) => {
                let (read, write) = tokio::io::split(tls.wrap(stream).await?);
                (Box::new(read), Box::new(write))
            }
        };
        let mut reader = BufReader::new(read);
        let mut writer = BufWriter::new(write);

        writer.write_all(&PREAMBLE).await?;
        let hello = pb::Request {
            id: 0,
            kind: Some(pb::request::Kind::Hello(pb::ClientHello {
                major: PROTOCOL_MAJOR,
                minor: PROTOCOL_MINOR,
                client_name: client_name.to_string(),
            })),
        };
        codec::write_frame(&mut writer, &hello).await?;
        writer.flush().await?;
        let mut buf = Vec::new();
        let reply: pb::Response = codec::read_frame(&mut reader, DEFAULT_MAX_FRAME, &mut buf)
            .await
            .map_err(frame_error)?
            .ok_or(Error::Closed)?;
        let (server, auth_required) = match reply.kind {
            Some(Kind::Hello(h)) => (
                ServerInfo {
                    major: h.major,
                    minor: h.minor,
                    server_version: h.server_version,
                    session_id: h.session_id,
                    cancel_key: h.cancel_key,
                },
                h.auth_required,
            ),
            Some(Kind::Error(e)) => return Err(server_error(e)),
            other => return Err(Error::Protocol(format!("expected hello, got {other:?}"))),
        };
        if auth_required {
            let Some((user, password)) = login else {
                return Err(Error::Server {
                    code: "28000".into(),
                    message: "this server requires a user name and password".into(),
                    position: None,
                    retryable: false,
                });
            };
            let request = pb::Request {
                id: 0,
                kind: Some(pb::request::Kind::Login(pb::Login {
                    user: user.to_string(),
                    password: password.to_string(),
                })),
            };
            codec::write_frame(&mut writer, &request).await?;
            writer.flush().await?;
            let reply: pb::Response = codec::read_frame(&mut reader, DEFAULT_MAX_FRAME, &mut buf)
                .await
                .map_err(frame_error)?
                .ok_or(Error::Closed)?;
            match reply.kind {
                Some(Kind::Done(_)) => {}
                Some(Kind::Error(e)) => return Err(server_error(e)),
                other => {
                    return Err(Error::Protocol(format!(
                        "expected login reply, got {other:?}"
                    )));
                }
            }
        }

        let shared = Arc::new(Shared {
            outbox: Mutex::default(),
            wake: Notify::new(),
        });
        tokio::spawn(write_loop(writer.into_inner(), shared.clone()));
        tokio::spawn(read_loop(reader, shared.clone()));
        Ok(Client {
            handle: Arc::new(Handle(shared)),
            next_id: Arc::new(AtomicU64::new(1)),
            server: Arc::new(server),
            addr: peer,
            tls: tls.cloned(),
        })
    }

    /// What the server reported at the handshake.
    pub fn server_info(&self) -> &ServerInfo {
        &self.server
    }

    /// Runs one or more `;`-separated statements and returns each one's result.
    pub async fn simple_query(&self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        self.run(
            pb::request::Kind::Query(pb::Query {
                sql: sql.to_string(),
                params: Vec::new(),
                max_rows: 0,
            }),
            None,
        )
        .await
    }

    /// Sends a request and waits for its whole answer, gathered by the reader task.
    /// `known` holds the columns of a prepared statement, which a compact `result`
    /// leaves out.
    pub(crate) async fn run(
        &self,
        kind: pb::request::Kind,
        known: Option<Arc<[Column]>>,
    ) -> Result<Vec<QueryResult>, Error> {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let collector = Box::new(Collector::new(id, known));
        self.send_request(id, kind, Some(Replies::Whole(collector, tx)))?;
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// Sends a request; returns its id and where its responses arrive, one by one.
    pub(crate) fn start(
        &self,
        kind: pb::request::Kind,
    ) -> Result<(u64, mpsc::Receiver<pb::Response>), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (replies, responses) = mpsc::channel(16);
        self.send_request(id, kind, Some(Replies::Stream(replies)))?;
        Ok((id, responses))
    }

    /// Queues a request whose responses nobody reads (they are discarded).
    pub(crate) fn send_only(&self, kind: pb::request::Kind) -> Result<(), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send_request(id, kind, Some(Replies::Discard))
    }

    /// Queues a request that gets no response at all (a fetch).
    pub(crate) fn send_untracked(&self, kind: pb::request::Kind) -> Result<(), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send_request(id, kind, None)
    }

    /// Encodes the request into the outgoing buffer and queues where its responses go.
    fn send_request(
        &self,
        id: u64,
        kind: pb::request::Kind,
        replies: Option<Replies>,
    ) -> Result<(), Error> {
        let request = pb::Request {
            id,
            kind: Some(kind),
        };
        self.enqueue(|buf| codec::encode_frame(&request, buf), replies)
    }

    /// Adds frames to the outgoing buffer (with `write`) and, in the same step, queues
    /// where their responses go; wakes the writer task if the buffer was empty (else a
    /// wake-up is already on its way).
    fn enqueue(
        &self,
        write: impl FnOnce(&mut Vec<u8>),
        replies: Option<Replies>,
    ) -> Result<(), Error> {
        let shared = &self.handle.0;
        let was_empty = {
            let mut outbox = shared.outbox.lock().expect("poisoned");
            if outbox.closed {
                return Err(Error::Closed);
            }
            let was_empty = outbox.buf.is_empty();
            write(&mut outbox.buf);
            if let Some(replies) = replies {
                outbox.waiting.push_back(replies);
            }
            was_empty
        };
        if was_empty {
            shared.wake.notify_one();
        }
        Ok(())
    }

    /// Starts a [`Pipeline`]: requests sent together with one write and answered
    /// together, without a round trip each.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            client: self,
            frames: Vec::new(),
            collectors: Vec::new(),
        }
    }

    /// The server's address and this session's id and cancel key.
    pub(crate) fn cancel_parts(
        &self,
    ) -> (std::net::SocketAddr, u64, u64, Option<crate::TlsConfig>) {
        (
            self.addr,
            self.server.session_id,
            self.server.cancel_key,
            self.tls.clone(),
        )
    }
}

/// Requests queued to go to the server together (from [`Client::pipeline`]): `run`
/// writes them all at once and waits for all their answers, as `redis-cli --pipe` or a
/// pipelined `redis-benchmark` does. Each request runs on its own, as if sent alone: one
/// that fails does not stop the others (inside a transaction, a failure aborts it, and
/// the requests after it fail too).
///
/// ```no_run
/// # async fn demo(client: &kvsql_protocol::Client) -> Result<(), kvsql_protocol::Error> {
/// let select = client.prepare("SELECT name FROM t WHERE id = $1").await?;
/// let mut pipeline = client.pipeline();
/// for id in 1..=16i64 {
///     pipeline.query(&select, &[&id]);
/// }
/// for result in pipeline.run().await {
///     let rows = result?.pop().map(|r| r.rows).unwrap_or_default();
///     println!("{} row(s)", rows.len());
/// }
/// # Ok(()) }
/// ```
pub struct Pipeline<'c> {
    client: &'c Client,
    /// The requests, encoded.
    frames: Vec<u8>,
    collectors: Vec<Collector>,
}

impl Pipeline<'_> {
    /// Adds a statement (text or prepared) with its parameters; its result is at the
    /// same position in what [`Pipeline::run`] returns.
    pub fn query<S: crate::ToStatement + ?Sized>(
        &mut self,
        statement: &S,
        params: crate::Params<'_>,
    ) -> &mut Self {
        let id = self.client.next_id.fetch_add(1, Ordering::Relaxed);
        let request = pb::Request {
            id,
            kind: Some(statement.request(crate::typed::wire_params(params), 0)),
        };
        codec::encode_frame(&request, &mut self.frames);
        self.collectors
            .push(Collector::new(id, statement.known_columns()));
        self
    }

    /// Requests added so far.
    pub fn len(&self) -> usize {
        self.collectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.collectors.is_empty()
    }

    /// Sends every request with one write and returns each one's results, in the order
    /// added. If the connection ends first, the requests not answered yet get
    /// [`Error::Closed`].
    pub async fn run(self) -> Vec<Result<Vec<QueryResult>, Error>> {
        let count = self.collectors.len();
        if count == 0 {
            return Vec::new();
        }
        let (tx, rx) = oneshot::channel();
        let batch = Batch {
            results: Vec::with_capacity(count),
            collectors: self.collectors,
            tx,
        };
        let frames = self.frames;
        let queued = self.client.enqueue(
            |buf| buf.extend_from_slice(&frames),
            Some(Replies::Batch(Box::new(batch))),
        );
        if queued.is_err() {
            return (0..count).map(|_| Err(Error::Closed)).collect();
        }
        let mut results = rx.await.unwrap_or_default();
        results.resize_with(count, || Err(Error::Closed));
        results
    }
}

/// Gathers the responses of request `id` into its results, as they arrive.
struct Collector {
    id: u64,
    /// The columns of a prepared statement, which a compact `result` leaves out.
    known: Option<Arc<[Column]>>,
    results: Vec<QueryResult>,
    /// The columns of the result being gathered, once its header came.
    columns: Option<Arc<[Column]>>,
    rows: Vec<Row>,
    /// Set by the final response (or the first that breaks the protocol); later
    /// responses of the request are then ignored.
    outcome: Option<Result<Vec<QueryResult>, Error>>,
}

impl Collector {
    fn new(id: u64, known: Option<Arc<[Column]>>) -> Self {
        Collector {
            id,
            known,
            results: Vec::new(),
            columns: None,
            rows: Vec::new(),
            outcome: None,
        }
    }

    /// Takes in the next response.
    fn feed(&mut self, response: pb::Response) {
        if self.outcome.is_none()
            && let Err(e) = self.take(response)
        {
            self.outcome = Some(Err(e));
        }
    }

    fn take(&mut self, response: pb::Response) -> Result<(), Error> {
        let response = answering(response, self.id)?;
        match response.kind {
            Some(Kind::Header(header)) => {
                self.columns = Some(columns_of(header.columns));
            }
            Some(Kind::Rows(batch)) => {
                let columns = self.columns.get_or_insert_with(|| Arc::from(Vec::new()));
                rows_into(batch.rows, columns, &mut self.rows)?
            }
            Some(Kind::Complete(complete)) => self.results.push(QueryResult {
                columns: self.columns.take().unwrap_or_else(|| Arc::from(Vec::new())),
                rows: std::mem::take(&mut self.rows),
                tag: complete.tag,
                rows_affected: complete.rows_affected,
            }),
            Some(Kind::Done(_)) => self.outcome = Some(Ok(std::mem::take(&mut self.results))),
            Some(Kind::Result(result)) => {
                let Some(columns) = self.known.clone() else {
                    return Err(Error::Protocol(
                        "a compact result for a request that did not ask for one".into(),
                    ));
                };
                let mut rows = std::mem::take(&mut self.rows);
                rows_into(result.rows, &columns, &mut rows)?;
                self.results.push(QueryResult {
                    columns,
                    rows,
                    tag: result.tag,
                    rows_affected: result.rows_affected,
                });
                self.outcome = Some(Ok(std::mem::take(&mut self.results)));
            }
            Some(Kind::Error(e)) => return Err(server_error(e)),
            Some(Kind::Hello(_) | Kind::Prepared(_) | Kind::Suspended(_)) | None => {
                return Err(Error::Protocol("unexpected response kind".into()));
            }
        }
        Ok(())
    }

    /// The results, once the request's final response has been fed.
    fn finish(self) -> Result<Vec<QueryResult>, Error> {
        self.outcome.unwrap_or(Err(Error::Closed))
    }
}

/// Turns wire rows into [`Row`]s of `columns`, refusing a row of another width.
pub(crate) fn rows_into(
    wire: Vec<pb::Row>,
    columns: &Arc<[Column]>,
    out: &mut impl Extend<Row>,
) -> Result<(), Error> {
    for row in wire {
        if row.values.len() != columns.len() {
            return Err(Error::Protocol(format!(
                "row of {} values for {} columns",
                row.values.len(),
                columns.len()
            )));
        }
        let values: Vec<Value> = row.values.into_iter().map(Value::from).collect();
        out.extend(std::iter::once(Row::new(columns.clone(), values)));
    }
    Ok(())
}

impl Client {
    /// Runs a script of statements, discarding their results; stops at the first error.
    pub async fn batch_execute(&self, script: &str) -> Result<(), Error> {
        self.simple_query(script).await.map(drop)
    }
}

/// Checks that `response` answers request `id`. An error for request 0 is about the
/// connection itself (a frame over the server's size limit, say): the server closes the
/// connection after it, so it is the answer to whatever was waiting.
pub(crate) fn answering(response: pb::Response, id: u64) -> Result<pb::Response, Error> {
    match response.kind {
        _ if response.id == id => Ok(response),
        Some(Kind::Error(e)) if response.id == 0 => Err(server_error(e)),
        _ => Err(Error::Protocol(format!(
            "response for request {} while waiting for {id}",
            response.id
        ))),
    }
}

pub(crate) fn columns_of(columns: Vec<pb::Column>) -> Arc<[Column]> {
    columns
        .into_iter()
        .map(|c| Column {
            column_type: ColumnType::try_from(c.r#type).unwrap_or(ColumnType::Unknown),
            name: c.name,
        })
        .collect::<Vec<_>>()
        .into()
}

pub(crate) fn server_error(e: pb::Error) -> Error {
    Error::Server {
        code: e.code,
        message: e.message,
        position: (e.line > 0).then_some((e.line, e.column)),
        retryable: e.retryable,
    }
}

fn frame_error(e: codec::FrameError) -> Error {
    match e {
        codec::FrameError::Io(e) => Error::Io(e),
        other => Error::Protocol(other.to_string()),
    }
}

/// Sends what callers have encoded, one write for all that gathered since the last;
/// hangs up once every `Client` is gone and everything is sent.
async fn write_loop(mut writer: WriteHalf, shared: Arc<Shared>) {
    let mut sending = Vec::new();
    loop {
        let hangup = {
            let mut outbox = shared.outbox.lock().expect("poisoned");
            std::mem::swap(&mut outbox.buf, &mut sending);
            outbox.hangup && sending.is_empty()
        };
        if hangup {
            break;
        }
        if sending.is_empty() {
            shared.wake.notified().await;
            continue;
        }
        if writer.write_all(&sending).await.is_err() || writer.flush().await.is_err() {
            // No one can be answered now; the reader task sees the end of the stream
            // (or an error) and tells whoever waits.
            shared.outbox.lock().expect("poisoned").closed = true;
            return;
        }
        sending.clear();
        if sending.capacity() > 1 << 20 {
            // After a huge request: do not keep its buffer for the life of the connection.
            sending = Vec::new();
        }
    }
    let _ = writer.shutdown().await;
}

/// Routes each response to the request it answers: the one at the front of the queue,
/// until its final response.
async fn read_loop(reader: BufReader<ReadHalf>, shared: Arc<Shared>) {
    // Frames are decoded straight from large reads: many responses per system call
    // when requests are pipelined.
    let mut reader = codec::FrameReader::new(reader, DEFAULT_MAX_FRAME);
    // The request being answered, taken off the front of the queue.
    let mut current: Option<Replies> = None;
    while let Ok(Some(response)) = reader.next::<pb::Response>().await {
        let last = matches!(
            response.kind,
            Some(Kind::Done(_) | Kind::Error(_) | Kind::Prepared(_) | Kind::Result(_))
        );
        if current.is_none() {
            current = shared.outbox.lock().expect("poisoned").waiting.pop_front();
        }
        match &mut current {
            // A caller that gave up (dropped its receiver) just misses its replies.
            Some(Replies::Stream(sender)) => {
                let _ = sender.send(response).await;
            }
            Some(Replies::Whole(collector, _)) => collector.feed(response),
            Some(Replies::Batch(batch)) => {
                if batch.feed(response, last)
                    && let Some(Replies::Batch(batch)) = current.take()
                {
                    let _ = batch.tx.send(batch.results);
                }
                continue;
            }
            Some(Replies::Discard) | None => {}
        }
        if last && let Some(Replies::Whole(collector, tx)) = current.take() {
            let _ = tx.send(collector.finish());
        }
    }
    // The connection ended: a pipeline keeps the answers it got (the rest are
    // `Closed`), and dropping the queued replies tells every other waiter.
    if let Some(Replies::Batch(batch)) = current.take() {
        let _ = batch.tx.send(batch.results);
    }
    let mut outbox = shared.outbox.lock().expect("poisoned");
    outbox.closed = true;
    outbox.waiting.clear();
}
