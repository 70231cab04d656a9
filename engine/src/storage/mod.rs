//! The storage seam: the ordered key-value store the SQL layer needs.
//!
//! A [`Store`] hands out [`Transaction`]s. A transaction reads from a snapshot taken when
//! it began, sees its own writes, and at commit fails with [`Error::Conflict`] if another
//! transaction committed a write to a key it also wrote since that snapshot (snapshot
//! isolation with first-committer-wins). Commits are atomic: all of a transaction's
//! writes become visible together or not at all.
//!
//! [`rocks::RocksStore`] is the real implementation and the only module that imports
//! `rocksdb`; [`memory::MemoryStore`] is a small model of the same contract used by tests.
//! The trait is deliberately shaped after transactional ordered stores in general (TiKV's
//! transactional API fits it too), so the SQL layer never sees which one it runs on.

pub mod gate;
pub mod group_sync;
pub mod memory;
pub mod rocks;
pub mod row_cache;

use std::ops::Bound;

use crate::error::{Error, Result};

/// A key-value pair read from the store.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An iterator over key-value pairs in key order (or reverse key order).
pub type Scan<'a> = Box<dyn Iterator<Item = Result<KeyValue>> + 'a>;

/// What [`Transaction::scan_each`] calls with each key and value; false stops the scan.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// A half-open or closed range of keys.
#[derive(Clone, Debug)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: &[u8]) -> KeyRange {
        KeyRange {
            start: Bound::Included(prefix.to_vec()),
            end: match crate::encoding::keycode::prefix_end(prefix) {
                Some(end) => Bound::Excluded(end),
                None => Bound::Unbounded,
            },
        }
    }

    /// Whether no key can be in the range (its start is at or past its end).
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        }
    }
}

/// Durability of commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// The commit is in the write-ahead log (in the OS page cache) before it returns:
    /// it survives a crash of the process, not a crash of the machine.
    #[default]
    Process,
    /// The write-ahead log is fsynced before the commit returns: it survives power loss.
    Sync,
}

/// An ordered, transactional key-value store.
pub trait Store: Send + Sync + 'static {
    /// Starts a transaction reading from a snapshot of the store as of now.
    fn begin(&self) -> Result<Box<dyn Transaction>>;

    /// Flushes in-memory state to durable files (used at clean shutdown).
    fn flush(&self) -> Result<()>;

    /// A transaction for a statement that reads through a single get or scan and writes
    /// nothing: such a read is consistent by itself, so a store may skip what a full
    /// transaction costs (a snapshot, a write batch). Writes through it are refused.
    fn begin_read(&self) -> Result<Box<dyn Transaction>> {
        self.begin()
    }

    /// The latest committed value of one key: what a point read outside a transaction
    /// needs, without the cost of starting one.
    fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut txn = self.begin_read()?;
        let value = txn.get(key);
        txn.rollback()?;
        value
    }

    /// Like [`Store::get_latest`], handing the value to `f` borrowed, which spares a
    /// copy where the store holds it in memory; false when there is no such key.
    fn get_latest_with(&self, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        match self.get_latest(key)? {
            Some(value) => f(&value).map(|()| true),
            None => Ok(false),
        }
    }

    /// A transaction whose commit neither waits for the log's sync nor writes the log
    /// out to the OS: before acknowledging it, the caller makes it durable through
    /// [`Store::wal_sync`] (group commit) in a store that syncs every commit, and with
    /// [`Store::flush_log`] otherwise (one write of the log for many commits).
    fn begin_unsynced(&self) -> Result<Box<dyn Transaction>> {
        self.begin()
    }

    /// Hands every commit made so far to the OS, so that a crash of the process no
    /// longer loses it (a power loss still may, without a sync): what an unsynced
    /// commit needs before it is acknowledged.
    fn flush_log(&self) -> Result<()> {
        Ok(())
    }

    /// A transaction for one statement that inserts rows (a prepared INSERT ... VALUES):
    /// a store may run it alone, reading the latest state and writing one plain batch,
    /// without a snapshot or conflict tracking, while other commits wait. Its commit is
    /// atomic and durable as `begin`'s (as `begin_unsynced`'s with `unsynced`).
    fn begin_bulk(&self, unsynced: bool) -> Result<Box<dyn Transaction>> {
        if unsynced {
            self.begin_unsynced()
        } else {
            self.begin()
        }
    }

    /// For a store that syncs every commit: what makes the log durable, for a
    /// [`group_sync::GroupSync`]. None when commits are not synced.
    fn wal_sync(&self) -> Option<group_sync::SyncFn> {
        None
    }

    /// Writes a consistent copy of every committed write into `target` (a directory that
    /// must not exist yet), while writers go on. The copy is itself a data directory.
    fn backup(&self, target: &std::path::Path) -> Result<()> {
        let _ = target;
        Err(crate::error::Error::Unsupported(
            "BACKUP of an in-memory database".into(),
        ))
    }
}

