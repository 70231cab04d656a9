//! The database handle and sessions.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::catalog::{self, Table};
use crate::error::{Error, Result};
use crate::sql::ast::Statement;
use crate::sql::execute::{self, IdAllocator, Outcome, Params, ResultSink};
use crate::sql::params;
use crate::sql::plan::{self, ColumnInfo, Plan};
use crate::sql::point::PointRead;
use crate::sql::translate;
use crate::storage::group_sync::{GroupSync, Synced};
use crate::storage::memory::MemoryStore;
use crate::storage::rocks::{ReadOnlyStore, RocksStore};
use crate::storage::{Durability, Store, Transaction};
use crate::users::{self, User};
use crate::value::{DataType, Value};

/// How to open a database.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub durability: Durability,
    /// Bytes one statement may hold in sorts, hash tables and materialized rows before
    /// it fails with 53200; None: no limit.
    pub statement_memory: Option<usize>,
    /// Open for reading only: every write fails with 25006. (A data directory on a
    /// read-only file system is opened so anyway.)
    pub read_only: bool,
    /// Bytes of RocksDB block cache; None: 256 MiB.
    pub cache_bytes: Option<usize>,
    /// Bytes of rows kept in front of RocksDB for point selects outside transactions
    /// (see [`crate::storage::row_cache`]); None: 64 MiB, 0: none.
    pub row_cache_bytes: Option<usize>,
    /// Bytes of writes RocksDB gathers in one memory table before writing it to a table
    /// file; None: 128 MiB.
    pub memtable_bytes: Option<usize>,
}

struct Shared {
    /// Group commit, for a store that syncs commits (declared before `store`: its thread
    /// stops before the store closes).
    sync: Option<GroupSync>,
    store: Box<dyn Store>,
    /// Next integer id per table id (hidden row ids, INTEGER PRIMARY KEY values). Ids come
    /// from here rather than from a stored counter so concurrent inserts never conflict
    /// on a counter key; a counter is seeded from the largest stored id the first time
    /// its table is used. Ids of rolled-back inserts are skipped while the database stays
    /// open; after a reopen, counting resumes after the largest stored id.
    ids: Mutex<HashMap<u64, i64>>,
    /// Bumped by every schema change, so prepared statements know to plan again.
    schema_epoch: AtomicU64,
    /// See [`Options::statement_memory`].
    statement_memory: usize,
}

impl Shared {
    /// Whether any user exists (then clients must log in, and only admins administer).
    fn users_exist(&self) -> Result<bool> {
        let mut txn = self.store.begin()?;
        let any = users::any(txn.as_mut());
        txn.rollback()?;
        any
    }

    /// Runs `f` on the table's counter (the next id to hand out), seeding it from the
    /// store the first time.
    ///
    /// The store is read without the counters' lock held: a bulk write may wait there
    /// for the commit gate (see `storage::gate`), and a gate holder may need a counter.
    /// Two first uses may both read; the first to finish seeds the counter.
    fn with_counter<T>(
        &self,
        table: &Table,
        max_existing: &mut dyn FnMut() -> Result<i64>,
        f: impl FnOnce(&mut i64) -> Result<T>,
    ) -> Result<T> {
        let seeded = self.ids.lock().expect("poisoned").contains_key(&table.id);
        let seed = if seeded {
            None
        } else {
            Some(max_existing()?.checked_add(1).ok_or(Error::Overflow)?)
        };
        let mut counters = self.ids.lock().expect("poisoned");
        let counter = match (counters.entry(table.id), seed) {
            (std::collections::hash_map::Entry::Occupied(e), _) => e.into_mut(),
            (std::collections::hash_map::Entry::Vacant(e), Some(seed)) => e.insert(seed),
            (std::collections::hash_map::Entry::Vacant(_), None) => {
                return Err(Error::Storage(
                    "internal: an id counter vanished while in use".into(),
                ));
            }
        };
        f(counter)
    }
}

impl IdAllocator for Shared {
    fn next_id(&self, table: &Table, max_existing: &mut dyn FnMut() -> Result<i64>) -> Result<i64> {
        self.with_counter(table, max_existing, |next| {
            let id = *next;
            *next = id.checked_add(1).ok_or(Error::Overflow)?;
            Ok(id)
        })
    }

    fn observe_id(
        &self,
        table: &Table,
        id: i64,
        max_existing: &mut dyn FnMut() -> Result<i64>,
    ) -> Result<i64> {
        self.with_counter(table, max_existing, |next| {
            note_id(next, id);
            Ok(*next)
        })
    }

    fn claim_id(
        &self,
        table: &Table,
        id: i64,
        max_existing: &mut dyn FnMut() -> Result<i64>,
    ) -> Result<bool> {
        self.with_counter(table, max_existing, |next| Ok(note_id(next, id)))
    }
}

