//! The Speculative Paxos replica, sans-IO. Files by subprotocol: `normal` (requests,
//! speculative execution, replies), `sync` (synchronization and in-view repair),
//! `view_change` (reconciliation and leader change: log merge, START-VIEW), `transfer`
//! (state transfer and recovery after memory loss).

mod normal;
mod prevote;
mod sync;
mod transfer;
mod view_change;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddrV4;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::wire::OUM_PREAMBLE;

use super::blob::{Assembler, ChunkIn, OutgoingBlob, chunk};
use super::ledger::{Ledger, LedgerStats};
use super::messages::Message;
use super::types::{LogHash, Request, SpecViewId, superquorum};
use crate::app::App;
use crate::kit::deadlines::Earliest;
use crate::kit::node::{chunks, decoded, peer, reported};
use crate::kit::prevote::PreVote;
use crate::kit::recovery::Nonces;
use crate::time::Time;
use crate::{Destination, EntryId, Node, Outbox, Replica, ReplicaStats, Transmit};

pub(crate) use sync::SyncRound;
pub(crate) use transfer::{Fence, Purpose, Recovery, ServedImage, Transfer};
pub(crate) use view_change::{StartViewState, ViewChangeState};

/// Requests held while a view change is under way, replayed in arrival order once the
/// replica is normal again (so replicas that were all changing views log them alike).
const MAX_DEFERRED: usize = 1024;

/// The leader also synchronizes after this many new slots, whatever the period.
const SYNC_EVERY_SLOTS: u64 = 4096;

/// Timeouts of the replica, from the `[timeouts]` section of the cluster config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecTimeouts {
    /// How often the leader synchronizes (and is heard: it is the heartbeat).
    pub sync_period: Duration,
    /// How long a synchronization round waits for a superquorum before the leader
    /// reconciles (`view_change_ms`).
    pub sync_wait: Duration,
    pub view_change: Duration,
    pub start_view: Duration,
    pub state_transfer: Duration,
    /// A follower that hears nothing from its leader for this long replaces it; a view
    /// change that has not finished after this long moves on to the next leader.
    pub leader_timeout: Duration,
}

impl SpecTimeouts {
    pub fn from_config(t: &dataplane::config::Timeouts) -> SpecTimeouts {
        let ms = Duration::from_millis;
        SpecTimeouts {
            sync_period: ms(t.sync_period_ms),
            sync_wait: ms(t.view_change_ms),
            view_change: ms(t.view_change_ms),
            start_view: ms(t.start_view_ms),
            state_transfer: ms(t.state_transfer_ms),
            leader_timeout: ms(t.leader_timeout_ms),
        }
    }
}

/// What a replica needs to know about its cluster.
#[derive(Debug, Clone)]
pub struct SpecConfig {
    pub index: usize,
    pub f: usize,
    pub replicas: Vec<SocketAddrV4>,
    pub timeouts: SpecTimeouts,
}

impl SpecConfig {
    pub fn from_cluster(config: &ClusterConfig, index: usize) -> SpecConfig {
        SpecConfig {
            index,
            f: config.f,
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            timeouts: SpecTimeouts::from_config(&config.timeouts),
        }
    }

    pub fn n(&self) -> usize {
        self.replicas.len()
    }
}

pub use crate::kit::status::Status;

/// Counters of Speculative Paxos beyond [`ReplicaStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecStats {
    /// Synchronization rounds that committed (leader).
    pub sync_commits: u64,
    /// Synchronization rounds without a matching superquorum (leader).
    pub sync_failures: u64,
    /// View changes started to reconcile divergent logs (same leader, next epoch).
    pub reconciliations: u64,
    /// Logs repaired in place or by state transfer after a commit this replica's log
    /// contradicted.
    pub repairs: u64,
    /// Requests dropped during a view change because the deferred queue was full.
    pub deferred_dropped: u64,
    /// A peer contradicted what this replica knows is committed. Never expected; counted
    /// rather than trusted.
    pub safety_alarms: u64,
    pub ledger: LedgerStats,
}

