//! The NOPaxos replica, sans-IO. Files by subprotocol: `normal` (OUM delivery, logging,
//! execution, replies), `gap` (gap agreement), `sync` (synchronization), `view_change`,
//! `transfer` (state transfer and recovery).

mod catch_up;
mod gap;
mod normal;
mod prevote;
mod reply_queue;
mod sync;
mod transfer;
mod view_change;

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::oum::{Receiver, ReceiverConfig, SessionNumber, newest_session};
use dataplane::wire::OUM_PREAMBLE;

use super::blob::{Assembler, OutgoingBlob, chunk};
use super::log::Log;
use super::messages::Message;
use super::noop_ranges::NoopRanges;
use super::types::{Request, ViewId};
use crate::app::{App, StateMachine};
use crate::kit::deadlines::Earliest;
use crate::kit::node::{chunks, decoded, peer, reported};
use crate::kit::prevote::PreVote;
use crate::kit::recovery::{Epochs, Nonces};
use crate::time::Time;
use crate::{Destination, EntryId, Node, Outbox, Replica, ReplicaStats, Transmit};
use reply_queue::ReplyQueue;

pub(crate) use gap::{GapTimer, LeaderGap};
pub(crate) use sync::SyncRound;
pub(crate) use transfer::{Recovery, ServedImage, Transfer};
pub(crate) use view_change::ViewChangeState;

/// A follower this far behind the leader's sync point catches up by state transfer rather
/// than slot by slot.
const CATCH_UP_BY_TRANSFER: u64 = 4096;

/// Timeouts of the replica (docs: the [timeouts] section of the cluster config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NopaxosTimeouts {
    pub gap_request: Duration,
    pub gap_request_min: Duration,
    pub gap_commit: Duration,
    pub view_change: Duration,
    pub state_transfer: Duration,
    pub start_view: Duration,
    pub sync_period: Duration,
    pub leader_timeout: Duration,
}

impl NopaxosTimeouts {
    pub fn from_config(t: &dataplane::config::Timeouts) -> NopaxosTimeouts {
        let ms = Duration::from_millis;
        NopaxosTimeouts {
            gap_request: ms(t.gap_request_ms),
            gap_request_min: ms(t.gap_request_min_ms),
            gap_commit: ms(t.gap_commit_ms),
            view_change: ms(t.view_change_ms),
            state_transfer: ms(t.state_transfer_ms),
            start_view: ms(t.start_view_ms),
            sync_period: ms(t.sync_period_ms),
            leader_timeout: ms(t.leader_timeout_ms),
        }
    }
}

/// What a replica needs to know about its cluster.
#[derive(Debug, Clone)]
pub struct NopaxosConfig {
    pub index: usize,
    pub f: usize,
    pub replicas: Vec<SocketAddrV4>,
    pub timeouts: NopaxosTimeouts,
    pub receiver: ReceiverConfig,
}

impl NopaxosConfig {
    pub fn from_cluster(config: &ClusterConfig, index: usize) -> NopaxosConfig {
        NopaxosConfig {
            index,
            f: config.f,
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            timeouts: NopaxosTimeouts::from_config(&config.timeouts),
            receiver: config.oum.receiver(),
        }
    }

    pub fn n(&self) -> usize {
        self.replicas.len()
    }
}

pub use crate::kit::status::Status;

