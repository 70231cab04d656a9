//! Binding names and planning queries: FROM with joins, subqueries and views, WHERE,
//! GROUP BY and aggregates, HAVING, DISTINCT, compound queries, ORDER BY and LIMIT.
//!
//! Names are bound against a [`Scope`]: the relations of a FROM clause laid side by side
//! in FROM order, so that column `i` of the combined row is `Expr::Column(i)`. A name not
//! found there is looked up in the enclosing queries' scopes and becomes
//! [`Expr::Outer`] (a correlated subquery).
//!
//! Joins: the inner-joined relations of a FROM clause (commas, `JOIN`, `CROSS JOIN`) and
//! the WHERE conditions form one pool. The planner starts from the relation its own
//! conditions narrow most (a key lookup beats a range beats a filter), then repeatedly
//! joins the relation connected to those already joined by an equality: through a key
//! lookup when the equality covers the leading columns of its primary key or an index,
//! through a hash join otherwise; unconnected relations are joined by nested loops.
//! Every condition is applied as soon as the relations it names are joined. A `LEFT
//! JOIN` is planned as a unit with its `ON` condition.

use std::cell::Cell;
use std::sync::Arc;

use super::access::{self, Access};
use super::ast::{
    AggFunc, BinaryOp, Expr, FromItem, Func, JoinConstraint, JoinKind, OrderTerm, Query, Select,
    SelectItem, SetExpr, SubqueryKind, WindowCall, WindowFunc,
};
use super::plan::{ColumnInfo, JoinMethod, Node, SubKind, SubPlan, constant};
use crate::catalog::{self, Table};
use crate::error::{Error, Result};
use crate::storage::Transaction;
use crate::value::{DataType, Value};

/// A relation visible in a scope.
#[derive(Clone, Debug)]
pub struct ScopeRelation {
    /// The name it goes by (its alias, or its table name).
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    /// Columns an unqualified name or `*` does not see (the right side of USING).
    pub hidden: Vec<bool>,
}

/// The names a bound expression can refer to.
pub struct Scope<'a> {
    pub relations: Vec<ScopeRelation>,
    pub parent: Option<&'a Scope<'a>>,
    /// Set when an expression bound here refers to an enclosing query.
    correlated: Cell<bool>,
}

impl<'a> Scope<'a> {
    pub fn new(relations: Vec<ScopeRelation>, parent: Option<&'a Scope<'a>>) -> Self {
        Scope {
            relations,
            parent,
            correlated: Cell::new(false),
        }
    }

    /// The scope of one table's rows, under `name`.
    pub fn table(table: &Table, name: &str) -> Self {
        Scope::new(vec![relation_of_table(table, name)], None)
    }

    /// No columns at all (VALUES rows, LIMIT, constants).
    pub fn empty() -> Self {
        Scope::new(Vec::new(), None)
    }

    pub fn width(&self) -> usize {
        self.relations.iter().map(|r| r.columns.len()).sum()
    }

    fn offset(&self, relation: usize) -> usize {
        self.relations[..relation]
            .iter()
            .map(|r| r.columns.len())
            .sum()
    }

    /// The relation a combined-row column belongs to.
    fn relation_of(&self, column: usize) -> usize {
        let mut start = 0;
        for (i, r) in self.relations.iter().enumerate() {
            if column < start + r.columns.len() {
                return i;
            }
            start += r.columns.len();
        }
        self.relations.len()
    }

    fn column_type(&self, index: usize) -> Option<DataType> {
        let r = self.relation_of(index);
        self.relations
            .get(r)
            .and_then(|rel| rel.columns[index - self.offset(r)].data_type)
    }

    /// Finds a column here: Ok(Some(index)), Ok(None) when absent, Err when ambiguous.
    fn find(&self, table: Option<&str>, column: &str) -> Result<Option<usize>> {
        let mut found = None;
        for (r, rel) in self.relations.iter().enumerate() {
            if table.is_some_and(|t| t != rel.name) {
                continue;
            }
            for (c, col) in rel.columns.iter().enumerate() {
                if col.name == column && (table.is_some() || !rel.hidden[c]) {
                    if found.is_some() {
                        return Err(Error::NoSuchColumn(format!(
                            "column reference \"{column}\" is ambiguous"
                        )));
                    }
                    found = Some(self.offset(r) + c);
                }
            }
        }
        Ok(found)
    }

    fn has_relation(&self, name: &str) -> bool {
        self.relations.iter().any(|r| r.name == name)
    }

    /// Resolves a column name here or in an enclosing scope.
    fn resolve(&self, table: Option<&str>, column: &str) -> Result<Expr> {
        let mut scope = self;
        let mut depth = 0;
        loop {
            if let Some(index) = scope.find(table, column)? {
                if depth == 0 {
                    return Ok(Expr::Column(index));
                }
                return Ok(Expr::Outer { depth, index });
            }
            scope.correlated.set(true);
            match scope.parent {
                Some(parent) => {
                    scope = parent;
                    depth += 1;
                }
                None => break,
            }
        }
        // Not found anywhere: undo the marks and explain.
        let mut s = Some(self);
        while let Some(scope) = s {
            scope.correlated.set(false);
            s = scope.parent;
        }
        Err(match table {
            Some(t) if !self.has_relation(t) && self.parent.is_none_or(|p| !p.has_relation(t)) => {
                Error::NoSuchColumn(format!(
                    "no table named \"{t}\" in this query (for {t}.{column})"
                ))
            }
            Some(t) => Error::NoSuchColumn(format!("column \"{column}\" does not exist in {t}")),
            None if self.relations.is_empty() && self.parent.is_none() => Error::NoSuchColumn(
                format!("column \"{column}\" does not exist (the query has no FROM clause)"),
            ),
            None if self.relations.len() == 1 => Error::NoSuchColumn(format!(
                "column \"{column}\" does not exist in table {}",
                self.relations[0].name
            )),
            None => Error::NoSuchColumn(format!("column \"{column}\" does not exist")),
        })
    }
}

pub fn relation_of_table(table: &Table, name: &str) -> ScopeRelation {
    ScopeRelation {
        name: name.to_string(),
        columns: table
            .columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                data_type: Some(c.data_type),
            })
            .collect(),
        hidden: vec![false; table.columns.len()],
    }
}

/// Binds expressions: resolves names, functions and subqueries.
pub struct Binder<'t> {
    pub txn: &'t mut dyn Transaction,
    /// Views being expanded, to refuse a view that refers to itself.
    expanding: Vec<String>,
    /// The recursive queries whose step is being planned: the id and columns of each
    /// one's working table.
    working: Vec<(usize, Vec<ColumnInfo>)>,
}

/// Where aggregates may appear.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Aggregates {
    Allowed,
    Forbidden(&'static str),
}

impl<'t> Binder<'t> {
    pub fn new(txn: &'t mut dyn Transaction) -> Self {
        Binder {
            txn,
            expanding: Vec::new(),
            working: Vec::new(),
        }
    }

