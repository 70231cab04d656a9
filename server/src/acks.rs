//! Acknowledgements of `--sync` commits, written by the log sync thread itself.
//!
//! With `--sync` a commit is acknowledged only once a group sync covers it. The
//! connection's thread used to be woken after each sync to send the acknowledgements,
//! on the core it shares with the clients it serves, while the sync thread's core sat
//! waiting for the disk. Now, when an acknowledgement is the only thing its connection
//! has to send (the client waits for it before sending more, as one that does not
//! pipeline does), the connection hands it to the [`AckQueue`], and the sync thread
//! writes it to the socket as soon as the sync that covers it returns: one `send`, and
//! the connection's thread is not woken at all. Anything else the connection writes
//! later first waits for the handed-over acknowledgement ([`AckSlot::settled`]), so a
//! client still reads its responses in order.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kvsql_protocol::codec;
use kvsql_protocol::pb;
use tokio::sync::{Notify, watch};

/// Acknowledgements waiting for the sync that covers them.
#[derive(Default)]
pub struct AckQueue {
    inner: Mutex<Queued>,
}

#[derive(Default)]
struct Queued {
    /// The highest ticket a finished sync covers.
    upto: u64,
    /// (ticket, the connection it acknowledges).
    due: Vec<(u64, Arc<AckSlot>)>,
}

impl AckQueue {
    /// Queues `responses` (to request `id`) to be written to `slot`'s socket by the sync
    /// thread once `ticket` is durable. False if the connection must write them itself:
    /// the sync has already finished, or the slot has an earlier acknowledgement out.
    pub fn hand_over(
        &self,
        slot: &Arc<AckSlot>,
        ticket: u64,
        id: u64,
        responses: &[pb::Response],
    ) -> bool {
        // Encoded before the lock, which the sync thread takes after each sync.
        let mut bytes = Vec::with_capacity(64);
        for response in responses {
            codec::encode_frame(response, &mut bytes);
        }
        let mut queued = self.inner.lock().expect("poisoned");
        // Under the queue's lock: a sync that finishes after this check finds the entry.
        if ticket <= queued.upto {
            return false;
        }
        {
            let mut state = slot.state.lock().expect("poisoned");
            if !matches!(*state, Slot::Idle) {
                return false;
            }
            *state = Slot::Queued { id, bytes };
        }
        queued.due.push((ticket, slot.clone()));
        true
    }

    /// After each sync, on the sync thread: writes every acknowledgement it covers,
    /// those up to ticket `upto`, each as `outcome` says its ticket came out.
    pub fn synced(&self, upto: u64, outcome: impl Fn(u64) -> kvsql_engine::Result<()>) {
        let ready: Vec<(u64, Arc<AckSlot>)> = {
            let mut queued = self.inner.lock().expect("poisoned");
            queued.upto = queued.upto.max(upto);
            if queued.due.is_empty() {
                return;
            }
            let (ready, later) = std::mem::take(&mut queued.due)
                .into_iter()
                .partition(|(ticket, _)| *ticket <= upto);
            queued.due = later;
            ready
        };
        for (ticket, slot) in ready {
            slot.send(outcome(ticket));
        }
    }
}

/// One connection's handle for acknowledgements written from the sync thread: its
/// socket (a duplicate descriptor, so it stays open while an acknowledgement is queued)
/// and the acknowledgement out, if any.
pub struct AckSlot {
    socket: TcpStream,
    state: Mutex<Slot>,
    settled: Notify,
}

enum Slot {
    /// Nothing handed over, or it was written whole.
    Idle,
    /// Waiting for its sync: the responses of request `id`.
    Queued { id: u64, bytes: Vec<u8> },
    /// The sync thread could not write all of it (the socket's buffer was full): the
    /// connection writes the rest before anything else.
    Unsent(Vec<u8>),
}

impl AckSlot {
    /// A slot that writes to `socket`, a duplicate of the connection's socket.
    pub fn new(socket: TcpStream) -> std::io::Result<Arc<AckSlot>> {
        // The sync thread must never wait for a client to read: the file status flags
        // are shared with the connection's descriptor, which is nonblocking already.
        socket.set_nonblocking(true)?;
        Ok(Arc::new(AckSlot {
            socket,
            state: Mutex::new(Slot::Idle),
            settled: Notify::new(),
        }))
    }

