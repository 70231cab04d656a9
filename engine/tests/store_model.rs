//! The in-memory store is the model: random sequences of transactional operations must
//! give the same answers on RocksDB as on it.

use std::ops::Bound;

use kvsql_engine::Durability;
use kvsql_engine::storage::memory::MemoryStore;
use kvsql_engine::storage::rocks::RocksStore;
use kvsql_engine::storage::{KeyRange, Store, Transaction};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Scan(Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // A small alphabet so that keys collide and ranges overlap.
    proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(0xFF)], 0..3)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (key(), proptest::collection::vec(any::<u8>(), 0..3)).prop_map(|(k, v)| Op::Set(k, v)),
        key().prop_map(Op::Delete),
        key().prop_map(Op::Get),
        (bound(), bound(), any::<bool>()).prop_map(|(s, e, r)| Op::Scan(s, e, r)),
    ]
}

/// Runs one transaction's operations, recording every answer.
fn apply(txn: &mut dyn Transaction, ops: &[Op], log: &mut Vec<String>) {
    for op in ops {
        match op {
            Op::Set(k, v) => txn.set(k, v).unwrap(),
            Op::Delete(k) => txn.delete(k).unwrap(),
            Op::Get(k) => log.push(format!("get {k:?} = {:?}", txn.get(k).unwrap())),
            Op::Scan(start, end, reverse) => {
                let range = KeyRange {
                    start: start.clone(),
                    end: end.clone(),
                };
                let items: Vec<_> = txn.scan(range, *reverse).map(Result::unwrap).collect();
                log.push(format!("scan {start:?}..{end:?} rev={reverse} = {items:?}"));
            }
        }
    }
}

fn run(store: &dyn Store, transactions: &[(Vec<Op>, bool)]) -> Vec<String> {
    let mut log = Vec::new();
    for (ops, commit) in transactions {
        let mut txn = store.begin().unwrap();
        apply(txn.as_mut(), ops, &mut log);
        if *commit {
            txn.commit().unwrap();
        } else {
            txn.rollback().unwrap();
        }
    }
    // The final state, as a full scan.
    let mut txn = store.begin().unwrap();
    apply(
        txn.as_mut(),
        &[Op::Scan(Bound::Unbounded, Bound::Unbounded, false)],
        &mut log,
    );
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rocksdb_agrees_with_the_model(
        transactions in proptest::collection::vec(
            (proptest::collection::vec(op(), 0..12), any::<bool>()), 1..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rocks = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let model = MemoryStore::new();
        prop_assert_eq!(run(&rocks, &transactions), run(&model, &transactions));
    }
}
