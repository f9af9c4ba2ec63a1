//! The VR client: sends each request to the replica it believes is primary (view mod n),
//! and on every resend to all replicas, so a new primary gets it; learns the view from
//! replies. Only a primary replies, and only after the request committed, so one reply
//! completes the request.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use super::messages::Message;
use crate::codec::Writer;
use crate::kit::pending::{ClientTimeouts, Pending, ResendTimer, Tick};
use crate::time::Time;
use crate::{Client, ClientError, ClientId, Completion, Destination, Node, RequestId, Transmit};

/// Where the outstanding request goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    Nothing,
    Primary,
    /// To every replica, from this index on.
    All(usize),
}

#[derive(Debug)]
pub struct VrClient {
    id: ClientId,
    n: usize,
    /// The highest view a reply has shown.
    view: u64,
    timer: ResendTimer,
    next_request: RequestId,
    pending: Option<Pending>,
    sending: Sending,
    completions: VecDeque<Completion>,
}

impl VrClient {
    /// A client of a group of `n` replicas.
    pub fn new(id: ClientId, n: usize, timeouts: ClientTimeouts) -> VrClient {
        VrClient {
            id,
            n: n.max(1),
            view: 0,
            timer: ResendTimer::new(timeouts),
            next_request: 1,
            pending: None,
            sending: Sending::Nothing,
            completions: VecDeque::new(),
        }
    }

    /// The view the client believes current.
    pub fn view(&self) -> u64 {
        self.view
    }

    fn primary(&self) -> usize {
        (self.view % self.n as u64) as usize
    }
}

impl Node for VrClient {
    fn handle_datagram(&mut self, now: Time, _from: SocketAddrV4, datagram: &[u8]) {
        let Ok(Message::Reply {
            view,
            client,
            request,
            result,
        }) = Message::decode(datagram)
        else {
            return;
        };
        if client != self.id {
            return;
        }
        self.view = self.view.max(view);
        let Some(pending) = self.pending.take_if(|p| p.request == request) else {
            return;
        };
        self.timer.completed(&pending, now);
        self.sending = Sending::Nothing;
        self.completions.push_back(Completion {
            request,
            result: Ok(result.to_vec()),
        });
    }

    fn handle_timeout(&mut self, now: Time) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        match self.timer.tick(pending, now) {
            Tick::Nothing => {}
            Tick::Resend => self.sending = Sending::All(0),
            Tick::GiveUp => {
                let (request, attempts) = (pending.request, pending.attempts);
                self.pending = None;
                self.sending = Sending::Nothing;
                self.completions.push_back(Completion {
                    request,
                    result: Err(ClientError::GaveUp { attempts }),
                });
            }
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.pending.as_ref().map(Pending::deadline)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let to = match self.sending {
            Sending::Nothing => return None,
            Sending::Primary => {
                self.sending = Sending::Nothing;
                self.primary()
            }
            Sending::All(i) => {
                self.sending = if i + 1 < self.n {
                    Sending::All(i + 1)
                } else {
                    Sending::Nothing
                };
                i
            }
        };
        let pending = self.pending.as_ref()?;
        let mut w = Writer::new(buf);
        Message::Request {
            client: self.id,
            request: pending.request,
            op: &pending.op,
        }
        .encode(&mut w)
        .ok()?;
        Some(Transmit {
            destination: Destination::Replica(to),
            len: w.len(),
        })
    }
}

impl Client for VrClient {
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
        self.sending = Sending::Primary;
        Some(request)
    }

    fn resends(&self) -> u64 {
        self.timer.resends()
    }

    fn poll_completion(&mut self) -> Option<Completion> {
        self.completions.pop_front()
    }
}