/// Moves a table's id counter (one past every id it has seen) past `id`, and says
/// whether `id` was above every id seen. At i64::MAX the counter stays put and cannot
/// say so: the next allocation then collides with the existing key and the INSERT fails
/// with a unique violation, and a claim of i64::MAX is never new.
fn note_id(next: &mut i64, id: i64) -> bool {
    let above = id >= *next;
    if above {
        *next = id.saturating_add(1);
    }
    above && id < i64::MAX
}

/// An open database. Cheap to clone; clones share the store. The store closes when the
/// last clone (and every session) is dropped.
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

/// Deletes the rows and index entries of dropped tables and indexes that a crash left
/// behind (see [`catalog::sweep_orphans`]).
fn sweep(store: &dyn Store) -> Result<()> {
    let mut txn = store.begin()?;
    let swept = catalog::sweep_orphans(txn.as_mut())?;
    if swept == 0 {
        return txn.rollback();
    }
    txn.commit()?;
    tracing::info!("deleted what {swept} dropped tables and indexes left behind");
    Ok(())
}

impl Database {
    /// Opens (creating if missing) a database in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Database> {
        Self::open_with(dir, Options::default())
    }

    /// Opens (creating if missing) a database in `dir`.
    pub fn open_with(dir: &Path, options: Options) -> Result<Database> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Storage(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let store: Box<dyn Store> = if options.read_only {
            Box::new(ReadOnlyStore::open(
                dir,
                "the server was started with --read-only",
            )?)
        } else {
            let cache = options
                .cache_bytes
                .unwrap_or(crate::storage::rocks::DEFAULT_CACHE_BYTES);
            let rows = options
                .row_cache_bytes
                .unwrap_or(crate::storage::rocks::DEFAULT_ROW_CACHE_BYTES);
            let memtable = options
                .memtable_bytes
                .unwrap_or(crate::storage::rocks::DEFAULT_MEMTABLE_BYTES);
            match RocksStore::open_sized(dir, options.durability, cache, memtable) {
                Ok(store) => {
                    sweep(&store)?;
                    Box::new(store.with_row_cache(rows))
                }
                Err(e) if e.to_string().contains("Read-only file system") => {
                    tracing::warn!(
                        "{} is on a read-only file system: serving reads only",
                        dir.display()
                    );
                    let why = format!(
                        "the data directory {} is on a read-only file system",
                        dir.display()
                    );
                    Box::new(ReadOnlyStore::open(dir, &why)?)
                }
                Err(e) => return Err(e),
            }
        };
        let mut db = Self::with_store(store);
        if let Some(sync) = db.shared.store.wal_sync() {
            Arc::get_mut(&mut db.shared).expect("not shared yet").sync =
                Some(GroupSync::start(sync)?);
        }
        if let Some(bytes) = options.statement_memory {
            Arc::get_mut(&mut db.shared)
                .expect("not shared yet")
                .statement_memory = bytes;
        }
        Ok(db)
    }

    /// A database that lives in memory only (for tests and experiments).
    pub fn memory() -> Database {
        Self::with_store(Box::new(MemoryStore::new()))
    }

    fn with_store(store: Box<dyn Store>) -> Database {
        Database {
            shared: Arc::new(Shared {
                sync: None,
                store,
                ids: Mutex::new(HashMap::new()),
                schema_epoch: AtomicU64::new(0),
                statement_memory: usize::MAX,
            }),
        }
    }

    /// A new session.
    pub fn session(&self) -> Session {
        Session {
            shared: self.shared.clone(),
            txn: TxnState::Autocommit,
            interrupt: None,
            ddl_pending: false,
            user: None,
            defer_durability: false,
            pending: None,
        }
    }

    /// Calls `listener` (from the log sync thread; it must return quickly) after each
    /// group sync, with the tickets it made durable (or failed to). Only with `--sync`
    /// durability; see [`Session::set_defer_durability`].
    pub fn on_synced(&self, listener: Box<dyn Fn(&Synced) + Send + Sync>) {
        if let Some(sync) = &self.shared.sync {
            sync.listen(listener);
        }
    }

    /// Whether a deferred commit's ticket is durable: None while its sync runs, then
    /// Ok, or the error that the sync of the log failed.
    pub fn sync_outcome(&self, ticket: u64) -> Option<Result<()>> {
        self.shared
            .sync
            .as_ref()
            .map_or(Some(Ok(())), |s| s.outcome(ticket))
    }

    /// Whether clients must log in: some user exists.
    pub fn auth_required(&self) -> Result<bool> {
        self.shared.users_exist()
    }

    /// The user, if `password` is theirs. An unknown name costs the same time as a wrong
    /// password and gives the same answer (None).
    pub fn authenticate(&self, name: &str, password: &str) -> Result<Option<User>> {
        let mut txn = self.shared.store.begin()?;
        let stored = users::load(txn.as_mut(), name);
        txn.rollback()?;
        Ok(match stored? {
            Some((admin, hash)) if users::verify(&hash, password) => Some(User {
                name: name.to_string(),
                admin,
            }),
            Some(_) => None,
            None => {
                users::verify(users::decoy(), password);
                None
            }
        })
    }

    /// Creates `name` as an admin if no user exists yet (the initial admin of a new
    /// database); returns whether it did.
    pub fn create_initial_admin(&self, name: &str, password: &str) -> Result<bool> {
        let Some(users::UserStatement::Create { name, .. }) =
            users::parse(&format!("CREATE USER {name} PASSWORD 'x'"))?
        else {
            return Err(Error::InvalidValue(format!("invalid user name {name:?}")));
        };
        if password.is_empty() {
            return Err(Error::InvalidValue("a password cannot be empty".into()));
        }
        let mut txn = self.shared.store.begin()?;
        if users::any(txn.as_mut())? {
            txn.rollback()?;
            return Ok(false);
        }
        users::store(txn.as_mut(), &name, true, &users::hash(password)?)?;
        txn.commit()?;
        Ok(true)
    }

    /// Hands every commit made so far to the OS (what a commit deferred by
    /// [`Session::set_defer_durability`] needs without `--sync`): after it, a crash of
    /// the server process no longer loses them.
    pub fn flush_log(&self) -> Result<()> {
        self.shared.store.flush_log()
    }

    /// Flushes memory tables to disk; the write-ahead log already holds every commit, so
    /// this only shortens recovery at the next start.
    pub fn flush(&self) -> Result<()> {
        self.shared.store.flush()
    }
}

