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
    Insert {
        table: String,
        /// The listed columns, or None for "every column in table order".
        columns: Option<Vec<String>>,
        rows: Vec<Vec<Expr>>,
        on_conflict: Option<OnConflict>,
        /// RETURNING items; empty when there is no RETURNING clause.
        returning: Vec<SelectItem>,
    },
    Select(Box<Select>),
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

#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub projection: Vec<SelectItem>,
    pub from: Option<TableRef>,
    pub filter: Option<Expr>,
    pub order_by: Vec<OrderTerm>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableRef {
    pub name: String,
    pub alias: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard,
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Minus,
    Plus,
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
            Expr::Name { .. } | Expr::Column(_) => false,
            Expr::Unary(_, e) | Expr::IsNull { expr: e, .. } => e.is_constant(),
            Expr::Binary(_, l, r) => l.is_constant() && r.is_constant(),
            Expr::InList { expr, list, .. } => {
                expr.is_constant() && list.iter().all(Expr::is_constant)
            }
            Expr::Between {
                expr, low, high, ..
            } => expr.is_constant() && low.is_constant() && high.is_constant(),
        }
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
        }
    }
}
