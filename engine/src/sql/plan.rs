//! The planner: binds names against the catalog, builds a plan tree, and chooses how each
//! table is read (see [`super::access`]) and how tables are joined (see
//! [`super::query`]).

use std::ops::Bound;

use super::access::{self, Access, Span};
use super::ast::{
    self, AlterAction, ConflictAction, Expr, InsertSource, JoinKind, OnConflict, OrderTerm,
    SelectItem, SetOp, Statement,
};
use super::query::{Aggregates, Binder, Scope, infer_type, relation_of_table};
use crate::catalog::{self, Column, Index, Table, View};
use crate::error::{Error, Result};
use crate::storage::Transaction;
use crate::value::{DataType, Value};

/// A result column: its name and, where known, its type.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: Option<DataType>,
}

/// A node of a query plan; rows flow from the leaves to the root.
#[derive(Clone, Debug)]
pub enum Node {
    Scan {
        table: Table,
        access: Access,
        /// Rows not matching this are skipped.
        filter: Option<Expr>,
        /// Scan in descending key order.
        reverse: bool,
    },
    /// One empty row: the source of a SELECT without FROM.
    Unit,
    /// Rows of constant expressions (`VALUES`).
    Values {
        rows: Vec<Vec<Expr>>,
    },
    Filter {
        source: Box<Node>,
        predicate: Expr,
    },
    Sort {
        source: Box<Node>,
        keys: Vec<OrderTerm>,
    },
    Limit {
        source: Box<Node>,
        offset: u64,
        limit: Option<u64>,
    },
    Project {
        source: Box<Node>,
        exprs: Vec<Expr>,
    },
    /// Rows of `left` joined with rows of `right` (left columns first) where `on` holds;
    /// a LEFT join keeps unmatched left rows, with NULLs for the right columns.
    Join {
        left: Box<Node>,
        right: Box<Node>,
        kind: JoinKind,
        on: Option<Expr>,
        method: JoinMethod,
        /// The number of columns of the left side's rows.
        left_width: usize,
        /// The number of columns of the right side's rows.
        right_width: usize,
    },
    /// One row per group: the group's first input row (`width` columns, NULLs for an
    /// empty input), the GROUP BY values, then the aggregate results.
    Aggregate {
        source: Box<Node>,
        group_by: Vec<Expr>,
        /// [`Expr::Aggregate`] calls over input rows.
        aggregates: Vec<Expr>,
        width: usize,
    },
    /// A recursive common table expression: the base's rows, then the step's rows run
    /// over the rows the round before added (its [`Node::Working`] with the same `id`),
    /// until a round adds none; without `all`, rows already produced are dropped.
    Recursive {
        id: usize,
        base: Box<Node>,
        step: Box<Node>,
        all: bool,
        /// Its column names (for EXPLAIN).
        columns: Vec<String>,
    },
    /// Inside the step of recursive query `id`: the rows its previous round added.
    Working {
        id: usize,
        columns: Vec<String>,
    },
    /// Every input row (`width` columns), in input order, followed by the value of
    /// each window function call ([`Expr::Window`]) for it.
    Window {
        source: Box<Node>,
        calls: Vec<Expr>,
        width: usize,
    },
    /// Rows without duplicates (NULLs equal to each other), in first-seen order.
    Distinct {
        source: Box<Node>,
    },
    SetOp {
        op: SetOp,
        all: bool,
        left: Box<Node>,
        right: Box<Node>,
    },
}

impl Node {
    /// The nodes this one reads rows from.
    pub fn inputs(&self) -> Vec<&Node> {
        match self {
            Node::Scan { .. } | Node::Unit | Node::Values { .. } | Node::Working { .. } => {
                Vec::new()
            }
            Node::Recursive { base, step, .. } => vec![base, step],
            Node::Filter { source, .. }
            | Node::Sort { source, .. }
            | Node::Limit { source, .. }
            | Node::Project { source, .. }
            | Node::Aggregate { source, .. }
            | Node::Window { source, .. }
            | Node::Distinct { source } => vec![source],
            Node::Join { left, right, .. } | Node::SetOp { left, right, .. } => {
                vec![left, right]
            }
        }
    }
}

/// How a join finds the right rows for a left row.
#[derive(Clone, Debug)]
pub enum JoinMethod {
    /// Every right row (read once) against every left row.
    NestedLoop,
    /// Right rows hashed by `right_keys`; a left row meets those whose keys equal its
    /// `left_keys` (NULL keys meet nothing).
    Hash {
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
    },
    /// The right side is a scan of a table; each left row's `keys` are looked up as the
    /// leading values of its primary key (`index` None) or of an index.
    Lookup {
        index: Option<usize>,
        keys: Vec<Expr>,
    },
}

/// What a planned subquery computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    /// The first row's value, or NULL without rows.
    Scalar,
    Exists {
        negated: bool,
    },
    /// `operand [NOT] IN (subquery)`.
    In {
        negated: bool,
    },
}

