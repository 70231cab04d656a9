//! Running plan nodes: each node opens a [`Cursor`] that hands out one row per call to
//! `next`, pulling rows from its inputs (the Volcano model). The transaction travels in a
//! [`Ctx`] passed to every call rather than being held by the cursors, so that an
//! expression can run a subquery in the middle of a scan.
//!
//! Rows stream from scans to the client; sorts, aggregations, hash tables and set
//! operations hold what they need in memory.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use super::access::{Access, Span};
use super::ast::{
    AggFunc, Expr, Frame, FrameBound, Func, JoinKind, OrderTerm, SetOp, WindowCall, WindowFunc,
};
use super::plan::{JoinMethod, Node, SubKind, SubPlan};
use super::rows::{self, RangeScan};
use crate::catalog::Table;
use crate::encoding::keys;
use crate::error::{Error, Result};
use crate::storage::Transaction;
use crate::value::{DataType, Value};

pub type Row = Vec<Value>;

/// What running a plan needs besides the plan: the transaction, the rows of the
/// enclosing queries (for correlated subqueries), and results of subqueries that do not
/// depend on them (computed once per statement).
pub struct Ctx<'t> {
    txn: Option<&'t mut dyn Transaction>,
    /// The rows of enclosing queries, innermost last.
    pub outer: Vec<Row>,
    /// The statement's parameter values (`$1` first).
    pub params: &'t [Value],
    /// Set from elsewhere to stop the statement (cancellation, timeouts).
    pub interrupt: Option<Arc<AtomicBool>>,
    cache: HashMap<usize, Cached>,
    /// Bytes the statement may hold in sorts, hash tables and materialized rows.
    pub memory_limit: usize,
    /// Bytes held so far (an estimate; released only when the statement ends).
    memory_used: usize,
    /// The rows each running recursive query's previous round added, by its id.
    working: HashMap<usize, Arc<Vec<Row>>>,
}

enum Cached {
    Scalar(Value),
    Exists(bool),
    Set { values: Vec<Value>, has_null: bool },
}

impl<'t> Ctx<'t> {
    pub fn new(txn: &'t mut dyn Transaction) -> Self {
        Ctx {
            txn: Some(txn),
            outer: Vec::new(),
            params: &[],
            interrupt: None,
            cache: HashMap::new(),
            memory_limit: usize::MAX,
            memory_used: 0,
            working: HashMap::new(),
        }
    }

