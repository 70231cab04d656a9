//! Rows and their index entries in the store: writing a row writes its entry in every
//! index of the table in the same transaction, so indexes are exact whenever the
//! transaction commits; reading goes through the primary key or an index.

use std::collections::VecDeque;
use std::ops::Bound;

use super::access::{Access, Span};
use super::plan::Constraint;
use crate::catalog::{Index, Table};
use crate::encoding::keycode::{encode_value, prefix_end};
use crate::encoding::{keys, row};
use crate::error::{Error, Result};
use crate::storage::{KeyRange, KeyValue, Transaction};
use crate::value::Value;

/// Decodes a stored row of `table`, completing it with the defaults of columns added
/// after it was written.
pub fn decode_full_row(table: &Table, bytes: &[u8]) -> Result<Vec<Value>> {
    let mut values = row::decode_row(bytes)?;
    for column in &table.columns[values.len().min(table.columns.len())..] {
        values.push(column.default.clone().unwrap_or(Value::Null));
    }
    Ok(values)
}

/// The entry of the row stored at `row_key` in `index`: its key and its value (the row
/// key without the table prefix, i.e. the encoded primary key or row id).
///
/// The key is the indexed values followed by that same suffix, so that rows with equal
/// values have distinct entries, except in a unique index when no indexed value is
/// NULL: there the key is the values alone. Two transactions inserting the same unique
/// value then write the same key, and the store's write-conflict detection fails one of
/// them with 40001 even though neither saw the other's row.
fn entry(table: &Table, index: &Index, row_key: &[u8], row: &[Value]) -> (Vec<u8>, Vec<u8>) {
    let suffix = row_key[keys::row_prefix(table.id).len()..].to_vec();
    let mut key = keys::index_prefix(index.id);
    for &c in &index.columns {
        encode_value(&row[c], &mut key);
    }
    if !index.unique || index.columns.iter().any(|&c| row[c].is_null()) {
        key.extend_from_slice(&suffix);
    }
    (key, suffix)
}

/// The key of the unique entry for the indexed values of `row`, or None when one of them
/// is NULL (such rows never conflict in a unique index).
fn unique_key(index: &Index, row: &[Value]) -> Option<Vec<u8>> {
    let mut key = keys::index_prefix(index.id);
    for &c in &index.columns {
        if row[c].is_null() {
            return None;
        }
        encode_value(&row[c], &mut key);
    }
    Some(key)
}

/// The row key an index entry (its value) points at.
fn row_key_of_entry(table: &Table, entry_value: &[u8]) -> Vec<u8> {
    let mut key = keys::row_prefix(table.id);
    key.extend_from_slice(entry_value);
    key
}

/// The key of a stored row other than `except` that has `row`'s values in the columns of
/// `constraint`, if any.
pub fn conflicting_row(
    txn: &mut dyn Transaction,
    table: &Table,
    constraint: Constraint,
    row: &[Value],
    except: Option<&[u8]>,
) -> Result<Option<Vec<u8>>> {
    match constraint {
        Constraint::PrimaryKey => {
            if table.has_rowid() {
                return Ok(None);
            }
            let key = keys::row_key(table.id, &table.key_values(row));
            if Some(key.as_slice()) == except {
                return Ok(None);
            }
            Ok(txn.get(&key)?.map(|_| key))
        }
        Constraint::Index(i) => {
            let Some(key) = unique_key(&table.indexes[i], row) else {
                return Ok(None);
            };
            Ok(txn
                .get(&key)?
                .map(|value| row_key_of_entry(table, &value))
                .filter(|row_key| Some(row_key.as_slice()) != except))
        }
    }
}

/// Every uniqueness constraint of the table.
pub fn constraints(table: &Table) -> impl Iterator<Item = Constraint> + '_ {
    let primary = (!table.has_rowid()).then_some(Constraint::PrimaryKey);
    primary.into_iter().chain(
        table
            .indexes
            .iter()
            .enumerate()
            .filter(|(_, i)| i.unique)
            .map(|(i, _)| Constraint::Index(i)),
    )
}

/// The 23505 error for `row` conflicting on `constraint`.
pub fn unique_violation(table: &Table, constraint: Constraint, row: &[Value]) -> Error {
    let (what, columns) = match constraint {
        Constraint::PrimaryKey => ("primary key".to_string(), &table.primary_key),
        Constraint::Index(i) => (
            format!("unique index {}", table.indexes[i].name),
            &table.indexes[i].columns,
        ),
    };
    let names: Vec<&str> = columns
        .iter()
        .map(|&c| table.columns[c].name.as_str())
        .collect();
    let values: Vec<String> = columns.iter().map(|&c| row[c].render()).collect();
    Error::UniqueViolation(format!(
        "duplicate key in table {} violates {what}: ({}) = ({}) already exists",
        table.name,
        names.join(", "),
        values.join(", ")
    ))
}

