//! Protocol clients behind one type, so the engine drives any protocol the same way, and
//! the demultiplexing of replies to the client they belong to.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use replica::protocol::nopaxos::NopaxosClient;
use replica::protocol::pending::ClientTimeouts;
use replica::protocol::unreplicated::UnreplicatedClient;
use replica::protocol::{Client, ClientId, Completion, Node, RequestId, Transmit};
use replica::time::Time;

/// The protocols a load can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    Nopaxos,
    Unreplicated,
}

impl ProtocolKind {
    pub const ALL: [ProtocolKind; 2] = [ProtocolKind::Nopaxos, ProtocolKind::Unreplicated];

    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Nopaxos => "nopaxos",
            ProtocolKind::Unreplicated => "unreplicated",
        }
    }

    /// The `replica --mode` value serving this protocol.
    pub fn replica_mode(self) -> &'static str {
        self.name()
    }

    /// Whether requests go through the sequencer.
    pub fn uses_sequencer(self) -> bool {
        matches!(self, ProtocolKind::Nopaxos)
    }

    /// Replicas the protocol runs on a cluster of `n`.
    pub fn replicas(self, n: usize) -> usize {
        match self {
            ProtocolKind::Nopaxos => n,
            ProtocolKind::Unreplicated => 1,
        }
    }
}

impl std::str::FromStr for ProtocolKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nopaxos" => Ok(ProtocolKind::Nopaxos),
            "unreplicated" => Ok(ProtocolKind::Unreplicated),
            other => Err(format!(
                "unknown protocol {other:?}: choose nopaxos or unreplicated"
            )),
        }
    }
}

impl std::fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A client core of one of the protocols.
#[derive(Debug)]
pub enum AnyClient {
    Nopaxos(NopaxosClient),
    Unreplicated(UnreplicatedClient),
}

impl AnyClient {
    pub fn new(
        protocol: ProtocolKind,
        config: &ClusterConfig,
        id: ClientId,
        me: SocketAddrV4,
    ) -> AnyClient {
        let timeouts = ClientTimeouts::from_config(&config.timeouts);
        match protocol {
            ProtocolKind::Nopaxos => {
                AnyClient::Nopaxos(NopaxosClient::new(id, me, config.n(), config.f, timeouts))
            }
            ProtocolKind::Unreplicated => {
                AnyClient::Unreplicated(UnreplicatedClient::new(id, timeouts))
            }
        }
    }

    pub fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        match self {
            AnyClient::Nopaxos(c) => c.handle_datagram(now, from, datagram),
            AnyClient::Unreplicated(c) => c.handle_datagram(now, from, datagram),
        }
    }

    pub fn handle_timeout(&mut self, now: Time) {
        match self {
            AnyClient::Nopaxos(c) => c.handle_timeout(now),
            AnyClient::Unreplicated(c) => c.handle_timeout(now),
        }
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        match self {
            AnyClient::Nopaxos(c) => c.poll_timeout(),
            AnyClient::Unreplicated(c) => c.poll_timeout(),
        }
    }

    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        match self {
            AnyClient::Nopaxos(c) => c.poll_transmit(buf),
            AnyClient::Unreplicated(c) => c.poll_transmit(buf),
        }
    }

    pub fn invoke(&mut self, now: Time, op: &[u8]) -> Option<RequestId> {
        match self {
            AnyClient::Nopaxos(c) => c.invoke(now, op),
            AnyClient::Unreplicated(c) => c.invoke(now, op),
        }
    }

    pub fn poll_completion(&mut self) -> Option<Completion> {
        match self {
            AnyClient::Nopaxos(c) => c.poll_completion(),
            AnyClient::Unreplicated(c) => c.poll_completion(),
        }
    }
}

/// The client a reply is for, read from the reply itself (all clients share one socket).
pub fn reply_client(protocol: ProtocolKind, datagram: &[u8]) -> Option<ClientId> {
    match protocol {
        ProtocolKind::Nopaxos => {
            match replica::protocol::nopaxos::messages::Message::decode(datagram) {
                Ok(replica::protocol::nopaxos::messages::Message::Reply { client, .. }) => {
                    Some(client)
                }
                _ => None,
            }
        }
        ProtocolKind::Unreplicated => {
            match replica::protocol::unreplicated::Message::decode(datagram) {
                Ok(replica::protocol::unreplicated::Message::Reply { client, .. }) => Some(client),
                _ => None,
            }
        }
    }
}