/// A message waiting to be encoded.
#[derive(Debug)]
pub(crate) enum Out {
    Msg(Message<'static>),
    Chunk { blob: OutgoingBlob, index: u32 },
}

/// A NOPaxos replica running application `A`.
#[derive(Debug)]
pub struct NopaxosReplica<A> {
    pub(crate) cfg: NopaxosConfig,
    pub(crate) status: Status,
    pub(crate) view: ViewId,
    pub(crate) last_normal_view: ViewId,
    /// OUM session of the current view (None before the first session is known).
    pub(crate) oum_session: Option<u16>,
    pub(crate) latest_oum_seen: Option<u16>,
    /// Message m of the view's OUM session belongs in slot `session_base + m`.
    pub(crate) session_base: u64,
    pub(crate) log: Log,
    pub(crate) receiver: Receiver<Option<Request>>,
    pub(crate) machine: StateMachine<A>,
    pub(crate) exec_point: u64,
    pub(crate) sync_point: u64,
    /// Committed NO-OPs for slots this replica has not reached yet (the skip rule), as
    /// ranges: a GAP-COMMIT of a long run costs one entry, not one per slot.
    pub(crate) noops_ahead: NoopRanges,
    // Leader.
    pub(crate) gap: Option<LeaderGap>,
    /// Times gap retries (leader and follower) from measured peer round trips.
    pub(crate) gap_timer: GapTimer,
    pub(crate) sync_round: Option<SyncRound>,
    /// The acknowledgement flags of the last synchronization round, reused by the next.
    pub(crate) spare_sync_acks: Vec<bool>,
    pub(crate) next_sync_at: Time,
    pub(crate) start_view_acks: Option<(BTreeSet<usize>, Time)>,
    pub(crate) start_view_blob: Option<OutgoingBlob>,
    pub(crate) start_view_resends: u32,
    // Follower.
    pub(crate) blocked: Option<(u64, Time)>,
    /// The last slot of the run of lost messages the follower waits on (its receiver
    /// reported them dropped); meaningful while `blocked` waits at the log's end.
    pub(crate) missing_to: u64,
    /// Highest slot a SYNC-PREPARE asked for, that this replica is catching up to.
    pub(crate) catch_up_to: u64,
    /// Every NO-OP the leader committed in slots up to here is applied to this log (the
    /// SYNC-PREPAREs that said so were received without a hole).
    pub(crate) noops_applied: u64,
    pub(crate) leader_heard: Time,
    /// Asking the others before deposing a leader that timed out.
    pub(crate) pre_vote: PreVote<ViewId>,
    // View change, state transfer, recovery.
    pub(crate) vc: Option<ViewChangeState>,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) recovery: Option<Recovery>,
    /// The highest recovery epoch this replica knows of each replica, its own included
    /// (0: never recovered). The recovery fence: see `try_finish_view_change`.
    pub(crate) epochs: Epochs,
    pub(crate) assembler: Assembler,
    pub(crate) served_image: Option<ServedImage>,
    pub(crate) nonces: Nonces,
    pub(crate) outbox: Outbox<Out>,
    /// Replies to clients, sent before the outbox's messages (they go to other
    /// destinations, so the order between the two queues means nothing).
    pub(crate) replies: ReplyQueue,
    pub(crate) stats: ReplicaStats,
    pub(crate) now: Time,
    /// Byte buffers to reuse for operations, so the request path does not
    /// allocate in the steady state.
    pub(crate) spare: Vec<Vec<u8>>,
}

/// Spare buffers kept at most. Truncation hands the pool a whole sync period of operation
/// buffers, which the next period takes again one per request: a pool smaller than a period
/// runs dry and every request after that allocates. The log held all of them a moment
/// before, so keeping them costs no memory beyond the log's own peak.
pub(crate) const SPARE_BUFFERS: usize = 1 << 16;
/// Bytes a new pooled buffer can hold before it grows: a key-value operation fits. Small
/// buffers keep the pool of a sync period (thousands of them) within the caches.
pub(crate) const BUFFER_CAPACITY: usize = 64;

impl<A: App> NopaxosReplica<A> {
    /// A replica of a freshly started cluster: view (0, 0), empty log, waiting for the first
    /// OUM session.
    pub fn new(cfg: NopaxosConfig, app: A) -> NopaxosReplica<A> {
        let receiver = Receiver::new(cfg.receiver);
        NopaxosReplica {
            status: Status::Normal,
            view: ViewId::INITIAL,
            last_normal_view: ViewId::INITIAL,
            oum_session: None,
            latest_oum_seen: None,
            session_base: 0,
            log: Log::starting_at(1),
            receiver,
            machine: StateMachine::new(app),
            exec_point: 0,
            sync_point: 0,
            noops_ahead: NoopRanges::default(),
            gap: None,
            gap_timer: GapTimer::new(&cfg.timeouts),
            sync_round: None,
            spare_sync_acks: Vec::new(),
            next_sync_at: Time::ZERO + cfg.timeouts.sync_period,
            start_view_acks: None,
            start_view_blob: None,
            start_view_resends: 0,
            blocked: None,
            missing_to: 0,
            catch_up_to: 0,
            noops_applied: 0,
            leader_heard: Time::ZERO,
            pre_vote: PreVote::new(
                cfg.timeouts.leader_timeout,
                cfg.timeouts.view_change,
                cfg.f + 1,
            ),
            vc: None,
            transfer: None,
            recovery: None,
            epochs: Epochs::new(cfg.n()),
            assembler: Assembler::default(),
            served_image: None,
            nonces: Nonces::default(),
            outbox: Outbox::default(),
            replies: ReplyQueue::default(),
            stats: ReplicaStats::default(),
            now: Time::ZERO,
            spare: Vec::new(),
            cfg,
        }
    }

    /// A replica of a cluster whose first view change ((0, 0) to (0, 1)) agreed on OUM
    /// session `session` with an empty log, and nothing since: for benchmarks that feed one
    /// replica alone the requests of that session (a cluster gets here by itself).
    pub fn serving_first_session(cfg: NopaxosConfig, app: A, session: u16) -> NopaxosReplica<A> {
        let mut r = NopaxosReplica::new(cfg, app);
        let view = ViewId {
            leader_num: 0,
            session_num: 1,
        };
        r.view = view;
        r.last_normal_view = view;
        r.oum_session = Some(session);
        r.latest_oum_seen = Some(session);
        r.session_base = 0;
        r.receiver.listen(dataplane::oum::SessionNumber(session), 1);
        r
    }

