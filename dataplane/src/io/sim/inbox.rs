//! One host's datagrams in flight, ordered by delivery time and then by send order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::io::PacketBuf;
use crate::time::Time;

/// A datagram on its way, already addressed as its receiver will see it (peer = source,
/// endpoint = the receiver's local address index).
#[derive(Debug)]
struct InFlight {
    at: Time,
    seq: u64,
    buf: PacketBuf,
}

impl InFlight {
    fn key(&self) -> (Time, u64) {
        (self.at, self.seq)
    }
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A min-heap on (delivery time, network-wide send sequence number). The sequence number is
/// unique, so the order is total and independent of heap internals.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    heap: BinaryHeap<Reverse<InFlight>>,
}

impl Inbox {
    pub(super) fn push(&mut self, at: Time, seq: u64, buf: PacketBuf) {
        self.heap.push(Reverse(InFlight { at, seq, buf }));
    }

    /// When the next datagram is due, if any is pending.
    pub(super) fn next_at(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse(f)| f.at)
    }

    /// The earliest datagram, if it is due by `now`.
    pub(super) fn pop_due(&mut self, now: Time) -> Option<PacketBuf> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(f)| f.buf)
    }

    /// Takes every pending datagram (a crash): the buffers, in no particular order.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = PacketBuf> + '_ {
        self.heap.drain().map(|Reverse(f)| f.buf)
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}
