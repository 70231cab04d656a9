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

use super::ast::{
    self, AlterAction, BinaryOp, ConflictAction, Expr, OnConflict, OrderTerm, SelectItem, Statement,
};
use crate::catalog::{self, Column, Table};
use crate::error::{Error, Result};
use crate::storage::Transaction;
use crate::value::{DataType, Value};

/// A result column: its name and, where known, its type.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: Option<DataType>,
}

/// How a scan reads its table.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Every row in key order.
    Full,
    /// The one row with this full primary key.
    Point(Vec<Value>),
    /// Rows whose key starts with `prefix` and whose next key column is within bounds.
    Range {
        prefix: Vec<Value>,
        lower: Bound<Value>,
        upper: Bound<Value>,
    },
    /// No row can match (for example `id = NULL`).
    Empty,
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

/// The action of `INSERT ... ON CONFLICT` when a row's primary key is taken.
#[derive(Clone, Debug)]
pub enum ConflictPlan {
    /// Skip the row.
    Nothing,
    /// Update the existing row. Expressions see the existing row's columns, followed by
    /// the columns of the row that was to be inserted (`excluded.*`).
    Update {
        set: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
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
            if_not_exists,
        } => Plan::CreateTable {
            table: table_definition(name, columns, primary_key)?,
            if_not_exists,
        },
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
    if table.has_rowid() {
        return Err(Error::InvalidDefinition(format!(
            "table {} has no primary key, so ON CONFLICT has nothing to conflict on",
            table.name
        )));
    }
    if !conflict.target.is_empty() {
        let mut target: Vec<usize> = conflict
            .target
            .iter()
            .map(|name| table.must_column_index(name))
            .collect::<Result<_>>()?;
        let mut key = table.primary_key.clone();
        target.sort_unstable();
        key.sort_unstable();
        if target != key {
            return Err(Error::InvalidDefinition(format!(
                "ON CONFLICT ({}) does not name the primary key of {}; only primary key \
                 conflicts are detected",
                conflict.target.join(", "),
                table.name
            )));
        }
    }
    Ok(match conflict.action {
        ConflictAction::Nothing => ConflictPlan::Nothing,
        ConflictAction::Update { set, filter } => {
            if conflict.target.is_empty() {
                return Err(Error::InvalidDefinition(
                    "ON CONFLICT DO UPDATE needs a conflict target, e.g. ON CONFLICT (id)".into(),
                ));
            }
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
            e @ (Expr::Literal(_) | Expr::Column(_)) => e,
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
        Expr::Unary(ast::UnaryOp::Not, _) | Expr::IsNull { .. } => Some(DataType::Boolean),
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
fn constant(expr: &Expr) -> Result<Value> {
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
    if !keys.is_empty() {
        node = order(node, keys);
    }
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

/// Sorts `source` by `keys`, or scans in key order when that gives the same order.
fn order(source: Node, keys: Vec<OrderTerm>) -> Node {
    if let Node::Scan {
        table,
        access,
        filter,
        reverse: false,
    } = &source
    {
        let descending = keys[0].descending;
        let in_key_order = !table.has_rowid()
            && keys.len() <= table.primary_key.len()
            && keys
                .iter()
                .zip(&table.primary_key)
                .all(|(key, &pk)| key.expr == Expr::Column(pk) && key.descending == descending);
        if in_key_order {
            return Node::Scan {
                table: table.clone(),
                access: access.clone(),
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

/// A comparison of a column with a constant, normalized to `column op value`.
fn column_comparison(expr: &Expr) -> Option<(usize, BinaryOp, Value)> {
    let Expr::Binary(op, l, r) = expr else {
        return None;
    };
    let (column, op, value) = match (l.as_ref(), r.as_ref()) {
        (Expr::Column(c), v) if v.is_constant() => (*c, *op, v),
        (v, Expr::Column(c)) if v.is_constant() => (*c, op.flip()?, v),
        _ => return None,
    };
    op.flip()?; // only comparisons
    Some((column, op, constant(value).ok()?))
}

/// The value as a key value of a column of type `ty`, if it equals one exactly.
fn exact_key(value: &Value, ty: DataType) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    let converted = value.clone().coerce_to(ty, "").ok()?;
    (converted == *value).then_some(converted)
}

/// A bound for a key column of type `ty` that admits every value satisfying
/// `column op value`: exact where the value converts exactly, widened otherwise.
fn widened_bound(value: &Value, ty: DataType, lower: bool) -> Option<Value> {
    if let Some(exact) = exact_key(value, ty) {
        return Some(exact);
    }
    match (ty, value) {
        (DataType::Integer, Value::Real(r)) if r.abs() < 9.0e18 => {
            Some(Value::Integer(
                if lower { r.floor() } else { r.ceil() } as i64
            ))
        }
        _ => None,
    }
}

/// Builds the scan of `table` for `filter`, choosing the access path.
fn scan(table: &Table, filter: Option<Expr>) -> Result<Node> {
    let mut residual = filter.map(Expr::into_conjuncts).unwrap_or_default();
    let mut access = Access::Full;
    if !table.has_rowid() {
        let mut prefix = Vec::new();
        for &pk in &table.primary_key {
            let ty = table.columns[pk].data_type;
            let found =
                residual.iter().enumerate().find_map(|(i, conjunct)| {
                    match column_comparison(conjunct) {
                        Some((c, BinaryOp::Eq, v)) if c == pk => Some((i, v)),
                        _ => None,
                    }
                });
            let Some((i, value)) = found else { break };
            match exact_key(&value, ty) {
                Some(key) => {
                    prefix.push(key);
                    residual.remove(i);
                }
                None => {
                    // `pk = NULL`, `int_pk = 1.5`, `int_pk = 'x'`: never true.
                    access = Access::Empty;
                    break;
                }
            }
        }
        if access != Access::Empty {
            access = if prefix.len() == table.primary_key.len() {
                Access::Point(prefix)
            } else {
                range_access(table, prefix, &residual)
            };
        }
    }
    if access == Access::Empty {
        residual.clear();
    }
    Ok(Node::Scan {
        table: table.clone(),
        access,
        filter: Expr::and_all(residual),
        reverse: false,
    })
}

/// A range access on the key column after `prefix`, from the bounds in `conjuncts`.
fn range_access(table: &Table, prefix: Vec<Value>, conjuncts: &[Expr]) -> Access {
    let pk = table.primary_key[prefix.len()];
    let ty = table.columns[pk].data_type;
    let mut lower: Bound<Value> = Bound::Unbounded;
    let mut upper: Bound<Value> = Bound::Unbounded;
    for conjunct in conjuncts {
        let Some((c, op, value)) = column_comparison(conjunct) else {
            continue;
        };
        if c != pk {
            continue;
        }
        let is_lower = matches!(op, BinaryOp::Gt | BinaryOp::GtEq);
        if !is_lower && !matches!(op, BinaryOp::Lt | BinaryOp::LtEq) {
            continue;
        }
        if value.is_null() {
            return Access::Empty;
        }
        let Some(bound_value) = widened_bound(&value, ty, is_lower) else {
            continue;
        };
        let exact = exact_key(&value, ty).is_some();
        let bound = if exact && matches!(op, BinaryOp::Gt | BinaryOp::Lt) {
            Bound::Excluded(bound_value)
        } else {
            Bound::Included(bound_value)
        };
        if is_lower {
            lower = tighter(lower, bound, true);
        } else {
            upper = tighter(upper, bound, false);
        }
    }
    if prefix.is_empty() && lower == Bound::Unbounded && upper == Bound::Unbounded {
        return Access::Full;
    }
    Access::Range {
        prefix,
        lower,
        upper,
    }
}

/// The more restrictive of two bounds on the same side.
fn tighter(a: Bound<Value>, b: Bound<Value>, lower: bool) -> Bound<Value> {
    let value = |b: &Bound<Value>| match b {
        Bound::Included(v) | Bound::Excluded(v) => Some(v.clone()),
        Bound::Unbounded => None,
    };
    match (value(&a), value(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) => match x.total_cmp(&y) {
            std::cmp::Ordering::Equal => {
                if matches!(a, Bound::Excluded(_)) {
                    a
                } else {
                    b
                }
            }
            std::cmp::Ordering::Less => {
                if lower {
                    b
                } else {
                    a
                }
            }
            std::cmp::Ordering::Greater => {
                if lower {
                    a
                } else {
                    b
                }
            }
        },
    }
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

fn table_definition(
    name: String,
    defs: Vec<ast::ColumnDef>,
    table_pk: Vec<String>,
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
    Ok(Table {
        id: 0,
        name,
        columns,
        primary_key,
        version: 1,
    })
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
            let key_name = |i: usize| table.columns[table.primary_key[i]].name.clone();
            let how = match access {
                Access::Full => "full scan".to_string(),
                Access::Empty => "no rows (the condition is never true)".to_string(),
                Access::Point(key) => {
                    let parts: Vec<String> = key
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("{} = {}", key_name(i), v.render()))
                        .collect();
                    format!("point lookup on primary key ({})", parts.join(", "))
                }
                Access::Range {
                    prefix,
                    lower,
                    upper,
                } => {
                    let mut parts: Vec<String> = prefix
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("{} = {}", key_name(i), v.render()))
                        .collect();
                    let column = key_name(prefix.len());
                    match lower {
                        Bound::Included(v) => parts.push(format!("{column} >= {}", v.render())),
                        Bound::Excluded(v) => parts.push(format!("{column} > {}", v.render())),
                        Bound::Unbounded => {}
                    }
                    match upper {
                        Bound::Included(v) => parts.push(format!("{column} <= {}", v.render())),
                        Bound::Excluded(v) => parts.push(format!("{column} < {}", v.render())),
                        Bound::Unbounded => {}
                    }
                    format!("range scan on primary key ({})", parts.join(" AND "))
                }
            };
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
