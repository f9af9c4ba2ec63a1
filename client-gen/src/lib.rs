//! Load generation and local clusters.
//!
//! * `client-gen local`: the main job: a sequencer and replicas on loopback, every protocol
//!   in turn under the same load, a side-by-side table and reports.
//! * `client-gen run`: a load against a running cluster, on kernel UDP or (feature `dpdk`,
//!   `--dpdk`) a DPDK port.
//! * `client-gen oum-demo`: the OUM layer alone (sequencer and listening replicas).

pub mod children;
pub mod cli;
pub mod cpu;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod engine;
pub mod local;
pub mod oum_demo;
pub mod output;
pub mod plot;
pub mod report;
pub mod sweep;
pub mod workload;
