//! The unreplicated client: sends each request to the server (replica 0), and again on
//! every resend; the server's one reply completes it.

use super::Message;
use crate::codec::{CodecError, Writer};
use crate::kit::client_core::{Attempt, ClientCore, ClientRules, Route};
use crate::kit::pending::{ClientTimeouts, Pending};
use crate::{ClientId, Destination, RequestId};

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
    fn encode_request(
        &self,
        client: ClientId,
        pending: &Pending,
        w: &mut Writer<'_>,
    ) -> Result<(), CodecError> {
        Message::Request {
            client,
            request: pending.request,
            op: &pending.op,
        }
        .encode(w)
    }

    fn route(&self, _attempt: Attempt) -> Route {
        Route::To(Destination::Replica(0))
    }

    fn handle_reply(
        &mut self,
        me: ClientId,
        outstanding: Option<RequestId>,
        datagram: &[u8],
    ) -> Option<Vec<u8>> {
        match Message::decode(datagram) {
            Ok(Message::Reply {
                client,
                request,
                result,
            }) if client == me && outstanding == Some(request) => Some(result.to_vec()),
            _ => None,
        }
    }
}
