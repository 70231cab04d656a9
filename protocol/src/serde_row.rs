//! Rows into structs through serde: `row.deserialize::<T>()` reads the row as a map from
//! column names to values, so the struct's field names pick the columns.

use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use crate::error::Error;
use crate::row::{Row, Value};

impl Row {
    /// The row as a `T` whose fields are named like the columns (an `Option` field takes
    /// NULL; a missing column is an error unless the field has a serde default).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(RowDeserializer { row: self, next: 0 }).map_err(|e: DeError| {
            Error::Conversion {
                column: e.column,
                expected: "the struct's field type",
                found: e.message,
            }
        })
    }
}

#[derive(Debug)]
struct DeError {
    column: String,
    message: String,
}

impl std::fmt::Display for DeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DeError {
            column: String::from("(row)"),
            message: msg.to_string(),
        }
    }
}

struct RowDeserializer<'a> {
    row: &'a Row,
    next: usize,
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for RowDeserializer<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.row.columns().get(self.next) {
            None => Ok(None),
            Some(column) => seed
                .deserialize(column.name.clone().into_deserializer())
                .map(Some),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let i = self.next;
        self.next += 1;
        let column = self.row.columns()[i].name.clone();
        seed.deserialize(ValueDeserializer(&self.row.values()[i]))
            .map_err(|mut e| {
                e.column = column;
                e
            })
    }
}

struct ValueDeserializer<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Real(r) => visitor.visit_f64(*r),
            Value::Text(s) => visitor.visit_string(s.clone()),
            Value::Blob(b) => visitor.visit_byte_buf(b.clone()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Integer(i) => visitor.visit_bool(*i != 0),
            _ => self.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
