//! Scalar functions, with SQLite's semantics: a NULL argument gives NULL (except where
//! noted), numbers given to text functions are used as their text.

use super::ast::Func;
use super::cursor::text_of;
use crate::error::{Error, Result};
use crate::value::Value;

/// Applies a scalar function to evaluated arguments (COALESCE and IFNULL are evaluated
/// lazily by the caller).
pub fn apply(func: Func, args: Vec<Value>) -> Result<Value> {
    if let Func::Least | Func::Greatest = func {
        return Ok(min_max(func == Func::Greatest, args));
    }
    let given = args.len();
    let mut args = args.into_iter();
    let mut next = || args.next().unwrap_or(Value::Null);
    Ok(match func {
        Func::Coalesce | Func::Ifnull => unreachable!("evaluated by the caller"),
        Func::Nullif => {
            let (a, b) = (next(), next());
            if a.sql_cmp(&b) == Some(std::cmp::Ordering::Equal) {
                Value::Null
            } else {
                a
            }
        }
        Func::Typeof => Value::Text(
            match next() {
                Value::Null => "null",
                Value::Integer(_) | Value::Boolean(_) => "integer",
                Value::Real(_) => "real",
                Value::Text(_) => "text",
                Value::Blob(_) => "blob",
            }
            .into(),
        ),
        Func::Least | Func::Greatest => unreachable!("handled above"),
        Func::Abs => match next() {
            Value::Null => Value::Null,
            Value::Integer(i) => Value::Integer(i.checked_abs().ok_or(Error::Overflow)?),
            Value::Boolean(b) => Value::Integer(i64::from(b)),
            Value::Real(r) => Value::Real(r.abs()),
            other => return Err(not_a_number("abs", &other)),
        },
        Func::Length => match next() {
            Value::Null => Value::Null,
            Value::Blob(b) => Value::Integer(b.len() as i64),
            other => Value::Integer(text_of(&other).chars().count() as i64),
        },
        Func::Upper => map_text(next(), |s| s.to_uppercase()),
        Func::Lower => map_text(next(), |s| s.to_lowercase()),
        Func::Substr => {
            let (text, start) = (next(), next());
            let len = (given == 3).then(&mut next);
            substr(text, start, len)?
        }
        Func::Round => {
            let x = next();
            let digits = if given == 2 {
                next()
            } else {
                Value::Integer(0)
            };
            if digits.is_null() {
                return Ok(Value::Null);
            }
            round(x, digits)?
        }
        Func::Trim | Func::Ltrim | Func::Rtrim => {
            let (text, chars) = (next(), next());
            if text.is_null() {
                return Ok(Value::Null);
            }
            let set: Vec<char> = match &chars {
                Value::Null => vec![' '],
                other => text_of(other).chars().collect(),
            };
            let s = text_of(&text);
            let trimmed = match func {
                Func::Trim => s.trim_matches(|c| set.contains(&c)),
                Func::Ltrim => s.trim_start_matches(|c| set.contains(&c)),
                _ => s.trim_end_matches(|c| set.contains(&c)),
            };
            Value::Text(trimmed.to_string())
        }
        Func::Replace => {
            let (text, from, to) = (next(), next(), next());
            if text.is_null() || from.is_null() || to.is_null() {
                return Ok(Value::Null);
            }
            let (text, from, to) = (text_of(&text), text_of(&from), text_of(&to));
            if from.is_empty() {
                Value::Text(text)
            } else {
                Value::Text(text.replace(&from, &to))
            }
        }
        Func::Instr => {
            let (hay, needle) = (next(), next());
            if hay.is_null() || needle.is_null() {
                return Ok(Value::Null);
            }
            let (hay, needle) = (text_of(&hay), text_of(&needle));
            Value::Integer(match hay.find(&needle) {
                Some(byte) => hay[..byte].chars().count() as i64 + 1,
                None => 0,
            })
        }
    })
}

/// min(a, b, ...) / max(a, b, ...): NULL if any argument is NULL.
pub fn min_max(greatest: bool, args: Vec<Value>) -> Value {
    let mut best: Option<Value> = None;
    for v in args {
        if v.is_null() {
            return Value::Null;
        }
        let better = match &best {
            None => true,
            Some(b) => {
                let o = v.total_cmp(b);
                if greatest {
                    o == std::cmp::Ordering::Greater
                } else {
                    o == std::cmp::Ordering::Less
                }
            }
        };
        if better {
            best = Some(v);
        }
    }
    best.unwrap_or(Value::Null)
}

fn not_a_number(func: &str, v: &Value) -> Error {
    Error::TypeMismatch(format!(
        "{func}() of {} {} (a number is needed)",
        v.type_name(),
        v.render()
    ))
}

fn map_text(v: Value, f: impl Fn(&str) -> String) -> Value {
    match v {
        Value::Null => Value::Null,
        other => Value::Text(f(&text_of(&other))),
    }
}

fn integer_arg(func: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Boolean(b) => Ok(i64::from(*b)),
        Value::Real(r) => Ok(*r as i64),
        other => Err(not_a_number(func, other)),
    }
}

/// substr(x, start[, length]) as SQLite computes it: characters counted from 1, a
/// negative start counts from the end, a negative length takes characters before start.
fn substr(text: Value, start: Value, length: Option<Value>) -> Result<Value> {
    if text.is_null() || start.is_null() || length.as_ref().is_some_and(Value::is_null) {
        return Ok(Value::Null);
    }
    let chars: Vec<char> = text_of(&text).chars().collect();
    let n = chars.len() as i64;
    let mut start = integer_arg("substr", &start)?;
    let mut len = match &length {
        Some(l) => integer_arg("substr", l)?,
        None => i64::MAX / 2,
    };
    if start < 0 {
        start += n + 1;
        if start < 1 {
            len += start - 1;
            start = 1;
        }
    } else if start == 0 {
        start = 1;
        len -= 1;
    }
    if len < 0 {
        // Characters before start.
        let end = start - 1;
        let begin = (end + len).max(0);
        let (begin, end) = (begin.clamp(0, n) as usize, end.clamp(0, n) as usize);
        return Ok(Value::Text(chars[begin..end].iter().collect()));
    }
    let begin = (start - 1).clamp(0, n) as usize;
    let end = (start - 1).saturating_add(len).clamp(0, n) as usize;
    Ok(Value::Text(chars[begin..end.max(begin)].iter().collect()))
}

/// round(x[, digits]): half away from zero, always a REAL.
fn round(x: Value, digits: Value) -> Result<Value> {
    let x = match x {
        Value::Null => return Ok(Value::Null),
        Value::Integer(i) => i as f64,
        Value::Boolean(b) => f64::from(u8::from(b)),
        Value::Real(r) => r,
        other => return Err(not_a_number("round", &other)),
    };
    let digits = match digits {
        Value::Null => 0,
        other => integer_arg("round", &other)?.clamp(0, 30),
    };
    let scale = 10f64.powi(digits as i32);
    let scaled = x * scale;
    if !scaled.is_finite() || scaled.abs() >= 4.5e15 {
        return Ok(Value::Real(x));
    }
    Ok(Value::Real(
        (scaled.abs() + 0.5).floor().copysign(x) / scale,
    ))
}