/// The results of one statement, collected in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<ColumnInfo>,
    pub rows: Vec<Vec<Value>>,
    pub outcome: Outcome,
}

/// Where a session stands with respect to explicit transactions.
enum TxnState {
    /// No BEGIN: each statement runs in its own transaction.
    Autocommit,
    /// Between BEGIN and COMMIT/ROLLBACK.
    Open(Box<dyn Transaction>),
    /// A statement failed inside the transaction, which was rolled back; everything but
    /// COMMIT and ROLLBACK is refused until one of them ends the block.
    Aborted,
}

/// A connection's view of the database.
///
/// Outside a transaction each statement runs in its own transaction and is atomic: it
/// takes effect whole or not at all. After BEGIN, statements share one transaction that
/// reads from the snapshot taken at BEGIN and sees its own writes; COMMIT makes them
/// visible together, or fails with 40001 if a concurrent transaction committed a write
/// to the same rows first (nothing is then written). As in PostgreSQL, an error inside a
/// transaction aborts it. Dropping a session rolls back its open transaction.
pub struct Session {
    shared: Arc<Shared>,
    txn: TxnState,
    /// When set (by another thread), the running statement stops with 57014.
    interrupt: Option<Arc<AtomicBool>>,
    /// The open transaction changed the schema (the epoch moves at its COMMIT).
    ddl_pending: bool,
    /// Who logged in (None: nobody; while no user exists, anyone may do anything).
    user: Option<User>,
    /// Commit outside BEGIN without making the commit durable, leaving in `pending`
    /// what the caller must wait for before acknowledging.
    defer_durability: bool,
    pending: Option<Pending>,
}

/// What a deferred commit needs before it may be acknowledged (see
/// [`Session::set_defer_durability`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// A group sync covering this ticket (`--sync` durability).
    Sync(u64),
    /// A [`Database::flush_log`].
    Flush,
}

/// An index as the catalog describes it: (table, index, columns, unique).
pub type IndexInfo = (String, String, Vec<String>, bool);

/// A statement prepared once and run many times with new parameter values: parsed and
/// planned once, planned again only if the schema changed since.
#[derive(Clone, Debug)]
pub struct Prepared {
    statement: Statement,
    /// None for transaction control (BEGIN, COMMIT, ROLLBACK). Shared with each run,
    /// which reads it in place (an INSERT's rows) or copies it (see `execute`).
    plan: Option<Arc<Plan>>,
    epoch: u64,
    /// For each parameter (`$1` first), the type it is compared with or stored into,
    /// where the statement shows it.
    pub param_types: Vec<Option<DataType>>,
    /// The columns of the rows it returns (empty for statements without rows).
    pub columns: Vec<ColumnInfo>,
    /// See [`Prepared::is_point`].
    point: bool,
    /// A query that reads through one storage operation (one get or one scan), so that
    /// outside a transaction it needs no snapshot of its own.
    single_read: bool,
    /// A point select compiled to a key lookup (see `sql::point`).
    point_read: Option<Box<PointRead>>,
    /// The plan uses each parameter at most once, so a run may move the values given
    /// into place (see [`execute::Params::Movable`]).
    params_once: bool,
}

impl Prepared {
    /// Whether the statement touches at most one row, found by its full primary key (or
    /// inserts a single row): work of microseconds whatever the parameters.
    pub fn is_point(&self) -> bool {
        self.point
    }

    /// Whether runs outside a transaction read the row by a key built straight from the
    /// parameters (a point select of plain columns; see `sql::point`).
    pub fn is_key_lookup(&self) -> bool {
        self.point_read.is_some()
    }
}

