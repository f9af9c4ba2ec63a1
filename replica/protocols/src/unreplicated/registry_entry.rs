//! The unreplicated baseline in the registry (`unreplicated`): one server, clients talk to
//! it directly, nothing recovers a lost memory.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use super::{Message, UnreplicatedClient, UnreplicatedServer};
use crate::ClientId;
use crate::app::App;
use crate::kit::pending::ClientTimeouts;
use crate::registry::{Protocol, Tuning};
use crate::time::Time;

#[derive(Debug, Clone, Copy)]
pub struct Unreplicated;

impl Protocol for Unreplicated {
    type Replica<A: App> = UnreplicatedServer<A>;
    type Client = UnreplicatedClient;
    const NAME: &'static str = "unreplicated";
    const SUMMARY: &'static str = "The unreplicated baseline: one server";

    fn uses_sequencer() -> bool {
        false
    }

    fn has_leader() -> bool {
        false
    }

    fn replicas(_config: &ClusterConfig) -> usize {
        1
    }

    fn reply_quorum(_config: &ClusterConfig) -> usize {
        1
    }

    fn new_replica<A: App>(
        _config: &ClusterConfig,
        _index: usize,
        app: A,
        _tuning: &Tuning,
    ) -> UnreplicatedServer<A> {
        UnreplicatedServer::new(app)
    }

    fn recovering_replica<A: App>(
        _: &ClusterConfig,
        _: usize,
        _: A,
        _: &Tuning,
        _: u64,
        _: Time,
    ) -> Option<UnreplicatedServer<A>> {
        // One copy of the state: losing it loses the data, nothing can recover it.
        None
    }

    fn new_client(
        config: &ClusterConfig,
        id: ClientId,
        _address: SocketAddrV4,
    ) -> UnreplicatedClient {
        UnreplicatedClient::new(id, ClientTimeouts::from_config(&config.timeouts))
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        match Message::decode(datagram) {
            Ok(Message::Reply { client, .. }) => Some(client),
            _ => None,
        }
    }

    /// f is 0, but a crashed server that keeps its memory is a pause clients ride out by
    /// resending.
    fn max_down(_config: &ClusterConfig) -> usize {
        1
    }
}
