//! The executor: runs a plan inside a transaction, pulling rows through iterators from
//! the key-value scans at the leaves to the root, and handing result rows to a
//! [`ResultSink`] one at a time so that memory stays bounded (except under a sort).

use std::cmp::Ordering;

use super::access::Access;
use super::ast::OrderTerm;
use super::plan::{ColumnInfo, ConflictPlan, Constraint, Node, Plan, Projection};
use super::rows;
use crate::catalog::{self, Table};
use crate::encoding::keys;
use crate::error::{Error, Result};
use crate::storage::{KeyRange, Transaction};
use crate::value::{DataType, Value};

/// What a statement did, reported after its rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The statement kind, as psql prints it: "SELECT", "INSERT", "CREATE TABLE", ...
    pub tag: &'static str,
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// Rows sent to the sink.
    pub rows_returned: u64,
}

/// Receives results. An error returned from here abandons the statement (its
/// transaction is rolled back), which is how a vanished client stops a query.
pub trait ResultSink {
    /// The columns of the rows that follow. Called once per statement that returns rows.
    fn columns(&mut self, columns: &[ColumnInfo]) -> Result<()>;
    /// One result row.
    fn row(&mut self, row: Vec<Value>) -> Result<()>;
    /// The statement finished and (if it wrote) committed.
    fn complete(&mut self, outcome: &Outcome) -> Result<()>;
}

/// Allocates integer keys: hidden row ids of tables without a primary key, and values of
/// an `INTEGER PRIMARY KEY` that an INSERT leaves out.
pub trait IdAllocator {
    /// The next id for `table`. `max_existing` finds the largest one stored; it is called
    /// only the first time a table is seen.
    fn next_id(&self, table: &Table, max_existing: &mut dyn FnMut() -> Result<i64>) -> Result<i64>;

    /// Notes an id a statement chose itself, so later allocations go past it.
    fn observe_id(
        &self,
        table: &Table,
        id: i64,
        max_existing: &mut dyn FnMut() -> Result<i64>,
    ) -> Result<()>;
}

type KeyedRows<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<Value>)>> + 'a>;
type Rows<'a> = Box<dyn Iterator<Item = Result<Vec<Value>>> + 'a>;

