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

    fn chunks_of(data: &[u8]) -> Vec<(u32, Vec<u8>, u32)> {
        let n = chunk_count(data.len());
        (0..n).map(|i| (i, chunk(data, i).to_vec(), n)).collect()
    }

    fn feed(a: &mut Assembler, data: &[u8], id: u64, order: &[u32]) -> Option<Blob> {
        let parts = chunks_of(data);
        let mut out = None;
        for &i in order {
            let (index, bytes, count) = &parts[i as usize];
            out = a.add(
                2,
                ChunkIn {
                    kind: ChunkKind::State,
                    view: ViewId::INITIAL,
                    id,
                    index: *index,
                    count: *count,
                    total: data.len() as u32,
                    data: bytes,
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
        let blob = feed(&mut a, &data, 1, &[1]).unwrap();
        assert_eq!(blob.data, data);
        assert_eq!(blob.sender, 2);
        let empty = feed(&mut a, &[], 2, &[0]).unwrap();
        assert!(empty.data.is_empty());
    }

    #[test]
    fn a_newer_blob_replaces_a_partial_one() {
        let old: Vec<u8> = vec![1; 15_000];
        let new: Vec<u8> = vec![2; 15_000];
        let mut a = Assembler::default();
        assert!(feed(&mut a, &old, 1, &[0]).is_none());
        assert!(feed(&mut a, &new, 2, &[0, 1]).is_none());
        assert_eq!(feed(&mut a, &new, 2, &[2]).unwrap().data, new);
    }

    #[test]
    fn malformed_chunks_are_rejected() {
        let mut a = Assembler::default();
        let bad = |count, index, total: usize, len: usize| ChunkIn {
            kind: ChunkKind::State,
            view: ViewId::INITIAL,
            id: 1,
            index,
            count,
            total: total as u32,
            data: &[0u8; 8000][..len],
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