/// A message waiting to be encoded.
#[derive(Debug)]
pub(crate) enum Out {
    Msg(Message<'static>),
    Reply {
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
        client: u64,
        request: u64,
        committed: bool,
        result: Vec<u8>,
    },
    Chunk {
        blob: OutgoingBlob,
        index: u32,
    },
}

/// A Speculative Paxos replica running application `A`.
#[derive(Debug)]
pub struct SpecReplica<A> {
    pub(crate) cfg: SpecConfig,
    pub(crate) status: Status,
    pub(crate) view: SpecViewId,
    pub(crate) last_normal_view: SpecViewId,
    pub(crate) ledger: Ledger<A>,
    // Leader.
    pub(crate) sync: Option<SyncRound>,
    pub(crate) next_sync_at: Time,
    /// Log end at the last synchronization round.
    pub(crate) synced_end: u64,
    pub(crate) start_view: Option<StartViewState>,
    // Follower.
    /// Slot of a SYNC this replica answers once its log reaches it.
    pub(crate) pending_sync: Option<u64>,
    pub(crate) leader_heard: Time,
    /// Asking the others before deposing a leader that timed out.
    pub(crate) pre_vote: PreVote<SpecViewId>,
    // View change, state transfer, recovery.
    pub(crate) vc: Option<ViewChangeState>,
    pub(crate) deferred: VecDeque<Request>,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) recovery: Option<Recovery>,
    /// Recoveries heard of, per recovering replica: the leader serves one only from a view
    /// it formed after hearing of it.
    pub(crate) fences: BTreeMap<usize, Fence>,
    pub(crate) assembler: Assembler,
    pub(crate) served: Option<ServedImage>,
    pub(crate) nonces: Nonces,
    pub(crate) outbox: Outbox<Out>,
    pub(crate) stats: ReplicaStats,
    pub(crate) spec_stats: SpecStats,
    pub(crate) now: Time,
}

impl<A: App> SpecReplica<A> {
    /// A replica of a freshly started cluster: view (0, 0), empty log.
    pub fn new(cfg: SpecConfig, app: A) -> SpecReplica<A> {
        SpecReplica {
            status: Status::Normal,
            view: SpecViewId::INITIAL,
            last_normal_view: SpecViewId::INITIAL,
            ledger: Ledger::new(app),
            sync: None,
            next_sync_at: Time::ZERO + cfg.timeouts.sync_period,
            synced_end: 0,
            start_view: None,
            pending_sync: None,
            leader_heard: Time::ZERO,
            pre_vote: PreVote::new(
                cfg.timeouts.leader_timeout,
                cfg.timeouts.view_change,
                cfg.f + 1,
            ),
            vc: None,
            deferred: VecDeque::new(),
            transfer: None,
            recovery: None,
            fences: BTreeMap::new(),
            assembler: Assembler::default(),
            served: None,
            nonces: Nonces::default(),
            outbox: Outbox::default(),
            stats: ReplicaStats::default(),
            spec_stats: SpecStats::default(),
            now: Time::ZERO,
            cfg,
        }
    }

