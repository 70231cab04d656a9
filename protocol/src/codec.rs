//! Framing. A connection starts with the client sending the 4-byte preamble
//! [`PREAMBLE`]; after that, each direction is a sequence of frames, each a 4-byte
//! big-endian payload length followed by one protobuf message of that length.

use bytes::BytesMut;
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first bytes a client sends: "KVSQ".
pub const PREAMBLE: [u8; 4] = *b"KVSQ";

/// The largest frame accepted by default: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("undecodable message: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// Appends one frame holding `message` to `buf`.
pub fn encode_frame<M: Message>(message: &M, buf: &mut Vec<u8>) {
    let len = message.encoded_len();
    buf.reserve(4 + len);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    message.encode(buf).expect("a Vec grows to fit any message");
}

/// A value as a `Value` message carries it, borrowed from wherever the sender keeps it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WireValue<'a> {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// Rows of a result, encoded as the `rows` of a `RowBatch` message as they are added,
/// straight from borrowed values: the bytes prost writes for the same rows, without
/// making the messages (a `Row`, a vector of `Value`s, a copy of every string) first.
/// A server streaming stored rows encodes each row once, straight from storage, and
/// cuts the batch into frames of any number of rows ([`EncodedRows::write_frame`]), or
/// sends it whole as a frame made in place ([`EncodedRows::whole_frame`]).
#[derive(Debug, Default)]
pub struct EncodedRows {
    /// Room for a frame's header ([`HEADER_ROOM`] bytes), then the `rows` fields, one
    /// per row; or nothing at all, until the first row (an unused batch allocates
    /// nothing).
    batch: Vec<u8>,
    /// Where each row's field ends in `batch`.
    ends: Vec<u32>,
}

/// The most bytes a frame header of a `Response` holding a `RowBatch` takes: the length
/// (4), the id's tag and varint (1 + 10), the rows' tag and length varint (1 + 5).
const HEADER_ROOM: usize = 21;

// Field tags (field number << 3 | wire type) of the messages written here.
const RESPONSE_ID: u8 = 1 << 3;
const RESPONSE_ROWS: u8 = 4 << 3 | 2;
const BATCH_ROW: u8 = 1 << 3 | 2;
const ROW_VALUE: u8 = 1 << 3 | 2;
const VALUE_BOOLEAN: u8 = 1 << 3;
const VALUE_INTEGER: u8 = 2 << 3;
const VALUE_REAL: u8 = 3 << 3 | 1;
const VALUE_TEXT: u8 = 4 << 3 | 2;
const VALUE_BLOB: u8 = 5 << 3 | 2;

