//! One host's view of the simulated network: the [`PacketIo`] backend a process uses.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::{HostId, SimNetwork};
use crate::io::{IoStats, Packet, PacketBuf, PacketIo};

/// The [`PacketIo`] backend of one simulated host, so protocol code runs unchanged in the
/// simulator. Receives what the network has delivered by the current virtual time; sends
/// through the link model. Buffers come from a pool shared by the whole network.
#[derive(Debug)]
pub struct SimIo {
    net: SimNetwork,
    host: HostId,
    addrs: Vec<SocketAddrV4>,
    stats: IoStats,
}

impl SimIo {
    pub(super) fn new(net: SimNetwork, host: HostId, addrs: Vec<SocketAddrV4>) -> SimIo {
        SimIo {
            net,
            host,
            addrs,
            stats: IoStats::default(),
        }
    }

    /// The host this backend belongs to, for faults aimed at it.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The network this host is attached to (for its clock, mostly).
    pub fn network(&self) -> &SimNetwork {
        &self.net
    }
}

impl PacketIo for SimIo {
    type Buf = PacketBuf;

    fn recv_burst(&mut self, batch: &mut Vec<PacketBuf>, max: usize) -> io::Result<usize> {
        let n = self.net.state().receive(self.host, batch, max);
        self.stats.rx_packets += n as u64;
        Ok(n)
    }

    /// A buffer whose endpoint is not one of this host's addresses never reaches the
    /// network: it is dropped and counted in `tx_errors`.
    fn send_burst(&mut self, batch: &mut Vec<PacketBuf>) -> io::Result<usize> {
        let mut state = self.net.state();
        let mut handed = 0;
        for buf in batch.drain(..) {
            match self.addrs.get(usize::from(buf.endpoint().0)) {
                Some(&src) => {
                    state.transmit(self.host, src, buf);
                    handed += 1;
                }
                None => {
                    self.stats.tx_errors += 1;
                    state.pool.put(buf);
                }
            }
        }
        self.stats.tx_packets += handed as u64;
        Ok(handed)
    }

    fn alloc(&mut self) -> PacketBuf {
        let mut buf = self.net.state().pool.get();
        buf.set_peer(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        buf
    }

    fn free(&mut self, buf: PacketBuf) {
        self.net.state().pool.put(buf);
    }

    /// Virtual time does not pass while waiting: the driver advances it.
    fn wait(&mut self, _timeout: Duration) -> io::Result<()> {
        Ok(())
    }

    fn local_addrs(&self) -> &[SocketAddrV4] {
        &self.addrs
    }

    fn stats(&self) -> IoStats {
        self.stats
    }
}