/// A subquery inside an expression, planned.
#[derive(Debug)]
pub struct SubPlan {
    pub node: Node,
    pub kind: SubKind,
    /// Whether it reads columns of an enclosing query (and so runs once per row).
    pub correlated: bool,
    /// The type of its column, where known.
    pub data_type: Option<DataType>,
}

impl PartialEq for SubPlan {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// A uniqueness constraint of a table: its primary key or one of its unique indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    PrimaryKey,
    /// The position of a unique index in [`Table::indexes`].
    Index(usize),
}

/// The action of `INSERT ... ON CONFLICT` when a new row conflicts with a stored one.
#[derive(Clone, Debug)]
pub enum ConflictPlan {
    /// Skip the row when it conflicts on `target`, or on any constraint when None.
    Nothing { target: Option<Constraint> },
    /// Update the row the new one conflicts with on `target`. Expressions see the
    /// existing row's columns, followed by the columns of the row that was to be
    /// inserted (`excluded.*`).
    Update {
        target: Constraint,
        set: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
    /// Delete every row the new one conflicts with, on any constraint, then insert it.
    Replace,
}

/// Where an INSERT's rows come from.
#[derive(Clone, Debug)]
pub enum InsertRows {
    Values(Vec<Vec<Expr>>),
    /// A query, read completely before the first row is written.
    Query(Node),
}

/// A planned statement.
#[derive(Clone, Debug)]
pub enum Plan {
    Query {
        node: Node,
        columns: Vec<ColumnInfo>,
    },
    Insert {
        table: Table,
        /// For each value in a row, the index of the column it goes to.
        targets: Vec<usize>,
        rows: InsertRows,
        /// What to do when a row's primary key is taken; None: fail with 23505.
        on_conflict: Option<ConflictPlan>,
        /// Rows to return, computed from each inserted row.
        returning: Option<Projection>,
    },
    Update {
        table: Table,
        source: Node,
        set: Vec<(usize, Expr)>,
        /// Rows to return, computed from each updated row (its new values).
        returning: Option<Projection>,
    },
    Delete {
        table: Table,
        source: Node,
        /// Rows to return, computed from each deleted row.
        returning: Option<Projection>,
    },
    /// Every row and index entry of the tables goes, deleted by key without reading the
    /// rows: TRUNCATE, or (`delete`, which reports the count) a DELETE without WHERE or
    /// RETURNING.
    Clear {
        tables: Vec<Table>,
        delete: bool,
    },
    CreateTable {
        table: Table,
        if_not_exists: bool,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
    },
    CreateIndex {
        table: Table,
        index: Index,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    /// Rebuild these indexes (table, position of the index) from their tables' rows.
    Reindex(Vec<(Table, usize)>),
    /// Store `table` as the new definition of the table now named `old_name`.
    AlterTable {
        old_name: String,
        table: Table,
    },
    CreateView {
        view: View,
        if_not_exists: bool,
    },
    DropView {
        names: Vec<String>,
        if_exists: bool,
    },
    Explain(Box<Plan>),
    ShowTables,
    Describe(Table),
}

/// Plans a statement, reading the catalog through `txn`.
pub fn plan(statement: Statement, txn: &mut dyn Transaction) -> Result<Plan> {
    let mut binder = Binder::new(txn);
    plan_statement(statement, &mut binder)
}

fn plan_statement(statement: Statement, binder: &mut Binder) -> Result<Plan> {
    Ok(match statement {
        Statement::Select(query) => {
            let (node, columns) = binder.plan_query(*query)?;
            Plan::Query { node, columns }
        }
        Statement::Insert {
            table,
            columns,
            source,
            on_conflict,
            returning: items,
        } => {
            let table = catalog::must_get_table(binder.txn, &table)?;
            let returning = returning(items, &table, binder)?;
            let on_conflict = on_conflict
                .map(|c| plan_conflict(&table, c, binder))
                .transpose()?;
            plan_insert(table, columns, source, on_conflict, returning, binder)?
        }
        Statement::Update {
            table,
            set,
            filter,
            returning: items,
        } => {
            let table = catalog::must_get_table(binder.txn, &table)?;
            let scope = Scope::table(&table, &table.name);
            let assignments = bind_assignments(&table, set, &scope, binder)?;
            let filter = filter
                .map(|f| binder.bind(f, &scope, Aggregates::Forbidden("WHERE")))
                .transpose()?;
            Plan::Update {
                returning: returning(items, &table, binder)?,
                source: scan(&table, filter),
                table,
                set: assignments,
            }
        }
        Statement::Delete {
            table,
            filter,
            returning: items,
        } => {
            let table = catalog::must_get_table(binder.txn, &table)?;
            if filter.is_none() && items.is_empty() {
                return Ok(Plan::Clear {
                    tables: vec![table],
                    delete: true,
                });
            }
            let scope = Scope::table(&table, &table.name);
            let filter = filter
                .map(|f| binder.bind(f, &scope, Aggregates::Forbidden("WHERE")))
                .transpose()?;
            Plan::Delete {
                returning: returning(items, &table, binder)?,
                source: scan(&table, filter),
                table,
            }
        }
        Statement::CreateTable {
            name,
            columns,
            primary_key,
            unique,
            if_not_exists,
        } => Plan::CreateTable {
            table: table_definition(name, columns, primary_key, unique)?,
            if_not_exists,
        },
        Statement::CreateIndex {
            name,
            table,
            columns,
            unique,
            if_not_exists,
        } => {
            let table = catalog::must_get_table(binder.txn, &table)?;
            let columns = index_columns(&table, &columns, &name)?;
            Plan::CreateIndex {
                index: Index {
                    id: 0,
                    name,
                    columns,
                    unique,
                },
                table,
                if_not_exists,
            }
        }
        Statement::DropIndex { names, if_exists } => Plan::DropIndex { names, if_exists },
        Statement::Reindex(name) => {
            let mut targets = Vec::new();
            match name {
                None => {
                    for table in catalog::list_tables(binder.txn)? {
                        for i in 0..table.indexes.len() {
                            targets.push((table.clone(), i));
                        }
                    }
                }
                Some(name) => match catalog::find_index(binder.txn, &name)? {
                    Some(found) => targets.push(found),
                    None => match catalog::get_table(binder.txn, &name)? {
                        Some(table) => {
                            for i in 0..table.indexes.len() {
                                targets.push((table.clone(), i));
                            }
                        }
                        None => return Err(Error::NoSuchIndex(name)),
                    },
                },
            }
            Plan::Reindex(targets)
        }
        Statement::DropTable { names, if_exists } => Plan::DropTable { names, if_exists },
        Statement::Truncate { names } => {
            let mut tables: Vec<Table> = Vec::new();
            for name in names {
                let table = catalog::must_get_table(binder.txn, &name)?;
                if tables.iter().all(|t| t.id != table.id) {
                    tables.push(table);
                }
            }
            Plan::Clear {
                tables,
                delete: false,
            }
        }
        Statement::CreateView {
            name,
            columns,
            query,
            sql,
            if_not_exists,
        } => {
            // Planned now to check it, and on every use (so it follows schema changes).
            let (_, planned) = binder.plan_query(*query)?;
            if !columns.is_empty() && columns.len() != planned.len() {
                return Err(Error::InvalidDefinition(format!(
                    "view {name} names {} columns but its query returns {}",
                    columns.len(),
                    planned.len()
                )));
            }
            let columns = if columns.is_empty() {
                planned.into_iter().map(|c| c.name).collect()
            } else {
                columns
            };
            Plan::CreateView {
                view: View { name, columns, sql },
                if_not_exists,
            }
        }
        Statement::DropView { names, if_exists } => Plan::DropView { names, if_exists },
        Statement::AlterTable { name, actions } => {
            let table = alter_table(catalog::must_get_table(binder.txn, &name)?, actions)?;
            Plan::AlterTable {
                old_name: name,
                table,
            }
        }
        Statement::Explain(inner) => match *inner {
            Statement::Explain(_) => return Err(Error::Unsupported("EXPLAIN EXPLAIN".into())),
            inner => Plan::Explain(Box::new(plan_statement(inner, binder)?)),
        },
        Statement::Begin | Statement::Commit | Statement::Rollback => {
            return Err(Error::Unsupported(
                "transaction control inside EXPLAIN".into(),
            ));
        }
        Statement::ShowTables => Plan::ShowTables,
        Statement::Describe(name) => Plan::Describe(catalog::must_get_table(binder.txn, &name)?),
    })
}

/// Binds `SET col = expr` assignments against `scope`.
fn bind_assignments(
    table: &Table,
    set: Vec<(String, Expr)>,
    scope: &Scope,
    binder: &mut Binder,
) -> Result<Vec<(usize, Expr)>> {
    let mut assignments: Vec<(usize, Expr)> = Vec::new();
    for (name, expr) in set {
        let index = table.must_column_index(&name)?;
        let bound = binder.bind(expr, scope, Aggregates::Forbidden("SET"))?;
        // As in SQLite, a column assigned more than once takes the rightmost value.
        assignments.retain(|(i, _)| *i != index);
        assignments.push((index, bound));
    }
    Ok(assignments)
}

/// Checks an ON CONFLICT clause against the table and binds its expressions.
fn plan_conflict(table: &Table, conflict: OnConflict, binder: &mut Binder) -> Result<ConflictPlan> {
    let target = if conflict.target.is_empty() {
        None
    } else {
        let mut target: Vec<usize> = conflict
            .target
            .iter()
            .map(|name| table.must_column_index(name))
            .collect::<Result<_>>()?;
        target.sort_unstable();
        let same = |columns: &[usize]| {
            let mut columns = columns.to_vec();
            columns.sort_unstable();
            columns == target
        };
        let found = if !table.has_rowid() && same(&table.primary_key) {
            Some(Constraint::PrimaryKey)
        } else {
            table
                .indexes
                .iter()
                .position(|i| i.unique && same(&i.columns))
                .map(Constraint::Index)
        };
        Some(found.ok_or_else(|| {
            Error::InvalidDefinition(format!(
                "ON CONFLICT ({}) names neither the primary key nor a unique index of {}",
                conflict.target.join(", "),
                table.name
            ))
        })?)
    };
    Ok(match conflict.action {
        ConflictAction::Nothing => ConflictPlan::Nothing { target },
        ConflictAction::Replace => ConflictPlan::Replace,
        ConflictAction::Update { set, filter } => {
            let Some(target) = target else {
                return Err(Error::InvalidDefinition(
                    "ON CONFLICT DO UPDATE needs a conflict target, e.g. ON CONFLICT (id)".into(),
                ));
            };
            // The existing row, then the row that was to be inserted as `excluded`
            // (seen only when qualified: a plain name is the existing row's).
            let mut excluded = relation_of_table(table, "excluded");
            excluded.hidden.fill(true);
            let scope = Scope::new(vec![relation_of_table(table, &table.name), excluded], None);
            let set = bind_assignments(table, set, &scope, binder)?;
            if set.iter().any(|(i, _)| table.primary_key.contains(i)) {
                return Err(Error::Unsupported(
                    "changing the primary key in ON CONFLICT DO UPDATE".into(),
                ));
            }
            ConflictPlan::Update {
                target,
                set,
                filter: filter
                    .map(|f| binder.bind(f, &scope, Aggregates::Forbidden("WHERE")))
                    .transpose()?,
            }
        }
    })
}

/// Output expressions bound to the input row, and the result columns they make.
#[derive(Clone, Debug)]
pub struct Projection {
    pub exprs: Vec<Expr>,
    pub columns: Vec<ColumnInfo>,
}

/// The RETURNING projection of a write, or None without a RETURNING clause.
fn returning(
    items: Vec<SelectItem>,
    table: &Table,
    binder: &mut Binder,
) -> Result<Option<Projection>> {
    if items.is_empty() {
        return Ok(None);
    }
    let scope = Scope::table(table, &table.name);
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                for (i, column) in table.columns.iter().enumerate() {
                    exprs.push(Expr::Column(i));
                    columns.push(ColumnInfo {
                        name: column.name.clone(),
                        data_type: Some(column.data_type),
                    });
                }
            }
            SelectItem::Expr { expr, label } => {
                let bound = binder.bind(expr, &scope, Aggregates::Forbidden("RETURNING"))?;
                columns.push(ColumnInfo {
                    name: label,
                    data_type: infer_type(&bound, &scope),
                });
                exprs.push(bound);
            }
        }
    }
    Ok(Some(Projection { exprs, columns }))
}

