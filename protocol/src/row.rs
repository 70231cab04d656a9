//! Values, columns and rows as the driver hands them to programs.

use std::sync::Arc;

use crate::error::Error;
use crate::pb;

/// A SQL value received from (or sent to) the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Boolean(b) => format!("BOOLEAN {b}"),
            Value::Integer(i) => format!("INTEGER {i}"),
            Value::Real(r) => format!("REAL {r}"),
            Value::Text(_) => "TEXT".into(),
            Value::Blob(_) => "BLOB".into(),
        }
    }
}

impl From<pb::Value> for Value {
    fn from(v: pb::Value) -> Self {
        use pb::value::Kind;
        match v.kind {
            None => Value::Null,
            Some(Kind::Boolean(b)) => Value::Boolean(b),
            Some(Kind::Integer(i)) => Value::Integer(i),
            Some(Kind::Real(r)) => Value::Real(r),
            Some(Kind::Text(s)) => Value::Text(s),
            Some(Kind::Blob(b)) => Value::Blob(b),
        }
    }
}

impl From<Value> for pb::Value {
    fn from(v: Value) -> Self {
        use pb::value::Kind;
        pb::Value {
            kind: match v {
                Value::Null => None,
                Value::Boolean(b) => Some(Kind::Boolean(b)),
                Value::Integer(i) => Some(Kind::Integer(i)),
                Value::Real(r) => Some(Kind::Real(r)),
                Value::Text(s) => Some(Kind::Text(s)),
                Value::Blob(b) => Some(Kind::Blob(b)),
            },
        }
    }
}

/// The declared or inferred type of a result column.
pub use pb::ColumnType;

/// A result column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub column_type: ColumnType,
}

impl Column {
    /// The type as SQL names it ("INTEGER", ...), or "ANY" when the server did not know.
    pub fn type_name(&self) -> &'static str {
        match self.column_type {
            ColumnType::Unknown => "ANY",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Text => "TEXT",
            ColumnType::Blob => "BLOB",
        }
    }
}

/// A result row: values plus the shared column metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    columns: Arc<[Column]>,
    values: Vec<Value>,
}

/// Something that selects a column: an index or a name.
pub trait RowIndex {
    fn index(&self, columns: &[Column]) -> Option<usize>;
    fn describe(&self) -> String;
}

impl RowIndex for usize {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }

    fn describe(&self) -> String {
        format!("#{self}")
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == *self)
    }

    fn describe(&self) -> String {
        format!("\"{self}\"")
    }
}

impl Row {
    /// A row of `values` described by `columns` (one per value).
    pub fn new(columns: Arc<[Column]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value of a column converted to `T`: a typed error if there is no such column
    /// or the value does not convert (NULL converts only into `Option`).
    pub fn get<'a, T: FromValue<'a>>(&'a self, index: impl RowIndex) -> Result<T, Error> {
        let i = index
            .index(&self.columns)
            .ok_or_else(|| Error::NoSuchColumn(index.describe()))?;
        let value = self
            .values
            .get(i)
            .ok_or_else(|| Error::NoSuchColumn(index.describe()))?;
        T::from_value(value).ok_or_else(|| Error::Conversion {
            column: self.columns[i].name.clone(),
            expected: T::NAME,
            found: value.describe(),
        })
    }

    /// The same as [`Row::get`] (which already returns a `Result`), under the name
    /// tokio-postgres users reach for.
    pub fn try_get<'a, T: FromValue<'a>>(&'a self, index: impl RowIndex) -> Result<T, Error> {
        self.get(index)
    }
}

/// Conversion from a column value into a Rust type.
pub trait FromValue<'a>: Sized {
    /// The Rust type's name for error messages.
    const NAME: &'static str;
    /// The converted value, or None if this value does not convert.
    fn from_value(value: &'a Value) -> Option<Self>;
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl FromValue<'_> for $t {
            const NAME: &'static str = stringify!($t);
            fn from_value(value: &Value) -> Option<Self> {
                match value {
                    Value::Integer(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
from_integer!(i64, i32, i16, i8, u64, u32, u16, u8, usize);

impl FromValue<'_> for f64 {
    const NAME: &'static str = "f64";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Real(r) => Some(*r),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue<'_> for bool {
    const NAME: &'static str = "bool";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromValue<'_> for String {
    const NAME: &'static str = "String";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for &'a str {
    const NAME: &'static str = "&str";
    fn from_value(value: &'a Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl FromValue<'_> for Vec<u8> {
    const NAME: &'static str = "Vec<u8>";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<'a> FromValue<'a> for &'a [u8] {
    const NAME: &'static str = "&[u8]";
    fn from_value(value: &'a Value) -> Option<Self> {
        match value {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl FromValue<'_> for Value {
    const NAME: &'static str = "Value";
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

impl<'a, T: FromValue<'a>> FromValue<'a> for Option<T> {
    const NAME: &'static str = T::NAME;
    fn from_value(value: &'a Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        let columns: Arc<[Column]> = vec![
            Column {
                name: "id".into(),
                column_type: ColumnType::Integer,
            },
            Column {
                name: "name".into(),
                column_type: ColumnType::Text,
            },
            Column {
                name: "note".into(),
                column_type: ColumnType::Text,
            },
        ]
        .into();
        Row::new(
            columns,
            vec![Value::Integer(300), Value::Text("ann".into()), Value::Null],
        )
    }

    #[test]
    fn typed_access_by_index_and_name() {
        let row = row();
        assert_eq!(row.get::<i64>(0).unwrap(), 300);
        assert_eq!(row.get::<&str>("name").unwrap(), "ann");
        assert_eq!(row.get::<Option<String>>("note").unwrap(), None);
        assert_eq!(row.get::<Option<i64>>(0).unwrap(), Some(300));
        assert_eq!(row.get::<f64>(0).unwrap(), 300.0);
    }

    #[test]
    fn mismatches_are_typed_errors() {
        let row = row();
        let err = row.get::<u8>(0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column id: cannot convert INTEGER 300 to u8"
        );
        assert!(matches!(
            row.get::<String>("note"),
            Err(Error::Conversion { .. })
        ));
        assert!(matches!(
            row.get::<i64>("missing"),
            Err(Error::NoSuchColumn(_))
        ));
        assert!(matches!(row.get::<i64>(9), Err(Error::NoSuchColumn(_))));
        assert!(matches!(row.get::<bool>(1), Err(Error::Conversion { .. })));
    }
}
