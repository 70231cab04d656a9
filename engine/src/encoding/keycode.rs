//! Order-preserving ("memcomparable") encoding of values for use in keys.
//!
//! For any two values `a` and `b`, `encode(a) < encode(b)` (comparing bytes) exactly when
//! `a` sorts before `b` in the key order: NULL first, then FALSE < TRUE, then integers,
//! then reals, then text, then blobs, each by value. Within one column every value has the
//! column's type, so in practice only the per-type order matters. Encodings are
//! self-delimiting (no encoding is a prefix of another), so composite keys are plain
//! concatenations and compare column by column.
//!
//! Layout: one tag byte, then
//! - integers: 8 bytes big-endian with the sign bit flipped;
//! - reals: 8 bytes of the IEEE bits, all flipped for negatives, sign flipped otherwise
//!   (-0.0 is normalized to 0.0, NaN is refused by the SQL layer before it gets here);
//! - text and blobs: the bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00.
//!
//! A descending column stores the bitwise complement of the ascending encoding.

use crate::error::{Error, Result};
use crate::value::Value;

const TAG_NULL: u8 = 0x00;
const TAG_FALSE: u8 = 0x01;
const TAG_TRUE: u8 = 0x02;
const TAG_INTEGER: u8 = 0x03;
const TAG_REAL: u8 = 0x04;
const TAG_TEXT: u8 = 0x05;
const TAG_BLOB: u8 = 0x06;

/// Appends the ascending key encoding of `value` to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Boolean(false) => out.push(TAG_FALSE),
        Value::Boolean(true) => out.push(TAG_TRUE),
        Value::Integer(i) => {
            out.push(TAG_INTEGER);
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Real(r) => {
            out.push(TAG_REAL);
            let r = if *r == 0.0 { 0.0 } else { *r };
            let bits = r.to_bits();
            let bits = if bits >> 63 == 1 {
                !bits
            } else {
                bits ^ (1 << 63)
            };
            out.extend_from_slice(&bits.to_be_bytes());
        }
        Value::Text(s) => {
            out.push(TAG_TEXT);
            encode_bytes(s.as_bytes(), out);
        }
        Value::Blob(b) => {
            out.push(TAG_BLOB);
            encode_bytes(b, out);
        }
    }
}

