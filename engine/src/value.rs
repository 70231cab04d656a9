//! SQL values and column types.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result, type_error};

/// The declared type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Boolean,
    Integer,
    Real,
    Text,
    Blob,
}

impl DataType {
    pub fn name(self) -> &'static str {
        match self {
            DataType::Boolean => "BOOLEAN",
            DataType::Integer => "INTEGER",
            DataType::Real => "REAL",
            DataType::Text => "TEXT",
            DataType::Blob => "BLOB",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A single SQL value.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A value borrowed from where it is stored (a row's bytes, a column default): what a
/// result streamed straight from storage hands its sink, with no copy per value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    /// An owned copy.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Boolean(b) => Value::Boolean(b),
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(s) => Value::Text(s.to_string()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => ValueRef::Null,
            Value::Boolean(b) => ValueRef::Boolean(*b),
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl Value {
    /// The value's own type, or None for NULL.
    pub fn data_type(&self) -> Option<DataType> {
        match self {
            Value::Null => None,
            Value::Boolean(_) => Some(DataType::Boolean),
            Value::Integer(_) => Some(DataType::Integer),
            Value::Real(_) => Some(DataType::Real),
            Value::Text(_) => Some(DataType::Text),
            Value::Blob(_) => Some(DataType::Blob),
        }
    }

    pub fn type_name(&self) -> &'static str {
        self.data_type().map_or("NULL", DataType::name)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The rank of the value's storage class in the total order used for sorting and keys:
    /// NULL, then booleans and numbers (compared by numeric value), then text, then blobs.
    fn class(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Boolean(_) | Value::Integer(_) | Value::Real(_) => 1,
            Value::Text(_) => 2,
            Value::Blob(_) => 3,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Boolean(b) => Some(f64::from(u8::from(*b))),
            Value::Integer(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The total order used by ORDER BY: NULL first, numbers by value, then text
    /// (bytewise, i.e. BINARY collation), then blobs.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Blob(a), Value::Blob(b)) => a.cmp(b),
            (Value::Integer(a), Value::Real(b)) => cmp_int_real(*a, *b),
            (Value::Real(a), Value::Integer(b)) => cmp_int_real(*b, *a).reverse(),
            _ => match self.class().cmp(&other.class()) {
                Ordering::Equal if self.class() == 1 => {
                    let (a, b) = (self.as_f64().unwrap_or(0.0), other.as_f64().unwrap_or(0.0));
                    // -0.0 equals 0.0, as in SQL; NaN (never stored) sorts last.
                    a.partial_cmp(&b)
                        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
                }
                ordering => ordering,
            },
        }
    }

    /// SQL comparison: None when either side is NULL (the result is unknown).
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        if self.is_null() || other.is_null() {
            return None;
        }
        Some(self.total_cmp(other))
    }

    /// Converts the value for storage in a column of type `ty`, or fails with a message
    /// naming the column. NULL passes through (NOT NULL is checked elsewhere).
    pub fn coerce_to(self, ty: DataType, column: &str) -> Result<Value> {
        let mismatch = |v: &Value| {
            type_error(format!(
                "column \"{column}\" is {ty} but the value {} is {}",
                v.render(),
                v.type_name()
            ))
        };
        Ok(match (ty, self) {
            (_, Value::Null) => Value::Null,
            (DataType::Boolean, Value::Boolean(b)) => Value::Boolean(b),
            (DataType::Boolean, Value::Integer(i @ (0 | 1))) => Value::Boolean(i == 1),
            (DataType::Integer, Value::Integer(i)) => Value::Integer(i),
            (DataType::Integer, Value::Boolean(b)) => Value::Integer(i64::from(b)),
            (DataType::Integer, Value::Real(r)) if r.fract() == 0.0 && r.abs() < 9.2e18 => {
                Value::Integer(r as i64)
            }
            (DataType::Real, Value::Real(r)) => Value::Real(r),
            (DataType::Real, Value::Integer(i)) => Value::Real(i as f64),
            (DataType::Text, Value::Text(s)) => Value::Text(s),
            (DataType::Blob, Value::Blob(b)) => Value::Blob(b),
            (DataType::Blob, Value::Text(s)) => Value::Blob(s.into_bytes()),
            (_, v) => return Err(mismatch(&v)),
        })
    }

    /// The value as SQL would write it as a literal: for messages and EXPLAIN.
    pub fn render(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Integer(i) => i.to_string(),
            Value::Real(r) => format_real(*r),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Blob(b) => {
                let hex: String = b.iter().map(|byte| format!("{byte:02X}")).collect();
                format!("X'{hex}'")
            }
        }
    }

    /// Truth value in a WHERE clause: None for NULL (unknown).
    pub fn truth(&self) -> Result<Option<bool>> {
        Ok(match self {
            Value::Null => None,
            Value::Boolean(b) => Some(*b),
            Value::Integer(i) => Some(*i != 0),
            Value::Real(r) => Some(*r != 0.0),
            Value::Text(_) | Value::Blob(_) => {
                return Err(Error::TypeMismatch(format!(
                    "{} {} used as a condition",
                    self.type_name(),
                    self.render()
                )));
            }
        })
    }
}

/// Compares an integer with a float exactly (no rounding of large integers).
fn cmp_int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater;
    }
    // 2^63, exactly representable: every i64 is below it and at or above its negation.
    let limit = -(i64::MIN as f64);
    if r >= limit {
        return Ordering::Less;
    }
    if r < -limit {
        return Ordering::Greater;
    }
    let truncated = r.trunc() as i64;
    match i.cmp(&truncated) {
        Ordering::Equal => 0.0f64.partial_cmp(&r.fract()).unwrap_or(Ordering::Equal),
        ordering => ordering,
    }
}