/// Runs a plan, sending any rows to `sink`, and returns the outcome (not yet reported).
pub fn execute(
    plan: Plan,
    txn: &mut dyn Transaction,
    ids: &dyn IdAllocator,
    sink: &mut dyn ResultSink,
) -> Result<Outcome> {
    let outcome = |tag, rows_affected, rows_returned| Outcome {
        tag,
        rows_affected,
        rows_returned,
    };
    Ok(match plan {
        Plan::Query { node, columns } => {
            sink.columns(&columns)?;
            let mut returned = 0;
            for row in rows(&node, txn)? {
                sink.row(row?)?;
                returned += 1;
            }
            outcome("SELECT", 0, returned)
        }
        Plan::Insert {
            table,
            targets,
            rows,
            on_conflict,
            returning,
        } => {
            start_returning(&returning, sink)?;
            let mut returned = 0;
            let mut inserted = 0;
            let prefix = keys::row_prefix(table.id);
            let integer_key = table.integer_key();
            let defaults: Vec<Value> = table
                .columns
                .iter()
                .map(|c| c.default.clone().unwrap_or(Value::Null))
                .collect();
            for values in rows {
                let mut full = defaults.clone();
                for (expr, &target) in values.iter().zip(&targets) {
                    full[target] = expr.eval(&[])?;
                }
                if let Some(pk) = integer_key
                    && full[pk].is_null()
                {
                    full[pk] = Value::Integer(ids.next_id(&table, &mut || max_id(txn, &prefix))?);
                }
                let full = check_row(&table, full)?;
                if let Some(Value::Integer(id)) = integer_key.map(|pk| &full[pk]) {
                    ids.observe_id(&table, *id, &mut || max_id(txn, &prefix))?;
                }
                let key = if table.has_rowid() {
                    let rowid = ids.next_id(&table, &mut || max_id(txn, &prefix))?;
                    keys::row_key(table.id, &[Value::Integer(rowid)])
                } else {
                    keys::row_key(table.id, &table.key_values(&full))
                };
                let primary = Constraint::PrimaryKey;
                match &on_conflict {
                    None => {}
                    Some(ConflictPlan::Nothing { target }) => {
                        let mut conflicts = false;
                        for c in rows::constraints(&table).collect::<Vec<_>>() {
                            if target.is_none_or(|t| t == c)
                                && rows::conflicting_row(txn, &table, c, &full, None)?.is_some()
                            {
                                conflicts = true;
                                break;
                            }
                        }
                        if conflicts {
                            continue;
                        }
                    }
                    Some(ConflictPlan::Replace) => {
                        for c in rows::constraints(&table).collect::<Vec<_>>() {
                            if let Some(existing) =
                                rows::conflicting_row(txn, &table, c, &full, None)?
                            {
                                rows::delete_by_key(txn, &table, &existing)?;
                            }
                        }
                    }
                    Some(ConflictPlan::Update {
                        target,
                        set,
                        filter,
                    }) => {
                        if let Some(existing_key) =
                            rows::conflicting_row(txn, &table, *target, &full, None)?
                        {
                            let bytes = txn.get(&existing_key)?.ok_or_else(|| {
                                Error::Corrupt("a conflicting row vanished".into())
                            })?;
                            let existing = rows::decode_full_row(&table, &bytes)?;
                            // Expressions see the existing row, then `excluded.*`.
                            let mut both = existing.clone();
                            both.extend(full);
                            if let Some(filter) = filter
                                && !filter.matches(&both)?
                            {
                                continue;
                            }
                            let mut updated = existing.clone();
                            for (index, expr) in set {
                                updated[*index] = expr.eval(&both)?;
                            }
                            let updated = check_row(&table, updated)?;
                            rows::update_in_place(txn, &table, &existing_key, &existing, &updated)?;
                            inserted += 1;
                            returned += return_row(&returning, &updated, sink)?;
                            continue;
                        }
                    }
                }
                if rows::conflicting_row(txn, &table, primary, &full, None)?.is_some() {
                    return Err(rows::unique_violation(&table, primary, &full));
                }
                rows::insert(txn, &table, &key, &full)?;
                inserted += 1;
                returned += return_row(&returning, &full, sink)?;
            }
            outcome("INSERT", inserted, returned)
        }
        Plan::Update {
            table,
            source,
            set,
            returning,
        } => {
            start_returning(&returning, sink)?;
            let mut returned = 0;
            let matched: Vec<(Vec<u8>, Vec<Value>)> =
                keyed_rows(&source, txn)?.collect::<Result<_>>()?;
            let count = matched.len() as u64;
            let mut changes = Vec::with_capacity(matched.len());
            for (key, old) in matched {
                let mut new = old.clone();
                for (index, expr) in &set {
                    new[*index] = expr.eval(&old)?;
                }
                let new = check_row(&table, new)?;
                let new_key = if table.has_rowid() {
                    key.clone()
                } else {
                    keys::row_key(table.id, &table.key_values(&new))
                };
                changes.push((key, old, new_key, new));
            }
            // Old index entries (and rows whose key changes) go first and the new ones
            // are written after, so uniqueness is judged on the statement's end state
            // (`SET id = id + 1` works).
            for (key, old, new_key, new) in &changes {
                if new_key == key {
                    rows::unindex(txn, &table, key, old, Some(new))?;
                } else {
                    rows::unindex(txn, &table, key, old, None)?;
                    txn.delete(key)?;
                }
            }
            let prefix = keys::row_prefix(table.id);
            let integer_key = table.integer_key();
            for (key, old, new_key, new) in changes {
                if new_key == key {
                    rows::reindex(txn, &table, &key, Some(&old), &new)?;
                } else {
                    if txn.get(&new_key)?.is_some() {
                        return Err(rows::unique_violation(&table, Constraint::PrimaryKey, &new));
                    }
                    if let Some(Value::Integer(id)) = integer_key.map(|pk| &new[pk]) {
                        ids.observe_id(&table, *id, &mut || max_id(txn, &prefix))?;
                    }
                    rows::reindex(txn, &table, &new_key, None, &new)?;
                }
                returned += return_row(&returning, &new, sink)?;
            }
            outcome("UPDATE", count, returned)
        }
        Plan::Delete {
            table,
            source,
            returning,
        } => {
            start_returning(&returning, sink)?;
            let mut returned = 0;
            let doomed: Vec<(Vec<u8>, Vec<Value>)> =
                keyed_rows(&source, txn)?.collect::<Result<_>>()?;
            for (key, old) in &doomed {
                rows::delete(txn, &table, key, old)?;
                returned += return_row(&returning, old, sink)?;
            }
            outcome("DELETE", doomed.len() as u64, returned)
        }
        Plan::CreateTable {
            table,
            if_not_exists,
        } => {
            if !(if_not_exists && catalog::get_table(txn, &table.name)?.is_some()) {
                catalog::create_table(txn, table)?;
            }
            outcome("CREATE TABLE", 0, 0)
        }
        Plan::DropTable { names, if_exists } => {
            for name in names {
                match catalog::get_table(txn, &name)? {
                    Some(table) => catalog::drop_table(txn, &table)?,
                    None if if_exists => {}
                    None => return Err(Error::NoSuchTable(name)),
                }
            }
            outcome("DROP TABLE", 0, 0)
        }
        Plan::CreateIndex {
            mut table,
            index,
            if_not_exists,
        } => {
            match catalog::find_index(txn, &index.name)? {
                Some(_) if if_not_exists => {}
                Some(_) => return Err(Error::IndexExists(index.name)),
                None => {
                    catalog::add_index(txn, &mut table, index)?;
                    rows::backfill(txn, &table, table.indexes.len() - 1)?;
                }
            }
            outcome("CREATE INDEX", 0, 0)
        }
        Plan::DropIndex { names, if_exists } => {
            for name in names {
                match catalog::find_index(txn, &name)? {
                    Some((mut table, position)) => catalog::drop_index(txn, &mut table, position)?,
                    None if if_exists => {}
                    None => return Err(Error::NoSuchIndex(name)),
                }
            }
            outcome("DROP INDEX", 0, 0)
        }
        Plan::AlterTable { old_name, table } => {
            catalog::replace_table(txn, &old_name, &table)?;
            outcome("ALTER TABLE", 0, 0)
        }
        Plan::Explain(inner) => {
            let lines = inner.explain();
            send_text_rows(
                sink,
                "plan",
                lines.into_iter().map(|l| vec![Value::Text(l)]),
            )?;
            outcome("EXPLAIN", 0, 0)
        }
        Plan::ShowTables => {
            let tables = catalog::list_tables(txn)?;
            let n = tables.len() as u64;
            send_text_rows(
                sink,
                "table",
                tables.into_iter().map(|t| vec![Value::Text(t.name)]),
            )?;
            outcome("SHOW TABLES", 0, n)
        }
        Plan::Describe(table) => {
            let columns = ["column", "type", "nullable", "default", "primary_key"];
            let infos: Vec<ColumnInfo> = columns
                .iter()
                .map(|name| ColumnInfo {
                    name: name.to_string(),
                    data_type: Some(if *name == "nullable" {
                        DataType::Boolean
                    } else if *name == "primary_key" {
                        DataType::Integer
                    } else {
                        DataType::Text
                    }),
                })
                .collect();
            sink.columns(&infos)?;
            for (i, column) in table.columns.iter().enumerate() {
                let key_position = table.primary_key.iter().position(|&pk| pk == i);
                sink.row(vec![
                    Value::Text(column.name.clone()),
                    Value::Text(column.data_type.name().into()),
                    Value::Boolean(column.nullable),
                    column
                        .default
                        .as_ref()
                        .map_or(Value::Null, |v| Value::Text(v.render())),
                    key_position.map_or(Value::Null, |p| Value::Integer(p as i64 + 1)),
                ])?;
            }
            outcome("DESCRIBE", 0, table.columns.len() as u64)
        }
    })
}

