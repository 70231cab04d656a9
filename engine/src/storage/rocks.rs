//! The RocksDB [`Store`]: the only module that imports `rocksdb`.
//!
//! Transactions are RocksDB optimistic transactions with a snapshot set at begin: reads go
//! through the snapshot (overlaid with the transaction's own writes), and commit fails
//! with `Busy` when a key written here was written by someone else after the snapshot,
//! which becomes [`Error::Conflict`].

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::{
    DBAccess, DBRawIteratorWithThreadMode, DBWithThreadMode, ErrorKind, MultiThreaded,
    OptimisticTransactionDB, OptimisticTransactionOptions, Options, ReadOptions, WriteOptions,
};

use super::gate::{Exclusive, Gate};
use super::row_cache::RowCache;
use super::{Durability, KeyRange, KeyValue, Scan, Store, Transaction, Visit, storage_error};
use crate::encoding::keys;
use crate::error::{Error, Result};

type Db = OptimisticTransactionDB<MultiThreaded>;

/// The block cache when none is asked for: 256 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;
/// The row cache when none is asked for: 64 MiB.
pub const DEFAULT_ROW_CACHE_BYTES: usize = 64 << 20;
/// Writes are gathered in memory tables of this size before they go to table files,
/// unless asked otherwise.
pub const DEFAULT_MEMTABLE_BYTES: usize = 128 << 20;
/// Obsolete log files kept for reuse with synced commits (see `open_sized`).
const RECYCLED_LOGS: usize = 2;
/// Seconds a bottommost table file waits before RocksDB may rewrite it to drop what
/// released snapshots kept (see `open_sized`).
const BOTTOMMOST_REWRITE_DELAY_S: u32 = 600;
type RocksTxn = rocksdb::Transaction<'static, Db>;

/// A store in a RocksDB directory. Opening takes RocksDB's lock on the directory, so a
/// second process (or a second open in this one) on the same directory is refused.
pub struct RocksStore {
    db: Arc<Db>,
    /// Made once: the crate's plain `get` builds (allocates, frees) a default set per call.
    point_reads: ReadOptions,
    /// Made once, as `point_reads`: every transaction takes a snapshot at begin.
    txn_options: OptimisticTransactionOptions,
    write_options: WriteOptions,
    durability: Durability,
    /// Rows read by `get_latest`, kept in front of RocksDB (None: no row cache).
    rows: Option<Arc<RowCache>>,
    /// Commits pass it shared, bulk writes exclusively (see [`Gate`]).
    gate: Arc<Gate>,
    /// How far commits that left the log in memory have been written out.
    log: Arc<LogCounts>,
    /// The block cache (kept for its usage figure).
    #[cfg_attr(not(test), allow(dead_code))]
    cache: rocksdb::Cache,
}

/// Commits that left their log records in RocksDB's buffer (`begin_unsynced`), counted,
/// and how many of them a finished `flush_wal` is known to cover: a `flush_log` with
/// nothing new to write out returns without touching RocksDB.
#[derive(Default)]
struct LogCounts {
    /// Bumped after each such commit.
    written: AtomicU64,
    /// Every commit up to this count is in the OS.
    flushed: AtomicU64,
}

impl LogCounts {
    /// Counts a commit whose records are in the buffer, and writes them out at once if
    /// `flush`.
    fn committed(&self, db: &Db, flush: bool) -> Result<()> {
        self.written.fetch_add(1, Ordering::AcqRel);
        if flush { self.flush(db) } else { Ok(()) }
    }

    fn flush(&self, db: &Db) -> Result<()> {
        // Every commit counted by now finished writing its records to the buffer, so a
        // flush that starts after this read covers them all.
        let written = self.written.load(Ordering::Acquire);
        if self.flushed.load(Ordering::Acquire) >= written {
            return Ok(());
        }
        db.flush_wal(false).map_err(storage_error)?;
        self.flushed.fetch_max(written, Ordering::AcqRel);
        Ok(())
    }
}

impl RocksStore {
    /// Opens (creating if missing) the database in `dir`, with a block cache of
    /// [`DEFAULT_CACHE_BYTES`] and a row cache of [`DEFAULT_ROW_CACHE_BYTES`].
    pub fn open(dir: &Path, durability: Durability) -> Result<RocksStore> {
        Self::open_sized(dir, durability, DEFAULT_CACHE_BYTES, DEFAULT_MEMTABLE_BYTES)
    }

    /// Keeps up to `bytes` of recently read rows in memory for latest-value point reads
    /// (see [`RowCache`]), or none when `bytes` is too small (0 turns it off).
    pub fn with_row_cache(mut self, bytes: usize) -> RocksStore {
        self.rows = RowCache::new(bytes).map(Arc::new);
        self
    }

