//! Framing. A connection starts with the client sending the 4-byte preamble
//! [`PREAMBLE`]; after that, each direction is a sequence of frames, each a 4-byte
//! big-endian payload length followed by one protobuf message of that length.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

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
