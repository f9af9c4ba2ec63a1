//! The replica process: the protocol cores of the [`protocols`] crate served on kernel UDP
//! and (feature `dpdk`) DPDK, with the command line, the drivers that run a sans-IO core
//! over a packet backend, and `--mode listen`. Process glue only: the cores, the simulator
//! and the checker are crates of their own below this one.

pub mod cli;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod driver;
pub mod listen;
pub mod listen_keys;
pub mod serve;
pub mod stale_alarm;
