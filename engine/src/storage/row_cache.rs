//! A cache of recently read rows in front of a store's latest-value point reads
//! ([`super::Store::get_latest`]), so that a point select of a hot key costs a hash probe
//! instead of RocksDB's memtable skiplist search (a cache miss per level) and its file
//! lookups.
//!
//! The cache never returns a value older than the latest commit that finished before the
//! read began. Writers tell it which keys they write, around their commit:
//!
//! 1. before the commit, [`RowCache::writing`] marks each shard holding a written key as
//!    busy; while a shard is busy, reads of its keys skip the cache (neither served from
//!    it nor filled into it);
//! 2. after the commit (or its failure), the guard drops the written keys, bumps each
//!    shard's version and clears the busy mark.
//!
//! A read that misses notes its shard's version, reads the store, and fills the cache
//! only if the shard is not busy and its version is unchanged: then no commit touched the
//! shard between the two, so the value read is still the latest. Reads inside
//! transactions (snapshot reads) never use the cache.
//!
//! Memory is bounded: each of the [`SHARDS`] shards holds at most its share of the byte
//! budget, and evicts about half of its entries when a new one would not fit.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use crate::error::Result;

/// Shards of the cache, each behind its own lock.
pub const SHARDS: usize = 64;

/// Bytes an entry kept apart from the table is charged beyond its key and value: its
/// slot (see [`Stored::charge`]) and the allocation's own overhead.
const ENTRY_OVERHEAD: usize = SLOT_SHARE + 16;

/// Values up to this long are copied out of a shard onto the stack (see
/// [`RowCache::read`]); longer ones into a new allocation.
const STACK_COPY: usize = 512;

/// A bounded, sharded cache of `key -> value` for latest-value point reads.
pub struct RowCache {
    shards: Box<[Mutex<Shard>]>,
    /// Bytes each shard may hold.
    shard_budget: usize,
}

#[derive(Default)]
struct Shard {
    /// Key hash -> the key and its value (see [`Stored`]). Two keys with one hash share
    /// an entry: the later fill replaces the earlier, and a read checks the key itself.
    entries: HashMap<u64, Stored, BuildHasherDefault<Prehashed>>,
    bytes: usize,
    /// Commits in progress that write a key of this shard.
    writers: u32,
    /// Bumped when a commit that wrote a key of this shard ends.
    version: u64,
    /// Evictions so far (each picks the hash bit that decides who goes).
    evictions: u32,
}

/// Entries (see [`Stored`]) up to this many bytes are kept in the table's slot itself.
const INLINE: usize = 150;

/// An entry: the key's length (4 bytes, little-endian), the key, the value. A short one
/// lives in the hash table's slot, so that a hit reads the table and nothing else: with
/// the entry in an allocation of its own, a hit on a cache far larger than the CPU's
/// caches waited for three memory reads in a row (the table's control bytes, its slot,
/// then the entry, the slowest of the three in perf annotate of 50 x 16 pipelined point
/// selects, where the probe was a fifth of the connection thread).
enum Stored {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Stored {
    fn new(key: &[u8], value: &[u8]) -> Stored {
        let len = 4 + key.len() + value.len();
        let write = |out: &mut [u8]| {
            out[..4].copy_from_slice(&(key.len() as u32).to_le_bytes());
            out[4..4 + key.len()].copy_from_slice(key);
            out[4 + key.len()..].copy_from_slice(value);
        };
        if len <= INLINE {
            let mut bytes = [0u8; INLINE];
            write(&mut bytes[..len]);
            Stored::Inline {
                len: len as u8,
                bytes,
            }
        } else {
            let mut entry = vec![0u8; len].into_boxed_slice();
            write(&mut entry);
            Stored::Heap(entry)
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Stored::Inline { len, bytes } => &bytes[..*len as usize],
            Stored::Heap(entry) => entry,
        }
    }

