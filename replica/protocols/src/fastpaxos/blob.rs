//! This protocol's blobs: the shared chunking and reassembly of [`crate::kit::blob`]
//! with its own chunk kinds and view numbers.

use super::messages::ChunkKind;
use crate::kit::blob;
pub use crate::kit::blob::{CHUNK_DATA, MAX_BLOB, chunk, chunk_count};

pub type OutgoingBlob = blob::OutgoingBlob<ChunkKind, u64>;
pub type ChunkIn<'a> = blob::ChunkIn<'a, ChunkKind, u64>;
pub type Blob = blob::Blob<ChunkKind, u64>;
pub type Assembler = blob::Assembler<ChunkKind, u64>;

/// Forgets partial blobs of views before `view`, except state images (which do not depend
/// on the view).
pub fn forget_before(assembler: &mut Assembler, view: u64) {
    assembler.retain(|kind, v| kind == ChunkKind::State || *v >= view);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(a: &mut Assembler, data: &[u8], id: u64, order: &[u32]) -> Option<Blob> {
        let count = chunk_count(data.len());
        let mut out = None;
        for &i in order {
            out = a.add(
                2,
                ChunkIn {
                    kind: ChunkKind::State,
                    view: 0,
                    id,
                    index: i,
                    count,
                    total: data.len() as u32,
                    data: chunk(data, i),
                },
            );
        }
        out
    }

    #[test]
    fn blobs_reassemble_in_any_order_with_duplicates() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut a = Assembler::default();
        assert_eq!(chunk_count(data.len()), 3);
        assert!(feed(&mut a, &data, 1, &[2, 0, 2]).is_none());
        assert!(a.held() > 0);
        let blob = feed(&mut a, &data, 1, &[1]).unwrap();
        assert_eq!(blob.data, data);
        assert_eq!(blob.sender, 2);
        assert_eq!(a.held(), 0);
        assert!(feed(&mut a, &[], 2, &[0]).unwrap().data.is_empty());
    }

    #[test]
    fn a_newer_blob_replaces_a_partial_one() {
        let old = vec![1u8; 15_000];
        let new = vec![2u8; 15_000];
        let mut a = Assembler::default();
        assert!(feed(&mut a, &old, 1, &[0]).is_none());
        assert!(feed(&mut a, &new, 2, &[0, 1]).is_none());
        assert_eq!(feed(&mut a, &new, 2, &[2]).unwrap().data, new);
    }

    #[test]
    fn malformed_chunks_are_rejected() {
        let mut a = Assembler::default();
        let zeros = [0u8; 8000];
        let bad = |count, index, total: usize, len: usize| ChunkIn {
            kind: ChunkKind::State,
            view: 0,
            id: 1,
            index,
            count,
            total: total as u32,
            data: &zeros[..len],
        };
        for c in [
            bad(1, 0, 10, 9),
            bad(2, 0, 10, 10),
            bad(1, 1, 10, 0),
            bad(u32::MAX, 0, u32::MAX as usize, 7000),
        ] {
            assert!(a.add(0, c).is_none());
        }
        assert_eq!(a.rejected, 4);
        assert_eq!(a.held(), 0);
    }
}
