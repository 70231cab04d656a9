//! The engine's one error type.
//!
//! Every error carries a SQLSTATE-style code (see [`Error::code`]) that the server puts on
//! the wire unchanged, so a client can act on the class of failure without parsing text.

use std::fmt;

/// A position in a statement's text, 1-based, as a user counts lines and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// What can go wrong in the engine.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The statement is not valid SQL. Retrying the same text cannot succeed.
    #[error("syntax error: {message}")]
    Syntax {
        message: String,
        position: Option<Position>,
    },
    /// A statement beyond a structural limit (expression depth). Simplify it.
    #[error("statement too complex: {0}")]
    TooComplex(String),
    /// Valid SQL that kvsql does not implement; the message names the construct.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A table named in the statement does not exist.
    #[error("no such table: {0}")]
    NoSuchTable(String),
    /// CREATE TABLE of a name that is taken.
    #[error("table {0} already exists")]
    TableExists(String),
    /// The parameter values do not fit the statement (their number).
    #[error("{0}")]
    Parameters(String),
    /// A view named in the statement does not exist.
    #[error("no such view: {0}")]
    NoSuchView(String),
    /// CREATE VIEW of a name that is taken (by a table or a view).
    #[error("{0} already exists")]
    NameTaken(String),
    /// CREATE INDEX of a name that is taken.
    #[error("index {0} already exists")]
    IndexExists(String),
    /// An index named in the statement does not exist.
    #[error("no such index: {0}")]
    NoSuchIndex(String),
    /// A column named in the statement does not exist, or is ambiguous.
    #[error("{0}")]
    NoSuchColumn(String),
    /// A statement's definitions contradict each other (duplicate column, bad key...).
    #[error("{0}")]
    InvalidDefinition(String),
    /// A value of the wrong type for a column or an operator.
    #[error("{0}")]
    TypeMismatch(String),
    /// NOT NULL violated.
    #[error("{0}")]
    NotNull(String),
    /// A primary key or a unique index already holds this value.
    #[error("{0}")]
    UniqueViolation(String),
    /// Integer arithmetic left the 64-bit range.
    #[error("integer overflow")]
    Overflow,
    /// A value is out of range or malformed for its use (a negative LIMIT, say).
    #[error("{0}")]
    InvalidValue(String),
    /// A statement's sorts, hash tables and held rows outgrew the per-statement memory
    /// limit.
    #[error("{0}")]
    MemoryLimit(String),
    /// The session's user may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A concurrent transaction wrote the same key first. Retrying may succeed.
    #[error(
        "serialization conflict: a concurrent transaction wrote the same rows; retry the transaction"
    )]
    Conflict,
    /// BEGIN inside a transaction.
    #[error("a transaction is already in progress")]
    TransactionInProgress,
    /// A statement in a transaction that an earlier error aborted.
    #[error(
        "the current transaction is aborted by an earlier error; statements are ignored until ROLLBACK"
    )]
    TransactionAborted,
    /// The statement was abandoned because its receiver went away or asked it to stop.
    #[error("statement cancelled")]
    Cancelled,
    /// The storage layer failed (I/O error, corruption).
    #[error("storage error: {0}")]
    Storage(String),
    /// The data directory's file system is full: writes fail, reads go on.
    #[error("disk full: {0}")]
    DiskFull(String),
    /// The database was opened read-only: writes are refused, reads go on.
    #[error("read-only: {0}")]
    ReadOnly(String),
    /// Stored bytes that do not decode: corruption or a bug.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl Error {
    /// The SQLSTATE-style code of this error (PostgreSQL's codes where one fits).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Syntax { .. } => "42601",
            Error::TooComplex(_) => "54001",
            Error::Unsupported(_) => "0A000",
            Error::NoSuchTable(_) | Error::NoSuchView(_) => "42P01",
            Error::NameTaken(_) => "42P07",
            Error::Parameters(_) => "08P01",
            Error::TableExists(_) | Error::IndexExists(_) => "42P07",
            Error::NoSuchIndex(_) => "42704",
            Error::NoSuchColumn(_) => "42703",
            Error::InvalidDefinition(_) => "42P16",
            Error::TypeMismatch(_) => "42804",
            Error::NotNull(_) => "23502",
            Error::UniqueViolation(_) => "23505",
            Error::Overflow => "22003",
            Error::InvalidValue(_) => "22023",
            Error::Conflict => "40001",
            Error::TransactionInProgress => "25001",
            Error::TransactionAborted => "25P02",
            Error::Cancelled => "57014",
            Error::MemoryLimit(_) => "53200",
            Error::PermissionDenied(_) => "42501",
            Error::Storage(_) => "58030",
            Error::DiskFull(_) => "53100",
            Error::ReadOnly(_) => "25006",
            Error::Corrupt(_) => "XX001",
        }
    }

    /// Whether running the same statement (or transaction) again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Conflict)
    }

    /// Where in the statement the error was found, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Syntax { position, .. } => *position,
            _ => None,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for a type mismatch error.
pub(crate) fn type_error(message: impl Into<String>) -> Error {
    Error::TypeMismatch(message.into())
}