    /// Binds an expression in `scope`.
    pub fn bind(&mut self, expr: Expr, scope: &Scope, aggregates: Aggregates) -> Result<Expr> {
        match expr {
            Expr::Name { table, column } => scope.resolve(table.as_deref(), &column),
            Expr::Function {
                name,
                args,
                distinct,
                star,
            } => self.bind_function(name, args, distinct, star, scope, aggregates),
            Expr::Subquery { kind, query } => self.bind_subquery(kind, *query, scope, aggregates),
            Expr::Window(call) => self.bind_window(*call, scope, aggregates),
            // The common forms directly: deep chains of them recurse through here.
            Expr::Binary(op, l, r) => {
                let l = self.bind(*l, scope, aggregates)?;
                let r = self.bind(*r, scope, aggregates)?;
                Ok(Expr::Binary(op, Box::new(l), Box::new(r)))
            }
            Expr::Unary(op, e) => Ok(Expr::Unary(op, Box::new(self.bind(*e, scope, aggregates)?))),
            e @ (Expr::Literal(_) | Expr::Column(_)) => Ok(e),
            other => self.bind_children(other, scope, aggregates),
        }
    }

    #[inline(never)]
    fn bind_children(&mut self, expr: Expr, scope: &Scope, aggregates: Aggregates) -> Result<Expr> {
        expr.map_children(&mut |child| self.bind(child, scope, aggregates))
    }

    /// Binds a window function call: resolves the function, and binds its arguments,
    /// PARTITION BY and ORDER BY (which may hold aggregates, over the groups of an
    /// aggregated query, but not other window functions).
    #[inline(never)]
    fn bind_window(
        &mut self,
        call: WindowCall,
        scope: &Scope,
        aggregates: Aggregates,
    ) -> Result<Expr> {
        let WindowFunc::Named {
            name,
            distinct,
            star,
        } = &call.func
        else {
            return Err(Error::Corrupt("a window function bound twice".into()));
        };
        if let Aggregates::Forbidden(place) = aggregates {
            return Err(Error::InvalidDefinition(format!(
                "window functions are not allowed in {place}"
            )));
        }
        let args = call.args.len();
        let ranking = match name.as_str() {
            "row_number" => Some((WindowFunc::RowNumber, 0..=0)),
            "rank" => Some((WindowFunc::Rank, 0..=0)),
            "dense_rank" => Some((WindowFunc::DenseRank, 0..=0)),
            "percent_rank" => Some((WindowFunc::PercentRank, 0..=0)),
            "cume_dist" => Some((WindowFunc::CumeDist, 0..=0)),
            "ntile" => Some((WindowFunc::Ntile, 1..=1)),
            "lag" => Some((WindowFunc::Lag, 1..=3)),
            "lead" => Some((WindowFunc::Lead, 1..=3)),
            "first_value" => Some((WindowFunc::FirstValue, 1..=1)),
            "last_value" => Some((WindowFunc::LastValue, 1..=1)),
            "nth_value" => Some((WindowFunc::NthValue, 2..=2)),
            _ => None,
        };
        let func = match ranking {
            Some((func, arity)) => {
                if *star || *distinct {
                    return Err(Error::InvalidDefinition(format!(
                        "{name}({}) is not allowed",
                        if *star { "*" } else { "DISTINCT ..." }
                    )));
                }
                if !arity.contains(&args) {
                    return Err(Error::InvalidDefinition(format!(
                        "wrong number of arguments to window function {name}()"
                    )));
                }
                func
            }
            None => match AggFunc::named(name, args, *star) {
                Some(func) => {
                    if *star && *distinct {
                        return Err(Error::InvalidDefinition(format!(
                            "{name}(DISTINCT *) is not allowed"
                        )));
                    }
                    if func == AggFunc::GroupConcat && args == 2 && *distinct {
                        return Err(Error::InvalidDefinition(
                            "group_concat(DISTINCT ...) takes a single argument".into(),
                        ));
                    }
                    WindowFunc::Aggregate {
                        func,
                        distinct: *distinct,
                    }
                }
                None => return Err(Error::Unsupported(format!("the window function {name}"))),
            },
        };
        let bound = Expr::Window(Box::new(call))
            .map_children(&mut |e| self.bind(e, scope, Aggregates::Allowed))?;
        let Expr::Window(mut bound) = bound else {
            unreachable!("binding keeps the call");
        };
        if bound
            .args
            .iter()
            .chain(&bound.partition_by)
            .chain(bound.order_by.iter().map(|t| &t.expr))
            .any(has_window)
        {
            return Err(Error::InvalidDefinition(
                "window function calls cannot be nested".into(),
            ));
        }
        bound.func = func;
        Ok(Expr::Window(bound))
    }

    #[inline(never)]
    fn bind_function(
        &mut self,
        name: String,
        args: Vec<Expr>,
        distinct: bool,
        star: bool,
        scope: &Scope,
        aggregates: Aggregates,
    ) -> Result<Expr> {
        if star && distinct {
            return Err(Error::InvalidDefinition(format!(
                "{name}(DISTINCT *) is not allowed"
            )));
        }
        if let Some(func) = AggFunc::named(&name, args.len(), star) {
            if let Aggregates::Forbidden(place) = aggregates {
                return Err(Error::InvalidDefinition(format!(
                    "aggregate functions are not allowed in {place}"
                )));
            }
            let mut bound = Vec::new();
            for arg in args {
                let arg = self.bind(arg, scope, Aggregates::Forbidden("aggregate arguments"))?;
                bound.push(arg);
            }
            if func == AggFunc::GroupConcat && bound.len() == 2 && distinct {
                return Err(Error::InvalidDefinition(
                    "group_concat(DISTINCT ...) takes a single argument".into(),
                ));
            }
            if func == AggFunc::GroupConcat && bound.len() == 2 {
                // The separator is the second argument; keep it as a pair in a call.
                let sep = bound.pop().expect("two args");
                let value = bound.pop().expect("two args");
                return Ok(Expr::Aggregate {
                    func,
                    arg: Some(Box::new(Expr::Call(Func::Coalesce, vec![value, sep]))),
                    distinct,
                });
            }
            return Ok(Expr::Aggregate {
                func,
                arg: bound.pop().map(Box::new),
                distinct,
            });
        }
        if star || distinct {
            return Err(Error::InvalidDefinition(format!(
                "{name}({}) is not an aggregate function",
                if star { "*" } else { "DISTINCT ..." }
            )));
        }
        let (func, arity): (Func, &[usize]) = match name.as_str() {
            "abs" => (Func::Abs, &[1]),
            "length" => (Func::Length, &[1]),
            "upper" => (Func::Upper, &[1]),
            "lower" => (Func::Lower, &[1]),
            "substr" | "substring" => (Func::Substr, &[2, 3]),
            "round" => (Func::Round, &[1, 2]),
            "typeof" => (Func::Typeof, &[1]),
            "coalesce" => (Func::Coalesce, &[]),
            "ifnull" => (Func::Ifnull, &[2]),
            "nullif" => (Func::Nullif, &[2]),
            "min" => (Func::Least, &[]),
            "max" => (Func::Greatest, &[]),
            "trim" => (Func::Trim, &[1, 2]),
            "ltrim" => (Func::Ltrim, &[1, 2]),
            "rtrim" => (Func::Rtrim, &[1, 2]),
            "replace" => (Func::Replace, &[3]),
            "instr" => (Func::Instr, &[2]),
            _ => return Err(Error::Unsupported(format!("the function {name}"))),
        };
        let ok = if arity.is_empty() {
            args.len() >= 2
        } else {
            arity.contains(&args.len())
        };
        if !ok {
            return Err(Error::InvalidDefinition(format!(
                "wrong number of arguments to function {name}()"
            )));
        }
        let mut bound = Vec::new();
        for arg in args {
            bound.push(self.bind(arg, scope, aggregates)?);
        }
        Ok(Expr::Call(func, bound))
    }