/// Evaluates a constant expression at plan time.
pub(super) fn constant(expr: &Expr) -> Result<Value> {
    if !expr.is_constant() {
        return Err(Error::InvalidDefinition(format!(
            "{} must be a constant expression",
            expr.render(&|i| format!("#{i}"))
        )));
    }
    expr.eval_const()
}

/// Builds the scan of `table` for `filter`, choosing the access path.
fn scan(table: &Table, filter: Option<Expr>) -> Node {
    let conjuncts = filter.map(Expr::into_conjuncts).unwrap_or_default();
    let (access, residual) = access::choose(table, conjuncts);
    Node::Scan {
        table: table.clone(),
        access,
        filter: Expr::and_all(residual),
        reverse: false,
    }
}

fn plan_insert(
    table: Table,
    columns: Option<Vec<String>>,
    source: InsertSource,
    on_conflict: Option<ConflictPlan>,
    returning: Option<Projection>,
    binder: &mut Binder,
) -> Result<Plan> {
    let targets: Vec<usize> = match columns {
        Some(names) => {
            let mut targets = Vec::new();
            for name in &names {
                let index = table.must_column_index(name)?;
                if targets.contains(&index) {
                    return Err(Error::InvalidDefinition(format!(
                        "column \"{name}\" is listed more than once"
                    )));
                }
                targets.push(index);
            }
            targets
        }
        None => (0..table.columns.len()).collect(),
    };
    let rows = match source {
        InsertSource::Values(rows) => {
            let empty = Scope::empty();
            let mut bound_rows = Vec::with_capacity(rows.len());
            for (n, row) in rows.into_iter().enumerate() {
                if row.len() != targets.len() {
                    return Err(Error::InvalidDefinition(format!(
                        "row {} of INSERT has {} values for {} columns",
                        n + 1,
                        row.len(),
                        targets.len()
                    )));
                }
                let mut bound = Vec::with_capacity(row.len());
                for e in row {
                    bound.push(binder.bind(e, &empty, Aggregates::Forbidden("VALUES"))?);
                }
                bound_rows.push(bound);
            }
            InsertRows::Values(bound_rows)
        }
        InsertSource::Query(query) => {
            let (node, columns) = binder.plan_query(*query)?;
            if columns.len() != targets.len() {
                return Err(Error::InvalidDefinition(format!(
                    "the query of INSERT returns {} columns for {} target columns",
                    columns.len(),
                    targets.len()
                )));
            }
            InsertRows::Query(node)
        }
    };
    Ok(Plan::Insert {
        table,
        targets,
        rows,
        on_conflict,
        returning,
    })
}

