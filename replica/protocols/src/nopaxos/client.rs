//! The NOPaxos client: sends each request through the sequencer to the whole group and
//! waits for f+1 replies with the same view and slot, one of them the leader's (which
//! carries the result).

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use super::messages::Message;
use crate::codec::{CodecError, Writer};
use crate::kit::client_core::{Attempt, Awaiting, ClientCore, ClientRules, RequestCopy, Route};
use crate::kit::pending::ClientTimeouts;
use crate::{ClientId, Destination};

pub type NopaxosClient = ClientCore<NopaxosClientRules>;

impl NopaxosClient {
    /// A client whose replies come to `reply_to` (its own address), for a group of `n`
    /// replicas tolerating `f` failures (n is at most 64).
    pub fn new(
        id: ClientId,
        reply_to: SocketAddrV4,
        n: usize,
        f: usize,
        timeouts: ClientTimeouts,
    ) -> NopaxosClient {
        ClientCore::with_rules(
            id,
            timeouts,
            NopaxosClientRules {
                reply_to,
                n: n.clamp(1, 64),
                f,
                replies: BTreeMap::new(),
            },
        )
    }
}

/// Replies gathered for one (view, slot).
#[derive(Debug, Default)]
struct Quorum {
    replicas: u64,
    leader_result: Option<Vec<u8>>,
}

/// The NOPaxos client's rules: every attempt to the group through the sequencer; f+1
/// matching replies, the leader's among them, complete.
#[derive(Debug)]
pub struct NopaxosClientRules {
    reply_to: SocketAddrV4,
    n: usize,
    f: usize,
    /// Keyed by (leader number, session number, slot).
    replies: BTreeMap<(u64, u64, u64), Quorum>,
}

impl ClientRules for NopaxosClientRules {
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
        Route::To(Destination::Group)
    }

    fn handle_reply(&mut self, awaiting: Awaiting, datagram: &[u8]) -> Option<Vec<u8>> {
        let Ok(Message::Reply {
            view,
            slot,
            client,
            request,
            replica,
            result,
        }) = Message::decode(datagram)
        else {
            return None;
        };
        let replica = usize::from(replica);
        if !awaiting.is_for(client, request) || replica >= self.n {
            return None;
        }
        let quorum = self
            .replies
            .entry((view.leader_num, view.session_num, slot))
            .or_default();
        quorum.replicas |= 1 << replica;
        if replica == view.leader(self.n) {
            if let Some(result) = result {
                quorum.leader_result = Some(result.to_vec());
            }
        }
        if quorum.replicas.count_ones() as usize > self.f {
            quorum.leader_result.take()
        } else {
            None
        }
    }

    fn request_ended(&mut self) {
        self.replies.clear();
    }
}
