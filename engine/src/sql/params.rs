//! Statement parameters (`$1`, `?`): what a plan needs, and giving it the values.
//!
//! A statement is planned once with its parameters unknown; expressions read their
//! values when they run. The one thing values change is how a table is read: a scan
//! whose conditions involve a parameter (`WHERE id = $1`) is planned as a full scan and,
//! when values arrive, its conditions get the values and [`access::choose`] picks the
//! access path for them (as PostgreSQL's custom plans do). Names are not bound again and
//! the statement is not parsed again.

use super::access;
use super::ast::{BinaryOp, Expr};
use super::plan::{ConflictPlan, InsertRows, JoinMethod, Node, Plan};
use crate::error::{Error, Result};
use crate::value::{DataType, Value};

/// The number of parameters a plan takes (one more than the highest `$n` used).
pub fn count(plan: &Plan) -> usize {
    let mut max = 0;
    visit_plan(plan, &mut |e| {
        if let Expr::Param(i) = e {
            max = max.max(i + 1);
        }
    });
    max
}

/// Whether the plan uses each of its parameters at most once: then a run that owns its
/// values may move a value into the one place that reads it (see
/// [`super::execute::Params::Movable`]).
pub fn used_once(plan: &Plan, count: usize) -> bool {
    let mut seen = vec![false; count];
    let mut once = true;
    visit_plan(plan, &mut |e| {
        if let Expr::Param(i) = e {
            match seen.get_mut(*i) {
                Some(seen) if !*seen => *seen = true,
                _ => once = false,
            }
        }
    });
    once
}

/// The type each parameter is compared with or stored into, where the plan shows it.
pub fn types(plan: &Plan, count: usize) -> Vec<Option<DataType>> {
    let mut types = vec![None; count];
    let mut note = |i: usize, ty: DataType| {
        if let Some(slot) = types.get_mut(i)
            && slot.is_none()
        {
            *slot = Some(ty);
        }
    };
    match plan {
        Plan::Insert {
            table,
            targets,
            rows: InsertRows::Values(rows),
            ..
        } => {
            for row in rows {
                for (e, &t) in row.iter().zip(targets) {
                    if let Expr::Param(i) = e {
                        note(*i, table.columns[t].data_type);
                    }
                }
            }
        }
        Plan::Update { table, set, .. } => {
            for (c, e) in set {
                if let Expr::Param(i) = e {
                    note(*i, table.columns[*c].data_type);
                }
            }
        }
        _ => {}
    }
    // Comparisons of a table's column with a parameter, in scans.
    let mut scans = Vec::new();
    for_each_node(plan, &mut |node| {
        if let Node::Scan {
            table,
            filter: Some(filter),
            ..
        } = node
        {
            scans.push((table.clone(), filter.clone()));
        }
    });
    for (table, filter) in scans {
        visit(&filter, &mut |e| {
            if let Expr::Binary(op, l, r) = e
                && op.flip().is_some()
                && !matches!(op, BinaryOp::And | BinaryOp::Or)
            {
                for (a, b) in [(l, r), (r, l)] {
                    if let (Expr::Column(c), Expr::Param(i)) = (a.as_ref(), b.as_ref())
                        && let Some(column) = table.columns.get(*c)
                    {
                        note(*i, column.data_type);
                    }
                }
            }
        });
    }
    types
}

/// Chooses the access path of every scan whose conditions involve a parameter, now that
/// values are known. The caller has checked their number ([`check_count`]).
pub fn bind(mut plan: Plan, params: &[Value]) -> Result<Plan> {
    if params.is_empty() {
        return Ok(plan);
    }
    match &mut plan {
        Plan::Query { node, .. } => bind_node(node, params),
        Plan::Update { source, .. } | Plan::Delete { source, .. } => bind_node(source, params),
        Plan::Insert {
            rows: InsertRows::Query(node),
            ..
        } => bind_node(node, params),
        Plan::Explain(inner) => {
            let bound = bind(std::mem::replace(inner.as_mut(), Plan::ShowTables), params)?;
            **inner = bound;
        }
        _ => {}
    }
    Ok(plan)
}

/// Checks the number of values against the plan's parameters (a walk of the whole
/// plan: a prepared statement knows its count, see [`check_given`]).
pub fn check_count(plan: &Plan, params: &[Value]) -> Result<()> {
    check_given(count(plan), params)
}

/// Checks the number of values against the `needed` count of a statement's parameters.
pub fn check_given(needed: usize, params: &[Value]) -> Result<()> {
    if params.len() != needed {
        return Err(Error::Parameters(format!(
            "the statement takes {needed} parameter{}, {} given",
            if needed == 1 { "" } else { "s" },
            params.len()
        )));
    }
    Ok(())
}

