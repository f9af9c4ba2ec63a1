use std::net::SocketAddrV4;

use super::Message;
use crate::kit::pending::{ClientTimeouts, Pending, ResendTimer, Tick};
use crate::time::Time;
use crate::{Client, ClientError, ClientId, Completion, Destination, Node, RequestId, Transmit};

/// A client of the unreplicated server: sends to replica 0, resends on timeout, gives up
/// after its bound.
#[derive(Debug)]
pub struct UnreplicatedClient {
    id: ClientId,
    timer: ResendTimer,
    next_request: RequestId,
    pending: Option<Pending>,
    send_now: bool,
    completions: Vec<Completion>,
}

impl UnreplicatedClient {
    pub fn new(id: ClientId, timeouts: ClientTimeouts) -> UnreplicatedClient {
        UnreplicatedClient {
            id,
            timer: ResendTimer::new(timeouts),
            next_request: 1,
            pending: None,
            send_now: false,
            completions: Vec::new(),
        }
    }
}

impl Node for UnreplicatedClient {
    fn handle_datagram(&mut self, now: Time, _from: SocketAddrV4, datagram: &[u8]) {
        let Ok(Message::Reply {
            client,
            request,
            result,
        }) = Message::decode(datagram)
        else {
            return;
        };
        let Some(pending) = self
            .pending
            .take_if(|p| client == self.id && p.request == request)
        else {
            return;
        };
        self.timer.completed(&pending, now);
        self.send_now = false;
        self.completions.push(Completion {
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
            Tick::Resend => self.send_now = true,
            Tick::GiveUp => {
                let attempts = pending.attempts;
                let request = pending.request;
                self.pending = None;
                self.send_now = false;
                self.completions.push(Completion {
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
        if !self.send_now {
            return None;
        }
        self.send_now = false;
        let pending = self.pending.as_ref()?;
        let mut w = crate::codec::Writer::new(buf);
        Message::Request {
            client: self.id,
            request: pending.request,
            op: &pending.op,
        }
        .encode(&mut w)
        .ok()?;
        Some(Transmit {
            destination: Destination::Replica(0),
            len: w.len(),
        })
    }
}

impl Client for UnreplicatedClient {
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
        self.send_now = true;
        Some(request)
    }

    fn resends(&self) -> u64 {
        self.timer.resends()
    }

    fn poll_completion(&mut self) -> Option<Completion> {
        if self.completions.is_empty() {
            None
        } else {
            Some(self.completions.remove(0))
        }
    }
}
