//! Replicas: protocol cores (NOPaxos and the unreplicated baseline; later VR, Speculative
//! Paxos and Fast Paxos), the replicated key-value store, the deterministic simulator and the
//! linearizability checker, plus the drivers that run the cores on kernel UDP.

pub mod app;
pub mod check;
pub mod cli;
pub mod driver;
pub mod listen;
pub mod protocol;
pub mod serve;
pub mod sim;
pub mod stream_digest;

pub use dataplane::time;