/// Announces the columns of a write's RETURNING rows, if it has any.
fn start_returning(returning: &Option<Projection>, sink: &mut dyn ResultSink) -> Result<()> {
    match returning {
        Some(projection) => sink.columns(&projection.columns),
        None => Ok(()),
    }
}

/// Sends the RETURNING row for a written row; returns how many rows it sent (0 or 1).
fn return_row(
    returning: &Option<Projection>,
    row: &[Value],
    sink: &mut dyn ResultSink,
) -> Result<u64> {
    let Some(projection) = returning else {
        return Ok(0);
    };
    sink.row(
        projection
            .exprs
            .iter()
            .map(|e| e.eval(row))
            .collect::<Result<_>>()?,
    )?;
    Ok(1)
}

fn send_text_rows(
    sink: &mut dyn ResultSink,
    column: &str,
    rows: impl Iterator<Item = Vec<Value>>,
) -> Result<()> {
    sink.columns(&[ColumnInfo {
        name: column.into(),
        data_type: Some(DataType::Text),
    }])?;
    for row in rows {
        sink.row(row)?;
    }
    Ok(())
}

/// Coerces a full row to the column types and checks NOT NULL.
fn check_row(table: &Table, row: Vec<Value>) -> Result<Vec<Value>> {
    row.into_iter()
        .zip(&table.columns)
        .map(|(value, column)| {
            if let Value::Real(r) = value
                && !r.is_finite()
            {
                return Err(Error::InvalidValue(format!(
                    "column \"{}\" cannot store the non-finite value {r}",
                    column.name
                )));
            }
            let value = value.coerce_to(column.data_type, &column.name)?;
            if value.is_null() && !column.nullable {
                return Err(Error::NotNull(format!(
                    "column \"{}\" of table {} cannot be NULL",
                    column.name, table.name
                )));
            }
            Ok(value)
        })
        .collect()
}

