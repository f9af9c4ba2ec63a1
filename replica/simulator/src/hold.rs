//! The long-hold fault: replica-to-replica datagrams held in the network far longer than
//! any link delay, then delivered.
//!
//! Ordinary delay, jitter and reordering hold a datagram for milliseconds; some recovery
//! hazards need a datagram (a VIEW-CHANGE, typically) to stay in flight across its sender's
//! whole crash, memory loss and recovery, and arrive afterwards. While an
//! [`Action::Hold`](super::Action::Hold) window is open, [`flush`](super::routes::flush)
//! keeps each datagram a replica sends to another replica with the window's probability,
//! before the network sees it (so a partition in force does not drop it: it left before the
//! cut, and sits in a queue of the network). A held datagram is released when its sender is
//! up and normal (not recovering) again and either
//!
//! * the sender has restarted since the datagram was held (a crash, with or without memory
//!   loss: the datagram outlives the sender's cycle), or
//! * one to four recovery allowances have passed (the sender never crashed),
//!
//! plus a lag of up to half a recovery allowance drawn when it was held. It then goes to
//! the network from its sender's host, under the links and partitions in force then. Held
//! datagrams outlive the heal: one released in the quiet period is a stale datagram a
//! correct protocol must ignore or use safely. Every draw comes from the hold rng, seeded
//! from the run's seed, and only while a window is open, so a run stays deterministic.

use std::net::SocketAddrV4;
use std::time::Duration;

use dataplane::io::sim::SimRng;

use crate::time::Time;

/// One held datagram.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The sending replica.
    pub(crate) from: usize,
    pub(crate) to: SocketAddrV4,
    pub(crate) bytes: Vec<u8>,
    pub(crate) held_at: Time,
    /// The sender's restart count when it was held.
    restarts: u64,
    /// Released from here on even if the sender never restarted.
    earliest: Time,
    lag: Duration,
    /// When to release it, once the conditions hold.
    release: Option<Time>,
}

/// The held datagrams of a run and the state of the long-hold fault.
#[derive(Debug)]
pub(crate) struct Holder {
    /// Probability of holding a replica-to-replica datagram now (0: no window open).
    pub(crate) chance: f64,
    /// The virtual time of the driver step (set by the driver before each step).
    pub(crate) now: Time,
    rng: SimRng,
    allowance: Duration,
    /// Restarts so far of each replica.
    restarts: Vec<u64>,
    held: Vec<Held>,
    /// Datagrams held and released so far.
    pub(crate) total_held: u64,
    pub(crate) total_released: u64,
}

impl Default for Holder {
    fn default() -> Self {
        Holder::new(0, Duration::ZERO, 0)
    }
}

impl Holder {
    pub(crate) fn new(seed: u64, allowance: Duration, replicas: usize) -> Holder {
        Holder {
            chance: 0.0,
            now: Time::ZERO,
            rng: SimRng::new(seed),
            allowance,
            restarts: vec![0; replicas],
            held: Vec::new(),
            total_held: 0,
            total_released: 0,
        }
    }

    /// Whether the datagram `bytes` from replica `from` to replica address `to` is held
    /// (then it is kept here and must not be sent).
    pub(crate) fn maybe_hold(&mut self, from: usize, to: SocketAddrV4, bytes: &[u8]) -> bool {
        if self.chance <= 0.0 || !self.rng.chance(self.chance) {
            return false;
        }
        let a = u64::try_from(self.allowance.as_nanos()).unwrap_or(u64::MAX);
        let wait = a + self.rng.up_to(3 * a);
        let lag = Duration::from_nanos(self.rng.up_to(a / 2));
        self.held.push(Held {
            from,
            to,
            bytes: bytes.to_vec(),
            held_at: self.now,
            restarts: self.restarts.get(from).copied().unwrap_or(0),
            earliest: self.now + Duration::from_nanos(wait),
            lag,
            release: None,
        });
        self.total_held += 1;
        true
    }

    /// Notes that replica `index` restarted.
    pub(crate) fn restarted(&mut self, index: usize) {
        if let Some(r) = self.restarts.get_mut(index) {
            *r += 1;
        }
    }

    /// Takes out the datagrams to send at `now`; `ready(i)` tells whether replica `i` is up
    /// and normal. A datagram whose sender is not ready when it falls due waits again.
    pub(crate) fn due(&mut self, now: Time, ready: impl Fn(usize) -> bool) -> Vec<Held> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.held.len() {
            let h = &mut self.held[i];
            let ok = ready(h.from);
            if h.release.is_none() {
                let restarted = self.restarts.get(h.from).copied().unwrap_or(0) > h.restarts;
                if ok && (restarted || now >= h.earliest) {
                    h.release = Some(now + h.lag);
                }
            }
            match h.release {
                Some(t) if t <= now && ok => {
                    out.push(self.held.remove(i));
                    self.total_released += 1;
                }
                Some(t) if t <= now => {
                    h.release = None;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        out
    }

    /// The next time a held datagram may fall due (a release, or an earliest time still
    /// ahead; other conditions change only at other events).
    pub(crate) fn next_time(&self, now: Time) -> Option<Time> {
        self.held
            .iter()
            .filter_map(|h| match h.release {
                Some(t) => Some(t),
                None if h.earliest > now => Some(h.earliest),
                None => None,
            })
            .min()
    }
}
