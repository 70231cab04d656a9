//! The catalog: table definitions, stored in the store's catalog key space so they are
//! transactional and survive restarts like any other data.

use crate::encoding::keys;
use crate::encoding::row::{Reader, Writer};
use crate::error::{Error, Result};
use crate::storage::{KeyRange, Transaction};
use crate::value::{DataType, Value};

/// A column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The value stored when an INSERT does not give one (NULL when None).
    pub default: Option<Value>,
}

/// A secondary index: entries keyed by the indexed values followed by the row's primary
/// key (see [`keys::index_entry_key`]), so entries are unique even when values repeat.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    /// Unique among tables and indexes; names the index's key space.
    pub id: u64,
    pub name: String,
    /// Indexes into the table's columns, in key order.
    pub columns: Vec<usize>,
    /// No two rows may have equal values in every indexed column (rows with a NULL in
    /// one of them never conflict, as in SQLite and PostgreSQL).
    pub unique: bool,
}

/// A table definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub id: u64,
    pub name: String,
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the primary key, in key order. Empty when the table has
    /// no declared primary key and rows are keyed by a hidden row id.
    pub primary_key: Vec<usize>,
    /// Bumped by schema changes; stored in each row.
    pub version: u32,
    /// Secondary indexes, in creation order.
    pub indexes: Vec<Index>,
}

impl Table {
    /// The index of a column, or None.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The index of a column, or a "no such column" error naming the table.
    pub fn must_column_index(&self, name: &str) -> Result<usize> {
        self.column_index(name).ok_or_else(|| {
            Error::NoSuchColumn(format!(
                "column \"{name}\" does not exist in table {}",
                self.name
            ))
        })
    }

    /// The column of a single-column INTEGER PRIMARY KEY, which takes the next id when
    /// an INSERT leaves it out or NULL.
    pub fn integer_key(&self) -> Option<usize> {
        match self.primary_key.as_slice() {
            [pk] if self.columns[*pk].data_type == DataType::Integer => Some(*pk),
            _ => None,
        }
    }

    /// Whether rows are keyed by a hidden row id.
    pub fn has_rowid(&self) -> bool {
        self.primary_key.is_empty()
    }

    /// The primary key values of a full row (not for rowid tables).
    pub fn key_values(&self, row: &[Value]) -> Vec<Value> {
        self.primary_key.iter().map(|&i| row[i].clone()).collect()
    }

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(2); // format version of the definition itself (1 had no indexes)
        w.varint(self.id);
        w.str(&self.name);
        w.varint(u64::from(self.version));
        w.varint(self.columns.len() as u64);
        for column in &self.columns {
            w.str(&column.name);
            w.u8(match column.data_type {
                DataType::Boolean => 0,
                DataType::Integer => 1,
                DataType::Real => 2,
                DataType::Text => 3,
                DataType::Blob => 4,
            });
            w.u8(u8::from(column.nullable));
            match &column.default {
                None => w.u8(0),
                Some(value) => {
                    w.u8(1);
                    w.value(value);
                }
            }
        }
        w.varint(self.primary_key.len() as u64);
        for &i in &self.primary_key {
            w.varint(i as u64);
        }
        w.varint(self.indexes.len() as u64);
        for index in &self.indexes {
            w.varint(index.id);
            w.str(&index.name);
            w.u8(u8::from(index.unique));
            w.varint(index.columns.len() as u64);
            for &i in &index.columns {
                w.varint(i as u64);
            }
        }
        w.buf
    }

    fn decode(bytes: &[u8]) -> Result<Table> {
        let corrupt = |what: &str| Error::Corrupt(format!("table definition: {what}"));
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != 1 && format != 2 {
            return Err(corrupt("unknown format version"));
        }
        let id = r.varint()?;
        let name = r.string()?;
        let version = u32::try_from(r.varint()?).map_err(|_| corrupt("version"))?;
        let count = r.varint()?;
        let mut columns = Vec::new();
        for _ in 0..count {
            let name = r.string()?;
            let data_type = match r.u8()? {
                0 => DataType::Boolean,
                1 => DataType::Integer,
                2 => DataType::Real,
                3 => DataType::Text,
                4 => DataType::Blob,
                _ => return Err(corrupt("column type")),
            };
            let nullable = r.u8()? != 0;
            let default = match r.u8()? {
                0 => None,
                _ => Some(r.value()?),
            };
            columns.push(Column {
                name,
                data_type,
                nullable,
                default,
            });
        }
        let pk_len = r.varint()?;
        let mut primary_key = Vec::new();
        for _ in 0..pk_len {
            let i = r.varint()? as usize;
            if i >= columns.len() {
                return Err(corrupt("primary key column"));
            }
            primary_key.push(i);
        }
        let mut indexes = Vec::new();
        if format >= 2 {
            for _ in 0..r.varint()? {
                let id = r.varint()?;
                let name = r.string()?;
                let unique = r.u8()? != 0;
                let mut index_columns = Vec::new();
                for _ in 0..r.varint()? {
                    let i = r.varint()? as usize;
                    if i >= columns.len() {
                        return Err(corrupt("index column"));
                    }
                    index_columns.push(i);
                }
                indexes.push(Index {
                    id,
                    name,
                    columns: index_columns,
                    unique,
                });
            }
        }
        Ok(Table {
            id,
            name,
            columns,
            primary_key,
            version,
            indexes,
        })
    }
}