/// A transaction over a [`Store`]. Dropping it without commit rolls it back.
pub trait Transaction: Send {
    /// Reads a key as of the snapshot, overlaid with this transaction's own writes.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Reads several keys as `get` would, one answer per key in order; a store may look
    /// them up together (RocksDB's MultiGet sorts them and shares one pass over its files).
    fn get_many(&mut self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|key| self.get(key)).collect()
    }

    /// Writes a key; visible to this transaction at once, to others after commit.
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Deletes a key, or does nothing if it does not exist.
    fn delete(&mut self, key: &[u8]) -> Result<()>;

    /// Called before a statement relies on the id allocator to know that a key it will
    /// write is new (`IdAllocator::claim_id`) and skips looking it up. A transaction
    /// whose writes are serialized from their first read on, rather than checked for
    /// conflicts at commit (RocksDB's bulk writes), takes that serialization now; by
    /// default nothing, as a commit that conflicts with a concurrent write of the same
    /// key fails.
    fn hold(&mut self) {}

    /// A hint that about `bytes` of keys and values are about to be written: a store
    /// that gathers writes in one buffer may size it once instead of growing it. By
    /// default nothing.
    fn reserve(&mut self, _bytes: usize) {}

    /// Deletes every key in `range`, a range that nothing reads or writes once this
    /// transaction commits (the rows or index entries of a dropped table or index,
    /// whose ids are never reused); this transaction must not read it afterwards either.
    /// By default a delete of each key the range holds; a store may instead delete the
    /// whole range in one step once the transaction has committed, in time and memory
    /// that do not grow with the range (see the RocksDB store).
    fn drop_range(&mut self, range: KeyRange) -> Result<()> {
        delete_each(self, range, &|| Ok(())).map(|_| ())
    }

    /// Deletes every key this transaction sees in `range` (a live table's rows or index
    /// entries, which TRUNCATE empties) and returns how many. Unlike `drop_range`, the
    /// range stays in use: the deletes are writes of this transaction like any other,
    /// atomic with it and checked against concurrent commits as they are. By default a
    /// delete of each key, read first; a store may do it without holding the keys.
    /// `check` is called every [`CLEAR_CHECK_EVERY`] keys; an error from it (the
    /// statement was cancelled) stops the deletes and is returned.
    fn clear(&mut self, range: KeyRange, check: &dyn Fn() -> Result<()>) -> Result<u64> {
        delete_each(self, range, check)
    }

    /// Scans a range as of the snapshot, overlaid with this transaction's own writes,
    /// forwards or in reverse key order.
    fn scan(&mut self, range: KeyRange, reverse: bool) -> Scan<'_>;

    /// Calls `f` with each pair of `range`, as `scan` would find them, until `f` returns
    /// false or an error. The pair is borrowed from the store for the call only: a
    /// store may hand over its own buffers instead of copying each key and value.
    fn scan_each(&mut self, range: KeyRange, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        for item in self.scan(range, reverse) {
            let (key, value) = item?;
            if !f(&key, &value)? {
                break;
            }
        }
        Ok(())
    }

    /// Makes every write visible atomically, or fails with [`Error::Conflict`] (nothing
    /// written) when a concurrent transaction committed a write to the same key first.
    fn commit(self: Box<Self>) -> Result<()>;

    /// Whether the transaction has written anything (so far).
    fn wrote(&self) -> bool {
        true
    }

    /// Discards every write.
    fn rollback(self: Box<Self>) -> Result<()>;
}

/// How many keys [`Transaction::clear`] deletes between calls of its `check`.
pub const CLEAR_CHECK_EVERY: u64 = 4096;