    /// Opens the database in `dir` with a block cache of `cache_bytes` (table blocks read
    /// from disk are kept there, uncompressed), a bloom filter in every table file, so
    /// that a point read skips the files that cannot hold its key, and memory tables of
    /// `memtable_bytes`.
    pub fn open_sized(
        dir: &Path,
        durability: Durability,
        cache_bytes: usize,
        memtable_bytes: usize,
    ) -> Result<RocksStore> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Memory tables of 128 MiB (RocksDB's default is 64): a bulk load of a million
        // 100-byte rows fits in one, and is flushed to disk once instead of twice, into
        // fewer level-0 files to compact (1M-row loads 1.18M vs 1.06M rows/s, server CPU
        // -12%). Up to two are held while one is flushed.
        options.set_write_buffer_size(memtable_bytes);
        options.increase_parallelism(2);
        // No bloom filter over the memtable's keys. It used to spare an insert's primary
        // key check the skiplist search, but bulk writes now check keys with one
        // iterator walk (see `walk_many`) and single-row inserts read the same without
        // it, while adding each key to it was a cache miss on every write: 1M-row loads
        // ran 1.36M-1.47M rows/s without it against 1.12M-1.20M with it.
        // Commits append to the log in memory; a commit is handed to the OS by a
        // `flush_wal` after it (see `RocksTransaction::commit`), or, for commits begun
        // unsynced, by the caller's one `Store::flush_log` for many of them.
        options.set_manual_wal_flush(true);
        if durability == Durability::Sync {
            // With a sync per commit group, write new logs over old ones rather than
            // into new files: a sync then only flushes data, where an append that grows
            // the file also writes its size (the inode, or a journal commit). RocksDB
            // reuses logs made obsolete while it runs (after memtables were flushed);
            // `prepare_logs` makes the first one. 16-client --sync inserts after
            // 3,000,000 rows: 35.0k-39.3k/s against 27.7k-27.8k without.
            options.set_recycle_log_file_num(RECYCLED_LOGS);
        }
        let mut table = rocksdb::BlockBasedOptions::default();
        let cache = rocksdb::Cache::new_lru_cache(cache_bytes);
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        // A hash index in each data block: a point read finds its key in the block with
        // one probe instead of a binary search over the block's restart points.
        table.set_data_block_index_type(rocksdb::DataBlockIndexType::BinaryAndHash);
        table.set_data_block_hash_ratio(0.75);
        options.set_block_based_table_factory(&table);
        // RocksDB rewrites a bottommost table file as soon as the last snapshot older
        // than its newest write is released, only to drop versions that snapshot kept
        // and zero the sequence numbers. Here the last level is often level 0 itself,
        // and the release that sets it off is the next transaction's: a 1M-row load
        // that began right after a few hundred thousand inserts shared the machine with
        // rewriting the inserts' file (1M-row loads, seven alternated pairs: median
        // 1.03M rows/s and server CPU 1.50-2.33 s without the delay, 1.25M and 1.23-1.75
        // s with it). A file is now rewritten so only once it is ten minutes old. The
        // crate has no setter for this option, hence the option string.
        options = options
            .get_options_from_string(format!(
                "bottommost_file_compaction_delay={BOTTOMMOST_REWRITE_DELAY_S}"
            ))
            .map_err(storage_error)?;
        // Opened naming the default column family (with these same options: a name
        // alone would give it RocksDB's defaults), so that `cf_handle` finds it for
        // range deletions (see `delete_ranges`).
        let default = rocksdb::ColumnFamilyDescriptor::new(
            rocksdb::DEFAULT_COLUMN_FAMILY_NAME,
            options.clone(),
        );
        let db = Db::open_cf_descriptors(&options, dir, [default]).map_err(|e| {
            let text = e.to_string();
            if text.contains("lock") && !text.contains("Read-only file system") {
                Error::Storage(format!(
                    "the data directory {} is in use by another kvsql process ({e})",
                    dir.display()
                ))
            } else {
                storage_error(e)
            }
        })?;
        if durability == Durability::Sync {
            prepare_logs(&db, dir, memtable_bytes)?;
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(durability == Durability::Sync);
        Ok(RocksStore {
            db: Arc::new(db),
            point_reads: ReadOptions::default(),
            txn_options: {
                let mut txn_options = OptimisticTransactionOptions::default();
                txn_options.set_snapshot(true);
                txn_options
            },
            write_options,
            durability,
            rows: RowCache::new(DEFAULT_ROW_CACHE_BYTES).map(Arc::new),
            gate: Arc::new(Gate::default()),
            log: Arc::default(),
            cache,
        })
    }
}

/// Deletes each range [start, end) with one RocksDB range deletion, after the commit
/// that made the ranges unreachable (`drop_range`). RocksDB refuses range deletions in
/// an optimistic transaction and in a batch written through it, because its conflict
/// checks do not see them; the ranges here are ones no transaction touches again, so
/// they go to the base database directly. A crash between the commit and this leaves
/// the ranges' keys behind, unreachable: [`crate::catalog::sweep_orphans`] deletes them
/// when the database opens.
fn delete_ranges(db: &Db, ranges: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<()> {
    let default = db
        .cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME)
        .ok_or_else(|| Error::Storage("internal: no default column family".into()))?;
    let mut options = WriteOptions::default();
    options.set_sync(sync);
    for (start, end) in ranges {
        db.delete_range_cf_opt(&default, start, end, &options)
            .map_err(storage_error)?;
    }
    Ok(())
}

/// Log bytes written per batch by `prepare_logs`.
const PREP_CHUNK: usize = 1 << 20;
/// The most `prepare_logs` writes, whatever the memtable size: a log past it appends
/// until RocksDB reuses one.
const PREP_MAX: usize = 256 << 20;

/// With a sync per commit group, starts the server on a log file already written to
/// `bytes`, so that its first commits overwrite written space, as they do once RocksDB
/// reuses logs (see `open_sized`), and as PostgreSQL's WAL segments, written in full
/// before use, are. A restart deletes the logs it recovered instead of reusing them, so
/// without this a fresh server appends to new files until a few memtables have been
/// flushed.
///
/// The current log is filled with log-only records (which RocksDB skips on recovery),
/// made obsolete by a memtable flush, and reused by the flush after. Each flush needs
/// an entry in the memtable: the batches delete a key of the unused storage space
/// ([`keys::log_prep_key`]), which leaves no row anywhere. The cost is writing `bytes`
/// (at most [`PREP_MAX`]) to the log once per start. Where the disk has less than four
/// times that free, the log is not prepared: a start must not fail, nor a full disk be
/// brought nearer, for the sake of speed.
fn prepare_logs(db: &Db, dir: &Path, bytes: usize) -> Result<()> {
    let bytes = bytes.min(PREP_MAX);
    match rustix::fs::statvfs(dir) {
        Ok(fs) if fs.f_bavail.saturating_mul(fs.f_frsize) >= 4 * bytes as u64 => {}
        Ok(fs) => {
            tracing::info!(
                "not preparing a log file: {} MiB free in {}",
                fs.f_bavail.saturating_mul(fs.f_frsize) >> 20,
                dir.display()
            );
            return Ok(());
        }
        Err(e) => {
            tracing::info!("not preparing a log file: cannot read free space ({e})");
            return Ok(());
        }
    }
    let unsynced = WriteOptions::default();
    let key = keys::log_prep_key();
    let chunk = vec![0u8; PREP_CHUNK];
    let write = |log: Option<&[u8]>| {
        let mut batch = rocksdb::WriteBatchWithTransaction::<true>::default();
        batch.delete(&key);
        if let Some(log) = log {
            batch.put_log_data(log);
        }
        db.write_opt(batch, &unsynced).map_err(storage_error)
    };
    for _ in 0..bytes.div_ceil(PREP_CHUNK) {
        write(Some(&chunk))?;
    }
    // The filled log becomes obsolete, and the one made for the memtable after it is
    // nearly empty: made obsolete too, so that the next log is the filled one, reused.
    // RocksDB puts a log on its reuse list in the background, after the flush that made
    // it obsolete returns, so the flush after may come first and make a new file; the
    // next one then takes it. The current log is the highest-numbered (a reused file is
    // renamed to its new number).
    db.flush().map_err(storage_error)?;
    for attempt in 0..PREP_ATTEMPTS {
        write(None)?;
        db.flush().map_err(storage_error)?;
        if current_log_len(dir) >= bytes as u64 {
            // Written through to the disk now, rather than by the first commit's sync
            // (which would write the whole file) or the kernel, later, under load.
            return db.flush_wal(true).map_err(storage_error);
        }
        std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
    }
    tracing::warn!(
        "the log was not prepared ({PREP_ATTEMPTS} memtable flushes did not reuse it); \
         synced commits append to new log files until RocksDB reuses one"
    );
    Ok(())
}

/// How many times `prepare_logs` flushes for the filled log to be reused.
const PREP_ATTEMPTS: u32 = 4;

/// The length of the highest-numbered log file in `dir` (0 if there is none).
fn current_log_len(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let number: u64 = name.strip_suffix(".log")?.parse().ok()?;
            Some((number, entry.metadata().ok()?.len()))
        })
        .max()
        .map_or(0, |(_, len)| len)
}

