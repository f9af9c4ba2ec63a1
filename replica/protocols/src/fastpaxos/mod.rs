//! Fast Paxos (Lamport, "Fast Paxos", Distributed Computing 2006) as a replicated state
//! machine, the protocol the NOPaxos paper compares with. Clients send each request to
//! every replica; acceptors vote it into their next free slot in the view's fast round;
//! the leader learns a slot chosen from a fast quorum of matching votes, recovers slots
//! where requests collided with the view's classic round (coordinated recovery), executes
//! in slot order and replies. Leader change runs phase 1 over every undecided slot.
//! docs/protocols.md describes it message by message, with the quorum sizes.

pub mod blob;
mod client;
pub mod images;
pub mod messages;
mod registry_entry;
mod replica;
pub mod types;

pub use client::FastPaxosClient;
pub use registry_entry::FastPaxos;
pub use replica::{
    Counters, FastPaxosConfig, FastPaxosReplica, FastPaxosTimeouts, MAX_WINDOW, Slot, Status,
};
pub use types::{Entry, Quorums, Round};

#[cfg(test)]
mod tests;
