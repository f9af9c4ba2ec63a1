//! The Fast Paxos client: sends each request straight to every replica (the acceptors of
//! the fast round), one datagram per replica, and resends to all of them on a timeout.
//!
//! Commit rule: the first REPLY for the outstanding request completes it. Only a replica
//! that executed the request at a chosen slot, after every chosen slot before it, sends a
//! REPLY (the leader of a view, or a deposed leader that has not heard of the next view;
//! both only ever execute chosen slots), so one reply suffices: chosen slots never change.

use std::net::SocketAddrV4;

use super::messages::Message;
use crate::codec::Writer;
use crate::kit::pending::{ClientTimeouts, Pending, ResendTimer, Tick};
use crate::time::Time;
use crate::{Client, ClientError, ClientId, Completion, Destination, Node, RequestId, Transmit};

#[derive(Debug)]
pub struct FastPaxosClient {
    id: ClientId,
    reply_to: SocketAddrV4,
    n: usize,
    timer: ResendTimer,
    next_request: RequestId,
    pending: Option<Pending>,
    /// Replicas the current send has not reached yet (sent in index order).
    next_target: usize,
    completions: Vec<Completion>,
}

impl FastPaxosClient {
    /// A client whose replies come to `reply_to` (its own address), for `n` replicas.
    pub fn new(
        id: ClientId,
        reply_to: SocketAddrV4,
        n: usize,
        timeouts: ClientTimeouts,
    ) -> FastPaxosClient {
        let n = n.max(1);
        FastPaxosClient {
            id,
            reply_to,
            n,
            timer: ResendTimer::new(timeouts),
            next_request: 1,
            pending: None,
            next_target: n,
            completions: Vec::new(),
        }
    }
}

impl Node for FastPaxosClient {
    fn handle_datagram(&mut self, now: Time, _from: SocketAddrV4, datagram: &[u8]) {
        let Ok(Message::Reply {
            client,
            request,
            result,
            ..
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
        self.next_target = self.n;
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
            Tick::Resend => self.next_target = 0,
            Tick::GiveUp => {
                let (request, attempts) = (pending.request, pending.attempts);
                self.pending = None;
                self.next_target = self.n;
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
        if self.next_target >= self.n {
            return None;
        }
        let pending = self.pending.as_ref()?;
        let target = self.next_target;
        self.next_target += 1;
        let mut w = Writer::new(buf);
        Message::Request {
            client: self.id,
            request: pending.request,
            reply_to: self.reply_to,
            op: &pending.op,
        }
        .encode(&mut w)
        .ok()?;
        Some(Transmit {
            destination: Destination::Replica(target),
            len: w.len(),
        })
    }
}

impl Client for FastPaxosClient {
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
        self.next_target = 0;
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
