//! The VR replica, sans-IO. Files by subprotocol: `normal` (requests, batching, PREPARE,
//! PREPARE-OK, COMMIT, execution, the primary's and backups' timers), `view_change`
//! (START-VIEW-CHANGE, DO-VIEW-CHANGE, START-VIEW), `transfer` (STATE-REQUEST / NEW-STATE and
//! recovery).

mod normal;
mod prevote;
mod transfer;
mod view_change;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use dataplane::config::ClusterConfig;

use super::blob::{Assembler, OutgoingBlob};
use super::messages::{ChunkKind, Message, encode_prepare, encode_reply};
use super::types::{Entry, Log};
use crate::app::{App, StateMachine};
use crate::codec::Writer;
use crate::kit::deadlines::Earliest;
use crate::kit::node::{chunks, decoded, peer, reported};
use crate::kit::prevote::PreVote;
use crate::time::Time;
use crate::{ClientId, Destination, EntryId, Node, Replica, ReplicaStats, RequestId, Transmit};

pub(crate) use transfer::{Recovery, Served, Transfer, TransferMode};
pub(crate) use view_change::ViewChange;

/// Timeouts of a VR replica, derived from the cluster config's `[timeouts]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrTimeouts {
    /// The primary sends COMMIT at least this often (the heartbeat): a fifth of the leader
    /// timeout, so a couple of lost heartbeats do not depose a live primary.
    pub heartbeat: Duration,
    /// How long an idle primary waits before announcing a new commit number with COMMIT
    /// (under load the next PREPARE carries it): 1/100 of the leader timeout.
    pub idle_commit: Duration,
    /// Resend of PREPARE to backups that have not acknowledged it (`gap_commit_ms`: the
    /// leader's resend until f replicas acknowledge): the longest wait and the first one;
    /// measured batch round trips shorten it (see [`PrepareTimer`]).
    pub prepare_resend: Duration,
    /// The shortest PREPARE resend wait (`gap_request_min_ms`).
    pub prepare_resend_min: Duration,
    /// Resend of START-VIEW-CHANGE and DO-VIEW-CHANGE (`view_change_ms`).
    pub view_change: Duration,
    /// A backup that hears nothing from its primary for this long starts a view change; a
    /// view change that has not completed after this long moves on to the next view.
    pub leader_timeout: Duration,
    /// Resend of STATE-REQUEST (to the next replica) and of RECOVERY (`state_transfer_ms`).
    pub state_transfer: Duration,
}

impl VrTimeouts {
    pub fn from_config(t: &dataplane::config::Timeouts) -> VrTimeouts {
        let ms = Duration::from_millis;
        let leader_timeout = ms(t.leader_timeout_ms.max(1));
        VrTimeouts {
            heartbeat: leader_timeout / 5,
            idle_commit: leader_timeout / 100,
            prepare_resend: ms(t.gap_commit_ms.max(1)),
            prepare_resend_min: ms(t.gap_request_min_ms.max(1)),
            view_change: ms(t.view_change_ms.max(1)),
            leader_timeout,
            state_transfer: ms(t.state_transfer_ms.max(1)),
        }
    }
}

impl Default for VrTimeouts {
    fn default() -> Self {
        VrTimeouts::from_config(&dataplane::config::Timeouts::default())
    }
}

/// When the primary resends a batch's PREPARE. The primary sends nothing new while a batch
/// is in flight, so a batch whose PREPARE or acknowledgements were lost holds up every
/// client; it is resent after about one measured batch round trip (RFC 6298 over
/// PREPARE-to-commit times of batches never resent, Karn's rule; at least
/// `prepare_resend_min`, at most `prepare_resend`, doubling per resend) rather than after a
/// fixed `gap_commit_ms` (50 ms), which under 1% loss was VR's p99.
#[derive(Debug, Clone)]
pub(crate) struct PrepareTimer {
    rtt: crate::kit::pending::RttEstimator,
    cap: Duration,
    /// When the batch in flight was first sent, and whether it was resent since.
    sent: Time,
    resent: bool,
    pub(crate) resends: u64,
}

