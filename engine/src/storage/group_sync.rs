//! Group commit for `--sync`: many commits, one fsync.
//!
//! A session that defers its sync commits without waiting for the disk, takes a ticket
//! ([`GroupSync::ticket`]), and acknowledges the commit only once a sync that began
//! after its commit has finished ([`GroupSync::wait`], or a listener for callers that
//! must not block). One thread runs the syncs back to back: each covers every commit
//! that finished writing the log before it began, so under load one fsync serves many
//! commits, and no commit waits for more than the sync in progress plus its own.
//!
//! A deferred commit is visible to other sessions before it is durable (as with
//! RocksDB's own unsynced writes); only its acknowledgement waits.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// Makes everything written to the log so far durable (an fsync of the log).
pub type SyncFn = Box<dyn Fn() -> Result<()> + Send + Sync>;

/// Called after each sync with what it made durable.
pub type Listener = Box<dyn Fn(&Synced) + Send + Sync>;

/// What a finished sync covers: every ticket up to [`Synced::upto`].
pub struct Synced {
    /// The highest ticket the sync covers.
    pub upto: u64,
    /// Tickets from this one on failed to sync, with why.
    failed: Option<(u64, String)>,
}

impl Synced {
    /// The outcome for `ticket`, which must be at most `upto`.
    pub fn outcome(&self, ticket: u64) -> Result<()> {
        outcome_of(self.failed.as_ref(), ticket)
    }
}

#[derive(Default)]
struct State {
    /// The last ticket handed out.
    requested: u64,
    /// Every ticket up to this one is durable (or failed, see `error`).
    synced: u64,
    /// Tickets from this one up to `synced` failed to sync, with why.
    error: Option<(u64, String)>,
    stop: bool,
    /// The sync thread waits for tickets: only then does a new ticket wake it.
    idle: bool,
    /// Threads blocked in [`GroupSync::wait`]: only then does a sync wake them.
    waiters: usize,
}

struct Inner {
    state: Mutex<State>,
    /// Wakes the sync thread (new tickets, or stop).
    work: Condvar,
    /// Wakes waiters (a sync finished).
    done: Condvar,
    listeners: Mutex<Vec<Listener>>,
}

pub struct GroupSync {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl GroupSync {
    /// Starts the sync thread, which calls `sync` whenever tickets are waiting.
    pub fn start(sync: SyncFn) -> Result<GroupSync> {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            listeners: Mutex::new(Vec::new()),
        });
        let worker = inner.clone();
        let thread = std::thread::Builder::new()
            .name("kvsql-wal-sync".into())
            .spawn(move || run(&worker, &sync))
            .map_err(|e| Error::Storage(format!("cannot start the log sync thread: {e}")))?;
        Ok(GroupSync {
            inner,
            thread: Some(thread),
        })
    }

    /// A ticket for a commit that has just written the log: it is durable once a sync
    /// that starts from now on has finished.
    pub fn ticket(&self) -> u64 {
        let mut state = self.inner.state.lock().expect("poisoned");
        state.requested += 1;
        // A busy sync thread looks for tickets again before it waits: wake it (a
        // syscall) only when it sleeps.
        if state.idle {
            self.inner.work.notify_one();
        }
        state.requested
    }

    /// The outcome for `ticket` if its sync has finished, without waiting.
    pub fn outcome(&self, ticket: u64) -> Option<Result<()>> {
        let state = self.inner.state.lock().expect("poisoned");
        (state.synced >= ticket).then(|| outcome_of(state.error.as_ref(), ticket))
    }

    /// Blocks until `ticket` is durable.
    pub fn wait(&self, ticket: u64) -> Result<()> {
        let mut state = self.inner.state.lock().expect("poisoned");
        while state.synced < ticket {
            state.waiters += 1;
            state = self.inner.done.wait(state).expect("poisoned");
            state.waiters -= 1;
        }
        outcome_of(state.error.as_ref(), ticket)
    }

    /// Calls `listener` with what each sync made durable, after it (from the sync
    /// thread: it must return quickly).
    pub fn listen(&self, listener: Listener) {
        self.inner
            .listeners
            .lock()
            .expect("poisoned")
            .push(listener);
    }
}