    /// Bytes the entry is charged: its share of the table ([`SLOT_SHARE`]), and the
    /// allocation of one kept apart.
    fn charge(&self) -> usize {
        match self {
            Stored::Inline { .. } => SLOT_SHARE,
            Stored::Heap(entry) => entry.len() + ENTRY_OVERHEAD,
        }
    }
}

/// Bytes of a slot of a shard's table.
const SLOT: usize = std::mem::size_of::<(u64, Stored)>();
/// Table bytes charged per entry: a table is at most 7/8 full and doubles when it gets
/// there, so it holds from 1.14 to 2.29 slots per entry.
const SLOT_SHARE: usize = 2 * SLOT;

/// The value of `entry` when it holds `key`.
fn value_of<'e>(entry: &'e Stored, key: &[u8]) -> Option<&'e [u8]> {
    let (len, rest) = entry.bytes().split_first_chunk::<4>()?;
    let (stored, value) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
    (stored == key).then_some(value)
}

impl Shard {
    fn remove(&mut self, hash: u64) {
        if let Some(entry) = self.entries.remove(&hash) {
            self.bytes -= entry.charge();
        }
    }

    /// Keeps `entry`, first evicting about half of the shard when it would go over
    /// `budget` (the entries whose hash has a bit set that changes with each eviction):
    /// one pass per half-emptying, so an eviction costs O(1) per fill on average.
    fn fill(&mut self, hash: u64, entry: Stored, budget: usize) {
        self.remove(hash);
        while self.bytes + entry.charge() > budget && !self.entries.is_empty() {
            let bit = 1u64 << (self.evictions % 32);
            let mut freed = 0;
            self.entries.retain(|h, e| {
                let keep = h & bit == 0;
                if !keep {
                    freed += e.charge();
                }
                keep
            });
            self.bytes -= freed;
            self.evictions = self.evictions.wrapping_add(1);
        }
        self.bytes += entry.charge();
        self.entries.insert(hash, entry);
    }
}

