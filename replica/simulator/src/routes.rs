//! Addresses of the simulated hosts, and how a core's [`Destination`]s become datagrams on
//! the simulated network.

use std::net::{Ipv4Addr, SocketAddrV4};

use dataplane::config::ClusterConfig;
use dataplane::io::sim::SimIo;
use dataplane::io::{Packet, PacketBuf, PacketIo};

use super::hold::Holder;
use protocols::{AddressBook, Destination, MAX_DATAGRAM, Node};

/// First port of the clients' addresses (127.0.0.2:20000, :20001, ...).
const CLIENT_BASE_PORT: u16 = 20000;

/// Every address of a run: replicas from the config, the group socket the sequencer owns,
/// and one per client.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    /// The replicas the protocol runs and the group socket, as every driver resolves them.
    pub(crate) book: AddressBook,
    pub(crate) group: SocketAddrV4,
    pub(crate) clients: Vec<SocketAddrV4>,
}

impl Routes {
    pub(crate) fn new(config: &ClusterConfig, replicas: usize, clients: usize) -> Routes {
        let group = config
            .groups
            .first()
            .map(|g| config.group_socket(g))
            .unwrap_or_else(|| SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 100), 22222));
        Routes {
            book: AddressBook::new(config)
                .with_replicas(replicas)
                .with_group(group),
            group,
            clients: (0..clients)
                .map(|i| {
                    let port = CLIENT_BASE_PORT.wrapping_add(i as u16);
                    SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), port)
                })
                .collect(),
        }
    }

    /// The replicas' addresses, by index.
    pub(crate) fn replicas(&self) -> &[SocketAddrV4] {
        self.book.replicas()
    }

    /// Appends the addresses `destination` means for a datagram from `sender` (its replica
    /// index, if a replica sends). An unknown replica index yields nothing.
    pub(crate) fn resolve(
        &self,
        destination: Destination,
        sender: Option<usize>,
        out: &mut Vec<SocketAddrV4>,
    ) {
        self.book.resolve(destination, sender, |a| out.push(a));
    }
}

/// Reusable buffers of the driver, so a run allocates little per datagram.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) tx: Vec<PacketBuf>,
    pub(crate) rx: Vec<PacketBuf>,
    addrs: Vec<SocketAddrV4>,
    /// The long-hold fault: datagrams between replicas held back for a long time.
    pub(crate) hold: Holder,
}

/// What one [`flush`] sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Datagrams handed to the network (one per destination address).
    pub(crate) datagrams: u64,
    /// Transmits whose destination named no host (an unknown replica index).
    pub(crate) misrouted: u64,
}

/// Drains every datagram `node` wants to send, encoded straight into network buffers, and
/// hands them to `io`.
pub(crate) fn flush<N: Node + ?Sized>(
    node: &mut N,
    io: &mut SimIo,
    routes: &Routes,
    sender: Option<usize>,
    scratch: &mut Scratch,
) -> Flushed {
    let mut flushed = Flushed::default();
    loop {
        let mut buf = io.alloc();
        let room = buf.capacity().min(MAX_DATAGRAM);
        let Some(transmit) = node.poll_transmit(&mut buf.buffer_mut()[..room]) else {
            io.free(buf);
            break;
        };
        buf.set_len(transmit.len.min(room));
        scratch.addrs.clear();
        routes.resolve(transmit.destination, sender, &mut scratch.addrs);
        let Some((&last, others)) = scratch.addrs.split_last() else {
            flushed.misrouted += 1;
            io.free(buf);
            continue;
        };
        flushed.datagrams += scratch.addrs.len() as u64;
        let mut hold = |to: SocketAddrV4, bytes: &[u8]| match sender {
            Some(from) if scratch.hold.chance > 0.0 && routes.replicas().contains(&to) => {
                scratch.hold.maybe_hold(from, to, bytes)
            }
            _ => false,
        };
        for &to in others {
            if hold(to, buf.as_ref()) {
                continue;
            }
            let mut copy = io.duplicate(&buf);
            copy.set_peer(to);
            scratch.tx.push(copy);
        }
        if hold(last, buf.as_ref()) {
            io.free(buf);
        } else {
            buf.set_peer(last);
            scratch.tx.push(buf);
        }
    }
    if !scratch.tx.is_empty() {
        // The simulated backend never fails; a refused buffer is counted by the network.
        let _ = io.send_burst(&mut scratch.tx);
        scratch.tx.clear();
    }
    flushed
}
