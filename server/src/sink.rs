//! Turns the engine's results into protocol responses, in bounded batches, sent over a
//! bounded channel: when the client reads slowly, the statement waits (backpressure)
//! instead of buffering the result.

use std::sync::Arc;

use kvsql_engine::{ColumnInfo, DataType, Outcome, ResultSink, Value, ValueRef};
use kvsql_protocol::codec::{EncodedRows, WireValue};
use kvsql_protocol::pb::{self, response::Kind};
use tokio::sync::mpsc;

/// Rows per batch, at most. With 100-byte rows the byte cap ends a batch first (at
/// about 590 rows): fewer handoffs to the connection than 256-row batches made.
const BATCH_ROWS: usize = 1024;
/// Bytes of values per batch, roughly at most.
const BATCH_BYTES: usize = 64 * 1024;
/// Room past `BATCH_BYTES` in a new batch, for the row that fills it.
const BATCH_SLACK: usize = 4 * 1024;

/// What a statement hands its connection: a response, or a batch of rows already
/// encoded (which the connection cuts into frames as a row budget requires).
pub enum Outgoing {
    Response(pb::Response),
    Rows(EncodedRows),
}

pub struct ChannelSink {
    id: u64,
    /// None when responses are collected in `buffer` instead (a statement run inline).
    tx: Option<mpsc::Sender<Outgoing>>,
    /// Rows of a streamed answer (`tx`), encoded as they come; `batch` holds rows
    /// only for a buffered sink or a compact answer.
    encoded: EncodedRows,
    buffer: Vec<pb::Response>,
    batch: Vec<pb::Row>,
    batch_bytes: usize,
    /// A `prepared` answer was the final response.
    prepared_sent: bool,
    /// Compact mode (see [`ChannelSink::compact`]), until the statement's header: the
    /// columns the client knows.
    announced: Option<Arc<[pb::Column]>>,
    /// Compact mode, after a header equal to `announced` was left out: the header, to
    /// send after all if the answer cannot be one frame.
    left_out: Option<Arc<[pb::Column]>>,
    /// Compact mode: the statement's completion, held for the `result` frame.
    complete: Option<pb::Complete>,
}

/// Rows past which a compact answer gives way to the usual batches.
const COMPACT_MOST_ROWS: usize = 16;

impl ChannelSink {
    /// A sink that sends responses over `tx` as they are made, rows in encoded batches.
    pub fn new(id: u64, tx: mpsc::Sender<Outgoing>) -> Self {
        ChannelSink {
            tx: Some(tx),
            ..Self::buffered(id)
        }
    }

    /// A sink that keeps every response, for a statement run on the connection's own
    /// task (a fast one; see the connection loop).
    pub fn buffered(id: u64) -> Self {
        ChannelSink {
            id,
            tx: None,
            encoded: EncodedRows::default(),
            buffer: Vec::new(),
            batch: Vec::new(),
            batch_bytes: 0,
            prepared_sent: false,
            announced: None,
            left_out: None,
            complete: None,
        }
    }

    /// Compact mode, for an execute that asked for it (protocol 1.3): when the
    /// statement's columns are `announced` (those `prepared` told the client) and it
    /// returns a few rows, its whole answer goes out as one final `result` frame instead
    /// of header, rows, complete and done. Otherwise it is answered the usual way.
    pub fn compact(mut self, announced: Arc<[pb::Column]>) -> Self {
        self.announced = Some(announced);
        self
    }

    /// Whether the answer may still become one `result` frame.
    fn compacting(&self) -> bool {
        self.announced.is_some() || self.left_out.is_some()
    }

    /// Sends the header compact mode left out, if it did.
    fn send_left_out(&mut self) -> kvsql_engine::Result<()> {
        match self.left_out.take() {
            Some(columns) => self.send(Kind::Header(pb::ResultHeader {
                columns: columns.to_vec(),
            })),
            None => Ok(()),
        }
    }

    /// Something follows a held completion (a second statement): send the held answer
    /// the usual way first.
    fn release(&mut self) -> kvsql_engine::Result<()> {
        if let Some(complete) = self.complete.take() {
            self.send_left_out()?;
            self.flush_rows()?;
            self.send(Kind::Complete(complete))?;
        }
        Ok(())
    }

    /// The responses a buffered sink kept.
    pub fn into_buffer(self) -> Vec<pb::Response> {
        self.buffer
    }

