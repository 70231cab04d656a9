//! The executor: runs a plan inside a transaction, pulling rows through iterators from
//! the key-value scans at the leaves to the root, and handing result rows to a
//! [`ResultSink`] one at a time so that memory stays bounded (except under a sort).

use super::access::Access;
use super::ast::Expr;
use super::cursor::{self, Ctx, Cursor, ScanCursor};
use super::plan::{ColumnInfo, ConflictPlan, Constraint, InsertRows, Node, Plan, Projection};
use super::rows;
use crate::catalog::{self, Table};
use crate::encoding::{keycode, keys, row};
use crate::error::{Error, Result};
use crate::storage::{KeyRange, Transaction};
use crate::value::{DataType, Value, ValueRef};

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
    /// One result row borrowed from storage (a query that streams stored rows as they
    /// are): a sink that encodes rows for the wire can do so without owning them.
    fn row_refs(&mut self, row: &[ValueRef<'_>]) -> Result<()> {
        self.row(row.iter().map(|v| v.to_value()).collect())
    }
    /// The statement finished and (if it wrote) committed.
    fn complete(&mut self, outcome: &Outcome) -> Result<()>;
}

/// Allocates integer keys: hidden row ids of tables without a primary key, and values of
/// an `INTEGER PRIMARY KEY` that an INSERT leaves out.
pub trait IdAllocator {
    /// The next id for `table`. `max_existing` finds the largest one stored; it is called
    /// only the first time a table is seen.
    fn next_id(&self, table: &Table, max_existing: &mut dyn FnMut() -> Result<i64>) -> Result<i64>;

    /// Notes an id a statement chose itself, so later allocations go past it; returns
    /// the next id to be allocated (ids below it need no noting).
    fn observe_id(
        &self,
        table: &Table,
        id: i64,
        max_existing: &mut dyn FnMut() -> Result<i64>,
    ) -> Result<i64>;

    /// Notes `id` as `observe_id` does, and says whether it is above every id `table`
    /// has had so far (stored when first counted, allocated or noted since): then no row
    /// has it, and the first statement to claim it is the only one told so. By default
    /// never (the caller then looks the key up).
    fn claim_id(
        &self,
        table: &Table,
        id: i64,
        max_existing: &mut dyn FnMut() -> Result<i64>,
    ) -> Result<bool> {
        self.observe_id(table, id, max_existing).map(|_| false)
    }
}

