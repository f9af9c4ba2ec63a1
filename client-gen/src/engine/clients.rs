//! Protocol clients behind one type, built from the protocol registry, so the engine drives
//! any protocol the same way, and the demultiplexing of replies to the client they belong
//! to.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use protocols::{Client, ClientId, Protocol, ProtocolKind, ProtocolVisitor};

/// A client core of one of the protocols.
pub type AnyClient = Box<dyn Client>;

/// Reads the client a reply datagram is for ([`Protocol::reply_client`]).
pub type ReplyClient = fn(&[u8]) -> Option<ClientId>;

/// Client `id` of `protocol`, whose replies come to `me`.
pub fn new_client(
    protocol: ProtocolKind,
    config: &ClusterConfig,
    id: ClientId,
    me: SocketAddrV4,
) -> AnyClient {
    protocol.visit(NewClient { config, id, me })
}

/// How to read the client a reply of `protocol` is for (all clients share one socket).
pub fn reply_client(protocol: ProtocolKind) -> ReplyClient {
    protocol.visit(ReplyClientOf)
}

struct NewClient<'a> {
    config: &'a ClusterConfig,
    id: ClientId,
    me: SocketAddrV4,
}

impl ProtocolVisitor for NewClient<'_> {
    type Output = AnyClient;
    fn visit<P: Protocol>(self) -> AnyClient {
        Box::new(P::new_client(self.config, self.id, self.me))
    }
}

struct ReplyClientOf;

impl ProtocolVisitor for ReplyClientOf {
    type Output = ReplyClient;
    fn visit<P: Protocol>(self) -> ReplyClient {
        P::reply_client
    }
}
