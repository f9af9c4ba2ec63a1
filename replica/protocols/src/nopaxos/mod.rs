//! NOPaxos (Li et al., OSDI 2016): replication on top of Ordered Unreliable Multicast. See
//! docs/protocols.md for the protocol message by message and where it differs from the
//! paper and the original code.

pub mod blob;
mod client;
pub mod images;
pub mod log;
pub mod messages;
pub mod noop_ranges;
mod registry_entry;
mod replica;
pub mod types;

pub use client::NopaxosClient;
pub use registry_entry::Nopaxos;
pub use replica::{NopaxosConfig, NopaxosReplica, NopaxosTimeouts, Status};
pub use types::{Entry, ViewId};

#[cfg(test)]
mod tests;
