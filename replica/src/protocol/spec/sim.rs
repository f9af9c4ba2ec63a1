//! Speculative Paxos in the deterministic simulator: clients send through the sequencer
//! (so runs have a sequencer host, failovers and sequencer-replica partitions), and replicas
//! recover after memory loss.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::{SpecClient, SpecConfig, SpecReplica};
use crate::app::kv::KvStore;
use crate::protocol::pending::ClientTimeouts;
use crate::sim::SimProtocol;
use crate::time::Time;

/// Speculative Paxos over the key-value store.
#[derive(Debug, Clone, Copy)]
pub struct Spec;

impl SimProtocol for Spec {
    type R = SpecReplica<KvStore>;
    type C = SpecClient;
    const NAME: &'static str = "spec";

    fn uses_sequencer() -> bool {
        true
    }

    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }

    fn new_replica(config: &ClusterConfig, index: usize) -> Self::R {
        SpecReplica::new(SpecConfig::from_cluster(config, index), KvStore::default())
    }

    fn recovering_replica(
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> Option<Self::R> {
        Some(SpecReplica::recovering(
            SpecConfig::from_cluster(config, index),
            KvStore::default(),
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: u64, address: SocketAddrV4) -> Self::C {
        SpecClient::new(
            id,
            address,
            config.n(),
            config.f,
            ClientTimeouts::from_config(&config.timeouts),
        )
    }
}
