//! Viewstamped Replication (Liskov & Cowling, "Viewstamped Replication Revisited", 2012),
//! i.e. Multi-Paxos with a stable leader, with adaptive batching: the baseline NOPaxos is
//! compared with. See docs/protocols.md for the protocol message by message and where it
//! differs from the paper.
//!
//! * [`VrReplica`] and [`VrClient`]: the sans-IO cores ([`crate::Replica`],
//!   [`crate::Client`]); [`VrConfig`] holds the batching knobs.
//! * [`messages`], [`images`], [`blob`], [`types`]: the wire format, the view change and
//!   state transfer blobs, chunking, and the log.
//! * [`Vr`]: the protocol's registry entry ([`crate::Protocol`]).

pub mod blob;
mod client;
pub mod images;
pub mod messages;
mod registry_entry;
mod replica;
pub mod types;

pub use client::VrClient;
pub use registry_entry::Vr;
pub use replica::{
    DEFAULT_LOG_KEEP, DEFAULT_MAX_BATCH, DEFAULT_MAX_QUEUE, Status, VrConfig, VrReplica, VrStats,
    VrTimeouts,
};
pub use types::{Entry, Log};

#[cfg(test)]
mod tests;
