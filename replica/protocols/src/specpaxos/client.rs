//! The Speculative Paxos client: sends each request through the sequencer to every replica
//! and completes it in the fast path when a superquorum (f + ⌈f/2⌉ + 1) of speculative
//! replies agree on view, slot and prefix hash, or on one reply saying the slot is
//! committed. Replies that cannot form a superquorum any more, or no completion before the
//! resend timeout, make it ask the leader to synchronize (which commits the log or
//! reconciles it); it resends the request with the same id until a reply completes it,
//! and the client table answers a retry without executing it twice.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use super::messages::Message;
use super::types::{LogHash, SpecViewId, superquorum};
use crate::codec::{CodecError, Writer};
use crate::kit::client_core::{Attempt, Awaiting, ClientCore, ClientRules, RequestCopy, Route};
use crate::kit::pending::ClientTimeouts;
use crate::{ClientId, Destination, Transmit};

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

pub type SpecClient = ClientCore<SpecClientRules>;

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
        ClientCore::with_rules(
            id,
            timeouts,
            SpecClientRules {
                reply_to,
                n,
                superquorum: superquorum(f).min(n),
                groups: BTreeMap::new(),
                replied: BTreeMap::new(),
                latest_view: None,
                reconciled: false,
                send_reconcile: None,
                stats: ClientStats::default(),
            },
        )
    }

    /// How the client's requests completed so far.
    pub fn stats(&self) -> ClientStats {
        self.rules().stats
    }
}

#[derive(Debug, Default)]
struct Group {
    replicas: u64,
    result: Vec<u8>,
}

/// The Speculative Paxos client's rules: every attempt to the group through the
/// sequencer; a superquorum of matching speculative replies, or one committed reply,
/// completes; divergence or a resend asks the leader to synchronize.
#[derive(Debug)]
pub struct SpecClientRules {
    reply_to: SocketAddrV4,
    n: usize,
    superquorum: usize,
    groups: BTreeMap<(SpecViewId, u64, LogHash), Group>,
    /// Replicas that replied, per view.
    replied: BTreeMap<SpecViewId, u64>,
    latest_view: Option<SpecViewId>,
    /// Whether divergence was already reported for this attempt.
    reconciled: bool,
    send_reconcile: Option<SpecViewId>,
    stats: ClientStats,
}

impl SpecClientRules {
    fn on_reply(
        &mut self,
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
        replica: u16,
        committed: bool,
        result: &[u8],
    ) -> Option<Vec<u8>> {
        let replica = usize::from(replica);
        if replica >= self.n {
            return None;
        }
        if self.latest_view.is_none_or(|v| v < view) {
            self.latest_view = Some(view);
        }
        if committed {
            self.stats.committed += 1;
            return Some(result.to_vec());
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
            self.stats.fast += 1;
            return Some(std::mem::take(&mut group.result));
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
        None
    }
}

impl ClientRules for SpecClientRules {
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
        let Ok(Message::SpecReply {
            view,
            slot,
            hash,
            client,
            request,
            replica,
            committed,
            result,
        }) = Message::decode(datagram)
        else {
            return None;
        };
        if !awaiting.is_for(client, request) {
            return None;
        }
        self.on_reply(view, slot, hash, replica, committed, result)
    }

    fn request_ended(&mut self) {
        self.groups.clear();
        self.replied.clear();
        self.reconciled = false;
        self.send_reconcile = None;
    }

    fn resending(&mut self) {
        if let Some(view) = self.latest_view {
            self.reconciled = true;
            self.send_reconcile = Some(view);
        }
    }

    fn poll_other(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let view = self.send_reconcile.take()?;
        self.stats.reconcile_requests += 1;
        let mut w = Writer::new(buf);
        Message::ReconcileRequest { view }.encode(&mut w).ok()?;
        Some(Transmit {
            destination: Destination::Replica(view.leader(self.n)),
            len: w.len(),
        })
    }
}