/// Formats a float the way SQLite prints one (`%!.15g`): 15 significant digits, trailing
/// zeros dropped, always with a decimal point, in exponent form outside 1e-4..1e15.
pub fn format_real(r: f64) -> String {
    if r == 0.0 {
        return "0.0".into();
    }
    if !r.is_finite() {
        return if r.is_nan() {
            "NaN"
        } else if r > 0.0 {
            "Inf"
        } else {
            "-Inf"
        }
        .into();
    }
    // Round to 15 significant digits first; the exponent is the rounded one.
    let scientific = format!("{r:.14e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("exponent form");
    let exponent: i32 = exponent.parse().expect("integer exponent");
    let trim = |digits: &str| -> String {
        if !digits.contains('.') {
            return format!("{digits}.0");
        }
        let digits = digits.trim_end_matches('0');
        if digits.ends_with('.') {
            format!("{digits}0")
        } else {
            digits.to_string()
        }
    };
    if !(-4..15).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        trim(&format!("{r:.*}", (14 - exponent) as usize))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.total_cmp(other) == Ordering::Equal && self.class() == other.class()
    }
}

impl fmt::Display for Value {
    /// Plain display for result sets: text without quotes, NULL as "NULL".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            other => f.write_str(&other.render()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_real_comparison_is_exact() {
        assert_eq!(cmp_int_real(1, 1.5), Ordering::Less);
        assert_eq!(cmp_int_real(2, 1.5), Ordering::Greater);
        assert_eq!(cmp_int_real(-2, -1.5), Ordering::Less);
        assert_eq!(cmp_int_real(3, 3.0), Ordering::Equal);
        assert_eq!(cmp_int_real(i64::MAX, 9.3e18), Ordering::Less);
        assert_eq!(cmp_int_real(i64::MAX, i64::MAX as f64), Ordering::Less);
    }

    #[test]
    fn coercion_names_column_and_types() {
        let err = Value::Text("x".into())
            .coerce_to(DataType::Integer, "id")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "column \"id\" is INTEGER but the value 'x' is TEXT"
        );
        assert_eq!(
            Value::Real(4.0).coerce_to(DataType::Integer, "id").unwrap(),
            Value::Integer(4)
        );
        assert!(Value::Real(4.5).coerce_to(DataType::Integer, "id").is_err());
    }

    #[test]
    fn reals_print_like_sqlite() {
        for (r, text) in [
            (1.0, "1.0"),
            (2.5, "2.5"),
            (-0.125, "-0.125"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.333333333333333"),
            (123456789012345.0, "123456789012345.0"),
            (100000000000000.0, "100000000000000.0"),
            (1e15, "1.0e+15"),
            (1e301, "1.0e+301"),
            (-2.5e-7, "-2.5e-07"),
            (0.0001, "0.0001"),
            (9.9999999999999999, "10.0"),
        ] {
            assert_eq!(format_real(r), text, "{r:?}");
        }
    }
}
