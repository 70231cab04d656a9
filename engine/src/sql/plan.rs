//! The planner: binds names against the catalog, builds a plan tree, and chooses how each
//! table is read.
//!
//! Access paths, from best to worst:
//! - a **point lookup** when the WHERE clause fixes every primary key column by equality;
//! - a **range scan** when it fixes a leading part of the primary key by equality and/or
//!   bounds the next key column with `<`, `<=`, `>`, `>=`;
//! - a **full scan** otherwise.
//!
//! Conditions used for a point lookup are dropped from the filter; range conditions stay
//! in it (they are cheap to recheck and that keeps widened bounds exact). An ORDER BY on a
//! leading part of the primary key is served by scanning in key order instead of sorting.

use std::ops::Bound;

use super::access::{self, Access, Span};
use super::ast::{
    self, AlterAction, BinaryOp, ConflictAction, Expr, OnConflict, OrderTerm, SelectItem, Statement,
};
use crate::catalog::{self, Column, Index, Table};
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
        rows: Vec<Vec<Expr>>,
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
    /// Store `table` as the new definition of the table now named `old_name`.
    AlterTable {
        old_name: String,
        table: Table,
    },
    Explain(Box<Plan>),
    ShowTables,
    Describe(Table),
}

/// Plans a statement, reading the catalog through `txn`.
pub fn plan(statement: Statement, txn: &mut dyn Transaction) -> Result<Plan> {
    Ok(match statement {
        Statement::Select(select) => plan_select(*select, txn)?,
        Statement::Insert {
            table,
            columns,
            rows,
            on_conflict,
            returning: items,
        } => {
            let table = catalog::must_get_table(txn, &table)?;
            let returning = returning(items, &table)?;
            let on_conflict = on_conflict.map(|c| plan_conflict(&table, c)).transpose()?;
            plan_insert(table, columns, rows, on_conflict, returning)?
        }
        Statement::Update {
            table,
            set,
            filter,
            returning: items,
        } => {
            let table = catalog::must_get_table(txn, &table)?;
            let scope = Scope::table(&table, None);
            let assignments = bind_assignments(&table, set, &scope)?;
            let source = scan(&table, filter.map(|f| scope.bind(f)).transpose()?)?;
            Plan::Update {
                returning: returning(items, &table)?,
                table,
                source,
                set: assignments,
            }
        }
        Statement::Delete {
            table,
            filter,
            returning: items,
        } => {
            let table = catalog::must_get_table(txn, &table)?;
            let filter = filter
                .map(|f| Scope::table(&table, None).bind(f))
                .transpose()?;
            Plan::Delete {
                returning: returning(items, &table)?,
                source: scan(&table, filter)?,
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
            let table = catalog::must_get_table(txn, &table)?;
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
        Statement::DropTable { names, if_exists } => Plan::DropTable { names, if_exists },
        Statement::AlterTable { name, actions } => {
            let table = alter_table(catalog::must_get_table(txn, &name)?, actions)?;
            Plan::AlterTable {
                old_name: name,
                table,
            }
        }
        Statement::Explain(inner) => match *inner {
            Statement::Explain(_) => return Err(Error::Unsupported("EXPLAIN EXPLAIN".into())),
            inner => Plan::Explain(Box::new(plan(inner, txn)?)),
        },
        Statement::Begin | Statement::Commit | Statement::Rollback => {
            return Err(Error::Unsupported(
                "transaction control inside EXPLAIN".into(),
            ));
        }
        Statement::ShowTables => Plan::ShowTables,
        Statement::Describe(name) => Plan::Describe(catalog::must_get_table(txn, &name)?),
    })
}

/// Binds `SET col = expr` assignments against `scope`.
fn bind_assignments(
    table: &Table,
    set: Vec<(String, Expr)>,
    scope: &Scope,
) -> Result<Vec<(usize, Expr)>> {
    let mut assignments: Vec<(usize, Expr)> = Vec::new();
    for (name, expr) in set {
        let index = table.must_column_index(&name)?;
        if assignments.iter().any(|(i, _)| *i == index) {
            return Err(Error::InvalidDefinition(format!(
                "column \"{name}\" is assigned more than once"
            )));
        }
        assignments.push((index, scope.bind(expr)?));
    }
    Ok(assignments)
}

/// Checks an ON CONFLICT clause against the table and binds its expressions.
fn plan_conflict(table: &Table, conflict: OnConflict) -> Result<ConflictPlan> {
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
            let scope = Scope {
                excluded: Some(table),
                ..Scope::table(table, None)
            };
            let set = bind_assignments(table, set, &scope)?;
            if set.iter().any(|(i, _)| table.primary_key.contains(i)) {
                return Err(Error::Unsupported(
                    "changing the primary key in ON CONFLICT DO UPDATE".into(),
                ));
            }
            ConflictPlan::Update {
                target,
                set,
                filter: filter.map(|f| scope.bind(f)).transpose()?,
            }
        }
    })
}

