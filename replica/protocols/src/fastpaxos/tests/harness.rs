//! Fast Paxos on the shared in-memory cluster ([`crate::test_harness`]): replicas
//! and clients (no sequencer), datagrams delivered in FIFO order with zero latency. A filter
//! decides each datagram's fate: delivered, lost, or held back until released. The cluster
//! logs every completion in `done` as it comes.

use std::net::SocketAddrV4;
use std::time::Duration;

use dataplane::config::ClusterConfig;

use crate::app::kv::KvStore;
use crate::fastpaxos::messages::Message;
use crate::fastpaxos::{FastPaxosClient, FastPaxosConfig, FastPaxosReplica};
use crate::kit::pending::ClientTimeouts;
use crate::test_harness::{self, TestProtocol};
use crate::time::Time;
use crate::{ClientId, EntryId, Replica, RequestId};

pub(super) use crate::test_harness::{Fate, Hosts};

/// Fast Paxos with the settings tests adjust (through [`test_harness::Cluster::with`]); the
/// rest of every replica's config comes from the cluster config.
pub(super) struct FastPaxos {
    /// Executed slots a replica keeps.
    pub(super) retain: u64,
}

impl Default for FastPaxos {
    fn default() -> FastPaxos {
        FastPaxos { retain: 1024 }
    }
}

impl FastPaxos {
    fn config(&self, config: &ClusterConfig, index: usize) -> FastPaxosConfig {
        let mut cfg = FastPaxosConfig::from_cluster(config, index);
        cfg.retain = self.retain;
        cfg
    }
}

impl TestProtocol for FastPaxos {
    type Registered = crate::fastpaxos::FastPaxos;
    type Message<'a> = Message<'a>;

    const LOG_COMPLETIONS: bool = true;

    fn decode(payload: &[u8]) -> Option<Message<'_>> {
        Message::decode(payload).ok()
    }

    fn replica(&self, config: &ClusterConfig, index: usize) -> FastPaxosReplica<KvStore> {
        FastPaxosReplica::new(self.config(config, index), KvStore::default())
    }

    fn recovering(
        &self,
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> FastPaxosReplica<KvStore> {
        let cfg = self.config(config, index);
        FastPaxosReplica::recovering(cfg, KvStore::default(), nonce, now)
    }

    /// A client that resends at the cluster's period and gives up only after a minute.
    fn client(
        &self,
        config: &ClusterConfig,
        id: ClientId,
        address: SocketAddrV4,
    ) -> FastPaxosClient {
        let timeouts = ClientTimeouts {
            give_up: Duration::from_secs(60),
            ..ClientTimeouts::from_config(&config.timeouts)
        };
        FastPaxosClient::new(id, address, config.n(), timeouts)
    }
}

pub(super) type Cluster = test_harness::Cluster<FastPaxos>;
pub(super) type Packet = test_harness::Packet<FastPaxos>;

impl Cluster {
    /// Invokes an append of `value` to key `k` at client `c`.
    pub(super) fn append(&mut self, c: usize, value: &str) -> RequestId {
        self.invoke(c, test_harness::append(b"k", value.as_bytes()))
    }

    /// Runs `count` appends from client `c`, one after the other.
    pub(super) fn appends(&mut self, c: usize, count: usize, prefix: &str) {
        for i in 0..count {
            let before = self.done[c].len();
            self.append(c, &format!("{prefix}{i};"));
            assert!(
                self.run_until_done(c, before + 1, 10_000),
                "append {i} of client {c} did not complete: {}",
                self.describe()
            );
        }
    }

    /// Checks that every pair of replicas agrees on every slot both report committed, and
    /// on the execution point and state digest where their commit points meet.
    pub(super) fn assert_fp_agreement(&self) {
        for a in 0..self.replicas.len() {
            for b in a + 1..self.replicas.len() {
                let (ra, rb) = (&self.replicas[a], &self.replicas[b]);
                let upto = ra.commit_point().min(rb.commit_point());
                for slot in 1..=upto {
                    if let (Some(x), Some(y)) = (ra.committed_entry(slot), rb.committed_entry(slot))
                    {
                        assert_eq!(x, y, "slot {slot}: replicas {a} and {b} disagree");
                    }
                }
                if ra.commit_point() == rb.commit_point() {
                    assert_eq!(
                        ra.execution(),
                        rb.execution(),
                        "replicas {a} and {b} diverge"
                    );
                }
            }
        }
    }

    /// The committed entries of replica `i` from its first kept slot.
    pub(super) fn committed(&self, i: usize) -> Vec<EntryId> {
        let r = &self.replicas[i];
        (r.log_start()..=r.commit_point())
            .filter_map(|s| r.committed_entry(s))
            .collect()
    }

    /// The leader, if exactly one replica that is up leads.
    pub(super) fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.replicas.len())
            .filter(|&i| self.up[i] && self.replicas[i].is_leader())
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }
}