    /// A replica that lost its memory and must recover before taking part; `nonce` must
    /// differ from any earlier recovery of this replica.
    pub fn recovering(cfg: SpecConfig, app: A, nonce: u64, now: Time) -> SpecReplica<A> {
        let mut r = SpecReplica::new(cfg, app);
        r.now = now;
        r.start_recovery(now, nonce);
        r
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn view(&self) -> SpecViewId {
        self.view
    }

    pub fn ledger(&self) -> &Ledger<A> {
        &self.ledger
    }

    pub fn spec_stats(&self) -> SpecStats {
        let mut s = self.spec_stats;
        s.ledger = self.ledger.stats;
        s
    }

    pub(crate) fn n(&self) -> usize {
        self.cfg.n()
    }

    pub(crate) fn f(&self) -> usize {
        self.cfg.f
    }

    pub(crate) fn superquorum(&self) -> usize {
        superquorum(self.cfg.f).min(self.n())
    }

    pub(crate) fn leader(&self) -> usize {
        self.view.leader(self.n())
    }

    pub(crate) fn am_leader(&self) -> bool {
        self.leader() == self.cfg.index
    }

    pub(crate) fn send(&mut self, to: Destination, message: Message<'static>) {
        self.outbox.push(to, Out::Msg(message));
    }

    pub(crate) fn send_blob(&mut self, to: Destination, blob: &OutgoingBlob) {
        for (blob, index) in chunks(blob) {
            self.outbox.push(to, Out::Chunk { blob, index });
        }
    }

    pub(crate) fn next_nonce(&mut self) -> u64 {
        self.nonces.next(self.cfg.index, self.now)
    }

    fn dispatch(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        let Some(message) = decoded(Message::decode(datagram), &mut self.stats) else {
            return;
        };
        // Clients talk to replicas only to ask for reconciliation.
        if let Message::ReconcileRequest { view } = message {
            self.on_reconcile_request(now, view);
            return;
        }
        let Some(sender) = peer(&self.cfg.replicas, self.cfg.index, from, &mut self.stats) else {
            return;
        };
        if self.status == Status::Recovering && !self.recovering_admits(now, sender, &message) {
            return;
        }
        match message {
            Message::Sync {
                view,
                slot,
                hash,
                commit,
                commit_hash,
            } => self.on_sync(now, sender, view, slot, hash, commit, commit_hash),
            Message::SyncReply { view, slot, hash } => {
                self.on_sync_reply(now, sender, view, slot, hash)
            }
            Message::SyncCommit { view, slot, hash } => {
                self.on_sync_commit(now, sender, view, slot, hash)
            }
            Message::ViewChangeRequest { view } => self.on_view_change_request(now, sender, view),
            Message::StartViewReply { view } => self.on_start_view_reply(now, sender, view),
            Message::Chunk {
                kind,
                view,
                id,
                index,
                count,
                total,
                data,
            } => self.on_chunk(
                now,
                sender,
                ChunkIn {
                    kind,
                    view,
                    id,
                    index,
                    count,
                    total,
                    data,
                },
            ),
            Message::StateRequest {
                view,
                nonce,
                from,
                recovery,
            } => self.on_state_request(now, sender, view, nonce, from, recovery),
            Message::Recovery { nonce } => self.on_recovery(now, sender, nonce),
            Message::RecoveryResponse { .. } => self.stats.stale += 1,
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => crate::kit::prevote::on_message(self, now, sender, view, attempt, ballot),
            Message::Request { .. }
            | Message::SpecReply { .. }
            | Message::ReconcileRequest { .. } => self.stats.unexpected += 1,
        }
    }

    /// A message of an older view is ignored; one of a newer view means this replica is
    /// behind, and it joins that view. Returns whether the message is for the current view.
    pub(crate) fn check_view(&mut self, now: Time, view: SpecViewId) -> bool {
        if view == self.view {
            return true;
        }
        if view > self.view {
            self.start_view_change(now, view);
        } else {
            self.stats.stale += 1;
        }
        false
    }

    fn next_deadline(&self) -> Option<Time> {
        let mut next = Earliest::default();
        match self.status {
            Status::Normal if self.am_leader() => {
                next.consider(self.next_sync_at);
                next.consider(self.sync.as_ref().map(|round| round.deadline));
                next.consider(self.start_view.as_ref().and_then(|s| s.next_resend()));
            }
            Status::Normal => next.consider(self.pre_vote.deadline(self.view, self.leader_heard)),
            Status::ViewChange => {
                if let Some(vc) = &self.vc {
                    next.consider(vc.resend_at);
                    next.consider(vc.give_up_at);
                }
            }
            Status::Recovering => {}
        }
        next.consider(self.transfer.as_ref().map(|t| t.resend_at));
        if self.transfer.is_none() {
            next.consider(self.recovery.as_ref().map(|r| r.resend_at));
        }
        next.get()
    }

    fn on_timers(&mut self, now: Time) {
        match self.status {
            Status::Normal if self.am_leader() => {
                if self.sync.as_ref().is_some_and(|r| now >= r.deadline) {
                    self.fail_sync(now);
                }
                if self.status == Status::Normal && now >= self.next_sync_at {
                    self.next_sync_at = now + self.cfg.timeouts.sync_period;
                    self.start_sync(now);
                }
                self.start_view_timer(now);
            }
            Status::Normal => crate::kit::prevote::on_leader_timer(self, now),
            Status::ViewChange => self.view_change_timer(now),
            Status::Recovering => {}
        }
        self.transfer_timer(now);
        self.recovery_timer(now);
    }
}

impl<A: App> Node for SpecReplica<A> {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        self.now = now;
        if datagram.starts_with(&OUM_PREAMBLE) {
            self.on_oum_datagram(now, datagram);
        } else {
            self.dispatch(now, from, datagram);
        }
    }

    fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        self.on_timers(now);
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.next_deadline()
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let replica = self.cfg.index as u16;
        let (transmit, _) = self.outbox.poll(buf, |out, w| match out {
            Out::Msg(m) => m.encode(w),
            Out::Reply {
                view,
                slot,
                hash,
                client,
                request,
                committed,
                result,
            } => Message::SpecReply {
                view: *view,
                slot: *slot,
                hash: *hash,
                client: *client,
                request: *request,
                replica,
                committed: *committed,
                result,
            }
            .encode(w),
            Out::Chunk { blob, index } => Message::Chunk {
                kind: blob.kind,
                view: blob.view,
                id: blob.id,
                index: *index,
                count: blob.count(),
                total: blob.data.len() as u32,
                data: chunk(&blob.data, *index),
            }
            .encode(w),
        })?;
        Some(transmit)
    }
}

impl<A: App> Replica for SpecReplica<A> {
    fn index(&self) -> usize {
        self.cfg.index
    }

    fn is_leader(&self) -> bool {
        self.status == Status::Normal && self.am_leader()
    }

    fn is_normal(&self) -> bool {
        self.status == Status::Normal
    }

    fn commit_point(&self) -> u64 {
        if self.status == Status::Recovering {
            0
        } else {
            self.ledger.commit()
        }
    }

    fn committed_entry(&self, slot: u64) -> Option<EntryId> {
        if self.status == Status::Recovering {
            return None;
        }
        self.ledger.committed_entry(slot)
    }

    /// Every replica executes speculatively, so the state is only comparable when the
    /// whole log is committed.
    fn execution(&self) -> (u64, u64) {
        let end = self.ledger.end();
        if self.status == Status::Recovering || end == 0 || end != self.ledger.commit() {
            (0, 0)
        } else {
            (end, self.ledger.machine().digest())
        }
    }

    fn stats(&self) -> ReplicaStats {
        reported(self.stats, self.ledger.machine().executed())
    }

    fn describe(&self) -> String {
        let s = self.spec_stats();
        format!(
            "replica {} {:?} view {} (last normal {}) {} log {}..={} commit {} \
             sync {:?} transfer {:?} vc {} deferred {} syncs {}/{} view_changes {} \
             reconciliations {} repairs {} transfers {} rollbacks {} undone {} alarms {}",
            self.cfg.index,
            self.status,
            self.view,
            self.last_normal_view,
            if self.am_leader() {
                "leader"
            } else {
                "follower"
            },
            self.ledger.base(),
            self.ledger.end(),
            self.ledger.commit(),
            self.sync.as_ref().map(|r| r.slot),
            self.transfer.as_ref().map(|t| t.need),
            self.vc.is_some(),
            self.deferred.len(),
            s.sync_commits,
            s.sync_commits + s.sync_failures,
            self.stats.view_changes,
            s.reconciliations,
            s.repairs,
            self.stats.state_transfers,
            s.ledger.rollbacks,
            s.ledger.undone,
            s.safety_alarms,
        )
    }
}