/// A plain prepared INSERT (`VALUES`, no `ON CONFLICT`, no `RETURNING`) into a table
/// without secondary indexes: run outside BEGIN as a bulk write ([`Store::begin_bulk`]),
/// it reads its keys once, before it writes, and sends nothing to the client while it
/// holds off other commits. A load of many rows skips the optimistic transaction's
/// indexed batch, key tracking and validation for each; so does a single row, whose key
/// check and write under the gate cost less than that machinery (single-row inserts at
/// 50 clients: 10.4-10.8 against 12.5-13.2 us of server CPU each, docs/performance.md,
/// session 13).
///
/// So does emptying tables (TRUNCATE, DELETE without WHERE or RETURNING): its deletes go
/// from the store's iterator into one plain batch. Through the optimistic transaction
/// every deleted key was tracked, indexed and validated at commit: 4.6-8.6 s for a 1M-row
/// DELETE, nine tenths of it that machinery (docs/performance.md, session 20).
fn bulk_write(plan: &Plan) -> bool {
    match plan {
        Plan::Insert {
            table,
            rows: plan::InsertRows::Values(_),
            on_conflict: None,
            returning: None,
            ..
        } => table.indexes.is_empty(),
        Plan::Clear { .. } => true,
        _ => false,
    }
}

/// Whether a statement given as text plans to [`Plan::Clear`], which runs as a bulk
/// write (see [`bulk_write`]); decided before its transaction begins.
fn clears(statement: &Statement) -> bool {
    match statement {
        Statement::Truncate { .. } => true,
        Statement::Delete {
            filter: None,
            returning,
            ..
        } => returning.is_empty(),
        _ => false,
    }
}

/// See [`Prepared::is_point`].
fn point_plan(plan: &Plan) -> bool {
    match plan {
        Plan::Query { node, .. } => point_node(node),
        Plan::Update { source, .. } | Plan::Delete { source, .. } => point_node(source),
        Plan::Insert {
            rows: plan::InsertRows::Values(rows),
            ..
        } => rows.len() == 1,
        _ => false,
    }
}

/// Whether a query node reads storage once: a scan (or a key lookup) under filters,
/// projections and limits whose expressions hold no subquery.
fn single_read(node: &plan::Node) -> bool {
    use crate::sql::ast::Expr;
    use plan::Node;
    let plain = |e: &Expr| !e.any(&|x| matches!(x, Expr::Subquery { .. } | Expr::Planned { .. }));
    match node {
        Node::Project { source, exprs } => exprs.iter().all(plain) && single_read(source),
        Node::Filter { source, predicate } => plain(predicate) && single_read(source),
        Node::Limit { source, .. } => single_read(source),
        Node::Scan { filter, .. } => filter.as_ref().is_none_or(plain),
        _ => false,
    }
}

/// Whether a node reads one row by full primary key (directly, or through a filter
/// whose equalities with constants or parameters cover the key).
fn point_node(node: &plan::Node) -> bool {
    use crate::sql::ast::{BinaryOp, Expr};
    use plan::Node;
    match node {
        Node::Project { source, .. } | Node::Filter { source, .. } | Node::Limit { source, .. } => {
            point_node(source)
        }
        Node::Scan {
            table,
            access,
            filter,
            ..
        } => {
            if access.is_primary_point(table) {
                return true;
            }
            let Some(filter) = filter else { return false };
            // The AND-ed parts, by reference: this runs on every execution.
            fn parts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
                match e {
                    Expr::Binary(BinaryOp::And, l, r) => {
                        parts(l, out);
                        parts(r, out);
                    }
                    other => out.push(other),
                }
            }
            let mut conjuncts = Vec::new();
            parts(filter, &mut conjuncts);
            !table.primary_key.is_empty()
                && table.primary_key.iter().all(|&pk| {
                    conjuncts.iter().any(|c| match c {
                        Expr::Binary(BinaryOp::Eq, l, r) => matches!(
                            (l.as_ref(), r.as_ref()),
                            (Expr::Column(x), Expr::Param(_) | Expr::Literal(_))
                                | (Expr::Param(_) | Expr::Literal(_), Expr::Column(x)) if *x == pk
                        ),
                        _ => false,
                    })
                })
        }
        _ => false,
    }
}

/// What a statement run needs: a statement to plan, or a plan made earlier.
enum Work {
    Statement(Statement),
    /// A plan, whether it is a query reading storage once (see `single_read`), and
    /// whether it is a bulk write (see `bulk_write`).
    Plan(Arc<Plan>, bool, bool),
}

impl Session {
    /// Let statements outside BEGIN commit without making their commit durable: the
    /// caller must then take [`Session::take_pending`] after each statement and
    /// acknowledge it only once that is done: with `--sync` durability when
    /// [`Database::sync_outcome`] says its ticket is durable (group commit: one fsync for
    /// many sessions' commits), otherwise after a [`Database::flush_log`] (one write of
    /// the log for many commits).
    pub fn set_defer_durability(&mut self, on: bool) {
        self.defer_durability = on;
    }

