//! Access paths: how a scan reads its table.
//!
//! Every table can be read through its primary key and through each secondary index.
//! For each such key the planner works out what the WHERE clause pins down:
//! - leading key columns fixed by equality (`a = 1`) or by an `IN` list of constants
//!   (`a IN (1, 2)`, one span per value);
//! - bounds on the next key column from `<`, `<=`, `>`, `>=` and `BETWEEN`.
//!
//! The best candidate wins, in this order: a point lookup on a unique key (primary key or
//! unique index, every column fixed), then more columns fixed by equality, then a range
//! on the next column, then the primary key over an index (no second lookup). A
//! candidate that pins nothing is not used; the scan reads the whole table in primary
//! key order, unless an ORDER BY with a LIMIT can be read in the order of an index.
//!
//! Conditions a span satisfies exactly (equality and `IN` on key columns) are dropped
//! from the filter; range conditions stay in it (they are cheap to recheck, and that
//! keeps widened bounds exact).

use std::cmp::Ordering;
use std::ops::Bound;

use super::ast::{BinaryOp, Expr, OrderTerm};
use super::plan::constant;
use crate::catalog::Table;
use crate::value::{DataType, Value};

/// At most this many spans (from `IN` lists) in one access; beyond it, fewer key columns
/// are used and the rest is filtered.
const MAX_SPANS: usize = 1024;

/// One contiguous run of keys: those starting with `prefix` whose next key column is
/// within the bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub prefix: Vec<Value>,
    pub lower: Bound<Value>,
    pub upper: Bound<Value>,
}

impl Span {
    fn unbounded(prefix: Vec<Value>) -> Span {
        Span {
            prefix,
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        }
    }
}

/// How a scan reads its table.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Every row in primary key order.
    Full,
    /// The rows in the spans of the primary key (`index` None) or of a secondary index
    /// (its position in [`Table::indexes`]), span after span, in key order.
    Keyed {
        index: Option<usize>,
        spans: Vec<Span>,
    },
    /// No row can match (for example `id = NULL`).
    Empty,
}

impl Access {
    /// The key columns of the access: the primary key's or the index's.
    pub fn key_columns<'t>(&self, table: &'t Table) -> &'t [usize] {
        match self {
            Access::Keyed { index: Some(i), .. } => &table.indexes[*i].columns,
            _ => &table.primary_key,
        }
    }

    /// Whether this reads exactly one row by its full primary key (a single `get`).
    pub fn is_primary_point(&self, table: &Table) -> bool {
        matches!(self, Access::Keyed { index: None, spans }
            if spans.len() == 1 && spans[0].prefix.len() == table.primary_key.len())
    }
}

/// A candidate access through one key, and what it would leave to the filter.
struct Candidate {
    index: Option<usize>,
    spans: Vec<Span>,
    /// Key columns fixed by equality or IN.
    fixed: usize,
    has_range: bool,
    /// Whether at most one row per span can match (every column of a unique key fixed).
    unique: bool,
    /// Conjuncts the spans satisfy exactly.
    consumed: Vec<usize>,
    /// No row can match.
    empty: bool,
}

impl Candidate {
    fn rank(&self) -> (bool, usize, bool, bool) {
        (
            self.unique,
            self.fixed,
            self.has_range,
            self.index.is_none(),
        )
    }

    fn useful(&self) -> bool {
        self.empty || self.fixed > 0 || self.has_range
    }
}

