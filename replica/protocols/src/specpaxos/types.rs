//! Identifiers, requests and the log hash of Speculative Paxos.

use std::fmt;
use std::net::SocketAddrV4;

use crate::codec::{CodecError, Reader, Writer};
use crate::{ClientId, EntryId, RequestId};

/// A view: (leader number, epoch), ordered lexicographically. The leader of a view is
/// replica `leader_num mod n`. A reconciliation keeps the leader and raises the epoch; a
/// suspected leader is replaced by raising the leader number (the epoch starts again at 0).
/// Keeping the leader through reconciliations means a cluster with a dead replica does not
/// walk through it as leader every time replicas diverge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpecViewId {
    pub leader_num: u64,
    pub epoch: u64,
}

impl SpecViewId {
    pub const INITIAL: SpecViewId = SpecViewId {
        leader_num: 0,
        epoch: 0,
    };

    pub fn leader(&self, n: usize) -> usize {
        (self.leader_num % n.max(1) as u64) as usize
    }

    /// The view that replaces this one's leader.
    pub fn next_leader(&self) -> SpecViewId {
        SpecViewId {
            leader_num: self.leader_num.saturating_add(1),
            epoch: 0,
        }
    }

    /// The view a reconciliation led by the same leader moves to.
    pub fn next_epoch(&self) -> SpecViewId {
        SpecViewId {
            leader_num: self.leader_num,
            epoch: self.epoch.saturating_add(1),
        }
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(self.leader_num)?;
        w.u64(self.epoch)
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<SpecViewId, CodecError> {
        Ok(SpecViewId {
            leader_num: r.u64()?,
            epoch: r.u64()?,
        })
    }
}

impl fmt::Display for SpecViewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.leader_num, self.epoch)
    }
}

/// The hash of a log prefix: `h(k) = H(h(k-1), entry k)`, `h(0) = 0`. Two logs with the
/// same hash at a slot hold the same entries up to it, so one comparison checks a whole
/// prefix (the paper's summary hash).
///
/// 128 bits from two independently mixed 64-bit lanes. The fault model is crashes, not
/// malice, so the hash needs to make accidental collisions negligible, not to resist an
/// adversary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LogHash(pub u128);

/// The murmur3 64-bit finalizer: every input bit affects every output bit.
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

struct Lanes {
    a: u64,
    b: u64,
}

impl Lanes {
    fn eat(&mut self, word: u64) {
        self.a = fmix(self.a ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.b = fmix(self.b.rotate_left(29) ^ word ^ 0x5851_f42d_4c95_7f2d)
            .wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
}

impl LogHash {
    pub const ZERO: LogHash = LogHash(0);

    /// The hash after appending the request `(client, request, op)` to a prefix hashed `self`.
    pub fn chain(self, client: ClientId, request: RequestId, op: &[u8]) -> LogHash {
        let mut l = Lanes {
            a: (self.0 >> 64) as u64,
            b: self.0 as u64,
        };
        l.eat(client);
        l.eat(request);
        l.eat(op.len() as u64);
        let mut words = op.chunks_exact(8);
        for w in words.by_ref() {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            l.eat(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            l.eat(u64::from_le_bytes(b));
        }
        LogHash((u128::from(fmix(l.a)) << 64) | u128::from(fmix(l.b ^ l.a)))
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64((self.0 >> 64) as u64)?;
        w.u64(self.0 as u64)
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<LogHash, CodecError> {
        let hi = r.u64()?;
        let lo = r.u64()?;
        Ok(LogHash((u128::from(hi) << 64) | u128::from(lo)))
    }
}

impl fmt::Debug for LogHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", (self.0 >> 96) as u32)
    }
}

impl fmt::Display for LogHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A client request as logged. Speculative Paxos has no NO-OPs: slots are assigned by
/// arrival, so every slot holds a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub client: ClientId,
    pub request: RequestId,
    /// Where replies go (requests reach replicas through the sequencer, so the datagram's
    /// source is not the client).
    pub reply_to: SocketAddrV4,
    pub op: Vec<u8>,
}

impl Request {
    pub fn id(&self) -> EntryId {
        EntryId::Request {
            client: self.client,
            request: self.request,
        }
    }

