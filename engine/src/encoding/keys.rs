//! The key spaces of the store. Every key starts with one byte naming its space, so each
//! space is a contiguous range and can be scanned by prefix.
//!
//! | space    | key                                          | value                 |
//! |----------|----------------------------------------------|-----------------------|
//! | catalog  | `0x01`, table name (keycode text)             | table definition      |
//! | sequence | `0x02`, sequence name (keycode text)          | next value, u64 BE    |
//! | row      | `0x03`, table id (u64 BE), primary key values | row (see [`super::row`]) |
//! | view     | `0x05`, view name (keycode text)              | view definition       |
//! | user     | `0x06`, user name (keycode text)              | admin flag, password hash |
//! | index    | `0x04`, index id (u64 BE), indexed values, primary key values (*) | primary key values |
//! | storage  | `0x00`, name                                  | never written: deletes only (see [`log_prep_key`]) |
//!
//! A table without a declared primary key is keyed by a hidden integer row id.
//!
//! (*) In a unique index, an entry whose indexed values are all non-NULL is keyed by the
//! values alone, so that concurrent inserts of one value collide on one key.

pub use super::keycode::encode_value;
use super::keycode::prefix_end;
use crate::value::Value;

const SPACE_CATALOG: u8 = 0x01;
const SPACE_SEQUENCE: u8 = 0x02;
const SPACE_ROW: u8 = 0x03;
const SPACE_INDEX: u8 = 0x04;
const SPACE_VIEW: u8 = 0x05;
const SPACE_USER: u8 = 0x06;
const SPACE_STORAGE: u8 = 0x00;

/// The key the storage layer deletes to give a memory table an entry while it prepares
/// log files (see the RocksDB store's `prepare_logs`). No value is ever stored under it.
pub fn log_prep_key() -> Vec<u8> {
    let mut key = vec![SPACE_STORAGE];
    key.extend_from_slice(b"log-prep");
    key
}

/// The key of a user (name and password hash).
pub fn user_key(name: &str) -> Vec<u8> {
    let mut key = vec![SPACE_USER];
    encode_value(&Value::Text(name.to_string()), &mut key);
    key
}

/// Every user's key starts with this.
pub fn user_prefix() -> Vec<u8> {
    vec![SPACE_USER]
}

/// The catalog entry of a table.
pub fn table_key(name: &str) -> Vec<u8> {
    let mut key = vec![SPACE_CATALOG];
    encode_value(&Value::Text(name.to_string()), &mut key);
    key
}

/// Every catalog entry starts with this.
pub fn catalog_prefix() -> Vec<u8> {
    vec![SPACE_CATALOG]
}

/// The key of a named sequence (table ids, for example).
pub fn sequence_key(name: &str) -> Vec<u8> {
    let mut key = vec![SPACE_SEQUENCE];
    encode_value(&Value::Text(name.to_string()), &mut key);
    key
}

/// Every row of table `table_id` starts with this.
pub fn row_prefix(table_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(32);
    key.push(SPACE_ROW);
    key.extend_from_slice(&table_id.to_be_bytes());
    key
}

/// The key of the row of table `table_id` with primary key `pk`.
pub fn row_key(table_id: u64, pk: &[Value]) -> Vec<u8> {
    let mut key = row_prefix(table_id);
    for value in pk {
        encode_value(value, &mut key);
    }
    key
}

/// The catalog entry of a view.
pub fn view_key(name: &str) -> Vec<u8> {
    let mut key = vec![SPACE_VIEW];
    encode_value(&Value::Text(name.to_string()), &mut key);
    key
}

/// Every entry of index `index_id` starts with this.
pub fn index_prefix(index_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(32);
    key.push(SPACE_INDEX);
    key.extend_from_slice(&index_id.to_be_bytes());
    key
}

/// The start of the entries of index `index_id` whose leading indexed values are
/// `values`.
pub fn index_values_prefix(index_id: u64, values: &[Value]) -> Vec<u8> {
    let mut key = index_prefix(index_id);
    for value in values {
        encode_value(value, &mut key);
    }
    key
}

/// The start of the row space: every table's rows, each table's under its
/// [`row_prefix`].
pub fn row_space() -> Vec<u8> {
    vec![SPACE_ROW]
}

/// The start of the index space, every index's entries under its [`index_prefix`].
pub fn index_space() -> Vec<u8> {
    vec![SPACE_INDEX]
}

/// The table or index id of a key in the row or index space (None if too short).
pub fn owner_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(1..9)?.try_into().ok()?))
}

/// The first key past every key that starts with `prefix`.
pub fn end_of(prefix: &[u8]) -> Vec<u8> {
    prefix_end(prefix).expect("key space prefixes are never all 0xFF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_do_not_overlap() {
        let catalog = table_key("zzz");
        let row = row_key(0, &[Value::Null]);
        assert!(catalog < end_of(&catalog_prefix()));
        assert!(end_of(&catalog_prefix()) <= sequence_key(""));
        assert!(row > sequence_key("zzzz"));
        assert!(row_key(1, &[Value::Integer(i64::MAX)]) < row_prefix(2));
    }
}
