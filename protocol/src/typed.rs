//! Typed parameters, prepared statements, streaming, transactions, cancellation and
//! retries: the parts of the driver beyond running SQL text.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::client::{Client, QueryResult, columns_of, rows_into, server_error};
use crate::codec::{self, DEFAULT_MAX_FRAME, PREAMBLE};
use crate::error::Error;
use crate::pb::{self, response::Kind};
use crate::row::{Column, ColumnType, Row, Value};

/// A Rust value usable as a statement parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Integer(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i8, i16, i32, i64, u8, u16, u32);

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for f32 {
    fn to_value(&self) -> Value {
        Value::Real(f64::from(*self))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Boolean(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

/// Parameters as the driver's methods take them: `&[&1, &"text", &None::<i64>]`.
pub type Params<'a> = &'a [&'a (dyn ToValue + Sync)];

pub(crate) fn wire_params(params: Params<'_>) -> Vec<pb::Value> {
    params
        .iter()
        .map(|p| pb::Value::from(p.to_value()))
        .collect()
}

/// Something to run: SQL text (one statement when it has parameters) or a prepared
/// [`Statement`].
pub trait ToStatement {
    #[doc(hidden)]
    fn request(&self, params: Vec<pb::Value>, max_rows: u32) -> pb::request::Kind;

    /// The columns of its rows when known before it runs (a prepared statement's), so
    /// that the server may leave them out of its answer.
    #[doc(hidden)]
    fn known_columns(&self) -> Option<Arc<[Column]>> {
        None
    }
}

impl ToStatement for str {
    fn request(&self, params: Vec<pb::Value>, max_rows: u32) -> pb::request::Kind {
        pb::request::Kind::Query(pb::Query {
            sql: self.to_string(),
            params,
            max_rows,
        })
    }
}
impl ToStatement for String {
    fn request(&self, params: Vec<pb::Value>, max_rows: u32) -> pb::request::Kind {
        self.as_str().request(params, max_rows)
    }
}
impl ToStatement for Statement {
    fn request(&self, params: Vec<pb::Value>, max_rows: u32) -> pb::request::Kind {
        pb::request::Kind::Execute(pb::Execute {
            statement_id: self.id,
            params,
            max_rows,
            // A whole answer in one frame; a cursor (max_rows) streams as usual.
            compact: max_rows == 0,
        })
    }

    fn known_columns(&self) -> Option<Arc<[Column]>> {
        Some(self.columns.clone())
    }
}

/// A statement prepared on the server: parsed and planned once, run with new
/// parameters each time. It belongs to the connection that prepared it.
#[derive(Clone, Debug)]
pub struct Statement {
    id: u64,
    params: Vec<ColumnType>,
    columns: Arc<[Column]>,
}

impl Statement {
    /// The type of each parameter, where the statement shows it (else `Unknown`).
    pub fn params(&self) -> &[ColumnType] {
        &self.params
    }

    /// The columns of the rows it returns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
}

impl Client {
    /// Runs one statement (text or prepared) with parameters and returns its results.
    pub async fn query_results<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Vec<QueryResult>, Error> {
        self.run(
            statement.request(wire_params(params), 0),
            statement.known_columns(),
        )
        .await
    }

    /// Runs a statement (text, or a prepared [`Statement`]) with parameters and returns
    /// the rows of its last result. Text without parameters may hold several
    /// `;`-separated statements.
    pub async fn query<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        let results = self.query_results(statement, params).await?;
        Ok(results
            .into_iter()
            .last()
            .map(|r| r.rows)
            .unwrap_or_default())
    }

    /// Runs a statement with parameters and returns its one row (an error for any other
    /// number).
    pub async fn query_one<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Row, Error> {
        let mut rows = self.query(statement, params).await?;
        match rows.len() {
            1 => Ok(rows.pop().expect("one row")),
            n => Err(Error::RowCount {
                expected: "exactly one",
                got: n,
            }),
        }
    }

    /// Runs a statement with parameters and returns its row, or None (an error for more
    /// than one).
    pub async fn query_opt<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error> {
        let mut rows = self.query(statement, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(Error::RowCount {
                expected: "at most one",
                got: n,
            }),
        }
    }

    /// Runs a statement with parameters and returns the rows it wrote.
    pub async fn execute<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<u64, Error> {
        let results = self.query_results(statement, params).await?;
        Ok(results.iter().map(|r| r.rows_affected).sum())
    }

    /// Rows deserialized into `T` (see [`Row::deserialize`]).
    pub async fn query_as<T: serde::de::DeserializeOwned, S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Vec<T>, Error> {
        self.query(statement, params)
            .await?
            .iter()
            .map(Row::deserialize)
            .collect()
    }

    /// Prepares a statement on the server.
    pub async fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        let (id, mut responses) = self.start(pb::request::Kind::Prepare(pb::Prepare {
            sql: sql.to_string(),
        }))?;
        let response = responses.recv().await.ok_or(Error::Closed)?;
        let response = crate::client::answering(response, id)?;
        match response.kind {
            Some(Kind::Prepared(p)) => Ok(Statement {
                id: p.statement_id,
                params: p
                    .param_types
                    .into_iter()
                    .map(|t| ColumnType::try_from(t).unwrap_or(ColumnType::Unknown))
                    .collect(),
                columns: columns_of(p.columns),
            }),
            Some(Kind::Error(e)) => Err(server_error(e)),
            other => Err(Error::Protocol(format!("expected prepared, got {other:?}"))),
        }
    }

    /// Forgets a prepared statement on the server.
    pub async fn close(&self, statement: Statement) -> Result<(), Error> {
        let close = pb::request::Kind::Close(pb::Close {
            statement_id: statement.id,
        });
        self.run(close, None).await.map(drop)
    }

    /// Runs a statement and streams its rows, fetching `batch` rows at a time from the
    /// server, which holds the rest back (and pauses the statement) until asked: a result
    /// of any size is read in bounded memory. Dropping the stream cancels the statement.
    pub async fn query_stream<S: ToStatement + ?Sized>(
        &self,
        statement: &S,
        params: Params<'_>,
    ) -> Result<RowStream, Error> {
        const BATCH: u32 = 1_000;
        let (id, responses) = self.start(statement.request(wire_params(params), BATCH))?;
        Ok(RowStream {
            client: self.clone(),
            id,
            batch: BATCH,
            responses,
            columns: Arc::from(Vec::new()),
            buffered: std::collections::VecDeque::new(),
            done: false,
            most_buffered: 0,
        })
    }

    /// Starts a transaction (BEGIN). It rolls back unless committed, also when dropped.
    pub async fn transaction(&self) -> Result<Transaction, Error> {
        self.simple_query("BEGIN").await?;
        Ok(Transaction {
            client: self.clone(),
            finished: false,
        })
    }

    /// Asks the server to cancel request `request_id` of this connection (or the one
    /// running, when 0).
    pub async fn cancel_request(&self, request_id: u64) -> Result<(), Error> {
        let cancel = pb::request::Kind::Cancel(pb::Cancel { request_id });
        self.run(cancel, None).await.map(drop)
    }

    /// A token that cancels, from anywhere, whatever this connection is running.
    pub fn cancel_token(&self) -> CancelToken {
        let (addr, session_id, key, tls) = self.cancel_parts();
        CancelToken {
            addr,
            session_id,
            key,
            tls,
        }
    }

    /// The catalog: every table.
    pub async fn tables(&self) -> Result<Vec<String>, Error> {
        self.metadata(pb::metadata::Kind::Tables, "")
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The catalog: columns of a table (column, type, nullable, default, primary_key).
    pub async fn columns(&self, table: &str) -> Result<Vec<Row>, Error> {
        self.metadata(pb::metadata::Kind::Columns, table).await
    }

    /// The catalog: indexes of a table, or of all tables when `table` is empty
    /// (table, index, columns, unique).
    pub async fn indexes(&self, table: &str) -> Result<Vec<Row>, Error> {
        self.metadata(pb::metadata::Kind::Indexes, table).await
    }

    async fn metadata(&self, kind: pb::metadata::Kind, table: &str) -> Result<Vec<Row>, Error> {
        let metadata = pb::request::Kind::Metadata(pb::Metadata {
            kind: kind as i32,
            table: table.to_string(),
        });
        let results = self.run(metadata, None).await?;
        Ok(results
            .into_iter()
            .last()
            .map(|r| r.rows)
            .unwrap_or_default())
    }
}

/// Rows of a statement, arriving in batches (see [`Client::query_stream`]).
pub struct RowStream {
    client: Client,
    id: u64,
    batch: u32,
    responses: mpsc::Receiver<pb::Response>,
    columns: Arc<[Column]>,
    buffered: std::collections::VecDeque<Row>,
    done: bool,
    /// The most rows held at once, for checking that memory stays bounded.
    most_buffered: usize,
}

impl RowStream {
    /// The most rows this stream has held in memory at once (at most one batch).
    pub fn most_buffered(&self) -> usize {
        self.most_buffered
    }

    /// The next row, or None at the end.
    pub async fn next(&mut self) -> Option<Result<Row, Error>> {
        std::future::poll_fn(|cx| self.poll_row(cx)).await
    }

    /// The columns of the rows (known once the first response arrived).
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn poll_row(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Row, Error>>> {
        loop {
            if let Some(row) = self.buffered.pop_front() {
                return Poll::Ready(Some(Ok(row)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let response = match self.responses.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::Closed)));
                }
                Poll::Ready(Some(response)) => response,
            };
            match response.kind {
                Some(Kind::Header(header)) => self.columns = columns_of(header.columns),
                Some(Kind::Rows(batch)) => {
                    if let Err(e) = rows_into(batch.rows, &self.columns, &mut self.buffered) {
                        self.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    self.most_buffered = self.most_buffered.max(self.buffered.len());
                }
                Some(Kind::Suspended(_)) => {
                    // Ask for the next batch; it is written behind any queued request.
                    let fetch = pb::request::Kind::Fetch(pb::Fetch {
                        request_id: self.id,
                        max_rows: self.batch,
                    });
                    if self.client.send_untracked(fetch).is_err() {
                        self.done = true;
                        return Poll::Ready(Some(Err(Error::Closed)));
                    }
                }
                Some(Kind::Complete(_)) => {}
                Some(Kind::Done(_)) => self.done = true,
                Some(Kind::Error(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(server_error(e))));
                }
                _ => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::Protocol(
                        "unexpected response in a stream".into(),
                    ))));
                }
            }
        }
    }
}

