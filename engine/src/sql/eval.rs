//! Expression evaluation with SQL's three-valued logic and SQLite's arithmetic rules:
//! integer arithmetic is exact and overflow is an error; integer division truncates;
//! division or modulo by zero gives NULL; any NULL operand gives NULL.

use std::cmp::Ordering;

use super::ast::{BinaryOp, Expr, Func, UnaryOp};
use super::cursor::{self, Ctx};
use super::functions;
use crate::error::{Error, Result};
use crate::value::Value;

impl Expr {
    /// Evaluates the expression against a row of the input.
    ///
    /// Every form but the simplest is evaluated in a function of its own: in debug
    /// builds a function's frame holds the temporaries of all its arms, and recursion
    /// through deep expressions multiplies the frame of `eval`.
    pub fn eval(&self, row: &[Value], ctx: &mut Ctx) -> Result<Value> {
        match self {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Column(i) => column(row, *i),
            Expr::Unary(op, e) => unary(*op, e.eval(row, ctx)?),
            Expr::Binary(BinaryOp::And, l, r) => and(l, r, row, ctx),
            Expr::Binary(BinaryOp::Or, l, r) => or(l, r, row, ctx),
            Expr::Binary(op, l, r) => binary_exprs(*op, l, r, row, ctx),
            other => other.eval_other(row, ctx),
        }
    }

    #[inline(never)]
    fn eval_other(&self, row: &[Value], ctx: &mut Ctx) -> Result<Value> {
        match self {
            Expr::IsNull { expr, negated } => is_null(expr, *negated, row, ctx),
            Expr::InList {
                expr,
                list,
                negated,
            } => in_list(expr, list, *negated, row, ctx),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => between(expr, low, high, *negated, row, ctx),
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => case(operand.as_deref(), branches, otherwise.as_deref(), row, ctx),
            Expr::Cast { expr, to } => cursor::cast(expr.eval(row, ctx)?, *to),
            Expr::Like {
                expr,
                pattern,
                negated,
                escape,
            } => like(expr, pattern, *negated, *escape, row, ctx),
            Expr::Call(func, args) => call(*func, args, row, ctx),
            Expr::Outer { depth, index } => {
                let outer = ctx
                    .outer
                    .len()
                    .checked_sub(*depth)
                    .and_then(|i| ctx.outer.get(i))
                    .ok_or_else(|| Error::Corrupt("outer row missing".into()))?;
                column(outer, *index)
            }
            Expr::Param(i) => ctx.params.get(*i).cloned().ok_or_else(|| {
                Error::InvalidValue(format!(
                    "no value given for parameter ${} ({} given)",
                    i + 1,
                    ctx.params.len()
                ))
            }),
            Expr::Planned { sub, operand } => {
                cursor::eval_subquery(sub, operand.as_deref(), row, ctx)
            }
            Expr::Name { column, .. } => Err(Error::NoSuchColumn(format!(
                "column \"{column}\" cannot be used here"
            ))),
            Expr::Aggregate { func, .. } => Err(Error::InvalidDefinition(format!(
                "aggregate function {}() cannot be used here",
                func.name()
            ))),
            Expr::Window(call) => Err(Error::InvalidDefinition(format!(
                "window function {}() cannot be used here",
                call.func.name()
            ))),
            Expr::Function { name, .. } => {
                Err(Error::Unsupported(format!("the function {name} here")))
            }
            Expr::Subquery { .. } => Err(Error::Unsupported("a subquery here".into())),
            Expr::Literal(_) | Expr::Column(_) | Expr::Unary(..) | Expr::Binary(..) => {
                self.eval(row, ctx)
            }
        }
    }

    /// Evaluates an expression that refers to no row and no table.
    pub fn eval_const(&self) -> Result<Value> {
        self.eval(&[], &mut Ctx::none())
    }

    /// Evaluates a predicate: true only when the expression is true (not false, not NULL).
    pub fn matches(&self, row: &[Value], ctx: &mut Ctx) -> Result<bool> {
        Ok(self.eval(row, ctx)?.truth()? == Some(true))
    }
}