/// The names a bound expression can refer to.
struct Scope<'a> {
    /// The table and the name it goes by in the query (its alias, or its name).
    table: Option<(&'a Table, &'a str)>,
    /// In ON CONFLICT DO UPDATE: the row that was to be inserted, as `excluded.col`,
    /// bound to the columns after the table's own.
    excluded: Option<&'a Table>,
}

impl<'a> Scope<'a> {
    fn table(table: &'a Table, alias: Option<&'a str>) -> Self {
        Scope {
            table: Some((table, alias.unwrap_or(&table.name))),
            excluded: None,
        }
    }

    /// A scope with no columns (VALUES rows, LIMIT, constants).
    fn empty() -> Self {
        Scope {
            table: None,
            excluded: None,
        }
    }

    /// Resolves column names into column indexes.
    fn bind(&self, expr: Expr) -> Result<Expr> {
        Ok(match expr {
            Expr::Name {
                table: Some(qualifier),
                column,
            } if self.excluded.is_some() && qualifier == "excluded" => {
                let t = self.excluded.expect("checked");
                Expr::Column(t.columns.len() + t.must_column_index(&column)?)
            }
            Expr::Name { table, column } => {
                let Some((t, visible_name)) = self.table else {
                    return Err(Error::NoSuchColumn(format!(
                        "column \"{column}\" does not exist (the query has no FROM clause)"
                    )));
                };
                if let Some(qualifier) = &table
                    && qualifier != visible_name
                {
                    return Err(Error::NoSuchColumn(format!(
                        "no table named \"{qualifier}\" in this query (for {qualifier}.{column})"
                    )));
                }
                Expr::Column(t.must_column_index(&column)?)
            }
            Expr::Unary(op, e) => Expr::Unary(op, Box::new(self.bind(*e)?)),
            Expr::Binary(op, l, r) => {
                Expr::Binary(op, Box::new(self.bind(*l)?), Box::new(self.bind(*r)?))
            }
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: Box::new(self.bind(*expr)?),
                negated,
            },
            e @ (Expr::InList { .. } | Expr::Between { .. }) => self.bind_rare(e)?,
            e @ (Expr::Literal(_) | Expr::Column(_)) => e,
        })
    }

    /// The less common forms, out of `bind` so that its frame stays small.
    #[inline(never)]
    fn bind_rare(&self, expr: Expr) -> Result<Expr> {
        Ok(match expr {
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: Box::new(self.bind(*expr)?),
                list: list
                    .into_iter()
                    .map(|e| self.bind(e))
                    .collect::<Result<_>>()?,
                negated,
            },
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Expr::Between {
                expr: Box::new(self.bind(*expr)?),
                low: Box::new(self.bind(*low)?),
                high: Box::new(self.bind(*high)?),
                negated,
            },
            other => other,
        })
    }

    fn column_type(&self, index: usize) -> Option<DataType> {
        self.table.map(|(t, _)| t.columns[index].data_type)
    }
}

/// Output expressions bound to the input row, and the result columns they make.
#[derive(Clone, Debug)]
pub struct Projection {
    pub exprs: Vec<Expr>,
    pub columns: Vec<ColumnInfo>,
}