    /// Waits until nothing handed over is left to write; returns what the connection
    /// must write first, if the sync thread could not.
    pub async fn settled(&self) -> Option<Vec<u8>> {
        loop {
            {
                let mut state = self.state.lock().expect("poisoned");
                match std::mem::replace(&mut *state, Slot::Idle) {
                    Slot::Idle => return None,
                    Slot::Unsent(rest) => return Some(rest),
                    queued @ Slot::Queued { .. } => *state = queued,
                }
            }
            // A wake-up between the check and here is kept as a permit.
            self.settled.notified().await;
        }
    }

    /// On the sync thread: writes the queued responses, or an error if the sync failed.
    fn send(&self, outcome: kvsql_engine::Result<()>) {
        let mut state = self.state.lock().expect("poisoned");
        let Slot::Queued { id, mut bytes } = std::mem::replace(&mut *state, Slot::Idle) else {
            return;
        };
        if let Err(e) = outcome {
            bytes.clear();
            codec::encode_frame(&crate::sink::error_response(id, &e), &mut bytes);
        }
        let mut written = 0;
        while written < bytes.len() {
            match (&self.socket).write(&bytes[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Full (the descriptor is nonblocking), or the client is gone: the
                // connection writes the rest, and sees the error itself if there is one.
                Err(_) => break,
            }
        }
        if written < bytes.len() {
            bytes.drain(..written);
            *state = Slot::Unsent(bytes);
        }
        drop(state);
        self.settled.notify_one();
    }
}

/// How the sync thread tells a worker thread's connections that commits became durable,
/// for the acknowledgements it does not write itself: one wake of the thread's relay
/// task, which wakes the waiting connections from inside the thread (waking each from
/// the sync thread cost a syscall per connection, between one sync and the next). No
/// wake at all while none of the thread's connections waits.
pub struct Relay {
    /// The highest durable ticket.
    durable: AtomicU64,
    /// Connections of the thread waiting in [`SyncWait::until`].
    waiting: AtomicUsize,
    wake: Notify,
    synced: watch::Sender<u64>,
}

impl Relay {
    /// A relay, and the handle its thread's connections wait with.
    pub fn new() -> (Arc<Relay>, SyncWait) {
        let (synced, receiver) = watch::channel(0);
        let relay = Arc::new(Relay {
            durable: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            wake: Notify::new(),
            synced,
        });
        let wait = SyncWait {
            relay: relay.clone(),
            synced: receiver,
        };
        (relay, wait)
    }

    /// On the sync thread, after each sync.
    pub fn synced(&self, upto: u64) {
        // SeqCst with `SyncWait::until`'s: either it sees this ticket, or this sees it
        // waiting.
        self.durable.fetch_max(upto, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.wake.notify_one();
        }
    }

    /// The relay task, on the worker thread.
    pub async fn run(&self) {
        loop {
            self.wake.notified().await;
            self.synced
                .send_replace(self.durable.load(Ordering::SeqCst));
        }
    }
}

/// A connection's way to wait for a sync through its thread's [`Relay`].
#[derive(Clone)]
pub struct SyncWait {
    relay: Arc<Relay>,
    synced: watch::Receiver<u64>,
}

impl SyncWait {
    /// Returns once a finished sync covers `ticket`. (The sync thread outlives every
    /// connection: it stops when the database closes, after they have ended.)
    pub async fn until(&mut self, ticket: u64) {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.relay.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.relay.waiting);
        if self.relay.durable.load(Ordering::SeqCst) >= ticket {
            return;
        }
        let _ = self.synced.wait_for(|&durable| durable >= ticket).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvsql_protocol::codec::read_frame;
    use kvsql_protocol::pb::response::Kind;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A connection on loopback: a slot writing to the server's end, and the client's.
    async fn connection() -> (Arc<AckSlot>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let server = server.into_std().unwrap();
        (AckSlot::new(server).unwrap(), client)
    }

    fn completed(id: u64) -> Vec<pb::Response> {
        let complete = pb::Complete {
            tag: "INSERT".into(),
            rows_affected: 1,
            rows_returned: 0,
        };
        vec![
            pb::Response {
                id,
                kind: Some(Kind::Complete(complete)),
            },
            pb::Response {
                id,
                kind: Some(Kind::Done(pb::Done {})),
            },
        ]
    }

    async fn read(client: &mut tokio::net::TcpStream) -> pb::Response {
        let mut buf = Vec::new();
        let read = read_frame(client, 1 << 20, &mut buf);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("no response within 10 s")
            .unwrap()
            .expect("connection closed")
    }

