//! Packets, not protocols.
//!
//! * [`wire`]: zero-copy typed views over packet bytes (Ethernet, IPv4, UDP, the OUM header
//!   and the envelope of our own messages), each with a checked constructor and a `Repr`.
//! * [`oum`]: Ordered Unreliable Multicast: the sequencer core that stamps packets in place
//!   and the receiver that turns stamps into messages, drop notifications and session ends.
//! * [`io`]: the [`io::PacketIo`] trait and its backends (kernel UDP, in-memory simulation).
//! * [`time`]: the time protocol cores are driven with, virtual or real.
//! * [`golden`]: the golden vectors every sequencer implementation is tested against.

pub mod config;
pub mod golden;
pub mod io;
pub mod logging;
pub mod oum;
pub mod pcap;
pub mod time;
pub mod wire;

#[doc(hidden)]
pub mod fuzzing;