impl EncodedRows {
    /// An empty batch with room for `rows` rows of `bytes` bytes in all, encoded: a
    /// batch filled to a known size grows no more (each growth copied it whole).
    pub fn with_capacity(bytes: usize, rows: usize) -> Self {
        let mut batch = Vec::with_capacity(HEADER_ROOM + bytes);
        batch.resize(HEADER_ROOM, 0);
        EncodedRows {
            batch,
            ends: Vec::with_capacity(rows),
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of the rows, encoded.
    pub fn bytes(&self) -> usize {
        self.batch.len() - self.body_start()
    }

    /// Where the rows start in `batch`.
    fn body_start(&self) -> usize {
        HEADER_ROOM.min(self.batch.len())
    }

    /// Makes the room for a frame header, if the batch has none yet.
    fn make_room(&mut self) {
        if self.batch.is_empty() {
            self.batch.resize(HEADER_ROOM, 0);
        }
    }

    /// Adds a row of the values `values` yields (it is walked twice: for the row's
    /// length, then to write the values), without gathering them first.
    pub fn push<'v>(&mut self, values: impl Iterator<Item = WireValue<'v>> + Clone) {
        let row_len: usize = values
            .clone()
            .map(|v| {
                let len = value_len(&v);
                1 + prost::encoding::encoded_len_varint(len as u64) + len
            })
            .sum();
        self.make_room();
        let buf = &mut self.batch;
        buf.reserve(1 + 10 + row_len);
        buf.push(BATCH_ROW);
        put_varint(buf, row_len as u64);
        for v in values {
            buf.push(ROW_VALUE);
            put_varint(buf, value_len(&v) as u64);
            match v {
                WireValue::Null => {}
                WireValue::Boolean(b) => {
                    buf.push(VALUE_BOOLEAN);
                    buf.push(u8::from(b));
                }
                WireValue::Integer(i) => {
                    buf.push(VALUE_INTEGER);
                    put_varint(buf, zigzag(i));
                }
                WireValue::Real(r) => {
                    buf.push(VALUE_REAL);
                    buf.extend_from_slice(&r.to_le_bytes());
                }
                WireValue::Text(s) => {
                    buf.push(VALUE_TEXT);
                    put_varint(buf, s.len() as u64);
                    buf.extend_from_slice(s.as_bytes());
                }
                WireValue::Blob(b) => {
                    buf.push(VALUE_BLOB);
                    put_varint(buf, b.len() as u64);
                    buf.extend_from_slice(b);
                }
            }
        }
        self.ends.push(self.end());
    }

    /// Adds a row given as a message.
    pub fn push_message(&mut self, row: &crate::pb::Row) {
        self.make_room();
        prost::encoding::message::encode(1, row, &mut self.batch);
        self.ends.push(self.end());
    }

    fn end(&self) -> u32 {
        u32::try_from(self.batch.len()).expect("a batch of rows is far below 4 GiB")
    }

    /// Appends to `out` the frame of the response to request `id` that carries `rows`
    /// (a range of row numbers) as its `RowBatch`.
    pub fn write_frame(&self, id: u64, rows: std::ops::Range<usize>, out: &mut Vec<u8>) {
        let offset = |row: usize| match row {
            0 => self.body_start(),
            n => self.ends[n - 1] as usize,
        };
        let body = &self.batch[offset(rows.start)..offset(rows.end)];
        let (header, len) = frame_header(id, body.len());
        out.reserve(len + body.len());
        out.extend_from_slice(&header[..len]);
        out.extend_from_slice(body);
    }

    /// The frame of the response to request `id` that carries every row, made in place
    /// in front of them: the same bytes `write_frame` appends for all rows, without
    /// copying the rows.
    pub fn whole_frame(&mut self, id: u64) -> &[u8] {
        self.make_room();
        let (header, len) = frame_header(id, self.bytes());
        let start = HEADER_ROOM - len;
        self.batch[start..HEADER_ROOM].copy_from_slice(&header[..len]);
        &self.batch[start..]
    }
}

/// The header of a frame of the response to request `id` whose `RowBatch` has
/// `body_len` bytes of rows: the frame length, the id, and the rows' tag and length.
/// Returns the bytes and how many of them are used.
fn frame_header(id: u64, body_len: usize) -> ([u8; HEADER_ROOM], usize) {
    use bytes::BufMut;
    let id_len = if id == 0 {
        0
    } else {
        1 + prost::encoding::encoded_len_varint(id)
    };
    let message_len = id_len + 1 + prost::encoding::encoded_len_varint(body_len as u64) + body_len;
    let mut header = [0u8; HEADER_ROOM];
    let mut out = &mut header[..];
    out.put_u32(u32::try_from(message_len).expect("a batch of rows is far below 4 GiB"));
    if id != 0 {
        out.put_u8(RESPONSE_ID);
        prost::encoding::encode_varint(id, &mut out);
    }
    out.put_u8(RESPONSE_ROWS);
    prost::encoding::encode_varint(body_len as u64, &mut out);
    let len = HEADER_ROOM - out.len();
    (header, len)
}

/// The length of a `Value` message holding `v`.
fn value_len(v: &WireValue<'_>) -> usize {
    match *v {
        WireValue::Null => 0,
        WireValue::Boolean(_) => 2,
        WireValue::Integer(i) => 1 + prost::encoding::encoded_len_varint(zigzag(i)),
        WireValue::Real(_) => 9,
        WireValue::Text(s) => 1 + prost::encoding::encoded_len_varint(s.len() as u64) + s.len(),
        WireValue::Blob(b) => 1 + prost::encoding::encoded_len_varint(b.len() as u64) + b.len(),
    }
}

/// Appends `v` as a varint, as prost writes it: a value below 128 (the tag or length of
/// a short value) as its one byte, a longer one assembled on the stack and appended
/// at once, rather than byte by byte through prost's generic buffer.
#[inline]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        buf.push(v as u8);
        return;
    }
    let mut bytes = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        bytes[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    bytes[n] = v as u8;
    buf.extend_from_slice(&bytes[..=n]);
}

