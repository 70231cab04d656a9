//! kvsql's database engine: synchronous and embeddable.
//!
//! ```no_run
//! let db = kvsql_engine::Database::open("./data".as_ref())?;
//! let mut session = db.session();
//! session.query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")?;
//! session.query("INSERT INTO t VALUES (1, 'one')")?;
//! let results = session.query("SELECT name FROM t WHERE id = 1")?;
//! assert_eq!(results[0].rows[0][0].to_string(), "one");
//! # Ok::<(), kvsql_engine::Error>(())
//! ```
//!
//! Layers, bottom up: [`storage`] (the ordered key-value store seam), [`encoding`] (keys
//! and rows as bytes), [`catalog`] (table definitions), [`sql`] (parse, plan, execute),
//! and [`Session`] on top.

pub mod catalog;
pub mod encoding;
pub mod error;
mod session;
pub mod sql;
pub mod storage;
pub mod users;
pub mod value;

pub use error::{Error, Position, Result};
pub use session::{Database, Options, Pending, Prepared, ResultSet, Session};
pub use sql::execute::{Outcome, ResultSink};
pub use sql::plan::ColumnInfo;
pub use storage::Durability;
pub use storage::group_sync::Synced;
pub use users::User;
pub use value::{DataType, Value, ValueRef};
