//! VR on the shared in-memory cluster ([`crate::test_harness`]): replicas and
//! clients (no sequencer), datagrams delivered in FIFO order with zero latency. A filter
//! decides which datagrams are lost.

use dataplane::config::ClusterConfig;

use crate::Replica;
use crate::app::kv::KvStore;
use crate::test_harness::{self, TestProtocol};
use crate::time::Time;
use crate::vr::messages::{ChunkKind, Message};
use crate::vr::{DEFAULT_LOG_KEEP, DEFAULT_MAX_BATCH, VrConfig, VrReplica};

pub(super) use crate::test_harness::append;

/// VR with the settings tests adjust (through [`test_harness::Cluster::with`]); the rest of
/// every replica's config comes from the cluster config.
pub(super) struct Vr {
    pub(super) max_batch: usize,
    pub(super) log_keep: u64,
}

impl Default for Vr {
    fn default() -> Vr {
        Vr {
            max_batch: DEFAULT_MAX_BATCH,
            log_keep: DEFAULT_LOG_KEEP,
        }
    }
}

impl Vr {
    fn config(&self, config: &ClusterConfig, index: usize) -> VrConfig {
        VrConfig {
            max_batch: self.max_batch,
            log_keep: self.log_keep,
            ..VrConfig::from_cluster(config, index)
        }
    }
}

impl TestProtocol for Vr {
    type Registered = crate::vr::Vr;
    type Message<'a> = Message<'a>;

    fn decode(payload: &[u8]) -> Option<Message<'_>> {
        Message::decode(payload).ok()
    }

    fn replica(&self, config: &ClusterConfig, index: usize) -> VrReplica<KvStore> {
        VrReplica::new(self.config(config, index), KvStore::default())
    }

    fn recovering(
        &self,
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> VrReplica<KvStore> {
        let cfg = self.config(config, index);
        VrReplica::recovering(cfg, KvStore::default(), nonce, now)
    }
}

pub(super) type Cluster = test_harness::Cluster<Vr>;
pub(super) type Packet = test_harness::Packet<Vr>;

impl Packet {
    pub(super) fn is_prepare(&self) -> bool {
        matches!(self.message(), Some(Message::Prepare { .. }))
    }

    pub(super) fn is_chunk(&self, kind: ChunkKind) -> bool {
        matches!(self.message(), Some(Message::Chunk(c)) if c.kind == kind)
    }
}

impl Cluster {
    /// The config of replica `i`.
    pub(super) fn vr_config(&self, i: usize) -> VrConfig {
        self.protocol.config(&self.config, i)
    }

    /// The live normal primary of the highest view, if any.
    pub(super) fn primary(&self) -> Option<usize> {
        (0..self.replicas.len())
            .filter(|&i| self.up[i] && self.replicas[i].is_leader())
            .max_by_key(|&i| self.replicas[i].view())
    }
}
