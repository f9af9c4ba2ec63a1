//! NOPaxos in the registry (`nopaxos`): clients send through the sequencer, and replicas
//! recover after memory loss.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::messages::Message;
use super::{NopaxosClient, NopaxosConfig, NopaxosReplica};
use crate::ClientId;
use crate::app::App;
use crate::kit::pending::ClientTimeouts;
use crate::registry::{Protocol, Tuning};
use crate::time::Time;

#[derive(Debug, Clone, Copy)]
pub struct Nopaxos;

impl Protocol for Nopaxos {
    type Replica<A: App> = NopaxosReplica<A>;
    type Client = NopaxosClient;
    const NAME: &'static str = "nopaxos";
    const SUMMARY: &'static str = "NOPaxos: the network orders, the replicas make it reliable";

    fn uses_sequencer() -> bool {
        true
    }

    /// f + 1 matching replies, the leader's among them.
    fn reply_quorum(config: &ClusterConfig) -> usize {
        config.f + 1
    }

    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        _tuning: &Tuning,
    ) -> NopaxosReplica<A> {
        NopaxosReplica::new(NopaxosConfig::from_cluster(config, index), app)
    }

    fn recovering_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        _tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<NopaxosReplica<A>> {
        Some(NopaxosReplica::recovering(
            NopaxosConfig::from_cluster(config, index),
            app,
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: ClientId, address: SocketAddrV4) -> NopaxosClient {
        NopaxosClient::new(
            id,
            address,
            config.n(),
            config.f,
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
