//! Protocol clients behind one type, so the engine drives any protocol the same way, and
//! the demultiplexing of replies to the client they belong to.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use replica::protocol::fastpaxos::FastPaxosClient;
use replica::protocol::nopaxos::NopaxosClient;
use replica::protocol::pending::ClientTimeouts;
use replica::protocol::spec::SpecClient;
use replica::protocol::unreplicated::UnreplicatedClient;
use replica::protocol::vr::VrClient;
use replica::protocol::{Client, ClientId, Completion, Node, RequestId, Transmit};
use replica::time::Time;

/// The protocols a load can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    Nopaxos,
    /// Viewstamped Replication (Multi-Paxos) with batching.
    Vr,
    /// Speculative Paxos.
    Spec,
    FastPaxos,
    Unreplicated,
}

impl ProtocolKind {
    pub const ALL: [ProtocolKind; 5] = [
        ProtocolKind::Nopaxos,
        ProtocolKind::Vr,
        ProtocolKind::Spec,
        ProtocolKind::FastPaxos,
        ProtocolKind::Unreplicated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Nopaxos => "nopaxos",
            ProtocolKind::Vr => "vr",
            ProtocolKind::Spec => "spec",
            ProtocolKind::FastPaxos => "fastpaxos",
            ProtocolKind::Unreplicated => "unreplicated",
        }
    }

    /// The `replica --mode` value serving this protocol.
    pub fn replica_mode(self) -> &'static str {
        self.name()
    }

    /// Whether requests go through the sequencer.
    pub fn uses_sequencer(self) -> bool {
        matches!(self, ProtocolKind::Nopaxos | ProtocolKind::Spec)
    }

    /// Replicas the protocol runs on a cluster of `n`.
    pub fn replicas(self, n: usize) -> usize {
        match self {
            ProtocolKind::Unreplicated => 1,
            _ => n,
        }
    }
}

impl std::str::FromStr for ProtocolKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ProtocolKind::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown protocol {s:?}: choose nopaxos, vr, spec, fastpaxos or unreplicated"
                )
            })
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
    Vr(VrClient),
    Spec(SpecClient),
    FastPaxos(FastPaxosClient),
    Unreplicated(UnreplicatedClient),
}

/// Calls `$call` on whichever client core `$client` holds.
macro_rules! each_client {
    ($client:expr, $c:ident => $call:expr) => {
        match $client {
            AnyClient::Nopaxos($c) => $call,
            AnyClient::Vr($c) => $call,
            AnyClient::Spec($c) => $call,
            AnyClient::FastPaxos($c) => $call,
            AnyClient::Unreplicated($c) => $call,
        }
    };
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
            ProtocolKind::Vr => AnyClient::Vr(VrClient::new(id, config.n(), timeouts)),
            ProtocolKind::Spec => {
                AnyClient::Spec(SpecClient::new(id, me, config.n(), config.f, timeouts))
            }
            ProtocolKind::FastPaxos => {
                AnyClient::FastPaxos(FastPaxosClient::new(id, me, config.n(), timeouts))
            }
            ProtocolKind::Unreplicated => {
                AnyClient::Unreplicated(UnreplicatedClient::new(id, timeouts))
            }
        }
    }

    pub fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        each_client!(self, c => c.handle_datagram(now, from, datagram))
    }

    pub fn handle_timeout(&mut self, now: Time) {
        each_client!(self, c => c.handle_timeout(now))
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        each_client!(self, c => c.poll_timeout())
    }

    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        each_client!(self, c => c.poll_transmit(buf))
    }

    pub fn invoke(&mut self, now: Time, op: &[u8]) -> Option<RequestId> {
        each_client!(self, c => c.invoke(now, op))
    }

    pub fn poll_completion(&mut self) -> Option<Completion> {
        each_client!(self, c => c.poll_completion())
    }

    pub fn resends(&self) -> u64 {
        each_client!(self, c => c.resends())
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
        ProtocolKind::Vr => match replica::protocol::vr::messages::Message::decode(datagram) {
            Ok(replica::protocol::vr::messages::Message::Reply { client, .. }) => Some(client),
            _ => None,
        },
        ProtocolKind::Spec => match replica::protocol::spec::messages::Message::decode(datagram) {
            Ok(replica::protocol::spec::messages::Message::SpecReply { client, .. }) => {
                Some(client)
            }
            _ => None,
        },
        ProtocolKind::FastPaxos => {
            match replica::protocol::fastpaxos::messages::Message::decode(datagram) {
                Ok(replica::protocol::fastpaxos::messages::Message::Reply { client, .. }) => {
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
