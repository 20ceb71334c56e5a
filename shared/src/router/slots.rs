//! Per-service queue and per-replica slots: at most `capacity` requests in flight per ready replica,
//! the rest wait in one FIFO queue, and a freed slot goes straight to the head waiter (no wake-up
//! race, no thundering herd). Replicas are picked as Knative's activator picks pods: first available
//! for capacities up to 3 (load packs on the first replicas, idle ones stay visibly idle), round
//! robin above. Why one queue with hand-off: `../shared/facts/router-building.md` §2.4.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::oneshot;

use super::meter::{Meter, Window};
use super::upstream::Conns;

/// Most requests that may wait in one service's queue; past it the router answers 503 at once.
pub const MAX_QUEUE: usize = 10_000;
/// How long a replica that refused a connection is tried last.
const EJECTION: Duration = Duration::from_secs(2);

/// One model pod that can take requests.
#[derive(Debug)]
pub struct Replica {
    /// The pod's name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Idle keep-alive connections to it.
    pub conns: Conns,
    /// Requests in flight; changed only under the pool's lock.
    inflight: AtomicU32,
    /// Whether it is in its pool's ready list.
    ready: AtomicBool,
    /// Until when (ms on the process clock) it is tried last, after it refused a connection.
    ejected_until: AtomicU64,
}

impl Replica {
    /// A replica, not yet in any pool.
    pub fn new(name: String, addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            name,
            addr,
            conns: Conns::default(),
            inflight: AtomicU32::new(0),
            ready: AtomicBool::new(false),
            ejected_until: AtomicU64::new(0),
        })
    }

    /// Requests in flight on it now.
    pub fn inflight(&self) -> u32 {
        self.inflight.load(Relaxed)
    }

    /// Tries it last for a short while: it refused a connection or closed one unused.
    pub fn eject(&self) {
        let until = now_ms() + EJECTION.as_millis() as u64;
        self.ejected_until.store(until, Relaxed);
    }

    fn ejected(&self, now: u64) -> bool {
        self.ejected_until.load(Relaxed) > now
    }
}

fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot stayed busy for the whole wait, or the queue is full.
    Overloaded,
    /// No replica was ready during the whole wait.
    NoReplicas,
}

/// A snapshot of a pool, for metrics and the autoscaler.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Ready replicas.
    pub ready: u32,
    /// Requests in flight on ready replicas.
    pub inflight: u32,
    /// In-flight requests over the per-replica capacity: replicas' worth of busy.
    pub busy: f64,
    /// Requests waiting for a slot.
    pub queued: u32,
}

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Lease>,
}

struct State {
    /// Ready replicas, sorted by name so first-available is stable.
    ready: Vec<Arc<Replica>>,
    capacity: u32,
    waiters: VecDeque<Waiter>,
    next_id: u64,
    next_pick: usize,
    /// Requests in flight on any replica of the pool, ready or draining.
    inflight: u32,
    /// Busy and queued over time, for the autoscaler.
    meter: Meter,
}

/// The replicas of one model Deployment and the requests waiting for them.
pub struct Pool {
    state: Mutex<State>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({:?})", self.counts())
    }
}

/// A slot on one replica; dropping it frees the slot (or hands it to the head waiter).
pub struct Lease {
    pool: Arc<Pool>,
    replica: Arc<Replica>,
    live: bool,
}

impl Lease {
    /// The replica this slot is on.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.live {
            self.pool.release(&self.replica);
        }
    }
}

/// Removes a waiter that stopped waiting (its request was cancelled) so `queued` stays exact.
struct WaitGuard<'a> {
    pool: &'a Pool,
    id: u64,
    armed: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.pool.lock();
            state.account(Instant::now());
            state.waiters.retain(|w| w.id != self.id);
        }
    }
}

impl Pool {
    /// An empty pool with `capacity` slots per replica.
    pub fn new(capacity: u32) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                ready: Vec::new(),
                capacity: capacity.max(1),
                waiters: VecDeque::new(),
                next_id: 0,
                next_pick: 0,
                inflight: 0,
                meter: Meter::new(tokio::time::Instant::now()),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent counters behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot, at once or after waiting in FIFO order for at most `max_wait`. `avoid` is tried
    /// last (the replica a retried request could not reach).
    pub async fn acquire(
        self: &Arc<Self>,
        max_wait: Duration,
        avoid: Option<&Arc<Replica>>,
    ) -> Result<Lease, Refusal> {
        let (id, mut rx) = {
            let mut state = self.lock();
            state.account(Instant::now());
            if let Some(replica) = state.pick(avoid) {
                return Ok(self.lease(replica));
            }
            if max_wait.is_zero() || state.waiters.len() >= MAX_QUEUE {
                return Err(state.refusal());
            }
            let id = state.next_id;
            state.next_id += 1;
            let (tx, rx) = oneshot::channel();
            state.waiters.push_back(Waiter { id, tx });
            (id, rx)
        };
        let mut guard = WaitGuard {
            pool: self,
            id,
            armed: true,
        };
        match tokio::time::timeout(max_wait, &mut rx).await {
            Ok(Ok(lease)) => {
                guard.armed = false;
                Ok(lease)
            }
            Ok(Err(_)) => Err(Refusal::Overloaded),
            Err(_) => {
                guard.armed = false;
                let mut state = self.lock();
                state.account(Instant::now());
                if let Some(at) = state.waiters.iter().position(|w| w.id == id) {
                    state.waiters.remove(at);
                    return Err(state.refusal());
                }
                drop(state);
                // Not in the queue any more: a slot was handed over just at the deadline.
                rx.try_recv().map_err(|_| Refusal::Overloaded)
            }
        }
    }

