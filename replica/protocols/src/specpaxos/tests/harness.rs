//! Speculative Paxos on the shared in-memory cluster ([`crate::test_harness`]):
//! replicas, the sequencer and clients, datagrams delivered in FIFO order with zero latency.
//! A filter decides which datagrams are delivered, lost or held back (to reorder them).

use crate::Replica;
use crate::app::kv::KvStore;
use crate::specpaxos::SpecReplica;
use crate::specpaxos::messages::Message;
use crate::test_harness::{self, SEQUENCER, TestProtocol};

pub(super) use crate::test_harness::{Fate, append, appended};

/// Speculative Paxos with the cluster config's defaults, built as the simulator builds it.
#[derive(Default)]
pub(super) struct Spec;

impl TestProtocol for Spec {
    type Registered = crate::specpaxos::Spec;
    type Message<'a> = Message<'a>;

    fn decode(payload: &[u8]) -> Option<Message<'_>> {
        Message::decode(payload).ok()
    }

    /// No replica ever saw a committed entry contradicted.
    fn assert_sound(replica: &SpecReplica<KvStore>) {
        let alarms = replica.spec_stats().safety_alarms;
        assert_eq!(alarms, 0, "{}", replica.describe());
    }
}

pub(super) type Cluster = test_harness::Cluster<Spec>;
pub(super) type Packet = test_harness::Packet<Spec>;

impl Packet {
    /// The (client, request) of a stamped request on its way to a replica.
    pub(super) fn stamped_request(&self) -> Option<(u64, u64)> {
        if self.from != SEQUENCER {
            return None;
        }
        match self.message()? {
            Message::Request {
                client, request, ..
            } => Some((client, request)),
            _ => None,
        }
    }
}

impl Cluster {
    /// The value of `key` at replica `i`.
    pub(super) fn value(&self, i: usize, key: &[u8]) -> Option<Vec<u8>> {
        self.replicas[i]
            .ledger()
            .machine()
            .app()
            .get(key)
            .map(<[u8]>::to_vec)
    }
}
