//! Viewstamped Replication with batching in the registry (`vr`): clients send to the
//! leader directly, replicas recover after memory loss.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::messages::Message;
use super::{VrClient, VrConfig, VrReplica};
use crate::ClientId;
use crate::app::App;
use crate::kit::pending::ClientTimeouts;
use crate::registry::{Protocol, Tuning};
use crate::time::Time;

#[derive(Debug, Clone, Copy)]
pub struct Vr;

fn replica_config(config: &ClusterConfig, index: usize, tuning: &Tuning) -> VrConfig {
    let mut cfg = VrConfig::from_cluster(config, index);
    if let Some(max) = tuning.max_batch {
        cfg.max_batch = max;
    }
    cfg
}

impl Protocol for Vr {
    type Replica<A: App> = VrReplica<A>;
    type Client = VrClient;
    const NAME: &'static str = "vr";
    const SUMMARY: &'static str = "Viewstamped Replication (Multi-Paxos) with adaptive batching";

    fn uses_sequencer() -> bool {
        false
    }

    fn batches() -> bool {
        true
    }

    /// The leader's reply alone: it answers only once the request committed.
    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
    ) -> VrReplica<A> {
        VrReplica::new(replica_config(config, index, tuning), app)
    }

    fn recovering_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<VrReplica<A>> {
        Some(VrReplica::recovering(
            replica_config(config, index, tuning),
            app,
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: ClientId, _address: SocketAddrV4) -> VrClient {
        VrClient::new(
            id,
            config.n(),
            ClientTimeouts::from_config(&config.timeouts),
        )
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        match Message::decode(datagram) {
            Ok(Message::Reply { client, .. }) => Some(client),
            _ => None,
        }
    }
}