/// Deletes every key `txn` sees in `range`, one by one; returns how many. `check` as for
/// [`Transaction::clear`].
pub(crate) fn delete_each<T: Transaction + ?Sized>(
    txn: &mut T,
    range: KeyRange,
    check: &dyn Fn() -> Result<()>,
) -> Result<u64> {
    // The keys end to end in one buffer: a table's worth of them as separate vectors
    // would cost an allocation each.
    let (mut keys, mut ends) = (Vec::new(), Vec::new());
    txn.scan_each(range, false, &mut |key, _| {
        if (ends.len() as u64 + 1).is_multiple_of(CLEAR_CHECK_EVERY) {
            check()?;
        }
        keys.extend_from_slice(key);
        ends.push(keys.len());
        Ok(true)
    })?;
    let mut start = 0;
    for (n, &end) in ends.iter().enumerate() {
        if (n as u64 + 1).is_multiple_of(CLEAR_CHECK_EVERY) {
            check()?;
        }
        txn.delete(&keys[start..end])?;
        start = end;
    }
    Ok(ends.len() as u64)
}

/// Shorthand for storage failures.
pub(crate) fn storage_error(e: impl std::fmt::Display) -> Error {
    let text = e.to_string();
    if text.contains("No space left on device") {
        return Error::DiskFull(format!(
            "the data directory's file system has no space left; writes fail until space is \
             freed and the server restarted, reads go on, nothing committed is lost ({text})"
        ));
    }
    Error::Storage(text)
}

#[cfg(test)]
pub(crate) mod conformance {
    //! The contract every [`Store`] must meet, run against each implementation.
    use super::*;

