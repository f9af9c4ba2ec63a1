//! This protocol's blobs: the shared chunking and reassembly of [`crate::kit::blob`]
//! with view numbers as they are (the kit's tests cover them), and which partial blobs a
//! view change forgets.

use super::messages::ChunkKind;
use crate::kit::blob;
pub use crate::kit::blob::chunk;

pub type OutgoingBlob = blob::OutgoingBlob<ChunkKind, u64>;
pub type ChunkIn<'a> = blob::ChunkIn<'a, ChunkKind, u64>;
pub type Blob = blob::Blob<ChunkKind, u64>;
pub type Assembler = blob::Assembler<ChunkKind, u64>;

/// Forgets partial blobs of views before `view`, except state images (which do not depend
/// on the view).
pub fn forget_before(assembler: &mut Assembler, view: u64) {
    assembler.retain(|kind, v| kind == ChunkKind::State || *v >= view);
}
