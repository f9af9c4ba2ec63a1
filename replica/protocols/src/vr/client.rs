//! The VR client: sends each request to the replica it believes is primary (view mod n),
//! and on every resend to all replicas, so a new primary gets it; learns the view from
//! replies. Only a primary replies, and only after the request committed, so one reply
//! completes the request.

use super::messages::Message;
use crate::codec::{CodecError, Writer};
use crate::kit::client_core::{Attempt, Awaiting, ClientCore, ClientRules, RequestCopy, Route};
use crate::kit::pending::ClientTimeouts;
use crate::{ClientId, Destination};

pub type VrClient = ClientCore<VrClientRules>;

impl VrClient {
    /// A client of a group of `n` replicas.
    pub fn new(id: ClientId, n: usize, timeouts: ClientTimeouts) -> VrClient {
        ClientCore::with_rules(
            id,
            timeouts,
            VrClientRules {
                n: n.max(1),
                view: 0,
            },
        )
    }

    /// The view the client believes current.
    pub fn view(&self) -> u64 {
        self.rules().view
    }
}

/// The VR client's rules: first attempt to the primary, resends to every replica, one
/// reply completes.
#[derive(Debug)]
pub struct VrClientRules {
    n: usize,
    /// The highest view a reply has shown.
    view: u64,
}

impl ClientRules for VrClientRules {
    fn encode_request(&self, r: RequestCopy<'_>, w: &mut Writer<'_>) -> Result<(), CodecError> {
        Message::Request {
            client: r.client,
            request: r.request,
            op: r.op,
        }
        .encode(w)
    }

    fn route(&self, attempt: Attempt) -> Route {
        match attempt {
            Attempt::First => Route::To(Destination::Replica((self.view % self.n as u64) as usize)),
            Attempt::Resend => Route::EachReplica(self.n),
        }
    }

    fn handle_reply(&mut self, awaiting: Awaiting, datagram: &[u8]) -> Option<Vec<u8>> {
        let Ok(Message::Reply {
            view,
            client,
            request,
            result,
        }) = Message::decode(datagram)
        else {
            return None;
        };
        if client != awaiting.client {
            return None;
        }
        self.view = self.view.max(view);
        awaiting.one_reply(client, request, result)
    }
}
