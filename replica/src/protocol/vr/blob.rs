//! Blobs larger than a datagram (DO-VIEW-CHANGE and START-VIEW logs, NEW-STATE images)
//! travel as numbered chunks and are reassembled at the receiver (the scheme of
//! `nopaxos::blob`, with VR's plain view numbers). Nothing is truncated, and what a sender
//! can make a receiver hold is bounded: one partial blob per sender and kind, at most
//! [`MAX_BLOB`] bytes, every chunk's size checked against the blob's shape.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::messages::{ChunkIn, ChunkKind};

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

fn chunk_len(total: usize, index: u32) -> usize {
    let start = (index as usize).saturating_mul(CHUNK_DATA);
    total.saturating_sub(start).min(CHUNK_DATA)
}

/// A blob being sent, shared by its chunks waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingBlob {
    pub kind: ChunkKind,
    pub view: u64,
    pub id: u64,
    pub data: Arc<Vec<u8>>,
}

impl OutgoingBlob {
    pub fn count(&self) -> u32 {
        chunk_count(self.data.len())
    }

    /// Chunk `index` as a message body.
    pub fn chunk(&self, index: u32) -> ChunkIn<'_> {
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

#[derive(Debug)]
struct Assembly {
    view: u64,
    id: u64,
    count: u32,
    total: u32,
    received: usize,
    chunks: BTreeMap<u32, Vec<u8>>,
}

/// A complete blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sender: usize,
    pub kind: ChunkKind,
    pub view: u64,
    pub id: u64,
    pub data: Vec<u8>,
}

/// Reassembles blobs, one in progress per (sender, kind): a different blob from the same
/// sender replaces a partial one.
#[derive(Debug, Default)]
pub struct Assembler {
    partial: BTreeMap<(usize, ChunkKind), Assembly>,
    /// Chunks that contradicted their blob's shape (wrong count, size or index).
    pub rejected: u64,
}

impl Assembler {
    /// Adds a chunk; returns the blob when it is complete.
    pub fn add(&mut self, sender: usize, c: ChunkIn<'_>) -> Option<Blob> {
        let total = c.total as usize;
        let shape_ok = total <= MAX_BLOB
            && c.count == chunk_count(total)
            && c.index < c.count
            && c.data.len() == chunk_len(total, c.index);
        if !shape_ok {
            self.rejected += 1;
            return None;
        }
        if c.count == 1 {
            // The common case (a small log or state): no assembly needed.
            self.partial.remove(&(sender, c.kind));
            return Some(Blob {
                sender,
                kind: c.kind,
                view: c.view,
                id: c.id,
                data: c.data.to_vec(),
            });
        }
        let key = (sender, c.kind);
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

    /// Forgets partial blobs of views before `view`.
    pub fn forget_before(&mut self, view: u64) {
        self.partial.retain(|_, a| a.view >= view);
    }

    /// Bytes held in partial blobs.
    pub fn held(&self) -> usize {
        self.partial.values().map(|a| a.received).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(a: &mut Assembler, data: &[u8], id: u64, order: &[u32]) -> Option<Blob> {
        let blob = OutgoingBlob {
            kind: ChunkKind::NewState,
            view: 4,
            id,
            data: Arc::new(data.to_vec()),
        };
        let mut out = None;
        for &i in order {
            out = a.add(2, blob.chunk(i));
        }
        out
    }

    #[test]
    fn blobs_reassemble_in_any_order_with_duplicates() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut a = Assembler::default();
        assert_eq!(chunk_count(data.len()), 3);
        assert!(feed(&mut a, &data, 1, &[2, 0, 2]).is_none());
        assert_eq!(a.held(), 7000 + 6000);
        let blob = feed(&mut a, &data, 1, &[1]).unwrap();
        assert_eq!(blob.data, data);
        assert_eq!((blob.sender, blob.view, blob.id), (2, 4, 1));
        assert_eq!(a.held(), 0);
        let empty = feed(&mut a, &[], 2, &[0]).unwrap();
        assert!(empty.data.is_empty());
    }

    #[test]
    fn a_newer_blob_replaces_a_partial_one_and_old_views_are_forgotten() {
        let old = vec![1u8; 15_000];
        let new = vec![2u8; 15_000];
        let mut a = Assembler::default();
        assert!(feed(&mut a, &old, 1, &[0]).is_none());
        assert!(feed(&mut a, &new, 2, &[0, 1]).is_none());
        assert_eq!(feed(&mut a, &new, 2, &[2]).unwrap().data, new);
        assert!(feed(&mut a, &old, 3, &[0]).is_none());
        a.forget_before(5);
        assert_eq!(a.held(), 0);
    }

    #[test]
    fn malformed_chunks_are_rejected() {
        let mut a = Assembler::default();
        let data = [0u8; 8000];
        let bad = |count, index, total: usize, len: usize| ChunkIn {
            kind: ChunkKind::NewState,
            view: 0,
            id: 1,
            index,
            count,
            total: total as u32,
            data: &data[..len],
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
    }
}
