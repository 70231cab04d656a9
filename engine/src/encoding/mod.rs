//! Byte encodings: order-preserving keys ([`keycode`]), the key spaces of the store
//! ([`keys`]) and row and catalog values ([`row`]).

pub mod keycode;
pub mod keys;
pub mod row;
