//! The NOPaxos client: sends each request through the sequencer to the whole group and
//! waits for f+1 replies with the same view and slot, one of them the leader's (which
//! carries the result).

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use super::messages::Message;
use super::types::ViewId;
use crate::codec::Writer;
use crate::kit::pending::{ClientTimeouts, Pending, ResendTimer, Tick};
use crate::time::Time;
use crate::{Client, ClientError, ClientId, Completion, Destination, Node, RequestId, Transmit};

/// Replies gathered for one (view, slot).
#[derive(Debug, Default)]
struct Quorum {
    replicas: u64,
    leader_result: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct NopaxosClient {
    id: ClientId,
    reply_to: SocketAddrV4,
    n: usize,
    f: usize,
    timer: ResendTimer,
    next_request: RequestId,
    pending: Option<Pending>,
    /// Keyed by (leader number, session number, slot).
    replies: BTreeMap<(u64, u64, u64), Quorum>,
    send_now: bool,
    completions: Vec<Completion>,
}

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
        NopaxosClient {
            id,
            reply_to,
            n: n.clamp(1, 64),
            f,
            timer: ResendTimer::new(timeouts),
            next_request: 1,
            pending: None,
            replies: BTreeMap::new(),
            send_now: false,
            completions: Vec::new(),
        }
    }

    fn on_reply(
        &mut self,
        now: Time,
        view: ViewId,
        slot: u64,
        request: RequestId,
        replica: u16,
        result: Option<&[u8]>,
    ) {
        let Some(pending) = &self.pending else { return };
        let replica = usize::from(replica);
        if pending.request != request || replica >= self.n {
            return;
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
            if let Some(result) = quorum.leader_result.take() {
                self.timer.completed(pending, now);
                self.pending = None;
                self.replies.clear();
                self.send_now = false;
                self.completions.push(Completion {
                    request,
                    result: Ok(result),
                });
            }
        }
    }
}

impl Node for NopaxosClient {
    fn handle_datagram(&mut self, now: Time, _from: SocketAddrV4, datagram: &[u8]) {
        if let Ok(Message::Reply {
            view,
            slot,
            client,
            request,
            replica,
            result,
        }) = Message::decode(datagram)
        {
            if client == self.id {
                self.on_reply(now, view, slot, request, replica, result);
            }
        }
    }

    fn handle_timeout(&mut self, now: Time) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        match self.timer.tick(pending, now) {
            Tick::Nothing => {}
            Tick::Resend => self.send_now = true,
            Tick::GiveUp => {
                let (request, attempts) = (pending.request, pending.attempts);
                self.pending = None;
                self.replies.clear();
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
        let mut w = Writer::new(buf);
        Message::Request {
            client: self.id,
            request: pending.request,
            reply_to: self.reply_to,
            op: &pending.op,
        }
        .encode_sequenced(&mut w)
        .ok()?;
        Some(Transmit {
            destination: Destination::Group,
            len: w.len(),
        })
    }
}

impl Client for NopaxosClient {
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
        self.replies.clear();
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
