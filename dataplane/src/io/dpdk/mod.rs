//! The DPDK backend (cargo feature `dpdk`), built on `dpdk-sys` (bindgen against the
//! system DPDK >= 22.11 plus a C shim for its inline fast-path functions).
//!
//! One file per job:
//! * [`eal`]: `rte_eal_init` from EAL arguments passed through unchanged, once per process,
//!   with errors that name the problem; [`Eal::cleanup`] at shutdown.
//! * [`mempool`]: mbuf pools; [`mbuf`]: an owning [`Mbuf`] (drop frees, exactly once;
//!   clones share data for fan-out; chains put a header segment in front).
//! * [`port`]: port setup (a queue pair per worker with RSS when the device has it, else one
//!   queue), promiscuous mode, start/stop/close, link and device counters.
//! * [`burst`]: fixed-capacity bursts of owned mbufs and the rx/tx queue calls.
//! * [`ring`]: ports made of `rte_ring`s, to drive a real port from the same process in
//!   tests and benchmarks.
//! * [`headers`], [`arp`]: Ethernet/IPv4/UDP parsed in place and written into the headroom;
//!   ARP answered for our addresses and learned.
//! * [`io`]: [`DpdkIo`], the [`crate::io::PacketIo`] backend: a received buffer's bytes are
//!   the UDP payload inside the mbuf (no copy).
//! * [`clock`]: the TSC as a clock for poll loops that fire their own timers.
//! * [`counters`]: why frames were dropped, per reason.
//!
//! Lifetimes: pools and rings are handles that live until [`Eal::cleanup`]; mbufs and
//! ports are owned values freed or closed on drop. Nothing is freed twice because an
//! [`Mbuf`] is the only owner of its chain until [`Mbuf::into_raw`] hands it to DPDK.

pub mod arp;
pub mod burst;
pub mod clock;
mod counters;
pub mod eal;
mod error;
pub mod headers;
pub mod io;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod ring;
mod static_macs;
mod stats_line;

pub use burst::{MbufBurst, Queue};
pub use clock::{TscClock, tsc};
pub use counters::{FrameDrop, FrameDropCounts};
pub use eal::Eal;
pub use error::{DpdkError, last_error, strerror};
pub use io::{DpdkBuf, DpdkIo, DpdkIoConfig, DpdkIoStats};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{DeviceStats, LinkStatus, Port, PortConfig};
pub use ring::{Ring, RingPort};
pub use static_macs::static_macs;
pub use stats_line::dpdk_stats_line;
