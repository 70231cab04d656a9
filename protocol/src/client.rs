//! The async driver: a [`Client`] owns one connection, shared by all its clones.
//!
//! Requests are written by a writer task and answered in order; a reader task routes each
//! response to the request it answers (checking the id), so many tasks can have
//! requests in flight on one connection at once (pipelining).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;

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

struct Pending {
    request: pb::Request,
    /// None for a request that gets no response (fetch).
    replies: Option<mpsc::Sender<pb::Response>>,
}

/// Requests written and not yet fully answered, in order. Once `closed` is set (the
/// connection ended) nothing more is queued, so no caller can wait forever.
#[derive(Default)]
struct Queue {
    closed: bool,
    waiting: VecDeque<mpsc::Sender<pb::Response>>,
}

type Waiting = Arc<Mutex<Queue>>;

/// The two directions of a connection, plain TCP or TLS.
type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A connection to a kvsql server. Clones share the connection.
#[derive(Clone)]
pub struct Client {
    requests: mpsc::UnboundedSender<Pending>,
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

        let (requests, receiver) = mpsc::unbounded_channel();
        let waiting: Waiting = Arc::default();
        tokio::spawn(write_loop(receiver, writer, waiting.clone()));
        tokio::spawn(read_loop(reader, waiting));
        Ok(Client {
            requests,
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
        let (id, responses) = self.start(pb::request::Kind::Query(pb::Query {
            sql: sql.to_string(),
            params: Vec::new(),
            max_rows: 0,
        }))?;
        collect(id, responses, None).await
    }

    /// Sends a request; returns its id and where its responses arrive.
    pub(crate) fn start(
        &self,
        kind: pb::request::Kind,
    ) -> Result<(u64, mpsc::Receiver<pb::Response>), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (replies, responses) = mpsc::channel(16);
        let request = pb::Request {
            id,
            kind: Some(kind),
        };
        self.requests
            .send(Pending {
                request,
                replies: Some(replies),
            })
            .map_err(|_| Error::Closed)?;
        Ok((id, responses))
    }

    /// Queues a request whose responses nobody reads (they are discarded).
    pub(crate) fn send_only(&self, kind: pb::request::Kind) -> Result<(), Error> {
        self.start(kind).map(drop)
    }

    /// Queues a request that gets no response at all (a fetch).
    pub(crate) fn send_untracked(&self, kind: pb::request::Kind) -> Result<(), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.requests
            .send(Pending {
                request: pb::Request {
                    id,
                    kind: Some(kind),
                },
                replies: None,
            })
            .map_err(|_| Error::Closed)
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

/// Reads the responses of request `id` up to its final one. `known` holds the columns of
/// a prepared statement, which a compact `result` leaves out.
pub(crate) async fn collect(
    id: u64,
    mut responses: mpsc::Receiver<pb::Response>,
    known: Option<Arc<[Column]>>,
) -> Result<Vec<QueryResult>, Error> {
    let mut results = Vec::new();
    let mut columns: Arc<[Column]> = Arc::from(Vec::new());
    let mut rows = Vec::new();
    loop {
        let response = responses.recv().await.ok_or(Error::Closed)?;
        let response = answering(response, id)?;
        match response.kind {
            Some(Kind::Header(header)) => {
                columns = columns_of(header.columns);
            }
            Some(Kind::Rows(batch)) => rows_into(batch.rows, &columns, &mut rows)?,
            Some(Kind::Complete(complete)) => results.push(QueryResult {
                columns: std::mem::replace(&mut columns, Arc::from(Vec::new())),
                rows: std::mem::take(&mut rows),
                tag: complete.tag,
                rows_affected: complete.rows_affected,
            }),
            Some(Kind::Done(_)) => return Ok(results),
            Some(Kind::Result(result)) => {
                let Some(columns) = known else {
                    return Err(Error::Protocol(
                        "a compact result for a request that did not ask for one".into(),
                    ));
                };
                rows_into(result.rows, &columns, &mut rows)?;
                results.push(QueryResult {
                    columns,
                    rows,
                    tag: result.tag,
                    rows_affected: result.rows_affected,
                });
                return Ok(results);
            }
            Some(Kind::Error(e)) => return Err(server_error(e)),
            Some(Kind::Hello(_) | Kind::Prepared(_) | Kind::Suspended(_)) | None => {
                return Err(Error::Protocol("unexpected response kind".into()));
            }
        }
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

async fn write_loop(
    mut requests: mpsc::UnboundedReceiver<Pending>,
    mut writer: BufWriter<WriteHalf>,
    waiting: Waiting,
) {
    while let Some(first) = requests.recv().await {
        let mut next = Some(first);
        // Write every queued request, then flush once: pipelined requests share syscalls.
        while let Some(Pending { request, replies }) = next.take() {
            {
                let mut queue = waiting.lock().expect("poisoned");
                if queue.closed {
                    return; // dropping `replies` tells the caller
                }
                if let Some(replies) = replies {
                    queue.waiting.push_back(replies);
                }
            }
            if codec::write_frame(&mut writer, &request).await.is_err() {
                return;
            }
            next = requests.try_recv().ok();
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_loop(mut reader: BufReader<ReadHalf>, waiting: Waiting) {
    let mut buf = Vec::new();
    while let Ok(Some(response)) =
        codec::read_frame::<_, pb::Response>(&mut reader, DEFAULT_MAX_FRAME, &mut buf).await
    {
        let last = matches!(
            response.kind,
            Some(Kind::Done(_) | Kind::Error(_) | Kind::Prepared(_) | Kind::Result(_))
        );
        let target = {
            let mut queue = waiting.lock().expect("poisoned");
            let target = queue.waiting.front().cloned();
            if last {
                queue.waiting.pop_front();
            }
            target
        };
        // A caller that gave up (dropped its receiver) just misses its replies.
        if let Some(sender) = target {
            let _ = sender.send(response).await;
        }
    }
    // The connection ended: dropping the queued senders tells every waiter.
    let mut queue = waiting.lock().expect("poisoned");
    queue.closed = true;
    queue.waiting.clear();
}