    /// A context without a transaction, for constant expressions.
    pub fn none() -> Ctx<'static> {
        Ctx {
            txn: None,
            outer: Vec::new(),
            params: &[],
            interrupt: None,
            cache: HashMap::new(),
            memory_limit: usize::MAX,
            memory_used: 0,
            working: HashMap::new(),
        }
    }

    /// Counts `values` as held in memory until the statement ends; fails with 53200 when
    /// that passes the statement's memory limit.
    pub fn hold(&mut self, values: &[Value]) -> Result<()> {
        let bytes = 24
            + values
                .iter()
                .map(|v| {
                    std::mem::size_of::<Value>()
                        + match v {
                            Value::Text(s) => s.len(),
                            Value::Blob(b) => b.len(),
                            _ => 0,
                        }
                })
                .sum::<usize>();
        self.memory_used = self.memory_used.saturating_add(bytes);
        if self.memory_used > self.memory_limit {
            return Err(Error::MemoryLimit(format!(
                "out of memory for this statement: its sorts, hash tables and held rows need \
                 more than {} MiB (the server's --statement-memory-mb); narrow it with WHERE \
                 or LIMIT, or raise the limit",
                self.memory_limit >> 20
            )));
        }
        Ok(())
    }

    /// Fails with 57014 if the statement was asked to stop.
    pub fn check_interrupt(&self) -> Result<()> {
        match &self.interrupt {
            Some(flag) if flag.load(AtomicOrdering::Relaxed) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    pub fn txn(&mut self) -> Result<&mut dyn Transaction> {
        match self.txn.as_deref_mut() {
            Some(txn) => Ok(txn),
            None => Err(Error::InvalidDefinition(
                "a subquery cannot be used here".into(),
            )),
        }
    }
}

/// An ordering key for grouping, DISTINCT, set operations and hash joins: values
/// compared as ORDER BY compares them, NULLs equal to each other.
#[derive(Clone, Debug)]
pub struct Key(pub Row);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.0.iter().zip(&other.0) {
            let o = a.total_cmp(b);
            if o != Ordering::Equal {
                return o;
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

/// Reads a table through an access path, with its filter; yields row keys with rows.
pub struct ScanCursor<'p> {
    table: &'p Table,
    filter: Option<&'p Expr>,
    state: ScanState,
}

enum ScanState {
    Point(Option<Vec<u8>>),
    Range(RangeScan),
}

impl<'p> ScanCursor<'p> {
    pub fn new(table: &'p Table, access: &Access, filter: Option<&'p Expr>, reverse: bool) -> Self {
        let state = if let Access::Keyed { spans, .. } = access
            && access.is_primary_point(table)
        {
            ScanState::Point(Some(keys::row_key(table.id, &spans[0].prefix)))
        } else {
            ScanState::Range(rows::scan_for(table, access, reverse))
        };
        ScanCursor {
            table,
            filter,
            state,
        }
    }

    pub fn next_keyed(&mut self, ctx: &mut Ctx) -> Result<Option<(Vec<u8>, Row)>> {
        loop {
            ctx.check_interrupt()?;
            let (key, bytes) = match &mut self.state {
                ScanState::Point(key) => {
                    let Some(key) = key.take() else {
                        return Ok(None);
                    };
                    match ctx.txn()?.get(&key)? {
                        Some(bytes) => (key, bytes),
                        None => return Ok(None),
                    }
                }
                ScanState::Range(scan) => match scan.next(ctx.txn()?) {
                    None => return Ok(None),
                    Some(item) => item?,
                },
            };
            let row = rows::decode_full_row(self.table, &bytes)?;
            if let Some(filter) = self.filter
                && !filter.matches(&row, ctx)?
            {
                continue;
            }
            return Ok(Some((key, row)));
        }
    }
}

/// The columns a projection takes, when it only takes columns, each at most once.
pub(super) fn column_moves(exprs: &[Expr]) -> Option<Vec<usize>> {
    let mut columns = Vec::with_capacity(exprs.len());
    for e in exprs {
        match e {
            Expr::Column(c) if !columns.contains(c) => columns.push(*c),
            _ => return None,
        }
    }
    Some(columns)
}

/// The values of `columns` (distinct), moved out of `row`: the row itself when they are
/// all of its columns in order.
pub(super) fn take_columns(mut row: Row, columns: &[usize]) -> Result<Row> {
    if columns.len() == row.len() && columns.iter().enumerate().all(|(i, &c)| i == c) {
        return Ok(row);
    }
    columns
        .iter()
        .map(|&c| match row.get_mut(c) {
            Some(value) => Ok(std::mem::replace(value, Value::Null)),
            None => Err(Error::Corrupt(format!("row has no column {c}"))),
        })
        .collect()
}

/// A running plan node.
pub enum Cursor<'p> {
    Scan(ScanCursor<'p>),
    Unit(bool),
    Values {
        rows: &'p [Vec<Expr>],
        next: usize,
    },
    Filter {
        source: Box<Cursor<'p>>,
        predicate: &'p Expr,
    },
    Project {
        source: Box<Cursor<'p>>,
        exprs: &'p [Expr],
        /// When every expression is a distinct column: those columns, moved out of the
        /// source row instead of evaluated (cloned).
        moves: Option<Vec<usize>>,
    },
    /// Materialized on the first call: every round of a recursive query.
    Recursive {
        node: &'p Node,
        rows: Option<std::vec::IntoIter<Row>>,
    },
    /// The rows of the running recursive query's previous round.
    Working {
        id: usize,
        rows: Option<Arc<Vec<Row>>>,
        next: usize,
    },
    /// Materialized on the first call, with the window functions' values.
    Window {
        source: Option<Box<Cursor<'p>>>,
        calls: &'p [Expr],
        rows: std::vec::IntoIter<Row>,
    },
    /// Materialized on the first call.
    Sorted {
        source: Option<Box<Cursor<'p>>>,
        keys: &'p [OrderTerm],
        rows: std::vec::IntoIter<Row>,
    },
    Limit {
        source: Box<Cursor<'p>>,
        skip: u64,
        remaining: Option<u64>,
    },
    Join(Box<JoinCursor<'p>>),
    Aggregate {
        source: Option<Box<Cursor<'p>>>,
        node: &'p Node,
        rows: std::vec::IntoIter<Row>,
    },
    Distinct {
        source: Box<Cursor<'p>>,
        seen: BTreeSet<Key>,
    },
    /// UNION ALL: the left rows, then the right.
    Chain {
        first: Option<Box<Cursor<'p>>>,
        second: Box<Cursor<'p>>,
    },
    /// INTERSECT and EXCEPT: left rows (without duplicates) that are (or are not) on the
    /// right. With ALL, duplicates count: each right row matches one left row.
    Compare {
        left: Box<Cursor<'p>>,
        right: Option<Box<Cursor<'p>>>,
        keep_if_found: bool,
        all: bool,
        /// The right rows, with how many of each are not yet matched.
        right_rows: BTreeMap<Key, usize>,
        seen: BTreeSet<Key>,
    },
}

impl<'p> Cursor<'p> {
    /// Opens a cursor over a node's rows.
    pub fn open(node: &'p Node) -> Cursor<'p> {
        match node {
            Node::Scan {
                table,
                access,
                filter,
                reverse,
            } => Cursor::Scan(ScanCursor::new(table, access, filter.as_ref(), *reverse)),
            Node::Unit => Cursor::Unit(false),
            Node::Values { rows } => Cursor::Values { rows, next: 0 },
            Node::Filter { source, predicate } => Cursor::Filter {
                source: Box::new(Cursor::open(source)),
                predicate,
            },
            Node::Project { source, exprs } => Cursor::Project {
                source: Box::new(Cursor::open(source)),
                exprs,
                moves: column_moves(exprs),
            },
            Node::Sort { source, keys } => Cursor::Sorted {
                source: Some(Box::new(Cursor::open(source))),
                keys,
                rows: Vec::new().into_iter(),
            },
            Node::Limit {
                source,
                offset,
                limit,
            } => Cursor::Limit {
                source: Box::new(Cursor::open(source)),
                skip: *offset,
                remaining: *limit,
            },
            Node::Join {
                left,
                right,
                kind,
                on,
                method,
                left_width,
                right_width,
            } => Cursor::Join(Box::new(JoinCursor {
                left: Cursor::open(left),
                right,
                kind: *kind,
                on: on.as_ref(),
                method,
                left_width: *left_width,
                right_width: *right_width,
                all_right: None,
                hashed: None,
                right_matched: Vec::new(),
                unmatched: 0,
                current: None,
                candidates: Vec::new(),
                looked_up: Vec::new(),
                position: 0,
                matched: false,
            })),
            Node::Aggregate { source, .. } => Cursor::Aggregate {
                source: Some(Box::new(Cursor::open(source))),
                node,
                rows: Vec::new().into_iter(),
            },
            Node::Recursive { .. } => Cursor::Recursive { node, rows: None },
            Node::Working { id, .. } => Cursor::Working {
                id: *id,
                rows: None,
                next: 0,
            },
            Node::Window { source, calls, .. } => Cursor::Window {
                source: Some(Box::new(Cursor::open(source))),
                calls,
                rows: Vec::new().into_iter(),
            },
            Node::Distinct { source } => Cursor::Distinct {
                source: Box::new(Cursor::open(source)),
                seen: BTreeSet::new(),
            },
            Node::SetOp {
                op,
                all,
                left,
                right,
            } => {
                let (left, right) = (Cursor::open(left), Cursor::open(right));
                match op {
                    SetOp::Union => {
                        let chain = Cursor::Chain {
                            first: Some(Box::new(left)),
                            second: Box::new(right),
                        };
                        if *all {
                            chain
                        } else {
                            Cursor::Distinct {
                                source: Box::new(chain),
                                seen: BTreeSet::new(),
                            }
                        }
                    }
                    SetOp::Intersect | SetOp::Except => Cursor::Compare {
                        left: Box::new(left),
                        right: Some(Box::new(right)),
                        keep_if_found: *op == SetOp::Intersect,
                        all: *all,
                        right_rows: BTreeMap::new(),
                        seen: BTreeSet::new(),
                    },
                }
            }
        }
    }

    /// The next row, or None at the end.
    pub fn next(&mut self, ctx: &mut Ctx) -> Result<Option<Row>> {
        match self {
            Cursor::Scan(scan) => Ok(scan.next_keyed(ctx)?.map(|(_, row)| row)),
            Cursor::Unit(done) => {
                if *done {
                    return Ok(None);
                }
                *done = true;
                Ok(Some(Vec::new()))
            }
            Cursor::Values { rows, next } => {
                let Some(exprs) = rows.get(*next) else {
                    return Ok(None);
                };
                *next += 1;
                exprs
                    .iter()
                    .map(|e| e.eval(&[], ctx))
                    .collect::<Result<_>>()
                    .map(Some)
            }
            Cursor::Filter { source, predicate } => loop {
                let Some(row) = source.next(ctx)? else {
                    return Ok(None);
                };
                if predicate.matches(&row, ctx)? {
                    return Ok(Some(row));
                }
            },
            Cursor::Project {
                source,
                exprs,
                moves,
            } => {
                let Some(row) = source.next(ctx)? else {
                    return Ok(None);
                };
                if let Some(moves) = moves {
                    return take_columns(row, moves).map(Some);
                }
                exprs
                    .iter()
                    .map(|e| e.eval(&row, ctx))
                    .collect::<Result<_>>()
                    .map(Some)
            }
            Cursor::Sorted { source, keys, rows } => {
                if let Some(mut input) = source.take() {
                    *rows = sort(&mut input, keys, ctx)?.into_iter();
                }
                Ok(rows.next())
            }
            Cursor::Limit {
                source,
                skip,
                remaining,
            } => {
                if *remaining == Some(0) {
                    return Ok(None);
                }
                while *skip > 0 {
                    if source.next(ctx)?.is_none() {
                        return Ok(None);
                    }
                    *skip -= 1;
                }
                let row = source.next(ctx)?;
                if row.is_some()
                    && let Some(n) = remaining
                {
                    *n -= 1;
                }
                Ok(row)
            }
            Cursor::Join(join) => join.next(ctx),
            Cursor::Aggregate { source, node, rows } => {
                if let Some(mut input) = source.take() {
                    *rows = aggregate(&mut input, node, ctx)?.into_iter();
                }
                Ok(rows.next())
            }
            Cursor::Recursive { node, rows } => {
                if rows.is_none() {
                    *rows = Some(recursive(node, ctx)?.into_iter());
                }
                Ok(rows.as_mut().and_then(Iterator::next))
            }
            Cursor::Working { id, rows, next } => {
                if rows.is_none() {
                    *rows = Some(ctx.working.get(id).cloned().ok_or_else(|| {
                        Error::Corrupt("a recursive query's rows read outside it".into())
                    })?);
                }
                let row = rows.as_ref().and_then(|r| r.get(*next)).cloned();
                *next += 1;
                Ok(row)
            }
            Cursor::Window {
                source,
                calls,
                rows,
            } => {
                if let Some(mut input) = source.take() {
                    *rows = window(&mut input, calls, ctx)?.into_iter();
                }
                Ok(rows.next())
            }
            Cursor::Distinct { source, seen } => loop {
                let Some(row) = source.next(ctx)? else {
                    return Ok(None);
                };
                if seen.insert(Key(row.clone())) {
                    ctx.hold(&row)?;
                    return Ok(Some(row));
                }
            },
            Cursor::Chain { first, second } => {
                if let Some(cursor) = first {
                    if let Some(row) = cursor.next(ctx)? {
                        return Ok(Some(row));
                    }
                    *first = None;
                }
                second.next(ctx)
            }
            Cursor::Compare {
                left,
                right,
                keep_if_found,
                all,
                right_rows,
                seen,
            } => {
                if let Some(mut input) = right.take() {
                    while let Some(row) = input.next(ctx)? {
                        ctx.hold(&row)?;
                        *right_rows.entry(Key(row)).or_insert(0) += 1;
                    }
                }
                loop {
                    let Some(row) = left.next(ctx)? else {
                        return Ok(None);
                    };
                    let key = Key(row);
                    let keep = if *all {
                        // The row matches one unmatched copy on the right, if any is left.
                        let found = match right_rows.get_mut(&key) {
                            Some(left_over) if *left_over > 0 => {
                                *left_over -= 1;
                                true
                            }
                            _ => false,
                        };
                        found == *keep_if_found
                    } else {
                        right_rows.contains_key(&key) == *keep_if_found && seen.insert(key.clone())
                    };
                    if keep {
                        ctx.hold(&key.0)?;
                        return Ok(Some(key.0));
                    }
                }
            }
        }
    }
}

/// Runs a node to the end, collecting its rows.
pub fn collect(node: &Node, ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut cursor = Cursor::open(node);
    let mut out = Vec::new();
    while let Some(row) = cursor.next(ctx)? {
        ctx.hold(&row)?;
        out.push(row);
    }
    Ok(out)
}

/// Sorts rows by the keys (a stable sort: ties keep their input order).
fn sort(input: &mut Cursor, keys: &[OrderTerm], ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut keyed: Vec<(Row, Row)> = Vec::new();
    while let Some(row) = input.next(ctx)? {
        let sort_key: Row = keys
            .iter()
            .map(|k| k.expr.eval(&row, ctx))
            .collect::<Result<_>>()?;
        ctx.hold(&sort_key)?;
        ctx.hold(&row)?;
        keyed.push((sort_key, row));
    }
    keyed.sort_by(|(a, _), (b, _)| compare_keys(a, b, keys));
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// Compares sort keys under ORDER BY terms.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[OrderTerm]) -> Ordering {
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
}

pub struct JoinCursor<'p> {
    left: Cursor<'p>,
    right: &'p Node,
    kind: JoinKind,
    on: Option<&'p Expr>,
    method: &'p JoinMethod,
    left_width: usize,
    right_width: usize,
    /// Nested loop and hash join: every right row, read once.
    all_right: Option<Vec<Row>>,
    /// Hash join: the right rows (indexes into `all_right`) by key.
    hashed: Option<BTreeMap<Key, Vec<usize>>>,
    /// FULL join: which right rows some left row matched.
    right_matched: Vec<bool>,
    /// FULL join, once the left rows ran out: the next right row to look at.
    unmatched: usize,
    /// The left row being joined.
    current: Option<Row>,
    /// Hash join: the right rows to try with it (indexes into `all_right`).
    candidates: Vec<usize>,
    /// Lookup join: the right rows read for it.
    looked_up: Vec<Row>,
    position: usize,
    matched: bool,
}

impl JoinCursor<'_> {
    fn next(&mut self, ctx: &mut Ctx) -> Result<Option<Row>> {
        loop {
            if let Some(left) = &self.current {
                let all_right = self.all_right.as_deref().unwrap_or(&[]);
                let count = match self.method {
                    JoinMethod::NestedLoop => all_right.len(),
                    JoinMethod::Hash { .. } => self.candidates.len(),
                    JoinMethod::Lookup { .. } => self.looked_up.len(),
                };
                while self.position < count {
                    // Rows held in memory pass no scan, so check here too: a join of
                    // small tables can still run for ever.
                    ctx.check_interrupt()?;
                    let (right, index) = match self.method {
                        JoinMethod::NestedLoop => (&all_right[self.position], self.position),
                        JoinMethod::Hash { .. } => {
                            let i = self.candidates[self.position];
                            (&all_right[i], i)
                        }
                        JoinMethod::Lookup { .. } => (&self.looked_up[self.position], 0),
                    };
                    self.position += 1;
                    let mut row = left.clone();
                    row.extend_from_slice(right);
                    let keep = match self.on {
                        Some(on) => on.matches(&row, ctx)?,
                        None => true,
                    };
                    if keep {
                        self.matched = true;
                        if self.kind == JoinKind::Full {
                            self.right_matched[index] = true;
                        }
                        return Ok(Some(row));
                    }
                }
                let left = self.current.take().expect("current row");
                if !self.matched && matches!(self.kind, JoinKind::Left | JoinKind::Full) {
                    let mut row = left;
                    row.extend(std::iter::repeat_n(Value::Null, self.right_width));
                    return Ok(Some(row));
                }
            }
            let Some(left) = self.left.next(ctx)? else {
                return self.unmatched_right(ctx);
            };
            self.position = 0;
            self.matched = false;
            match self.method {
                JoinMethod::NestedLoop => self.read_right(ctx)?,
                JoinMethod::Hash { left_keys, .. } => {
                    self.read_right(ctx)?;
                    let key: Row = left_keys
                        .iter()
                        .map(|k| k.eval(&left, ctx))
                        .collect::<Result<_>>()?;
                    self.candidates = if key.iter().any(Value::is_null) {
                        Vec::new()
                    } else {
                        self.hashed
                            .as_ref()
                            .expect("built")
                            .get(&Key(key))
                            .cloned()
                            .unwrap_or_default()
                    };
                }
                JoinMethod::Lookup { index, keys } => {
                    self.looked_up = lookup(self.right, *index, keys, &left, ctx)?;
                }
            }
            self.current = Some(left);
        }
    }

    /// Reads the right side once (nested loop and hash join), hashing its rows by key for
    /// a hash join; a FULL join keeps the rows whose key has a NULL too (they match
    /// nothing, and come out NULL-extended).
    fn read_right(&mut self, ctx: &mut Ctx) -> Result<()> {
        if self.all_right.is_some() {
            return Ok(());
        }
        let mut rows = Vec::new();
        let mut table: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        let mut cursor = Cursor::open(self.right);
        while let Some(row) = cursor.next(ctx)? {
            if let JoinMethod::Hash { right_keys, .. } = self.method {
                let key: Row = right_keys
                    .iter()
                    .map(|k| k.eval(&row, ctx))
                    .collect::<Result<_>>()?;
                if key.iter().any(Value::is_null) {
                    if self.kind != JoinKind::Full {
                        continue;
                    }
                } else {
                    table.entry(Key(key)).or_default().push(rows.len());
                }
            }
            ctx.hold(&row)?;
            rows.push(row);
        }
        if matches!(self.method, JoinMethod::Hash { .. }) {
            self.hashed = Some(table);
        }
        if self.kind == JoinKind::Full {
            self.right_matched = vec![false; rows.len()];
        }
        self.all_right = Some(rows);
        Ok(())
    }

    /// For a FULL join, once the left rows ran out: the right rows no left row matched,
    /// with NULLs for the left columns.
    fn unmatched_right(&mut self, ctx: &mut Ctx) -> Result<Option<Row>> {
        if self.kind != JoinKind::Full {
            return Ok(None);
        }
        self.read_right(ctx)?;
        let rows = self.all_right.as_deref().unwrap_or(&[]);
        while self.unmatched < rows.len() {
            let i = self.unmatched;
            self.unmatched += 1;
            if !self.right_matched[i] {
                let mut row = vec![Value::Null; self.left_width];
                row.extend_from_slice(&rows[i]);
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}

/// The rows of the scan `right` whose key (primary key or index) starts with the values
/// of `keys` computed from `left`.
fn lookup(
    right: &Node,
    index: Option<usize>,
    keys: &[Expr],
    left: &[Value],
    ctx: &mut Ctx,
) -> Result<Vec<Row>> {
    let Node::Scan { table, filter, .. } = right else {
        return Err(Error::Corrupt(
            "a lookup join over something not a table".into(),
        ));
    };
    let columns = match index {
        None => &table.primary_key,
        Some(i) => &table.indexes[i].columns,
    };
    let mut prefix = Vec::with_capacity(keys.len());
    for (key, &column) in keys.iter().zip(columns) {
        let value = key.eval(left, ctx)?;
        // A value no key of the column's type equals (NULL, 1.5 for an integer) finds
        // nothing.
        let Some(exact) = super::access::exact_key(&value, table.columns[column].data_type) else {
            return Ok(Vec::new());
        };
        prefix.push(exact);
    }
    let access = Access::Keyed {
        index,
        spans: vec![Span {
            prefix,
            lower: std::ops::Bound::Unbounded,
            upper: std::ops::Bound::Unbounded,
        }],
    };
    let mut scan = ScanCursor::new(table, &access, filter.as_ref(), false);
    let mut out = Vec::new();
    while let Some((_, row)) = scan.next_keyed(ctx)? {
        out.push(row);
    }
    Ok(out)
}

/// Groups the input and computes the aggregates of each group.
fn aggregate(input: &mut Cursor, node: &Node, ctx: &mut Ctx) -> Result<Vec<Row>> {
    let Node::Aggregate {
        group_by,
        aggregates,
        width,
        ..
    } = node
    else {
        return Err(Error::Corrupt("aggregate of a non-aggregate node".into()));
    };
    struct Group {
        first: Row,
        accumulators: Vec<Accumulator>,
    }
    let new_group = |first: Row| Group {
        first,
        accumulators: aggregates.iter().map(Accumulator::new).collect(),
    };
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    while let Some(row) = input.next(ctx)? {
        let key: Row = group_by
            .iter()
            .map(|g| g.eval(&row, ctx))
            .collect::<Result<_>>()?;
        let group = match groups.entry(Key(key)) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                ctx.hold(&row)?;
                ctx.hold(&e.key().0)?;
                e.insert(new_group(row.clone()))
            }
        };
        for (acc, call) in group.accumulators.iter_mut().zip(aggregates) {
            acc.add(call, &row, ctx)?;
        }
    }
    if groups.is_empty() && group_by.is_empty() {
        groups.insert(Key(Vec::new()), new_group(vec![Value::Null; *width]));
    }
    groups
        .into_iter()
        .map(|(key, group)| {
            let mut row = group.first;
            row.extend(key.0);
            for acc in group.accumulators {
                row.push(acc.finish()?);
            }
            Ok(row)
        })
        .collect()
}

/// Runs a recursive query: its base, then rounds of its step, each over the rows the
/// round before added, until a round adds none. Without `all`, a row equal to one
/// already produced is dropped (which is what ends most UNION recursions).
fn recursive(node: &Node, ctx: &mut Ctx) -> Result<Vec<Row>> {
    let Node::Recursive {
        id,
        base,
        step,
        all,
        ..
    } = node
    else {
        return Err(Error::Corrupt("recursion over a non-recursive node".into()));
    };
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    let mut fresh = |row: &Row, ctx: &mut Ctx| -> Result<bool> {
        if !*all && !seen.insert(Key(row.clone())) {
            return Ok(false);
        }
        ctx.hold(row)?;
        Ok(true)
    };
    let mut produced = Vec::new();
    let mut round = Vec::new();
    let mut input = Cursor::open(base);
    while let Some(row) = input.next(ctx)? {
        if fresh(&row, ctx)? {
            round.push(row);
        }
    }
    while !round.is_empty() {
        ctx.check_interrupt()?;
        produced.extend(round.iter().cloned());
        let before = ctx
            .working
            .insert(*id, Arc::new(std::mem::take(&mut round)));
        // Subqueries of the step may read the rows of this round: none is kept from
        // the round before.
        ctx.cache.clear();
        let mut input = Cursor::open(step);
        let mut next = Vec::new();
        let stepped = loop {
            match input.next(ctx) {
                Ok(Some(row)) => match fresh(&row, ctx) {
                    Ok(true) => next.push(row),
                    Ok(false) => {}
                    Err(e) => break Err(e),
                },
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match before {
            Some(rows) => ctx.working.insert(*id, rows),
            None => ctx.working.remove(id),
        };
        stepped?;
        round = next;
    }
    Ok(produced)
}

/// Reads every input row and adds the value of each window function call to it; the
/// rows keep their input order.
fn window(input: &mut Cursor, calls: &[Expr], ctx: &mut Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    while let Some(row) = input.next(ctx)? {
        ctx.hold(&row)?;
        rows.push(row);
    }
    let mut columns = Vec::with_capacity(calls.len());
    for call in calls {
        let Expr::Window(call) = call else {
            return Err(Error::Corrupt(
                "a window node with a non-window call".into(),
            ));
        };
        columns.push(window_values(&rows, call, ctx)?);
        ctx.check_interrupt()?;
    }
    for (i, row) in rows.iter_mut().enumerate() {
        for column in &mut columns {
            row.push(std::mem::replace(&mut column[i], Value::Null));
        }
    }
    Ok(rows)
}

/// A row's place for one window: its PARTITION BY values, its ORDER BY values, and its
/// index in the input.
type Placed = (Row, Row, usize);

/// One window function's value for every row (by input index).
fn window_values(rows: &[Row], call: &WindowCall, ctx: &mut Ctx) -> Result<Vec<Value>> {
    let mut placed: Vec<Placed> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let partition: Row = call
            .partition_by
            .iter()
            .map(|e| e.eval(row, ctx))
            .collect::<Result<_>>()?;
        let order: Row = call
            .order_by
            .iter()
            .map(|t| t.expr.eval(row, ctx))
            .collect::<Result<_>>()?;
        ctx.hold(&partition)?;
        ctx.hold(&order)?;
        placed.push((partition, order, i));
    }
    // Partitions compare their values ascending, NULLs together (as GROUP BY does).
    let by_value: Vec<OrderTerm> = call
        .partition_by
        .iter()
        .map(|_| OrderTerm {
            expr: Expr::Literal(Value::Null),
            descending: false,
            nulls_first: None,
        })
        .collect();
    placed.sort_by(|a, b| {
        compare_keys(&a.0, &b.0, &by_value)
            .then_with(|| compare_keys(&a.1, &b.1, &call.order_by))
            .then(a.2.cmp(&b.2))
    });
    let mut out = vec![Value::Null; rows.len()];
    let mut start = 0;
    while start < placed.len() {
        let mut end = start + 1;
        while end < placed.len()
            && compare_keys(&placed[start].0, &placed[end].0, &by_value) == Ordering::Equal
        {
            end += 1;
        }
        partition_values(&placed[start..end], rows, call, ctx, &mut out)?;
        start = end;
    }
    Ok(out)
}

/// Fills in the window function's value for the rows of one partition, which come in
/// window order. Rows with equal ORDER BY values are peers: the default frame runs from
/// the partition's first row to the current row's last peer.
fn partition_values(
    part: &[Placed],
    rows: &[Row],
    call: &WindowCall,
    ctx: &mut Ctx,
    out: &mut [Value],
) -> Result<()> {
    let n = part.len();
    // Where each row's peer group ends (exclusive).
    let mut peers_end = vec![n; n];
    let mut group_start = 0;
    for i in 1..=n {
        if i == n || compare_keys(&part[i - 1].1, &part[i].1, &call.order_by) != Ordering::Equal {
            peers_end[group_start..i].fill(i);
            group_start = i;
        }
    }
    let arg = |k: usize, pos: usize, ctx: &mut Ctx| call.args[k].eval(&rows[part[pos].2], ctx);
    let mut group = 0; // peer groups so far, for dense_rank
    let mut group_first = 0; // first position of the current peer group
    let mut added = 0; // rows of the partition the accumulator has taken
    let mut accumulator = match &call.func {
        WindowFunc::Aggregate { func, distinct } => {
            let expr = window_aggregate(*func, *distinct, &call.args);
            Some((Accumulator::new(&expr), expr))
        }
        _ => None,
    };
    for pos in 0..n {
        let starts_group = pos == 0 || peers_end[pos - 1] == pos;
        if starts_group {
            group += 1;
            group_first = pos;
        }
        let value = match &call.func {
            WindowFunc::RowNumber => Value::Integer(pos as i64 + 1),
            WindowFunc::Rank => Value::Integer(group_first as i64 + 1),
            WindowFunc::DenseRank => Value::Integer(group),
            WindowFunc::PercentRank => Value::Real(if n > 1 {
                group_first as f64 / (n - 1) as f64
            } else {
                0.0
            }),
            WindowFunc::CumeDist => Value::Real(peers_end[pos] as f64 / n as f64),
            WindowFunc::Ntile => {
                let buckets = match arg(0, pos, ctx)? {
                    Value::Integer(b) if b > 0 => b as usize,
                    other => {
                        return Err(Error::InvalidValue(format!(
                            "the argument of ntile must be a positive integer, not {}",
                            other.render()
                        )));
                    }
                };
                // The first n % buckets buckets hold one row more than the others.
                let (size, larger) = (n / buckets, n % buckets);
                let bucket = if pos < larger * (size + 1) {
                    pos / (size + 1)
                } else {
                    larger + (pos - larger * (size + 1)) / size.max(1)
                };
                Value::Integer(bucket as i64 + 1)
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let offset = match call.args.get(1) {
                    None => 1,
                    Some(_) => match arg(1, pos, ctx)? {
                        Value::Integer(o) => o,
                        Value::Null => {
                            out[part[pos].2] = Value::Null;
                            continue;
                        }
                        other => {
                            return Err(Error::InvalidValue(format!(
                                "the offset of {} must be an integer, not {}",
                                call.func.name(),
                                other.render()
                            )));
                        }
                    },
                };
                let target = if call.func == WindowFunc::Lag {
                    (pos as i64).checked_sub(offset)
                } else {
                    (pos as i64).checked_add(offset)
                };
                match target {
                    Some(t) if t >= 0 && (t as usize) < n => arg(0, t as usize, ctx)?,
                    _ if call.args.len() == 3 => arg(2, pos, ctx)?,
                    _ => Value::Null,
                }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                let (lo, hi) = frame_of(call.frame, pos, n, &peers_end);
                let at = match call.func {
                    WindowFunc::FirstValue => lo,
                    WindowFunc::LastValue => hi.saturating_sub(1).max(lo),
                    _ => match arg(1, pos, ctx)? {
                        Value::Integer(k) if k > 0 => {
                            lo.saturating_add(usize::try_from(k - 1).unwrap_or(usize::MAX))
                        }
                        other => {
                            return Err(Error::InvalidValue(format!(
                                "the second argument of nth_value must be a positive \
                                 integer, not {}",
                                other.render()
                            )));
                        }
                    },
                };
                if at < hi {
                    arg(0, at, ctx)?
                } else {
                    Value::Null
                }
            }
            WindowFunc::Aggregate { .. } => {
                let (acc, expr) = accumulator.as_mut().expect("made above");
                let (lo, hi) = frame_of(call.frame, pos, n, &peers_end);
                if lo == 0 {
                    // Frames that start at the partition's first row only grow: add
                    // the rows they gained.
                    for gained in added..hi {
                        acc.add(expr, &rows[part[gained].2], ctx)?;
                    }
                    added = added.max(hi);
                    acc.current()?
                } else {
                    // A frame whose start moves is aggregated anew for each row.
                    ctx.check_interrupt()?;
                    let mut fresh = Accumulator::new(expr);
                    for row in lo..hi {
                        fresh.add(expr, &rows[part[row].2], ctx)?;
                    }
                    fresh.current()?
                }
            }
            WindowFunc::Named { name, .. } => {
                return Err(Error::Corrupt(format!(
                    "the window function {name} was not resolved"
                )));
            }
        };
        out[part[pos].2] = value;
    }
    Ok(())
}

/// The frame of the row at `pos` of a partition of `n` rows, as positions `lo..hi`
/// (empty when `lo >= hi`); `peers_end` is where each row's peer group ends.
fn frame_of(frame: Frame, pos: usize, n: usize, peers_end: &[usize]) -> (usize, usize) {
    let rows = |offset: u64| usize::try_from(offset).unwrap_or(usize::MAX);
    match frame {
        Frame::Default => (0, peers_end[pos]),
        Frame::Partition => (0, n),
        Frame::Rows { start, end } => {
            // The first row in the frame, and one past the last.
            let lo = match start {
                FrameBound::UnboundedPreceding => 0,
                FrameBound::Preceding(k) => pos.saturating_sub(rows(k)),
                FrameBound::CurrentRow => pos,
                FrameBound::Following(k) => pos.saturating_add(rows(k)).min(n),
                FrameBound::UnboundedFollowing => n,
            };
            let hi = match end {
                FrameBound::UnboundedPreceding => 0,
                FrameBound::Preceding(k) => (pos + 1).saturating_sub(rows(k)),
                FrameBound::CurrentRow => pos + 1,
                FrameBound::Following(k) => pos.saturating_add(rows(k)).saturating_add(1).min(n),
                FrameBound::UnboundedFollowing => n,
            };
            (lo, hi)
        }
    }
}

/// The aggregate a window aggregates with: its arguments as [`Expr::Aggregate`] takes
/// them (`group_concat(x, sep)` as one `coalesce(x, sep)`, as the planner binds it).
fn window_aggregate(func: AggFunc, distinct: bool, args: &[Expr]) -> Expr {
    let arg = match args {
        [] => None,
        [value, separator] => Some(Box::new(Expr::Call(
            Func::Coalesce,
            vec![value.clone(), separator.clone()],
        ))),
        [value, ..] => Some(Box::new(value.clone())),
    };
    Expr::Aggregate {
        func,
        arg,
        distinct,
    }
}

/// The running state of one aggregate in one group.
struct Accumulator {
    func: AggFunc,
    /// For DISTINCT: the values seen.
    seen: Option<BTreeSet<Key>>,
    count: i64,
    int_sum: i64,
    real_sum: f64,
    /// Some input was a REAL (SUM then returns a REAL).
    real: bool,
    /// An integer SUM overflowed.
    overflow: bool,
    best: Option<Value>,
    text: Option<String>,
}

impl Accumulator {
    fn new(call: &Expr) -> Accumulator {
        let (func, distinct) = match call {
            Expr::Aggregate { func, distinct, .. } => (*func, *distinct),
            _ => (AggFunc::CountStar, false),
        };
        Accumulator {
            func,
            seen: distinct.then(BTreeSet::new),
            count: 0,
            int_sum: 0,
            real_sum: 0.0,
            real: false,
            overflow: false,
            best: None,
            text: None,
        }
    }

    fn add(&mut self, call: &Expr, row: &[Value], ctx: &mut Ctx) -> Result<()> {
        let Expr::Aggregate { arg, .. } = call else {
            return Ok(());
        };
        let Some(arg) = arg else {
            self.count += 1; // count(*)
            return Ok(());
        };
        // group_concat(x, sep) is bound as an aggregate of coalesce(x, sep): the two
        // arguments are evaluated separately here.
        let (value, separator) = match (self.func, arg.as_ref()) {
            (AggFunc::GroupConcat, Expr::Call(Func::Coalesce, args)) if args.len() == 2 => {
                (args[0].eval(row, ctx)?, Some(args[1].eval(row, ctx)?))
            }
            _ => (arg.eval(row, ctx)?, None),
        };
        if value.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen
            && !seen.insert(Key(vec![value.clone()]))
        {
            return Ok(());
        }
        self.count += 1;
        match self.func {
            AggFunc::CountStar | AggFunc::Count => {}
            AggFunc::Sum | AggFunc::Avg | AggFunc::Total => match &value {
                Value::Integer(i) => self.add_int(*i),
                Value::Boolean(b) => self.add_int(i64::from(*b)),
                Value::Real(r) => {
                    self.real = true;
                    self.real_sum += r;
                }
                // As in SQLite: text and blobs count as their numeric prefix (0 without
                // one), and make the sum a REAL.
                other => {
                    self.real = true;
                    if let Value::Real(r) = cast(other.clone(), DataType::Real)? {
                        self.real_sum += r;
                    }
                }
            },
            AggFunc::Min | AggFunc::Max => {
                let better = match &self.best {
                    None => true,
                    Some(best) => {
                        let o = value.total_cmp(best);
                        if self.func == AggFunc::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    self.best = Some(value);
                }
            }
            AggFunc::GroupConcat => {
                let piece = text_of(&value);
                match &mut self.text {
                    None => self.text = Some(piece),
                    Some(text) => {
                        match separator {
                            Some(sep) if !sep.is_null() => text.push_str(&text_of(&sep)),
                            Some(_) => {}
                            None => text.push(','),
                        }
                        text.push_str(&piece);
                    }
                }
            }
        }
        Ok(())
    }

    fn add_int(&mut self, i: i64) {
        match self.int_sum.checked_add(i) {
            Some(sum) => self.int_sum = sum,
            None => self.overflow = true,
        }
        self.real_sum += i as f64;
    }

    fn finish(self) -> Result<Value> {
        // The held value moves out, where `current` (for windows) clones it.
        match self.func {
            AggFunc::Min | AggFunc::Max => Ok(self.best.unwrap_or(Value::Null)),
            AggFunc::GroupConcat => Ok(self.text.map_or(Value::Null, Value::Text)),
            _ => self.current(),
        }
    }

    /// The aggregate of the values added so far.
    fn current(&self) -> Result<Value> {
        Ok(match self.func {
            AggFunc::CountStar | AggFunc::Count => Value::Integer(self.count),
            AggFunc::Sum if self.count == 0 => Value::Null,
            AggFunc::Sum if self.real => Value::Real(self.real_sum),
            AggFunc::Sum if self.overflow => return Err(Error::Overflow),
            AggFunc::Sum => Value::Integer(self.int_sum),
            AggFunc::Total => Value::Real(self.real_sum),
            AggFunc::Avg if self.count == 0 => Value::Null,
            AggFunc::Avg => Value::Real(self.real_sum / self.count as f64),
            AggFunc::Min | AggFunc::Max => self.best.clone().unwrap_or(Value::Null),
            AggFunc::GroupConcat => self.text.clone().map_or(Value::Null, Value::Text),
        })
    }
}

/// A value as text, the way `||` and group_concat see it.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        other => format!("{other}"),
    }
}

/// Evaluates a planned subquery for the current row.
pub fn eval_subquery(
    sub: &SubPlan,
    operand: Option<&Expr>,
    row: &[Value],
    ctx: &mut Ctx,
) -> Result<Value> {
    let id = sub as *const SubPlan as usize;
    if !sub.correlated && !ctx.cache.contains_key(&id) {
        let result = run_subquery(sub, row, ctx)?;
        ctx.cache.insert(id, result);
    }
    let owned;
    let result = if sub.correlated {
        owned = run_subquery(sub, row, ctx)?;
        &owned
    } else {
        ctx.cache.get(&id).expect("cached")
    };
    Ok(match (result, &sub.kind) {
        (Cached::Scalar(v), _) => v.clone(),
        (Cached::Exists(found), SubKind::Exists { negated }) => Value::Boolean(*found != *negated),
        (Cached::Set { values, has_null }, SubKind::In { negated }) => {
            let (values, has_null, negated) = (values.clone(), *has_null, *negated);
            let operand =
                operand.ok_or_else(|| Error::Corrupt("IN subquery without operand".into()))?;
            let value = operand.eval(row, ctx)?;
            if values.is_empty() && !has_null {
                Value::Boolean(negated)
            } else if value.is_null() {
                Value::Null
            } else if values.binary_search_by(|v| v.total_cmp(&value)).is_ok() {
                Value::Boolean(!negated)
            } else if has_null {
                Value::Null
            } else {
                Value::Boolean(negated)
            }
        }
        _ => return Err(Error::Corrupt("subquery result of the wrong kind".into())),
    })
}

fn run_subquery(sub: &SubPlan, row: &[Value], ctx: &mut Ctx) -> Result<Cached> {
    ctx.outer.push(row.to_vec());
    let result = (|| {
        let mut cursor = Cursor::open(&sub.node);
        Ok(match &sub.kind {
            SubKind::Scalar => Cached::Scalar(
                cursor
                    .next(ctx)?
                    .and_then(|r| r.into_iter().next())
                    .unwrap_or(Value::Null),
            ),
            SubKind::Exists { .. } => Cached::Exists(cursor.next(ctx)?.is_some()),
            SubKind::In { .. } => {
                let mut values = Vec::new();
                let mut has_null = false;
                while let Some(r) = cursor.next(ctx)? {
                    match r.into_iter().next() {
                        Some(Value::Null) | None => has_null = true,
                        Some(v) => {
                            ctx.hold(std::slice::from_ref(&v))?;
                            values.push(v);
                        }
                    }
                }
                values.sort_by(Value::total_cmp);
                values.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
                Cached::Set { values, has_null }
            }
        })
    })();
    ctx.outer.pop();
    result
}

/// The value converted as `CAST(value AS ty)` converts it, following SQLite: text to a
/// number takes the longest numeric prefix (0 without one), a real to an integer
/// truncates, anything to text is its text.
pub fn cast(value: Value, ty: DataType) -> Result<Value> {
    Ok(match (ty, value) {
        (_, Value::Null) => Value::Null,
        (DataType::Integer, Value::Integer(i)) => Value::Integer(i),
        (DataType::Integer, Value::Boolean(b)) => Value::Integer(i64::from(b)),
        (DataType::Integer, Value::Real(r)) => Value::Integer(if r.is_nan() {
            0
        } else {
            r.clamp(i64::MIN as f64, i64::MAX as f64) as i64
        }),
        (DataType::Integer, Value::Text(s)) => match numeric_prefix(&s) {
            Some(Value::Integer(i)) => Value::Integer(i),
            Some(Value::Real(r)) => Value::Integer(r as i64),
            _ => Value::Integer(0),
        },
        (DataType::Integer | DataType::Real, Value::Blob(b)) => {
            cast(Value::Text(String::from_utf8_lossy(&b).into_owned()), ty)?
        }
        (DataType::Real, Value::Integer(i)) => Value::Real(i as f64),
        (DataType::Real, Value::Boolean(b)) => Value::Real(f64::from(u8::from(b))),
        (DataType::Real, Value::Real(r)) => Value::Real(r),
        (DataType::Real, Value::Text(s)) => match numeric_prefix(&s) {
            Some(Value::Integer(i)) => Value::Real(i as f64),
            Some(Value::Real(r)) => Value::Real(r),
            _ => Value::Real(0.0),
        },
        (DataType::Text, v @ Value::Text(_)) => v,
        (DataType::Text, Value::Blob(b)) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
        (DataType::Text, v) => Value::Text(format!("{v}")),
        (DataType::Blob, Value::Blob(b)) => Value::Blob(b),
        (DataType::Blob, v) => Value::Blob(text_of(&v).into_bytes()),
        (DataType::Boolean, v) => match v {
            Value::Boolean(b) => Value::Boolean(b),
            Value::Integer(i) => Value::Boolean(i != 0),
            Value::Real(r) => Value::Boolean(r != 0.0),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" => Value::Boolean(true),
                "false" | "f" | "0" | "no" => Value::Boolean(false),
                _ => {
                    return Err(Error::InvalidValue(format!(
                        "cannot cast the text '{s}' to BOOLEAN"
                    )));
                }
            },
            other => {
                return Err(Error::InvalidValue(format!(
                    "cannot cast {} to BOOLEAN",
                    other.type_name()
                )));
            }
        },
    })
}

/// The longest prefix of `s` (after leading spaces) that reads as a number.
fn numeric_prefix(s: &str) -> Option<Value> {
    let t = s.trim_start();
    let bytes = t.as_bytes();
    let mut end = 0;
    if end < bytes.len() && (bytes[end] == b'+' || bytes[end] == b'-') {
        end += 1;
    }
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let mut is_real = false;
    if end < bytes.len() && bytes[end] == b'.' {
        let mut e = end + 1;
        while e < bytes.len() && bytes[e].is_ascii_digit() {
            e += 1;
        }
        if e > digits_start + 1 {
            is_real = true;
            end = e;
        }
    }
    if end == digits_start {
        return None;
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut e = end + 1;
        if e < bytes.len() && (bytes[e] == b'+' || bytes[e] == b'-') {
            e += 1;
        }
        let exp_start = e;
        while e < bytes.len() && bytes[e].is_ascii_digit() {
            e += 1;
        }
        if e > exp_start {
            is_real = true;
            end = e;
        }
    }
    let text = &t[..end];
    if !is_real && let Ok(i) = text.parse::<i64>() {
        return Some(Value::Integer(i));
    }
    text.parse::<f64>().ok().map(Value::Real)
}