/// The definition `table` becomes after `actions`. Existing rows need no rewrite: a row
/// shorter than the table is completed with the column defaults when read.
fn alter_table(mut table: Table, actions: Vec<AlterAction>) -> Result<Table> {
    for action in actions {
        match action {
            AlterAction::AddColumn {
                column,
                if_not_exists,
            } => {
                if table.column_index(&column.name).is_some() {
                    if if_not_exists {
                        continue;
                    }
                    return Err(Error::InvalidDefinition(format!(
                        "column \"{}\" already exists in table {}",
                        column.name, table.name
                    )));
                }
                if column.primary_key {
                    return Err(Error::Unsupported(
                        "adding a PRIMARY KEY column to an existing table".into(),
                    ));
                }
                let default = column_default(&column)?;
                let nullable = column.nullable.unwrap_or(true);
                if !nullable && default.as_ref().is_none_or(Value::is_null) {
                    return Err(Error::InvalidDefinition(format!(
                        "column \"{}\" is NOT NULL, so it needs a DEFAULT for the rows already in {}",
                        column.name, table.name
                    )));
                }
                table.columns.push(Column {
                    name: column.name,
                    data_type: column.data_type,
                    nullable,
                    default,
                });
                table.version += 1;
            }
            AlterAction::RenameTable(name) => table.name = name,
            AlterAction::RenameColumn { old, new } => {
                let index = table.must_column_index(&old)?;
                if table.column_index(&new).is_some() {
                    return Err(Error::InvalidDefinition(format!(
                        "column \"{new}\" already exists in table {}",
                        table.name
                    )));
                }
                table.columns[index].name = new;
            }
        }
    }
    Ok(table)
}