/// A `sint64` as its varint carries it.
fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

/// Writes one frame (without flushing).
pub async fn write_frame<W: AsyncWrite + Unpin, M: Message>(
    writer: &mut W,
    message: &M,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    encode_frame(message, &mut buf);
    writer.write_all(&buf).await
}

/// Reads one frame. Returns `Ok(None)` when the peer closed the connection cleanly
/// between frames; a connection closed inside a frame is an error. The length is checked
/// against `max` before anything is allocated.
pub async fn read_frame<R: AsyncRead + Unpin, M: Message + Default>(
    reader: &mut R,
    max: usize,
    buf: &mut Vec<u8>,
) -> Result<Option<M>, FrameError> {
    let mut len_bytes = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let n = reader.read(&mut len_bytes[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        filled += n;
    }
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    buf.clear();
    buf.resize(len, 0);
    reader.read_exact(buf).await?;
    Ok(Some(M::decode(buf.as_slice())?))
}

/// Reads frames through a buffer of its own, for a peer that may send many frames at
/// once (pipelining):
/// - one `read` takes whatever has arrived, so frames sent together are read together,
///   and [`FrameReader::has_frame`] tells whether the next one is already here;
/// - [`FrameReader::next`] is cancel safe: it may be dropped in a `select!` and no byte
///   is lost (the bytes read so far stay in the buffer).
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    max: usize,
}

