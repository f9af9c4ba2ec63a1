//! This protocol's blobs: the shared chunking and reassembly of [`crate::kit::blob`]
//! with its own view numbers (the kit's tests cover them).

use super::messages::ChunkKind;
use super::types::ViewId;
use crate::kit::blob;
pub use crate::kit::blob::chunk;

pub type OutgoingBlob = blob::OutgoingBlob<ChunkKind, ViewId>;
pub type ChunkIn<'a> = blob::ChunkIn<'a, ChunkKind, ViewId>;
pub type Blob = blob::Blob<ChunkKind, ViewId>;
pub type Assembler = blob::Assembler<ChunkKind, ViewId>;
