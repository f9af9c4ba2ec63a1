//! Speculative Paxos in the registry (`spec`): clients send through the sequencer, and
//! replicas recover after memory loss.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::messages::Message;
use super::{SpecClient, SpecConfig, SpecReplica};
use crate::ClientId;
use crate::app::App;
use crate::kit::pending::ClientTimeouts;
use crate::registry::{Protocol, Tuning};
use crate::time::Time;

#[derive(Debug, Clone, Copy)]
pub struct Spec;

impl Protocol for Spec {
    type Replica<A: App> = SpecReplica<A>;
    type Client = SpecClient;
    const NAME: &'static str = "spec";
    const SUMMARY: &'static str =
        "Speculative Paxos (needs the sequencer, used as a best-effort order)";

    fn uses_sequencer() -> bool {
        true
    }

    /// A superquorum of matching speculative replies (the slow path's commit, after a
    /// reconciliation, also ends at the client through its replies).
    fn reply_quorum(config: &ClusterConfig) -> usize {
        super::superquorum(config.f).min(config.n())
    }

    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        _tuning: &Tuning,
    ) -> SpecReplica<A> {
        SpecReplica::new(SpecConfig::from_cluster(config, index), app)
    }

    fn recovering_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        _tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<SpecReplica<A>> {
        Some(SpecReplica::recovering(
            SpecConfig::from_cluster(config, index),
            app,
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: ClientId, address: SocketAddrV4) -> SpecClient {
        SpecClient::new(
            id,
            address,
            config.n(),
            config.f,
            ClientTimeouts::from_config(&config.timeouts),
        )
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        match Message::decode(datagram) {
            Ok(Message::SpecReply { client, .. }) => Some(client),
            _ => None,
        }
    }
}
