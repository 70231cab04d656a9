//! Speaking the wire protocol by hand, for tests that send what a driver never would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kvsql_protocol::codec::{PREAMBLE, encode_frame};
use kvsql_protocol::pb;
use prost::Message;

use crate::TestServer;

pub fn hello_frame(major: u32) -> Vec<u8> {
    let mut frame = Vec::new();
    encode_frame(
        &pb::Request {
            id: 0,
            kind: Some(pb::request::Kind::Hello(pb::ClientHello {
                major,
                minor: 0,
                client_name: "raw test".into(),
            })),
        },
        &mut frame,
    );
    frame
}

pub fn connect_raw(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

pub fn handshake(server: &TestServer) -> TcpStream {
    let mut stream = connect_raw(server);
    stream.write_all(&PREAMBLE).unwrap();
    stream.write_all(&hello_frame(1)).unwrap();
    let hello = read_response(&mut stream).expect("server hello");
    assert!(matches!(hello.kind, Some(pb::response::Kind::Hello(_))));
    stream
}

/// A frame holding a query request.
pub fn query_frame(id: u64, sql: &str) -> Vec<u8> {
    let mut frame = Vec::new();
    encode_frame(
        &pb::Request {
            id,
            kind: Some(pb::request::Kind::Query(pb::Query {
                sql: sql.into(),
                ..Default::default()
            })),
        },
        &mut frame,
    );
    frame
}

/// Writes a query request.
pub fn send_request(stream: &mut TcpStream, id: u64, sql: &str) {
    stream.write_all(&query_frame(id, sql)).unwrap();
}

/// Reads one response frame, or None if the connection closed.
pub fn read_response(stream: &mut TcpStream) -> Option<pb::Response> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).ok()?;
    Some(pb::Response::decode(body.as_slice()).expect("server sent a decodable response"))
}

/// Reads until the server closes, returning the error responses seen on the way.
pub fn errors_until_closed(stream: &mut TcpStream) -> Vec<pb::Error> {
    let mut errors = Vec::new();
    while let Some(response) = read_response(stream) {
        if let Some(pb::response::Kind::Error(e)) = response.kind {
            errors.push(e);
        }
    }
    errors
}
