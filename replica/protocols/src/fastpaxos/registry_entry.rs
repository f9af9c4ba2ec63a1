//! Fast Paxos in the registry (`fastpaxos`): clients send to every replica directly (no
//! sequencer), and replicas recover after memory loss.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::messages::Message;
use super::{FastPaxosClient, FastPaxosConfig, FastPaxosReplica};
use crate::ClientId;
use crate::app::App;
use crate::kit::pending::ClientTimeouts;
use crate::registry::{Protocol, Tuning};
use crate::time::Time;

#[derive(Debug, Clone, Copy)]
pub struct FastPaxos;

fn replica_config(config: &ClusterConfig, index: usize, tuning: &Tuning) -> FastPaxosConfig {
    let mut cfg = FastPaxosConfig::from_cluster(config, index);
    if let Some(retain) = tuning.retain {
        cfg.retain = retain;
    }
    cfg
}

impl Protocol for FastPaxos {
    type Replica<A: App> = FastPaxosReplica<A>;
    type Client = FastPaxosClient;
    const NAME: &'static str = "fastpaxos";
    const SUMMARY: &'static str = "Fast Paxos";

    fn uses_sequencer() -> bool {
        false
    }

    /// The first REPLY: only a replica executing chosen slots in order sends one.
    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
    ) -> FastPaxosReplica<A> {
        FastPaxosReplica::new(replica_config(config, index, tuning), app)
    }

    fn recovering_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<FastPaxosReplica<A>> {
        Some(FastPaxosReplica::recovering(
            replica_config(config, index, tuning),
            app,
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: ClientId, address: SocketAddrV4) -> FastPaxosClient {
        FastPaxosClient::new(
            id,
            address,
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