impl PrepareTimer {
    fn new(t: &VrTimeouts) -> PrepareTimer {
        PrepareTimer {
            rtt: crate::kit::pending::RttEstimator::new(t.prepare_resend_min, t.prepare_resend),
            cap: t.prepare_resend,
            sent: Time::ZERO,
            resent: false,
            resends: 0,
        }
    }

    /// A batch went out at `now`; returns when to resend it.
    pub(crate) fn sent(&mut self, now: Time) -> Time {
        self.sent = now;
        self.resent = false;
        now + self.rtt.rto_within(self.cap)
    }

    /// A new view's primary awaits acknowledgements of its log at `now` (after START-VIEW,
    /// not a PREPARE: no sample); returns when to resend.
    pub(crate) fn restarted(&mut self, now: Time) -> Time {
        self.sent = now;
        self.resent = true;
        now + self.rtt.rto_within(self.cap)
    }

    /// The batch in flight was resent at `now`; returns when to resend it again.
    pub(crate) fn resent(&mut self, now: Time) -> Time {
        self.resent = true;
        self.resends += 1;
        self.rtt.back_off();
        now + self.rtt.rto_within(self.cap)
    }

    /// The batch in flight committed at `now`.
    pub(crate) fn committed(&mut self, now: Time) {
        if !self.resent {
            self.rtt.sample(now.saturating_since(self.sent));
        }
        // One sample per batch.
        self.resent = true;
    }
}

/// Default most requests in one PREPARE.
pub const DEFAULT_MAX_BATCH: usize = 64;
/// Default requests a primary queues behind the batch in flight before dropping new ones
/// (clients resend).
pub const DEFAULT_MAX_QUEUE: usize = 4096;
/// Default executed entries kept behind the execution point, so a backup a little behind
/// catches up from the log instead of a snapshot.
pub const DEFAULT_LOG_KEEP: u64 = 1024;

/// What a replica needs to know about its cluster, and its batching knobs.
#[derive(Debug, Clone)]
pub struct VrConfig {
    pub index: usize,
    pub f: usize,
    /// Replica addresses, by index (messages from elsewhere come from clients).
    pub replicas: Vec<SocketAddrV4>,
    pub timeouts: VrTimeouts,
    /// Most requests in one batch (PREPARE); a batch also never exceeds a datagram. The
    /// batch size adapts below this: one batch is in flight at a time, and requests that
    /// arrive meanwhile form the next one.
    pub max_batch: usize,
    /// Most requests waiting for the next batch.
    pub max_queue: usize,
    /// Executed entries kept in the log behind the execution point (the checkpoint window).
    pub log_keep: u64,
}

impl VrConfig {
    pub fn from_cluster(config: &ClusterConfig, index: usize) -> VrConfig {
        VrConfig {
            index,
            f: config.f,
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            timeouts: VrTimeouts::from_config(&config.timeouts),
            max_batch: DEFAULT_MAX_BATCH,
            max_queue: DEFAULT_MAX_QUEUE,
            log_keep: DEFAULT_LOG_KEEP,
        }
    }

    pub fn n(&self) -> usize {
        self.replicas.len()
    }
}

pub use crate::kit::status::Status;

/// Counters of VR's own, beside [`ReplicaStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VrStats {
    /// PREPAREs formed (batches), and the requests in them.
    pub batches: u64,
    pub batched_requests: u64,
    /// The largest batch formed.
    pub largest_batch: u64,
    /// Batches of exactly one request.
    pub single_batches: u64,
    /// Requests that reached a replica that is not the normal primary (dropped: clients
    /// resend to every replica, so the primary gets them).
    pub not_primary: u64,
    /// Requests already in the log or queue (dropped; answered when they commit).
    pub in_progress: u64,
    /// Requests dropped because the queue was full.
    pub queue_full: u64,
    /// Requests whose operation cannot fit a PREPARE (also counted as malformed).
    pub oversized: u64,
    /// Answers to STATE-REQUEST.
    pub images_served: u64,
    /// Queued PREPAREs dropped because the log moved on before they were sent.
    pub stale_outputs: u64,
    /// Messages that failed to encode (a bug if ever non-zero).
    pub encode_errors: u64,
}

