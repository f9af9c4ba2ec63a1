//! Blobs larger than a datagram (view-change logs, START-VIEW, state transfer images) travel
//! as numbered chunks and are reassembled at the receiver, the same way in every protocol;
//! the chunk kinds are shared ([`ChunkKind`]), each protocol has its own view type
//! ([`BlobView`]). Nothing is truncated, and what a sender can make a receiver hold is
//! bounded: one partial blob per sender and kind, at most [`MAX_BLOB`] bytes, every chunk's
//! size checked against the blob's shape.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

/// Bytes of blob per chunk, so a chunk with its headers fits a datagram.
pub const CHUNK_DATA: usize = 7000;
/// Largest blob accepted.
pub const MAX_BLOB: usize = 64 << 20;

/// How many chunks a blob of `len` bytes takes (an empty blob still takes one).
pub fn chunk_count(len: usize) -> u32 {
    u32::try_from(len.div_ceil(CHUNK_DATA).max(1)).unwrap_or(u32::MAX)
}

/// The bytes of chunk `index` of `blob`.
pub fn chunk(blob: &[u8], index: u32) -> &[u8] {
    let start = (index as usize).saturating_mul(CHUNK_DATA).min(blob.len());
    let end = start.saturating_add(CHUNK_DATA).min(blob.len());
    blob.get(start..end).unwrap_or(&[])
}

/// The size chunk `index` of a `total`-byte blob must have.
pub fn chunk_len(total: usize, index: u32) -> usize {
    let start = (index as usize).saturating_mul(CHUNK_DATA);
    total.saturating_sub(start).min(CHUNK_DATA)
}

/// What a chunk belongs to. Every protocol with view changes and state transfer sends the
/// same three blobs (each protocol's message docs say what its blobs hold); the codes are
/// on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChunkKind {
    /// A replica's log to the new leader of a view change (VIEW-CHANGE, DO-VIEW-CHANGE).
    ViewChange,
    /// The new leader's START-VIEW.
    StartView,
    /// A state image or log suffix for a replica that catches up, repairs or recovers.
    State,
}

impl ChunkKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            ChunkKind::ViewChange => 1,
            ChunkKind::StartView => 2,
            ChunkKind::State => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Result<ChunkKind, crate::codec::CodecError> {
        match code {
            1 => Ok(ChunkKind::ViewChange),
            2 => Ok(ChunkKind::StartView),
            3 => Ok(ChunkKind::State),
            v => Err(crate::codec::CodecError::Invalid {
                field: "chunk kind",
                value: u64::from(v),
            }),
        }
    }
}

/// A protocol's view number, as far as reassembly cares: which partial blobs a replica that
/// moved to a view may drop.
pub trait BlobView: Copy + Eq + Debug {
    /// Whether a blob of view `self` may still matter to a replica in view `current`.
    fn still_relevant(&self, current: &Self) -> bool;
}

impl BlobView for u64 {
    fn still_relevant(&self, current: &u64) -> bool {
        self >= current
    }
}

/// A blob being sent, shared by its chunks waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingBlob<K, V> {
    pub kind: K,
    pub view: V,
    pub id: u64,
    pub data: Arc<Vec<u8>>,
}

impl<K: Copy, V: Copy> OutgoingBlob<K, V> {
    /// A blob of `kind` for view `view`, named `id` (a fresh nonce, or for a state image the
    /// nonce of the request it answers).
    pub fn new(kind: K, view: V, id: u64, data: Vec<u8>) -> Self {
        OutgoingBlob {
            kind,
            view,
            id,
            data: Arc::new(data),
        }
    }

    pub fn count(&self) -> u32 {
        chunk_count(self.data.len())
    }

    /// Chunk `index` as a message body.
    pub fn chunk(&self, index: u32) -> ChunkIn<'_, K, V> {
        ChunkIn {
            kind: self.kind,
            view: self.view,
            id: self.id,
            index,
            count: self.count(),
            total: u32::try_from(self.data.len()).unwrap_or(u32::MAX),
            data: chunk(&self.data, index),
        }
    }
}

/// One chunk as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkIn<'a, K, V> {
    pub kind: K,
    pub view: V,
    pub id: u64,
    pub index: u32,
    pub count: u32,
    pub total: u32,
    pub data: &'a [u8],
}

/// A complete blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob<K, V> {
    pub sender: usize,
    pub kind: K,
    pub view: V,
    pub id: u64,
    pub data: Vec<u8>,
}

#[derive(Debug)]
struct Assembly<V> {
    view: V,
    id: u64,
    count: u32,
    total: u32,
    /// Bytes held so far.
    received: usize,
    chunks: BTreeMap<u32, Vec<u8>>,
}

/// Reassembles blobs, one in progress per (sender, kind): a different blob from the same
/// sender replaces a partial one.
#[derive(Debug)]
pub struct Assembler<K, V> {
    partial: BTreeMap<(usize, K), Assembly<V>>,
    /// Chunks that contradicted their blob's shape (wrong count, size or index).
    pub rejected: u64,
}

impl<K, V> Default for Assembler<K, V> {
    fn default() -> Self {
        Assembler {
            partial: BTreeMap::new(),
            rejected: 0,
        }
    }
}