impl RowCache {
    /// A cache of at most `bytes` bytes (keys, values and per-entry overhead), or None
    /// for a budget too small to hold anything useful.
    pub fn new(bytes: usize) -> Option<RowCache> {
        let shard_budget = bytes / SHARDS;
        (shard_budget >= 4096).then(|| RowCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_budget,
        })
    }

    /// The hash a writer reports for `key` (see [`RowCache::writing`]).
    pub fn hash(key: &[u8]) -> u64 {
        // 8 bytes at a time, multiply and rotate, then murmur3's finalizer: keys are a
        // few to a few dozen bytes, so this is a handful of instructions.
        let mut h = 0x9e37_79b9_7f4a_7c15 ^ (key.len() as u64);
        let mut chunks = key.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            h = (h ^ word)
                .wrapping_mul(0xff51_afd7_ed55_8ccd)
                .rotate_left(31);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn shard_of(hash: u64) -> usize {
        // The middle bits: the index uses the low ones (bucket) and the high ones (tag).
        (hash >> 32) as usize % SHARDS
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard leaves it consistent (`bytes` may be off, which
        // only moves the next eviction), so a poisoned lock is taken as it is.
        self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The latest value of `key`: from the cache when it holds it and no commit writing
    /// near it is in progress; otherwise from `load` (the store), remembered when no
    /// commit wrote near it meanwhile. Absent keys are not remembered.
    pub fn get_or_load(
        &self,
        key: &[u8],
        load: impl FnOnce() -> Result<Option<Vec<u8>>>,
    ) -> Result<Option<Vec<u8>>> {
        self.read(key, load, |value| Ok(value.to_vec()))
    }

    /// As [`RowCache::get_or_load`], handing the value to `f` borrowed: a short cached
    /// value is copied to the stack, the shard unlocked, and `f` called with the copy,
    /// so a hit allocates nothing.
    pub fn read<T>(
        &self,
        key: &[u8],
        load: impl FnOnce() -> Result<Option<Vec<u8>>>,
        f: impl FnOnce(&[u8]) -> Result<T>,
    ) -> Result<Option<T>> {
        let hash = Self::hash(key);
        let shard = Self::shard_of(hash);
        let version = {
            let guard = self.lock(shard);
            if guard.writers > 0 {
                drop(guard);
                return load()?.map(|value| f(&value)).transpose();
            }
            if let Some(value) = guard.entries.get(&hash).and_then(|e| value_of(e, key)) {
                let mut copy = [0u8; STACK_COPY];
                if let Some(copy) = copy.get_mut(..value.len()) {
                    copy.copy_from_slice(value);
                    drop(guard);
                    return f(copy).map(Some);
                }
                let value = value.to_vec();
                drop(guard);
                return f(&value).map(Some);
            }
            guard.version
        };
        let value = load()?;
        if let Some(value) = &value
            && key.len() + value.len() + ENTRY_OVERHEAD <= self.shard_budget / 4
        {
            let mut guard = self.lock(shard);
            if guard.writers == 0 && guard.version == version {
                guard.fill(hash, Stored::new(key, value), self.shard_budget);
            }
        }
        value.map(|value| f(&value)).transpose()
    }

    /// Marks a commit writing the keys of `hashes` (from [`RowCache::hash`]) as in
    /// progress; the returned guard, dropped after the commit, forgets those keys.
    pub fn writing(&self, mut hashes: Vec<u64>) -> Writing<'_> {
        hashes.sort_unstable_by_key(|&h| Self::shard_of(h));
        let mut shards = 0u64;
        for &h in &hashes {
            shards |= 1 << Self::shard_of(h);
        }
        for shard in Bits(shards) {
            self.lock(shard).writers += 1;
        }
        Writing {
            cache: self,
            hashes,
            shards,
        }
    }

    /// Entries and bytes held (for tests and diagnostics).
    pub fn usage(&self) -> (usize, usize) {
        (0..SHARDS)
            .map(|s| {
                let shard = self.lock(s);
                (shard.entries.len(), shard.bytes)
            })
            .fold((0, 0), |(n, b), (sn, sb)| (n + sn, b + sb))
    }
}

/// A commit in progress (see [`RowCache::writing`]): dropping it ends it.
pub struct Writing<'a> {
    cache: &'a RowCache,
    /// Sorted by shard.
    hashes: Vec<u64>,
    shards: u64,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut rest = self.hashes.as_slice();
        for shard in Bits(self.shards) {
            let run = rest
                .iter()
                .take_while(|&&h| RowCache::shard_of(h) == shard)
                .count();
            let mut guard = self.cache.lock(shard);
            for &h in &rest[..run] {
                guard.remove(h);
            }
            guard.version += 1;
            guard.writers -= 1;
            rest = &rest[run..];
        }
    }
}

/// The set bits of a word, lowest first.
struct Bits(u64);