    /// What the last statement's deferred commit still needs, if it wrote anything.
    pub fn take_pending(&mut self) -> Option<Pending> {
        self.pending.take()
    }

    /// Who this session acts as (after a successful login).
    pub fn set_user(&mut self, user: Option<User>) {
        self.user = user;
    }

    /// Fails unless the session may administer the database: it logged in as an admin,
    /// or no user exists yet.
    fn require_admin(&self, what: &str) -> Result<()> {
        if self.user.as_ref().is_some_and(|u| u.admin) {
            return Ok(());
        }
        if self.shared.users_exist()? {
            return Err(Error::PermissionDenied(format!("only an admin may {what}")));
        }
        Ok(())
    }

    /// Runs CREATE / ALTER / DROP USER or SHOW USERS, each in a transaction of its own.
    fn run_user_statement(
        &mut self,
        statement: users::UserStatement,
        sink: &mut dyn ResultSink,
    ) -> Result<()> {
        use users::UserStatement;
        if !matches!(self.txn, TxnState::Autocommit) {
            return Err(Error::Unsupported(
                "user statements inside a transaction (run them outside BEGIN)".into(),
            ));
        }
        let tag = match &statement {
            UserStatement::Create { .. } => "CREATE USER",
            UserStatement::Alter { .. } => "ALTER USER",
            UserStatement::Drop { .. } => "DROP USER",
            UserStatement::Show => "SHOW",
        };
        let own = |name: &str| self.user.as_ref().is_some_and(|u| u.name == name);
        match &statement {
            UserStatement::Alter { name, .. } if own(name) => {}
            UserStatement::Show => {}
            _ => self.require_admin("create, change or drop users")?,
        }
        let mut txn = self.shared.store.begin()?;
        let mut rows_returned = 0;
        match statement {
            UserStatement::Create {
                name,
                password,
                admin,
            } => {
                if users::load(txn.as_mut(), &name)?.is_some() {
                    return Err(Error::NameTaken(format!("user {name}")));
                }
                // The first user is an admin: someone must be able to manage the rest.
                let admin = admin || !users::any(txn.as_mut())?;
                users::store(txn.as_mut(), &name, admin, &users::hash(&password)?)?;
            }
            UserStatement::Alter { name, password } => {
                let (admin, _) = users::load(txn.as_mut(), &name)?
                    .ok_or_else(|| Error::InvalidValue(format!("no such user: {name}")))?;
                users::store(txn.as_mut(), &name, admin, &users::hash(&password)?)?;
            }
            UserStatement::Drop { name, if_exists } => match users::load(txn.as_mut(), &name)? {
                None if if_exists => {}
                None => return Err(Error::InvalidValue(format!("no such user: {name}"))),
                Some((admin, _)) => {
                    let admins = users::list(txn.as_mut())?
                        .iter()
                        .filter(|u| u.admin)
                        .count();
                    if admin && admins == 1 {
                        return Err(Error::InvalidValue(format!(
                            "cannot drop {name}, the last admin; make another admin first"
                        )));
                    }
                    users::remove(txn.as_mut(), &name)?;
                }
            },
            UserStatement::Show => {
                sink.columns(&[
                    ColumnInfo {
                        name: "user".into(),
                        data_type: Some(DataType::Text),
                    },
                    ColumnInfo {
                        name: "admin".into(),
                        data_type: Some(DataType::Boolean),
                    },
                ])?;
                for user in users::list(txn.as_mut())? {
                    sink.row(vec![Value::Text(user.name), Value::Boolean(user.admin)])?;
                    rows_returned += 1;
                }
            }
        }
        txn.commit()?;
        sink.complete(&Outcome {
            tag,
            rows_affected: 0,
            rows_returned,
        })
    }

    /// Runs every statement in `sql`, streaming results to `sink`. Stops at the first
    /// error; statements before it stay committed (or, inside BEGIN, stay pending).
    pub fn execute(&mut self, sql: &str, sink: &mut dyn ResultSink) -> Result<()> {
        self.execute_with(sql, &[], sink)
    }