/// How much a read asks for at least.
const READ_CHUNK: usize = 64 * 1024;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Frames longer than `max` bytes are refused ([`FrameError::TooLarge`]) before any
    /// of their payload is read.
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::new(),
            max,
        }
    }

    /// Reads exactly `N` bytes that are not a frame (the preamble).
    pub async fn read_raw<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        while self.buf.len() < N {
            if self.fill(N - self.buf.len()).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf.split_to(N));
        Ok(out)
    }

    /// Whether a whole frame (or a length that is too large, which `next` reports at
    /// once) is already buffered.
    pub fn has_frame(&self) -> bool {
        match self.frame_len() {
            Some(len) => len > self.max || self.buf.len() >= 4 + len,
            None => false,
        }
    }

    fn frame_len(&self) -> Option<usize> {
        let head: [u8; 4] = self.buf.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(head) as usize)
    }

    /// Reads one frame. `Ok(None)` when the peer closed the connection cleanly between
    /// frames; a connection closed inside a frame is an error. Cancel safe.
    pub async fn next<M: Message + Default>(&mut self) -> Result<Option<M>, FrameError> {
        loop {
            let need = match self.frame_len() {
                Some(len) if len > self.max => {
                    return Err(FrameError::TooLarge { len, max: self.max });
                }
                Some(len) if self.buf.len() >= 4 + len => {
                    let frame = self.buf.split_to(4 + len);
                    if self.buf.is_empty() && self.buf.capacity() > 4 * READ_CHUNK {
                        // After a large frame: do not keep its buffer for the connection's
                        // whole life.
                        self.buf = BytesMut::new();
                    }
                    return Ok(Some(M::decode(&frame[4..])?));
                }
                Some(len) => 4 + len - self.buf.len(),
                None => 4 - self.buf.len(),
            };
            if self.fill(need).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// One read of at least `need` bytes of room; returns the bytes read (0 at the end).
    async fn fill(&mut self, need: usize) -> std::io::Result<usize> {
        self.buf.reserve(need.max(READ_CHUNK));
        self.inner.read_buf(&mut self.buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use proptest::prelude::*;

    #[tokio::test]
    async fn frames_round_trip_and_limits_hold() {
        let request = pb::Request {
            id: 7,
            kind: Some(pb::request::Kind::Query(pb::Query {
                sql: "SELECT 1".into(),
                ..Default::default()
            })),
        };
        let mut bytes = Vec::new();
        encode_frame(&request, &mut bytes);
        encode_frame(&request, &mut bytes);
        let mut reader = bytes.as_slice();
        let mut buf = Vec::new();
        for _ in 0..2 {
            let got: pb::Request = read_frame(&mut reader, 1024, &mut buf)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got, request);
        }
        let end: Option<pb::Request> = read_frame(&mut reader, 1024, &mut buf).await.unwrap();
        assert!(end.is_none(), "clean end of stream");

        let mut reader = bytes.as_slice();
        let err = read_frame::<_, pb::Request>(&mut reader, 4, &mut buf)
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { max: 4, .. }), "{err}");

        // One frame with its last byte missing, and one with only part of its length.
        for cut in [bytes.len() / 2 - 1, 2] {
            let mut truncated = &bytes[..cut];
            let err = read_frame::<_, pb::Request>(&mut truncated, 1024, &mut buf).await;
            assert!(err.is_err(), "a frame cut to {cut} bytes must be an error");
        }

        let garbage = [0, 0, 0, 3, 0xFF, 0xFF, 0xFF];
        let err = read_frame::<_, pb::Request>(&mut &garbage[..], 1024, &mut buf).await;
        assert!(matches!(err, Err(FrameError::Decode(_))));
    }

    /// A reader fed one byte at a time, whose reads are dropped half way (as a
    /// `select!` does), still yields every frame whole, and says when one is buffered.
    #[tokio::test]
    async fn frame_reader_is_cancel_safe_and_sees_buffered_frames() {
        let requests: Vec<pb::Request> = (1..=3)
            .map(|id| pb::Request {
                id,
                kind: Some(pb::request::Kind::Query(pb::Query {
                    sql: format!("SELECT {id}"),
                    ..Default::default()
                })),
            })
            .collect();
        let mut bytes = b"KVSQ".to_vec();
        for r in &requests {
            encode_frame(r, &mut bytes);
        }
        let (mut tx, rx) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            for b in bytes {
                tx.write_all(&[b]).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut reader = FrameReader::new(rx, 1024);
        assert_eq!(&reader.read_raw::<4>().await.unwrap(), b"KVSQ");
        let mut got = Vec::new();
        while got.len() < 3 {
            tokio::select! {
                frame = reader.next::<pb::Request>() => got.push(frame.unwrap().unwrap()),
                () = tokio::task::yield_now() => {}
            }
        }
        assert_eq!(got, requests);
        writer.await.unwrap();
        assert!(
            reader.next::<pb::Request>().await.unwrap().is_none(),
            "clean end"
        );

        // Two frames arriving together: after the first, the second is already here.
        let mut both = Vec::new();
        encode_frame(&requests[0], &mut both);
        encode_frame(&requests[1], &mut both);
        let mut reader = FrameReader::new(both.as_slice(), 1024);
        assert!(!reader.has_frame(), "nothing read yet");
        reader.next::<pb::Request>().await.unwrap().unwrap();
        assert!(reader.has_frame());
        reader.next::<pb::Request>().await.unwrap().unwrap();
        assert!(!reader.has_frame());

        // Too long: refused from the length alone; cut short: an error, not a clean end.
        let mut reader = FrameReader::new(&both[..], 4);
        let err = reader.next::<pb::Request>().await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { max: 4, .. }), "{err}");
        let mut reader = FrameReader::new(&both[..both.len() - 1], 1024);
        reader.next::<pb::Request>().await.unwrap().unwrap();
        assert!(reader.next::<pb::Request>().await.is_err());
    }

    fn wire_value() -> impl Strategy<Value = Option<pb::value::Kind>> {
        prop_oneof![
            Just(None),
            any::<bool>().prop_map(|b| Some(pb::value::Kind::Boolean(b))),
            any::<i64>().prop_map(|i| Some(pb::value::Kind::Integer(i))),
            any::<f64>().prop_map(|r| Some(pb::value::Kind::Real(r))),
            ".{0,200}".prop_map(|s| Some(pb::value::Kind::Text(s))),
            proptest::collection::vec(any::<u8>(), 0..300)
                .prop_map(|b| Some(pb::value::Kind::Blob(b))),
        ]
    }

    fn borrowed(kind: &Option<pb::value::Kind>) -> WireValue<'_> {
        match kind {
            None => WireValue::Null,
            Some(pb::value::Kind::Boolean(b)) => WireValue::Boolean(*b),
            Some(pb::value::Kind::Integer(i)) => WireValue::Integer(*i),
            Some(pb::value::Kind::Real(r)) => WireValue::Real(*r),
            Some(pb::value::Kind::Text(s)) => WireValue::Text(s),
            Some(pb::value::Kind::Blob(b)) => WireValue::Blob(b),
        }
    }

    proptest! {
        /// Rows encoded one by one (from borrowed values or from messages) make, for any
        /// cut into ranges, byte for byte the frames prost writes for the same responses.
        #[test]
        fn encoded_rows_make_the_frames_prost_writes(
            id in prop_oneof![Just(0u64), any::<u64>()],
            rows in proptest::collection::vec(
                proptest::collection::vec(wire_value(), 0..6), 0..20),
            cut in any::<prop::sample::Index>(),
        ) {
            let messages: Vec<pb::Row> = rows
                .iter()
                .map(|row| pb::Row {
                    values: row.iter().map(|kind| pb::Value { kind: kind.clone() }).collect(),
                })
                .collect();
            let frame_of = |rows: &[pb::Row]| {
                let mut bytes = Vec::new();
                encode_frame(
                    &pb::Response {
                        id,
                        kind: Some(pb::response::Kind::Rows(pb::RowBatch { rows: rows.to_vec() })),
                    },
                    &mut bytes,
                );
                bytes
            };
            let mut borrowed_rows = EncodedRows::default();
            // One batch presized (and outgrown by most cases), one not.
            let mut message_rows = EncodedRows::with_capacity(64, 2);
            for (row, message) in rows.iter().zip(&messages) {
                let values: Vec<WireValue> = row.iter().map(borrowed).collect();
                borrowed_rows.push(values.iter().copied());
                message_rows.push_message(message);
            }
            prop_assert_eq!(borrowed_rows.rows(), rows.len());
            let cut = cut.index(rows.len() + 1);
            for encoded in [&mut borrowed_rows, &mut message_rows] {
                let mut whole = Vec::new();
                encoded.write_frame(id, 0..rows.len(), &mut whole);
                prop_assert_eq!(&whole, &frame_of(&messages));
                prop_assert_eq!(encoded.whole_frame(id), &whole[..]);
                let mut halves = Vec::new();
                encoded.write_frame(id, 0..cut, &mut halves);
                encoded.write_frame(id, cut..rows.len(), &mut halves);
                let expected = [frame_of(&messages[..cut]), frame_of(&messages[cut..])].concat();
                prop_assert_eq!(halves, expected);
            }
        }
    }

    /// The byte-level example in docs/protocol.md, checked against the real encoder.
    #[test]
    fn documented_example_bytes_are_exact() {
        let mut hello = Vec::new();
        encode_frame(
            &pb::Request {
                id: 0,
                kind: Some(pb::request::Kind::Hello(pb::ClientHello {
                    major: 1,
                    minor: 0,
                    client_name: "x".into(),
                })),
            },
            &mut hello,
        );
        assert_eq!(hello, [0, 0, 0, 7, 0x12, 5, 0x08, 1, 0x1A, 1, b'x']);
        let mut query = Vec::new();
        encode_frame(
            &pb::Request {
                id: 1,
                kind: Some(pb::request::Kind::Query(pb::Query {
                    sql: "SELECT 1".into(),
                    ..Default::default()
                })),
            },
            &mut query,
        );
        let mut expected = vec![0, 0, 0, 14, 0x08, 1, 0x1A, 10, 0x0A, 8];
        expected.extend_from_slice(b"SELECT 1");
        assert_eq!(query, expected);
    }
}