/// A column's DEFAULT, evaluated and converted to its type.
fn column_default(def: &ast::ColumnDef) -> Result<Option<Value>> {
    let Some(expr) = &def.default else {
        return Ok(None);
    };
    if !expr.is_constant() {
        return Err(Error::InvalidDefinition(format!(
            "the DEFAULT of column \"{}\" must be a constant",
            def.name
        )));
    }
    Ok(Some(constant(expr)?.coerce_to(def.data_type, &def.name)?))
}

/// The column positions of an index's columns, checked.
fn index_columns(table: &Table, names: &[String], index: &str) -> Result<Vec<usize>> {
    let mut columns = Vec::new();
    for name in names {
        let column = table.must_column_index(name)?;
        if columns.contains(&column) {
            return Err(Error::InvalidDefinition(format!(
                "column \"{name}\" appears twice in index {index}"
            )));
        }
        columns.push(column);
    }
    Ok(columns)
}

fn table_definition(
    name: String,
    defs: Vec<ast::ColumnDef>,
    table_pk: Vec<String>,
    unique: Vec<Vec<String>>,
) -> Result<Table> {
    if defs.is_empty() {
        return Err(Error::InvalidDefinition(format!(
            "table {name} has no columns"
        )));
    }
    let mut columns: Vec<Column> = Vec::new();
    let mut primary_key = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        if columns.iter().any(|c| c.name == def.name) {
            return Err(Error::InvalidDefinition(format!(
                "column \"{}\" is defined more than once",
                def.name
            )));
        }
        let default = column_default(def)?;
        if def.primary_key {
            primary_key.push(i);
        }
        columns.push(Column {
            name: def.name.clone(),
            data_type: def.data_type,
            nullable: def.nullable.unwrap_or(true),
            default,
        });
    }
    if !table_pk.is_empty() {
        if !primary_key.is_empty() {
            return Err(Error::InvalidDefinition(format!(
                "table {name} declares its PRIMARY KEY twice"
            )));
        }
        for column in &table_pk {
            let index = columns
                .iter()
                .position(|c| &c.name == column)
                .ok_or_else(|| {
                    Error::NoSuchColumn(format!(
                        "PRIMARY KEY column \"{column}\" is not a column of {name}"
                    ))
                })?;
            if primary_key.contains(&index) {
                return Err(Error::InvalidDefinition(format!(
                    "column \"{column}\" appears twice in the PRIMARY KEY"
                )));
            }
            primary_key.push(index);
        }
    }
    if primary_key.len() > 1 && defs.iter().filter(|d| d.primary_key).count() > 1 {
        return Err(Error::InvalidDefinition(format!(
            "table {name} has PRIMARY KEY on several columns; use PRIMARY KEY (a, b)"
        )));
    }
    for &i in &primary_key {
        if defs[i].nullable == Some(true) {
            return Err(Error::InvalidDefinition(format!(
                "primary key column \"{}\" cannot be NULL",
                columns[i].name
            )));
        }
        columns[i].nullable = false;
    }
    let mut table = Table {
        id: 0,
        name,
        columns,
        primary_key,
        version: 1,
        indexes: Vec::new(),
    };
    // UNIQUE constraints become unique indexes named as PostgreSQL names them.
    let column_constraints = defs
        .iter()
        .filter(|d| d.unique)
        .map(|d| vec![d.name.clone()]);
    for names in column_constraints.chain(unique) {
        let columns = index_columns(&table, &names, "UNIQUE")?;
        let mut sorted = columns.clone();
        sorted.sort_unstable();
        let mut key = table.primary_key.clone();
        key.sort_unstable();
        if sorted == key || table.indexes.iter().any(|i| i.columns == columns) {
            continue; // already enforced
        }
        let base = format!("{}_{}_key", table.name, names.join("_"));
        let mut index_name = base.clone();
        let mut n = 1;
        while table.indexes.iter().any(|i| i.name == index_name) {
            index_name = format!("{base}{n}");
            n += 1;
        }
        table.indexes.push(Index {
            id: 0,
            name: index_name,
            columns,
            unique: true,
        });
    }
    Ok(table)
}