/// A run's parameter values (`$1` first).
pub enum Params<'a> {
    /// Read where the plan uses them.
    Shared(&'a [Value]),
    /// The run's own, for a plan that uses each at most once (see
    /// [`super::params::used_once`]): an INSERT takes a value given as a row's value
    /// into the row rather than copying it (a 1,000-row INSERT's texts are 1,000
    /// allocations and copies otherwise). Values taken are left NULL.
    Movable(&'a mut [Value]),
}

/// Runs a plan, sending any rows to `sink`, and returns the outcome (not yet reported).
/// A plan shared with a prepared statement is copied for the run, except an INSERT of
/// listed rows, which is run in place (its rows may be thousands of expressions).
/// `counted`: the caller has checked the number of `params` (a prepared statement knows
/// it); otherwise the plan is walked to count them.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    plan: std::sync::Arc<Plan>,
    txn: &mut dyn Transaction,
    ids: &dyn IdAllocator,
    sink: &mut dyn ResultSink,
    params: Params<'_>,
    counted: bool,
    interrupt: Option<&std::sync::Arc<std::sync::atomic::AtomicBool>>,
    memory_limit: usize,
) -> Result<Outcome> {
    let outcome = |tag, rows_affected, rows_returned| Outcome {
        tag,
        rows_affected,
        rows_returned,
    };
    // An INSERT's values given as parameters, taken before the run reads the rest.
    let mut taken = None;
    let params: &[Value] = match params {
        Params::Shared(values) => values,
        Params::Movable(values) => {
            if let Plan::Insert {
                rows: InsertRows::Values(rows),
                ..
            } = plan.as_ref()
            {
                taken = Some(take_values(rows, values));
            }
            values
        }
    };
    if !counted {
        super::params::check_count(&plan, params)?;
    }
    let mut ctx = Ctx::new(txn);
    ctx.params = params;
    ctx.interrupt = interrupt.cloned();
    ctx.memory_limit = memory_limit;
    let ctx = &mut ctx;
    if let Plan::Insert {
        table,
        targets,
        rows: rows @ InsertRows::Values(_),
        on_conflict,
        returning,
    } = plan.as_ref()
    {
        return insert(
            ctx,
            ids,
            sink,
            table,
            targets,
            rows,
            taken,
            on_conflict.as_ref(),
            returning,
        );
    }
    let plan = super::params::bind(std::sync::Arc::unwrap_or_clone(plan), params)?;
    Ok(match plan {
        Plan::Query { node, columns } => {
            sink.columns(&columns)?;
            if let Some(stored) = StoredRows::of(&node) {
                let returned = stored.send(ctx, sink)?;
                return Ok(outcome("SELECT", 0, returned));
            }
            let mut returned = 0;
            let mut cursor = Cursor::open(&node);
            while let Some(row) = cursor.next(ctx)? {
                sink.row(row)?;
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
        } => insert(
            ctx,
            ids,
            sink,
            &table,
            &targets,
            &rows,
            None,
            on_conflict.as_ref(),
            &returning,
        )?,
        Plan::Update {
            table,
            source,
            set,
            returning,
        } => {
            start_returning(&returning, sink)?;
            let mut returned = 0;
            let matched: Vec<(Vec<u8>, Vec<Value>)> = keyed_rows(&source, ctx)?;
            let count = matched.len() as u64;
            let mut changes = Vec::with_capacity(matched.len());
            for (key, old) in matched {
                let mut new = old.clone();
                for (index, expr) in &set {
                    new[*index] = expr.eval(&old, ctx)?;
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
                    rows::unindex(ctx.txn()?, &table, key, old, Some(new))?;
                } else {
                    rows::unindex(ctx.txn()?, &table, key, old, None)?;
                    ctx.txn()?.delete(key)?;
                }
            }
            let prefix = keys::row_prefix(table.id);
            let integer_key = table.integer_key();
            for (key, old, new_key, new) in changes {
                if new_key == key {
                    rows::reindex(ctx.txn()?, &table, &key, Some(&old), &new)?;
                } else {
                    if ctx.txn()?.get(&new_key)?.is_some() {
                        return Err(rows::unique_violation(&table, Constraint::PrimaryKey, &new));
                    }
                    if let Some(Value::Integer(id)) = integer_key.map(|pk| &new[pk]) {
                        ids.observe_id(&table, *id, &mut || max_id(ctx.txn()?, &prefix))?;
                    }
                    rows::reindex(ctx.txn()?, &table, &new_key, None, &new)?;
                }
                returned += return_row(&returning, &new, sink, ctx)?;
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
            let doomed: Vec<(Vec<u8>, Vec<Value>)> = keyed_rows(&source, ctx)?;
            for (key, old) in &doomed {
                rows::delete(ctx.txn()?, &table, key, old)?;
                returned += return_row(&returning, old, sink, ctx)?;
            }
            outcome("DELETE", doomed.len() as u64, returned)
        }
        Plan::Clear { tables, delete } => {
            // The statement's cancel flag, looked at between runs of deletes (the
            // transaction holds `ctx` meanwhile).
            let mut probe = Ctx::none();
            probe.interrupt = ctx.interrupt.clone();
            let check = || probe.check_interrupt();
            let mut count = 0;
            for table in &tables {
                let txn = ctx.txn()?;
                count += txn.clear(KeyRange::prefix(&keys::row_prefix(table.id)), &check)?;
                for index in &table.indexes {
                    txn.clear(KeyRange::prefix(&keys::index_prefix(index.id)), &check)?;
                }
            }
            if delete {
                outcome("DELETE", count, 0)
            } else {
                outcome("TRUNCATE TABLE", 0, 0)
            }
        }
        Plan::CreateTable {
            table,
            if_not_exists,
        } => {
            if !(if_not_exists && catalog::get_table(ctx.txn()?, &table.name)?.is_some()) {
                catalog::create_table(ctx.txn()?, table)?;
            }
            outcome("CREATE TABLE", 0, 0)
        }
        Plan::DropTable { names, if_exists } => {
            for name in names {
                match catalog::get_table(ctx.txn()?, &name)? {
                    Some(table) => catalog::drop_table(ctx.txn()?, &table)?,
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
            match catalog::find_index(ctx.txn()?, &index.name)? {
                Some(_) if if_not_exists => {}
                Some(_) => return Err(Error::IndexExists(index.name)),
                None => {
                    catalog::add_index(ctx.txn()?, &mut table, index)?;
                    rows::backfill(ctx.txn()?, &table, table.indexes.len() - 1)?;
                }
            }
            outcome("CREATE INDEX", 0, 0)
        }
        Plan::DropIndex { names, if_exists } => {
            for name in names {
                match catalog::find_index(ctx.txn()?, &name)? {
                    Some((mut table, position)) => {
                        catalog::drop_index(ctx.txn()?, &mut table, position)?
                    }
                    None if if_exists => {}
                    None => return Err(Error::NoSuchIndex(name)),
                }
            }
            outcome("DROP INDEX", 0, 0)
        }
        Plan::CreateView {
            view,
            if_not_exists,
        } => {
            let txn = ctx.txn()?;
            let exists = catalog::get_view(txn, &view.name)?.is_some();
            if !(if_not_exists && exists) {
                catalog::create_view(txn, &view)?;
            }
            outcome("CREATE VIEW", 0, 0)
        }
        Plan::DropView { names, if_exists } => {
            for name in names {
                if !catalog::drop_view(ctx.txn()?, &name)? && !if_exists {
                    return Err(Error::NoSuchView(name));
                }
            }
            outcome("DROP VIEW", 0, 0)
        }
        Plan::Reindex(targets) => {
            for (table, position) in &targets {
                rows::rebuild(ctx.txn()?, table, *position)?;
            }
            outcome("REINDEX", 0, 0)
        }
        Plan::AlterTable { old_name, table } => {
            catalog::replace_table(ctx.txn()?, &old_name, &table)?;
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
            let tables = catalog::list_tables(ctx.txn()?)?;
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

/// An INSERT's VALUES rows begun without running anything: see [`take_values`].
struct Taken {
    rows: Vec<Vec<Value>>,
    /// (row, value) of each expression left for the run to compute.
    pending: Vec<(usize, usize)>,
}

/// The rows of an INSERT's VALUES with each parameter's value taken from `params` and
/// each literal copied; every other expression is left NULL and noted as pending.
fn take_values(rows: &[Vec<Expr>], params: &mut [Value]) -> Taken {
    let mut pending = Vec::new();
    let rows = rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(|(v, e)| {
                    let value = match e {
                        Expr::Param(i) => params
                            .get_mut(*i)
                            .map(|p| std::mem::replace(p, Value::Null)),
                        Expr::Literal(value) => Some(value.clone()),
                        _ => None,
                    };
                    value.unwrap_or_else(|| {
                        pending.push((r, v));
                        Value::Null
                    })
                })
                .collect()
        })
        .collect();
    Taken { rows, pending }
}

/// Runs an INSERT: computes every source row, then writes them (see the plan's fields).
/// `taken`: the VALUES rows as [`take_values`] began them, when the run owns its
/// parameters.
#[allow(clippy::too_many_arguments)]
fn insert(
    ctx: &mut Ctx,
    ids: &dyn IdAllocator,
    sink: &mut dyn ResultSink,
    table: &Table,
    targets: &[usize],
    rows: &InsertRows,
    taken: Option<Taken>,
    on_conflict: Option<&ConflictPlan>,
    returning: &Option<Projection>,
) -> Result<Outcome> {
    let outcome = |tag, rows_affected, rows_returned| Outcome {
        tag,
        rows_affected,
        rows_returned,
    };
    start_returning(returning, sink)?;
    let mut returned = 0;
    let mut inserted = 0;
    let prefix = keys::row_prefix(table.id);
    let integer_key = table.integer_key();
    let defaults: Vec<Value> = table
        .columns
        .iter()
        .map(|c| c.default.clone().unwrap_or(Value::Null))
        .collect();
    // Every source row is computed before the first is written, so that
    // `INSERT INTO t SELECT ... FROM t` reads the table as it was.
    let source: Vec<Vec<Value>> = match (&rows, taken) {
        (
            InsertRows::Values(rows),
            Some(Taken {
                rows: mut source,
                pending,
            }),
        ) => {
            // The parameters and literals are in place; the rest are computed here.
            for (r, v) in pending {
                source[r][v] = rows[r][v].eval(&[], ctx)?;
            }
            source
        }
        (InsertRows::Values(rows), None) => {
            let mut source = Vec::with_capacity(rows.len());
            for row in rows {
                let mut values = Vec::with_capacity(row.len());
                for e in row {
                    values.push(e.eval(&[], ctx)?);
                }
                source.push(values);
            }
            source
        }
        (InsertRows::Query(node), _) => cursor::collect(node, ctx)?,
    };
    // Note the largest id the rows give once, rather than each row's under the
    // allocator's lock (a row whose id only appears after conversion is still
    // noted below).
    let pk_target = integer_key.and_then(|pk| targets.iter().position(|&t| t == pk));
    let mut noted = i64::MIN;
    let largest = pk_target.and_then(|p| {
        source
            .iter()
            .filter_map(|values| match values.get(p) {
                Some(Value::Integer(id)) => Some(*id),
                _ => None,
            })
            .max()
    });
    // A single row with its own id above every id the table has had needs no primary
    // key lookup. The claim comes after `hold`: a store whose writes are serialized by
    // their first read (see `Transaction::hold`) serializes this one from here, so that
    // a statement told the id is not new looks the key up only after this one commits.
    let mut claimed = None;
    if let Some(largest) = largest {
        if source.len() == 1 && on_conflict.is_none() {
            ctx.txn()?.hold();
            if ids.claim_id(table, largest, &mut || max_id(ctx.txn()?, &prefix))? {
                claimed = Some(largest);
            }
            noted = largest.saturating_add(1);
        } else {
            noted = ids.observe_id(table, largest, &mut || max_id(ctx.txn()?, &prefix))?;
        }
    }
    let mut maker = RowMaker {
        table,
        targets,
        in_order: targets.len() == defaults.len()
            && targets.iter().enumerate().all(|(i, &t)| i == t),
        defaults,
        integer_key,
        prefix: &prefix,
        noted,
    };
    let primary = Constraint::PrimaryKey;
    if on_conflict.is_none() && !table.has_rowid() && source.len() > 1 {
        // A plain INSERT of many rows: the keys are looked up together (`get_many`:
        // a MultiGet, or for a bulk write one iterator) rather than one get per row. Rows
        // are still judged in order: the first bad row's error is the one
        // reported, whether its values, its key or a unique index is at fault.
        let mut made = Vec::with_capacity(source.len());
        let mut failed = None;
        for values in source {
            match maker.make(values, ids, ctx) {
                Ok(row) => made.push(row),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let (fulls, keys): (Vec<_>, Vec<_>) = made.into_iter().unzip();
        // Encoded before the lookup: a bulk write holds the commit gate from its
        // first read to its commit, and encoding needs no gate. One buffer for all the
        // rows, `ends[i]` where row i ends, rather than an allocation per row.
        let mut encoded = Vec::new();
        let mut ends = Vec::with_capacity(fulls.len());
        for full in &fulls {
            row::encode_row_into(table.version, full, &mut encoded);
            if ends.is_empty() {
                // Rows of a statement are mostly alike: room for all at the first's size.
                encoded.reserve(encoded.len() * (fulls.len() - 1));
            }
            ends.push(encoded.len());
        }
        // Each write: its key and value, and a few bytes of lengths and tag.
        let bytes = encoded.len() + keys.iter().map(|key| key.len() + 8).sum::<usize>();
        let stored = ctx.txn()?.get_many(&keys)?;
        ctx.txn()?.reserve(bytes);
        let repeated = repeated_keys(&keys);
        let mut start = 0;
        for ((((full, key), stored), &end), repeated) in
            fulls.iter().zip(&keys).zip(stored).zip(&ends).zip(repeated)
        {
            if stored.is_some() || repeated {
                return Err(rows::unique_violation(table, primary, full));
            }
            rows::insert_encoded(ctx.txn()?, table, key, full, &encoded[start..end])?;
            start = end;
            inserted += 1;
            returned += return_row(returning, full, sink, ctx)?;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        return Ok(outcome("INSERT", inserted, returned));
    }
    for values in source {
        let (full, key) = maker.make(values, ids, ctx)?;
        match on_conflict {
            None => {}
            Some(ConflictPlan::Nothing { target }) => {
                let mut conflicts = false;
                for c in rows::constraints(table).collect::<Vec<_>>() {
                    if target.is_none_or(|t| t == c)
                        && rows::conflicting_row(ctx.txn()?, table, c, &full, None)?.is_some()
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
                for c in rows::constraints(table).collect::<Vec<_>>() {
                    if let Some(existing) =
                        rows::conflicting_row(ctx.txn()?, table, c, &full, None)?
                    {
                        rows::delete_by_key(ctx.txn()?, table, &existing)?;
                    }
                }
            }
            Some(ConflictPlan::Update {
                target,
                set,
                filter,
            }) => {
                if let Some(existing_key) =
                    rows::conflicting_row(ctx.txn()?, table, *target, &full, None)?
                {
                    let bytes = ctx
                        .txn()?
                        .get(&existing_key)?
                        .ok_or_else(|| Error::Corrupt("a conflicting row vanished".into()))?;
                    let existing = rows::decode_full_row(table, &bytes)?;
                    // Expressions see the existing row, then `excluded.*`.
                    let mut both = existing.clone();
                    both.extend(full);
                    if let Some(filter) = filter
                        && !filter.matches(&both, ctx)?
                    {
                        continue;
                    }
                    let mut updated = existing.clone();
                    for (index, expr) in set {
                        updated[*index] = expr.eval(&both, ctx)?;
                    }
                    let updated = check_row(table, updated)?;
                    rows::update_in_place(ctx.txn()?, table, &existing_key, &existing, &updated)?;
                    inserted += 1;
                    returned += return_row(returning, &updated, sink, ctx)?;
                    continue;
                }
            }
        }
        let new_id = matches!(
            integer_key.map(|pk| &full[pk]),
            Some(Value::Integer(id)) if Some(*id) == claimed
        );
        if !new_id && rows::conflicting_row(ctx.txn()?, table, primary, &full, None)?.is_some() {
            return Err(rows::unique_violation(table, primary, &full));
        }
        rows::insert(ctx.txn()?, table, &key, &full)?;
        inserted += 1;
        returned += return_row(returning, &full, sink, ctx)?;
    }
    Ok(outcome("INSERT", inserted, returned))
}

/// For each key, whether an earlier one in `keys` is the same. Sorting finds out whether
/// any repeats (keys listed in order sort in one pass); only then are they told apart.
fn repeated_keys(keys: &[Vec<u8>]) -> Vec<bool> {
    let mut sorted: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    sorted.sort_unstable();
    if sorted.windows(2).all(|pair| pair[0] != pair[1]) {
        return vec![false; keys.len()];
    }
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.iter()
        .map(|key| !seen.insert(key.as_slice()))
        .collect()
}

/// Announces the columns of a write's RETURNING rows, if it has any.
fn start_returning(returning: &Option<Projection>, sink: &mut dyn ResultSink) -> Result<()> {
    match returning {
        Some(projection) => sink.columns(&projection.columns),
        None => Ok(()),
    }
}

/// Turns INSERT source rows into stored rows: defaults for the columns left out, an
/// allocated id for an `INTEGER PRIMARY KEY` given as NULL (or a hidden row id), values
/// checked against their columns; and each row's key.
struct RowMaker<'p> {
    table: &'p Table,
    targets: &'p [usize],
    /// The rows name every column, in order: a row is taken as given.
    in_order: bool,
    defaults: Vec<Value>,
    integer_key: Option<usize>,
    prefix: &'p [u8],
    /// Ids below this need not be reported to the allocator.
    noted: i64,
}

impl RowMaker<'_> {
    fn make(
        &mut self,
        values: Vec<Value>,
        ids: &dyn IdAllocator,
        ctx: &mut Ctx,
    ) -> Result<(Vec<Value>, Vec<u8>)> {
        let table = self.table;
        let prefix = self.prefix;
        let mut full = if self.in_order && values.len() == self.defaults.len() {
            values
        } else {
            let mut full = self.defaults.clone();
            for (value, &target) in values.into_iter().zip(self.targets) {
                full[target] = value;
            }
            full
        };
        if let Some(pk) = self.integer_key
            && full[pk].is_null()
        {
            full[pk] = Value::Integer(ids.next_id(table, &mut || max_id(ctx.txn()?, prefix))?);
        }
        let full = check_row(table, full)?;
        if let Some(Value::Integer(id)) = self.integer_key.map(|pk| &full[pk])
            && *id >= self.noted
        {
            self.noted = ids.observe_id(table, *id, &mut || max_id(ctx.txn()?, prefix))?;
        }
        let key = if table.has_rowid() {
            let rowid = ids.next_id(table, &mut || max_id(ctx.txn()?, prefix))?;
            keys::row_key(table.id, &[Value::Integer(rowid)])
        } else {
            // keys::row_key of the key's values, without copying them out of the row.
            let mut key = Vec::with_capacity(prefix.len() + 24);
            key.extend_from_slice(prefix);
            for &column in &table.primary_key {
                keycode::encode_value(&full[column], &mut key);
            }
            key
        };
        Ok((full, key))
    }
}

/// Sends the RETURNING row for a written row; returns how many rows it sent (0 or 1).
fn return_row(
    returning: &Option<Projection>,
    row: &[Value],
    sink: &mut dyn ResultSink,
    ctx: &mut Ctx,
) -> Result<u64> {
    let Some(projection) = returning else {
        return Ok(0);
    };
    sink.row(
        projection
            .exprs
            .iter()
            .map(|e| e.eval(row, ctx))
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
fn check_row(table: &Table, mut row: Vec<Value>) -> Result<Vec<Value>> {
    // In place: a bulk INSERT checks thousands of rows of a few values each, and an
    // iterator chain collected into a new row cost more than the checks themselves.
    row.truncate(table.columns.len());
    for (value, column) in row.iter_mut().zip(&table.columns) {
        if let Value::Real(r) = value
            && !r.is_finite()
        {
            return Err(Error::InvalidValue(format!(
                "column \"{}\" cannot store the non-finite value {r}",
                column.name
            )));
        }
        let given = std::mem::replace(value, Value::Null);
        *value = given.coerce_to(column.data_type, &column.name)?;
        if value.is_null() && !column.nullable {
            return Err(Error::NotNull(format!(
                "column \"{}\" of table {} cannot be NULL",
                column.name, table.name
            )));
        }
    }
    Ok(row)
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

/// The rows a write's scan selects, with their keys, read completely before the write
/// changes anything.
fn keyed_rows(node: &Node, ctx: &mut Ctx) -> Result<Vec<(Vec<u8>, Vec<Value>)>> {
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
    let mut scan = ScanCursor::new(table, access, filter.as_ref(), *reverse);
    let mut out = Vec::new();
    while let Some(item) = scan.next_keyed(ctx)? {
        out.push(item);
    }
    Ok(out)
}

/// A query whose rows are stored rows as they are: a scan in primary key order (not a
/// single-key lookup, which a get serves better) without a filter, of every column or
/// of some. Such rows go to the sink borrowed from the storage iterator, with no copy
/// or allocation per row; a full-table `SELECT` is the case that matters.
struct StoredRows<'p> {
    table: &'p Table,
    access: &'p Access,
    reverse: bool,
    /// The columns taken, in order (None: all of them).
    picks: Option<Vec<usize>>,
}

impl<'p> StoredRows<'p> {
    /// Rows read through one storage iterator at most.
    const RUN_ROWS: usize = 4096;

    fn of(node: &'p Node) -> Option<Self> {
        let (scan, picks) = match node {
            Node::Project { source, exprs } => {
                let picks = exprs
                    .iter()
                    .map(|e| match e {
                        Expr::Column(c) => Some(*c),
                        _ => None,
                    })
                    .collect::<Option<Vec<usize>>>()?;
                (source.as_ref(), Some(picks))
            }
            scan => (scan, None),
        };
        let Node::Scan {
            table,
            access,
            filter: None,
            reverse,
        } = scan
        else {
            return None;
        };
        let by_primary_key = match access {
            Access::Full | Access::Empty => true,
            Access::Keyed { index: None, .. } => !access.is_primary_point(table),
            Access::Keyed { index: Some(_), .. } => false,
        };
        let in_range = picks
            .as_ref()
            .is_none_or(|picks| picks.iter().all(|&c| c < table.columns.len()));
        (by_primary_key && in_range).then_some(StoredRows {
            table,
            access,
            reverse: *reverse,
            picks,
        })
    }

    /// Streams the rows to `sink`; returns how many.
    fn send(&self, ctx: &mut Ctx, sink: &mut dyn ResultSink) -> Result<u64> {
        let table = self.table;
        let mut ranges = match self.access {
            Access::Full => vec![KeyRange::prefix(&keys::row_prefix(table.id))],
            Access::Keyed { spans, .. } => rows::key_ranges(table, None, spans),
            Access::Empty => Vec::new(),
        };
        if self.reverse {
            ranges.reverse();
        }
        // Columns a row stored before ALTER TABLE ADD COLUMN lacks read as their defaults.
        let defaults: Vec<ValueRef> = table
            .columns
            .iter()
            .map(|c| c.default.as_ref().map_or(ValueRef::Null, ValueRef::from))
            .collect();
        let interrupt = ctx.interrupt.clone();
        let mut returned = 0u64;
        // Buffers kept from row to row (each row's values borrow from that row's bytes).
        let mut spare_stored: Vec<ValueRef<'static>> = Vec::new();
        let mut spare_picked: Vec<ValueRef<'static>> = Vec::new();
        let txn = ctx.txn()?;
        for mut range in ranges {
            // A storage iterator pins the data it started on (memtables flushed since stay
            // in memory): a long result, read slowly, reads in runs of rows, each from a
            // new iterator placed past the last key of the run before.
            loop {
                let mut in_run = 0;
                let mut last: Option<Vec<u8>> = None;
                txn.scan_each(range.clone(), self.reverse, &mut |key, bytes| {
                    if interrupt
                        .as_ref()
                        .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed))
                    {
                        return Err(Error::Cancelled);
                    }
                    let mut stored = recycle(std::mem::take(&mut spare_stored));
                    crate::encoding::row::decode_row_refs(bytes, &mut stored)?;
                    if stored.len() < defaults.len() {
                        stored.extend_from_slice(&defaults[stored.len()..]);
                    }
                    match &self.picks {
                        None => sink.row_refs(&stored)?,
                        Some(picks) => {
                            let mut picked = recycle(std::mem::take(&mut spare_picked));
                            picked.extend(picks.iter().map(|&c| stored[c]));
                            sink.row_refs(&picked)?;
                            spare_picked = recycle(picked);
                        }
                    }
                    spare_stored = recycle(stored);
                    returned += 1;
                    in_run += 1;
                    if in_run == Self::RUN_ROWS {
                        last = Some(key.to_vec());
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                let Some(last) = last else { break };
                if self.reverse {
                    range.end = std::ops::Bound::Excluded(last);
                } else {
                    range.start = std::ops::Bound::Excluded(last);
                }
            }
        }
        Ok(returned)
    }
}

/// An empty vector of borrowed values with `values`' allocation, for values of another
/// lifetime (the standard library collects a vector of one type into a vector of a type
/// of the same layout in place).
fn recycle<'a>(mut values: Vec<ValueRef<'_>>) -> Vec<ValueRef<'a>> {
    values.clear();
    values.into_iter().map(|_| ValueRef::Null).collect()
}