/// A RocksDB directory opened read-only (a read-only file system, or `--read-only`):
/// every read works, every write is refused with [`Error::ReadOnly`].
pub struct ReadOnlyStore {
    db: Arc<DBWithThreadMode<MultiThreaded>>,
    why: String,
}

impl ReadOnlyStore {
    /// Opens the database in `dir` for reading only; `why` explains refused writes.
    pub fn open(dir: &Path, why: &str) -> Result<ReadOnlyStore> {
        let options = Options::default();
        let db = DBWithThreadMode::<MultiThreaded>::open_for_read_only(&options, dir, false)
            .map_err(storage_error)?;
        Ok(ReadOnlyStore {
            db: Arc::new(db),
            why: why.to_string(),
        })
    }
}

impl Store for ReadOnlyStore {
    fn begin(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(DirectRead {
            snapshot: None,
            scanned: Cell::new(0),
            db: ReadDb::ReadOnly(self.db.clone()),
            refusal: Error::ReadOnly(self.why.clone()),
        }))
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Read options bounded to `range` (None when it is empty), and an excluded start key
/// for the scan to skip.
/// Rows a transaction's scans read through RocksDB's block cache; its later scans read
/// around it. The blocks of short scans stay cached for the next ones, while a long
/// scan (a full-table SELECT, read in runs of rows) does not push every block it passes
/// into the cache, where they would evict what point reads use, and grow the server by
/// the whole cache (256 MiB by default) while it streams a result to a slow client.
const CACHED_SCAN_ROWS: usize = 10_000;

/// Read options for a scan of `range` by a transaction whose scans passed `scanned` rows
/// so far, and the excluded start key to skip (None for an empty range).
fn scan_options(
    range: &KeyRange,
    mut options: ReadOptions,
    scanned: &Cell<usize>,
) -> Option<(ReadOptions, Option<Vec<u8>>)> {
    if range.is_empty() {
        return None;
    }
    options.fill_cache(scanned.get() < CACHED_SCAN_ROWS);
    let skip = match &range.start {
        Bound::Included(start) => {
            options.set_iterate_lower_bound(start.clone());
            None
        }
        Bound::Excluded(start) => {
            options.set_iterate_lower_bound(start.clone());
            Some(start.clone())
        }
        Bound::Unbounded => None,
    };
    match &range.end {
        Bound::Included(end) => {
            let mut upper = end.clone();
            upper.push(0);
            options.set_iterate_upper_bound(upper);
        }
        Bound::Excluded(end) => options.set_iterate_upper_bound(end.clone()),
        Bound::Unbounded => {}
    }
    Some((options, skip))
}

impl RocksStore {
    fn begin_with(
        &self,
        write_options: &WriteOptions,
        sync_commit: bool,
        flush_log: bool,
    ) -> Result<Box<dyn Transaction>> {
        let txn = self.db.transaction_opt(write_options, &self.txn_options);
        // SAFETY: the transaction borrows the database; `RocksTransaction` holds an `Arc`
        // of that database and drops the transaction first (field order), so the borrow
        // never outlives the database.
        let txn: RocksTxn = unsafe { std::mem::transmute(txn) };
        Ok(Box::new(RocksTransaction {
            reads: snapshot_reads(&txn),
            txn,
            _db: self.db.clone(),
            dirty: false,
            rows: self.rows.clone(),
            written: Vec::new(),
            gate: self.gate.clone(),
            flush_log,
            log: self.log.clone(),
            scanned: Cell::new(0),
            dropped: Vec::new(),
            sync: sync_commit,
        }))
    }
}

impl Store for RocksStore {
    fn begin(&self) -> Result<Box<dyn Transaction>> {
        // A synced commit writes the log out (and syncs it) inside RocksDB.
        let sync = self.durability == Durability::Sync;
        self.begin_with(&self.write_options, sync, !sync)
    }

    fn begin_unsynced(&self) -> Result<Box<dyn Transaction>> {
        self.begin_with(&WriteOptions::default(), false, false)
    }

    fn begin_bulk(&self, unsynced: bool) -> Result<Box<dyn Transaction>> {
        let mut write_options = WriteOptions::default();
        let synced = self.durability == Durability::Sync && !unsynced;
        write_options.set_sync(synced);
        Ok(Box::new(BulkTransaction {
            flush_log: !unsynced && !synced,
            log: self.log.clone(),
            db: self.db.clone(),
            gate: self.gate.clone(),
            held: None,
            batch: rocksdb::WriteBatchWithTransaction::default(),
            own: std::collections::BTreeMap::new(),
            folded: 0,
            write_options,
            rows: self.rows.clone(),
            written: Vec::new(),
            puts: false,
        }))
    }

    fn flush_log(&self) -> Result<()> {
        self.log.flush(&self.db)
    }

    fn wal_sync(&self) -> Option<super::group_sync::SyncFn> {
        let db = self.db.clone();
        (self.durability == Durability::Sync)
            .then(|| Box::new(move || db.flush_wal(true).map_err(storage_error)) as _)
    }

    fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let read = || {
            self.db
                .get_opt(key, &self.point_reads)
                .map_err(storage_error)
        };
        match &self.rows {
            Some(rows) => rows.get_or_load(key, read),
            None => read(),
        }
    }

    fn get_latest_with(&self, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        let read = || {
            self.db
                .get_opt(key, &self.point_reads)
                .map_err(storage_error)
        };
        let found = match &self.rows {
            Some(rows) => rows.read(key, read, f)?,
            None => read()?.map(|value| f(&value)).transpose()?,
        };
        Ok(found.is_some())
    }

    fn begin_read(&self) -> Result<Box<dyn Transaction>> {
        Ok(Box::new(DirectRead {
            snapshot: None,
            scanned: Cell::new(0),
            db: ReadDb::Live(self.db.clone()),
            refusal: Error::Storage(
                "internal: a write through the reader of a read-only statement".into(),
            ),
        }))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(storage_error)?;
        self.db.flush().map_err(storage_error)
    }

    fn backup(&self, target: &std::path::Path) -> Result<()> {
        // A RocksDB checkpoint: live files hard-linked (copied across file systems) and
        // the WAL copied, as of one moment; writers are not stopped.
        if target.exists() {
            return Err(Error::InvalidValue(format!(
                "backup target {} already exists; name a new directory",
                target.display()
            )));
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::Storage(format!("cannot create {}: {e}", parent.display())))?;
        }
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&*self.db).map_err(storage_error)?;
        checkpoint
            .create_checkpoint(target)
            .map_err(|e| Error::Storage(format!("backup to {} failed: {e}", target.display())))
    }
}

/// Reads straight from the database and refuses writes: every transaction of a
/// read-only directory, and a statement that reads once (see [`Store::begin_read`]). A
/// get sees the latest commit; scans see the database as of the first scan (an explicit
/// snapshot, so that a result read in runs, each from a new iterator, is one state).
struct DirectRead {
    /// What the scans of a live database read (taken at the first): a statement
    /// scanning in runs of rows, each from a new iterator, reads one state throughout.
    /// Declared before `db`, whose database it borrows: dropped first.
    snapshot: Option<rocksdb::SnapshotWithThreadMode<'static, Db>>,
    /// Rows passed by the scans so far (see [`CACHED_SCAN_ROWS`]).
    scanned: Cell<usize>,
    db: ReadDb,
    /// What a write gets.
    refusal: Error,
}