    #[inline(never)]
    fn bind_subquery(
        &mut self,
        kind: SubqueryKind,
        query: Query,
        scope: &Scope,
        aggregates: Aggregates,
    ) -> Result<Expr> {
        let (kind, operand) = match kind {
            SubqueryKind::In { expr, negated } => (
                SubKind::In { negated },
                Some(Box::new(self.bind(*expr, scope, aggregates)?)),
            ),
            SubqueryKind::Exists { negated } => (SubKind::Exists { negated }, None),
            SubqueryKind::Scalar => (SubKind::Scalar, None),
        };
        let inner = Scope::new(Vec::new(), Some(scope));
        let (node, columns, correlated) = self.plan_query_in(query, &inner)?;
        if !matches!(kind, SubKind::Exists { .. }) && columns.len() != 1 {
            return Err(Error::InvalidDefinition(format!(
                "a subquery used as a value must return one column, not {}",
                columns.len()
            )));
        }
        Ok(Expr::Planned {
            sub: Arc::new(SubPlan {
                node,
                kind,
                correlated,
                data_type: columns.first().and_then(|c| c.data_type),
            }),
            operand,
        })
    }

    /// Plans a query at the top level.
    pub fn plan_query(&mut self, query: Query) -> Result<(Node, Vec<ColumnInfo>)> {
        let scope = Scope::empty();
        let (node, columns, _) = self.plan_query_in(query, &scope)?;
        Ok((node, columns))
    }

    /// Plans a query whose FROM scope will be a child of `outer`'s parent: `outer` is an
    /// empty scope whose parent is the enclosing query (or None). Returns whether the
    /// query refers to an enclosing one.
    fn plan_query_in(
        &mut self,
        query: Query,
        outer: &Scope,
    ) -> Result<(Node, Vec<ColumnInfo>, bool)> {
        let Query {
            body,
            order_by,
            limit,
            offset,
        } = query;
        let limit = limit.map(|e| count(&e, "LIMIT")).transpose()?;
        let offset = offset.map(|e| count(&e, "OFFSET")).transpose()?;
        match body {
            SetExpr::Select(select) => self.plan_select(*select, order_by, limit, offset, outer),
            body => {
                let (node, columns, correlated) = self.plan_set_expr(body, outer)?;
                let mut node = node;
                if !order_by.is_empty() {
                    let keys = output_order(order_by, &columns, None)?;
                    node = Node::Sort {
                        source: Box::new(node),
                        keys,
                    };
                }
                Ok((limited(node, limit, offset), columns, correlated))
            }
        }
    }