/// Stores `row` at `row_key` with its index entries, failing with 23505 if it would
/// duplicate a unique index. The caller has checked the primary key.
pub fn insert(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    row: &[Value],
) -> Result<()> {
    insert_encoded(
        txn,
        table,
        row_key,
        row,
        &row::encode_row(table.version, row),
    )
}

/// Inserts `row` whose stored form (`row::encode_row`) is `encoded`, as [`insert`].
pub fn insert_encoded(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    row: &[Value],
    encoded: &[u8],
) -> Result<()> {
    txn.set(row_key, encoded)?;
    add_entries(txn, table, row_key, row, None)
}

/// Adds the index entries of `row` (stored at `row_key`), checking unique indexes. With
/// `old`, indexes whose values did not change are left as they are.
fn add_entries(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    row: &[Value],
    old: Option<&[Value]>,
) -> Result<()> {
    for (i, index) in table.indexes.iter().enumerate() {
        if old.is_some_and(|old| index.columns.iter().all(|&c| old[c] == row[c])) {
            continue;
        }
        if index.unique
            && conflicting_row(txn, table, Constraint::Index(i), row, Some(row_key))?.is_some()
        {
            return Err(unique_violation(table, Constraint::Index(i), row));
        }
        let (key, value) = entry(table, index, row_key, row);
        txn.set(&key, &value)?;
    }
    Ok(())
}

/// Removes the index entries of `row` (stored at `row_key`); with `new`, only those of
/// indexes whose values change.
fn remove_entries(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    row: &[Value],
    new: Option<&[Value]>,
) -> Result<()> {
    for index in &table.indexes {
        if new.is_some_and(|new| index.columns.iter().all(|&c| new[c] == row[c])) {
            continue;
        }
        txn.delete(&entry(table, index, row_key, row).0)?;
    }
    Ok(())
}

/// Deletes the row stored at `row_key` and its index entries.
pub fn delete(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    row: &[Value],
) -> Result<()> {
    remove_entries(txn, table, row_key, row, None)?;
    txn.delete(row_key)
}

/// Deletes the row stored at `row_key`, reading it first to find its index entries.
pub fn delete_by_key(txn: &mut dyn Transaction, table: &Table, row_key: &[u8]) -> Result<()> {
    if let Some(bytes) = txn.get(row_key)? {
        let row = decode_full_row(table, &bytes)?;
        delete(txn, table, row_key, &row)?;
    }
    Ok(())
}

/// Replaces the row at `row_key` (whose key does not change) from `old` to `new`,
/// updating the entries of the indexes whose values change.
pub fn update_in_place(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    old: &[Value],
    new: &[Value],
) -> Result<()> {
    remove_entries(txn, table, row_key, old, Some(new))?;
    txn.set(row_key, &row::encode_row(table.version, new))?;
    add_entries(txn, table, row_key, new, Some(old))
}

/// The first half of moving a row to a new key or changing it: its old index entries go
/// (only those that change when `new` is given).
pub fn unindex(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    old: &[Value],
    new: Option<&[Value]>,
) -> Result<()> {
    remove_entries(txn, table, row_key, old, new)
}

/// The second half: the row is written with the entries `unindex` removed.
pub fn reindex(
    txn: &mut dyn Transaction,
    table: &Table,
    row_key: &[u8],
    old: Option<&[Value]>,
    new: &[Value],
) -> Result<()> {
    txn.set(row_key, &row::encode_row(table.version, new))?;
    add_entries(txn, table, row_key, new, old)
}

/// Rebuilds an index from scratch: every entry is removed and written again.
pub fn rebuild(txn: &mut dyn Transaction, table: &Table, position: usize) -> Result<()> {
    let prefix = keys::index_prefix(table.indexes[position].id);
    let mut scan = RangeScan::new(vec![KeyRange::prefix(&prefix)], false, None);
    let mut doomed = Vec::new();
    while let Some(item) = scan.next(txn) {
        doomed.push(item?.0);
    }
    for key in doomed {
        txn.delete(&key)?;
    }
    backfill(txn, table, position)
}

/// Writes the entries of every stored row into a new index, failing with 23505 (naming
/// the index) if it is unique and two rows share values.
pub fn backfill(txn: &mut dyn Transaction, table: &Table, position: usize) -> Result<()> {
    let index = &table.indexes[position];
    let mut scan = RangeScan::new(
        vec![KeyRange::prefix(&keys::row_prefix(table.id))],
        false,
        None,
    );
    while let Some(item) = scan.next(txn) {
        let (row_key, bytes) = item?;
        let row = decode_full_row(table, &bytes)?;
        if index.unique
            && conflicting_row(
                txn,
                table,
                Constraint::Index(position),
                &row,
                Some(&row_key),
            )?
            .is_some()
        {
            return Err(unique_violation(table, Constraint::Index(position), &row));
        }
        let (key, value) = entry(table, index, &row_key, &row);
        txn.set(&key, &value)?;
    }
    Ok(())
}