enum ReadDb {
    ReadOnly(Arc<DBWithThreadMode<MultiThreaded>>),
    Live(Arc<Db>),
}

impl DirectRead {
    /// Options reading from the snapshot of the first scan (of a live database: nothing
    /// commits to a read-only one).
    fn read_options(&mut self) -> ReadOptions {
        let mut options = ReadOptions::default();
        if let ReadDb::Live(db) = &self.db {
            let snapshot = self.snapshot.get_or_insert_with(|| {
                // SAFETY: the snapshot borrows the database, which `self.db` keeps alive
                // (an `Arc`) for as long as the snapshot: it is declared first, so it
                // is dropped (and released) first.
                unsafe {
                    std::mem::transmute::<
                        rocksdb::SnapshotWithThreadMode<'_, Db>,
                        rocksdb::SnapshotWithThreadMode<'static, Db>,
                    >(db.snapshot())
                }
            });
            options.set_snapshot(snapshot);
        }
        options
    }
}

impl Transaction for DirectRead {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match &self.db {
            ReadDb::ReadOnly(db) => db.get(key),
            ReadDb::Live(db) => db.get(key),
        }
        .map_err(storage_error)
    }

    fn set(&mut self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(self.refusal.clone())
    }

    fn delete(&mut self, _key: &[u8]) -> Result<()> {
        Err(self.refusal.clone())
    }

    fn scan(&mut self, range: KeyRange, reverse: bool) -> Scan<'_> {
        let options = self.read_options();
        let Some((options, skip)) = scan_options(&range, options, &self.scanned) else {
            return Box::new(std::iter::empty());
        };
        let passed = Some(&self.scanned);
        match &self.db {
            ReadDb::ReadOnly(db) => Box::new(RocksScan::new(
                db.raw_iterator_opt(options),
                reverse,
                skip,
                passed,
            )),
            ReadDb::Live(db) => Box::new(RocksScan::new(
                db.raw_iterator_opt(options),
                reverse,
                skip,
                passed,
            )),
        }
    }

    fn scan_each(&mut self, range: KeyRange, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        let options = self.read_options();
        let Some((options, skip)) = scan_options(&range, options, &self.scanned) else {
            return Ok(());
        };
        let passed = Some(&self.scanned);
        match &self.db {
            ReadDb::ReadOnly(db) => {
                RocksScan::new(db.raw_iterator_opt(options), reverse, skip, passed).visit(f)
            }
            ReadDb::Live(db) => {
                RocksScan::new(db.raw_iterator_opt(options), reverse, skip, passed).visit(f)
            }
        }
    }

    fn commit(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    fn wrote(&self) -> bool {
        false
    }
}

struct RocksTransaction {
    /// Point reads' options, pinned to the transaction's snapshot (made once: a get is
    /// often the whole statement). They point into the transaction: declared first,
    /// dropped first.
    reads: ReadOptions,
    // Declared before `_db`: dropped first.
    txn: RocksTxn,
    _db: Arc<Db>,
    /// Whether anything was written: a read-only transaction is not committed, so
    /// reads go on when writes cannot (a full disk).
    dirty: bool,
    /// The store's row cache, told of the keys written here around the commit.
    rows: Option<Arc<RowCache>>,
    /// Hashes of the keys written (only with a row cache).
    written: Vec<u64>,
    /// Passed shared by the commit.
    gate: Arc<Gate>,
    /// Whether the commit writes the log out to the OS itself (see [`Store::flush_log`]).
    flush_log: bool,
    log: Arc<LogCounts>,
    /// Rows passed by the scans so far (see [`CACHED_SCAN_ROWS`]).
    scanned: Cell<usize>,
    /// Ranges [start, end) to delete once the transaction has committed (`drop_range`).
    dropped: Vec<(Vec<u8>, Vec<u8>)>,
    /// Whether commits sync the log (the dropped ranges' deletion does the same).
    sync: bool,
}

/// Read options pinned to `txn`'s snapshot.
fn snapshot_reads(txn: &RocksTxn) -> ReadOptions {
    let mut options = ReadOptions::default();
    options.set_snapshot(&txn.snapshot());
    options
}

impl RocksTransaction {
    fn wrote_key(&mut self, key: &[u8]) {
        self.dirty = true;
        if self.rows.is_some() {
            self.written.push(RowCache::hash(key));
        }
    }
}

fn map_commit_error(e: rocksdb::Error) -> Error {
    match e.kind() {
        ErrorKind::Busy | ErrorKind::TryAgain => Error::Conflict,
        _ => storage_error(e),
    }
}

impl Transaction for RocksTransaction {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.txn.get_opt(key, &self.reads).map_err(storage_error)
    }

    fn get_many(&mut self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.txn
            .multi_get_opt(keys, &self.reads)
            .into_iter()
            .map(|value| value.map_err(storage_error))
            .collect()
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.wrote_key(key);
        self.txn.put(key, value).map_err(storage_error)
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.wrote_key(key);
        self.txn.delete(key).map_err(storage_error)
    }

    fn drop_range(&mut self, range: KeyRange) -> Result<()> {
        match (range.start, range.end) {
            (Bound::Included(start), Bound::Excluded(end)) => {
                if start < end {
                    self.dirty = true;
                    self.dropped.push((start, end));
                }
                Ok(())
            }
            // Not a prefix's range: key by key (RocksDB deletes [start, end) only).
            (start, end) => {
                super::delete_each(self, KeyRange { start, end }, &|| Ok(())).map(|_| ())
            }
        }
    }

    fn scan(&mut self, range: KeyRange, reverse: bool) -> Scan<'_> {
        match scan_options(&range, snapshot_reads(&self.txn), &self.scanned) {
            None => Box::new(std::iter::empty()),
            Some((options, skip)) => Box::new(RocksScan::new(
                self.txn.raw_iterator_opt(options),
                reverse,
                skip,
                Some(&self.scanned),
            )),
        }
    }

    fn scan_each(&mut self, range: KeyRange, reverse: bool, f: &mut Visit<'_>) -> Result<()> {
        match scan_options(&range, snapshot_reads(&self.txn), &self.scanned) {
            None => Ok(()),
            Some((options, skip)) => RocksScan::new(
                self.txn.raw_iterator_opt(options),
                reverse,
                skip,
                Some(&self.scanned),
            )
            .visit(f),
        }
    }

    fn wrote(&self) -> bool {
        self.dirty
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let RocksTransaction {
            reads,
            txn,
            _db,
            dirty,
            rows,
            written,
            gate,
            flush_log,
            log,
            scanned: _,
            dropped,
            sync,
        } = *self;
        drop(reads);
        if !dirty {
            return txn.rollback().map_err(storage_error);
        }
        let _shared = gate.shared();
        // Cached reads of the written keys stop before the commit and are forgotten
        // after it (when `_writing` drops), whether it succeeds or not.
        let _writing = rows.as_deref().map(|rows| rows.writing(written));
        txn.commit().map_err(map_commit_error)?;
        if !dropped.is_empty() {
            delete_ranges(&_db, &dropped, sync)?;
        }
        log.committed(&_db, flush_log)
    }

    fn rollback(self: Box<Self>) -> Result<()> {
        self.txn.rollback().map_err(storage_error)
    }
}