    fn plan_set_expr(
        &mut self,
        body: SetExpr,
        outer: &Scope,
    ) -> Result<(Node, Vec<ColumnInfo>, bool)> {
        match body {
            SetExpr::Select(select) => self.plan_select(*select, Vec::new(), None, None, outer),
            SetExpr::Query(query) => self.plan_query_in(*query, outer),
            SetExpr::Values(rows) => {
                let width = rows.first().map_or(0, Vec::len);
                let mut bound = Vec::new();
                for row in rows {
                    if row.len() != width {
                        return Err(Error::InvalidDefinition(
                            "all VALUES rows must have the same number of values".into(),
                        ));
                    }
                    let mut values = Vec::new();
                    for e in row {
                        values.push(self.bind(e, outer, Aggregates::Forbidden("VALUES"))?);
                    }
                    bound.push(values);
                }
                let columns = (0..width)
                    .map(|i| ColumnInfo {
                        name: format!("column{}", i + 1),
                        data_type: bound[0][i].literal_type(),
                    })
                    .collect();
                Ok((Node::Values { rows: bound }, columns, false))
            }
            SetExpr::SetOp {
                op,
                all,
                left,
                right,
            } => {
                let (left, columns, c1) = self.plan_set_expr(*left, outer)?;
                let (right, right_columns, c2) = self.plan_set_expr(*right, outer)?;
                if columns.len() != right_columns.len() {
                    return Err(Error::InvalidDefinition(
                        format!(
                            "each side of {op:?} must have the same number of columns ({} and {})",
                            columns.len(),
                            right_columns.len()
                        )
                        .replace("Union", "UNION")
                        .replace("Intersect", "INTERSECT")
                        .replace("Except", "EXCEPT"),
                    ));
                }
                Ok((
                    Node::SetOp {
                        op,
                        all,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    columns,
                    c1 || c2,
                ))
            }
        }
    }

    fn plan_select(
        &mut self,
        select: Select,
        order_by: Vec<OrderTerm>,
        limit: Option<u64>,
        offset: Option<u64>,
        outer: &Scope,
    ) -> Result<(Node, Vec<ColumnInfo>, bool)> {
        // FROM: the relations, in FROM order, and how they are joined.
        let mut relations: Vec<Rel> = Vec::new();
        let mut trees = Vec::new();
        for item in select.from {
            trees.push(self.tree_of(item, &mut relations, outer)?);
        }
        let scope = Scope::new(
            relations.iter().map(|r| r.scope.clone()).collect(),
            outer.parent,
        );
        let scope = &scope;

        // Bind every condition and output expression in the FROM scope.
        let mut pool: Vec<Expr> = Vec::new();
        if let Some(filter) = select.filter {
            pool.extend(
                self.bind(filter, scope, Aggregates::Forbidden("WHERE"))?
                    .into_conjuncts(),
            );
        }
        let trees = trees
            .into_iter()
            .map(|t| self.bind_tree(t, scope, &relations))
            .collect::<Result<Vec<_>>>()?;

        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        for item in select.projection {
            match item {
                SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                    let only = match &item {
                        SelectItem::QualifiedWildcard(name) => Some(name.as_str()),
                        _ => None,
                    };
                    if scope.relations.is_empty() {
                        return Err(Error::InvalidDefinition(
                            "SELECT * needs a FROM clause".into(),
                        ));
                    }
                    if let Some(name) = only
                        && !scope.has_relation(name)
                    {
                        return Err(Error::NoSuchColumn(format!(
                            "no table named \"{name}\" in this query (for {name}.*)"
                        )));
                    }
                    for (r, rel) in scope.relations.iter().enumerate() {
                        if only.is_some_and(|n| n != rel.name) {
                            continue;
                        }
                        for (c, column) in rel.columns.iter().enumerate() {
                            if rel.hidden[c] && only.is_none() {
                                continue;
                            }
                            exprs.push(Expr::Column(scope.offset(r) + c));
                            columns.push(column.clone());
                        }
                    }
                }
                SelectItem::Expr { expr, label } => {
                    let bound = self.bind(expr, scope, Aggregates::Allowed)?;
                    columns.push(ColumnInfo {
                        name: label,
                        data_type: infer_type(&bound, scope),
                    });
                    exprs.push(bound);
                }
            }
        }
        let group_by = select
            .group_by
            .into_iter()
            .map(|e| {
                // GROUP BY may name an output column by ordinal or alias.
                match &position_literal(e.clone()) {
                    Expr::Literal(Value::Integer(n)) => {
                        let i = usize::try_from(*n)
                            .ok()
                            .filter(|&i| i >= 1 && i <= exprs.len());
                        i.map(|i| exprs[i - 1].clone()).ok_or_else(|| {
                            Error::InvalidValue(format!(
                                "GROUP BY position {n} is not in the select list"
                            ))
                        })
                    }
                    Expr::Name {
                        table: None,
                        column,
                    } if scope.find(None, column)?.is_none()
                        && columns.iter().any(|c| &c.name == column) =>
                    {
                        let i = columns
                            .iter()
                            .position(|c| &c.name == column)
                            .expect("found");
                        Ok(exprs[i].clone())
                    }
                    _ => self.bind(e, scope, Aggregates::Forbidden("GROUP BY")),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        if group_by.iter().any(has_aggregate) {
            return Err(Error::InvalidDefinition(
                "aggregate functions are not allowed in GROUP BY".into(),
            ));
        }
        if group_by.iter().any(has_window) {
            return Err(Error::InvalidDefinition(
                "window functions are not allowed in GROUP BY".into(),
            ));
        }
        let having = select
            .having
            .map(|h| self.bind(h, scope, Aggregates::Allowed))
            .transpose()?;
        if having.as_ref().is_some_and(has_window) {
            return Err(Error::InvalidDefinition(
                "window functions are not allowed in HAVING".into(),
            ));
        }
        // ORDER BY terms: an ordinal or an output alias names an output column;
        // anything else is an expression over the FROM scope.
        let mut keys = Vec::new();
        let mut output_keys = Vec::new();
        for term in order_by {
            let output = match &position_literal(term.expr.clone()) {
                Expr::Literal(Value::Integer(n)) => Some(
                    usize::try_from(*n)
                        .ok()
                        .filter(|&i| i >= 1 && i <= exprs.len())
                        .map(|i| i - 1)
                        .ok_or_else(|| {
                            Error::InvalidValue(format!(
                                "ORDER BY position {n} is not in the select list (1 to {})",
                                exprs.len()
                            ))
                        })?,
                ),
                Expr::Name {
                    table: None,
                    column,
                } if columns.iter().any(|c| &c.name == column) => {
                    columns.iter().position(|c| &c.name == column)
                }
                _ => None,
            };
            let expr = match output {
                Some(i) => exprs[i].clone(),
                None => self.bind(term.expr.clone(), scope, Aggregates::Allowed)?,
            };
            output_keys.push(output.or_else(|| exprs.iter().position(|e| *e == expr)));
            keys.push(OrderTerm { expr, ..term });
        }

        // The join tree.
        let correlated_here = scope.correlated.get();
        let mut node = if relations.is_empty() {
            Node::Unit
        } else {
            let mut planner = JoinPlanner {
                scope,
                relations: &mut relations,
            };
            planner.plan(trees, &mut pool)?
        };
        if let Some(filter) = Expr::and_all(pool) {
            node = Node::Filter {
                source: Box::new(node),
                predicate: filter,
            };
        }

        // Aggregation.
        let mut width = scope.width();
        let aggregated = !group_by.is_empty()
            || exprs.iter().any(has_aggregate)
            || having.as_ref().is_some_and(has_aggregate)
            || keys.iter().any(|k| has_aggregate(&k.expr));
        if aggregated {
            let mut calls: Vec<Expr> = Vec::new();
            for e in exprs
                .iter()
                .chain(having.iter())
                .chain(keys.iter().map(|k| &k.expr))
            {
                collect_calls(e, &|x| matches!(x, Expr::Aggregate { .. }), &mut calls);
            }
            let rewrite = |e: Expr| rewrite_aggregated(e, &group_by, &calls, width);
            rewrite_outputs(&mut exprs, &mut keys, &rewrite);
            let having = having.map(rewrite);
            let aggregated_width = width + group_by.len() + calls.len();
            node = Node::Aggregate {
                source: Box::new(node),
                group_by,
                aggregates: calls,
                width,
            };
            width = aggregated_width;
            if let Some(predicate) = having {
                node = Node::Filter {
                    source: Box::new(node),
                    predicate,
                };
            }
        } else if having.is_some() {
            return Err(Error::InvalidDefinition(
                "HAVING needs GROUP BY or an aggregate".into(),
            ));
        }

        // Window functions, over the rows left after grouping and HAVING: each call
        // becomes a column after the row's `width` columns.
        let mut windows: Vec<Expr> = Vec::new();
        for e in exprs.iter().chain(keys.iter().map(|k| &k.expr)) {
            collect_calls(e, &|x| matches!(x, Expr::Window(_)), &mut windows);
        }
        if !windows.is_empty() {
            rewrite_outputs(&mut exprs, &mut keys, &|e| {
                replace_windows(e, &windows, width)
            });
            node = Node::Window {
                source: Box::new(node),
                calls: windows,
                width,
            };
        }

        if select.distinct {
            node = Node::Project {
                source: Box::new(node),
                exprs,
            };
            node = Node::Distinct {
                source: Box::new(node),
            };
            if !keys.is_empty() {
                let mut out = Vec::new();
                for (key, index) in keys.into_iter().zip(output_keys) {
                    let Some(index) = index else {
                        return Err(Error::InvalidDefinition(
                            "for SELECT DISTINCT, ORDER BY expressions must appear in the select list"
                                .into(),
                        ));
                    };
                    out.push(OrderTerm {
                        expr: Expr::Column(index),
                        ..key
                    });
                }
                node = Node::Sort {
                    source: Box::new(node),
                    keys: out,
                };
            }
            node = limited(node, limit, offset);
        } else {
            if !keys.is_empty() {
                node = order(node, keys, limit.is_some());
            }
            node = limited(node, limit, offset);
            node = Node::Project {
                source: Box::new(node),
                exprs,
            };
        }
        Ok((node, columns, correlated_here || scope.correlated.get()))
    }

    /// Collects the relations of a FROM item and its join structure.
    fn tree_of(&mut self, item: FromItem, relations: &mut Vec<Rel>, outer: &Scope) -> Result<Tree> {
        Ok(match item {
            FromItem::Table { name, alias } => {
                let visible = alias.unwrap_or_else(|| name.clone());
                if relations.iter().any(|r| r.scope.name == visible) {
                    return Err(Error::InvalidDefinition(format!(
                        "table name \"{visible}\" is specified more than once (use an alias)"
                    )));
                }
                match catalog::get_table(self.txn, &name)? {
                    Some(table) => {
                        relations.push(Rel {
                            scope: relation_of_table(&table, &visible),
                            source: RelSource::Table(table),
                        });
                    }
                    None => {
                        let Some(view) = catalog::get_view(self.txn, &name)? else {
                            return Err(Error::NoSuchTable(name));
                        };
                        if self.expanding.contains(&name) {
                            return Err(Error::InvalidDefinition(format!(
                                "view {name} refers to itself"
                            )));
                        }
                        self.expanding.push(name.clone());
                        let query = super::translate::parse_query(&view.sql)?;
                        let top = Scope::empty();
                        let planned = self.plan_query_in(query, &top);
                        self.expanding.pop();
                        let (node, mut columns, _) = planned?;
                        for (column, name) in columns.iter_mut().zip(&view.columns) {
                            column.name = name.clone();
                        }
                        relations.push(Rel {
                            scope: ScopeRelation {
                                name: visible,
                                hidden: vec![false; columns.len()],
                                columns,
                            },
                            source: RelSource::Node(node),
                        });
                    }
                }
                Tree::Rel(relations.len() - 1)
            }
            FromItem::Subquery {
                query,
                alias,
                columns: names,
            } => {
                // A subquery in FROM does not see the FROM clause it is in, but may see
                // enclosing queries.
                let (node, mut columns, _) = self.plan_query_in(*query, outer)?;
                let name = alias.unwrap_or_else(|| format!("subquery{}", relations.len() + 1));
                rename_columns(&name, &mut columns, names)?;
                self.push_relation(relations, name, columns, node)?
            }
            FromItem::Recursive {
                id,
                base,
                step,
                all,
                alias,
                columns: names,
                renamed,
            } => {
                let (base, mut columns, _) = self.plan_query_in(*base, outer)?;
                rename_columns(&alias, &mut columns, names)?;
                // The step reads the previous round's rows by the names given in WITH.
                self.working.push((id, columns.clone()));
                let planned = self.plan_query_in(*step, outer);
                self.working.pop();
                let (step, step_columns, _) = planned?;
                if step_columns.len() != columns.len() {
                    return Err(Error::InvalidDefinition(format!(
                        "the recursive part of {alias} gives {} columns, its first part {}",
                        step_columns.len(),
                        columns.len()
                    )));
                }
                rename_columns(&alias, &mut columns, renamed)?;
                let node = Node::Recursive {
                    id,
                    base: Box::new(base),
                    step: Box::new(step),
                    all,
                    columns: columns.iter().map(|c| c.name.clone()).collect(),
                };
                self.push_relation(relations, alias, columns, node)?
            }
            FromItem::Working { id, alias } => {
                let Some((_, columns)) = self.working.iter().rev().find(|(w, _)| *w == id) else {
                    return Err(Error::Corrupt(format!(
                        "{alias} read outside its recursive query"
                    )));
                };
                let columns = columns.clone();
                let node = Node::Working {
                    id,
                    columns: columns.iter().map(|c| c.name.clone()).collect(),
                };
                self.push_relation(relations, alias, columns, node)?
            }
            FromItem::Join {
                left,
                right,
                kind,
                constraint,
            } => {
                let left = self.tree_of(*left, relations, outer)?;
                let first_right = relations.len();
                let right = self.tree_of(*right, relations, outer)?;
                // USING and NATURAL: equal columns of the same name; the one of the
                // side a missing match fills with NULLs (the right one, for an inner
                // join) is hidden from unqualified names and from `*`.
                let names: Vec<String> = match &constraint {
                    JoinConstraint::Using(names) => names.clone(),
                    JoinConstraint::Natural => {
                        let left_names: Vec<&str> = relations[..first_right]
                            .iter()
                            .flat_map(|r| r.scope.columns.iter().map(|c| c.name.as_str()))
                            .collect();
                        relations[first_right..]
                            .iter()
                            .flat_map(|r| r.scope.columns.iter().map(|c| c.name.clone()))
                            .filter(|n| left_names.contains(&n.as_str()))
                            .collect()
                    }
                    _ => Vec::new(),
                };
                if kind == JoinKind::Full && !names.is_empty() {
                    return Err(Error::Unsupported(
                        "FULL JOIN with USING or NATURAL (join ON the columns instead)".into(),
                    ));
                }
                let mut using = Vec::new();
                for name in names {
                    let find = |range: std::ops::Range<usize>, relations: &[Rel]| {
                        range.into_iter().find_map(|r| {
                            relations[r]
                                .scope
                                .columns
                                .iter()
                                .position(|c| c.name == name)
                                .map(|c| (r, c))
                        })
                    };
                    let (Some(l), Some(r)) = (
                        find(0..first_right, relations),
                        find(first_right..relations.len(), relations),
                    ) else {
                        return Err(Error::NoSuchColumn(format!(
                            "column \"{name}\" of USING is not on both sides of the join"
                        )));
                    };
                    let hide = if kind == JoinKind::Right { l } else { r };
                    relations[hide.0].scope.hidden[hide.1] = true;
                    using.push((l, r));
                }
                let on = match constraint {
                    JoinConstraint::On(e) => Some(e),
                    _ => None,
                };
                Tree::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    kind,
                    on,
                    using,
                }
            }
        })
    }

    /// Adds a FROM relation whose rows a node gives; its name must be new in the FROM
    /// clause.
    fn push_relation(
        &self,
        relations: &mut Vec<Rel>,
        name: String,
        columns: Vec<ColumnInfo>,
        node: Node,
    ) -> Result<Tree> {
        if relations.iter().any(|r| r.scope.name == name) {
            return Err(Error::InvalidDefinition(format!(
                "table name \"{name}\" is specified more than once (use an alias)"
            )));
        }
        relations.push(Rel {
            scope: ScopeRelation {
                name,
                hidden: vec![false; columns.len()],
                columns,
            },
            source: RelSource::Node(node),
        });
        Ok(Tree::Rel(relations.len() - 1))
    }

    /// Binds the ON conditions of a join tree.
    fn bind_tree(&mut self, tree: Tree, scope: &Scope, relations: &[Rel]) -> Result<BoundTree> {
        Ok(match tree {
            Tree::Rel(r) => BoundTree::Rel(r),
            Tree::Join {
                left,
                right,
                kind,
                on,
                using,
            } => {
                let mut conditions = Vec::new();
                if let Some(on) = on {
                    conditions.extend(
                        self.bind(on, scope, Aggregates::Forbidden("ON"))?
                            .into_conjuncts(),
                    );
                }
                let offset = |r: usize| -> usize {
                    relations[..r].iter().map(|x| x.scope.columns.len()).sum()
                };
                for ((lr, lc), (rr, rc)) in using {
                    conditions.push(Expr::Binary(
                        BinaryOp::Eq,
                        Box::new(Expr::Column(offset(lr) + lc)),
                        Box::new(Expr::Column(offset(rr) + rc)),
                    ));
                }
                BoundTree::Join {
                    left: Box::new(self.bind_tree(*left, scope, relations)?),
                    right: Box::new(self.bind_tree(*right, scope, relations)?),
                    kind,
                    conditions,
                }
            }
        })
    }
}

/// A relation of a FROM clause.
struct Rel {
    scope: ScopeRelation,
    source: RelSource,
}

enum RelSource {
    Table(Table),
    /// A subquery or a view, planned.
    Node(Node),
}

enum Tree {
    Rel(usize),
    Join {
        left: Box<Tree>,
        right: Box<Tree>,
        kind: JoinKind,
        on: Option<Expr>,
        /// USING / NATURAL column pairs: ((relation, column), (relation, column)).
        using: Vec<((usize, usize), (usize, usize))>,
    },
}

enum BoundTree {
    Rel(usize),
    Join {
        left: Box<BoundTree>,
        right: Box<BoundTree>,
        kind: JoinKind,
        conditions: Vec<Expr>,
    },
}

/// An equality usable by a join: (index of the condition, expression over the left
/// side, expression over the right side).
type Equality = (usize, Expr, Expr);

/// A key of the right side (None: its primary key; else an index) and the equalities
/// that give its leading columns, in key order.
type LookupKey = (Option<usize>, Vec<Equality>);

/// A planned part of a FROM clause: its node and the relations of its rows, in order.
struct Unit {
    node: Node,
    rels: Vec<usize>,
}

struct JoinPlanner<'s, 'r> {
    scope: &'s Scope<'s>,
    relations: &'r mut Vec<Rel>,
}

impl JoinPlanner<'_, '_> {
    /// Plans the FROM clause: comma items are inner-joined, with the WHERE pool.
    /// Conditions used are removed from `pool`; the result's rows are in FROM order.
    fn plan(&mut self, trees: Vec<BoundTree>, pool: &mut Vec<Expr>) -> Result<Node> {
        let mut items = Vec::new();
        for tree in trees {
            self.flatten(tree, &mut items, pool);
        }
        let unit = self.join_group(items, pool)?;
        // Back to FROM order.
        let order: Vec<usize> = (0..self.relations.len()).collect();
        Ok(if unit.rels == order {
            unit.node
        } else {
            let physical = self.physical_map(&unit.rels);
            Node::Project {
                source: Box::new(unit.node),
                exprs: (0..self.scope.width())
                    .map(|i| Expr::Column(physical[i]))
                    .collect(),
            }
        })
    }

    /// Splits inner joins into their parts (their ON conditions join the pool); an outer
    /// join stays whole.
    fn flatten(&self, tree: BoundTree, items: &mut Vec<BoundTree>, pool: &mut Vec<Expr>) {
        match tree {
            BoundTree::Join {
                left,
                right,
                kind: JoinKind::Inner,
                conditions,
            } => {
                pool.extend(conditions);
                self.flatten(*left, items, pool);
                self.flatten(*right, items, pool);
            }
            other => items.push(other),
        }
    }

    /// For each FROM-order column, its position in rows laid out as `rels`.
    fn physical_map(&self, rels: &[usize]) -> Vec<usize> {
        let mut map = vec![usize::MAX; self.scope.width()];
        let mut position = 0;
        for &r in rels {
            let offset = self.scope.offset(r);
            for c in 0..self.relations[r].scope.columns.len() {
                map[offset + c] = position;
                position += 1;
            }
        }
        map
    }

    /// The relations a condition refers to, or None if it cannot be moved (it holds a
    /// correlated subquery, which sees rows in FROM order).
    fn rels_of(&self, e: &Expr) -> Option<Vec<usize>> {
        if e.any(&|x| matches!(x, Expr::Planned { sub, .. } if sub.correlated)) {
            return None;
        }
        let mut rels = Vec::new();
        collect_columns(e, &mut |c| {
            let r = self.scope.relation_of(c);
            if !rels.contains(&r) {
                rels.push(r);
            }
        });
        Some(rels)
    }

    /// Plans one unit: a relation, or an outer join with its ON condition. Conditions of
    /// the pool that name only its relations are applied inside it (for an outer join,
    /// only those on the side whose rows it keeps). A RIGHT JOIN is a LEFT JOIN with its
    /// sides swapped; [`JoinPlanner::plan`] puts the columns back in FROM order.
    fn unit(&mut self, tree: BoundTree, pool: &mut Vec<Expr>) -> Result<Unit> {
        match tree {
            BoundTree::Rel(r) => {
                let mine = self.take(pool, &[r]);
                self.relation(r, mine)
            }
            BoundTree::Join {
                left,
                right,
                kind,
                conditions,
            } => {
                debug_assert_ne!(kind, JoinKind::Inner);
                if kind == JoinKind::Full {
                    return self.full_join(*left, *right, conditions);
                }
                let (left, right) = match kind {
                    JoinKind::Right => (right, left),
                    _ => (left, right),
                };
                let mut left_items = Vec::new();
                self.flatten(*left, &mut left_items, pool);
                let left = self.join_group(left_items, pool)?;
                // The right side sees only the ON conditions; WHERE conditions on it
                // must see its NULL-extended rows, so they stay above.
                let mut on = conditions;
                let mut right_items = Vec::new();
                self.flatten(*right, &mut right_items, &mut on);
                let right_rels: Vec<usize> =
                    right_items.iter().flat_map(|t| self.tree_rels(t)).collect();
                let mut right_only = self.take(&mut on, &right_rels);
                let right = self.join_group(right_items, &mut right_only)?;
                on.extend(right_only);
                Ok(self.join(left, right, JoinKind::Left, &mut on))
            }
        }
    }

    /// Plans a FULL JOIN. Both sides keep their unmatched rows, so no condition of the
    /// WHERE clause goes inside either, and every ON condition stays on the join; a
    /// lookup join cannot tell which right rows no left row found, so it is a hash join
    /// or a nested loop.
    fn full_join(&mut self, left: BoundTree, right: BoundTree, on: Vec<Expr>) -> Result<Unit> {
        let mut sides = Vec::new();
        for side in [left, right] {
            let mut items = Vec::new();
            let mut own = Vec::new();
            self.flatten(side, &mut items, &mut own);
            let unit = self.join_group(items, &mut own)?;
            if !own.is_empty() {
                return Err(Error::Corrupt(
                    "a condition inside one side of a FULL JOIN was left over".into(),
                ));
            }
            sides.push(unit);
        }
        let right = sides.pop().expect("two sides");
        let left = sides.pop().expect("two sides");
        let mut on = on;
        Ok(self.join(left, right, JoinKind::Full, &mut on))
    }

    fn tree_rels(&self, tree: &BoundTree) -> Vec<usize> {
        match tree {
            BoundTree::Rel(r) => vec![*r],
            BoundTree::Join { left, right, .. } => {
                let mut rels = self.tree_rels(left);
                rels.extend(self.tree_rels(right));
                rels
            }
        }
    }

    /// Removes from `pool` the conditions that name only relations in `rels` (and
    /// constant ones), returning them.
    fn take(&self, pool: &mut Vec<Expr>, rels: &[usize]) -> Vec<Expr> {
        let mut taken = Vec::new();
        let mut i = 0;
        while i < pool.len() {
            match self.rels_of(&pool[i]) {
                Some(used) if used.iter().all(|r| rels.contains(r)) => {
                    taken.push(pool.remove(i));
                }
                _ => i += 1,
            }
        }
        taken
    }

    /// A single relation read with its own conditions (in FROM-order columns).
    fn relation(&mut self, r: usize, conditions: Vec<Expr>) -> Result<Unit> {
        let offset = self.scope.offset(r);
        let local: Vec<Expr> = conditions
            .into_iter()
            .map(|e| remap(e, &|c| c - offset))
            .collect();
        let node = match &self.relations[r].source {
            RelSource::Table(table) => {
                let (access, residual) = access::choose(table, local);
                Node::Scan {
                    table: table.clone(),
                    access,
                    filter: Expr::and_all(residual),
                    reverse: false,
                }
            }
            RelSource::Node(node) => match Expr::and_all(local) {
                Some(predicate) => Node::Filter {
                    source: Box::new(node.clone()),
                    predicate,
                },
                None => node.clone(),
            },
        };
        Ok(Unit {
            node,
            rels: vec![r],
        })
    }

    /// Joins inner-joined items with the pool's conditions, choosing the order.
    fn join_group(&mut self, items: Vec<BoundTree>, pool: &mut Vec<Expr>) -> Result<Unit> {
        let mut units = Vec::new();
        for item in items {
            units.push(self.unit(item, pool)?);
        }
        // Start from the unit its own conditions narrow most.
        let first = (0..units.len())
            .max_by_key(|&i| (narrowness(&units[i].node), std::cmp::Reverse(i)))
            .expect("FROM has at least one item");
        let mut current = units.remove(first);
        while !units.is_empty() {
            // Next: one connected by an equality (a lookup join best), else the next in
            // FROM order.
            let next = (0..units.len())
                .max_by_key(|&i| {
                    let connected = self.equalities(&current.rels, &units[i].rels, pool);
                    let lookup =
                        !connected.is_empty() && self.lookup_key(&units[i], &connected).is_some();
                    (
                        u8::from(!connected.is_empty()) + u8::from(lookup),
                        narrowness(&units[i].node),
                        std::cmp::Reverse(i),
                    )
                })
                .expect("units left");
            let unit = units.remove(next);
            current = self.join(current, unit, JoinKind::Inner, pool);
        }
        Ok(current)
    }

    /// Equalities in `conditions` between a column of `right` and an expression over
    /// `left` only: (index in conditions, left expression, right column).
    fn equalities(&self, left: &[usize], right: &[usize], conditions: &[Expr]) -> Vec<Equality> {
        let mut found = Vec::new();
        for (i, e) in conditions.iter().enumerate() {
            let Expr::Binary(BinaryOp::Eq, a, b) = e else {
                continue;
            };
            let within = |e: &Expr, side: &[usize]| matches!(self.rels_of(e), Some(rels) if !rels.is_empty() && rels.iter().all(|r| side.contains(r)));
            for (x, y) in [(a, b), (b, a)] {
                if within(x, left) && within(y, right) {
                    found.push((i, (**x).clone(), (**y).clone()));
                    break;
                }
            }
        }
        found
    }

    /// For a unit that is a scan of one table: the key (primary key or index) whose
    /// leading columns the equalities cover, with the covering equalities in key order.
    fn lookup_key(&self, unit: &Unit, equalities: &[Equality]) -> Option<LookupKey> {
        let [r] = unit.rels.as_slice() else {
            return None;
        };
        let Node::Scan { table, access, .. } = &unit.node else {
            return None;
        };
        if *access != Access::Full {
            return None;
        }
        let offset = self.scope.offset(*r);
        let mut best: Option<LookupKey> = None;
        let keys = (!table.has_rowid())
            .then_some((None, &table.primary_key))
            .into_iter()
            .chain(
                table
                    .indexes
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (Some(i), &x.columns)),
            );
        for (index, columns) in keys {
            let mut used = Vec::new();
            for &column in columns {
                match equalities
                    .iter()
                    .find(|(_, _, r)| *r == Expr::Column(offset + column))
                {
                    Some(eq) => used.push(eq.clone()),
                    None => break,
                }
            }
            if !used.is_empty() && best.as_ref().is_none_or(|(_, b)| used.len() > b.len()) {
                best = Some((index, used));
            }
        }
        best
    }

    /// Joins two units, using (and removing) the conditions of `pool` that become
    /// checkable.
    fn join(&mut self, left: Unit, right: Unit, kind: JoinKind, pool: &mut Vec<Expr>) -> Unit {
        let mut rels = left.rels.clone();
        rels.extend(&right.rels);
        let equalities = self.equalities(&left.rels, &right.rels, pool);
        let left_map = self.physical_map(&left.rels);
        let right_map = self.physical_map(&right.rels);
        let both_map = self.physical_map(&rels);
        let mut used: Vec<usize> = Vec::new();
        let left_width = self.width_of(&left.rels);
        let right_width = self.width_of(&right.rels);
        let lookup = match kind {
            JoinKind::Full => None,
            _ => self.lookup_key(&right, &equalities),
        };
        let method = match lookup {
            Some((index, eqs)) => {
                used.extend(eqs.iter().map(|(i, _, _)| *i));
                JoinMethod::Lookup {
                    index,
                    keys: eqs
                        .into_iter()
                        .map(|(_, e, _)| remap(e, &|c| left_map[c]))
                        .collect(),
                }
            }
            None if !equalities.is_empty() => {
                used.extend(equalities.iter().map(|(i, _, _)| *i));
                let (left_keys, right_keys) = equalities
                    .into_iter()
                    .map(|(_, l, r)| (remap(l, &|c| left_map[c]), remap(r, &|c| right_map[c])))
                    .unzip();
                JoinMethod::Hash {
                    left_keys,
                    right_keys,
                }
            }
            None => JoinMethod::NestedLoop,
        };
        used.sort_unstable();
        for i in used.into_iter().rev() {
            pool.remove(i);
        }
        let on = self.take(pool, &rels);
        let on = Expr::and_all(on.into_iter().map(|e| remap(e, &|c| both_map[c])).collect());
        Unit {
            node: Node::Join {
                left: Box::new(left.node),
                right: Box::new(right.node),
                kind,
                on,
                method,
                left_width,
                right_width,
            },
            rels,
        }
    }

    fn width_of(&self, rels: &[usize]) -> usize {
        rels.iter()
            .map(|&r| self.relations[r].scope.columns.len())
            .sum()
    }
}

/// How much a node's own conditions narrow it, for choosing where a join starts.
fn narrowness(node: &Node) -> u8 {
    match node {
        Node::Scan { access, filter, .. } => match access {
            Access::Empty => 5,
            Access::Keyed { spans, .. }
                if spans.iter().all(|s| {
                    s.lower == std::ops::Bound::Unbounded && s.upper == std::ops::Bound::Unbounded
                }) =>
            {
                4
            }
            Access::Keyed { .. } => 3,
            Access::Full if filter.is_some() => 1,
            Access::Full => 0,
        },
        Node::Filter { .. } => 1,
        _ => 0,
    }
}

/// Calls `f` with every column of the current row an expression reads (not looking into
/// subqueries, which see the row only through `Outer`).
fn collect_columns(e: &Expr, f: &mut dyn FnMut(usize)) {
    if let Expr::Column(c) = e {
        f(*c);
    }
    for child in e.children() {
        collect_columns(child, f);
    }
}

/// The expression with each column `c` replaced by column `map(c)`.
pub fn remap(e: Expr, map: &dyn Fn(usize) -> usize) -> Expr {
    match e {
        Expr::Column(c) => Expr::Column(map(c)),
        Expr::Binary(op, l, r) => {
            Expr::Binary(op, Box::new(remap(*l, map)), Box::new(remap(*r, map)))
        }
        Expr::Unary(op, e) => Expr::Unary(op, Box::new(remap(*e, map))),
        e @ Expr::Literal(_) => e,
        other => remap_children(other, map),
    }
}

#[inline(never)]
fn remap_children(e: Expr, map: &dyn Fn(usize) -> usize) -> Expr {
    e.map_children(&mut |child| Ok::<_, ()>(remap(child, map)))
        .expect("infallible")
}

fn has_aggregate(e: &Expr) -> bool {
    e.any(&|x| matches!(x, Expr::Aggregate { .. }))
}

/// Gives the first columns of relation `name` the names listed (`AS t (a, b)`).
fn rename_columns(name: &str, columns: &mut [ColumnInfo], names: Vec<String>) -> Result<()> {
    if names.len() > columns.len() {
        return Err(Error::InvalidDefinition(format!(
            "{name} has {} columns available but {} column names were given",
            columns.len(),
            names.len()
        )));
    }
    for (column, given) in columns.iter_mut().zip(names) {
        column.name = given;
    }
    Ok(())
}

fn has_window(e: &Expr) -> bool {
    e.any(&|x| matches!(x, Expr::Window(_)))
}

/// Replaces each window function call with the column of a window node's output that
/// holds its value (after the input's `width` columns).
fn replace_windows(e: Expr, calls: &[Expr], width: usize) -> Expr {
    if let Some(i) = calls.iter().position(|c| *c == e) {
        return Expr::Column(width + i);
    }
    e.map_children(&mut |child| Ok::<_, ()>(replace_windows(child, calls, width)))
        .expect("infallible")
}

/// Adds the calls in `e` that `is_call` picks (aggregates, window functions) to `calls`,
/// once each, without looking inside them.
fn collect_calls(e: &Expr, is_call: &dyn Fn(&Expr) -> bool, calls: &mut Vec<Expr>) {
    if is_call(e) {
        if !calls.contains(e) {
            calls.push(e.clone());
        }
        return;
    }
    for child in e.children() {
        collect_calls(child, is_call, calls);
    }
}

/// Rewrites the output expressions and the ORDER BY keys of a query with `f`.
fn rewrite_outputs(exprs: &mut Vec<Expr>, keys: &mut Vec<OrderTerm>, f: &dyn Fn(Expr) -> Expr) {
    *exprs = std::mem::take(exprs).into_iter().map(f).collect();
    *keys = std::mem::take(keys)
        .into_iter()
        .map(|k| OrderTerm {
            expr: f(k.expr),
            ..k
        })
        .collect();
}

/// Rewrites an expression over input rows into one over the rows of an aggregation:
/// the group's first input row (`width` columns), then the GROUP BY values, then the
/// aggregate results.
fn rewrite_aggregated(e: Expr, group_by: &[Expr], calls: &[Expr], width: usize) -> Expr {
    if let Some(i) = group_by.iter().position(|g| *g == e) {
        return Expr::Column(width + i);
    }
    if let Some(i) = calls.iter().position(|c| *c == e) {
        return Expr::Column(width + group_by.len() + i);
    }
    match e {
        // A bare column reads the group's first row, as in SQLite.
        Expr::Column(c) => Expr::Column(c),
        other => other
            .map_children(&mut |child| {
                Ok::<_, ()>(rewrite_aggregated(child, group_by, calls, width))
            })
            .expect("infallible"),
    }
}

/// Sort keys for a compound query: each must name an output column.
fn output_order(
    order_by: Vec<OrderTerm>,
    columns: &[ColumnInfo],
    _exprs: Option<&[Expr]>,
) -> Result<Vec<OrderTerm>> {
    order_by
        .into_iter()
        .map(|term| {
            let index = match &position_literal(term.expr.clone()) {
                Expr::Literal(Value::Integer(n)) => usize::try_from(*n)
                    .ok()
                    .filter(|&i| i >= 1 && i <= columns.len())
                    .map(|i| i - 1),
                Expr::Name { column, .. } => columns.iter().position(|c| &c.name == column),
                _ => None,
            }
            .ok_or_else(|| {
                Error::InvalidDefinition(
                    "ORDER BY of a compound query must name a result column (by position or name)"
                        .into(),
                )
            })?;
            Ok(OrderTerm {
                expr: Expr::Column(index),
                ..term
            })
        })
        .collect()
}

/// An ORDER BY / GROUP BY term with its signs folded, as SQLite reads it: `- -3` is the
/// integer 3, and so a position.
fn position_literal(e: Expr) -> Expr {
    match e {
        Expr::Unary(op @ (super::ast::UnaryOp::Minus | super::ast::UnaryOp::Plus), inner) => {
            match position_literal(*inner) {
                Expr::Literal(Value::Integer(n)) if op == super::ast::UnaryOp::Plus => {
                    Expr::Literal(Value::Integer(n))
                }
                Expr::Literal(Value::Integer(n)) if n != i64::MIN => {
                    Expr::Literal(Value::Integer(-n))
                }
                other => Expr::Unary(op, Box::new(other)),
            }
        }
        other => other,
    }
}

fn limited(node: Node, limit: Option<u64>, offset: Option<u64>) -> Node {
    if limit.is_none() && offset.is_none() {
        return node;
    }
    Node::Limit {
        source: Box::new(node),
        offset: offset.unwrap_or(0),
        limit,
    }
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

/// The static type of an expression's result, where it is known.
pub fn infer_type(expr: &Expr, scope: &Scope) -> Option<DataType> {
    match expr {
        Expr::Literal(v) => v.data_type(),
        Expr::Column(i) => scope.column_type(*i),
        Expr::Unary(super::ast::UnaryOp::Not, _)
        | Expr::IsNull { .. }
        | Expr::InList { .. }
        | Expr::Between { .. }
        | Expr::Like { .. } => Some(DataType::Boolean),
        Expr::Unary(_, e) => infer_type(e, scope),
        Expr::Binary(op, l, r) => match op {
            BinaryOp::Concat => Some(DataType::Text),
            BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::ShiftLeft | BinaryOp::ShiftRight => {
                Some(DataType::Integer)
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                match (infer_type(l, scope)?, infer_type(r, scope)?) {
                    (DataType::Real, _) | (_, DataType::Real) => Some(DataType::Real),
                    _ => Some(DataType::Integer),
                }
            }
            _ => Some(DataType::Boolean),
        },
        Expr::Cast { to, .. } => Some(*to),
        Expr::Aggregate { func, arg, .. } => match func {
            AggFunc::CountStar | AggFunc::Count => Some(DataType::Integer),
            AggFunc::Avg | AggFunc::Total => Some(DataType::Real),
            AggFunc::GroupConcat => Some(DataType::Text),
            AggFunc::Sum | AggFunc::Min | AggFunc::Max => {
                arg.as_ref().and_then(|a| infer_type(a, scope))
            }
        },
        Expr::Window(call) => match &call.func {
            WindowFunc::RowNumber
            | WindowFunc::Rank
            | WindowFunc::DenseRank
            | WindowFunc::Ntile => Some(DataType::Integer),
            WindowFunc::PercentRank | WindowFunc::CumeDist => Some(DataType::Real),
            WindowFunc::Aggregate { func, distinct } => infer_type(
                &Expr::Aggregate {
                    func: *func,
                    arg: call.args.first().cloned().map(Box::new),
                    distinct: *distinct,
                },
                scope,
            ),
            WindowFunc::Lag
            | WindowFunc::Lead
            | WindowFunc::FirstValue
            | WindowFunc::LastValue
            | WindowFunc::NthValue
            | WindowFunc::Named { .. } => call.args.first().and_then(|a| infer_type(a, scope)),
        },
        Expr::Call(func, args) => match func {
            Func::Length | Func::Instr => Some(DataType::Integer),
            Func::Upper
            | Func::Lower
            | Func::Substr
            | Func::Typeof
            | Func::Trim
            | Func::Ltrim
            | Func::Rtrim
            | Func::Replace => Some(DataType::Text),
            Func::Round => Some(DataType::Real),
            Func::Abs => args.first().and_then(|a| infer_type(a, scope)),
            _ => None,
        },
        Expr::Planned { sub, .. } => match sub.kind {
            SubKind::Scalar => sub.data_type,
            _ => Some(DataType::Boolean),
        },
        _ => None,
    }
}

impl Expr {
    /// The type of a literal, for naming VALUES columns.
    fn literal_type(&self) -> Option<DataType> {
        match self {
            Expr::Literal(v) => v.data_type(),
            _ => None,
        }
    }
}