/// Chooses the access path of a scan of `table` for the AND-ed `conjuncts`, and returns
/// it with the conjuncts that still have to be checked on each row.
pub fn choose(table: &Table, mut conjuncts: Vec<Expr>) -> (Access, Vec<Expr>) {
    let mut best: Option<Candidate> = None;
    let keys = (!table.has_rowid())
        .then_some(None)
        .into_iter()
        .chain((0..table.indexes.len()).map(Some));
    for index in keys {
        let candidate = candidate(table, index, &conjuncts);
        if candidate.empty {
            return (Access::Empty, Vec::new());
        }
        if candidate.useful() && best.as_ref().is_none_or(|b| candidate.rank() > b.rank()) {
            best = Some(candidate);
        }
    }
    let Some(best) = best else {
        return (Access::Full, conjuncts);
    };
    let mut consumed = best.consumed;
    consumed.sort_unstable();
    for i in consumed.into_iter().rev() {
        conjuncts.remove(i);
    }
    (
        Access::Keyed {
            index: best.index,
            spans: best.spans,
        },
        conjuncts,
    )
}

/// What the conjuncts pin down of the key `index` (None: the primary key).
fn candidate(table: &Table, index: Option<usize>, conjuncts: &[Expr]) -> Candidate {
    let (columns, unique_key) = match index {
        None => (&table.primary_key, true),
        Some(i) => (&table.indexes[i].columns, table.indexes[i].unique),
    };
    let mut prefixes: Vec<Vec<Value>> = vec![Vec::new()];
    let mut consumed = Vec::new();
    let mut empty = false;
    let mut fixed = 0;
    'columns: for &column in columns.iter() {
        let ty = table.columns[column].data_type;
        for (i, conjunct) in conjuncts.iter().enumerate() {
            let Some(values) = key_values(conjunct, column, ty, index.is_some()) else {
                continue;
            };
            if values.is_empty() {
                empty = true;
                break 'columns;
            }
            if prefixes.len() * values.len() > MAX_SPANS {
                continue;
            }
            prefixes = prefixes
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut p = p.clone();
                        p.push(v.clone());
                        p
                    })
                })
                .collect();
            consumed.push(i);
            fixed += 1;
            continue 'columns;
        }
        break;
    }
    // NULLs repeat freely in a unique index.
    let unique_key = unique_key && prefixes.iter().all(|p| !p.contains(&Value::Null));
    let mut has_range = false;
    let mut spans: Vec<Span> = prefixes.into_iter().map(Span::unbounded).collect();
    if !empty && fixed < columns.len() {
        let column = columns[fixed];
        match bounds(conjuncts, column, table.columns[column].data_type) {
            Some((lower, upper)) => {
                has_range = lower != Bound::Unbounded || upper != Bound::Unbounded;
                for span in &mut spans {
                    span.lower = lower.clone();
                    span.upper = upper.clone();
                }
            }
            None => empty = true,
        }
    }
    Candidate {
        index,
        unique: unique_key && fixed == columns.len() && !columns.is_empty(),
        spans,
        fixed,
        has_range,
        consumed,
        empty,
    }
}

/// If `conjunct` fixes `column` to a set of values (`column = v`, `column IN (...)`, or
/// in an index, `column IS NULL`), those values as keys of type `ty`, sorted and without
/// duplicates; empty when it can never be true.
fn key_values(conjunct: &Expr, column: usize, ty: DataType, index: bool) -> Option<Vec<Value>> {
    if let Expr::IsNull {
        expr,
        negated: false,
    } = conjunct
        && **expr == Expr::Column(column)
    {
        // Index entries hold NULLs; primary key columns never do.
        return Some(if index { vec![Value::Null] } else { Vec::new() });
    }
    let mut values = match conjunct {
        Expr::InList {
            expr,
            list,
            negated: false,
        } if **expr == Expr::Column(column) && list.iter().all(Expr::is_constant) => {
            let mut values = Vec::new();
            for item in list {
                values.push(constant(item).ok()?);
            }
            values
        }
        _ => match column_comparison(conjunct) {
            Some((c, BinaryOp::Eq, v)) if c == column => vec![v],
            _ => return None,
        },
    };
    // A value no key of the column's type equals (NULL, 1.5 for an integer) never matches.
    values = values.iter().filter_map(|v| exact_key(v, ty)).collect();
    values.sort_by(Value::total_cmp);
    values.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
    Some(values)
}