/// A statement inserting rows, run alone (see [`Gate`]): from its first read to its
/// commit no other commit lands, so it reads the latest state, and its writes go into
/// one plain write batch: no snapshot, no indexed batch, no key tracking, no validation.
/// Own writes are indexed for reads only if a read comes after a write.
struct BulkTransaction {
    db: Arc<Db>,
    gate: Arc<Gate>,
    /// The gate, once entered.
    held: Option<Exclusive>,
    batch: rocksdb::WriteBatchWithTransaction<true>,
    /// The batch's writes by key (None: a delete), for reads; the first `folded`
    /// entries of the batch are in it.
    own: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    folded: usize,
    write_options: WriteOptions,
    /// Whether the commit writes the log out to the OS itself (see [`Store::flush_log`]).
    flush_log: bool,
    log: Arc<LogCounts>,
    rows: Option<Arc<RowCache>>,
    written: Vec<u64>,
    /// Whether the batch holds a put: `clear` may then not read the store alone.
    puts: bool,
}

impl BulkTransaction {
    /// Enters the gate, once.
    fn enter(&mut self) {
        if self.held.is_none() {
            self.held = Some(self.gate.exclusive());
        }
    }

    /// Enters the gate and brings `own` up to date with the batch.
    fn ready(&mut self) {
        self.enter();
        if self.folded < self.batch.len() {
            struct Fold<'a> {
                own: &'a mut std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
                skip: usize,
            }
            impl rocksdb::WriteBatchIterator for Fold<'_> {
                fn put(&mut self, key: &[u8], value: &[u8]) {
                    if self.skip > 0 {
                        self.skip -= 1;
                    } else {
                        self.own.insert(key.to_vec(), Some(value.to_vec()));
                    }
                }
                fn delete(&mut self, key: &[u8]) {
                    if self.skip > 0 {
                        self.skip -= 1;
                    } else {
                        self.own.insert(key.to_vec(), None);
                    }
                }
            }
            self.batch.iterate(&mut Fold {
                own: &mut self.own,
                skip: self.folded,
            });
            self.folded = self.batch.len();
        }
    }

    fn wrote_key(&mut self, key: &[u8]) {
        note_write(&self.rows, &mut self.written, key);
    }
}

/// Notes `key` as written for the row cache, if there is one (see [`RowCache::writing`]);
/// apart from `BulkTransaction::wrote_key` for callers that hold other fields borrowed.
fn note_write(rows: &Option<Arc<RowCache>>, written: &mut Vec<u64>, key: &[u8]) {
    if rows.is_some() {
        written.push(RowCache::hash(key));
    }
}

impl Transaction for BulkTransaction {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.ready();
        if let Some(own) = self.own.get(key) {
            return Ok(own.clone());
        }
        self.db.get(key).map_err(storage_error)
    }

    fn get_many(&mut self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.ready();
        let mut stored = if keys.len() < WALK_FROM {
            self.db
                .multi_get(keys)
                .into_iter()
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(storage_error)?
        } else {
            walk_many(&self.db, keys)?
        };
        for (key, stored) in keys.iter().zip(&mut stored) {
            if let Some(own) = self.own.get(key) {
                stored.clone_from(own);
            }
        }
        Ok(stored)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.wrote_key(key);
        self.puts = true;
        self.batch.put(key, value);
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.wrote_key(key);
        self.batch.delete(key);
        Ok(())
    }

    fn clear(&mut self, range: KeyRange, check: &dyn Fn() -> Result<()>) -> Result<u64> {
        if self.puts {
            // Keys this write put are not in the store yet: read through its own writes.
            return super::delete_each(self, range, check);
        }
        // Only deletes so far, which need no overlay: a key deleted twice stays deleted.
        // The keys go from the store's iterator straight into the batch, none held.
        self.enter();
        let Some((mut options, skip)) = scan_options(&range, ReadOptions::default(), &Cell::new(0))
        else {
            return Ok(0);
        };
        // The blocks of rows being deleted are not worth the block cache's room.
        options.fill_cache(false);
        let BulkTransaction {
            db,
            batch,
            rows,
            written,
            ..
        } = self;
        let mut count = 0u64;
        RocksScan::new(db.raw_iterator_opt(options), false, skip, None).visit(&mut |key, _| {
            note_write(rows, written, key);
            batch.delete(key);
            count += 1;
            if count.is_multiple_of(super::CLEAR_CHECK_EVERY) {
                check()?;
            }
            Ok(true)
        })?;
        Ok(count)
    }

    fn scan(&mut self, range: KeyRange, reverse: bool) -> Scan<'_> {
        self.ready();
        let Some((options, skip)) = scan_options(&range, ReadOptions::default(), &Cell::new(0))
        else {
            return Box::new(std::iter::empty());
        };
        let stored = RocksScan::new(self.db.raw_iterator_opt(options), reverse, skip, None);
        let own = self.own.range((range.start, range.end));
        let own: OwnWrites = if reverse {
            Box::new(own.rev())
        } else {
            Box::new(own)
        };
        Box::new(Overlay {
            stored: stored.peekable(),
            own: own.peekable(),
            reverse,
        })
    }

    fn wrote(&self) -> bool {
        !self.batch.is_empty()
    }

    fn hold(&mut self) {
        self.enter();
    }

    fn reserve(&mut self, bytes: usize) {
        // A 1,000-row INSERT's batch otherwise grows by doubling from empty, copying
        // itself on the way (1.5% of a bulk load's statement threads).
        if self.batch.is_empty() {
            self.batch = rocksdb::WriteBatchWithTransaction::with_capacity_bytes(bytes);
        }
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.enter();
        let _writing = self
            .rows
            .as_deref()
            .map(|rows| rows.writing(std::mem::take(&mut self.written)));
        let batch = std::mem::take(&mut self.batch);
        self.db
            .write_opt(batch, &self.write_options)
            .map_err(storage_error)?;
        self.log.committed(&self.db, self.flush_log)
    }

    fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// Keys from which a bulk write looks its keys up with one iterator walked in key order
/// rather than a MultiGet of each.
const WALK_FROM: usize = 16;