/// Binds a SELECT (or RETURNING) list, expanding `*` into the table's columns.
fn projection(items: Vec<SelectItem>, scope: &Scope) -> Result<Projection> {
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard => {
                let Some((t, _)) = scope.table else {
                    return Err(Error::InvalidDefinition(
                        "SELECT * needs a FROM clause".into(),
                    ));
                };
                for (i, column) in t.columns.iter().enumerate() {
                    exprs.push(Expr::Column(i));
                    columns.push(ColumnInfo {
                        name: column.name.clone(),
                        data_type: Some(column.data_type),
                    });
                }
            }
            SelectItem::Expr { expr, label } => {
                let bound = scope.bind(expr)?;
                columns.push(ColumnInfo {
                    name: label,
                    data_type: infer_type(&bound, scope),
                });
                exprs.push(bound);
            }
        }
    }
    Ok(Projection { exprs, columns })
}

/// The RETURNING projection of a write, or None without a RETURNING clause.
fn returning(items: Vec<SelectItem>, table: &Table) -> Result<Option<Projection>> {
    if items.is_empty() {
        return Ok(None);
    }
    projection(items, &Scope::table(table, None)).map(Some)
}

/// The static type of an expression's result, where it is known.
fn infer_type(expr: &Expr, scope: &Scope) -> Option<DataType> {
    match expr {
        Expr::Literal(v) => v.data_type(),
        Expr::Column(i) => scope.column_type(*i),
        Expr::Name { .. } => None,
        Expr::Unary(ast::UnaryOp::Not, _)
        | Expr::IsNull { .. }
        | Expr::InList { .. }
        | Expr::Between { .. } => Some(DataType::Boolean),
        Expr::Unary(_, e) => infer_type(e, scope),
        Expr::Binary(op, l, r) => match op {
            BinaryOp::Concat => Some(DataType::Text),
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                match (infer_type(l, scope)?, infer_type(r, scope)?) {
                    (DataType::Real, _) | (_, DataType::Real) => Some(DataType::Real),
                    _ => Some(DataType::Integer),
                }
            }
            _ => Some(DataType::Boolean),
        },
    }
}

/// Evaluates a constant expression at plan time.
pub(super) fn constant(expr: &Expr) -> Result<Value> {
    Scope::empty().bind(expr.clone())?.eval(&[])
}

/// A non-negative integer from a LIMIT or OFFSET expression.
fn count(expr: &Expr, what: &str) -> Result<u64> {
    match constant(expr)? {
        Value::Integer(n) if n >= 0 => Ok(n as u64),
        other => Err(Error::InvalidValue(format!(
            "{what} must be a non-negative integer, not {}",
            other.render()
        ))),
    }
}

fn plan_select(select: ast::Select, txn: &mut dyn Transaction) -> Result<Plan> {
    let table = match &select.from {
        Some(from) => Some(catalog::must_get_table(txn, &from.name)?),
        None => None,
    };
    let scope = match (&table, &select.from) {
        (Some(t), Some(from)) => Scope::table(t, from.alias.as_deref()),
        _ => Scope::empty(),
    };

    let Projection { exprs, columns } = projection(select.projection, &scope)?;

    // ORDER BY terms may name an output column by alias or by ordinal.
    let mut keys = Vec::new();
    for term in select.order_by {
        let expr = match &term.expr {
            Expr::Literal(Value::Integer(n)) => {
                let index = usize::try_from(*n)
                    .ok()
                    .filter(|&i| i >= 1 && i <= exprs.len())
                    .ok_or_else(|| {
                        Error::InvalidValue(format!(
                            "ORDER BY position {n} is not in the select list (1 to {})",
                            exprs.len()
                        ))
                    })?;
                exprs[index - 1].clone()
            }
            Expr::Name {
                table: None,
                column,
            } if columns.iter().any(|c| &c.name == column) => {
                let index = columns
                    .iter()
                    .position(|c| &c.name == column)
                    .expect("found");
                exprs[index].clone()
            }
            _ => scope.bind(term.expr.clone())?,
        };
        keys.push(OrderTerm { expr, ..term });
    }

    let filter = select.filter.map(|f| scope.bind(f)).transpose()?;
    let mut node = match &table {
        Some(t) => scan(t, filter)?,
        None => match filter {
            Some(predicate) => Node::Filter {
                source: Box::new(Node::Unit),
                predicate,
            },
            None => Node::Unit,
        },
    };
    let offset = select
        .offset
        .as_ref()
        .map(|e| count(e, "OFFSET"))
        .transpose()?;
    let limit = select
        .limit
        .as_ref()
        .map(|e| count(e, "LIMIT"))
        .transpose()?;
    if !keys.is_empty() {
        node = order(node, keys, limit.is_some());
    }
    if offset.is_some() || limit.is_some() {
        node = Node::Limit {
            source: Box::new(node),
            offset: offset.unwrap_or(0),
            limit,
        };
    }
    Ok(Plan::Query {
        node: Node::Project {
            source: Box::new(node),
            exprs,
        },
        columns,
    })
}