/// The largest integer key (hidden row id or INTEGER PRIMARY KEY) stored for the table
/// with this row prefix, or 0 when it is empty.
fn max_id(txn: &mut dyn Transaction, prefix: &[u8]) -> Result<i64> {
    match txn.scan(KeyRange::prefix(prefix), true).next() {
        None => Ok(0),
        Some(item) => {
            let (key, _) = item?;
            let mut rest = &key[prefix.len()..];
            match crate::encoding::keycode::decode_value(&mut rest)? {
                Value::Integer(i) => Ok(i),
                other => Err(Error::Corrupt(format!("row id {}", other.render()))),
            }
        }
    }
}

/// The rows a node produces.
fn rows<'a>(node: &'a Node, txn: &'a mut dyn Transaction) -> Result<Rows<'a>> {
    Ok(match node {
        Node::Scan { .. } => Box::new(keyed_rows(node, txn)?.map(|item| item.map(|(_, r)| r))),
        Node::Unit => Box::new(std::iter::once(Ok(Vec::new()))),
        Node::Filter { source, predicate } => {
            Box::new(rows(source, txn)?.filter_map(move |item| match item {
                Ok(row) => match predicate.matches(&row) {
                    Ok(true) => Some(Ok(row)),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                },
                Err(e) => Some(Err(e)),
            }))
        }
        Node::Sort { source, keys } => {
            Box::new(sort(rows(source, txn)?, keys)?.into_iter().map(Ok))
        }
        Node::Limit {
            source,
            offset,
            limit,
        } => {
            let skipped = rows(source, txn)?.skip(usize::try_from(*offset).unwrap_or(usize::MAX));
            match limit {
                Some(n) => Box::new(skipped.take(usize::try_from(*n).unwrap_or(usize::MAX))),
                None => Box::new(skipped),
            }
        }
        Node::Project { source, exprs } => Box::new(rows(source, txn)?.map(move |item| {
            let row = item?;
            exprs.iter().map(|e| e.eval(&row)).collect()
        })),
    })
}

/// Sorts rows by the keys (a stable sort: ties keep their input order).
fn sort(input: Rows<'_>, keys: &[OrderTerm]) -> Result<Vec<Vec<Value>>> {
    let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
    for row in input {
        let row = row?;
        let sort_key = keys
            .iter()
            .map(|k| k.expr.eval(&row))
            .collect::<Result<_>>()?;
        keyed.push((sort_key, row));
    }
    keyed.sort_by(|(a, _), (b, _)| {
        for ((x, y), term) in a.iter().zip(b).zip(keys) {
            let ordering = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                // NULLs are smallest unless NULLS FIRST/LAST says otherwise.
                (true, false) | (false, true) => {
                    let nulls_first = term.nulls_first.unwrap_or(!term.descending);
                    if x.is_null() == nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, false) => {
                    let o = x.total_cmp(y);
                    if term.descending { o.reverse() } else { o }
                }
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// Rows of a scan with their keys, for reads and for UPDATE and DELETE.
fn keyed_rows<'a>(node: &'a Node, txn: &'a mut dyn Transaction) -> Result<KeyedRows<'a>> {
    let Node::Scan {
        table,
        access,
        filter,
        reverse,
    } = node
    else {
        return Err(Error::Unsupported(
            "writing through anything but a table scan".into(),
        ));
    };
    let decode = move |(key, bytes): (Vec<u8>, Vec<u8>)| -> Result<Option<(Vec<u8>, Vec<Value>)>> {
        let values = rows::decode_full_row(table, &bytes)?;
        match filter {
            Some(f) if !f.matches(&values)? => Ok(None),
            _ => Ok(Some((key, values))),
        }
    };
    if let Access::Keyed { spans, .. } = access
        && access.is_primary_point(table)
    {
        let key = keys::row_key(table.id, &spans[0].prefix);
        return Ok(match txn.get(&key)? {
            Some(bytes) => Box::new(decode((key, bytes)).transpose().into_iter()),
            None => Box::new(std::iter::empty()),
        });
    }
    let mut scan = rows::scan_for(table, access, *reverse);
    Ok(Box::new(
        std::iter::from_fn(move || scan.next(txn))
            .filter_map(move |item| item.and_then(decode).transpose()),
    ))
}