impl Plan {
    /// The columns of the rows the statement returns (empty if it returns none).
    pub fn result_columns(&self) -> Vec<ColumnInfo> {
        let text = |name: &str| ColumnInfo {
            name: name.into(),
            data_type: Some(DataType::Text),
        };
        match self {
            Plan::Query { columns, .. } => columns.clone(),
            Plan::Insert { returning, .. }
            | Plan::Update { returning, .. }
            | Plan::Delete { returning, .. } => returning
                .as_ref()
                .map(|r| r.columns.clone())
                .unwrap_or_default(),
            Plan::Explain(_) => vec![text("plan")],
            Plan::ShowTables => vec![text("table")],
            _ => Vec::new(),
        }
    }

    /// Whether running the plan changes the schema (so prepared plans are outdated).
    pub fn changes_schema(&self) -> bool {
        matches!(
            self,
            Plan::CreateTable { .. }
                | Plan::DropTable { .. }
                | Plan::AlterTable { .. }
                | Plan::CreateIndex { .. }
                | Plan::DropIndex { .. }
                | Plan::CreateView { .. }
                | Plan::DropView { .. }
        )
    }

    /// The plan as indented text lines, for EXPLAIN.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self {
            Plan::Query { node, .. } => explain_node(node, 0, &mut lines),
            Plan::Insert { table, rows, .. } => match rows {
                InsertRows::Values(rows) => {
                    lines.push(format!("Insert into {} ({} rows)", table.name, rows.len()));
                }
                InsertRows::Query(node) => {
                    lines.push(format!("Insert into {}", table.name));
                    explain_node(node, 1, &mut lines);
                }
            },
            Plan::Update {
                table, source, set, ..
            } => {
                let names = column_namer(table);
                let assignments: Vec<String> = set
                    .iter()
                    .map(|(i, e)| format!("{} = {}", table.columns[*i].name, e.render(&names)))
                    .collect();
                lines.push(format!(
                    "Update {} set {}",
                    table.name,
                    assignments.join(", ")
                ));
                explain_node(source, 1, &mut lines);
            }
            Plan::Delete { table, source, .. } => {
                lines.push(format!("Delete from {}", table.name));
                explain_node(source, 1, &mut lines);
            }
            Plan::CreateTable { table, .. } => lines.push(format!("Create table {}", table.name)),
            Plan::Clear { tables, delete } => {
                let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
                lines.push(if *delete {
                    format!("Delete every row of {} (by key)", names.join(", "))
                } else {
                    format!("Truncate {}", names.join(", "))
                });
            }
            Plan::DropTable { names, .. } => lines.push(format!("Drop table {}", names.join(", "))),
            Plan::AlterTable { old_name, .. } => lines.push(format!("Alter table {old_name}")),
            Plan::CreateIndex { table, index, .. } => {
                let names = column_namer(table);
                let columns: Vec<String> = index.columns.iter().map(|&c| names(c)).collect();
                lines.push(format!(
                    "Create {}index {} on {} ({})",
                    if index.unique { "unique " } else { "" },
                    index.name,
                    table.name,
                    columns.join(", ")
                ));
                lines.push(format!("-> Scan {}: full scan", table.name));
            }
            Plan::DropIndex { names, .. } => lines.push(format!("Drop index {}", names.join(", "))),
            Plan::Reindex(targets) => {
                let names: Vec<&str> = targets
                    .iter()
                    .map(|(t, i)| t.indexes[*i].name.as_str())
                    .collect();
                lines.push(format!("Reindex {}", names.join(", ")));
            }
            Plan::CreateView { view, .. } => lines.push(format!("Create view {}", view.name)),
            Plan::DropView { names, .. } => lines.push(format!("Drop view {}", names.join(", "))),
            Plan::Explain(inner) => return inner.explain(),
            Plan::ShowTables => lines.push("Show tables".into()),
            Plan::Describe(table) => lines.push(format!("Describe {}", table.name)),
        }
        lines
    }
}

fn column_namer(table: &Table) -> impl Fn(usize) -> String + '_ {
    move |i| {
        table
            .columns
            .get(i)
            .map_or_else(|| format!("#{i}"), |c| c.name.clone())
    }
}

