//! kvsql's wire protocol and the async Rust driver.
//!
//! - [`pb`]: the protobuf messages generated from `proto/kvsql.proto`.
//! - [`codec`]: framing (a 4-byte big-endian length, then one message) and the preamble.
//! - [`Client`]: the driver. It does not depend on the engine, so a program that only
//!   talks to a server never compiles RocksDB.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kvsql_protocol::Error> {
//! let client = kvsql_protocol::Client::connect("127.0.0.1:7878").await?;
//! client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", &[]).await?;
//! client.execute("INSERT INTO t VALUES (1, 'one')", &[]).await?;
//! for row in client.query("SELECT id, name FROM t", &[]).await? {
//!     let id: i64 = row.get(0)?;
//!     let name: String = row.get("name")?;
//!     println!("{id} {name}");
//! }
//! # Ok(()) }
//! ```

mod client;
pub mod codec;
mod config;
mod error;
#[cfg(feature = "pool")]
pub mod pool;
mod row;
mod serde_row;
mod tls;
mod typed;

/// Messages generated from `proto/kvsql.proto`.
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/kvsql.v1.rs"));
}

pub use client::{Client, Pipeline, QueryResult, ServerInfo};
pub use config::Config;
pub use error::Error;
pub use row::{Column, ColumnType, FromValue, Row, RowIndex, Value};
pub use tls::TlsConfig;
pub use typed::{
    CancelToken, Params, RowStream, Statement, ToStatement, ToValue, Transaction, retry,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_MAJOR: u32 = 1;
pub const PROTOCOL_MINOR: u32 = 3;

/// The default address of a kvsql server.
pub const DEFAULT_PORT: u16 = 7878;
