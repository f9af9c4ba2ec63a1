//! The unreplicated client: sends each request to the server (replica 0), and again on
//! every resend; the server's one reply completes it.

use super::Message;
use crate::codec::{CodecError, Writer};
use crate::kit::client_core::{Attempt, Awaiting, ClientCore, ClientRules, RequestCopy, Route};
use crate::kit::pending::ClientTimeouts;
use crate::{ClientId, Destination};

/// A client of the unreplicated server: sends to replica 0, resends on timeout, gives up
/// after its bound.
pub type UnreplicatedClient = ClientCore<UnreplicatedClientRules>;

impl UnreplicatedClient {
    pub fn new(id: ClientId, timeouts: ClientTimeouts) -> UnreplicatedClient {
        ClientCore::with_rules(id, timeouts, UnreplicatedClientRules)
    }
}

/// The unreplicated client's rules: every attempt to the server, whose reply completes it.
#[derive(Debug)]
pub struct UnreplicatedClientRules;

impl ClientRules for UnreplicatedClientRules {
    fn encode_request(&self, r: RequestCopy<'_>, w: &mut Writer<'_>) -> Result<(), CodecError> {
        Message::Request {
            client: r.client,
            request: r.request,
            op: r.op,
        }
        .encode(w)
    }

    fn route(&self, _attempt: Attempt) -> Route {
        Route::To(Destination::Replica(0))
    }

    fn handle_reply(&mut self, awaiting: Awaiting, datagram: &[u8]) -> Option<Vec<u8>> {
        match Message::decode(datagram).ok()? {
            Message::Reply {
                client,
                request,
                result,
            } => awaiting.one_reply(client, request, result),
            Message::Request { .. } => None,
        }
    }
}