impl<K: Copy + Ord, V: BlobView> Assembler<K, V> {
    /// Adds a chunk; returns the blob when it is complete.
    pub fn add(&mut self, sender: usize, c: ChunkIn<'_, K, V>) -> Option<Blob<K, V>> {
        let total = c.total as usize;
        let shape_ok = total <= MAX_BLOB
            && c.count == chunk_count(total)
            && c.index < c.count
            && c.data.len() == chunk_len(total, c.index);
        if !shape_ok {
            self.rejected += 1;
            return None;
        }
        let key = (sender, c.kind);
        if c.count == 1 {
            // A whole blob in one chunk: nothing to hold.
            self.partial.remove(&key);
            return Some(Blob {
                sender,
                kind: c.kind,
                view: c.view,
                id: c.id,
                data: c.data.to_vec(),
            });
        }
        let fresh = self
            .partial
            .get(&key)
            .is_none_or(|a| a.view != c.view || a.id != c.id || a.total != c.total);
        if fresh {
            self.partial.insert(
                key,
                Assembly {
                    view: c.view,
                    id: c.id,
                    count: c.count,
                    total: c.total,
                    received: 0,
                    chunks: BTreeMap::new(),
                },
            );
        }
        let assembly = self.partial.get_mut(&key)?;
        if !assembly.chunks.contains_key(&c.index) {
            assembly.received += c.data.len();
            assembly.chunks.insert(c.index, c.data.to_vec());
        }
        if assembly.chunks.len() < assembly.count as usize {
            return None;
        }
        let assembly = self.partial.remove(&key)?;
        let mut data = Vec::with_capacity(assembly.received);
        for part in assembly.chunks.into_values() {
            data.extend_from_slice(&part);
        }
        Some(Blob {
            sender,
            kind: c.kind,
            view: assembly.view,
            id: assembly.id,
            data,
        })
    }

    /// Forgets partial blobs of views that no longer matter in view `current`.
    pub fn forget_before(&mut self, current: V) {
        self.partial.retain(|_, a| a.view.still_relevant(&current));
    }

    /// Keeps only the partial blobs for which `keep(kind, view)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(K, &V) -> bool) {
        self.partial.retain(|(_, kind), a| keep(*kind, &a.view));
    }

    /// Forgets everything (the replica lost or replaced its state).
    pub fn clear(&mut self) {
        self.partial.clear();
    }

    /// Whether no blob is in progress.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    /// Bytes held in partial blobs.
    pub fn held(&self) -> usize {
        self.partial.values().map(|a| a.received).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed<V: BlobView>(
        a: &mut Assembler<ChunkKind, V>,
        view: V,
        data: &[u8],
        id: u64,
        order: &[u32],
    ) -> Option<Blob<ChunkKind, V>> {
        let outgoing = OutgoingBlob::new(ChunkKind::State, view, id, data.to_vec());
        let count = chunk_count(data.len());
        let mut out = None;
        for &index in order {
            let c = ChunkIn {
                kind: ChunkKind::State,
                view,
                id,
                index,
                count,
                total: data.len() as u32,
                data: chunk(data, index),
            };
            assert_eq!(outgoing.chunk(index), c);
            out = a.add(2, c);
        }
        out
    }

    /// Blobs reassemble in any order and despite duplicates; a newer blob replaces a partial
    /// one; `later` forgets partial blobs of `view`; chunks that contradict their blob's
    /// shape are rejected.
    fn check_reassembly<V: BlobView>(view: V, later: V) {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut a = Assembler::default();
        assert_eq!(chunk_count(data.len()), 3);
        assert!(feed(&mut a, view, &data, 1, &[2, 0, 2]).is_none());
        assert!(a.held() > 0);
        assert_eq!(a.held(), 7000 + 6000);
        let blob = feed(&mut a, view, &data, 1, &[1]).unwrap();
        assert_eq!(blob.data, data);
        assert_eq!(blob.sender, 2);
        assert_eq!((blob.sender, blob.view, blob.id), (2, view, 1));
        assert_eq!(a.held(), 0);
        let empty = feed(&mut a, view, &[], 2, &[0]).unwrap();
        assert!(empty.data.is_empty());

        let old = vec![1u8; 15_000];
        let new = vec![2u8; 15_000];
        let mut a = Assembler::default();
        assert!(feed(&mut a, view, &old, 1, &[0]).is_none());
        assert!(feed(&mut a, view, &new, 2, &[0, 1]).is_none());
        assert_eq!(feed(&mut a, view, &new, 2, &[2]).unwrap().data, new);
        assert!(feed(&mut a, view, &old, 3, &[0]).is_none());
        a.forget_before(later);
        assert_eq!(a.held(), 0);
        assert!(a.is_empty());

        let mut a: Assembler<ChunkKind, V> = Assembler::default();
        let zeros = [0u8; 8000];
        let bad = |count, index, total: usize, len: usize| ChunkIn {
            kind: ChunkKind::State,
            view,
            id: 1,
            index,
            count,
            total: total as u32,
            data: &zeros[..len],
        };
        for c in [
            bad(1, 0, 10, 9),                          // wrong size
            bad(2, 0, 10, 10),                         // wrong count
            bad(1, 1, 10, 0),                          // index out of range
            bad(u32::MAX, 0, u32::MAX as usize, 7000), // over the size limit
        ] {
            assert!(a.add(0, c).is_none());
        }
        assert_eq!(a.rejected, 4);
        assert_eq!(a.held(), 0);
    }

    /// Every protocol's view type: plain numbers (VR, Fast Paxos), NOPaxos's (a newer
    /// session forgets partial blobs) and Speculative Paxos's (a newer epoch does).
    #[test]
    fn blobs_of_every_protocols_views_reassemble() {
        check_reassembly(0u64, 1);
        check_reassembly(4u64, 5);
        use crate::nopaxos::types::ViewId as NopaxosView;
        let next_session = NopaxosView {
            leader_num: 0,
            session_num: 1,
        };
        check_reassembly(NopaxosView::INITIAL, next_session);
        use crate::specpaxos::types::SpecViewId as SpecView;
        let next_epoch = SpecView {
            leader_num: 0,
            epoch: 1,
        };
        check_reassembly(SpecView::INITIAL, next_epoch);
    }
}
