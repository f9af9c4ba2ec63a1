//! Packet I/O: the [`PacketIo`] trait, which moves bursts of datagram buffers, and its
//! backends. A backend moves bytes and nothing else; protocols never see sockets.
//!
//! * [`udp`]: kernel UDP sockets with `recvmmsg`/`sendmmsg` batching, non-blocking, for a
//!   busy-poll loop or with [`PacketIo::wait`] for a shared machine.
//! * [`sim`]: an in-memory network for the deterministic simulator: seeded faults, virtual
//!   time.
//!
//! The unit is a UDP datagram: the buffer holds the UDP payload, the peer address (source
//! on receive, destination on send) and the local endpoint (which of the backend's own
//! addresses it arrived on or leaves from).

mod buffer;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod sim;
pub mod udp;

use std::io;
use std::net::SocketAddrV4;
use std::time::Duration;

use crate::wire::MacAddr;

pub use buffer::{BufferPool, DEFAULT_BUFFER_SIZE, PacketBuf};

/// Which of a backend's local addresses a datagram arrived on or leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Endpoint(pub u16);

/// A datagram buffer as a backend hands it out.
pub trait Packet: AsRef<[u8]> + AsMut<[u8]> {
    /// The whole writable area; `set_len` then says how much of it is the datagram.
    fn buffer_mut(&mut self) -> &mut [u8];
    fn set_len(&mut self, len: usize);
    fn capacity(&self) -> usize;
    /// Source address of a received datagram, destination of one to send.
    fn peer(&self) -> SocketAddrV4;
    fn set_peer(&mut self, peer: SocketAddrV4);
    fn endpoint(&self) -> Endpoint;
    fn set_endpoint(&mut self, endpoint: Endpoint);
    /// The Ethernet source MAC of a received datagram, on backends that see frames (DPDK);
    /// None on kernel sockets and for buffers to send. A replica checks it against the DPDK
    /// sequencer's MACs (docs/operations.md, "Who may stamp").
    fn src_mac(&self) -> Option<MacAddr> {
        None
    }

    /// Copies `bytes` in as the whole datagram; false (and nothing copied) if they do not fit.
    fn fill(&mut self, bytes: &[u8]) -> bool {
        match self.buffer_mut().get_mut(..bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.set_len(bytes.len());
                true
            }
            None => false,
        }
    }
}

/// Counters every backend keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Received datagrams larger than a buffer, dropped.
    pub rx_truncated: u64,
    /// Datagrams the backend could not send (full queue, unreachable peer), dropped.
    pub tx_errors: u64,
}

/// Moves bursts of datagrams. Never blocks except in [`PacketIo::wait`].
pub trait PacketIo {
    type Buf: Packet;

    /// Receives up to `max` datagrams, appending them to `batch`; returns how many.
    fn recv_burst(&mut self, batch: &mut Vec<Self::Buf>, max: usize) -> io::Result<usize>;

    /// Sends the datagrams in `batch` (each to its peer, from its endpoint) and empties it,
    /// returning the buffers to the pool. Returns how many were handed to the network;
    /// the rest were dropped and counted in `tx_errors`, as a NIC drops on a full queue.
    fn send_burst(&mut self, batch: &mut Vec<Self::Buf>) -> io::Result<usize>;

    /// An empty buffer for a datagram to send.
    fn alloc(&mut self) -> Self::Buf;

    /// Gives back a buffer that will not be sent.
    fn free(&mut self, buf: Self::Buf);

    /// A copy of `buf` to send elsewhere (the sequencer's fan-out); backends that can share
    /// the bytes instead of copying them override it.
    fn duplicate(&mut self, buf: &Self::Buf) -> Self::Buf {
        let mut copy = self.alloc();
        copy.fill(buf.as_ref());
        copy.set_peer(buf.peer());
        copy.set_endpoint(buf.endpoint());
        copy
    }

    /// Sleeps until a datagram may have arrived or `timeout` passed. Busy-polling callers
    /// never call it; processes sharing cores with others do.
    fn wait(&mut self, timeout: Duration) -> io::Result<()>;

    /// The backend's own addresses, indexed by [`Endpoint`].
    fn local_addrs(&self) -> &[SocketAddrV4];

    fn stats(&self) -> IoStats;
}
