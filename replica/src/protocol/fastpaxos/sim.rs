//! Fast Paxos in the deterministic simulator: clients send to every replica directly (no
//! sequencer), and replicas recover after memory loss.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::{FastPaxosClient, FastPaxosConfig, FastPaxosReplica};
use crate::app::kv::KvStore;
use crate::protocol::pending::ClientTimeouts;
use crate::time::Time;

/// Executed slots a simulated replica keeps: fewer than in production, so that runs of a
/// few virtual seconds truncate logs and send lagging replicas to state transfer.
const SIM_RETAIN: u64 = 256;

/// Fast Paxos for [`crate::sim`].
#[derive(Debug, Clone, Copy)]
pub struct FastPaxos;

fn replica_config(config: &ClusterConfig, index: usize) -> FastPaxosConfig {
    let mut cfg = FastPaxosConfig::from_cluster(config, index);
    cfg.retain = SIM_RETAIN;
    cfg
}

impl crate::sim::SimProtocol for FastPaxos {
    type R = FastPaxosReplica<KvStore>;
    type C = FastPaxosClient;
    const NAME: &'static str = "fastpaxos";

    fn uses_sequencer() -> bool {
        false
    }

    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }

    fn new_replica(config: &ClusterConfig, index: usize) -> Self::R {
        FastPaxosReplica::new(replica_config(config, index), KvStore::default())
    }

    fn recovering_replica(
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> Option<Self::R> {
        Some(FastPaxosReplica::recovering(
            replica_config(config, index),
            KvStore::default(),
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: u64, address: SocketAddrV4) -> Self::C {
        FastPaxosClient::new(
            id,
            address,
            config.n(),
            ClientTimeouts::from_config(&config.timeouts),
        )
    }
}