/// The stored values of `keys` (in their order), read by one iterator over their span in
/// key order: a key past the iterator's position is reached with `next` when it is the
/// very next stored key and a seek otherwise. A load into an empty key range (the common
/// bulk write) costs one seek in all, where a MultiGet probes every file's filter and
/// the memtable for every key.
fn walk_many(db: &Db, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]));
    let mut found = vec![None; keys.len()];
    let (Some(&first), Some(&last)) = (order.first(), order.last()) else {
        return Ok(found);
    };
    let mut options = ReadOptions::default();
    options.set_iterate_lower_bound(keys[first].clone());
    let mut upper = keys[last].clone();
    upper.push(0);
    options.set_iterate_upper_bound(upper);
    let mut iter = db.raw_iterator_opt(options);
    iter.seek(&keys[first]);
    for &i in &order {
        let key = keys[i].as_slice();
        if iter.key().is_some_and(|at| at < key) {
            iter.next();
            if iter.key().is_some_and(|at| at < key) {
                iter.seek(key);
            }
        }
        match (iter.key(), iter.value()) {
            (Some(at), Some(value)) if at == key => found[i] = Some(value.to_vec()),
            (Some(_), _) => {}
            (None, _) => break,
        }
    }
    iter.status().map_err(storage_error)?;
    Ok(found)
}

/// A transaction's own writes in a range (None: a delete), in scan order.
type OwnWrites<'a> = Box<dyn Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + 'a>;

/// Stored pairs overlaid with a transaction's own writes, in key order (or reverse).
struct Overlay<'a, S: Iterator<Item = Result<KeyValue>>> {
    stored: std::iter::Peekable<S>,
    own: std::iter::Peekable<OwnWrites<'a>>,
    reverse: bool,
}

impl<S: Iterator<Item = Result<KeyValue>>> Iterator for Overlay<'_, S> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.stored.peek(), self.own.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return self.stored.next(),
                (Some(Ok(_)), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(Ok((stored, _))), Some((own, _))) => {
                    let order = stored.cmp(own);
                    if self.reverse { order.reverse() } else { order }
                }
            };
            if order == std::cmp::Ordering::Less {
                return self.stored.next();
            }
            if order == std::cmp::Ordering::Equal {
                self.stored.next();
            }
            let (key, value) = self.own.next().expect("peeked");
            if let Some(value) = value {
                return Some(Ok((key.clone(), value.clone())));
            }
        }
    }
}

struct RocksScan<'a, D: DBAccess> {
    iter: DBRawIteratorWithThreadMode<'a, D>,
    reverse: bool,
    /// An excluded start key, skipped if met.
    skip: Option<Vec<u8>>,
    done: bool,
    /// The transaction's count of rows passed by its scans.
    passed: Option<&'a Cell<usize>>,
}

impl<'a, D: DBAccess> RocksScan<'a, D> {
    fn new(
        mut iter: DBRawIteratorWithThreadMode<'a, D>,
        reverse: bool,
        skip: Option<Vec<u8>>,
        passed: Option<&'a Cell<usize>>,
    ) -> Self {
        if reverse {
            iter.seek_to_last();
        } else {
            iter.seek_to_first();
        }
        RocksScan {
            iter,
            reverse,
            skip,
            done: false,
            passed,
        }
    }

    fn advance(&mut self) {
        if self.reverse {
            self.iter.prev();
        } else {
            self.iter.next();
        }
        if let Some(passed) = self.passed {
            passed.set(passed.get() + 1);
        }
    }
}

impl<D: DBAccess> RocksScan<'_, D> {
    /// Calls `f` with each pair, borrowed from the iterator, until it returns false.
    fn visit(mut self, f: &mut Visit<'_>) -> Result<()> {
        while self.iter.valid() {
            let key = self.iter.key().expect("valid iterator has a key");
            if self.skip.as_deref() != Some(key) {
                let value = self.iter.value().expect("valid iterator has a value");
                if !f(key, value)? {
                    return Ok(());
                }
            }
            self.advance();
        }
        self.iter.status().map_err(storage_error)
    }
}