#[inline(never)]
fn column(row: &[Value], i: usize) -> Result<Value> {
    row.get(i)
        .cloned()
        .ok_or_else(|| Error::Corrupt(format!("row has no column {i}, it has {}", row.len())))
}

#[inline(never)]
fn and(l: &Expr, r: &Expr, row: &[Value], ctx: &mut Ctx) -> Result<Value> {
    let left = l.eval(row, ctx)?.truth()?;
    if left == Some(false) {
        return Ok(Value::Boolean(false));
    }
    Ok(match (left, r.eval(row, ctx)?.truth()?) {
        (_, Some(false)) => Value::Boolean(false),
        (Some(true), Some(true)) => Value::Boolean(true),
        _ => Value::Null,
    })
}

#[inline(never)]
fn or(l: &Expr, r: &Expr, row: &[Value], ctx: &mut Ctx) -> Result<Value> {
    let left = l.eval(row, ctx)?.truth()?;
    if left == Some(true) {
        return Ok(Value::Boolean(true));
    }
    Ok(match (left, r.eval(row, ctx)?.truth()?) {
        (_, Some(true)) => Value::Boolean(true),
        (Some(false), Some(false)) => Value::Boolean(false),
        _ => Value::Null,
    })
}

#[inline(never)]
fn binary_exprs(op: BinaryOp, l: &Expr, r: &Expr, row: &[Value], ctx: &mut Ctx) -> Result<Value> {
    let left = l.eval(row, ctx)?;
    binary(op, left, r.eval(row, ctx)?)
}

#[inline(never)]
fn is_null(expr: &Expr, negated: bool, row: &[Value], ctx: &mut Ctx) -> Result<Value> {
    Ok(Value::Boolean(expr.eval(row, ctx)?.is_null() != negated))
}

#[inline(never)]
fn in_list(
    expr: &Expr,
    list: &[Expr],
    negated: bool,
    row: &[Value],
    ctx: &mut Ctx,
) -> Result<Value> {
    let value = expr.eval(row, ctx)?;
    if value.is_null() {
        return Ok(Value::Null);
    }
    // True on a match; otherwise NULL if any item was NULL, else false.
    let mut saw_null = false;
    for item in list {
        let item = item.eval(row, ctx)?;
        match value.sql_cmp(&item) {
            Some(Ordering::Equal) => return Ok(Value::Boolean(!negated)),
            Some(_) => {}
            None => saw_null = true,
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Boolean(negated)
    })
}

#[inline(never)]
fn between(
    expr: &Expr,
    low: &Expr,
    high: &Expr,
    negated: bool,
    row: &[Value],
    ctx: &mut Ctx,
) -> Result<Value> {
    let value = expr.eval(row, ctx)?;
    let above = binary(BinaryOp::GtEq, value.clone(), low.eval(row, ctx)?)?.truth()?;
    let below = binary(BinaryOp::LtEq, value, high.eval(row, ctx)?)?.truth()?;
    Ok(match (above, below) {
        (Some(false), _) | (_, Some(false)) => Value::Boolean(negated),
        (Some(true), Some(true)) => Value::Boolean(!negated),
        _ => Value::Null,
    })
}

#[inline(never)]
fn case(
    operand: Option<&Expr>,
    branches: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    row: &[Value],
    ctx: &mut Ctx,
) -> Result<Value> {
    let operand = operand.map(|e| e.eval(row, ctx)).transpose()?;
    for (when, then) in branches {
        let hit = match &operand {
            // CASE x WHEN v: x = v (NULL never matches).
            Some(x) => {
                let v = when.eval(row, ctx)?;
                x.sql_cmp(&v) == Some(Ordering::Equal)
            }
            None => when.matches(row, ctx)?,
        };
        if hit {
            return then.eval(row, ctx);
        }
    }
    match otherwise {
        Some(e) => e.eval(row, ctx),
        None => Ok(Value::Null),
    }
}

