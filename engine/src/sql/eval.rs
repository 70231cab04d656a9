//! Expression evaluation with SQL's three-valued logic and SQLite's arithmetic rules:
//! integer arithmetic is exact and overflow is an error; integer division truncates;
//! division or modulo by zero gives NULL; any NULL operand gives NULL.

use std::cmp::Ordering;

use super::ast::{BinaryOp, Expr, UnaryOp};
use crate::error::{Error, Result};
use crate::value::Value;

impl Expr {
    /// Evaluates the expression against a row of the input.
    ///
    /// Every form but the simplest is evaluated in a function of its own: in debug
    /// builds a function's frame holds the temporaries of all its arms, and recursion
    /// through deep expressions multiplies the frame of `eval`.
    pub fn eval(&self, row: &[Value]) -> Result<Value> {
        match self {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Column(i) => column(row, *i),
            Expr::Name { column, .. } => Err(Error::NoSuchColumn(format!(
                "column \"{column}\" cannot be used here"
            ))),
            Expr::Unary(op, e) => unary(*op, e.eval(row)?),
            Expr::Binary(BinaryOp::And, l, r) => and(l, r, row),
            Expr::Binary(BinaryOp::Or, l, r) => or(l, r, row),
            Expr::Binary(op, l, r) => binary_exprs(*op, l, r, row),
            Expr::IsNull { expr, negated } => is_null(expr, *negated, row),
            Expr::InList {
                expr,
                list,
                negated,
            } => in_list(expr, list, *negated, row),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => between(expr, low, high, *negated, row),
        }
    }

    /// Evaluates a predicate: true only when the expression is true (not false, not NULL).
    pub fn matches(&self, row: &[Value]) -> Result<bool> {
        Ok(self.eval(row)?.truth()? == Some(true))
    }
}

#[inline(never)]
fn column(row: &[Value], i: usize) -> Result<Value> {
    row.get(i)
        .cloned()
        .ok_or_else(|| Error::Corrupt(format!("row has no column {i}, it has {}", row.len())))
}

#[inline(never)]
fn and(l: &Expr, r: &Expr, row: &[Value]) -> Result<Value> {
    let left = l.eval(row)?.truth()?;
    if left == Some(false) {
        return Ok(Value::Boolean(false));
    }
    Ok(match (left, r.eval(row)?.truth()?) {
        (_, Some(false)) => Value::Boolean(false),
        (Some(true), Some(true)) => Value::Boolean(true),
        _ => Value::Null,
    })
}

#[inline(never)]
fn or(l: &Expr, r: &Expr, row: &[Value]) -> Result<Value> {
    let left = l.eval(row)?.truth()?;
    if left == Some(true) {
        return Ok(Value::Boolean(true));
    }
    Ok(match (left, r.eval(row)?.truth()?) {
        (_, Some(true)) => Value::Boolean(true),
        (Some(false), Some(false)) => Value::Boolean(false),
        _ => Value::Null,
    })
}

#[inline(never)]
fn binary_exprs(op: BinaryOp, l: &Expr, r: &Expr, row: &[Value]) -> Result<Value> {
    let left = l.eval(row)?;
    binary(op, left, r.eval(row)?)
}

#[inline(never)]
fn is_null(expr: &Expr, negated: bool, row: &[Value]) -> Result<Value> {
    Ok(Value::Boolean(expr.eval(row)?.is_null() != negated))
}

#[inline(never)]
fn in_list(expr: &Expr, list: &[Expr], negated: bool, row: &[Value]) -> Result<Value> {
    let value = expr.eval(row)?;
    if value.is_null() {
        return Ok(Value::Null);
    }
    // True on a match; otherwise NULL if any item was NULL, else false.
    let mut saw_null = false;
    for item in list {
        let item = item.eval(row)?;
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
fn between(expr: &Expr, low: &Expr, high: &Expr, negated: bool, row: &[Value]) -> Result<Value> {
    let value = expr.eval(row)?;
    let above = binary(BinaryOp::GtEq, value.clone(), low.eval(row)?)?.truth()?;
    let below = binary(BinaryOp::LtEq, value, high.eval(row)?)?.truth()?;
    Ok(match (above, below) {
        (Some(false), _) | (_, Some(false)) => Value::Boolean(negated),
        (Some(true), Some(true)) => Value::Boolean(!negated),
        _ => Value::Null,
    })
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
        (op, v) => {
            return Err(Error::TypeMismatch(format!(
                "cannot apply unary {} to {} {}",
                if op == UnaryOp::Minus { "-" } else { "+" },
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
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            arithmetic(op, &l, &r)
        }
        BinaryOp::And | BinaryOp::Or => unreachable!("evaluated with short-circuit"),
    }
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
        Expr::Binary(op, lit(l), lit(r)).eval(&[])
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
            Expr::Unary(UnaryOp::Not, lit(Null)).eval(&[]).unwrap(),
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
                .eval(&[])
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
