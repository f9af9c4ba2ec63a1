//! In-memory network for the deterministic simulator: a whole cluster in one process,
//! single-threaded, in virtual time, with every fault drawn from one seeded PRNG.
//!
//! * [`SimNetwork`]: the shared network. It owns virtual time ([`SimNetwork::now`],
//!   [`SimNetwork::advance_to`], [`SimNetwork::next_delivery`]), the link model per directed
//!   host pair ([`LinkConfig`]: loss, duplication, delay, jitter, reordering), partitions and
//!   host crashes, and counts what happens to every datagram ([`SimStats`]).
//! * [`SimIo`]: one host's [`PacketIo`](crate::io::PacketIo) backend, so protocol code runs
//!   unchanged on it.
//! * [`SimRng`]: the PRNG (xoshiro256**), written here so that a seed replays identically.
//!
//! A driver loop: let every host handle `recv_burst` and send; then jump time to
//! `min(next_delivery(), next timer)` with `advance_to`, and repeat. The same seed and the
//! same sequence of calls give the same run, byte for byte: nothing iterates a hash map and
//! the PRNG is consumed in a fixed order (per datagram: loss, duplicate, then per copy:
//! jitter, reorder; certain outcomes draw nothing).

mod error;
mod host;
mod inbox;
mod link;
mod network;
mod rng;
mod stats;
#[cfg(test)]
mod tests;

pub use error::SimError;
pub use host::SimIo;
pub use link::LinkConfig;
pub use network::{HostId, PAUSED_SOCKET_BUFFER, SimNetwork};
pub use rng::SimRng;
pub use stats::SimStats;