/// Display names of the columns of a node's rows, for rendering expressions over them.
fn node_columns(node: &Node) -> Vec<String> {
    match node {
        Node::Scan { table, .. } => table.columns.iter().map(|c| c.name.clone()).collect(),
        Node::Unit => Vec::new(),
        Node::Values { rows } => (1..=rows.first().map_or(0, Vec::len))
            .map(|i| format!("column{i}"))
            .collect(),
        Node::Filter { source, .. }
        | Node::Sort { source, .. }
        | Node::Limit { source, .. }
        | Node::Distinct { source } => node_columns(source),
        Node::SetOp { left, .. } => node_columns(left),
        Node::Recursive { columns, .. } => columns.clone(),
        Node::Working { columns, .. } => columns.clone(),
        Node::Project { source, exprs } => {
            let names = node_columns(source);
            exprs.iter().map(|e| render(e, &names)).collect()
        }
        Node::Join { left, right, .. } => {
            let mut names = node_columns(left);
            names.extend(node_columns(right));
            names
        }
        Node::Window { source, calls, .. } => {
            let mut names = node_columns(source);
            let rendered: Vec<String> = calls.iter().map(|e| render(e, &names)).collect();
            names.extend(rendered);
            names
        }
        Node::Aggregate {
            source,
            group_by,
            aggregates,
            ..
        } => {
            let mut names = node_columns(source);
            let rendered: Vec<String> = group_by
                .iter()
                .chain(aggregates)
                .map(|e| render(e, &names))
                .collect();
            names.extend(rendered);
            names
        }
    }
}

fn render(e: &Expr, names: &[String]) -> String {
    e.render(&|i| names.get(i).cloned().unwrap_or_else(|| format!("#{i}")))
}

fn render_all(exprs: &[Expr], names: &[String]) -> String {
    exprs
        .iter()
        .map(|e| render(e, names))
        .collect::<Vec<_>>()
        .join(", ")
}

fn explain_node(node: &Node, depth: usize, lines: &mut Vec<String>) {
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}-> ", "   ".repeat(depth - 1))
    };
    let (line, children): (String, Vec<&Node>) = match node {
        Node::Scan {
            table,
            access,
            filter,
            reverse,
        } => {
            let how = describe_access(table, access);
            let mut line = format!("Scan {}: {how}", table.name);
            if *reverse {
                line.push_str(", descending");
            }
            if let Some(filter) = filter {
                line.push_str(&format!(
                    ", filter: {}",
                    render(filter, &node_columns(node))
                ));
            }
            (line, Vec::new())
        }
        Node::Unit => ("Single row (no table)".to_string(), Vec::new()),
        Node::Values { rows } => (format!("Values ({} rows)", rows.len()), Vec::new()),
        Node::Filter { source, predicate } => (
            format!("Filter: {}", render(predicate, &node_columns(source))),
            vec![source],
        ),
        Node::Sort { source, keys } => {
            let names = node_columns(source);
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    let mut s = render(&k.expr, &names);
                    s.push_str(if k.descending { " DESC" } else { " ASC" });
                    match k.nulls_first {
                        Some(true) => s.push_str(" NULLS FIRST"),
                        Some(false) => s.push_str(" NULLS LAST"),
                        None => {}
                    }
                    s
                })
                .collect();
            (format!("Sort: {}", parts.join(", ")), vec![source])
        }
        Node::Limit {
            source,
            offset,
            limit,
        } => {
            let mut line = String::from("Limit:");
            if let Some(limit) = limit {
                line.push_str(&format!(" {limit}"));
            }
            if *offset > 0 {
                line.push_str(&format!(" offset {offset}"));
            }
            (line, vec![source])
        }
        Node::Project { source, exprs } => (
            format!("Project: {}", render_all(exprs, &node_columns(source))),
            vec![source],
        ),
        Node::Join {
            left,
            right,
            kind,
            on,
            method,
            ..
        } => {
            let left_names = node_columns(left);
            let kind = match kind {
                JoinKind::Inner => "",
                JoinKind::Left => "left ",
                JoinKind::Right => "right ",
                JoinKind::Full => "full ",
            };
            let mut line = match method {
                JoinMethod::NestedLoop => format!("Nested loop {kind}join"),
                JoinMethod::Hash {
                    left_keys,
                    right_keys,
                } => format!(
                    "Hash {kind}join: ({}) = ({})",
                    render_all(left_keys, &left_names),
                    render_all(right_keys, &node_columns(right))
                ),
                JoinMethod::Lookup { .. } => format!("Lookup {kind}join"),
            };
            if let Some(on) = on {
                let mut names = left_names.clone();
                names.extend(node_columns(right));
                line.push_str(&format!(", filter: {}", render(on, &names)));
            }
            if let (JoinMethod::Lookup { index, keys }, Node::Scan { table, filter, .. }) =
                (method, right.as_ref())
            {
                // The right side is read by key for each left row, not scanned.
                lines.push(format!("{indent}{line}"));
                explain_node(left, depth + 1, lines);
                let columns = match index {
                    None => &table.primary_key,
                    Some(i) => &table.indexes[*i].columns,
                };
                let bounds: Vec<String> = keys
                    .iter()
                    .zip(columns)
                    .map(|(k, &c)| {
                        format!("{} = {}", table.columns[c].name, render(k, &left_names))
                    })
                    .collect();
                let key = match index {
                    None => "primary key".to_string(),
                    Some(i) => format!("index {}", table.indexes[*i].name),
                };
                let mut scan = format!(
                    "{}-> Scan {}: lookup on {key}: {}",
                    "   ".repeat(depth),
                    table.name,
                    bounds.join(" AND ")
                );
                if let Some(filter) = filter {
                    scan.push_str(&format!(
                        ", filter: {}",
                        render(filter, &node_columns(right))
                    ));
                }
                lines.push(scan);
                return;
            }
            (line, vec![left, right])
        }
        Node::Aggregate {
            source,
            group_by,
            aggregates,
            ..
        } => {
            let names = node_columns(source);
            let mut line = format!("Aggregate: {}", render_all(aggregates, &names));
            if !group_by.is_empty() {
                line.push_str(&format!(", group by {}", render_all(group_by, &names)));
            }
            (line, vec![source])
        }
        Node::Window { source, calls, .. } => {
            let names = node_columns(source);
            (
                format!("Window: {}", render_all(calls, &names)),
                vec![source],
            )
        }
        Node::Distinct { source } => ("Distinct".to_string(), vec![source]),
        Node::Recursive {
            base, step, all, ..
        } => (
            format!(
                "Recursive union{}: the first input, then the second over the rows of \
                 each round until one adds none",
                if *all { " all" } else { "" }
            ),
            vec![base, step],
        ),
        Node::Working { .. } => (
            "Rows the previous round of the recursive query added".to_string(),
            Vec::new(),
        ),
        Node::SetOp {
            op,
            all,
            left,
            right,
        } => (
            format!(
                "{}{}",
                match op {
                    SetOp::Union => "Union",
                    SetOp::Intersect => "Intersect",
                    SetOp::Except => "Except",
                },
                if *all { " all" } else { "" }
            ),
            vec![left, right],
        ),
    };
    lines.push(format!("{indent}{line}"));
    for child in children {
        explain_node(child, depth + 1, lines);
    }
}