#[inline(never)]
fn like(
    expr: &Expr,
    pattern: &Expr,
    negated: bool,
    escape: Option<char>,
    row: &[Value],
    ctx: &mut Ctx,
) -> Result<Value> {
    let value = expr.eval(row, ctx)?;
    let pattern = pattern.eval(row, ctx)?;
    if value.is_null() || pattern.is_null() {
        return Ok(Value::Null);
    }
    let text = cursor::text_of(&value);
    let pattern = cursor::text_of(&pattern);
    let matched = match escape {
        None => like_match(pattern.as_bytes(), text.as_bytes()),
        Some(escape) => like_match_escaped(&pattern, &text, escape)?,
    };
    Ok(Value::Boolean(matched != negated))
}

/// LIKE with an escape character: the pattern is split into pieces at its wildcards
/// (`%` or `_` not after the escape character), each literal piece matched as LIKE
/// matches plain characters.
fn like_match_escaped(pattern: &str, text: &str, escape: char) -> Result<bool> {
    // Rewritten into a pattern of wildcards and literal characters, each literal one
    // kept apart (Some) so that a literal `%` or `_` is not read as a wildcard.
    let mut items: Vec<Option<char>> = Vec::new(); // None: the wildcard at that place
    let mut wild: Vec<u8> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(next) => items.push(Some(next)),
                None => {
                    return Err(Error::InvalidValue(format!(
                        "LIKE pattern {pattern:?} ends with its escape character"
                    )));
                }
            }
        } else if c == '%' || c == '_' {
            items.push(None);
            wild.push(c as u8);
        } else {
            items.push(Some(c));
        }
    }
    Ok(like_items(&items, &wild, &text.chars().collect::<Vec<_>>()))
}

