//! The client core every protocol shares: one outstanding request, its request ids, its
//! resend and give-up timers ([`ResendTimer`]), the copies of the REQUEST still to send
//! (a copy for the group behind the unsequenced OUM header the sequencer stamps), and the
//! queue of completions. A protocol's client is [`ClientCore`] with the protocol's
//! [`ClientRules`]: how its REQUEST is written, where each attempt goes, and when the
//! replies gathered so far complete the request.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use dataplane::wire::{OUM_HEADER_LEN, OumRepr};

use super::pending::{ClientTimeouts, Pending, ResendTimer, Tick};
use crate::codec::{CodecError, Writer};
use crate::time::Time;
use crate::{Client, ClientError, ClientId, Completion, Destination, Node, RequestId, Transmit};

/// Which attempt of the outstanding request is going out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    First,
    /// An attempt after the resend timer ran out.
    Resend,
}

/// Where the copies of one attempt go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// One copy to this destination.
    To(Destination),
    /// One copy to each of replicas `0..n`, in index order.
    EachReplica(usize),
}

/// One copy of the outstanding request, for the protocol to write as its REQUEST.
#[derive(Debug, Clone, Copy)]
pub struct RequestCopy<'a> {
    pub client: ClientId,
    pub request: RequestId,
    pub op: &'a [u8],
}

/// The client a datagram arrived at, and the request it awaits replies to.
#[derive(Debug, Clone, Copy)]
pub struct Awaiting {
    pub client: ClientId,
    pub request: Option<RequestId>,
}

impl Awaiting {
    /// Whether a reply to `client` for `request` is one awaited.
    pub fn is_for(&self, client: ClientId, request: RequestId) -> bool {
        self.client == client && self.request == Some(request)
    }

    /// The result, when a protocol where one reply completes a request got an awaited one.
    pub fn one_reply(
        &self,
        client: ClientId,
        request: RequestId,
        result: &[u8],
    ) -> Option<Vec<u8>> {
        self.is_for(client, request).then(|| result.to_vec())
    }
}

/// What a protocol's client adds to [`ClientCore`].
pub trait ClientRules {
    /// Writes `r` as the protocol's REQUEST (a copy for the group gets its unsequenced OUM
    /// header from the core).
    fn encode_request(&self, r: RequestCopy<'_>, w: &mut Writer<'_>) -> Result<(), CodecError>;

    /// Where `attempt` goes; asked when its first copy is polled, so it sees every reply
    /// handled before then.
    fn route(&self, attempt: Attempt) -> Route;

    /// A datagram arrived: the result, when it completes the awaited request.
    fn handle_reply(&mut self, awaiting: Awaiting, datagram: &[u8]) -> Option<Vec<u8>>;

    /// The outstanding request completed or was given up: what was gathered for it goes.
    fn request_ended(&mut self) {}

    /// The resend timer ran out and the request is about to be sent again.
    fn resending(&mut self) {}

    /// A message of the protocol's own to send while a request is outstanding, asked for
    /// once every copy of the REQUEST is out.
    fn poll_other(&mut self, _buf: &mut [u8]) -> Option<Transmit> {
        None
    }
}

/// The copies of the current attempt not sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copies {
    None,
    /// An attempt whose route is asked when it is polled.
    Due(Attempt),
    /// To each of replicas `next..n`.
    EachReplica {
        next: usize,
        n: usize,
    },
}

impl Copies {
    /// The destination of the next copy, if any is left.
    fn next(&mut self, rules: &impl ClientRules) -> Option<Destination> {
        let (next, n) = match *self {
            Copies::None => return None,
            Copies::Due(attempt) => match rules.route(attempt) {
                Route::To(destination) => {
                    *self = Copies::None;
                    return Some(destination);
                }
                Route::EachReplica(n) => (0, n),
            },
            Copies::EachReplica { next, n } => (next, n),
        };
        *self = if next + 1 < n {
            Copies::EachReplica { next: next + 1, n }
        } else {
            Copies::None
        };
        (next < n).then_some(Destination::Replica(next))
    }
}

/// A client with at most one outstanding request (the [`Client`] contract), resent on its
/// timer's schedule until `R` says the replies complete it or the give-up time passes.
#[derive(Debug)]
pub struct ClientCore<R> {
    id: ClientId,
    timer: ResendTimer,
    next_request: RequestId,
    pending: Option<Pending>,
    copies: Copies,
    completions: VecDeque<Completion>,
    rules: R,
}

impl<R: ClientRules> ClientCore<R> {
    /// Client `id` following `rules`, timed by `timeouts`.
    pub fn with_rules(id: ClientId, timeouts: ClientTimeouts, rules: R) -> ClientCore<R> {
        ClientCore {
            id,
            timer: ResendTimer::new(timeouts),
            next_request: 1,
            pending: None,
            copies: Copies::None,
            completions: VecDeque::new(),
            rules,
        }
    }

    /// The protocol's part of the client.
    pub fn rules(&self) -> &R {
        &self.rules
    }

    /// Ends the outstanding request with `result`.
    fn end(&mut self, request: RequestId, result: Result<Vec<u8>, ClientError>) {
        self.pending = None;
        self.copies = Copies::None;
        self.rules.request_ended();
        self.completions.push_back(Completion { request, result });
    }
}

impl<R: ClientRules> Node for ClientCore<R> {
    fn handle_datagram(&mut self, now: Time, _from: SocketAddrV4, datagram: &[u8]) {
        let awaiting = Awaiting {
            client: self.id,
            request: self.pending.as_ref().map(|p| p.request),
        };
        let Some(result) = self.rules.handle_reply(awaiting, datagram) else {
            return;
        };
        let Some(pending) = self.pending.take() else {
            return;
        };
        self.timer.completed(&pending, now);
        self.end(pending.request, Ok(result));
    }

    fn handle_timeout(&mut self, now: Time) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        match self.timer.tick(pending, now) {
            Tick::Nothing => {}
            Tick::Resend => {
                self.copies = Copies::Due(Attempt::Resend);
                self.rules.resending();
            }
            Tick::GiveUp => {
                let (request, attempts) = (pending.request, pending.attempts);
                self.end(request, Err(ClientError::GaveUp { attempts }));
            }
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.pending.as_ref().map(Pending::deadline)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let pending = self.pending.as_ref()?;
        let Some(destination) = self.copies.next(&self.rules) else {
            return self.rules.poll_other(buf);
        };
        let mut w = Writer::new(buf);
        if destination == Destination::Group {
            // The group address is the sequencer's, which stamps this header.
            OumRepr::Unsequenced
                .emit(w.take(OUM_HEADER_LEN).ok()?)
                .ok()?;
        }
        let copy = RequestCopy {
            client: self.id,
            request: pending.request,
            op: &pending.op,
        };
        self.rules.encode_request(copy, &mut w).ok()?;
        Some(Transmit {
            destination,
            len: w.len(),
        })
    }
}

impl<R: ClientRules> Client for ClientCore<R> {
    fn id(&self) -> ClientId {
        self.id
    }

    fn invoke(&mut self, now: Time, op: &[u8]) -> Option<RequestId> {
        if self.pending.is_some() {
            return None;
        }
        let request = self.next_request;
        self.next_request += 1;
        self.pending = Some(self.timer.start(now, request, op));
        self.copies = Copies::Due(Attempt::First);
        Some(request)
    }

    fn resends(&self) -> u64 {
        self.timer.resends()
    }

    fn poll_completion(&mut self) -> Option<Completion> {
        self.completions.pop_front()
    }
}

#[cfg(test)]
#[path = "client_core_tests.rs"]
mod tests;