/// How a scan reads its table, in words, with the pushed-down bounds.
fn describe_access(table: &Table, access: &Access) -> String {
    let (index, spans) = match access {
        Access::Full => return "full scan".to_string(),
        Access::Empty => return "no rows (the condition is never true)".to_string(),
        Access::Keyed { index, spans } => (index, spans),
    };
    let columns = access.key_columns(table);
    let column_name = |i: usize| table.columns[columns[i]].name.clone();
    let render_span = |span: &Span| {
        let mut parts: Vec<String> = span
            .prefix
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Null => format!("{} IS NULL", column_name(i)),
                v => format!("{} = {}", column_name(i), v.render()),
            })
            .collect();
        if span.prefix.len() < columns.len() {
            let column = column_name(span.prefix.len());
            match &span.lower {
                Bound::Included(v) => parts.push(format!("{column} >= {}", v.render())),
                Bound::Excluded(v) => parts.push(format!("{column} > {}", v.render())),
                Bound::Unbounded => {}
            }
            match &span.upper {
                Bound::Included(v) => parts.push(format!("{column} <= {}", v.render())),
                Bound::Excluded(v) => parts.push(format!("{column} < {}", v.render())),
                Bound::Unbounded => {}
            }
        }
        parts.join(" AND ")
    };
    const SHOWN: usize = 8;
    let mut rendered: Vec<String> = spans.iter().take(SHOWN).map(render_span).collect();
    if spans.len() > 1 {
        rendered = rendered
            .into_iter()
            .map(|r| {
                if r.contains(" AND ") {
                    format!("({r})")
                } else {
                    r
                }
            })
            .collect();
    }
    if spans.len() > SHOWN {
        rendered.push(format!("... {} more", spans.len() - SHOWN));
    }
    let bounds = rendered.join(" OR ");
    let (unique, key) = match index {
        None => (true, "primary key".to_string()),
        Some(i) => {
            let index = &table.indexes[*i];
            let names: Vec<&str> = index
                .columns
                .iter()
                .map(|&c| table.columns[c].name.as_str())
                .collect();
            (
                index.unique,
                format!("index {} ({})", index.name, names.join(", ")),
            )
        }
    };
    let points = unique
        && spans
            .iter()
            .all(|s| s.prefix.len() == columns.len() && !s.prefix.contains(&Value::Null));
    let kind = match (index, points, spans.len()) {
        (_, true, 1) => "point lookup",
        (_, true, _) => "point lookups",
        (None, false, _) => "range scan",
        (Some(_), false, _) => "index scan",
    };
    if bounds.is_empty() {
        format!("{kind} on {key}, in key order")
    } else {
        format!("{kind} on {key}: {bounds}")
    }
}