/// The bounds the conjuncts put on `column`, or None when a comparison no value meets
/// (one with NULL) makes the whole conjunction false.
fn bounds(conjuncts: &[Expr], column: usize, ty: DataType) -> Option<(Bound<Value>, Bound<Value>)> {
    let mut lower: Bound<Value> = Bound::Unbounded;
    let mut upper: Bound<Value> = Bound::Unbounded;
    for conjunct in conjuncts {
        for (c, op, value) in comparisons(conjunct) {
            if c != column {
                continue;
            }
            let is_lower = matches!(op, BinaryOp::Gt | BinaryOp::GtEq);
            if !is_lower && !matches!(op, BinaryOp::Lt | BinaryOp::LtEq) {
                continue;
            }
            if value.is_null() {
                return None;
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
    }
    Some((lower, upper))
}

/// The column comparisons a conjunct makes: one for `column op constant`, two for
/// `column BETWEEN constant AND constant`.
fn comparisons(conjunct: &Expr) -> Vec<(usize, BinaryOp, Value)> {
    match conjunct {
        Expr::Between {
            expr,
            low,
            high,
            negated: false,
        } => match expr.as_ref() {
            Expr::Column(c) if low.is_constant() && high.is_constant() => {
                match (constant(low), constant(high)) {
                    (Ok(low), Ok(high)) => {
                        vec![(*c, BinaryOp::GtEq, low), (*c, BinaryOp::LtEq, high)]
                    }
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        },
        _ => column_comparison(conjunct).into_iter().collect(),
    }
}

/// A comparison of a column with a constant, normalized to `column op value`.
pub fn column_comparison(expr: &Expr) -> Option<(usize, BinaryOp, Value)> {
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
pub(super) fn exact_key(value: &Value, ty: DataType) -> Option<Value> {
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
            Ordering::Equal => {
                if matches!(a, Bound::Excluded(_)) {
                    a
                } else {
                    b
                }
            }
            Ordering::Less => {
                if lower {
                    b
                } else {
                    a
                }
            }
            Ordering::Greater => {
                if lower {
                    a
                } else {
                    b
                }
            }
        },
    }
}

/// Whether reading `access` forwards (or backwards, when the terms are descending) gives
/// rows in the order of `keys`; returns the direction (true: descending) if so.
///
/// Keys match when they name the key columns in order, starting at the first column or
/// just after the columns a single span fixes, all in one direction, with NULLs where
/// the key puts them (first ascending, last descending).
pub fn key_order(table: &Table, access: &Access, keys: &[OrderTerm]) -> Option<bool> {
    let (columns, fixed) = match access {
        Access::Full => (table.primary_key.as_slice(), 0),
        Access::Keyed { spans, .. } if spans.len() == 1 => {
            (access.key_columns(table), spans[0].prefix.len())
        }
        _ => return None,
    };
    let descending = keys.first()?.descending;
    let same_direction = keys.iter().all(|k| {
        k.descending == descending && k.nulls_first.is_none_or(|first| first != descending)
    });
    if !same_direction || table.has_rowid() && matches!(access, Access::Full) {
        return None;
    }
    let matches_from = |start: usize| {
        keys.len() <= columns.len().saturating_sub(start)
            && keys
                .iter()
                .zip(&columns[start..])
                .all(|(k, &c)| k.expr == Expr::Column(c))
    };
    (matches_from(0) || matches_from(fixed)).then_some(descending)
}

/// An index whose order gives the rows in the order of `keys`, for a full scan that
/// would otherwise be sorted: the access reading the whole index, and the direction.
pub fn index_order(table: &Table, keys: &[OrderTerm]) -> Option<(Access, bool)> {
    (0..table.indexes.len()).find_map(|i| {
        let access = Access::Keyed {
            index: Some(i),
            spans: vec![Span::unbounded(Vec::new())],
        };
        key_order(table, &access, keys).map(|descending| (access, descending))
    })
}
