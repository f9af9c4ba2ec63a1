//! VR in the simulator: no sequencer (clients talk to replicas directly), recovery after
//! memory loss supported.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::{VrClient, VrConfig, VrReplica};
use crate::app::kv::KvStore;
use crate::protocol::pending::ClientTimeouts;
use crate::sim::SimProtocol;
use crate::time::Time;

/// Viewstamped Replication with batching, as the simulator runs it (`--protocol vr`).
#[derive(Debug, Clone, Copy)]
pub struct Vr;

impl SimProtocol for Vr {
    type R = VrReplica<KvStore>;
    type C = VrClient;
    const NAME: &'static str = "vr";

    fn uses_sequencer() -> bool {
        false
    }

    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }

    fn new_replica(config: &ClusterConfig, index: usize) -> Self::R {
        VrReplica::new(VrConfig::from_cluster(config, index), KvStore::default())
    }

    fn recovering_replica(
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> Option<Self::R> {
        Some(VrReplica::recovering(
            VrConfig::from_cluster(config, index),
            KvStore::default(),
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: u64, _address: SocketAddrV4) -> Self::C {
        VrClient::new(
            id,
            config.n(),
            ClientTimeouts::from_config(&config.timeouts),
        )
    }
}
