//! NOPaxos on the shared in-memory cluster ([`crate::test_harness`]): replicas,
//! the sequencer and clients, messages delivered in FIFO order with zero latency. A filter
//! decides which datagrams are lost.

use std::net::SocketAddrV4;

use crate::nopaxos::messages::Message;
use crate::test_harness::{self, TestProtocol};

pub(super) use crate::test_harness::{Fate, Hosts, SEQUENCER};

/// NOPaxos with the cluster config's defaults, built as the simulator builds it.
#[derive(Default)]
pub(super) struct Nopaxos;

impl TestProtocol for Nopaxos {
    type Registered = crate::nopaxos::Nopaxos;
    type Message<'a> = Message<'a>;

    const BASE_PORT: u16 = 41000;

    fn decode(payload: &[u8]) -> Option<Message<'_>> {
        Message::decode(payload).ok()
    }
}

pub(super) type Cluster = test_harness::Cluster<Nopaxos>;
pub(super) type Packet = test_harness::Packet<Nopaxos>;

impl Cluster {
    /// The leader of the highest view a live replica is in.
    pub(super) fn leader(&self) -> usize {
        let views: Vec<_> = (0..self.replicas.len())
            .filter(|i| self.up[*i])
            .map(|i| self.replicas[i].view())
            .collect();
        let view = views.into_iter().max_by_key(|v| v.rank()).unwrap();
        view.leader(self.replicas.len())
    }
}

/// Is this datagram a stamped request with message number `n`, going to replica address `to`?
pub(super) fn oum_to(p: &Packet, n: u64, to: SocketAddrV4) -> bool {
    p.to == to && p.msgnum() == Some(n)
}
