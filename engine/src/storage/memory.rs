//! An in-memory [`Store`]: a model of the storage contract for tests.
//!
//! Each key keeps its versions as `(commit version, value or tombstone)`. A transaction
//! reads the newest version no later than its start version; at commit it fails if any
//! key it wrote has a version newer than its start. Scans collect their range eagerly:
//! this store is for correctness, not speed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{KeyRange, KeyValue, Scan, Store, Transaction};
use crate::error::{Error, Result};

type Versions = Vec<(u64, Option<Vec<u8>>)>;

#[derive(Default)]
struct State {
    data: BTreeMap<Vec<u8>, Versions>,
    version: u64,
}

/// An in-memory store; clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn begin(&self) -> Result<Box<dyn Transaction>> {
        let start = self.state.lock().expect("poisoned").version;
        Ok(Box::new(MemoryTransaction {
            state: self.state.clone(),
            start,
            writes: BTreeMap::new(),
        }))
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

struct MemoryTransaction {
    state: Arc<Mutex<State>>,
    start: u64,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

fn visible(versions: &Versions, at: u64) -> Option<&Vec<u8>> {
    versions
        .iter()
        .rev()
        .find(|(version, _)| *version <= at)
        .and_then(|(_, value)| value.as_ref())
}

impl Transaction for MemoryTransaction {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(write) = self.writes.get(key) {
            return Ok(write.clone());
        }
        let state = self.state.lock().expect("poisoned");
        Ok(state
            .data
            .get(key)
            .and_then(|v| visible(v, self.start))
            .cloned())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }

    fn scan(&mut self, range: KeyRange, reverse: bool) -> Scan<'_> {
        if range.is_empty() {
            return Box::new(std::iter::empty());
        }
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        {
            let state = self.state.lock().expect("poisoned");
            let bounds = (range.start.clone(), range.end.clone());
            for (key, versions) in state.data.range(bounds) {
                if let Some(value) = visible(versions, self.start) {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        for (key, write) in self.writes.range((range.start, range.end)) {
            match write {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        let items: Vec<Result<KeyValue>> = if reverse {
            merged.into_iter().rev().map(Ok).collect()
        } else {
            merged.into_iter().map(Ok).collect()
        };
        Box::new(items.into_iter())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let mut state = self.state.lock().expect("poisoned");
        for key in self.writes.keys() {
            let newest = state
                .data
                .get(key)
                .and_then(|v| v.last())
                .map(|(ver, _)| *ver);
            if newest.is_some_and(|ver| ver > self.start) {
                return Err(Error::Conflict);
            }
        }
        state.version += 1;
        let version = state.version;
        for (key, value) in self.writes {
            state.data.entry(key).or_default().push((version, value));
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_store_contract() {
        super::super::conformance::run(&super::MemoryStore::new());
    }
}