    /// The hash of a prefix ending with this request, after a prefix hashed `prev`.
    pub fn chain(&self, prev: LogHash) -> LogHash {
        prev.chain(self.client, self.request, &self.op)
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(self.client)?;
        w.u64(self.request)?;
        w.addr(self.reply_to)?;
        w.bytes(&self.op)
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Request, CodecError> {
        Ok(Request {
            client: r.u64()?,
            request: r.u64()?,
            reply_to: r.addr()?,
            op: r.bytes()?.to_vec(),
        })
    }

    /// Bytes this request takes encoded.
    pub fn encoded_len(&self) -> usize {
        Self::MIN_ENCODED_LEN + self.op.len()
    }

    /// The encoding of a request with an empty operation: what a decoder may assume of
    /// each item before reserving room for a count.
    pub const MIN_ENCODED_LEN: usize = 8 + 8 + 6 + 4;
}

/// The fast-path quorum of the paper for n = 2f + 1: f + ⌈f/2⌉ + 1 = ⌈3f/2⌉ + 1 replicas.
/// Any such superquorum and any quorum of f + 1 share at least ⌈f/2⌉ + 1 replicas, which is
/// more than half of f + 1: the merge of a view change recognises a request that completed
/// in the fast path as the only one held by that many of the f + 1 logs it reads.
pub fn superquorum(f: usize) -> usize {
    f + f.div_ceil(2) + 1
}

/// How many of the f + 1 logs a view change merges must agree on a slot (through the
/// prefix hash) for the new log to keep it: ⌈f/2⌉ + 1.
pub fn merge_threshold(f: usize) -> usize {
    f.div_ceil(2) + 1
}

/// Partial blobs of a view the replica's current view does not supersede still matter.
impl crate::kit::blob::BlobView for SpecViewId {
    fn still_relevant(&self, current: &SpecViewId) -> bool {
        self >= current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_sizes_match_the_paper() {
        // n = 1, 3, 5, 7, 9
        assert_eq!(
            (0..5).map(superquorum).collect::<Vec<_>>(),
            vec![1, 3, 4, 6, 7]
        );
        for f in 0..10usize {
            let n = 2 * f + 1;
            let q = superquorum(f);
            assert_eq!(q, (3 * f).div_ceil(2) + 1);
            assert!(q <= n);
            // A superquorum and a quorum intersect in at least the merge threshold.
            assert!(q + (f + 1) - n >= merge_threshold(f));
            // Two different hashes cannot both reach the threshold among f + 1 logs.
            assert!(2 * merge_threshold(f) > f + 1);
        }
    }

    #[test]
    fn hashes_depend_on_every_field_and_the_prefix() {
        let a = LogHash::ZERO.chain(1, 2, b"op");
        assert_ne!(a, LogHash::ZERO.chain(1, 3, b"op"));
        assert_ne!(a, LogHash::ZERO.chain(2, 2, b"op"));
        assert_ne!(a, LogHash::ZERO.chain(1, 2, b"oq"));
        assert_ne!(a, LogHash::ZERO.chain(1, 2, b"op\0"));
        assert_ne!(a.chain(1, 2, b"op"), a);
        assert_eq!(a, LogHash::ZERO.chain(1, 2, b"op"));
        let b = LogHash::ZERO.chain(1, 3, b"x");
        assert_ne!(a.chain(1, 3, b"x"), b.chain(1, 2, b"op"), "order matters");
    }

    #[test]
    fn views_order_by_leader_then_epoch() {
        let v = SpecViewId {
            leader_num: 1,
            epoch: 7,
        };
        assert!(v.next_epoch() > v);
        assert!(v.next_leader() > v.next_epoch());
        assert_eq!(v.next_leader().epoch, 0);
        assert_eq!(v.leader(3), 1);
        assert_eq!(v.next_leader().leader(2), 0);
    }
}
