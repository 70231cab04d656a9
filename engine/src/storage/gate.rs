//! The commit gate: commits pass it together (shared), a bulk write alone (exclusive).
//!
//! A bulk write ([`super::Store::begin_bulk`]) checks its keys against the latest state
//! and writes them in one plain batch, without the optimistic transaction's indexed
//! batch, key tracking and validation. That is only sound if no commit lands between
//! its checks and its write, so it holds the gate exclusively from its first read to its
//! commit, while every transaction's commit holds it shared for the commit alone.
//! Transactions that began earlier and wrote the same keys still fail at their commit,
//! which sees the bulk write's newer sequence numbers.
//!
//! Entering shared is one atomic increment when no bulk write holds or waits for the
//! gate; a bulk write that asks waits for the commits in progress and holds off new ones.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Set in `count` while a bulk write holds the gate or waits for it.
const EXCLUSIVE: usize = 1 << (usize::BITS - 1);

#[derive(Default)]
pub struct Gate {
    /// Commits inside, plus [`EXCLUSIVE`].
    count: AtomicUsize,
    /// Guards the waiting on `changed` (the count itself is atomic), and counts the
    /// threads waiting there: a bulk write that leaves wakes them only when there are
    /// any (single-row inserts pass the gate exclusively, one after another, and a wake
    /// with nobody waiting is still a system call).
    lock: Mutex<usize>,
    /// Signalled when the last commit leaves while a bulk write waits, and when a bulk
    /// write leaves.
    changed: Condvar,
}

/// Held by a commit; leaving it lets a waiting bulk write in.
pub struct Shared(Arc<Gate>);

/// Held by a bulk write; leaving it lets commits in.
pub struct Exclusive(Arc<Gate>);

impl Gate {
    /// Enters with other commits, after any bulk write that holds or waits for the gate.
    pub fn shared(self: &Arc<Self>) -> Shared {
        loop {
            let before = self.count.fetch_add(1, Ordering::Acquire);
            if before & EXCLUSIVE == 0 {
                return Shared(self.clone());
            }
            self.leave_shared();
            let mut guard = self.lock.lock().expect("poisoned");
            while self.count.load(Ordering::Acquire) & EXCLUSIVE != 0 {
                guard = self.wait(guard);
            }
        }
    }

    fn leave_shared(&self) {
        let before = self.count.fetch_sub(1, Ordering::Release);
        if before == EXCLUSIVE | 1 {
            // The last commit out, with a bulk write waiting.
            let _guard = self.lock.lock().expect("poisoned");
            self.changed.notify_all();
        }
    }

    /// Enters alone: waits for another bulk write to leave, then for the commits inside.
    pub fn exclusive(self: &Arc<Self>) -> Exclusive {
        let mut guard = self.lock.lock().expect("poisoned");
        loop {
            let now = self.count.load(Ordering::Acquire);
            if now & EXCLUSIVE == 0 {
                if self
                    .count
                    .compare_exchange(now, now | EXCLUSIVE, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    break;
                }
                continue;
            }
            guard = self.wait(guard);
        }
        while self.count.load(Ordering::Acquire) != EXCLUSIVE {
            guard = self.wait(guard);
        }
        Exclusive(self.clone())
    }

    /// Waits on `changed`, counted in the lock's waiters.
    fn wait<'a>(&self, mut guard: MutexGuard<'a, usize>) -> MutexGuard<'a, usize> {
        *guard += 1;
        let mut guard = self.changed.wait(guard).expect("poisoned");
        *guard -= 1;
        guard
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.0.leave_shared();
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        let waiting = self.0.lock.lock().expect("poisoned");
        self.0.count.fetch_and(!EXCLUSIVE, Ordering::Release);
        if *waiting > 0 {
            self.0.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    /// A bulk write waits for the commit inside and keeps new commits out until it
    /// leaves; commits share the gate with each other.
    #[test]
    fn bulk_writes_exclude_commits_and_commits_share() {
        let gate = Arc::new(Gate::default());
        let first = gate.shared();
        let second = gate.shared();
        let entered = Arc::new(AtomicBool::new(false));
        let bulk = {
            let (gate, entered) = (gate.clone(), entered.clone());
            std::thread::spawn(move || {
                let held = gate.exclusive();
                entered.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
                entered.store(false, Ordering::SeqCst);
                drop(held);
            })
        };
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            !entered.load(Ordering::SeqCst),
            "entered beside two commits"
        );
        drop(first);
        std::thread::sleep(Duration::from_millis(30));
        assert!(!entered.load(Ordering::SeqCst), "entered beside a commit");
        drop(second);
        while !entered.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // A commit arriving now waits for the bulk write to finish.
        let late = gate.shared();
        assert!(
            !entered.load(Ordering::SeqCst),
            "a commit entered while the bulk write held the gate"
        );
        drop(late);
        bulk.join().unwrap();
    }

    /// Many threads entering and leaving both ways never overlap a bulk write with
    /// anything else, and all of them finish.
    #[test]
    fn mixed_traffic_never_overlaps_and_always_finishes() {
        let gate = Arc::new(Gate::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let (gate, inside) = (gate.clone(), inside.clone());
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        if (i + t) % 7 == 0 {
                            let _held = gate.exclusive();
                            assert_eq!(inside.swap(EXCLUSIVE, Ordering::SeqCst), 0);
                            std::thread::yield_now();
                            assert_eq!(inside.swap(0, Ordering::SeqCst), EXCLUSIVE);
                        } else {
                            let _held = gate.shared();
                            let before = inside.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(before & EXCLUSIVE, 0, "a commit beside a bulk write");
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