/// Reads a table definition, or None if there is no such table.
pub fn get_table(txn: &mut dyn Transaction, name: &str) -> Result<Option<Table>> {
    txn.get(&keys::table_key(name))?
        .map(|bytes| Table::decode(&bytes))
        .transpose()
}

/// Reads a table definition, or fails with "no such table".
pub fn must_get_table(txn: &mut dyn Transaction, name: &str) -> Result<Table> {
    get_table(txn, name)?.ok_or_else(|| Error::NoSuchTable(name.to_string()))
}

/// Every table, in name order.
pub fn list_tables(txn: &mut dyn Transaction) -> Result<Vec<Table>> {
    txn.scan(KeyRange::prefix(&keys::catalog_prefix()), false)
        .map(|item| item.and_then(|(_, value)| Table::decode(&value)))
        .collect()
}

/// Stores a new table definition, assigning fresh ids to it and its indexes.
pub fn create_table(txn: &mut dyn Transaction, mut table: Table) -> Result<Table> {
    if get_table(txn, &table.name)?.is_some() {
        return Err(Error::TableExists(table.name));
    }
    if get_view(txn, &table.name)?.is_some() {
        return Err(Error::NameTaken(format!("a view named {}", table.name)));
    }
    for index in &table.indexes {
        if find_index(txn, &index.name)?.is_some() {
            return Err(Error::IndexExists(index.name.clone()));
        }
    }
    table.id = next_sequence(txn, "table_id")?;
    for index in &mut table.indexes {
        index.id = next_sequence(txn, "table_id")?;
    }
    txn.set(&keys::table_key(&table.name), &table.encode())?;
    Ok(table)
}

/// The table holding the index named `name`, and the index's position in it.
pub fn find_index(txn: &mut dyn Transaction, name: &str) -> Result<Option<(Table, usize)>> {
    for table in list_tables(txn)? {
        if let Some(i) = table.indexes.iter().position(|x| x.name == name) {
            return Ok(Some((table, i)));
        }
    }
    Ok(None)
}

/// Adds `index` to `table`'s definition, giving it a fresh id; returns the stored index.
/// The caller fills it.
pub fn add_index(txn: &mut dyn Transaction, table: &mut Table, mut index: Index) -> Result<Index> {
    if find_index(txn, &index.name)?.is_some() {
        return Err(Error::IndexExists(index.name));
    }
    index.id = next_sequence(txn, "table_id")?;
    table.indexes.push(index.clone());
    txn.set(&keys::table_key(&table.name), &table.encode())?;
    Ok(index)
}

/// Removes the index at `position` of `table` and all its entries.
pub fn drop_index(txn: &mut dyn Transaction, table: &mut Table, position: usize) -> Result<()> {
    let index = table.indexes.remove(position);
    delete_prefix(txn, &keys::index_prefix(index.id))?;
    txn.set(&keys::table_key(&table.name), &table.encode())
}

/// Deletes every key starting with `prefix`: in one step at commit on RocksDB, so that
/// dropping a large table takes neither time nor memory in proportion to its rows.
fn delete_prefix(txn: &mut dyn Transaction, prefix: &[u8]) -> Result<()> {
    txn.drop_range(KeyRange::prefix(prefix))
}

/// Deletes rows and index entries whose table or index is not in the catalog: what a
/// crash left between a DROP's commit and the deletion of its rows that follows it
/// (see `Transaction::drop_range`). Run when the database opens, before any session;
/// returns how many tables' and indexes' keys it deleted.
pub fn sweep_orphans(txn: &mut dyn Transaction) -> Result<usize> {
    let mut live = std::collections::HashSet::new();
    for table in list_tables(txn)? {
        live.insert(table.id);
        live.extend(table.indexes.iter().map(|index| index.id));
    }
    let mut swept = 0;
    for (space, prefix) in [
        (keys::row_space(), keys::row_prefix as fn(u64) -> Vec<u8>),
        (keys::index_space(), keys::index_prefix),
    ] {
        let end = keys::end_of(&space);
        let mut from = space;
        // One seek per id present: the first key at or after `from` names the next.
        loop {
            let range = KeyRange {
                start: std::ops::Bound::Included(from),
                end: std::ops::Bound::Excluded(end.clone()),
            };
            let Some((key, _)) = txn.scan(range, false).next().transpose()? else {
                break;
            };
            let id = keys::owner_id(&key).ok_or_else(|| {
                Error::Corrupt(format!(
                    "a key of {} bytes in the row or index space",
                    key.len()
                ))
            })?;
            let owned = prefix(id);
            if !live.contains(&id) {
                txn.drop_range(KeyRange::prefix(&owned))?;
                swept += 1;
            }
            from = keys::end_of(&owned);
        }
    }
    Ok(swept)
}