    fn send(&mut self, kind: Kind) -> kvsql_engine::Result<()> {
        self.flush_encoded()?;
        let response = pb::Response {
            id: self.id,
            kind: Some(kind),
        };
        match &self.tx {
            None => {
                self.buffer.push(response);
                Ok(())
            }
            Some(tx) => tx
                .blocking_send(Outgoing::Response(response))
                // The connection is gone: stop the statement.
                .map_err(|_| kvsql_engine::Error::Cancelled),
        }
    }

    /// Sends the rows encoded so far, if any.
    fn flush_encoded(&mut self) -> kvsql_engine::Result<()> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        if self.encoded.rows() == 0 {
            return Ok(());
        }
        // After a full batch (a long result, which likely goes on) the next one is made
        // at the size batches are cut at (a row past the cap, usually), so that it does
        // not grow from empty, copying itself as it doubles. After a short one (the end
        // of a result) it starts empty, as it may never be used.
        let next = if self.batch_full() {
            EncodedRows::with_capacity(BATCH_BYTES + BATCH_SLACK, BATCH_ROWS)
        } else {
            EncodedRows::default()
        };
        tx.blocking_send(Outgoing::Rows(std::mem::replace(&mut self.encoded, next)))
            .map_err(|_| kvsql_engine::Error::Cancelled)
    }

    fn flush_rows(&mut self) -> kvsql_engine::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.send_left_out()?;
        let rows = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.send(Kind::Rows(pb::RowBatch { rows }))
    }

    /// Whether rows go out encoded as they come: a streamed answer, once it is known
    /// not to be a compact one.
    fn encodes(&self) -> bool {
        self.tx.is_some() && !self.compacting()
    }

    /// Whether the encoded batch is as large as batches get: it goes now.
    fn batch_full(&self) -> bool {
        self.encoded.rows() >= BATCH_ROWS || self.encoded.bytes() >= BATCH_BYTES
    }

    /// Adds an encoded row; sends the batch when it is full.
    fn push_encoded<'v>(
        &mut self,
        values: impl Iterator<Item = WireValue<'v>> + Clone,
    ) -> kvsql_engine::Result<()> {
        self.release()?;
        // Rows gathered before the answer stopped being compact go first.
        self.flush_rows()?;
        self.encoded.push(values);
        if self.batch_full() {
            self.flush_encoded()?;
        }
        Ok(())
    }

    /// Adds a row of message values (each with its size) to the batch; sends the batch
    /// when it is full.
    fn push_values(
        &mut self,
        values: impl ExactSizeIterator<Item = (pb::Value, usize)>,
    ) -> kvsql_engine::Result<()> {
        self.release()?;
        let mut row = Vec::with_capacity(values.len());
        for (v, size) in values {
            self.batch_bytes += size;
            row.push(v);
        }
        self.batch.push(pb::Row { values: row });
        let full = if self.compacting() {
            self.batch.len() > COMPACT_MOST_ROWS
        } else {
            self.batch.len() >= BATCH_ROWS
        };
        if full || self.batch_bytes >= BATCH_BYTES {
            self.flush_rows()?;
        }
        Ok(())
    }

    /// Answers a prepare request (the final response).
    pub fn prepared(
        &mut self,
        statement_id: u64,
        statement: &kvsql_engine::Prepared,
    ) -> kvsql_engine::Result<()> {
        self.prepared_sent = true;
        self.send(Kind::Prepared(pb::Prepared {
            statement_id,
            param_types: statement
                .param_types
                .iter()
                .map(|t| column_type(*t) as i32)
                .collect(),
            columns: wire_columns(&statement.columns),
        }))
    }

    /// Sends the final response of the request.
    pub fn finish(&mut self, result: kvsql_engine::Result<()>) {
        if result.is_ok()
            && let Some(complete) = self.complete.take()
        {
            let result = pb::Result {
                rows: std::mem::take(&mut self.batch),
                tag: complete.tag,
                rows_affected: complete.rows_affected,
                rows_returned: complete.rows_returned,
            };
            let _ = self.send(Kind::Result(result));
            return;
        }
        let last = match result.and_then(|()| self.flush_rows()) {
            Ok(()) if self.prepared_sent => return,
            Ok(()) => Kind::Done(pb::Done {}),
            Err(e) => Kind::Error(error_message(&e)),
        };
        let _ = self.send(last);
    }
}

