//! The SQL layer. The life of a statement:
//!
//! 1. [`translate::parse`] parses the text with sqlparser and translates it into the
//!    engine's own [`ast`].
//! 2. [`plan::plan`] binds names against the catalog and builds a [`plan::Plan`],
//!    choosing point lookups and range scans over the primary key where it can.
//! 3. [`execute::execute`] runs the plan in a transaction and streams rows to a
//!    [`execute::ResultSink`].
//!
//! [`crate::Session`] drives the three steps, one transaction per statement.

mod access;
pub mod ast;
mod cursor;
mod eval;
pub mod execute;
mod functions;
pub mod params;
pub mod plan;
pub mod point;
mod query;
mod rows;
pub mod translate;