impl<D: DBAccess> Iterator for RocksScan<'_, D> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if !self.iter.valid() {
                self.done = true;
                return self.iter.status().err().map(|e| Err(storage_error(e)));
            }
            let key = self.iter.key().expect("valid iterator has a key");
            let item = if self.skip.as_deref() == Some(key) {
                None
            } else {
                let value = self.iter.value().expect("valid iterator has a value");
                Some((key.to_vec(), value.to_vec()))
            };
            self.advance();
            if let Some(item) = item {
                return Some(Ok(item));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(txn: &mut dyn Transaction, reverse: bool) -> Vec<(String, String)> {
        txn.scan(KeyRange::prefix(b""), reverse)
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
            })
            .collect()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Reads the pairs under `prefix` in runs of `run` pairs, each run a new scan placed
    /// past the last key of the one before (as the executor streams a long result);
    /// `between` runs after the first run.
    fn scan_in_runs(
        txn: &mut dyn Transaction,
        prefix: &[u8],
        run: usize,
        reverse: bool,
        mut between: impl FnMut(),
    ) -> Vec<KeyValue> {
        let mut range = KeyRange::prefix(prefix);
        let mut seen = Vec::new();
        loop {
            let got: Vec<KeyValue> = txn
                .scan(range.clone(), reverse)
                .take(run)
                .map(Result::unwrap)
                .collect();
            let Some((last, _)) = got.last() else { break };
            if reverse {
                range.end = Bound::Excluded(last.clone());
            } else {
                range.start = Bound::Excluded(last.clone());
            }
            let full = got.len() == run;
            let first = seen.is_empty();
            seen.extend(got);
            if first {
                between();
            }
            if !full {
                break;
            }
        }
        seen
    }

    /// A statement outside a transaction that reads a long result in runs of rows, each
    /// from a new iterator, reads one state throughout: commits that delete, add and
    /// change rows after its first run are not seen by the later runs.
    #[test]
    fn a_read_outside_a_transaction_sees_one_state_across_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let key = |i: usize| format!("k{i:05}").into_bytes();
        let mut setup = store.begin().unwrap();
        for i in 0..3000 {
            setup.set(&key(i), b"old").unwrap();
        }
        setup.commit().unwrap();
        for reverse in [false, true] {
            let mut reader = store.begin_read().unwrap();
            let seen = scan_in_runs(reader.as_mut(), b"k", 100, reverse, || {
                let mut writer = store.begin().unwrap();
                for i in (0..3000).step_by(2) {
                    writer.delete(&key(i)).unwrap();
                    writer.set(&key(i + 1), b"new").unwrap();
                }
                writer.set(b"k99999", b"added").unwrap();
                writer.commit().unwrap();
            });
            let mut want: Vec<KeyValue> = (0..3000).map(|i| (key(i), b"old".to_vec())).collect();
            if reverse {
                want.reverse();
            }
            assert_eq!(seen.len(), want.len(), "reverse {reverse}");
            assert!(
                seen == want,
                "reverse {reverse}: a later run saw a later commit"
            );
            drop(reader);
            let mut reset = store.begin().unwrap();
            for i in 0..3000 {
                reset.set(&key(i), b"old").unwrap();
            }
            reset.delete(b"k99999").unwrap();
            reset.commit().unwrap();
        }
    }

    /// A long scan (read in runs, inside a transaction or not) leaves the block cache
    /// about as it found it, past its first [`CACHED_SCAN_ROWS`] rows; a short one
    /// fills it with the blocks it read.
    #[test]
    fn a_long_scan_does_not_fill_the_block_cache_and_a_short_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let rows = 100_000;
        let mut setup = store.begin().unwrap();
        for i in 0..rows {
            let value = format!("{i:0100}");
            setup
                .set(format!("k{i:06}").as_bytes(), value.as_bytes())
                .unwrap();
        }
        setup.commit().unwrap();
        store.flush().unwrap();
        // 100,000 rows of about 110 bytes: some 11 MB of blocks.
        let before = store.cache.get_usage();
        for in_transaction in [false, true] {
            let mut reader = if in_transaction {
                store.begin().unwrap()
            } else {
                store.begin_read().unwrap()
            };
            let seen = scan_in_runs(reader.as_mut(), b"k", 4096, false, || {});
            assert_eq!(seen.len(), rows);
            let grown = store.cache.get_usage() - before;
            assert!(
                grown < 4 << 20,
                "a long scan grew the block cache by {grown} bytes"
            );
        }
        let before = store.cache.get_usage();
        let mut reader = store.begin_read().unwrap();
        let seen: Vec<KeyValue> = reader
            .scan(KeyRange::prefix(b"k05"), false)
            .take(2000)
            .map(Result::unwrap)
            .collect();
        assert_eq!(seen.len(), 2000);
        let used = store.cache.get_usage();
        assert!(
            used >= before + 100_000,
            "a short scan of 2,000 rows did not fill the block cache ({before} -> {used} bytes)"
        );
    }

    /// A bulk write looks many keys up with one iterator walked in key order: for any
    /// keys, in any order and with repeats, over stored keys in the memtable and in
    /// table files, sparse and dense, it reads what one get per key reads.
    #[test]
    fn a_bulk_lookup_of_many_keys_reads_what_single_gets_read() {
        use proptest::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let key = |n: u32| format!("k{n:04}").into_bytes();
        // Every third key of 0..300 in a table file, then 300..400 densely in the
        // memtable, with a few of the filed ones rewritten or deleted there.
        let mut setup = store.begin().unwrap();
        for n in (0..300).step_by(3) {
            setup.set(&key(n), format!("file {n}").as_bytes()).unwrap();
        }
        setup.commit().unwrap();
        store.flush().unwrap();
        let mut setup = store.begin().unwrap();
        for n in 300..400 {
            setup.set(&key(n), format!("mem {n}").as_bytes()).unwrap();
        }
        setup.set(&key(30), b"rewritten").unwrap();
        setup.delete(&key(60)).unwrap();
        setup.commit().unwrap();
        let config = ProptestConfig {
            cases: 64,
            ..ProptestConfig::default()
        };
        proptest!(config, |(asked in proptest::collection::vec(0u32..450, 16..120),
                            own in proptest::collection::vec(0u32..450, 0..4))| {
            let asked: Vec<Vec<u8>> = asked.into_iter().map(key).collect();
            let mut bulk = store.begin_bulk(false).unwrap();
            for &n in &own {
                bulk.set(&key(n), b"own").unwrap();
            }
            let mut single = Vec::new();
            for k in &asked {
                single.push(bulk.get(k).unwrap());
            }
            prop_assert_eq!(bulk.get_many(&asked).unwrap(), single);
            bulk.rollback().unwrap();
        });
        // The single gets above do see what is stored.
        let mut bulk = store.begin_bulk(false).unwrap();
        assert_eq!(bulk.get(&key(30)).unwrap(), Some(b"rewritten".to_vec()));
        assert_eq!(bulk.get(&key(60)).unwrap(), None);
        assert_eq!(bulk.get(&key(33)).unwrap(), Some(b"file 33".to_vec()));
        assert_eq!(bulk.get(&key(31)).unwrap(), None);
    }

    /// A bulk write reads the latest commits overlaid with its own writes (gets, many
    /// gets and scans both ways, also after writes), and its commit lands whole.
    #[test]
    fn a_bulk_write_sees_commits_and_its_own_writes_and_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let mut setup = store.begin().unwrap();
        for (k, v) in [("a", "1"), ("c", "3"), ("e", "5")] {
            setup.set(k.as_bytes(), v.as_bytes()).unwrap();
        }
        setup.commit().unwrap();
        let mut bulk = store.begin_bulk(false).unwrap();
        assert_eq!(bulk.get(b"c").unwrap(), Some(b"3".to_vec()));
        bulk.set(b"b", b"2").unwrap();
        bulk.set(b"c", b"33").unwrap();
        bulk.delete(b"e").unwrap();
        bulk.set(b"f", b"6").unwrap();
        assert!(bulk.wrote());
        assert_eq!(bulk.get(b"c").unwrap(), Some(b"33".to_vec()));
        assert_eq!(bulk.get(b"e").unwrap(), None);
        let asked = [b"e".to_vec(), b"a".to_vec(), b"b".to_vec(), b"z".to_vec()];
        assert_eq!(
            bulk.get_many(&asked).unwrap(),
            [None, Some(b"1".to_vec()), Some(b"2".to_vec()), None]
        );
        let expected = owned(&[("a", "1"), ("b", "2"), ("c", "33"), ("f", "6")]);
        assert_eq!(pairs(bulk.as_mut(), false), expected);
        let mut backwards = expected.clone();
        backwards.reverse();
        assert_eq!(pairs(bulk.as_mut(), true), backwards);
        // A write after the reads is seen by the next read.
        bulk.set(b"a", b"11").unwrap();
        assert_eq!(bulk.get(b"a").unwrap(), Some(b"11".to_vec()));
        // Nothing is visible before the commit, everything after it.
        assert_eq!(store.get_latest(b"b").unwrap(), None);
        bulk.commit().unwrap();
        let mut after = store.begin().unwrap();
        assert_eq!(
            pairs(after.as_mut(), false),
            owned(&[("a", "11"), ("b", "2"), ("c", "33"), ("f", "6")])
        );
    }

    /// A transaction that wrote a key a bulk write then wrote fails at its commit, and
    /// a bulk write dropped without commit writes nothing and lets commits through.
    #[test]
    fn bulk_writes_and_transactions_conflict_as_transactions_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let mut earlier = store.begin().unwrap();
        earlier.set(b"k", b"from the transaction").unwrap();
        let mut bulk = store.begin_bulk(false).unwrap();
        assert_eq!(bulk.get(b"k").unwrap(), None, "an uncommitted write leaked");
        bulk.set(b"k", b"from the bulk write").unwrap();
        bulk.commit().unwrap();
        assert_eq!(earlier.commit().unwrap_err(), Error::Conflict);
        assert_eq!(
            store.get_latest(b"k").unwrap(),
            Some(b"from the bulk write".to_vec())
        );

        let mut dropped = store.begin_bulk(false).unwrap();
        dropped.get(b"k").unwrap();
        dropped.set(b"gone", b"1").unwrap();
        drop(dropped);
        let mut next = store.begin().unwrap();
        next.set(b"after", b"1").unwrap();
        next.commit().unwrap();
        assert_eq!(store.get_latest(b"gone").unwrap(), None);
        assert_eq!(store.get_latest(b"after").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn meets_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        super::super::conformance::run(&store);
    }

    /// The reader for single-read statements sees each commit as it lands, scans in
    /// order within bounds, and refuses writes.
    #[test]
    fn direct_reads_see_commits_and_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let mut reader = store.begin_read().unwrap();
        assert_eq!(reader.get(b"k1").unwrap(), None);
        let mut txn = store.begin().unwrap();
        for k in [b"k1", b"k2", b"k3"] {
            txn.set(k, b"v").unwrap();
        }
        txn.commit().unwrap();
        assert_eq!(reader.get(b"k1").unwrap(), Some(b"v".to_vec()));
        let range = KeyRange {
            start: Bound::Excluded(b"k1".to_vec()),
            end: Bound::Included(b"k3".to_vec()),
        };
        let keys: Vec<Vec<u8>> = reader.scan(range, true).map(|kv| kv.unwrap().0).collect();
        assert_eq!(keys, vec![b"k3".to_vec(), b"k2".to_vec()]);
        assert!(reader.set(b"k4", b"v").is_err());
        assert!(reader.delete(b"k1").is_err());
        reader.commit().unwrap();
        assert_eq!(store.begin().unwrap().get(b"k4").unwrap(), None);
    }

    /// With the row cache in front of point reads, a read never returns a value older
    /// than the last commit that finished before it began, while commits and reads of
    /// the same keys race on several threads.
    #[test]
    fn latest_reads_through_the_row_cache_never_go_back_in_time() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        assert!(store.rows.is_some(), "the row cache is on by default");
        const KEYS: usize = 4;
        const COMMITS: u64 = 5_000;
        let committed: Vec<AtomicU64> = (0..KEYS).map(|_| AtomicU64::new(0)).collect();
        let stale = AtomicU64::new(0);
        std::thread::scope(|s| {
            for writer in 0..2 {
                let (store, committed) = (&store, &committed);
                s.spawn(move || {
                    // Writer 0 owns the even keys, writer 1 the odd ones; each value is a
                    // counter that only grows.
                    for n in 1..=COMMITS {
                        let k = writer + 2 * (n as usize % (KEYS / 2));
                        let mut txn = store.begin().unwrap();
                        txn.set(&[k as u8], &n.to_be_bytes()).unwrap();
                        txn.commit().unwrap();
                        committed[k].fetch_max(n, Ordering::SeqCst);
                    }
                });
            }
            for _ in 0..2 {
                let (store, committed, stale) = (&store, &committed, &stale);
                s.spawn(move || {
                    for i in 0..50_000usize {
                        let k = i % KEYS;
                        let floor = committed[k].load(Ordering::SeqCst);
                        let seen = store
                            .get_latest(&[k as u8])
                            .unwrap()
                            .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
                        if seen < floor {
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(stale.load(Ordering::Relaxed), 0, "reads went back in time");
        for (k, c) in committed.iter().enumerate() {
            let last = store.get_latest(&[k as u8]).unwrap().unwrap();
            assert_eq!(
                u64::from_be_bytes(last.try_into().unwrap()),
                c.load(Ordering::SeqCst)
            );
        }
        let (entries, _) = store.rows.as_ref().unwrap().usage();
        assert!(entries > 0, "nothing was ever served from the cache");
    }

    /// A store opened for synced commits starts on a log already written to a memtable's
    /// size (a fresh directory and a reopened one alike), and the preparation leaves no
    /// key behind; what was committed before and after it survives reopening.
    #[test]
    fn a_synced_store_starts_on_a_prepared_log_and_keeps_its_data() {
        const MEMTABLE: usize = 1 << 20;
        let dir = tempfile::tempdir().unwrap();
        let open =
            |durability| RocksStore::open_sized(dir.path(), durability, 8 << 20, MEMTABLE).unwrap();
        let keys_in = |store: &RocksStore| -> Vec<Vec<u8>> {
            let everything = KeyRange {
                start: Bound::Unbounded,
                end: Bound::Unbounded,
            };
            let mut txn = store.begin().unwrap();
            txn.scan(everything, false)
                .map(|kv| kv.unwrap().0)
                .collect()
        };
        let commit = |store: &RocksStore, key: &[u8]| {
            let mut txn = store.begin().unwrap();
            txn.set(key, b"value").unwrap();
            txn.commit().unwrap();
        };
        {
            let store = open(Durability::Process);
            assert!(
                current_log_len(dir.path()) < MEMTABLE as u64,
                "only synced commits prepare the log"
            );
            commit(&store, b"k1");
        }
        for key in [b"k2", b"k3"] {
            let store = open(Durability::Sync);
            let len = current_log_len(dir.path());
            assert!(len >= MEMTABLE as u64, "the current log holds {len} bytes");
            commit(&store, key);
        }
        let store = open(Durability::Process);
        assert_eq!(keys_in(&store), [b"k1", b"k2", b"k3"]);
    }

    /// The table files in `dir`.
    fn table_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sst"))
            .collect();
        names.sort();
        names
    }

    /// Releasing the snapshot that kept a fresh table file's versions apart does not
    /// send RocksDB rewriting that file at once (a "BottommostFiles" compaction); it
    /// waits until the file is `BOTTOMMOST_REWRITE_DELAY_S` old.
    #[test]
    fn a_released_snapshot_does_not_rewrite_a_fresh_table_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        let old = store.begin().unwrap();
        for round in 0..3u8 {
            let mut txn = store.begin().unwrap();
            for i in 0..100u8 {
                txn.set(&[b'k', i], &[round; 100]).unwrap();
            }
            txn.commit().unwrap();
        }
        store.flush().unwrap();
        let files = table_files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        // A write after the file's newest, so that the release leaves none older than
        // the store's last one: every version in the file is then past keeping.
        let mut txn = store.begin().unwrap();
        txn.set(b"later", b"v").unwrap();
        txn.commit().unwrap();
        drop(old);
        // The release schedules the rewrite, if any, at once; give it a second to show.
        for _ in 0..10 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert_eq!(table_files(dir.path()), files);
        }
        let mut txn = store.begin().unwrap();
        assert_eq!(txn.get(b"k\x05").unwrap(), Some(vec![2; 100]));
    }

    #[test]
    fn data_survives_reopen_and_a_second_open_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = RocksStore::open(dir.path(), Durability::Sync).unwrap();
            let mut txn = store.begin().unwrap();
            txn.set(b"k", b"v").unwrap();
            txn.commit().unwrap();
            let err = RocksStore::open(dir.path(), Durability::Process)
                .err()
                .expect("second open must fail");
            assert!(err.to_string().contains("in use by another"), "{err}");
        }
        let store = RocksStore::open(dir.path(), Durability::Process).unwrap();
        assert_eq!(
            store.begin().unwrap().get(b"k").unwrap(),
            Some(b"v".to_vec())
        );
    }
}