    /// Like [`Session::execute`], with values for the statement's parameters (`$1`,
    /// `$2`, ... or `?`); a statement with parameters must be alone in `sql`.
    pub fn execute_with(
        &mut self,
        sql: &str,
        params: &[Value],
        sink: &mut dyn ResultSink,
    ) -> Result<()> {
        // kvsql's own statements (users, BACKUP), which sqlparser does not know, run
        // piece by piece; a script without them goes to sqlparser whole.
        let pieces = split_statements(sql);
        if pieces.iter().any(|p| is_own_statement(p)) {
            if !params.is_empty() && pieces.len() > 1 {
                return Err(Error::Parameters(format!(
                    "parameters can be given to a single statement, not {}",
                    pieces.len()
                )));
            }
            for piece in pieces {
                if let Some(statement) = users::parse(piece)? {
                    self.run_user_statement(statement, sink)?;
                } else if let Some(target) = backup_target(piece)? {
                    self.require_admin("take a backup")?;
                    self.shared.store.backup(Path::new(&target))?;
                    sink.complete(&Outcome {
                        tag: "BACKUP",
                        rows_affected: 0,
                        rows_returned: 0,
                    })?;
                } else {
                    self.execute_with(piece, params, sink)?;
                }
            }
            return Ok(());
        }
        let statements = translate::parse(sql)?;
        if !params.is_empty() && statements.len() > 1 {
            return Err(Error::Parameters(format!(
                "parameters can be given to a single statement, not {}",
                statements.len()
            )));
        }
        for statement in statements {
            let outcome = self.run(Work::Statement(statement), Params::Shared(params), sink)?;
            sink.complete(&outcome)?;
        }
        Ok(())
    }