/// Matches `text` against pattern items: a literal character (ASCII letters
/// case-insensitive), or a wildcard (`wild` holds `%` or `_` for each, in order).
fn like_items(items: &[Option<char>], wild: &[u8], text: &[char]) -> bool {
    let (mut p, mut t, mut w) = (0, 0, 0);
    // The last `%`: its item, the wildcard count before it, and where the text resumes.
    let mut star: Option<(usize, usize, usize)> = None;
    let literal = |a: char, b: char| a == b || a.eq_ignore_ascii_case(&b);
    while t < text.len() {
        match items.get(p) {
            Some(None) if wild[w] == b'%' => {
                star = Some((p, w, t));
                p += 1;
                w += 1;
            }
            Some(None) => {
                p += 1;
                w += 1;
                t += 1;
            }
            Some(Some(c)) if literal(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, sw, st)) => {
                    p = sp + 1;
                    w = sw + 1;
                    star = Some((sp, sw, st + 1));
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    // What is left of the pattern must be `%`s.
    items[p..].iter().all(Option::is_none) && wild[w..].iter().all(|&c| c == b'%')
}

/// SQLite's LIKE: `%` any run, `_` one character, ASCII letters case-insensitive.
fn like_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matching with backtracking to the last `%`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    let char_len = |s: &[u8], i: usize| -> usize {
        // Length of the UTF-8 character starting at i.
        match s[i] {
            b if b < 0x80 => 1,
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            _ => 2,
        }
        .min(s.len() - i)
    };
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'%' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == b'_' {
            p += 1;
            t += char_len(text, t);
        } else if p < pattern.len() && {
            let pl = char_len(pattern, p);
            let tl = char_len(text, t);
            pl == tl
                && (pattern[p..p + pl] == text[t..t + tl]
                    || (pl == 1 && pattern[p].eq_ignore_ascii_case(&text[t])))
        } {
            t += char_len(text, t);
            p += char_len(pattern, p);
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            let next = st + char_len(text, st);
            star = Some((sp, next));
            t = next;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'%')
}

#[inline(never)]
fn call(func: Func, args: &[Expr], row: &[Value], ctx: &mut Ctx) -> Result<Value> {
    // Functions that do not evaluate every argument.
    match func {
        Func::Coalesce | Func::Ifnull => {
            for arg in args {
                let v = arg.eval(row, ctx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        _ => {}
    }
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        values.push(arg.eval(row, ctx)?);
    }
    functions::apply(func, values)
}

fn unary(op: UnaryOp, v: Value) -> Result<Value> {
    Ok(match (op, v) {
        (_, Value::Null) => Value::Null,
        (UnaryOp::Not, v) => Value::Boolean(!v.truth()?.expect("NULL handled")),
        (UnaryOp::Minus, Value::Integer(i)) => {
            Value::Integer(i.checked_neg().ok_or(Error::Overflow)?)
        }
        (UnaryOp::Minus, Value::Real(r)) => Value::Real(-r),
        (UnaryOp::Plus, v @ (Value::Integer(_) | Value::Real(_))) => v,
        (UnaryOp::BitNot, Value::Integer(i)) => Value::Integer(!i),
        (UnaryOp::BitNot, Value::Real(r)) => Value::Integer(!(r as i64)),
        (UnaryOp::BitNot, Value::Boolean(b)) => Value::Integer(!i64::from(b)),
        (op, v) => {
            return Err(Error::TypeMismatch(format!(
                "cannot apply unary {} to {} {}",
                match op {
                    UnaryOp::Minus => "-",
                    UnaryOp::BitNot => "~",
                    _ => "+",
                },
                v.type_name(),
                v.render()
            )));
        }
    })
}

/// A number operand: integers (booleans count as 0 and 1) or reals.
enum Num {
    Int(i64),
    Real(f64),
}

fn number(v: &Value) -> Option<Num> {
    match v {
        Value::Integer(i) => Some(Num::Int(*i)),
        Value::Boolean(b) => Some(Num::Int(i64::from(*b))),
        Value::Real(r) => Some(Num::Real(*r)),
        _ => None,
    }
}

fn binary(op: BinaryOp, l: Value, r: Value) -> Result<Value> {
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    let compare = |wanted: fn(Ordering) -> bool| -> Result<Value> {
        Ok(Value::Boolean(wanted(l.sql_cmp(&r).expect("NULL handled"))))
    };
    match op {
        BinaryOp::Eq => compare(|o| o == Ordering::Equal),
        BinaryOp::NotEq => compare(|o| o != Ordering::Equal),
        BinaryOp::Lt => compare(|o| o == Ordering::Less),
        BinaryOp::LtEq => compare(|o| o != Ordering::Greater),
        BinaryOp::Gt => compare(|o| o == Ordering::Greater),
        BinaryOp::GtEq => compare(|o| o != Ordering::Less),
        BinaryOp::Concat => Ok(Value::Text(format!("{l}{r}"))),
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::ShiftLeft | BinaryOp::ShiftRight => {
            bitwise(op, &l, &r)
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            arithmetic(op, &l, &r)
        }
        BinaryOp::And | BinaryOp::Or => unreachable!("evaluated with short-circuit"),
    }
}

/// SQLite's bit operators on 64-bit integers (reals are truncated). A shift by 64 or
/// more gives 0 (or -1 shifting a negative number right); a negative shift shifts the
/// other way.
fn bitwise(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    let int = |v: &Value| match number(v) {
        Some(Num::Int(i)) => Ok(i),
        Some(Num::Real(r)) => Ok(r as i64),
        None => Err(Error::TypeMismatch(format!(
            "cannot apply {} to {} {}",
            op.symbol(),
            v.type_name(),
            v.render()
        ))),
    };
    let (a, b) = (int(l)?, int(r)?);
    let shift = |a: i64, by: i64, left: bool| -> i64 {
        let (by, left) = if by < 0 {
            (by.unsigned_abs(), !left)
        } else {
            (by as u64, left)
        };
        if by >= 64 {
            if left || a >= 0 { 0 } else { -1 }
        } else if left {
            ((a as u64) << by) as i64
        } else {
            a >> by
        }
    };
    Ok(Value::Integer(match op {
        BinaryOp::BitAnd => a & b,
        BinaryOp::BitOr => a | b,
        BinaryOp::ShiftLeft => shift(a, b, true),
        _ => shift(a, b, false),
    }))
}

fn arithmetic(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    let (Some(a), Some(b)) = (number(l), number(r)) else {
        return Err(Error::TypeMismatch(format!(
            "cannot apply {} to {} {} and {} {}",
            op.symbol(),
            l.type_name(),
            l.render(),
            r.type_name(),
            r.render()
        )));
    };
    Ok(match (a, b) {
        (Num::Int(a), Num::Int(b)) => {
            let result = match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                BinaryOp::Div | BinaryOp::Mod if b == 0 => return Ok(Value::Null),
                // i64::MIN / -1 overflows; SQLite reports it as a real, we as overflow.
                BinaryOp::Div => a.checked_div(b),
                BinaryOp::Mod => Some(a.wrapping_rem(b)),
                _ => unreachable!("arithmetic operator"),
            };
            Value::Integer(result.ok_or(Error::Overflow)?)
        }
        (a, b) => {
            let to_f = |n: Num| match n {
                Num::Int(i) => i as f64,
                Num::Real(r) => r,
            };
            let (a, b) = (to_f(a), to_f(b));
            let result = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div | BinaryOp::Mod if b == 0.0 => return Ok(Value::Null),
                BinaryOp::Div => a / b,
                BinaryOp::Mod => (a as i64 % b as i64) as f64,
                _ => unreachable!("arithmetic operator"),
            };
            if result.is_nan() {
                Value::Null
            } else {
                Value::Real(result)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: Value) -> Box<Expr> {
        Box::new(Expr::Literal(v))
    }

    fn bin(op: BinaryOp, l: Value, r: Value) -> Result<Value> {
        Expr::Binary(op, lit(l), lit(r)).eval_const()
    }

    #[test]
    fn three_valued_logic() {
        use Value::{Boolean as B, Null};
        assert_eq!(bin(BinaryOp::And, Null, B(false)).unwrap(), B(false));
        assert_eq!(bin(BinaryOp::And, Null, B(true)).unwrap(), Null);
        assert_eq!(bin(BinaryOp::Or, Null, B(true)).unwrap(), B(true));
        assert_eq!(bin(BinaryOp::Or, Null, B(false)).unwrap(), Null);
        assert_eq!(bin(BinaryOp::Eq, Null, Null).unwrap(), Null);
        assert_eq!(
            Expr::Unary(UnaryOp::Not, lit(Null)).eval_const().unwrap(),
            Null
        );
    }

    #[test]
    fn sqlite_arithmetic() {
        use Value::{Integer as I, Null, Real as R};
        assert_eq!(bin(BinaryOp::Div, I(7), I(2)).unwrap(), I(3));
        assert_eq!(bin(BinaryOp::Div, I(-7), I(2)).unwrap(), I(-3));
        assert_eq!(bin(BinaryOp::Div, I(7), I(0)).unwrap(), Null);
        assert_eq!(bin(BinaryOp::Mod, I(-7), I(3)).unwrap(), I(-1));
        assert_eq!(bin(BinaryOp::Div, R(7.0), I(2)).unwrap(), R(3.5));
        assert_eq!(
            bin(BinaryOp::Add, I(i64::MAX), I(1)).unwrap_err(),
            Error::Overflow
        );
        assert_eq!(
            Expr::Unary(UnaryOp::Minus, lit(I(i64::MIN)))
                .eval_const()
                .unwrap_err(),
            Error::Overflow
        );
        assert!(matches!(
            bin(BinaryOp::Add, I(1), Value::Text("a".into())),
            Err(Error::TypeMismatch(_))
        ));
    }

    #[test]
    fn comparisons_across_numeric_types() {
        assert_eq!(
            bin(BinaryOp::Eq, Value::Integer(2), Value::Real(2.0)).unwrap(),
            Value::Boolean(true)
        );
        assert_eq!(
            bin(BinaryOp::Lt, Value::Integer(2), Value::Text("1".into())).unwrap(),
            Value::Boolean(true),
            "numbers sort before text"
        );
    }
}
