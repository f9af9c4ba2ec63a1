//! The OUM end-host sequencer (`sequencer` binary): stamps each client request with the
//! session and its group's next message number and sends a copy to every member.
//!
//! * [`udp_loop`]: serving on kernel UDP sockets, one per group address.
//! * `dpdk_loop` (feature `dpdk`): serving on a DPDK port at frame level, with the
//!   `dpdk_engine` data path (stamp, per-member fan-out) and `dpdk_bench`.
//! * [`replay`]: the same core offline over a pcap capture.
//! * [`session_state`]: the session number kept across restarts.
//! * [`session_survey`]: asking the replicas for the newest session they have seen.
//! * [`report`]: counters, printed on demand and at exit.

pub mod cli;
#[cfg(feature = "dpdk")]
pub mod dpdk_bench;
#[cfg(feature = "dpdk")]
pub mod dpdk_engine;
#[cfg(feature = "dpdk")]
pub mod dpdk_loop;
pub mod replay;
pub mod report;
pub mod session_state;
pub mod session_survey;
pub mod udp_loop;