    /// Parses and plans one statement for running many times.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        let mut statements = translate::parse(sql)?;
        if statements.len() != 1 {
            return Err(Error::Parameters(format!(
                "a prepared statement must be exactly one statement, not {}",
                statements.len()
            )));
        }
        let statement = statements.pop().expect("one statement");
        self.plan_prepared(statement)
    }

    fn plan_prepared(&mut self, statement: Statement) -> Result<Prepared> {
        let epoch = self.shared.schema_epoch.load(Ordering::Acquire);
        if matches!(
            statement,
            Statement::Begin | Statement::Commit | Statement::Rollback
        ) {
            return Ok(Prepared {
                statement,
                plan: None,
                epoch,
                param_types: Vec::new(),
                columns: Vec::new(),
                point: false,
                single_read: false,
                point_read: None,
                params_once: true,
            });
        }
        let plan = match &mut self.txn {
            TxnState::Open(txn) => plan::plan(statement.clone(), txn.as_mut())?,
            TxnState::Aborted => return Err(Error::TransactionAborted),
            TxnState::Autocommit => {
                let mut txn = self.shared.store.begin()?;
                let plan = plan::plan(statement.clone(), txn.as_mut())?;
                txn.rollback()?;
                plan
            }
        };
        let count = params::count(&plan);
        let single = matches!(&plan, Plan::Query { node, .. } if single_read(node));
        let point_read = PointRead::compile(&plan, count).map(Box::new);
        Ok(Prepared {
            params_once: params::used_once(&plan, count),
            param_types: params::types(&plan, count),
            columns: plan.result_columns(),
            statement,
            epoch,
            point: point_plan(&plan),
            single_read: single,
            point_read,
            plan: Some(Arc::new(plan)),
        })
    }

    /// Runs a prepared statement with values for its parameters (consumed: an INSERT
    /// moves them into its rows).
    pub fn execute_prepared(
        &mut self,
        prepared: &mut Prepared,
        mut params: Vec<Value>,
        sink: &mut dyn ResultSink,
    ) -> Result<()> {
        // Plan again after a committed schema change, or inside a transaction that
        // changed the schema itself (not committed yet, so the epoch has not moved).
        if self.ddl_pending || prepared.epoch != self.shared.schema_epoch.load(Ordering::Acquire) {
            // The schema changed: plan again (a dropped table now fails clearly here).
            *prepared = self.plan_prepared(prepared.statement.clone())?;
        }
        // A point select outside BEGIN: straight to the key (same rows as the plan).
        if let (Some(point), TxnState::Autocommit) = (&prepared.point_read, &self.txn)
            && let Some(key) = point.key(&params)
        {
            sink.columns(&prepared.columns)?;
            let returned = point.read(&key, self.shared.store.as_ref(), sink)?;
            return sink.complete(&Outcome {
                tag: "SELECT",
                rows_affected: 0,
                rows_returned: returned,
            });
        }
        let work = match &prepared.plan {
            Some(plan) => {
                // Counted once when planned: a 1,000-row INSERT's plan is thousands of
                // expressions to walk on every run otherwise.
                params::check_given(prepared.param_types.len(), &params)?;
                Work::Plan(plan.clone(), prepared.single_read, bulk_write(plan))
            }
            None => Work::Statement(prepared.statement.clone()),
        };
        let params = if prepared.params_once {
            Params::Movable(&mut params)
        } else {
            Params::Shared(&params)
        };
        let outcome = self.run(work, params, sink)?;
        sink.complete(&outcome)
    }

    fn run(
        &mut self,
        work: Work,
        params: Params<'_>,
        sink: &mut dyn ResultSink,
    ) -> Result<Outcome> {
        let control = |tag| Outcome {
            tag,
            rows_affected: 0,
            rows_returned: 0,
        };
        let (statement, work_plan, single, bulk) = match work {
            Work::Statement(statement) => {
                let bulk = clears(&statement);
                (Some(statement), None, false, bulk)
            }
            Work::Plan(plan, single, bulk) => (None, Some(plan), single, bulk),
        };
        // A prepared plan's parameters were counted by `execute_prepared`.
        let counted = work_plan.is_some();
        let plan_of = |txn: &mut dyn Transaction,
                       statement: Option<Statement>,
                       work_plan: Option<Arc<Plan>>| {
            match (statement, work_plan) {
                (Some(statement), _) => plan::plan(statement, txn).map(Arc::new),
                (None, Some(plan)) => Ok(plan),
                (None, None) => unreachable!("work has a statement or a plan"),
            }
        };
        let outcome = match (statement, &mut self.txn) {
            (Some(Statement::Begin), TxnState::Autocommit) => {
                self.txn = TxnState::Open(self.shared.store.begin()?);
                return Ok(control("BEGIN"));
            }
            (Some(Statement::Begin), _) => return Err(Error::TransactionInProgress),
            (Some(Statement::Commit), _) => {
                let ddl = std::mem::take(&mut self.ddl_pending);
                return match std::mem::replace(&mut self.txn, TxnState::Autocommit) {
                    TxnState::Open(txn) => txn.commit().map(|()| {
                        if ddl {
                            self.shared.schema_epoch.fetch_add(1, Ordering::AcqRel);
                        }
                        control("COMMIT")
                    }),
                    // Like PostgreSQL: COMMIT of an aborted transaction rolls it back.
                    TxnState::Aborted => Ok(control("ROLLBACK")),
                    TxnState::Autocommit => Ok(control("COMMIT")),
                };
            }
            (Some(Statement::Rollback), _) => {
                self.ddl_pending = false;
                if let TxnState::Open(txn) = std::mem::replace(&mut self.txn, TxnState::Autocommit)
                {
                    txn.rollback()?;
                }
                return Ok(control("ROLLBACK"));
            }
            (_, TxnState::Aborted) => return Err(Error::TransactionAborted),
            (statement, TxnState::Open(txn)) => {
                let result = plan_of(txn.as_mut(), statement, work_plan).and_then(|plan| {
                    run_plan(
                        &self.shared,
                        plan,
                        txn.as_mut(),
                        sink,
                        params,
                        counted,
                        &self.interrupt,
                    )
                });
                match result {
                    Ok((outcome, ddl)) => {
                        self.ddl_pending |= ddl;
                        outcome
                    }
                    Err(e) => {
                        // Dropping the transaction rolls it back.
                        self.txn = TxnState::Aborted;
                        self.ddl_pending = false;
                        return Err(e);
                    }
                }
            }
            (statement, TxnState::Autocommit) => {
                // A query that reads once is consistent without a transaction's snapshot.
                // With synced commits, commit without the sync and join a group sync; a
                // caller deferring durability writes the log out itself.
                let deferred = self.shared.sync.is_some() || self.defer_durability;
                let mut txn = if single {
                    self.shared.store.begin_read()?
                } else if bulk {
                    self.shared.store.begin_bulk(deferred)?
                } else if deferred {
                    self.shared.store.begin_unsynced()?
                } else {
                    self.shared.store.begin()?
                };
                let plan = plan_of(txn.as_mut(), statement, work_plan)?;
                let (outcome, ddl) = run_plan(
                    &self.shared,
                    plan,
                    txn.as_mut(),
                    sink,
                    params,
                    counted,
                    &self.interrupt,
                )?;
                let wrote = txn.wrote();
                txn.commit()?;
                match (wrote, &self.shared.sync) {
                    (false, _) => {}
                    (true, Some(sync)) => {
                        let ticket = sync.ticket();
                        if self.defer_durability {
                            self.pending = Some(Pending::Sync(ticket));
                        } else {
                            sync.wait(ticket)?;
                        }
                    }
                    (true, None) if self.defer_durability => self.pending = Some(Pending::Flush),
                    (true, None) => {}
                }
                if ddl {
                    self.shared.schema_epoch.fetch_add(1, Ordering::AcqRel);
                }
                outcome
            }
        };
        Ok(outcome)
    }

    /// A flag that, once set by another thread, stops the running statement with 57014
    /// (an interrupted statement inside BEGIN aborts the transaction). The caller clears
    /// it before the next statement.
    pub fn set_interrupt(&mut self, flag: Option<Arc<AtomicBool>>) {
        self.interrupt = flag;
    }

    /// The catalog's indexes (of one table, or all): (table, index, columns, unique).
    pub fn indexes(&mut self, table: Option<&str>) -> Result<Vec<IndexInfo>> {
        let mut txn = self.shared.store.begin()?;
        let tables = match table {
            Some(name) => vec![crate::catalog::must_get_table(txn.as_mut(), name)?],
            None => crate::catalog::list_tables(txn.as_mut())?,
        };
        txn.rollback()?;
        Ok(tables
            .iter()
            .flat_map(|t| {
                t.indexes.iter().map(move |i| {
                    (
                        t.name.clone(),
                        i.name.clone(),
                        i.columns
                            .iter()
                            .map(|&c| t.columns[c].name.clone())
                            .collect(),
                        i.unique,
                    )
                })
            })
            .collect())
    }

    /// Runs every statement in `sql` and collects their results.
    pub fn query(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
        let mut collector = Collector::default();
        self.execute(sql, &mut collector)?;
        Ok(collector.done)
    }

    /// Runs one statement with parameter values and collects its results.
    pub fn query_with(&mut self, sql: &str, params: &[Value]) -> Result<Vec<ResultSet>> {
        let mut collector = Collector::default();
        self.execute_with(sql, params, &mut collector)?;
        Ok(collector.done)
    }
}

