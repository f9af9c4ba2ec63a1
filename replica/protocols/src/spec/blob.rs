//! This protocol's blobs: the shared chunking and reassembly of [`crate::kit::blob`]
//! with its own chunk kinds and view numbers.

use super::messages::ChunkKind;
use super::types::ViewId;
use crate::kit::blob;
pub use crate::kit::blob::{CHUNK_DATA, MAX_BLOB, chunk, chunk_count};

pub type OutgoingBlob = blob::OutgoingBlob<ChunkKind, ViewId>;
pub type ChunkIn<'a> = blob::ChunkIn<'a, ChunkKind, ViewId>;
pub type Blob = blob::Blob<ChunkKind, ViewId>;
pub type Assembler = blob::Assembler<ChunkKind, ViewId>;

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(a: &mut Assembler, data: &[u8], id: u64, order: &[u32]) -> Option<Blob> {
        let n = chunk_count(data.len());
        let mut out = None;
        for &i in order {
            out = a.add(
                1,
                ChunkIn {
                    kind: ChunkKind::State,
                    view: ViewId::INITIAL,
                    id,
                    index: i,
                    count: n,
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
        assert_eq!(feed(&mut a, &data, 1, &[1]).unwrap().data, data);
        assert!(feed(&mut a, &[], 2, &[0]).unwrap().data.is_empty());
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
        a.forget_before(ViewId {
            leader_num: 0,
            epoch: 1,
        });
        assert!(a.is_empty());
    }

    #[test]
    fn malformed_chunks_are_rejected() {
        let mut a = Assembler::default();
        let zeros = [0u8; 8000];
        let bad = |count, index, total: usize, len: usize| ChunkIn {
            kind: ChunkKind::State,
            view: ViewId::INITIAL,
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
    }
}
