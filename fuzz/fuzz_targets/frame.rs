//! Frame decoding: any bytes, read as the server reads a connection after the preamble
//! (length-prefixed protobuf requests, at most 64 KiB each here), must give requests or a
//! clean error, never a panic or an allocation the length prefix asked for beyond the limit.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use kvsql_protocol::codec::{FrameError, read_frame};
use kvsql_protocol::pb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    let mut buf = Vec::new();
    loop {
        // Reading from a slice never waits, so one poll finishes the future.
        let frame = pin!(read_frame::<_, pb::Request>(&mut reader, 64 << 10, &mut buf));
        let Poll::Ready(result) = frame.poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("reading from memory should not wait");
        };
        match result {
            Ok(Some(request)) => {
                // What decodes must encode again to the same message.
                let mut encoded = Vec::new();
                kvsql_protocol::codec::encode_frame(&request, &mut encoded);
                let (mut again, mut scratch) = (encoded.as_slice(), Vec::new());
                let back = pin!(read_frame::<_, pb::Request>(&mut again, usize::MAX, &mut scratch));
                match back.poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(Ok(Some(decoded))) => assert_eq!(decoded, request),
                    other => panic!("re-encoded request did not decode: {other:?}"),
                }
            }
            Ok(None) => break,
            Err(FrameError::TooLarge { len, max }) => {
                assert!(len > max);
                break;
            }
            Err(_) => break,
        }
    }
});
