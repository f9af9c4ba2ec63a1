//! The Fast Paxos client: sends each request straight to every replica (the acceptors of
//! the fast round), one datagram per replica, and resends to all of them on a timeout.
//!
//! Commit rule: the first REPLY for the outstanding request completes it. Only a replica
//! that executed the request at a chosen slot, after every chosen slot before it, sends a
//! REPLY (the leader of a view, or a deposed leader that has not heard of the next view;
//! both only ever execute chosen slots), so one reply suffices: chosen slots never change.

use std::net::SocketAddrV4;

use super::messages::Message;
use crate::ClientId;
use crate::codec::{CodecError, Writer};
use crate::kit::client_core::{Attempt, Awaiting, ClientCore, ClientRules, RequestCopy, Route};
use crate::kit::pending::ClientTimeouts;

pub type FastPaxosClient = ClientCore<FastPaxosClientRules>;

impl FastPaxosClient {
    /// A client whose replies come to `reply_to` (its own address), for `n` replicas.
    pub fn new(
        id: ClientId,
        reply_to: SocketAddrV4,
        n: usize,
        timeouts: ClientTimeouts,
    ) -> FastPaxosClient {
        ClientCore::with_rules(
            id,
            timeouts,
            FastPaxosClientRules {
                reply_to,
                n: n.max(1),
            },
        )
    }
}

/// The Fast Paxos client's rules: every attempt to every replica, the first reply
/// completes.
#[derive(Debug)]
pub struct FastPaxosClientRules {
    reply_to: SocketAddrV4,
    n: usize,
}

impl ClientRules for FastPaxosClientRules {
    fn encode_request(&self, r: RequestCopy<'_>, w: &mut Writer<'_>) -> Result<(), CodecError> {
        Message::Request {
            client: r.client,
            request: r.request,
            reply_to: self.reply_to,
            op: r.op,
        }
        .encode(w)
    }

    fn route(&self, _attempt: Attempt) -> Route {
        Route::EachReplica(self.n)
    }

    fn handle_reply(&mut self, awaiting: Awaiting, datagram: &[u8]) -> Option<Vec<u8>> {
        let Message::Reply {
            client,
            request,
            result,
            ..
        } = Message::decode(datagram).ok()?
        else {
            return None;
        };
        awaiting.one_reply(client, request, result)
    }
}