/// Appends the descending key encoding of `value`: the complement of the ascending one.
pub fn encode_value_desc(value: &Value, out: &mut Vec<u8>) {
    let start = out.len();
    encode_value(value, out);
    for byte in &mut out[start..] {
        *byte = !*byte;
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Encodes a composite key (ascending columns) into a fresh buffer.
pub fn encode_key(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 9);
    for value in values {
        encode_value(value, &mut out);
    }
    out
}

/// Decodes one ascending value from the front of `input`, advancing it.
pub fn decode_value(input: &mut &[u8]) -> Result<Value> {
    let (&tag, rest) = input
        .split_first()
        .ok_or_else(|| Error::Corrupt("empty key component".into()))?;
    *input = rest;
    Ok(match tag {
        TAG_NULL => Value::Null,
        TAG_FALSE => Value::Boolean(false),
        TAG_TRUE => Value::Boolean(true),
        TAG_INTEGER => Value::Integer((take_u64(input)? ^ (1 << 63)) as i64),
        TAG_REAL => {
            let bits = take_u64(input)?;
            let bits = if bits >> 63 == 1 {
                bits ^ (1 << 63)
            } else {
                !bits
            };
            Value::Real(f64::from_bits(bits))
        }
        TAG_TEXT => Value::Text(
            String::from_utf8(decode_bytes(input)?)
                .map_err(|_| Error::Corrupt("key text is not UTF-8".into()))?,
        ),
        TAG_BLOB => Value::Blob(decode_bytes(input)?),
        other => return Err(Error::Corrupt(format!("unknown key tag {other:#04x}"))),
    })
}

/// Decodes one descending value from the front of `input`, advancing it.
pub fn decode_value_desc(input: &mut &[u8]) -> Result<Value> {
    // The escape scheme makes the component's length known only while decoding, so
    // complement the rest and decode from that copy, then advance by what was consumed.
    let inverted: Vec<u8> = input.iter().map(|b| !b).collect();
    let mut cursor = inverted.as_slice();
    let value = decode_value(&mut cursor)?;
    let consumed = inverted.len() - cursor.len();
    *input = &input[consumed..];
    Ok(value)
}

fn take_u64(input: &mut &[u8]) -> Result<u64> {
    if input.len() < 8 {
        return Err(Error::Corrupt("truncated key number".into()));
    }
    let (head, rest) = input.split_at(8);
    *input = rest;
    Ok(u64::from_be_bytes(head.try_into().expect("8 bytes")))
}

fn decode_bytes(input: &mut &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match (input.get(i), input.get(i + 1)) {
            (Some(0), Some(0)) => {
                *input = &input[i + 2..];
                return Ok(out);
            }
            (Some(0), Some(0xFF)) => {
                out.push(0);
                i += 2;
            }
            (Some(&b), _) if b != 0 => {
                out.push(b);
                i += 1;
            }
            _ => return Err(Error::Corrupt("bad escape in key bytes".into())),
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`, or None when no
/// such key exists (the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    /// The key order the encoding promises, written independently of the encoding.
    fn key_order(a: &Value, b: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Boolean(false) => 1,
                Value::Boolean(true) => 2,
                Value::Integer(_) => 3,
                Value::Real(_) => 4,
                Value::Text(_) => 5,
                Value::Blob(_) => 6,
            }
        }
        match (a, b) {
            (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
            (Value::Real(x), Value::Real(y)) => x.partial_cmp(y).expect("no NaN"),
            (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
            _ => rank(a).cmp(&rank(b)),
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::Integer),
            prop_oneof![Just(0), Just(-1), Just(1), Just(i64::MIN), Just(i64::MAX)]
                .prop_map(Value::Integer),
            any::<f64>()
                .prop_filter("no NaN", |r| !r.is_nan())
                .prop_map(|r| Value::Real(if r == 0.0 { 0.0 } else { r })),
            ".{0,8}".prop_map(Value::Text),
            "[a\\x00b]{0,4}".prop_map(Value::Text),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..6)
                .prop_map(Value::Blob),
        ]
    }

    fn lexicographic(a: &[Value], b: &[Value]) -> Ordering {
        for (x, y) in a.iter().zip(b) {
            match key_order(x, y) {
                Ordering::Equal => continue,
                other => return other,
            }
        }
        a.len().cmp(&b.len())
    }

    proptest! {
        #[test]
        fn encoding_preserves_order(a in value(), b in value()) {
            let (ea, eb) = (encode_key(std::slice::from_ref(&a)), encode_key(std::slice::from_ref(&b)));
            prop_assert_eq!(ea.cmp(&eb), key_order(&a, &b), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn descending_encoding_reverses_order(a in value(), b in value()) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            encode_value_desc(&a, &mut ea);
            encode_value_desc(&b, &mut eb);
            prop_assert_eq!(ea.cmp(&eb), key_order(&a, &b).reverse());
            let mut cursor = ea.as_slice();
            let decoded = decode_value_desc(&mut cursor).unwrap();
            prop_assert!(cursor.is_empty());
            prop_assert_eq!(key_order(&decoded, &a), Ordering::Equal);
        }

        #[test]
        fn composite_keys_compare_column_by_column(
            a in proptest::collection::vec(value(), 1..4),
            b in proptest::collection::vec(value(), 1..4),
        ) {
            prop_assume!(a.len() == b.len());
            prop_assert_eq!(encode_key(&a).cmp(&encode_key(&b)), lexicographic(&a, &b));
        }

        #[test]
        fn decoding_inverts_encoding(values in proptest::collection::vec(value(), 0..5)) {
            let encoded = encode_key(&values);
            let mut cursor = encoded.as_slice();
            let mut decoded = Vec::new();
            while !cursor.is_empty() {
                decoded.push(decode_value(&mut cursor).unwrap());
            }
            prop_assert_eq!(decoded.len(), values.len());
            for (d, v) in decoded.iter().zip(&values) {
                prop_assert_eq!(key_order(d, v), Ordering::Equal);
            }
        }

        #[test]
        fn prefix_end_bounds_every_extension(prefix in proptest::collection::vec(any::<u8>(), 1..5),
                                             suffix in proptest::collection::vec(any::<u8>(), 0..5)) {
            if let Some(end) = prefix_end(&prefix) {
                let mut key = prefix.clone();
                key.extend(&suffix);
                prop_assert!(key < end);
                prop_assert!(prefix < end);
            } else {
                prop_assert!(prefix.iter().all(|&b| b == 0xFF));
            }
        }
    }

    #[test]
    fn null_sorts_first_and_zero_signs_agree() {
        assert!(encode_key(&[Value::Null]) < encode_key(&[Value::Integer(i64::MIN)]));
        assert_eq!(
            encode_key(&[Value::Real(-0.0)]),
            encode_key(&[Value::Real(0.0)])
        );
        assert!(encode_key(&[Value::Text("a".into())]) < encode_key(&[Value::Text("a\0".into())]));
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        for bad in [
            &[0x03, 1, 2][..],
            &[0x05, b'a'],
            &[0x05, 0, 7],
            &[0x77],
            &[],
        ] {
            let mut cursor = bad;
            assert!(decode_value(&mut cursor).is_err(), "{bad:?}");
        }
    }
}
