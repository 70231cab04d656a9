//! The engine's own SQL syntax tree. [`super::translate`] builds it from sqlparser's AST;
//! nothing else in the engine sees sqlparser's types.

use crate::value::{DataType, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    CreateTable {
        name: String,
        columns: Vec<ColumnDef>,
        /// Column names of a table-level PRIMARY KEY (a, b) constraint.
        primary_key: Vec<String>,
        /// Column lists of table-level UNIQUE (a, b) constraints.
        unique: Vec<Vec<String>>,
        if_not_exists: bool,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `TRUNCATE [TABLE] a, b`: every row of the tables goes; the tables stay.
    Truncate {
        names: Vec<String>,
    },
    Insert {
        table: String,
        /// The listed columns, or None for "every column in table order".
        columns: Option<Vec<String>>,
        source: InsertSource,
        on_conflict: Option<OnConflict>,
        /// RETURNING items; empty when there is no RETURNING clause.
        returning: Vec<SelectItem>,
    },
    Select(Box<Query>),
    CreateView {
        name: String,
        /// Names for the view's columns; empty to use the query's.
        columns: Vec<String>,
        query: Box<Query>,
        /// The query's text, stored in the catalog and planned on each use.
        sql: String,
        if_not_exists: bool,
    },
    DropView {
        names: Vec<String>,
        if_exists: bool,
    },
    Update {
        table: String,
        set: Vec<(String, Expr)>,
        filter: Option<Expr>,
        returning: Vec<SelectItem>,
    },
    Delete {
        table: String,
        filter: Option<Expr>,
        returning: Vec<SelectItem>,
    },
    AlterTable {
        name: String,
        actions: Vec<AlterAction>,
    },
    CreateIndex {
        name: String,
        table: String,
        columns: Vec<String>,
        unique: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    /// Rebuild an index, a table's indexes, or (without a name) every index.
    Reindex(Option<String>),
    Explain(Box<Statement>),
    Begin,
    Commit,
    Rollback,
    ShowTables,
    Describe(String),
}

/// `ON CONFLICT [(columns)] DO ...` of an INSERT.
#[derive(Clone, Debug, PartialEq)]
pub struct OnConflict {
    /// The conflict target's columns; empty when none was given.
    pub target: Vec<String>,
    pub action: ConflictAction,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConflictAction {
    /// Skip the row.
    Nothing,
    /// Update the existing row; `excluded.col` names the value that was to be inserted.
    Update {
        set: Vec<(String, Expr)>,
        filter: Option<Expr>,
    },
    /// Delete every row the new one conflicts with, then insert it (`REPLACE INTO`,
    /// `INSERT OR REPLACE`).
    Replace,
}

/// One change of an ALTER TABLE.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterAction {
    AddColumn {
        column: ColumnDef,
        if_not_exists: bool,
    },
    RenameTable(String),
    RenameColumn {
        old: String,
        new: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    /// Some(false) for NOT NULL, Some(true) for an explicit NULL, None when unsaid.
    pub nullable: Option<bool>,
    pub primary_key: bool,
    /// A UNIQUE column constraint.
    pub unique: bool,
    pub default: Option<Expr>,
}

/// Where the rows of an INSERT come from.
#[derive(Clone, Debug, PartialEq)]
pub enum InsertSource {
    Values(Vec<Vec<Expr>>),
    Query(Box<Query>),
}

/// A query: a SELECT or a compound of SELECTs, with its ordering and limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub body: SetExpr,
    pub order_by: Vec<OrderTerm>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SetExpr {
    Select(Box<Select>),
    SetOp {
        op: SetOp,
        /// `UNION ALL` (keep duplicates) rather than `UNION`.
        all: bool,
        left: Box<SetExpr>,
        right: Box<SetExpr>,
    },
    /// `VALUES (...), (...)` as a query.
    Values(Vec<Vec<Expr>>),
    /// A parenthesized query with its own ORDER BY / LIMIT.
    Query(Box<Query>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    Union,
    Intersect,
    Except,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub distinct: bool,
    pub projection: Vec<SelectItem>,
    /// The comma-separated items of FROM; empty without FROM.
    pub from: Vec<FromItem>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FromItem {
    Table {
        name: String,
        alias: Option<String>,
    },
    Subquery {
        query: Box<Query>,
        alias: Option<String>,
        /// Names for its first columns (`AS t (a, b)`); empty keeps the query's own.
        columns: Vec<String>,
    },
    /// A recursive common table expression (`WITH RECURSIVE r AS (base UNION [ALL]
    /// step)`): the base's rows, then the step's over the rows the round before added
    /// (read in it as [`FromItem::Working`] with the same `id`), until a round adds none.
    Recursive {
        id: usize,
        base: Box<Query>,
        step: Box<Query>,
        /// UNION ALL: rows are not checked against those already produced.
        all: bool,
        alias: String,
        /// Names for its first columns, as the WITH clause gives them (the step reads
        /// the previous round's rows by these); empty keeps the base's own.
        columns: Vec<String>,
        /// Names the reference gives its first columns (`FROM r AS x (a, b)`).
        renamed: Vec<String>,
    },
    /// Inside the step of recursive common table expression `id`: the rows its previous
    /// round added.
    Working {
        id: usize,
        alias: String,
    },
    Join {
        left: Box<FromItem>,
        right: Box<FromItem>,
        kind: JoinKind,
        constraint: JoinConstraint,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    /// Planned as a LEFT JOIN with its sides swapped: never in a planned node.
    Right,
    /// Keeps unmatched rows of both sides.
    Full,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JoinConstraint {
    On(Expr),
    Using(Vec<String>),
    Natural,
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard,
    /// `t.*`
    QualifiedWildcard(String),
    /// An expression; `label` is its column name in the result (the alias, or the text).
    Expr { expr: Expr, label: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderTerm {
    pub expr: Expr,
    pub descending: bool,
    /// NULLS FIRST / NULLS LAST; None means the default (NULLs sort as smallest).
    pub nulls_first: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// A column reference as written, resolved by the planner into [`Expr::Column`].
    Name {
        table: Option<String>,
        column: String,
    },
    /// A column of the input row, by index.
    Column(usize),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `expr [NOT] IN (list)`.
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// A function call as written; the planner resolves it into [`Expr::Call`] or
    /// [`Expr::Aggregate`].
    Function {
        name: String,
        args: Vec<Expr>,
        distinct: bool,
        /// `count(*)`.
        star: bool,
    },
    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        to: DataType,
    },
    /// `expr [NOT] LIKE pattern [ESCAPE 'c']` (ASCII case-insensitive, `%` and `_`, as
    /// in SQLite; ILIKE is the same). After the escape character, `%`, `_` or the escape
    /// character itself stands for itself.
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        escape: Option<char>,
    },
    /// A subquery as written.
    Subquery {
        kind: SubqueryKind,
        query: Box<Query>,
    },
    /// A scalar function, resolved.
    Call(Func, Vec<Expr>),
    /// An aggregate over the rows of a group; replaced by a column of the aggregation's
    /// output when the plan is built.
    Aggregate {
        func: AggFunc,
        arg: Option<Box<Expr>>,
        distinct: bool,
    },
    /// A window function call (`f(...) OVER (...)`); replaced by a column of the window
    /// node's output when the plan is built.
    Window(Box<WindowCall>),
    /// A column of an enclosing query's row (in a correlated subquery): `depth` 1 is the
    /// query just outside.
    Outer {
        depth: usize,
        index: usize,
    },
    /// A statement parameter (`$1` is `Param(0)`), given when the statement runs.
    Param(usize),
    /// A planned subquery; `operand` is the left side of `operand IN (subquery)`, an
    /// expression of the enclosing query.
    Planned {
        sub: std::sync::Arc<super::plan::SubPlan>,
        operand: Option<Box<Expr>>,
    },
}

/// What a subquery computes.
#[derive(Clone, Debug, PartialEq)]
pub enum SubqueryKind {
    /// `(SELECT x ...)`: the first row's value, or NULL without rows.
    Scalar,
    /// `[NOT] EXISTS (SELECT ...)`.
    Exists { negated: bool },
    /// `expr [NOT] IN (SELECT x ...)`.
    In { expr: Box<Expr>, negated: bool },
}

/// Scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Abs,
    Length,
    Upper,
    Lower,
    Substr,
    Round,
    Typeof,
    Coalesce,
    Ifnull,
    Nullif,
    /// `min(a, b, ...)` and `max(a, b, ...)` with several arguments.
    Least,
    Greatest,
    Trim,
    Ltrim,
    Rtrim,
    Replace,
    Instr,
}

/// `f(args) OVER (PARTITION BY ... ORDER BY ... [frame])`.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowCall {
    pub func: WindowFunc,
    pub args: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<OrderTerm>,
    pub frame: Frame,
}

/// The rows of its partition a window function's value is computed over (for
/// aggregates, first_value and last_value; the ranking functions and lag/lead ignore it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// SQL's default: the whole partition without ORDER BY, else its rows up to the
    /// current row's last peer (`RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`).
    Default,
    /// The whole partition (`RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING`).
    Partition,
    /// `ROWS BETWEEN start AND end`, counted in rows from the current one.
    Rows { start: FrameBound, end: FrameBound },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

impl std::fmt::Display for FrameBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameBound::UnboundedPreceding => write!(f, "UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            FrameBound::CurrentRow => write!(f, "CURRENT ROW"),
            FrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => write!(f, "UNBOUNDED FOLLOWING"),
        }
    }
}

/// Window functions.
#[derive(Clone, Debug, PartialEq)]
pub enum WindowFunc {
    /// As written, until the planner resolves it.
    Named {
        name: String,
        distinct: bool,
        star: bool,
    },
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    /// `nth_value(x, n)`: x at the frame's n-th row (from 1), NULL if it has fewer.
    NthValue,
    /// An aggregate over the frame; its arguments are the call's (for `group_concat(x,
    /// sep)`, both).
    Aggregate {
        func: AggFunc,
        distinct: bool,
    },
}

impl WindowFunc {
    pub fn name(&self) -> &str {
        match self {
            WindowFunc::Named { name, .. } => name,
            WindowFunc::RowNumber => "row_number",
            WindowFunc::Rank => "rank",
            WindowFunc::DenseRank => "dense_rank",
            WindowFunc::PercentRank => "percent_rank",
            WindowFunc::CumeDist => "cume_dist",
            WindowFunc::Ntile => "ntile",
            WindowFunc::Lag => "lag",
            WindowFunc::Lead => "lead",
            WindowFunc::FirstValue => "first_value",
            WindowFunc::LastValue => "last_value",
            WindowFunc::NthValue => "nth_value",
            WindowFunc::Aggregate { func, .. } => func.name(),
        }
    }
}

impl WindowCall {
    /// The expressions inside the call.
    fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.args
            .iter()
            .chain(&self.partition_by)
            .chain(self.order_by.iter().map(|t| &t.expr))
    }

    fn render(&self, names: &dyn Fn(usize) -> String) -> String {
        let list = |exprs: &mut dyn Iterator<Item = String>| exprs.collect::<Vec<_>>().join(", ");
        let star = matches!(
            self.func,
            WindowFunc::Aggregate {
                func: AggFunc::CountStar,
                ..
            } | WindowFunc::Named { star: true, .. }
        );
        let distinct = matches!(
            self.func,
            WindowFunc::Aggregate { distinct: true, .. } | WindowFunc::Named { distinct: true, .. }
        );
        let args = if star {
            "*".to_string()
        } else {
            let args = list(&mut self.args.iter().map(|e| e.render(names)));
            if distinct {
                format!("DISTINCT {args}")
            } else {
                args
            }
        };
        let mut over = Vec::new();
        if !self.partition_by.is_empty() {
            over.push(format!(
                "PARTITION BY {}",
                list(&mut self.partition_by.iter().map(|e| e.render(names)))
            ));
        }
        if !self.order_by.is_empty() {
            over.push(format!(
                "ORDER BY {}",
                list(&mut self.order_by.iter().map(|t| {
                    format!(
                        "{}{}",
                        t.expr.render(names),
                        if t.descending { " DESC" } else { "" }
                    )
                }))
            ));
        }
        match self.frame {
            Frame::Default => {}
            Frame::Partition => {
                over.push("RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING".into())
            }
            Frame::Rows { start, end } => over.push(format!("ROWS BETWEEN {start} AND {end}")),
        }
        format!("{}({args}) OVER ({})", self.func.name(), over.join(" "))
    }
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Total,
    GroupConcat,
}

impl AggFunc {
    /// The aggregate a call by this name, with this many arguments, makes.
    pub fn named(name: &str, args: usize, star: bool) -> Option<AggFunc> {
        Some(match (name, args, star) {
            ("count", 0, true) => AggFunc::CountStar,
            ("count", 1, false) => AggFunc::Count,
            ("sum", 1, false) => AggFunc::Sum,
            ("avg", 1, false) => AggFunc::Avg,
            ("min", 1, false) => AggFunc::Min,
            ("max", 1, false) => AggFunc::Max,
            ("total", 1, false) => AggFunc::Total,
            ("group_concat", 1 | 2, false) => AggFunc::GroupConcat,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            AggFunc::CountStar | AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Total => "total",
            AggFunc::GroupConcat => "group_concat",
        }
    }
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Abs => "abs",
            Func::Length => "length",
            Func::Upper => "upper",
            Func::Lower => "lower",
            Func::Substr => "substr",
            Func::Round => "round",
            Func::Typeof => "typeof",
            Func::Coalesce => "coalesce",
            Func::Ifnull => "ifnull",
            Func::Nullif => "nullif",
            Func::Least => "min",
            Func::Greatest => "max",
            Func::Trim => "trim",
            Func::Ltrim => "ltrim",
            Func::Rtrim => "rtrim",
            Func::Replace => "replace",
            Func::Instr => "instr",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Minus,
    Plus,
    /// `~`
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    And,
    Or,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    BitAnd,
    BitOr,
    ShiftLeft,
    ShiftRight,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "||",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::ShiftLeft => "<<",
            BinaryOp::ShiftRight => ">>",
        }
    }

    /// The comparison with its operands swapped (`a < b` is `b > a`), for comparisons.
    pub fn flip(self) -> Option<BinaryOp> {
        Some(match self {
            BinaryOp::Eq => BinaryOp::Eq,
            BinaryOp::NotEq => BinaryOp::NotEq,
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::LtEq => BinaryOp::GtEq,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::GtEq => BinaryOp::LtEq,
            _ => return None,
        })
    }
}

impl Expr {
    /// Whether the expression refers to no column (a constant, evaluable at plan time).
    pub fn is_constant(&self) -> bool {
        match self {
            Expr::Literal(_) => true,
            Expr::Param(_)
            | Expr::Name { .. }
            | Expr::Column(_)
            | Expr::Outer { .. }
            | Expr::Aggregate { .. }
            | Expr::Window(_)
            | Expr::Subquery { .. }
            | Expr::Planned { .. } => false,
            other => other.children().into_iter().all(Expr::is_constant),
        }
    }

    /// The expressions directly inside this one (not looking into subqueries).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_)
            | Expr::Name { .. }
            | Expr::Column(_)
            | Expr::Param(_)
            | Expr::Outer { .. } => Vec::new(),
            Expr::Planned { operand, .. } => operand.iter().map(|e| &**e).collect(),
            Expr::Unary(_, e) | Expr::IsNull { expr: e, .. } | Expr::Cast { expr: e, .. } => {
                vec![e]
            }
            Expr::Binary(_, l, r) => vec![l, r],
            Expr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Expr::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            Expr::Function { args, .. } | Expr::Call(_, args) => args.iter().collect(),
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                let mut out: Vec<&Expr> = operand.iter().map(|e| &**e).collect();
                for (when, then) in branches {
                    out.push(when);
                    out.push(then);
                }
                out.extend(otherwise.iter().map(|e| &**e));
                out
            }
            Expr::Like { expr, pattern, .. } => vec![expr, pattern],
            Expr::Subquery { kind, .. } => match kind {
                SubqueryKind::In { expr, .. } => vec![expr],
                _ => Vec::new(),
            },
            Expr::Aggregate { arg, .. } => arg.iter().map(|e| &**e).collect(),
            Expr::Window(call) => call.exprs().collect(),
        }
    }

    /// Rebuilds the expression with `f` applied to each direct child.
    pub fn map_children<E>(self, f: &mut dyn FnMut(Expr) -> Result<Expr, E>) -> Result<Expr, E> {
        let boxed = |e: Box<Expr>, f: &mut dyn FnMut(Expr) -> Result<Expr, E>| f(*e).map(Box::new);
        Ok(match self {
            e @ (Expr::Literal(_)
            | Expr::Name { .. }
            | Expr::Column(_)
            | Expr::Param(_)
            | Expr::Outer { .. }) => e,
            Expr::Planned { sub, operand } => Expr::Planned {
                sub,
                operand: operand.map(|e| boxed(e, f)).transpose()?,
            },
            Expr::Unary(op, e) => Expr::Unary(op, boxed(e, f)?),
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: boxed(expr, f)?,
                negated,
            },
            Expr::Cast { expr, to } => Expr::Cast {
                expr: boxed(expr, f)?,
                to,
            },
            Expr::Binary(op, l, r) => Expr::Binary(op, boxed(l, f)?, boxed(r, f)?),
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: boxed(expr, f)?,
                list: list.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
                negated,
            },
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Expr::Between {
                expr: boxed(expr, f)?,
                low: boxed(low, f)?,
                high: boxed(high, f)?,
                negated,
            },
            Expr::Function {
                name,
                args,
                distinct,
                star,
            } => Expr::Function {
                name,
                args: args.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
                distinct,
                star,
            },
            Expr::Call(func, args) => Expr::Call(
                func,
                args.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
            ),
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => Expr::Case {
                operand: operand.map(|e| boxed(e, f)).transpose()?,
                branches: branches
                    .into_iter()
                    .map(|(w, t)| Ok((f(w)?, f(t)?)))
                    .collect::<Result<_, E>>()?,
                otherwise: otherwise.map(|e| boxed(e, f)).transpose()?,
            },
            Expr::Like {
                expr,
                pattern,
                negated,
                escape,
            } => Expr::Like {
                expr: boxed(expr, f)?,
                pattern: boxed(pattern, f)?,
                negated,
                escape,
            },
            Expr::Subquery { kind, query } => Expr::Subquery {
                kind: match kind {
                    SubqueryKind::In { expr, negated } => SubqueryKind::In {
                        expr: boxed(expr, f)?,
                        negated,
                    },
                    other => other,
                },
                query,
            },
            Expr::Aggregate {
                func,
                arg,
                distinct,
            } => Expr::Aggregate {
                func,
                arg: arg.map(|e| boxed(e, f)).transpose()?,
                distinct,
            },
            Expr::Window(call) => {
                let WindowCall {
                    func,
                    args,
                    partition_by,
                    order_by,
                    frame,
                } = *call;
                Expr::Window(Box::new(WindowCall {
                    func,
                    args: args.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
                    partition_by: partition_by
                        .into_iter()
                        .map(&mut *f)
                        .collect::<Result<_, E>>()?,
                    order_by: order_by
                        .into_iter()
                        .map(|t| {
                            Ok(OrderTerm {
                                expr: f(t.expr)?,
                                ..t
                            })
                        })
                        .collect::<Result<_, E>>()?,
                    frame,
                }))
            }
        })
    }

    /// Whether `pred` holds for this expression or any inside it (not looking into
    /// subqueries).
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        pred(self) || self.children().into_iter().any(|c| c.any(pred))
    }

    /// Splits a predicate into its AND-ed parts.
    pub fn into_conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::Binary(BinaryOp::And, l, r) => {
                let mut parts = l.into_conjuncts();
                parts.extend(r.into_conjuncts());
                parts
            }
            other => vec![other],
        }
    }

    /// Joins predicates with AND; None for an empty list.
    pub fn and_all(parts: Vec<Expr>) -> Option<Expr> {
        parts
            .into_iter()
            .reduce(|l, r| Expr::Binary(BinaryOp::And, Box::new(l), Box::new(r)))
    }

    /// Renders the expression as SQL, naming columns through `names` (for EXPLAIN).
    pub fn render(&self, names: &dyn Fn(usize) -> String) -> String {
        match self {
            Expr::Literal(v) => v.render(),
            Expr::Name {
                table: Some(t),
                column,
            } => format!("{t}.{column}"),
            Expr::Name {
                table: None,
                column,
            } => column.clone(),
            Expr::Column(i) => names(*i),
            Expr::Unary(UnaryOp::Not, e) => format!("NOT {}", e.render(names)),
            Expr::Unary(UnaryOp::Minus, e) => format!("-{}", e.render(names)),
            Expr::Unary(UnaryOp::Plus, e) => format!("+{}", e.render(names)),
            Expr::Unary(UnaryOp::BitNot, e) => format!("~{}", e.render(names)),
            Expr::Binary(op, l, r) => {
                let side = |e: &Expr| match e {
                    Expr::Binary(..) => format!("({})", e.render(names)),
                    _ => e.render(names),
                };
                format!("{} {} {}", side(l), op.symbol(), side(r))
            }
            Expr::IsNull { expr, negated } => format!(
                "{} IS {}NULL",
                expr.render(names),
                if *negated { "NOT " } else { "" }
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list.iter().map(|e| e.render(names)).collect();
                format!(
                    "{} {}IN ({})",
                    expr.render(names),
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => format!(
                "{} {}BETWEEN {} AND {}",
                expr.render(names),
                if *negated { "NOT " } else { "" },
                low.render(names),
                high.render(names)
            ),
            Expr::Function { name, args, .. } => {
                let args: Vec<String> = args.iter().map(|e| e.render(names)).collect();
                format!("{name}({})", args.join(", "))
            }
            Expr::Call(func, args) => {
                let args: Vec<String> = args.iter().map(|e| e.render(names)).collect();
                format!("{}({})", func.name(), args.join(", "))
            }
            Expr::Aggregate {
                func,
                arg,
                distinct,
            } => match arg {
                None => format!("{}(*)", func.name()),
                Some(arg) => format!(
                    "{}({}{})",
                    func.name(),
                    if *distinct { "DISTINCT " } else { "" },
                    arg.render(names)
                ),
            },
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                let mut out = String::from("CASE");
                if let Some(operand) = operand {
                    out.push_str(&format!(" {}", operand.render(names)));
                }
                for (when, then) in branches {
                    out.push_str(&format!(
                        " WHEN {} THEN {}",
                        when.render(names),
                        then.render(names)
                    ));
                }
                if let Some(otherwise) = otherwise {
                    out.push_str(&format!(" ELSE {}", otherwise.render(names)));
                }
                out.push_str(" END");
                out
            }
            Expr::Cast { expr, to } => format!("CAST({} AS {to})", expr.render(names)),
            Expr::Like {
                expr,
                pattern,
                negated,
                escape,
            } => format!(
                "{} {}LIKE {}{}",
                expr.render(names),
                if *negated { "NOT " } else { "" },
                pattern.render(names),
                escape.map_or(String::new(), |c| format!(" ESCAPE '{c}'"))
            ),
            Expr::Subquery { .. } => "(subquery)".to_string(),
            Expr::Planned { operand: None, .. } => "(subquery)".to_string(),
            Expr::Planned {
                operand: Some(e), ..
            } => format!("{} IN (subquery)", e.render(names)),
            Expr::Outer { depth, index } => format!("outer{depth}.#{index}"),
            Expr::Param(i) => format!("${}", i + 1),
            Expr::Window(call) => call.render(names),
        }
    }
}