fn bind_node(node: &mut Node, params: &[Value]) {
    match node {
        Node::Scan {
            table,
            access,
            filter,
            reverse,
        } => {
            let uses_params = filter
                .as_ref()
                .is_some_and(|f| f.any(&|e| matches!(e, Expr::Param(_))));
            if uses_params && *access == access::Access::Full && !*reverse {
                let conjuncts = filter
                    .take()
                    .map(|f| substitute(f, params).into_conjuncts())
                    .unwrap_or_default();
                let (chosen, residual) = access::choose(table, conjuncts);
                *access = chosen;
                *filter = Expr::and_all(residual);
            }
        }
        Node::Unit | Node::Values { .. } | Node::Working { .. } => {}
        Node::Recursive { base, step, .. } => {
            bind_node(base, params);
            bind_node(step, params);
        }
        Node::Filter { source, .. }
        | Node::Sort { source, .. }
        | Node::Limit { source, .. }
        | Node::Project { source, .. }
        | Node::Aggregate { source, .. }
        | Node::Window { source, .. }
        | Node::Distinct { source } => bind_node(source, params),
        Node::Join {
            left,
            right,
            method,
            ..
        } => {
            bind_node(left, params);
            // The right side of a lookup join is read by key for each left row; its
            // scan keeps its conditions as a filter, which reads the values as it runs.
            if !matches!(method, JoinMethod::Lookup { .. }) {
                bind_node(right, params);
            }
        }
        Node::SetOp { left, right, .. } => {
            bind_node(left, params);
            bind_node(right, params);
        }
    }
}

/// The expression with every parameter replaced by its value.
pub fn substitute(e: Expr, params: &[Value]) -> Expr {
    match e {
        Expr::Param(i) => Expr::Literal(params.get(i).cloned().unwrap_or(Value::Null)),
        other => other
            .map_children(&mut |child| Ok::<_, ()>(substitute(child, params)))
            .expect("infallible"),
    }
}

fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    for child in e.children() {
        visit(child, f);
    }
}

fn for_each_node<'p>(plan: &'p Plan, f: &mut dyn FnMut(&'p Node)) {
    fn walk<'p>(node: &'p Node, f: &mut dyn FnMut(&'p Node)) {
        f(node);
        for input in node.inputs() {
            walk(input, f);
        }
    }
    match plan {
        Plan::Query { node, .. } => walk(node, f),
        Plan::Update { source, .. } | Plan::Delete { source, .. } => walk(source, f),
        Plan::Insert {
            rows: InsertRows::Query(node),
            ..
        } => walk(node, f),
        Plan::Explain(inner) => for_each_node(inner, f),
        _ => {}
    }
}

/// Calls `f` on every expression of a plan (not inside subqueries' plans).
fn visit_plan(plan: &Plan, f: &mut dyn FnMut(&Expr)) {
    let mut exprs: Vec<&Expr> = Vec::new();
    for_each_node(plan, &mut |node| match node {
        Node::Scan { filter, .. } => exprs.extend(filter.iter()),
        Node::Values { rows } => exprs.extend(rows.iter().flatten()),
        Node::Filter { predicate, .. } => exprs.push(predicate),
        Node::Sort { keys, .. } => exprs.extend(keys.iter().map(|k| &k.expr)),
        Node::Project { exprs: e, .. } => exprs.extend(e.iter()),
        Node::Join { on, method, .. } => {
            exprs.extend(on.iter());
            match method {
                JoinMethod::Hash {
                    left_keys,
                    right_keys,
                } => {
                    exprs.extend(left_keys.iter());
                    exprs.extend(right_keys.iter());
                }
                JoinMethod::Lookup { keys, .. } => {
                    exprs.extend(keys.iter());
                }
                JoinMethod::NestedLoop => {}
            }
        }
        Node::Aggregate {
            group_by,
            aggregates,
            ..
        } => {
            exprs.extend(group_by.iter());
            exprs.extend(aggregates.iter());
        }
        Node::Window { calls, .. } => exprs.extend(calls.iter()),
        _ => {}
    });
    match plan {
        Plan::Insert {
            rows,
            returning,
            on_conflict,
            ..
        } => {
            if let InsertRows::Values(rows) = rows {
                exprs.extend(rows.iter().flatten());
            }
            if let Some(r) = returning {
                exprs.extend(r.exprs.iter());
            }
            if let Some(ConflictPlan::Update { set, filter, .. }) = on_conflict {
                exprs.extend(set.iter().map(|(_, e)| e));
                exprs.extend(filter.iter());
            }
        }
        Plan::Update { set, returning, .. } => {
            exprs.extend(set.iter().map(|(_, e)| e));
            if let Some(r) = returning {
                exprs.extend(r.exprs.iter());
            }
        }
        Plan::Delete {
            returning: Some(r), ..
        } => exprs.extend(r.exprs.iter()),
        _ => {}
    }
    for e in exprs {
        visit_deep(e, f);
    }
}

/// Visits an expression and the plans of the subqueries inside it.
fn visit_deep(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    if let Expr::Planned { sub, .. } = e {
        visit_plan(
            &Plan::Query {
                node: sub.node.clone(),
                columns: Vec::new(),
            },
            f,
        );
    }
    for child in e.children() {
        visit_deep(child, f);
    }
}
