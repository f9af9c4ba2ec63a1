//! Replicas. Today: the `listen` mode, an OUM group member that follows the ordered stream
//! and reports it. The protocol cores (NOPaxos, unreplicated, then VR, Speculative Paxos,
//! Fast Paxos) live under `protocol/` as they land, driven by the same I/O loop.

pub mod cli;
pub mod listen;
pub mod stream_digest;