impl futures_core::Stream for RowStream {
    type Item = Result<Row, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_row(cx)
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.client.send_only(pb::request::Kind::Cancel(pb::Cancel {
                request_id: self.id,
            }));
        }
    }
}

/// A transaction: `commit` or `rollback` it; dropping it rolls it back.
pub struct Transaction {
    client: Client,
    finished: bool,
}

impl Transaction {
    /// The client, to run statements inside the transaction.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        self.client.simple_query("COMMIT").await.map(drop)
    }

    pub async fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        self.client.simple_query("ROLLBACK").await.map(drop)
    }
}

impl std::ops::Deref for Transaction {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.finished {
            // Queued at once, so it runs before anything the caller sends next.
            let _ = self.client.send_only(pb::request::Kind::Query(pb::Query {
                sql: "ROLLBACK".into(),
                ..Default::default()
            }));
        }
    }
}

/// A connection of either kind, for cancel requests.
trait AsyncStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> AsyncStream for T {}

/// Cancels what a session is running, from a new connection.
#[derive(Clone, Debug)]
pub struct CancelToken {
    addr: std::net::SocketAddr,
    session_id: u64,
    key: u64,
    tls: Option<crate::TlsConfig>,
}

impl CancelToken {
    pub async fn cancel(&self) -> Result<(), Error> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        let mut stream: Box<dyn AsyncStream> = match &self.tls {
            Some(tls) => Box::new(tls.wrap(tcp).await?),
            None => Box::new(tcp),
        };
        stream.write_all(&PREAMBLE).await?;
        let request = pb::Request {
            id: 0,
            kind: Some(pb::request::Kind::CancelOther(pb::CancelOther {
                session_id: self.session_id,
                cancel_key: self.key,
            })),
        };
        codec::write_frame(&mut stream, &request).await?;
        stream.flush().await?;
        let mut buf = Vec::new();
        let _ =
            codec::read_frame::<_, pb::Response>(&mut stream, DEFAULT_MAX_FRAME, &mut buf).await;
        Ok(())
    }
}

/// Runs `attempt` until it succeeds or fails with an error that is not retryable
/// (retryable: 40001, a write conflict), at most `tries` times, waiting a little longer
/// before each new try.
pub async fn retry<T, F, Fut>(tries: usize, mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut wait = std::time::Duration::from_millis(1);
    let mut tried = 0;
    loop {
        tried += 1;
        match attempt().await {
            Err(e) if e.is_retryable() && tried < tries => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}
