//! Speculative Paxos (Ports, Li, Woos, Szekeres, Krishnamurthy; NSDI 2015): clients send
//! requests to every replica through a mostly-ordered multicast (here the OUM sequencer
//! path, used as a best-effort order only); replicas log and execute them speculatively in
//! arrival order and answer with a hash of their log prefix; a client completes in two
//! message delays when a superquorum of f + ⌈f/2⌉ + 1 replies match. The leader
//! periodically synchronizes to commit a prefix, and divergent logs are reconciled by a
//! view change that merges them, rolling back speculative execution that the merged log
//! contradicts. See docs/protocols.md for the protocol message by message and where it
//! differs from the paper and the original code.

pub mod blob;
mod client;
pub mod images;
pub mod ledger;
pub mod merge;
pub mod messages;
mod registry_entry;
mod replica;
pub mod types;

pub use client::{ClientStats, SpecClient};
pub use registry_entry::Spec;
pub use replica::{SpecConfig, SpecReplica, SpecStats, SpecTimeouts, Status};
pub use types::{LogHash, Request, SpecViewId, merge_threshold, superquorum};

#[cfg(test)]
mod tests;