/// Replaces the definition of the table stored as `old_name` (which may be renamed).
pub fn replace_table(txn: &mut dyn Transaction, old_name: &str, table: &Table) -> Result<()> {
    if table.name != old_name {
        if get_table(txn, &table.name)?.is_some() {
            return Err(Error::TableExists(table.name.clone()));
        }
        txn.delete(&keys::table_key(old_name))?;
    }
    txn.set(&keys::table_key(&table.name), &table.encode())
}

/// Removes a table definition, every row of the table and every index entry.
pub fn drop_table(txn: &mut dyn Transaction, table: &Table) -> Result<()> {
    delete_prefix(txn, &keys::row_prefix(table.id))?;
    for index in &table.indexes {
        delete_prefix(txn, &keys::index_prefix(index.id))?;
    }
    txn.delete(&keys::table_key(&table.name))
}

/// A view: a named query, stored as its SQL text and planned on each use.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub name: String,
    /// The names of its columns.
    pub columns: Vec<String>,
    pub sql: String,
}

impl View {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(1);
        w.str(&self.name);
        w.varint(self.columns.len() as u64);
        for c in &self.columns {
            w.str(c);
        }
        w.str(&self.sql);
        w.buf
    }

    fn decode(bytes: &[u8]) -> Result<View> {
        let mut r = Reader::new(bytes);
        if r.u8()? != 1 {
            return Err(Error::Corrupt(
                "view definition: unknown format version".into(),
            ));
        }
        let name = r.string()?;
        let mut columns = Vec::new();
        for _ in 0..r.varint()? {
            columns.push(r.string()?);
        }
        let sql = r.string()?;
        Ok(View { name, columns, sql })
    }
}

/// Reads a view definition, or None.
pub fn get_view(txn: &mut dyn Transaction, name: &str) -> Result<Option<View>> {
    txn.get(&keys::view_key(name))?
        .map(|bytes| View::decode(&bytes))
        .transpose()
}

/// Stores a new view; its name may not be a table's or another view's.
pub fn create_view(txn: &mut dyn Transaction, view: &View) -> Result<()> {
    if get_table(txn, &view.name)?.is_some() {
        return Err(Error::NameTaken(format!("a table named {}", view.name)));
    }
    if get_view(txn, &view.name)?.is_some() {
        return Err(Error::NameTaken(format!("view {}", view.name)));
    }
    txn.set(&keys::view_key(&view.name), &view.encode())
}

/// Removes a view; false if there was none.
pub fn drop_view(txn: &mut dyn Transaction, name: &str) -> Result<bool> {
    if get_view(txn, name)?.is_none() {
        return Ok(false);
    }
    txn.delete(&keys::view_key(name))?;
    Ok(true)
}

/// Returns the next value of a named sequence (starting at 1) and advances it.
fn next_sequence(txn: &mut dyn Transaction, name: &str) -> Result<u64> {
    let key = keys::sequence_key(name);
    let current = match txn.get(&key)? {
        Some(bytes) => u64::from_be_bytes(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| Error::Corrupt(format!("sequence {name}")))?,
        ),
        None => 1,
    };
    txn.set(&key, &(current + 1).to_be_bytes())?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Store;
    use crate::storage::memory::MemoryStore;

    fn sample(name: &str) -> Table {
        Table {
            id: 0,
            name: name.into(),
            columns: vec![
                Column {
                    name: "id".into(),
                    data_type: DataType::Integer,
                    nullable: false,
                    default: None,
                },
                Column {
                    name: "note".into(),
                    data_type: DataType::Text,
                    nullable: true,
                    default: Some(Value::Text("none".into())),
                },
            ],
            primary_key: vec![0],
            version: 1,
            indexes: vec![Index {
                id: 0,
                name: format!("{name}_note"),
                columns: vec![1],
                unique: true,
            }],
        }
    }

    #[test]
    fn tables_round_trip_and_get_distinct_ids() {
        let store = MemoryStore::new();
        let mut txn = store.begin().unwrap();
        let a = create_table(txn.as_mut(), sample("a")).unwrap();
        let b = create_table(txn.as_mut(), sample("b")).unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(must_get_table(txn.as_mut(), "a").unwrap(), a);
        assert_eq!(
            create_table(txn.as_mut(), sample("a")).unwrap_err(),
            Error::TableExists("a".into())
        );
        let names: Vec<String> = list_tables(txn.as_mut())
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        drop_table(txn.as_mut(), &a).unwrap();
        assert_eq!(
            must_get_table(txn.as_mut(), "a").unwrap_err(),
            Error::NoSuchTable("a".into())
        );
    }

    #[test]
    fn corrupt_definitions_are_errors() {
        let bytes = sample("t").encode();
        for len in 0..bytes.len() {
            assert!(Table::decode(&bytes[..len]).is_err());
        }
    }
}
