//! Encoding of row values and catalog entries.
//!
//! A row is `varint(schema version) varint(column count)` followed by each value as a tag
//! byte and its payload. A row written before `ALTER TABLE ... ADD COLUMN` simply has
//! fewer values; readers fill the missing ones with the column defaults.

use crate::error::{Error, Result};
use crate::value::{Value, ValueRef};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INTEGER: u8 = 3;
const REAL: u8 = 4;
const TEXT: u8 = 5;
const BLOB: u8 = 6;

/// Appends primitives to a byte buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(NULL),
            Value::Boolean(false) => self.u8(FALSE),
            Value::Boolean(true) => self.u8(TRUE),
            Value::Integer(i) => {
                self.u8(INTEGER);
                self.buf.extend_from_slice(&i.to_le_bytes());
            }
            Value::Real(r) => {
                self.u8(REAL);
                self.buf.extend_from_slice(&r.to_le_bytes());
            }
            Value::Text(s) => {
                self.u8(TEXT);
                self.str(s);
            }
            Value::Blob(b) => {
                self.u8(BLOB);
                self.bytes(b);
            }
        }
    }
}

/// Reads primitives from a byte slice; every read fails cleanly on truncated input.
pub struct Reader<'a> {
    pub input: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Reader { input }
    }

    fn truncated() -> Error {
        Error::Corrupt("truncated value".into())
    }

    #[inline]
    pub fn u8(&mut self) -> Result<u8> {
        let (&b, rest) = self.input.split_first().ok_or_else(Self::truncated)?;
        self.input = rest;
        Ok(b)
    }

    #[inline]
    pub fn varint(&mut self) -> Result<u64> {
        // Most varints here (versions, counts, lengths of short values) are one byte.
        if let Some((&b, rest)) = self.input.split_first()
            && b < 0x80
        {
            self.input = rest;
            return Ok(u64::from(b));
        }
        self.varint_long()
    }

    fn varint_long(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::Corrupt("varint too long".into()))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.input.len() < n {
            return Err(Self::truncated());
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| Self::truncated())?;
        self.take(len)
    }

    #[inline]
    pub fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| Error::Corrupt("stored text is not UTF-8".into()))
    }

    pub fn string(&mut self) -> Result<String> {
        self.str().map(str::to_string)
    }

    pub fn value(&mut self) -> Result<Value> {
        self.value_ref().map(ValueRef::to_value)
    }

    /// The next value, borrowed from the input.
    #[inline]
    pub fn value_ref(&mut self) -> Result<ValueRef<'a>> {
        Ok(match self.u8()? {
            NULL => ValueRef::Null,
            FALSE => ValueRef::Boolean(false),
            TRUE => ValueRef::Boolean(true),
            INTEGER => ValueRef::Integer(i64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            REAL => ValueRef::Real(f64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            TEXT => ValueRef::Text(self.str()?),
            BLOB => ValueRef::Blob(self.bytes()?),
            tag => return Err(Error::Corrupt(format!("unknown value tag {tag}"))),
        })
    }
}

/// Encodes a row written under schema `version`.
pub fn encode_row(version: u32, values: &[Value]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16 + values.len() * 9);
    encode_row_into(version, values, &mut buf);
    buf
}

/// Appends the encoding of a row (as [`encode_row`] makes it) to `out`: many rows can
/// share one buffer.
pub fn encode_row_into(version: u32, values: &[Value], out: &mut Vec<u8>) {
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    w.varint(u64::from(version));
    w.varint(values.len() as u64);
    for v in values {
        w.value(v);
    }
    *out = w.buf;
}

/// Decodes a row into its stored values (possibly fewer than the table has columns now).
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>> {
    let (mut r, count) = row_reader(bytes)?;
    (0..count).map(|_| r.value()).collect()
}

/// Decodes a row into values borrowed from `bytes`, appended to `out`.
pub fn decode_row_refs<'a>(bytes: &'a [u8], out: &mut Vec<ValueRef<'a>>) -> Result<()> {
    let (mut r, count) = row_reader(bytes)?;
    out.reserve(count as usize);
    for _ in 0..count {
        out.push(r.value_ref()?);
    }
    Ok(())
}

/// Decodes a row into values borrowed from `bytes`, into `out` from its start; returns
/// how many, or None when the row holds more values than `out` has room for.
pub fn decode_row_into<'a>(bytes: &'a [u8], out: &mut [ValueRef<'a>]) -> Result<Option<usize>> {
    let (mut r, count) = row_reader(bytes)?;
    let Some(slots) = out.get_mut(..count as usize) else {
        return Ok(None);
    };
    for slot in slots {
        *slot = r.value_ref()?;
    }
    Ok(Some(count as usize))
}

/// A reader past a row's header, and the number of values the row holds.
fn row_reader(bytes: &[u8]) -> Result<(Reader<'_>, u64)> {
    let mut r = Reader::new(bytes);
    let _version = r.varint()?;
    let count = r.varint()?;
    if count > bytes.len() as u64 {
        return Err(Error::Corrupt(
            "row claims more values than it has bytes".into(),
        ));
    }
    Ok((r, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rows_round_trip(ints in proptest::collection::vec(any::<i64>(), 0..4),
                           text in ".{0,200}", blob in proptest::collection::vec(any::<u8>(), 0..300),
                           real in any::<f64>().prop_filter("no NaN", |r| !r.is_nan())) {
            let mut values: Vec<Value> = ints.into_iter().map(Value::Integer).collect();
            values.extend([Value::Null, Value::Boolean(true), Value::Text(text),
                           Value::Blob(blob), Value::Real(real)]);
            let encoded = encode_row(7, &values);
            let decoded = decode_row(&encoded).unwrap();
            prop_assert_eq!(&decoded, &values);
            let mut refs = Vec::new();
            decode_row_refs(&encoded, &mut refs).unwrap();
            let borrowed: Vec<ValueRef> = values.iter().map(ValueRef::from).collect();
            prop_assert_eq!(refs, borrowed);
        }

        #[test]
        fn rows_share_a_buffer(first in proptest::collection::vec(any::<i64>(), 0..4),
                               text in ".{0,20}") {
            let a: Vec<Value> = first.into_iter().map(Value::Integer).collect();
            let b = vec![Value::Text(text), Value::Null];
            let mut shared = Vec::new();
            encode_row_into(3, &a, &mut shared);
            let end = shared.len();
            encode_row_into(3, &b, &mut shared);
            let alone = encode_row(3, &a);
            prop_assert_eq!(&shared[..end], alone.as_slice());
            prop_assert_eq!(decode_row(&shared[end..]).unwrap(), b);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_row(&bytes);
            let _ = decode_row_refs(&bytes, &mut Vec::new());
        }
    }
}