/// Reads key ranges one after another in batches, so that the transaction is free
/// between batches (for the lookups of an index scan, or writes during a backfill), and
/// memory stays bounded however large the ranges are.
pub struct RangeScan {
    ranges: VecDeque<KeyRange>,
    reverse: bool,
    batch: VecDeque<KeyValue>,
    batch_size: usize,
    /// For an index scan: the table and index, to turn entries into rows.
    lookup: Option<(Table, usize)>,
}

impl RangeScan {
    /// Rows per batch at most (each batch opens a storage iterator and seeks), and
    /// bytes per batch at most (past which the batch ends early: large rows).
    const MAX_BATCH: usize = 1024;
    const MAX_BATCH_BYTES: usize = 1 << 20;

    pub fn new(ranges: Vec<KeyRange>, reverse: bool, lookup: Option<(Table, usize)>) -> Self {
        let mut ranges: VecDeque<KeyRange> = ranges.into();
        if reverse {
            ranges = ranges.into_iter().rev().collect();
        }
        RangeScan {
            ranges,
            reverse,
            batch: VecDeque::new(),
            // Start small so that LIMIT 1 reads little; grow for long scans.
            batch_size: 8,
            lookup,
        }
    }

    /// The next row key and stored row.
    pub fn next(&mut self, txn: &mut dyn Transaction) -> Option<Result<KeyValue>> {
        loop {
            if let Some((key, value)) = self.batch.pop_front() {
                let Some((table, index)) = &self.lookup else {
                    return Some(Ok((key, value)));
                };
                let row_key = row_key_of_entry(table, &value);
                return Some(match txn.get(&row_key) {
                    Ok(Some(bytes)) => Ok((row_key, bytes)),
                    Ok(None) => Err(Error::Corrupt(format!(
                        "index {} has an entry for a row that does not exist",
                        table.indexes[*index].name
                    ))),
                    Err(e) => Err(e),
                });
            }
            let range = self.ranges.front_mut()?;
            let mut fetched = 0;
            let mut bytes = 0;
            let mut full = false;
            for item in txn.scan(range.clone(), self.reverse) {
                match item {
                    Ok(kv) => {
                        bytes += kv.0.len() + kv.1.len();
                        self.batch.push_back(kv);
                    }
                    Err(e) => return Some(Err(e)),
                }
                fetched += 1;
                if fetched == self.batch_size || bytes >= Self::MAX_BATCH_BYTES {
                    full = true;
                    break;
                }
            }
            if !full {
                self.ranges.pop_front();
            } else {
                let last = self.batch.back().expect("fetched rows").0.clone();
                if self.reverse {
                    range.end = Bound::Excluded(last);
                } else {
                    range.start = Bound::Excluded(last);
                }
            }
            self.batch_size = (self.batch_size * 2).min(Self::MAX_BATCH);
        }
    }
}

/// The key ranges of an access (not for Full or Empty).
pub fn key_ranges(table: &Table, index: Option<usize>, spans: &[Span]) -> Vec<KeyRange> {
    let base_of = |prefix: &[Value]| match index {
        None => keys::row_key(table.id, prefix),
        Some(i) => keys::index_values_prefix(table.indexes[i].id, prefix),
    };
    let columns = match index {
        None => table.primary_key.len(),
        Some(i) => table.indexes[i].columns.len(),
    };
    spans
        .iter()
        .map(|span| {
            let base = base_of(&span.prefix);
            let with = |v: &Value| {
                let mut key = base.clone();
                encode_value(v, &mut key);
                key
            };
            let end_of = |key: &[u8]| prefix_end(key).expect("keys are never all 0xFF");
            let bounded = span.prefix.len() < columns;
            KeyRange {
                start: match &span.lower {
                    Bound::Included(v) => Bound::Included(with(v)),
                    Bound::Excluded(v) => Bound::Included(end_of(&with(v))),
                    // A bound above but none below: start past the NULLs (which sort
                    // first and never satisfy a comparison).
                    Bound::Unbounded if bounded && span.upper != Bound::Unbounded => {
                        Bound::Included(end_of(&with(&Value::Null)))
                    }
                    Bound::Unbounded => Bound::Included(base.clone()),
                },
                end: match &span.upper {
                    Bound::Included(v) => Bound::Excluded(end_of(&with(v))),
                    Bound::Excluded(v) => Bound::Excluded(with(v)),
                    Bound::Unbounded => Bound::Excluded(end_of(&base)),
                },
            }
        })
        .collect()
}

/// The scan that reads the rows of `access` (not for a primary key point lookup,
/// which is a single `get`).
pub fn scan_for(table: &Table, access: &Access, reverse: bool) -> RangeScan {
    match access {
        Access::Empty => RangeScan::new(Vec::new(), reverse, None),
        Access::Full => RangeScan::new(
            vec![KeyRange::prefix(&keys::row_prefix(table.id))],
            reverse,
            None,
        ),
        Access::Keyed { index, spans } => RangeScan::new(
            key_ranges(table, *index, spans),
            reverse,
            index.map(|i| (table.clone(), i)),
        ),
    }
}