/// Sorts `source` by `keys`, unless its scan can read in that order instead: in the
/// order of the key it already uses, or (when a LIMIT makes reading a few rows in order
/// cheaper than sorting them all) through an index in the order of the keys.
fn order(source: Node, keys: Vec<OrderTerm>, limited: bool) -> Node {
    if let Node::Scan {
        table,
        access,
        filter,
        reverse: false,
    } = &source
    {
        let ordered = match access::key_order(table, access, &keys) {
            Some(descending) => Some((access.clone(), descending)),
            None if limited && *access == Access::Full => access::index_order(table, &keys),
            None => None,
        };
        if let Some((access, descending)) = ordered {
            return Node::Scan {
                table: table.clone(),
                access,
                filter: filter.clone(),
                reverse: descending,
            };
        }
    }
    Node::Sort {
        source: Box::new(source),
        keys,
    }
}

/// Builds the scan of `table` for `filter`, choosing the access path.
fn scan(table: &Table, filter: Option<Expr>) -> Result<Node> {
    let conjuncts = filter.map(Expr::into_conjuncts).unwrap_or_default();
    let (access, residual) = access::choose(table, conjuncts);
    Ok(Node::Scan {
        table: table.clone(),
        access,
        filter: Expr::and_all(residual),
        reverse: false,
    })
}

fn plan_insert(
    table: Table,
    columns: Option<Vec<String>>,
    rows: Vec<Vec<Expr>>,
    on_conflict: Option<ConflictPlan>,
    returning: Option<Projection>,
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
        bound_rows.push(
            row.into_iter()
                .map(|e| empty.bind(e))
                .collect::<Result<_>>()?,
        );
    }
    Ok(Plan::Insert {
        table,
        targets,
        rows: bound_rows,
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
    /// The plan as indented text lines, for EXPLAIN.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self {
            Plan::Query { node, .. } => explain_node(node, 0, &mut lines),
            Plan::Insert { table, rows, .. } => {
                lines.push(format!("Insert into {} ({} rows)", table.name, rows.len()));
            }
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

fn explain_node(node: &Node, depth: usize, lines: &mut Vec<String>) {
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}-> ", "   ".repeat(depth - 1))
    };
    // Expressions above a scan refer to the scanned table's columns.
    let table = scan_table(node);
    let names = |i: usize| table.map_or_else(|| format!("#{i}"), |t| column_namer(t)(i));
    let (line, child) = match node {
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
                line.push_str(&format!(", filter: {}", filter.render(&names)));
            }
            (line, None)
        }
        Node::Unit => ("Single row (no table)".to_string(), None),
        Node::Filter { source, predicate } => (
            format!("Filter: {}", predicate.render(&names)),
            Some(source),
        ),
        Node::Sort { source, keys } => {
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    let mut s = k.expr.render(&names);
                    s.push_str(if k.descending { " DESC" } else { " ASC" });
                    match k.nulls_first {
                        Some(true) => s.push_str(" NULLS FIRST"),
                        Some(false) => s.push_str(" NULLS LAST"),
                        None => {}
                    }
                    s
                })
                .collect();
            (format!("Sort: {}", parts.join(", ")), Some(source))
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
            (line, Some(source))
        }
        Node::Project { source, exprs } => {
            let parts: Vec<String> = exprs.iter().map(|e| e.render(&names)).collect();
            (format!("Project: {}", parts.join(", ")), Some(source))
        }
    };
    lines.push(format!("{indent}{line}"));
    if let Some(child) = child {
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

/// The table at the bottom of a chain of nodes, if any.
fn scan_table(node: &Node) -> Option<&Table> {
    match node {
        Node::Scan { table, .. } => Some(table),
        Node::Unit => None,
        Node::Filter { source, .. }
        | Node::Sort { source, .. }
        | Node::Limit { source, .. }
        | Node::Project { source, .. } => scan_table(source),
    }
}
