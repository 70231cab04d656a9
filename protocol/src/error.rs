//! The driver's error type.

use std::fmt;

/// Everything that can go wrong talking to a kvsql server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused or failed the statement.
    #[error("{}", DisplayServer(.code, .message, .position))]
    Server {
        /// SQLSTATE-style code, e.g. "42P01".
        code: String,
        message: String,
        /// 1-based (line, column) in the statement text, when known.
        position: Option<(u32, u32)>,
        retryable: bool,
    },
    /// Could not connect, or the connection failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The connection is closed; no more requests can be sent on it.
    #[error("the connection to the server is closed")]
    Closed,
    /// The peer sent something this driver does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A column value could not be converted to the requested Rust type.
    #[error("column {column}: cannot convert {found} to {expected}")]
    Conversion {
        column: String,
        expected: &'static str,
        found: String,
    },
    /// A connection URL or setting that cannot be used.
    #[error("invalid connection settings: {0}")]
    InvalidConfig(String),
    /// `query_one` / `query_opt` got another number of rows than it promises.
    #[error("expected {expected} row, got {got}")]
    RowCount { expected: &'static str, got: usize },
    /// No column with that name or index.
    #[error("no column {0} in the row")]
    NoSuchColumn(String),
}

struct DisplayServer<'a>(&'a String, &'a String, &'a Option<(u32, u32)>);

impl fmt::Display for DisplayServer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.1, self.0)?;
        if let Some((line, column)) = self.2 {
            write!(f, " at line {line}, column {column}")?;
        }
        Ok(())
    }
}

impl Error {
    /// The SQLSTATE-style code: the server's for server errors, "08006" for a failed or
    /// closed connection, "08P01" for a protocol violation, "22000" for conversions,
    /// "21000" for a wrong number of rows.
    pub fn code(&self) -> &str {
        match self {
            Error::Server { code, .. } => code,
            Error::Io(_) | Error::Closed => "08006",
            Error::InvalidConfig(_) => "08001",
            Error::Protocol(_) => "08P01",
            Error::Conversion { .. } | Error::NoSuchColumn(_) => "22000",
            Error::RowCount { .. } => "21000",
        }
    }

    /// Whether sending the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Server {
                retryable: true,
                ..
            }
        )
    }
}
