//! This protocol's blobs: the shared chunking and reassembly of [`crate::kit::blob`]
//! with its own view numbers (the kit's tests cover them).

use super::messages::ChunkKind;
use super::types::SpecViewId;
use crate::kit::blob;
pub use crate::kit::blob::chunk;

pub type OutgoingBlob = blob::OutgoingBlob<ChunkKind, SpecViewId>;
pub type ChunkIn<'a> = blob::ChunkIn<'a, ChunkKind, SpecViewId>;
pub type Blob = blob::Blob<ChunkKind, SpecViewId>;
pub type Assembler = blob::Assembler<ChunkKind, SpecViewId>;