/// Executes a plan; returns its outcome and whether it changed the schema (the caller
/// bumps the schema epoch once that change is committed, so that a prepared statement
/// planning again sees it).
fn run_plan(
    shared: &Shared,
    plan: Arc<Plan>,
    txn: &mut dyn Transaction,
    sink: &mut dyn ResultSink,
    params: Params<'_>,
    counted: bool,
    interrupt: &Option<Arc<AtomicBool>>,
) -> Result<(Outcome, bool)> {
    let ddl = plan.changes_schema();
    let outcome = execute::execute(
        plan,
        txn,
        shared,
        sink,
        params,
        counted,
        interrupt.as_ref(),
        shared.statement_memory,
    )?;
    Ok((outcome, ddl))
}

/// Whether `piece` is one of kvsql's own statements rather than SQL for sqlparser.
fn is_own_statement(piece: &str) -> bool {
    // Either parser answers Ok(None) for statements that are not theirs.
    !matches!(users::parse(piece), Ok(None)) || !matches!(backup_target(piece), Ok(None))
}

/// Cuts `sql` at each `;` outside strings, quoted names and comments; drops empty pieces.
fn split_statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                pieces.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    pieces.push(&sql[start.min(sql.len())..]);
    pieces.retain(|p| !p.trim().is_empty());
    pieces
}

/// The directory of a `BACKUP TO 'directory'` statement (not SQL that sqlparser knows),
/// or None for any other statement.
fn backup_target(sql: &str) -> Result<Option<String>> {
    let text = sql.trim().trim_end_matches(';').trim_end();
    let starts = text
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("BACKUP"));
    if !starts || text[6..].starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return Ok(None);
    }
    let usage = || Error::Syntax {
        message: "expected BACKUP TO 'directory'".into(),
        position: None,
    };
    let rest = text[6..].trim_start();
    let to = rest.get(..2).ok_or_else(usage)?;
    if !to.eq_ignore_ascii_case("TO") {
        return Err(usage());
    }
    let quoted = rest[2..].trim();
    let inner = quoted
        .strip_prefix('\'')
        .and_then(|q| q.strip_suffix('\''))
        .filter(|inner| !inner.is_empty() && !inner.replace("''", "").contains('\''))
        .ok_or_else(usage)?;
    Ok(Some(inner.replace("''", "'")))
}

#[derive(Default)]
struct Collector {
    columns: Vec<ColumnInfo>,
    rows: Vec<Vec<Value>>,
    done: Vec<ResultSet>,
}

impl ResultSink for Collector {
    fn columns(&mut self, columns: &[ColumnInfo]) -> Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn row(&mut self, row: Vec<Value>) -> Result<()> {
        self.rows.push(row);
        Ok(())
    }

    fn complete(&mut self, outcome: &Outcome) -> Result<()> {
        self.done.push(ResultSet {
            columns: std::mem::take(&mut self.columns),
            rows: std::mem::take(&mut self.rows),
            outcome: outcome.clone(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod backup_tests {
    use super::*;

    #[test]
    fn backup_statements_name_a_directory() {
        assert_eq!(
            backup_target("BACKUP TO '/tmp/b1';").unwrap(),
            Some("/tmp/b1".into())
        );
        assert_eq!(
            backup_target("  backup to 'it''s here'  ").unwrap(),
            Some("it's here".into())
        );
        assert_eq!(backup_target("SELECT 1").unwrap(), None);
        assert_eq!(backup_target("BACKUPS").unwrap(), None);
        assert_eq!(
            split_statements("CREATE USER a PASSWORD 'x;y'; SELECT ';' -- ;\n; /* ; */ SELECT 2"),
            vec![
                "CREATE USER a PASSWORD 'x;y'",
                " SELECT ';' -- ;\n",
                " /* ; */ SELECT 2"
            ]
        );
        assert!(is_own_statement(" create user a password 'x'"));
        assert!(is_own_statement("BACKUP TO"));
        assert!(!is_own_statement("SELECT 1"));
        for bad in [
            "BACKUP",
            "BACKUP TO",
            "BACKUP TO x",
            "BACKUP TO ''",
            "BACKUP 'x'",
        ] {
            assert!(
                matches!(backup_target(bad), Err(Error::Syntax { .. })),
                "{bad}"
            );
        }
        let db = Database::memory();
        let err = db.session().query("BACKUP TO '/tmp/nowhere'").unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
    }
}