    /// A replica that lost its memory and must recover before taking part; `nonce` must
    /// differ from any earlier recovery of this replica.
    pub fn recovering(cfg: NopaxosConfig, app: A, nonce: u64, now: Time) -> NopaxosReplica<A> {
        let mut r = NopaxosReplica::new(cfg, app);
        r.now = now;
        r.start_recovery(now, nonce);
        r
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn view(&self) -> ViewId {
        self.view
    }

    pub fn machine(&self) -> &StateMachine<A> {
        &self.machine
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub(crate) fn n(&self) -> usize {
        self.cfg.n()
    }

    pub(crate) fn f(&self) -> usize {
        self.cfg.f
    }

    pub(crate) fn am_leader(&self) -> bool {
        self.view.leader(self.n()) == self.cfg.index
    }

    pub(crate) fn leader(&self) -> usize {
        self.view.leader(self.n())
    }

    pub(crate) fn send(&mut self, to: Destination, message: Message<'static>) {
        self.outbox.push(to, Out::Msg(message));
    }

    pub(crate) fn send_blob(&mut self, to: Destination, blob: &OutgoingBlob) {
        for (blob, index) in chunks(blob) {
            self.outbox.push(to, Out::Chunk { blob, index });
        }
    }

    /// The next protocol message, encoded into `buf`: apart from the per-request path (its
    /// large encoder would otherwise make every `poll_transmit` call set up its frame).
    #[inline(never)]
    fn poll_outbox(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let (transmit, _) = self.outbox.poll(buf, |out, w| match out {
            Out::Msg(m) => m.encode(w),
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

    /// A cleared buffer for an operation, reused if one is spare (truncation returns the
    /// log's buffers to the pool).
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let mut b = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_CAPACITY));
        b.clear();
        b
    }

    pub(crate) fn next_nonce(&mut self) -> u64 {
        self.nonces.next(self.cfg.index, self.now)
    }

    // Not inlined: the per-request path (an OUM datagram) should not pay for its frame.
    #[inline(never)]
    fn dispatch(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        let Some(message) = decoded(Message::decode(datagram), &mut self.stats) else {
            return;
        };
        // Only replicas talk to replicas; requests come through the sequencer.
        let Some(sender) = peer(&self.cfg.replicas, self.cfg.index, from, &mut self.stats) else {
            return;
        };
        if self.status == Status::Recovering {
            self.handle_while_recovering(now, sender, message);
            return;
        }
        match message {
            Message::GapRequest { view, slot } => self.on_gap_request(now, sender, view, slot),
            Message::GapReply { view, slot, answer } => {
                self.on_gap_reply(now, sender, view, slot, answer)
            }
            Message::GapFind { view, first, last } => {
                self.on_gap_find(now, sender, view, first, last)
            }
            Message::GapFindReply {
                view,
                first,
                last,
                clear,
                found,
            } => self.on_gap_find_reply(now, sender, view, first, last, clear, found),
            Message::GapCommit { view, first, last } => {
                self.on_gap_commit(now, sender, view, first, last)
            }
            Message::GapCommitReply { view, first, last } => {
                self.on_gap_commit_reply(now, sender, view, first, last)
            }
            Message::SyncPrepare {
                view,
                prev,
                slot,
                noops,
            } => self.on_sync_prepare(now, sender, view, prev, slot, &noops),
            Message::SyncFetch { view, from } => self.on_sync_fetch(now, sender, view, from),
            Message::SyncReply { view, slot } => self.on_sync_reply(now, sender, view, slot),
            Message::SyncCommit { view, slot } => self.on_sync_commit(now, sender, view, slot),
            Message::ViewChangeRequest { view } => self.on_view_change_request(now, sender, view),
            Message::StartViewReply { view } => self.on_start_view_reply(sender, view),
            Message::Chunk { .. } => {
                if let Some(chunk) = message.as_chunk() {
                    self.on_chunk(now, sender, chunk);
                }
            }
            Message::StateRequest { view, nonce } => self.on_state_request(sender, view, nonce),
            Message::Recovery { nonce, epoch } => self.on_recovery(sender, nonce, epoch),
            Message::RecoveryResponse { .. } => self.stats.stale += 1,
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => crate::kit::prevote::on_message(self, now, sender, view, attempt, ballot),
            Message::Request { .. } | Message::Reply { .. } => self.stats.unexpected += 1,
        }
    }

    /// A message of an older view is ignored; one of a newer view means this replica is
    /// behind, and it joins that view. Returns whether the message is for the current view.
    pub(crate) fn check_view(&mut self, now: Time, view: ViewId) -> bool {
        if view == self.view {
            return true;
        }
        if view.covers(&self.view) || !self.view.covers(&view) {
            self.start_view_change(now, self.view.join(&view));
        } else {
            self.stats.stale += 1;
        }
        false
    }

    /// Every timer that may be due.
    fn on_timers(&mut self, now: Time) {
        match self.status {
            Status::Recovering => self.recovery_timer(now),
            Status::ViewChange => self.view_change_timer(now),
            Status::Normal => {
                if self.am_leader() {
                    self.leader_gap_timer(now);
                    self.sync_timer(now);
                    self.start_view_timer(now);
                } else {
                    self.follower_gap_timer(now);
                    // A transfer in progress has its own timer (see next_deadline).
                    if self.transfer.is_none() {
                        crate::kit::prevote::on_leader_timer(self, now);
                    }
                }
            }
        }
        self.transfer_timer(now);
    }

    /// The earliest time some timer wants attention (no allocation: drivers ask often).
    fn next_deadline(&self) -> Option<Time> {
        let mut next = Earliest::default();
        if self.takes_oum_events() {
            next.consider(self.receiver.next_deadline());
        }
        match self.status {
            Status::Recovering => next.consider(self.recovery.as_ref().map(|r| r.resend_at)),
            Status::ViewChange => {
                next.consider(self.vc.as_ref().map(|vc| vc.resend_at.min(vc.give_up_at)));
            }
            Status::Normal => {
                if self.am_leader() {
                    next.consider(self.gap.as_ref().map(|g| g.deadline));
                    next.consider(self.next_sync_at);
                    next.consider(self.start_view_acks.as_ref().map(|(_, at)| *at));
                } else {
                    next.consider(self.blocked.map(|(_, at)| at));
                    // A transfer in progress has its own timer; the leader is not suspected
                    // meanwhile (see on_timers).
                    if self.transfer.is_none() {
                        next.consider(self.pre_vote.deadline(self.view, self.leader_heard));
                    }
                }
            }
        }
        next.consider(self.transfer.as_ref().map(|t| t.resend_at));
        next.get()
    }
}

impl<A: App> Node for NopaxosReplica<A> {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        self.now = now;
        if datagram.starts_with(&OUM_PREAMBLE) {
            if self.on_oum_datagram(now, datagram) {
                return; // delivered in order: the receiver holds no event
            }
        } else {
            self.dispatch(now, from, datagram);
        }
        self.process_oum(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        self.on_timers(now);
        self.process_oum(now);
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.next_deadline()
    }

    fn newest_oum_session(&self) -> Option<SessionNumber> {
        // The receiver's newest stamp, or what a view change or state transfer taught this
        // replica (a recovered one has no stamps yet but knows the view's session).
        [self.latest_oum_seen, self.oum_session]
            .into_iter()
            .map(|s| s.map(SessionNumber))
            .fold(self.receiver.newest_session(), newest_session)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        if let Some((to, len)) = self.replies.pop_into(buf) {
            return Some(Transmit {
                destination: Destination::Client(to),
                len,
            });
        }
        if self.outbox.is_empty() {
            return None;
        }
        self.poll_outbox(buf)
    }
}

impl<A: App> Replica for NopaxosReplica<A> {
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
        self.sync_point
    }

    fn committed_entry(&self, slot: u64) -> Option<EntryId> {
        if slot > self.sync_point {
            return None;
        }
        self.log.get(slot).map(super::types::Entry::id)
    }

    fn execution(&self) -> (u64, u64) {
        if self.exec_point > self.sync_point {
            (0, 0)
        } else {
            (self.exec_point, self.machine.digest())
        }
    }

    fn stats(&self) -> ReplicaStats {
        reported(self.stats, self.machine.executed())
    }

    fn describe(&self) -> String {
        format!(
            "replica {} {:?} view {} (last normal {}) {} oum session {:?} base {} log {}..={} \
             exec {} sync {} blocked {:?} gap {:?} transfer {} vc {} gap_retries {} \
             oum_drops {} late_after_drop {} reorder_window_us {}",
            self.cfg.index,
            self.status,
            self.view,
            self.last_normal_view,
            if self.am_leader() {
                "leader"
            } else {
                "follower"
            },
            self.oum_session,
            self.session_base,
            self.log.start(),
            self.log.end(),
            self.exec_point,
            self.sync_point,
            self.blocked.map(|b| b.0),
            self.gap.as_ref().map(|g| (g.first, g.last)),
            self.transfer.is_some(),
            self.vc.is_some(),
            self.gap_timer.retries,
            self.receiver.stats().drops_notified,
            self.receiver.stats().late_after_drop,
            self.receiver.reorder_window().as_micros(),
        )
    }
}
