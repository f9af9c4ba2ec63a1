//! Replicas: protocol cores (NOPaxos and the unreplicated baseline; later VR, Speculative
//! Paxos and Fast Paxos), the replicated key-value store, the deterministic simulator and the
//! linearizability checker, plus the drivers that run the cores on kernel UDP and (feature `dpdk`) DPDK.

pub mod app;
pub mod check;
pub mod cli;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod driver;
pub mod listen;
pub mod listen_keys;
pub mod protocol;
pub mod serve;
pub mod sim;
pub mod stale_alarm;
pub mod stream_digest;

pub use dataplane::time;
