//! Prepared point selects compiled down to a key lookup.
//!
//! `SELECT a, b FROM t WHERE pk = $1` prepared once runs, every time, the same steps:
//! build the key from the parameter, get it, decode the row, take the columns. The
//! general path clones the plan, substitutes the parameters, chooses the access path
//! again and runs a cursor tree: about a quarter of a point select's time in the server.
//! [`PointRead`] keeps the steps instead. It applies only where it cannot differ from the
//! general path: every primary-key column equal to a parameter and nothing else in the
//! WHERE, plain distinct columns selected, and (checked per run) parameters of exactly
//! the key columns' types among INTEGER, TEXT and BLOB, whose key encodings are exact.
//! Anything else runs the general path.

use super::access::Access;
use super::ast::{BinaryOp, Expr};
use super::cursor::{column_moves, take_columns};
use super::plan::{Node, Plan};
use super::rows;
use crate::catalog::Table;
use crate::encoding::{keys, row};
use crate::error::Result;
use crate::storage::Store;
use crate::value::{DataType, Value, ValueRef};

use super::execute::ResultSink;

/// Values of a row decoded on the stack by [`PointRead::read`]; wider rows are decoded
/// into an allocation.
const ON_STACK: usize = 16;

#[derive(Clone, Debug)]
pub struct PointRead {
    table: Table,
    /// For each primary-key column, in key order: the parameter that gives its value.
    key_params: Vec<usize>,
    /// The selected columns, in order.
    columns: Vec<usize>,
    /// Parameters the statement takes.
    params: usize,
}

impl PointRead {
    /// The shortcut for a query plan, when it has the shape above.
    pub fn compile(plan: &Plan, params: usize) -> Option<PointRead> {
        let Plan::Query {
            node: Node::Project { source, exprs },
            ..
        } = plan
        else {
            return None;
        };
        let Node::Scan {
            table,
            access: Access::Full,
            filter: Some(filter),
            reverse: false,
        } = source.as_ref()
        else {
            return None;
        };
        if table.primary_key.is_empty()
            || table.primary_key.iter().any(|&c| {
                !matches!(
                    table.columns[c].data_type,
                    DataType::Integer | DataType::Text | DataType::Blob
                )
            })
        {
            return None;
        }
        let columns = column_moves(exprs)?;
        if columns.iter().any(|&c| c >= table.columns.len()) {
            return None;
        }
        let conjuncts = filter.clone().into_conjuncts();
        if conjuncts.len() != table.primary_key.len() {
            return None;
        }
        let mut key_params = Vec::with_capacity(table.primary_key.len());
        for &pk in &table.primary_key {
            let param = conjuncts.iter().find_map(|c| match c {
                Expr::Binary(BinaryOp::Eq, l, r) => match (l.as_ref(), r.as_ref()) {
                    (Expr::Column(x), Expr::Param(p)) | (Expr::Param(p), Expr::Column(x))
                        if *x == pk =>
                    {
                        Some(*p)
                    }
                    _ => None,
                },
                _ => None,
            })?;
            key_params.push(param);
        }
        Some(PointRead {
            table: table.clone(),
            key_params,
            columns,
            params,
        })
    }

    /// The key to read, or None when these parameters need the general path (a NULL, a
    /// value of another type than its key column, the wrong number of parameters).
    pub fn key(&self, params: &[Value]) -> Option<Vec<u8>> {
        if params.len() != self.params {
            return None;
        }
        let mut key = keys::row_prefix(self.table.id);
        for (&param, &column) in self.key_params.iter().zip(&self.table.primary_key) {
            let value = params.get(param)?;
            if value.data_type() != Some(self.table.columns[column].data_type) {
                return None;
            }
            keys::encode_value(value, &mut key);
        }
        Some(key)
    }

    /// Reads the row at `key` and hands its selected columns to `sink`; returns the rows
    /// sent (0 when there is no such row). A row of up to [`ON_STACK`] values goes to the
    /// sink borrowed from the stored bytes, decoded on the stack: no allocation here.
    pub fn read(&self, key: &[u8], store: &dyn Store, sink: &mut dyn ResultSink) -> Result<u64> {
        let found = store.get_latest_with(key, &mut |bytes| {
            let mut stored = [ValueRef::Null; ON_STACK];
            let count = match row::decode_row_into(bytes, &mut stored)? {
                Some(count) if self.columns.len() <= ON_STACK => count,
                _ => {
                    let row = rows::decode_full_row(&self.table, bytes)?;
                    return sink.row(take_columns(row, &self.columns)?);
                }
            };
            let mut selected = [ValueRef::Null; ON_STACK];
            for (slot, &c) in selected.iter_mut().zip(&self.columns) {
                *slot = match stored[..count].get(c) {
                    Some(value) => *value,
                    // A row written before ALTER TABLE ... ADD COLUMN: the default.
                    None => match self.table.columns.get(c).and_then(|c| c.default.as_ref()) {
                        Some(default) => ValueRef::from(default),
                        None => ValueRef::Null,
                    },
                };
            }
            sink.row_refs(&selected[..self.columns.len()])
        })?;
        Ok(u64::from(found))
    }
}