    fn collect(txn: &mut dyn Transaction, range: KeyRange, reverse: bool) -> Vec<KeyValue> {
        txn.scan(range, reverse)
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    fn kv(k: &str, v: &str) -> KeyValue {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    pub fn run(store: &dyn Store) {
        // Writes are visible to their own transaction, then to others after commit.
        let mut t1 = store.begin().unwrap();
        t1.set(b"b", b"1").unwrap();
        t1.set(b"a", b"0").unwrap();
        t1.set(b"c", b"2").unwrap();
        assert_eq!(t1.get(b"b").unwrap(), Some(b"1".to_vec()));
        let mut other = store.begin().unwrap();
        assert_eq!(other.get(b"b").unwrap(), None, "uncommitted write leaked");
        assert_eq!(
            store.get_latest(b"b").unwrap(),
            None,
            "uncommitted write leaked"
        );
        t1.commit().unwrap();
        assert_eq!(other.get(b"b").unwrap(), None, "snapshot moved");
        assert_eq!(store.get_latest(b"b").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get_latest(b"bz").unwrap(), None);
        other.rollback().unwrap();

        // Scans in both directions, with bounds, overlaid with own writes and deletes.
        let mut t2 = store.begin().unwrap();
        t2.delete(b"b").unwrap();
        t2.set(b"bb", b"x").unwrap();
        let all = KeyRange::prefix(b"");
        assert_eq!(
            collect(t2.as_mut(), all.clone(), false),
            vec![kv("a", "0"), kv("bb", "x"), kv("c", "2")]
        );
        assert_eq!(
            collect(t2.as_mut(), all.clone(), true),
            vec![kv("c", "2"), kv("bb", "x"), kv("a", "0")]
        );
        let bounded = KeyRange {
            start: Bound::Excluded(b"a".to_vec()),
            end: Bound::Included(b"c".to_vec()),
        };
        assert_eq!(
            collect(t2.as_mut(), bounded.clone(), false),
            vec![kv("bb", "x"), kv("c", "2")]
        );
        assert_eq!(
            collect(t2.as_mut(), bounded, true),
            vec![kv("c", "2"), kv("bb", "x")]
        );
        // scan_each visits what scan finds, and stops when asked.
        let past_a = KeyRange {
            start: Bound::Excluded(b"a".to_vec()),
            end: Bound::Unbounded,
        };
        for (range, reverse) in [
            (&all, false),
            (&all, true),
            (&past_a, false),
            (&past_a, true),
        ] {
            let mut visited = Vec::new();
            t2.scan_each(range.clone(), reverse, &mut |k, v| {
                visited.push((k.to_vec(), v.to_vec()));
                Ok(true)
            })
            .unwrap();
            assert_eq!(visited, collect(t2.as_mut(), range.clone(), reverse));
            assert!(!visited.is_empty());
            let mut first = Vec::new();
            t2.scan_each(all.clone(), reverse, &mut |k, _| {
                first.push(k.to_vec());
                Ok(false)
            })
            .unwrap();
            assert_eq!(first.len(), 1, "scan_each went on after false");
        }
        let failed = t2.scan_each(all.clone(), false, &mut |_, _| Err(Error::Cancelled));
        assert_eq!(failed.unwrap_err(), Error::Cancelled);
        t2.rollback().unwrap();
        let mut t3 = store.begin().unwrap();
        assert_eq!(
            t3.get(b"b").unwrap(),
            Some(b"1".to_vec()),
            "rollback kept a delete"
        );
        assert_eq!(t3.get(b"bb").unwrap(), None, "rollback kept a write");

        // Write-write conflict: the second committer fails and writes nothing.
        let mut t4 = store.begin().unwrap();
        t3.set(b"a", b"t3").unwrap();
        t4.set(b"a", b"t4").unwrap();
        t4.set(b"z", b"t4").unwrap();
        t3.commit().unwrap();
        assert_eq!(t4.commit().unwrap_err(), Error::Conflict);
        let mut t5 = store.begin().unwrap();
        assert_eq!(t5.get(b"a").unwrap(), Some(b"t3".to_vec()));
        assert_eq!(
            t5.get(b"z").unwrap(),
            None,
            "a failed commit left a write behind"
        );

        // get_many answers as get would, in the order asked, from the snapshot (before
        // and after the transaction's own writes), with repeats and missing keys.
        let mut reader = store.begin().unwrap();
        let mut writer = store.begin().unwrap();
        writer.set(b"a", b"later").unwrap();
        writer.set(b"m", b"new").unwrap();
        writer.commit().unwrap();
        let asked = [
            b"z".to_vec(),
            b"a".to_vec(),
            b"m".to_vec(),
            b"c".to_vec(),
            b"a".to_vec(),
        ];
        let snapshot = |a: &str| Some(a.as_bytes().to_vec());
        assert_eq!(
            reader.get_many(&asked).unwrap(),
            [None, snapshot("t3"), None, snapshot("2"), snapshot("t3")]
        );
        reader.set(b"z", b"own").unwrap();
        reader.delete(b"c").unwrap();
        assert_eq!(
            reader.get_many(&asked).unwrap(),
            [snapshot("own"), snapshot("t3"), None, None, snapshot("t3")]
        );
        reader.rollback().unwrap();

        // Disjoint writers both commit.
        let mut t6 = store.begin().unwrap();
        t5.set(b"p", b"5").unwrap();
        t6.set(b"q", b"6").unwrap();
        t5.commit().unwrap();
        t6.commit().unwrap();
        let mut t7 = store.begin().unwrap();
        assert_eq!(
            collect(t7.as_mut(), KeyRange::prefix(b"p"), false),
            vec![kv("p", "5")]
        );
        assert_eq!(t7.get(b"q").unwrap(), Some(b"6".to_vec()));
        // Dropping a transaction rolls it back.
        t7.set(b"dropped", b"1").unwrap();
        drop(t7);
        assert_eq!(store.begin().unwrap().get(b"dropped").unwrap(), None);

        // clear deletes and counts the keys the transaction sees in the range, its own
        // puts too, and nothing outside it; in a bulk write as in a transaction.
        for bulk in [false, true] {
            let begin = || {
                if bulk {
                    store.begin_bulk(false).unwrap()
                } else {
                    store.begin().unwrap()
                }
            };
            let mut fill = store.begin().unwrap();
            for key in ["x1", "x2", "x3", "y1"] {
                fill.set(key.as_bytes(), b"v").unwrap();
            }
            fill.commit().unwrap();
            let mut txn = begin();
            assert_eq!(txn.clear(KeyRange::prefix(b"x"), &|| Ok(())).unwrap(), 3);
            txn.commit().unwrap();
            let mut txn = begin();
            txn.set(b"x4", b"v").unwrap();
            txn.set(b"y2", b"v").unwrap();
            assert_eq!(txn.clear(KeyRange::prefix(b"x"), &|| Ok(())).unwrap(), 1);
            txn.commit().unwrap();
            let mut after = store.begin().unwrap();
            assert_eq!(collect(after.as_mut(), KeyRange::prefix(b"x"), false), []);
            assert_eq!(
                collect(after.as_mut(), KeyRange::prefix(b"y"), false),
                [kv("y1", "v"), kv("y2", "v")],
                "bulk: {bulk}"
            );
            after.rollback().unwrap();
        }
    }
}
