//! The Speculative Paxos client: sends each request through the sequencer to every replica
//! and completes it in the fast path when a superquorum (f + ⌈f/2⌉ + 1) of speculative
//! replies agree on view, slot and prefix hash, or on one reply saying the slot is
//! committed. Replies that cannot form a superquorum any more, or no completion before the
//! resend timeout, make it ask the leader to synchronize (which commits the log or
//! reconciles it); it resends the request with the same id until a reply completes it,
//! and the client table answers a retry without executing it twice.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;

use super::messages::Message;
use super::types::{LogHash, ViewId, superquorum};
use crate::codec::Writer;
use crate::kit::pending::{ClientTimeouts, Pending, ResendTimer, Tick};
use crate::time::Time;
use crate::{Client, ClientError, ClientId, Completion, Destination, Node, RequestId, Transmit};

/// Reply groups kept per request at most (each distinct view, slot and hash is a group).
const MAX_GROUPS: usize = 256;

/// How the client's requests completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Completed by a superquorum of matching speculative replies.
    pub fast: u64,
    /// Completed by a reply for a committed slot (the slow path).
    pub committed: u64,
    /// RECONCILE-REQUESTs sent.
    pub reconcile_requests: u64,
}

#[derive(Debug, Default)]
struct Group {
    replicas: u64,
    result: Vec<u8>,
}

#[derive(Debug)]
pub struct SpecClient {
    id: ClientId,
    reply_to: SocketAddrV4,
    n: usize,
    superquorum: usize,
    timer: ResendTimer,
    next_request: RequestId,
    pending: Option<Pending>,
    groups: BTreeMap<(ViewId, u64, LogHash), Group>,
    /// Replicas that replied, per view.
    replied: BTreeMap<ViewId, u64>,
    latest_view: Option<ViewId>,
    /// Whether divergence was already reported for this attempt.
    reconciled: bool,
    send_request: bool,
    send_reconcile: Option<ViewId>,
    completions: VecDeque<Completion>,
    pub stats: ClientStats,
}

impl SpecClient {
    /// A client whose replies come to `reply_to` (its own address), for a group of `n`
    /// replicas tolerating `f` failures (n is at most 64).
    pub fn new(
        id: ClientId,
        reply_to: SocketAddrV4,
        n: usize,
        f: usize,
        timeouts: ClientTimeouts,
    ) -> SpecClient {
        let n = n.clamp(1, 64);
        SpecClient {
            id,
            reply_to,
            n,
            superquorum: superquorum(f).min(n),
            timer: ResendTimer::new(timeouts),
            next_request: 1,
            pending: None,
            groups: BTreeMap::new(),
            replied: BTreeMap::new(),
            latest_view: None,
            reconciled: false,
            send_request: false,
            send_reconcile: None,
            completions: VecDeque::new(),
            stats: ClientStats::default(),
        }
    }

    fn reset(&mut self) {
        self.pending = None;
        self.groups.clear();
        self.replied.clear();
        self.reconciled = false;
        self.send_request = false;
        self.send_reconcile = None;
    }

    fn complete(&mut self, request: RequestId, result: Result<Vec<u8>, ClientError>) {
        self.reset();
        self.completions.push_back(Completion { request, result });
    }

    /// Completes the request with a result; its round trip is a sample if never resent.
    fn succeed(&mut self, now: Time, request: RequestId, result: Vec<u8>) {
        if let Some(pending) = &self.pending {
            self.timer.completed(pending, now);
        }
        self.complete(request, Ok(result));
    }

    #[allow(clippy::too_many_arguments)]
    fn on_reply(
        &mut self,
        now: Time,
        view: ViewId,
        slot: u64,
        hash: LogHash,
        request: RequestId,
        replica: u16,
        committed: bool,
        result: &[u8],
    ) {
        let Some(pending) = &self.pending else { return };
        let replica = usize::from(replica);
        if pending.request != request || replica >= self.n {
            return;
        }
        if self.latest_view.is_none_or(|v| v < view) {
            self.latest_view = Some(view);
        }
        if committed {
            self.stats.committed += 1;
            self.succeed(now, request, result.to_vec());
            return;
        }
        if self.groups.len() >= MAX_GROUPS {
            self.groups.clear();
            self.replied.clear();
        }
        let bit = 1u64 << replica;
        let group = self.groups.entry((view, slot, hash)).or_default();
        if group.replicas == 0 {
            group.result = result.to_vec();
        }
        group.replicas |= bit;
        if group.replicas.count_ones() as usize >= self.superquorum {
            let result = std::mem::take(&mut group.result);
            self.stats.fast += 1;
            self.succeed(now, request, result);
            return;
        }
        // Could the replies of this view still form a superquorum?
        let replied = self.replied.entry(view).or_default();
        *replied |= bit;
        let silent = self.n - replied.count_ones() as usize;
        let best = self
            .groups
            .range((view, 0, LogHash::ZERO)..)
            .take_while(|((v, _, _), _)| *v == view)
            .map(|(_, g)| g.replicas.count_ones() as usize)
            .max()
            .unwrap_or(0);
        if best + silent < self.superquorum && !self.reconciled {
            self.reconciled = true;
            self.send_reconcile = Some(view);
        }
    }
}

impl Node for SpecClient {
    fn handle_datagram(&mut self, now: Time, _from: SocketAddrV4, datagram: &[u8]) {
        if let Ok(Message::SpecReply {
            view,
            slot,
            hash,
            client,
            request,
            replica,
            committed,
            result,
        }) = Message::decode(datagram)
        {
            if client == self.id {
                self.on_reply(now, view, slot, hash, request, replica, committed, result);
            }
        }
    }

    fn handle_timeout(&mut self, now: Time) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        match self.timer.tick(pending, now) {
            Tick::Nothing => {}
            Tick::Resend => {
                self.send_request = true;
                if let Some(view) = self.latest_view {
                    self.reconciled = true;
                    self.send_reconcile = Some(view);
                }
            }
            Tick::GiveUp => {
                let (request, attempts) = (pending.request, pending.attempts);
                self.complete(request, Err(ClientError::GaveUp { attempts }));
            }
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.pending.as_ref().map(Pending::deadline)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let pending = self.pending.as_ref()?;
        let mut w = Writer::new(buf);
        if self.send_request {
            self.send_request = false;
            Message::Request {
                client: self.id,
                request: pending.request,
                reply_to: self.reply_to,
                op: &pending.op,
            }
            .encode_sequenced(&mut w)
            .ok()?;
            return Some(Transmit {
                destination: Destination::Group,
                len: w.len(),
            });
        }
        let view = self.send_reconcile.take()?;
        self.stats.reconcile_requests += 1;
        Message::ReconcileRequest { view }.encode(&mut w).ok()?;
        Some(Transmit {
            destination: Destination::Replica(view.leader(self.n)),
            len: w.len(),
        })
    }
}

impl Client for SpecClient {
    fn id(&self) -> ClientId {
        self.id
    }

    fn invoke(&mut self, now: Time, op: &[u8]) -> Option<RequestId> {
        if self.pending.is_some() {
            return None;
        }
        let request = self.next_request;
        self.next_request += 1;
        self.reset();
        self.pending = Some(self.timer.start(now, request, op));
        self.send_request = true;
        Some(request)
    }

    fn resends(&self) -> u64 {
        self.timer.resends()
    }

    fn poll_completion(&mut self) -> Option<Completion> {
        self.completions.pop_front()
    }
}
