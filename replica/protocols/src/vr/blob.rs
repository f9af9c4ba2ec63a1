//! This protocol's blobs: the shared chunking and reassembly of [`crate::kit::blob`]
//! with view numbers as they are (the kit's tests cover them).

use super::messages::ChunkKind;
use crate::kit::blob;

pub type OutgoingBlob = blob::OutgoingBlob<ChunkKind, u64>;
pub type Blob = blob::Blob<ChunkKind, u64>;
pub type Assembler = blob::Assembler<ChunkKind, u64>;