fn outcome_of(error: Option<&(u64, String)>, ticket: u64) -> Result<()> {
    match error {
        Some((from, why)) if ticket >= *from => Err(Error::Storage(format!(
            "the commit was written but could not be made durable (fsync of the log \
             failed: {why})"
        ))),
        _ => Ok(()),
    }
}

fn run(inner: &Inner, sync: &SyncFn) {
    loop {
        let (from, target) = {
            let mut state = inner.state.lock().expect("poisoned");
            while state.requested == state.synced && !state.stop {
                state.idle = true;
                state = inner.work.wait(state).expect("poisoned");
                state.idle = false;
            }
            if state.requested == state.synced {
                return; // stopping, nothing left to sync
            }
            (state.synced + 1, state.requested)
        };
        let result = sync();
        let synced = {
            let mut state = inner.state.lock().expect("poisoned");
            if let Err(e) = result
                && state.error.is_none()
            {
                // Once the log failed to sync, nothing after it is known durable.
                state.error = Some((from, e.to_string()));
            }
            state.synced = target;
            if state.waiters > 0 {
                inner.done.notify_all();
            }
            Synced {
                upto: target,
                failed: state.error.clone(),
            }
        };
        for listener in inner.listeners.lock().expect("poisoned").iter() {
            listener(&synced);
        }
    }
}

impl Drop for GroupSync {
    fn drop(&mut self) {
        self.inner.state.lock().expect("poisoned").stop = true;
        self.inner.work.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// Every waiter returns only after a sync that began after its ticket, and
    /// concurrent commits share syncs.
    #[test]
    fn tickets_wait_for_a_later_sync_and_share_it() {
        // What the "disk" holds: the log length at the start of the last finished sync.
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let syncs = Arc::new(AtomicU64::new(0));
        let (w, d, n) = (written.clone(), durable.clone(), syncs.clone());
        let group = Arc::new(
            GroupSync::start(Box::new(move || {
                let covered = w.load(Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                d.fetch_max(covered, Ordering::SeqCst);
                n.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }))
            .unwrap(),
        );
        let heard = Arc::new(AtomicU64::new(0));
        let h = heard.clone();
        group.listen(Box::new(move |synced| {
            assert!(synced.outcome(synced.upto).is_ok());
            h.fetch_max(synced.upto, Ordering::SeqCst);
        }));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (group, written, durable) = (group.clone(), written.clone(), durable.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                        let ticket = group.ticket();
                        group.wait(ticket).unwrap();
                        assert!(
                            durable.load(Ordering::SeqCst) >= mine,
                            "acknowledged before its write was synced"
                        );
                        assert!(group.outcome(ticket).is_some());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let syncs = syncs.load(Ordering::SeqCst);
        assert!(syncs < 400, "400 commits took {syncs} syncs: none shared");
        // The listener runs just after the waiters are woken.
        for _ in 0..1000 {
            if heard.load(Ordering::SeqCst) == 400 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            heard.load(Ordering::SeqCst),
            400,
            "listener saw the last sync"
        );
    }

    #[test]
    fn a_failed_sync_fails_its_waiters_and_later_ones() {
        let fail = Arc::new(AtomicU64::new(0));
        let f = fail.clone();
        let group = GroupSync::start(Box::new(move || {
            if f.load(Ordering::SeqCst) == 1 {
                Err(Error::Storage("disk on fire".into()))
            } else {
                Ok(())
            }
        }))
        .unwrap();
        let t1 = group.ticket();
        group.wait(t1).unwrap();
        fail.store(1, Ordering::SeqCst);
        let t2 = group.ticket();
        let err = group.wait(t2).unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        fail.store(0, Ordering::SeqCst);
        let t3 = group.ticket();
        assert!(
            group.wait(t3).is_err(),
            "durability after a failed sync is unknown"
        );
        assert!(group.outcome(t1).unwrap().is_ok());
    }
}