/// A message waiting to be encoded.
#[derive(Debug)]
pub(crate) enum Out {
    Msg(Message<'static>),
    Reply {
        view: u64,
        client: ClientId,
        request: RequestId,
        result: Vec<u8>,
    },
    /// Encoded from the log when sent, so a batch is never copied.
    Prepare {
        view: u64,
        first: u64,
        last: u64,
        commit: u64,
    },
    Chunk {
        blob: OutgoingBlob,
        index: u32,
    },
}

/// Spare buffers kept at most, and the largest kept.
const SPARE_BUFFERS: usize = 4096;
const SPARE_CAPACITY: usize = 4096;

pub(crate) fn recycle_into(spare: &mut Vec<Vec<u8>>, b: Vec<u8>) {
    if spare.len() < SPARE_BUFFERS && b.capacity() <= SPARE_CAPACITY && b.capacity() > 0 {
        spare.push(b);
    }
}

/// A VR replica running application `A`.
#[derive(Debug)]
pub struct VrReplica<A> {
    pub(crate) cfg: VrConfig,
    pub(crate) status: Status,
    pub(crate) view: u64,
    pub(crate) last_normal: u64,
    pub(crate) log: Log,
    /// Op numbers up to here are committed (never beyond the log's end).
    pub(crate) commit: u64,
    /// Op numbers up to here are executed; equal to `commit` between inputs.
    pub(crate) exec: u64,
    pub(crate) machine: StateMachine<A>,
    // Primary.
    /// Requests waiting for the next batch.
    pub(crate) queue: VecDeque<Entry>,
    /// Each client's latest request in the log after `exec` or in the queue.
    pub(crate) proposed: HashMap<ClientId, RequestId>,
    /// Per replica: highest op number it acknowledged in this view.
    pub(crate) acks: Vec<u64>,
    pub(crate) ack_scratch: Vec<u64>,
    /// The commit number backups were last told.
    pub(crate) announced: u64,
    pub(crate) heartbeat_at: Time,
    pub(crate) commit_notify_at: Option<Time>,
    pub(crate) prepare_resend_at: Option<Time>,
    pub(crate) prepare_timer: PrepareTimer,
    pub(crate) start_view_blob: Option<OutgoingBlob>,
    // Backup.
    pub(crate) leader_heard: Time,
    /// Asking the others before deposing a primary that timed out.
    pub(crate) pre_vote: PreVote<u64>,
    // View change, state transfer, recovery.
    pub(crate) vc: Option<ViewChange>,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) recovery: Option<Recovery>,
    pub(crate) assembler: Assembler,
    /// Per replica: the last NEW-STATE served to it, resent while nothing changed.
    pub(crate) served: Vec<Option<Served>>,
    pub(crate) blob_counter: u64,
    pub(crate) nonce_base: u64,
    pub(crate) nonce_counter: u64,
    pub(crate) outbox: VecDeque<(Destination, Out)>,
    pub(crate) stats: ReplicaStats,
    pub(crate) vr_stats: VrStats,
    /// Operation and result buffers to reuse, so the request path does not allocate in the
    /// steady state.
    pub(crate) spare: Vec<Vec<u8>>,
}

impl<A: App> VrReplica<A> {
    /// A replica of a freshly started cluster: view 0 (replica 0 is primary), empty log.
    pub fn new(cfg: VrConfig, app: A) -> VrReplica<A> {
        let n = cfg.n();
        VrReplica {
            status: Status::Normal,
            view: 0,
            last_normal: 0,
            log: Log::starting_at(1),
            commit: 0,
            exec: 0,
            machine: StateMachine::new(app),
            queue: VecDeque::new(),
            proposed: HashMap::new(),
            acks: vec![0; n],
            ack_scratch: Vec::with_capacity(n),
            announced: 0,
            heartbeat_at: Time::ZERO + cfg.timeouts.heartbeat,
            commit_notify_at: None,
            prepare_resend_at: None,
            prepare_timer: PrepareTimer::new(&cfg.timeouts),
            start_view_blob: None,
            leader_heard: Time::ZERO,
            pre_vote: PreVote::new(
                cfg.timeouts.leader_timeout,
                cfg.timeouts.view_change,
                cfg.f + 1,
            ),
            vc: None,
            transfer: None,
            recovery: None,
            assembler: Assembler::default(),
            served: (0..n).map(|_| None).collect(),
            blob_counter: 0,
            nonce_base: 0,
            nonce_counter: 0,
            outbox: VecDeque::new(),
            stats: ReplicaStats::default(),
            vr_stats: VrStats::default(),
            spare: Vec::new(),
            cfg,
        }
    }