    fn lease(self: &Arc<Self>, replica: Arc<Replica>) -> Lease {
        Lease {
            pool: self.clone(),
            replica,
            live: true,
        }
    }

    /// Frees a slot: hands it to the oldest live waiter while the replica is ready, else counts it free.
    fn release(self: &Arc<Self>, replica: &Arc<Replica>) {
        let mut state = self.lock();
        state.account(Instant::now());
        if replica.ready.load(Relaxed) {
            while let Some(waiter) = state.waiters.pop_front() {
                match waiter.tx.send(self.lease(replica.clone())) {
                    Ok(()) => {
                        state.meter.served();
                        return;
                    }
                    // That waiter is gone; disarm the lease we got back (we hold the lock).
                    Err(mut lease) => lease.live = false,
                }
            }
        }
        replica.inflight.fetch_sub(1, Relaxed);
        state.inflight -= 1;
    }

    /// Gives free slots to waiters, oldest first (after replicas were added or capacity grew).
    fn serve_waiters(self: &Arc<Self>, state: &mut State) {
        while !state.waiters.is_empty() {
            let Some(replica) = state.pick(None) else {
                return;
            };
            let mut lease = self.lease(replica.clone());
            loop {
                let Some(waiter) = state.waiters.pop_front() else {
                    lease.live = false;
                    replica.inflight.fetch_sub(1, Relaxed);
                    state.inflight -= 1;
                    return;
                };
                match waiter.tx.send(lease) {
                    Ok(()) => break,
                    Err(back) => lease = back,
                }
            }
        }
    }

    /// Makes `replicas` the ready set: the others get no new requests (their in-flight ones
    /// finish), new ones take waiting requests at once.
    pub fn set_ready(self: &Arc<Self>, mut replicas: Vec<Arc<Replica>>) {
        replicas.sort_by(|a, b| a.name.cmp(&b.name));
        let mut state = self.lock();
        state.account(Instant::now());
        for old in &state.ready {
            old.ready.store(false, Relaxed);
        }
        for new in &replicas {
            new.ready.store(true, Relaxed);
        }
        state.ready = replicas;
        self.serve_waiters(&mut state);
    }

    /// Changes the slots per replica; more slots serve waiting requests at once.
    pub fn set_capacity(self: &Arc<Self>, capacity: u32) {
        let mut state = self.lock();
        state.account(Instant::now());
        state.capacity = capacity.max(1);
        self.serve_waiters(&mut state);
    }

    /// Ready replicas, in-flight and queued requests now.
    pub fn counts(&self) -> Counts {
        let state = self.lock();
        Counts {
            ready: state.ready.len() as u32,
            inflight: state.inflight,
            busy: state.busy(),
            queued: state.waiters.len() as u32,
        }
    }

    /// Time-weighted busy and queued over the last `span`, closing nothing.
    pub fn sliding_window(&self, span: Duration) -> Window {
        let state = self.lock();
        let (busy, queued, ready) = (state.busy(), state.waiters.len(), state.ready.len() as u32);
        state
            .meter
            .sliding(Instant::now(), span, busy, queued, ready)
    }

    /// Closes the current load window (time-weighted busy and queued) and starts the next.
    pub fn take_window(&self) -> Window {
        let mut state = self.lock();
        let (busy, queued, ready) = (state.busy(), state.waiters.len(), state.ready.len() as u32);
        state.meter.take(Instant::now(), busy, queued, ready)
    }
}

impl State {
    /// In flight over the slots per replica: replicas' worth of busy.
    fn busy(&self) -> f64 {
        f64::from(self.inflight) / f64::from(self.capacity)
    }

    /// Integrates the levels up to `now`; called before every change to them.
    fn account(&mut self, now: Instant) {
        let busy = self.busy();
        self.meter.advance(now, busy, self.waiters.len());
    }

    fn refusal(&self) -> Refusal {
        if self.ready.is_empty() {
            Refusal::NoReplicas
        } else {
            Refusal::Overloaded
        }
    }

    /// Takes a free slot: healthy replicas first, then ejected or avoided ones.
    fn pick(&mut self, avoid: Option<&Arc<Replica>>) -> Option<Arc<Replica>> {
        let count = self.ready.len();
        if count == 0 {
            return None;
        }
        let now = now_ms();
        let start = if self.capacity <= 3 {
            0
        } else {
            self.next_pick % count
        };
        for second_choice in [false, true] {
            for step in 0..count {
                let at = (start + step) % count;
                let replica = &self.ready[at];
                if replica.inflight() >= self.capacity {
                    continue;
                }
                let shunned =
                    replica.ejected(now) || avoid.is_some_and(|a| Arc::ptr_eq(a, replica));
                if shunned && !second_choice {
                    continue;
                }
                replica.inflight.fetch_add(1, Relaxed);
                self.inflight += 1;
                self.meter.served();
                self.next_pick = at + 1;
                return Some(replica.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