impl Iterator for Bits {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        (self.0 != 0).then(|| {
            let bit = self.0.trailing_zeros() as usize;
            self.0 &= self.0 - 1;
            bit
        })
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = RowCache::hash(bytes);
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn loaded(value: &[u8]) -> impl FnOnce() -> Result<Option<Vec<u8>>> + '_ {
        move || Ok(Some(value.to_vec()))
    }

    /// What a read of `key` answers when the store holds `stored`.
    fn read(cache: &RowCache, key: &[u8], stored: &[u8]) -> Vec<u8> {
        cache.get_or_load(key, loaded(stored)).unwrap().unwrap()
    }

    #[test]
    fn a_read_is_served_from_the_cache_until_a_commit_writes_its_key() {
        let cache = RowCache::new(1 << 20).unwrap();
        assert_eq!(read(&cache, b"k", b"v1"), b"v1");
        let loads = Cell::new(0);
        let counted = || {
            loads.set(loads.get() + 1);
            Ok(Some(b"v2".to_vec()))
        };
        assert_eq!(cache.get_or_load(b"k", counted).unwrap().unwrap(), b"v1");
        assert_eq!(loads.get(), 0, "a cached key reached the store");

        drop(cache.writing(vec![RowCache::hash(b"k")]));
        assert_eq!(read(&cache, b"k", b"v2"), b"v2");
        assert_eq!(read(&cache, b"k", b"v3"), b"v2");
    }

    #[test]
    fn cached_values_short_and_long_come_back_whole() {
        let cache = RowCache::new(1 << 20).unwrap();
        // Around the end of what a slot holds (the key's length and 4-byte key count
        // too), and of what is copied to the stack.
        let at_slot = INLINE - 8;
        for len in [
            0,
            1,
            at_slot - 1,
            at_slot,
            at_slot + 1,
            STACK_COPY - 1,
            STACK_COPY,
            STACK_COPY + 1,
            3000,
        ] {
            let key = (len as u32).to_be_bytes();
            let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            assert_eq!(read(&cache, &key, &value), value, "filled, {len} bytes");
            let from_cache = cache.read(&key, || panic!("not cached"), |v| Ok(v.to_vec()));
            assert_eq!(from_cache.unwrap().unwrap(), value, "cached, {len} bytes");
        }
    }

    #[test]
    fn absent_keys_and_other_keys_of_one_hash_are_not_confused() {
        let cache = RowCache::new(1 << 20).unwrap();
        assert_eq!(cache.get_or_load(b"gone", || Ok(None)).unwrap(), None);
        assert_eq!(cache.usage().0, 0, "an absent key was cached");
        cache.get_or_load(b"a", loaded(b"1")).unwrap();
        // A different key is never answered with another key's value.
        assert_eq!(read(&cache, b"b", b"2"), b"2");
        assert_eq!(read(&cache, b"a", b"x"), b"1");
    }

    #[test]
    fn reads_during_a_commit_skip_the_cache_and_a_read_overtaken_by_one_is_not_kept() {
        let cache = RowCache::new(1 << 20).unwrap();
        cache.get_or_load(b"k", loaded(b"old")).unwrap();
        let commit = cache.writing(vec![RowCache::hash(b"k")]);
        // While the commit runs the store may already hold the new value: read it there.
        assert_eq!(read(&cache, b"k", b"new"), b"new");
        drop(commit);

        // A read that started before a commit and ends after it read the old value,
        // which must not be cached.
        let stale = cache.get_or_load(b"k", || {
            drop(cache.writing(vec![RowCache::hash(b"k")]));
            Ok(Some(b"old".to_vec()))
        });
        assert_eq!(stale.unwrap().unwrap(), b"old");
        assert_eq!(read(&cache, b"k", b"new"), b"new");
    }

    #[test]
    fn memory_stays_within_the_budget() {
        let budget = 1 << 20;
        // Rows kept in the table's slots, and rows kept apart from it.
        for len in [100, 300] {
            let cache = RowCache::new(budget).unwrap();
            let value = vec![7u8; len];
            for i in 0..100_000u32 {
                let key = i.to_be_bytes();
                cache.get_or_load(&key, loaded(&value)).unwrap();
            }
            let (entries, bytes) = cache.usage();
            assert!(
                bytes <= budget,
                "{len}: {bytes} bytes held, budget {budget}"
            );
            assert!(entries > 1000, "{len}: only {entries} entries kept");
            // Still answers correctly after all the evictions.
            let key = 99_999u32.to_be_bytes();
            assert_eq!(read(&cache, &key, b"x"), value);
        }
    }

    #[test]
    fn hashes_spread_over_the_shards() {
        let mut counts = [0usize; SHARDS];
        for i in 0..64_000u64 {
            let mut key = vec![1, 0, 0, 0, 0, 0, 0, 0, 42];
            key.extend_from_slice(&i.to_be_bytes());
            counts[RowCache::shard_of(RowCache::hash(&key))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (700..1300).contains(&c)),
            "{counts:?}"
        );
    }
}