    /// A replica that lost its memory and must recover before taking part (VR Revisited
    /// section 4.3); `nonce` must differ from that of any earlier recovery of this replica.
    pub fn recovering(cfg: VrConfig, app: A, nonce: u64, now: Time) -> VrReplica<A> {
        let mut r = VrReplica::new(cfg, app);
        r.nonce_base = nonce;
        r.start_recovery(now, nonce);
        r
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn view(&self) -> u64 {
        self.view
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn machine(&self) -> &StateMachine<A> {
        &self.machine
    }

    pub fn vr_stats(&self) -> VrStats {
        self.vr_stats
    }

    /// Requests waiting for the next batch (primary).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn n(&self) -> usize {
        self.cfg.n()
    }

    pub(crate) fn f(&self) -> usize {
        self.cfg.f
    }

    pub(crate) fn me(&self) -> usize {
        self.cfg.index
    }

    pub(crate) fn primary_of(&self, view: u64) -> usize {
        (view % self.n().max(1) as u64) as usize
    }

    pub(crate) fn am_primary(&self) -> bool {
        self.primary_of(self.view) == self.me()
    }

    pub(crate) fn send(&mut self, to: Destination, message: Message<'static>) {
        if to == Destination::OtherReplicas && self.n() <= 1 {
            return;
        }
        self.outbox.push_back((to, Out::Msg(message)));
    }

    pub(crate) fn send_blob(&mut self, to: Destination, blob: &OutgoingBlob) {
        if to == Destination::OtherReplicas && self.n() <= 1 {
            return;
        }
        for (blob, index) in chunks(blob) {
            self.outbox.push_back((to, Out::Chunk { blob, index }));
        }
    }

    pub(crate) fn new_blob(&mut self, kind: ChunkKind, view: u64, data: Vec<u8>) -> OutgoingBlob {
        self.blob_counter += 1;
        OutgoingBlob {
            kind,
            view,
            id: self.blob_counter ^ self.nonce_base.rotate_left(32),
            data: Arc::new(data),
        }
    }

    /// A cleared buffer, reused if one is spare.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// A nonce not used before by this replica (nor, after memory loss, by its earlier
    /// incarnations: the recovery nonce is mixed in).
    pub(crate) fn next_nonce(&mut self) -> u64 {
        self.nonce_counter += 1;
        let mut z = self
            .nonce_base
            .wrapping_add(self.nonce_counter.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            ^ ((self.me() as u64) << 56);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn sender_index(&self, from: SocketAddrV4) -> Option<usize> {
        self.cfg.replicas.iter().position(|a| *a == from)
    }

    fn dispatch(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        let Some(message) = decoded(Message::decode(datagram), &mut self.stats) else {
            return;
        };
        if let Message::Request {
            client,
            request,
            op,
        } = message
        {
            if self.sender_index(from).is_some() {
                // Replicas never send requests.
                self.stats.unexpected += 1;
            } else {
                self.on_request(now, from, client, request, op);
            }
            return;
        }
        // Only replicas send anything else to a replica.
        let Some(sender) = peer(&self.cfg.replicas, self.me(), from, &mut self.stats) else {
            return;
        };
        if self.status == Status::Recovering {
            self.handle_while_recovering(now, sender, message);
            return;
        }
        match message {
            Message::Prepare {
                view,
                first,
                commit,
                entries,
            } => self.on_prepare(now, sender, view, first, commit, entries),
            Message::PrepareOk { view, op } => self.on_prepare_ok(now, sender, view, op),
            Message::Commit { view, commit } => self.on_commit(now, sender, view, commit),
            Message::StartViewChange { view } => self.on_start_view_change(now, sender, view),
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => crate::kit::prevote::on_message(self, now, sender, view, attempt, ballot),
            Message::Chunk(c) => self.on_chunk(now, sender, c),
            Message::StateRequest {
                view,
                op,
                commit,
                nonce,
                mode,
            } => self.on_state_request(sender, view, op, commit, nonce, mode),
            Message::Recovery { nonce } => self.on_recovery(sender, nonce),
            Message::RecoveryResponse { .. } => self.stats.stale += 1,
            Message::Request { .. } | Message::Reply { .. } => self.stats.unexpected += 1,
        }
    }

    fn next_deadline(&self) -> Option<Time> {
        let mut next = Earliest::default();
        match self.status {
            Status::Normal => {
                if self.am_primary() {
                    if self.n() > 1 {
                        next.consider(self.heartbeat_at);
                    }
                    next.consider(self.commit_notify_at);
                    next.consider(self.prepare_resend_at);
                } else {
                    next.consider(self.pre_vote.deadline(self.view, self.leader_heard));
                }
            }
            Status::ViewChange => {
                if let Some(vc) = &self.vc {
                    next.consider(vc.resend_at);
                    next.consider(vc.started + self.cfg.timeouts.leader_timeout);
                }
            }
            Status::Recovering => next.consider(self.recovery.as_ref().map(|r| r.resend_at)),
        }
        next.consider(self.transfer.as_ref().map(|t| t.resend_at));
        next.get()
    }
}

impl<A: App> Node for VrReplica<A> {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        self.dispatch(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.transfer_timer(now);
        match self.status {
            Status::Normal => self.normal_timers(now),
            Status::ViewChange => self.view_change_timers(now),
            Status::Recovering => self.recovery_timer(now),
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.next_deadline()
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some((destination, out)) = self.outbox.pop_front() {
            let mut w = Writer::new(&mut *buf);
            let encoded = match &out {
                Out::Msg(m) => m.encode(&mut w),
                Out::Reply {
                    view,
                    client,
                    request,
                    result,
                } => encode_reply(&mut w, *view, *client, *request, result),
                Out::Prepare {
                    view,
                    first,
                    last,
                    commit,
                } => {
                    if *view != self.view
                        || first > last
                        || *first < self.log.start()
                        || *last > self.log.end()
                    {
                        self.vr_stats.stale_outputs += 1;
                        continue;
                    }
                    encode_prepare(
                        &mut w,
                        *view,
                        *first,
                        *commit,
                        self.log.range(*first, *last),
                    )
                }
                Out::Chunk { blob, index } => Message::Chunk(blob.chunk(*index)).encode(&mut w),
            };
            let len = w.len();
            if let Out::Reply { result, .. } = out {
                recycle_into(&mut self.spare, result);
            }
            match encoded {
                Ok(()) => return Some(Transmit { destination, len }),
                Err(_) => self.vr_stats.encode_errors += 1,
            }
        }
        None
    }
}

impl<A: App> Replica for VrReplica<A> {
    fn index(&self) -> usize {
        self.cfg.index
    }

    fn is_leader(&self) -> bool {
        self.status == Status::Normal && self.am_primary()
    }

    fn is_normal(&self) -> bool {
        self.status == Status::Normal
    }

    fn commit_point(&self) -> u64 {
        self.commit
    }

    fn committed_entry(&self, slot: u64) -> Option<EntryId> {
        if slot > self.commit {
            return None;
        }
        self.log.get(slot).map(Entry::id)
    }

    /// VR executes committed operations only, so the state is always committed-only.
    fn execution(&self) -> (u64, u64) {
        if self.exec == 0 {
            (0, 0)
        } else {
            (self.exec, self.machine.digest())
        }
    }

    fn stats(&self) -> ReplicaStats {
        reported(self.stats, self.machine.executed())
    }

    fn describe(&self) -> String {
        let s = &self.vr_stats;
        format!(
            "replica {} {:?} view {} (last normal {}) {} log {}..={} commit {} exec {} \
             queue {} batches {} batched {} largest_batch {} transfer {} vc {}",
            self.cfg.index,
            self.status,
            self.view,
            self.last_normal,
            if self.am_primary() {
                "primary"
            } else {
                "backup"
            },
            self.log.start(),
            self.log.end(),
            self.commit,
            self.exec,
            self.queue.len(),
            s.batches,
            s.batched_requests,
            s.largest_batch,
            self.transfer.as_ref().map_or("none", |t| t.need.name()),
            self.vc.as_ref().map_or(0, |vc| vc.dvcs.len()),
        )
    }
}