/// The whole answer to request `id` when it failed with `e`.
pub fn error_response(id: u64, e: &kvsql_engine::Error) -> pb::Response {
    pb::Response {
        id,
        kind: Some(Kind::Error(error_message(e))),
    }
}

pub fn error_message(e: &kvsql_engine::Error) -> pb::Error {
    let position = e.position();
    pb::Error {
        code: e.code().to_string(),
        message: e.to_string(),
        line: position.map_or(0, |p| p.line),
        column: position.map_or(0, |p| p.column),
        retryable: e.is_retryable(),
    }
}

/// Columns as the protocol describes them.
pub fn wire_columns(columns: &[ColumnInfo]) -> Vec<pb::Column> {
    columns
        .iter()
        .map(|c| pb::Column {
            name: c.name.clone(),
            r#type: column_type(c.data_type) as i32,
        })
        .collect()
}

fn column_type(t: Option<DataType>) -> pb::ColumnType {
    match t {
        None => pb::ColumnType::Unknown,
        Some(DataType::Boolean) => pb::ColumnType::Boolean,
        Some(DataType::Integer) => pb::ColumnType::Integer,
        Some(DataType::Real) => pb::ColumnType::Real,
        Some(DataType::Text) => pb::ColumnType::Text,
        Some(DataType::Blob) => pb::ColumnType::Blob,
    }
}

fn value(v: Value) -> (pb::Value, usize) {
    use pb::value::Kind as V;
    let (kind, size) = match v {
        Value::Null => (None, 1),
        Value::Boolean(b) => (Some(V::Boolean(b)), 2),
        Value::Integer(i) => (Some(V::Integer(i)), 9),
        Value::Real(r) => (Some(V::Real(r)), 9),
        Value::Text(s) => {
            let n = s.len() + 4;
            (Some(V::Text(s)), n)
        }
        Value::Blob(b) => {
            let n = b.len() + 4;
            (Some(V::Blob(b)), n)
        }
    };
    (pb::Value { kind }, size)
}

fn wire_value(v: ValueRef<'_>) -> WireValue<'_> {
    match v {
        ValueRef::Null => WireValue::Null,
        ValueRef::Boolean(b) => WireValue::Boolean(b),
        ValueRef::Integer(i) => WireValue::Integer(i),
        ValueRef::Real(r) => WireValue::Real(r),
        ValueRef::Text(s) => WireValue::Text(s),
        ValueRef::Blob(b) => WireValue::Blob(b),
    }
}

impl ResultSink for ChannelSink {
    fn columns(&mut self, columns: &[ColumnInfo]) -> kvsql_engine::Result<()> {
        self.release()?;
        if let Some(announced) = self.announced.take() {
            let same = announced.len() == columns.len()
                && announced
                    .iter()
                    .zip(columns)
                    .all(|(a, c)| a.name == c.name && a.r#type == column_type(c.data_type) as i32);
            if same {
                self.left_out = Some(announced);
                return Ok(());
            }
            // Planned again with other columns: the client needs this header.
        }
        self.send(Kind::Header(pb::ResultHeader {
            columns: wire_columns(columns),
        }))
    }

    fn row(&mut self, row: Vec<Value>) -> kvsql_engine::Result<()> {
        if self.encodes() {
            return self.push_encoded(row.iter().map(|v| wire_value(v.into())));
        }
        self.push_values(row.into_iter().map(value))
    }

    fn row_refs(&mut self, row: &[ValueRef<'_>]) -> kvsql_engine::Result<()> {
        if !self.encodes() {
            return self.push_values(row.iter().map(|v| value(v.to_value())));
        }
        self.push_encoded(row.iter().map(|v| wire_value(*v)))
    }

    fn complete(&mut self, outcome: &Outcome) -> kvsql_engine::Result<()> {
        self.release()?;
        let complete = pb::Complete {
            tag: outcome.tag.to_string(),
            rows_affected: outcome.rows_affected,
            rows_returned: outcome.rows_returned,
        };
        if self.compacting() {
            // Held for `finish`; compact mode ends with the statement.
            self.announced = None;
            self.complete = Some(complete);
            return Ok(());
        }
        self.flush_rows()?;
        self.send(Kind::Complete(complete))
    }
}