    /// Nothing is written before the sync that covers the ticket; then the responses
    /// arrive whole, and the slot is free for the next acknowledgement.
    #[test]
    fn an_acknowledgement_is_written_once_its_sync_covers_it() {
        runtime().block_on(async {
            let (slot, mut client) = connection().await;
            let queue = AckQueue::default();
            assert!(queue.hand_over(&slot, 2, 7, &completed(7)));
            queue.synced(1, |_| Ok(()));
            let early = tokio::time::timeout(Duration::from_millis(200), client.readable());
            let mut peek = [0u8; 1];
            if early.await.is_ok() {
                assert_eq!(
                    client.try_read(&mut peek).ok(),
                    None,
                    "written before its sync"
                );
            }
            queue.synced(2, |_| Ok(()));
            let first = read(&mut client).await;
            assert_eq!(first.id, 7);
            assert!(matches!(first.kind, Some(Kind::Complete(c)) if c.rows_affected == 1));
            assert!(matches!(read(&mut client).await.kind, Some(Kind::Done(_))));
            assert_eq!(slot.settled().await, None);
            assert!(queue.hand_over(&slot, 3, 8, &completed(8)));
            queue.synced(3, |_| Ok(()));
            assert_eq!(read(&mut client).await.id, 8);
        });
    }

    /// A ticket that a finished sync covers already, or a second acknowledgement while
    /// one is out, stays with the connection (which writes it after the first).
    #[test]
    fn the_connection_keeps_what_the_sync_thread_cannot_write_in_order() {
        runtime().block_on(async {
            let (slot, mut client) = connection().await;
            let queue = AckQueue::default();
            queue.synced(5, |_| Ok(()));
            assert!(
                !queue.hand_over(&slot, 5, 1, &completed(1)),
                "already durable"
            );
            assert!(queue.hand_over(&slot, 6, 2, &completed(2)));
            assert!(!queue.hand_over(&slot, 7, 3, &completed(3)), "one is out");
            // The connection waits for the one that is out before writing anything.
            let waiting = tokio::time::timeout(Duration::from_millis(100), slot.settled());
            assert!(waiting.await.is_err(), "settled before its sync");
            queue.synced(7, |_| Ok(()));
            assert_eq!(slot.settled().await, None);
            assert_eq!(read(&mut client).await.id, 2);
        });
    }

    /// If the sync failed, the client reads the error instead of the statement's answer.
    #[test]
    fn a_failed_sync_is_reported_to_the_client() {
        runtime().block_on(async {
            let (slot, mut client) = connection().await;
            let queue = AckQueue::default();
            assert!(queue.hand_over(&slot, 1, 9, &completed(9)));
            queue.synced(1, |_| {
                Err(kvsql_engine::Error::Storage("fsync: disk on fire".into()))
            });
            let response = read(&mut client).await;
            assert_eq!(response.id, 9);
            match response.kind {
                Some(Kind::Error(e)) => assert!(e.message.contains("disk on fire"), "{e:?}"),
                other => panic!("expected an error, got {other:?}"),
            }
        });
    }

    /// A client that does not read fills the socket: the sync thread writes what fits,
    /// never waits, and hands the rest back to the connection.
    #[test]
    fn what_does_not_fit_in_the_socket_goes_back_to_the_connection() {
        runtime().block_on(async {
            let (slot, _client) = connection().await;
            let filler = vec![0u8; 64 * 1024];
            // Fill the socket's buffers (the client never reads).
            while (&slot.socket).write(&filler).is_ok() {}
            let queue = AckQueue::default();
            let responses = completed(4);
            let mut whole = Vec::new();
            for response in &responses {
                codec::encode_frame(response, &mut whole);
            }
            assert!(queue.hand_over(&slot, 1, 4, &responses));
            queue.synced(1, |_| Ok(()));
            assert_eq!(slot.settled().await, Some(whole));
            assert_eq!(slot.settled().await, None, "handed back once");
        });
    }

    /// A connection that waits through its thread's relay returns once a sync covers
    /// its ticket, whether the sync came before it began to wait or after.
    #[test]
    fn a_relay_wakes_the_connections_that_wait() {
        runtime().block_on(async {
            let (relay, mut wait) = Relay::new();
            let relay_task = tokio::spawn({
                let relay = relay.clone();
                async move { relay.run().await }
            });
            relay.synced(3);
            tokio::time::timeout(Duration::from_secs(10), wait.until(3))
                .await
                .expect("a covered ticket waited");
            let mut later = wait.clone();
            let waiter = tokio::spawn(async move { later.until(5).await });
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!waiter.is_finished(), "returned before its sync");
            relay.synced(5);
            tokio::time::timeout(Duration::from_secs(10), waiter)
                .await
                .expect("the waiter was not woken")
                .unwrap();
            assert_eq!(relay.waiting.load(Ordering::SeqCst), 0);
            relay_task.abort();
        });
    }
}
