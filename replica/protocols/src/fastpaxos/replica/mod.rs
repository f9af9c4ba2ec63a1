//! The Fast Paxos replica, sans-IO: acceptor, and for its views the leader (coordinator and
//! learner). Files by subprotocol: `fast` (the fast round, collision recovery by the
//! view's classic round, learning and execution), `view_change` (leader change: phase 1 over
//! every undecided slot), `transfer` (state transfer and recovery after memory loss).

mod fast;
mod log;
mod prevote;
mod transfer;
mod view_change;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use dataplane::config::ClusterConfig;

use super::blob::{Assembler, OutgoingBlob, chunk};
use super::messages::{EntryRef, Message, VoteRef};
use super::types::{Entry, Quorums, Report, Request, Round};
use crate::app::{App, StateMachine};
use crate::kit::deadlines::Earliest;
use crate::kit::node::{chunks, decoded, peer, reported};
use crate::kit::prevote::PreVote;
use crate::kit::recovery::Epochs;
use crate::time::Time;
use crate::{
    ClientId, Destination, EntryId, Node, Outbox, Replica, ReplicaStats, RequestId, Transmit,
};

pub(crate) use fast::Tally;
pub(crate) use log::SlotLog;
pub(crate) use transfer::{Amnesia, ServedImage, Transfer};
pub(crate) use view_change::ViewChange;

/// Votes are taken at most this many slots above the commit point; a replica further
/// behind catches up before voting again (bounds the log while a leader is unreachable).
pub const MAX_WINDOW: u64 = 8192;
/// Chosen slots the leader sends a follower per SYNC-REPLY that shows it behind.
const FETCH_BATCH: u64 = 64;
/// Slots the leader starts recovering per timer tick when nobody reported them (holes).
const HOLES_PER_TICK: u64 = 64;
/// Spare buffers kept for reuse, of each kind (requests, reply results, tallies): the
/// steady-state hot path takes its buffers from these and gives them back, allocating
/// nothing.
const SPARE: usize = 1024;
/// Operations and results larger than this are not kept for reuse.
const SPARE_BYTES: usize = 4096;

/// Timeouts of the replica, from the `[timeouts]` section of the cluster config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastPaxosTimeouts {
    /// How long the leader waits for a fast quorum in a slot before it recovers the slot
    /// with a classic round (`gap_request_ms`).
    pub fast: Duration,
    /// Resend of SLOT-PREPARE and ACCEPT (`gap_commit_ms`).
    pub resend: Duration,
    /// Resend of VIEW-CHANGE-REQUEST and the VIEW-CHANGE report.
    pub view_change: Duration,
    pub state_transfer: Duration,
    /// Least time between two START-VIEWs to one follower.
    pub start_view: Duration,
    /// Leader heartbeat (SYNC): `min(sync_period_ms, leader_timeout_ms / 4)`.
    pub heartbeat: Duration,
    /// A follower that hears nothing from its leader this long (or a view change that has
    /// not finished) moves to the next view.
    pub leader_timeout: Duration,
}

impl FastPaxosTimeouts {
    /// Maps the shared timeout names onto this protocol's timers (see the fields).
    pub fn from_config(t: &dataplane::config::Timeouts) -> FastPaxosTimeouts {
        let ms = Duration::from_millis;
        FastPaxosTimeouts {
            fast: ms(t.gap_request_ms),
            resend: ms(t.gap_commit_ms),
            view_change: ms(t.view_change_ms),
            state_transfer: ms(t.state_transfer_ms),
            start_view: ms(t.start_view_ms),
            heartbeat: ms(t.sync_period_ms.min(t.leader_timeout_ms / 4).max(1)),
            leader_timeout: ms(t.leader_timeout_ms),
        }
    }
}

/// What a replica needs to know about its cluster.
#[derive(Debug, Clone)]
pub struct FastPaxosConfig {
    pub index: usize,
    /// Replica addresses; n is their number (at most 64).
    pub replicas: Vec<SocketAddrV4>,
    pub timeouts: FastPaxosTimeouts,
    /// Executed slots kept (for followers that fall slightly behind) before truncation;
    /// a follower further behind copies a state image instead.
    pub retain: u64,
}

impl FastPaxosConfig {
    /// Replica `index` of `config`, keeping the last 1024 executed slots.
    pub fn from_cluster(config: &ClusterConfig, index: usize) -> FastPaxosConfig {
        FastPaxosConfig {
            index,
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            timeouts: FastPaxosTimeouts::from_config(&config.timeouts),
            retain: 1024,
        }
    }

    pub fn n(&self) -> usize {
        self.replicas.len().clamp(1, 64)
    }
}

pub use crate::kit::status::Status;

/// What the replica did, beyond [`ReplicaStats`]: how slots were decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Slots this leader learned chosen from a fast quorum.
    pub fast_chosen: u64,
    /// Slots this leader decided in a classic round (collisions, missing votes, holes).
    pub classic_chosen: u64,
    /// Classic rounds whose reports held more than one value (collisions).
    pub collisions: u64,
    /// SLOT-PREPAREs sent (slots some acceptors did not report in time).
    pub slot_prepares: u64,
    /// Requests this leader proposed again after they lost their slot.
    pub reproposals: u64,
    /// Views this replica started as their leader.
    pub views_led: u64,
    /// Recoveries after memory loss completed.
    pub recoveries: u64,
}

/// One log slot: this replica's vote (the highest round it voted in), or the chosen value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub entry: Entry,
    pub round: Round,
    pub chosen: bool,
}

/// Which message carries an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryMsg {
    FastAccepted,
    Accept,
    Chosen,
}

/// A message waiting to be encoded, owning what it carries.
#[derive(Debug)]
pub(crate) enum Out {
    /// A message with no byte fields.
    Plain(Message<'static>),
    Entry {
        kind: EntryMsg,
        view: u64,
        slot: u64,
        entry: Entry,
    },
    Promise {
        view: u64,
        slot: u64,
        vote: Report,
        truncated: bool,
    },
    Request(Arc<Request>),
    Reply {
        view: u64,
        slot: u64,
        client: ClientId,
        request: RequestId,
        result: Vec<u8>,
    },
    Chunk {
        blob: OutgoingBlob,
        index: u32,
    },
}

/// A Fast Paxos replica running application `A`.
#[derive(Debug)]
pub struct FastPaxosReplica<A> {
    pub(crate) cfg: FastPaxosConfig,
    pub(crate) q: Quorums,
    pub(crate) status: Status,
    pub(crate) view: u64,
    // Acceptor and learner.
    pub(crate) log: SlotLog,
    /// Slots below are chosen, executed and forgotten.
    pub(crate) log_start: u64,
    /// Every slot up to here is chosen, known and executed.
    pub(crate) commit: u64,
    pub(crate) machine: StateMachine<A>,
    /// The next slot this acceptor votes a request into in the fast round; it never goes
    /// back within a view, which also seals the slots it skipped.
    pub(crate) next_fast: u64,
    /// The view's fast round begins at this slot (below it the leader decided every slot).
    pub(crate) fast_from: u64,
    /// Latest request of each client held in the log above the commit point, and its slot.
    pub(crate) pending: BTreeMap<ClientId, (RequestId, u64)>,
    // Leader.
    pub(crate) tallies: BTreeMap<u64, Tally>,
    /// Highest slot any acceptor reported in this view.
    pub(crate) frontier: u64,
    pub(crate) next_slot_check: Option<Time>,
    pub(crate) next_heartbeat: Time,
    /// When each replica was last heard from (the leader recovers a slot early once every
    /// replica heard from recently has reported it).
    pub(crate) heard: Vec<Time>,
    /// Followers known to hold this view's START-VIEW (bit per replica).
    pub(crate) adopted: u64,
    pub(crate) start_view_sent: Vec<Option<Time>>,
    // Follower.
    pub(crate) leader_heard: Time,
    /// Asking the others before deposing a leader that timed out.
    pub(crate) pre_vote: PreVote<u64>,
    // View change, transfer, recovery.
    pub(crate) vc: Option<ViewChange>,
    pub(crate) transfer: Option<Transfer>,
    pub(crate) amnesia: Option<Amnesia>,
    pub(crate) assembler: Assembler,
    pub(crate) served_image: Option<ServedImage>,
    pub(crate) nonce_counter: u64,
    /// This replica's recovery epoch: 0 until it first recovers from memory loss, then one
    /// above every epoch a classic quorum knew of it (see `transfer`).
    pub(crate) incarnation: u64,
    /// The highest recovery epoch known of each replica (only grows). A VIEW-CHANGE whose
    /// sender's epoch is below it was sent before that replica lost its memory.
    pub(crate) epochs: Epochs,
    /// Leader: per replica, the lowest epoch the reports this view was formed from knew
    /// (sent in START-VIEW, so a recovering replica joins only a view fenced for it).
    pub(crate) vouched: Vec<u64>,
    pub(crate) outbox: Outbox<Out>,
    pub(crate) stats: ReplicaStats,
    pub(crate) counters: Counters,
    pub(crate) now: Time,
    /// Requests no longer referenced (truncated from the log), reused for new ones.
    pub(crate) spare_requests: Vec<Arc<Request>>,
    /// Result buffers of sent REPLYs, reused for the next ones.
    pub(crate) spare_results: Vec<Vec<u8>>,
    /// Tallies of decided slots, cleared, reused for the next slots.
    pub(crate) spare_tallies: Vec<Tally>,
    /// The state digest at a commit point (the state changes only when the commit point
    /// does), so the agreement checks do not hash the whole state at every step.
    digest_cache: Cell<Option<(u64, u64)>>,
}

impl<A: App> FastPaxosReplica<A> {
    /// A replica of a freshly started cluster: view 0, whose fast round is open from slot 1
    /// (nothing was voted before, so view 0 needs no phase 1).
    pub fn new(cfg: FastPaxosConfig, app: A) -> FastPaxosReplica<A> {
        let n = cfg.n();
        FastPaxosReplica {
            q: Quorums::new(n),
            status: Status::Normal,
            view: 0,
            log: SlotLog::default(),
            log_start: 1,
            commit: 0,
            machine: StateMachine::new(app),
            next_fast: 1,
            fast_from: 1,
            pending: BTreeMap::new(),
            tallies: BTreeMap::new(),
            frontier: 0,
            next_slot_check: None,
            next_heartbeat: Time::ZERO + cfg.timeouts.heartbeat,
            heard: vec![Time::ZERO; n],
            adopted: 0,
            start_view_sent: vec![None; n],
            leader_heard: Time::ZERO,
            pre_vote: PreVote::new(
                cfg.timeouts.leader_timeout,
                cfg.timeouts.view_change,
                Quorums::new(n).classic,
            ),
            vc: None,
            transfer: None,
            amnesia: None,
            assembler: Assembler::default(),
            served_image: None,
            nonce_counter: 0,
            incarnation: 0,
            epochs: Epochs::new(n),
            vouched: vec![0; n],
            outbox: Outbox::default(),
            stats: ReplicaStats::default(),
            counters: Counters::default(),
            now: Time::ZERO,
            spare_requests: Vec::new(),
            spare_results: Vec::new(),
            spare_tallies: Vec::new(),
            digest_cache: Cell::new(None),
            cfg,
        }
    }

    /// A replica that lost its memory and must recover before taking part; `nonce` must
    /// differ from that of any earlier recovery of this replica.
    pub fn recovering(cfg: FastPaxosConfig, app: A, nonce: u64, now: Time) -> FastPaxosReplica<A> {
        let mut r = FastPaxosReplica::new(cfg, app);
        r.now = now;
        r.leader_heard = now;
        r.start_recovery(now, nonce);
        r
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn view(&self) -> u64 {
        self.view
    }

    pub fn machine(&self) -> &StateMachine<A> {
        &self.machine
    }

    /// How slots were decided here (for tests, reports and benchmarks).
    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn quorums(&self) -> Quorums {
        self.q
    }

    /// Slots held in the log (chosen, voted or kept after execution).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    pub fn log_start(&self) -> u64 {
        self.log_start
    }

    /// This replica's slot, if it holds one.
    pub fn slot(&self, slot: u64) -> Option<&Slot> {
        self.log.get(slot)
    }

    pub(crate) fn n(&self) -> usize {
        self.q.n
    }

    pub(crate) fn me(&self) -> usize {
        self.cfg.index
    }

    pub(crate) fn leader_of(&self, view: u64) -> usize {
        (view % self.n() as u64) as usize
    }

    pub(crate) fn am_leader(&self) -> bool {
        self.leader_of(self.view) == self.me()
    }

    pub(crate) fn is_leading(&self) -> bool {
        self.status == Status::Normal && self.am_leader()
    }

    pub(crate) fn send(&mut self, to: Destination, out: Out) {
        self.outbox.push(to, out);
    }

    pub(crate) fn send_plain(&mut self, to: Destination, m: Message<'static>) {
        self.outbox.push(to, Out::Plain(m));
    }

    pub(crate) fn send_blob(&mut self, to: Destination, blob: &OutgoingBlob) {
        for (blob, index) in chunks(blob) {
            self.outbox.push(to, Out::Chunk { blob, index });
        }
    }

    /// A request entry, in a spare request's buffers when one is left over from truncation
    /// (so the steady state allocates nothing).
    pub(crate) fn new_request(
        &mut self,
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &[u8],
    ) -> Entry {
        while let Some(mut spare) = self.spare_requests.pop() {
            if let Some(r) = Arc::get_mut(&mut spare) {
                r.client = client;
                r.request = request;
                r.reply_to = reply_to;
                r.op.clear();
                r.op.extend_from_slice(op);
                return Entry::Request(spare);
            }
        }
        Entry::request(client, request, reply_to, op)
    }

    /// Keeps `entry`'s request for reuse if nothing else refers to it.
    fn recycle_entry(&mut self, entry: Entry) {
        if let Entry::Request(mut r) = entry {
            if self.spare_requests.len() < SPARE
                && Arc::get_mut(&mut r).is_some_and(|r| r.op.capacity() <= SPARE_BYTES)
            {
                self.spare_requests.push(r);
            }
        }
    }

    /// A cleared tally for a slot of this view, reused if one is spare.
    pub(crate) fn new_tally(&mut self, deadline: Time) -> Tally {
        match self.spare_tallies.pop() {
            Some(mut t) => {
                t.deadline = deadline;
                t
            }
            None => Tally::new(self.n(), deadline),
        }
    }

    /// Clears a tally that is done with and keeps it for reuse.
    pub(crate) fn recycle_tally(&mut self, mut t: Tally) {
        if self.spare_tallies.len() < SPARE && t.reports.len() == self.n() {
            t.reports.iter_mut().for_each(|r| *r = None);
            t.classic = None;
            t.acks = 0;
            t.from_start_view = false;
            self.spare_tallies.push(t);
        }
    }

    pub(crate) fn next_nonce(&mut self) -> u64 {
        self.nonce_counter += 1;
        ((self.me() as u64) << 56) ^ (self.nonce_counter << 24) ^ self.now.as_nanos()
    }

    /// Replica `i` has recovered under `epoch` (epochs only grow). A replica told of an
    /// epoch of its own above its incarnation (announced by an earlier incarnation that
    /// never finished recovering, so never reported) takes it on, so that its reports
    /// count again: a higher epoch only ever fences off more.
    pub(crate) fn learn_epoch(&mut self, i: usize, epoch: u64) {
        self.epochs.learn(i, epoch);
        if i == self.me() && self.status != Status::Recovering {
            self.incarnation = self.incarnation.max(epoch);
        }
    }

    /// Puts `slot` in the log, keeping the index of pending requests in step.
    pub(crate) fn set_slot(&mut self, slot: u64, value: Slot) {
        if let Some(old) = self.log.get(slot) {
            if let Entry::Request(r) = &old.entry {
                if self.pending.get(&r.client) == Some(&(r.request, slot))
                    && !old.entry.same(&value.entry)
                {
                    self.pending.remove(&r.client);
                }
            }
        }
        if let Entry::Request(r) = &value.entry {
            self.pending.insert(r.client, (r.request, slot));
        }
        self.log.insert(slot, value);
    }

    /// Rebuilds the index of pending requests from the log above the commit point.
    pub(crate) fn rebuild_pending(&mut self) {
        self.pending.clear();
        for (slot, s) in self.log.range_from(self.commit + 1) {
            if let Entry::Request(r) = &s.entry {
                self.pending.insert(r.client, (r.request, slot));
            }
        }
    }

    /// Executes every chosen slot that follows the commit point; the leader answers the
    /// clients. Then truncates what is old enough.
    pub(crate) fn advance_commit(&mut self) {
        loop {
            let next = self.commit + 1;
            let Some(s) = self.log.get(next) else { break };
            if !s.chosen {
                break;
            }
            let entry = s.entry.clone();
            self.commit = next;
            if let Entry::Request(r) = &entry {
                if self.pending.get(&r.client) == Some(&(r.request, next)) {
                    self.pending.remove(&r.client);
                }
                let leading = self.is_leading();
                let view = self.view;
                let result = match self.machine.execute(r.client, r.request, &r.op).result() {
                    Some(result) if leading => {
                        let mut buf = self.spare_results.pop().unwrap_or_default();
                        buf.clear();
                        buf.extend_from_slice(result);
                        Some(buf)
                    }
                    _ => None,
                };
                if let Some(result) = result {
                    self.send(
                        Destination::Client(r.reply_to),
                        Out::Reply {
                            view,
                            slot: next,
                            client: r.client,
                            request: r.request,
                            result,
                        },
                    );
                }
            }
        }
        while let Some(entry) = self.tallies.first_entry() {
            if *entry.key() > self.commit {
                break;
            }
            let t = entry.remove();
            self.recycle_tally(t);
        }
        self.next_fast = self.next_fast.max(self.commit + 1);
        self.truncate();
    }

    /// Forgets executed slots beyond the retained window (with some slack, so truncation
    /// happens in batches).
    fn truncate(&mut self) {
        let retain = self.cfg.retain.max(1);
        let keep_from = (self.commit + 1).saturating_sub(retain);
        if keep_from > self.log_start + retain / 4 {
            while let Some((_, s)) = self.log.pop_below(keep_from) {
                self.recycle_entry(s.entry);
            }
            self.log_start = keep_from;
        }
    }

    /// An owned copy of `entry`, sharing the request this replica already holds for
    /// `slot` (its own vote, or another acceptor's report) when it is the same value, so
    /// the common case allocates nothing.
    pub(crate) fn shared_entry(&mut self, slot: u64, entry: EntryRef<'_>) -> Entry {
        if let Some(s) = self.log.get(slot) {
            if entry.matches(&s.entry) {
                return s.entry.clone();
            }
        }
        if let Some(t) = self.tallies.get(&slot) {
            for r in t.reports.iter().flatten() {
                if let Report::Vote(_, e) | Report::Chosen(e) = r {
                    if entry.matches(e) {
                        return e.clone();
                    }
                }
            }
        }
        match entry {
            EntryRef::NoOp => Entry::NoOp,
            EntryRef::Request {
                client,
                request,
                reply_to,
                op,
            } => self.new_request(client, request, reply_to, op),
        }
    }

    /// Records that `slot` is chosen with `entry` (learned from anyone).
    pub(crate) fn learn_chosen(&mut self, slot: u64, entry: Entry, round: Round) {
        if slot <= self.commit || self.log.get(slot).is_some_and(|s| s.chosen) {
            return;
        }
        if slot > self.commit + MAX_WINDOW {
            self.stats.too_far_ahead += 1;
            return;
        }
        self.set_slot(
            slot,
            Slot {
                entry,
                round,
                chosen: true,
            },
        );
        self.next_fast = self.next_fast.max(slot + 1);
        self.advance_commit();
    }

    fn dispatch(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        let Some(message) = decoded(Message::decode(datagram), &mut self.stats) else {
            return;
        };
        if let Message::Request {
            client,
            request,
            reply_to,
            op,
        } = message
        {
            // Clients, and leaders re-proposing, send requests.
            self.on_request(now, client, request, reply_to, op);
            return;
        }
        let replicas = self.cfg.replicas.iter().take(self.n());
        let Some(sender) = peer(replicas, self.me(), from, &mut self.stats) else {
            return;
        };
        if let Some(h) = self.heard.get_mut(sender) {
            *h = now;
        }
        if self.status == Status::Recovering && !self.recovering_admits(now, sender, &message) {
            return;
        }
        match message {
            Message::Request { .. } | Message::Reply { .. } => self.stats.unexpected += 1,
            Message::FastAccepted { view, slot, entry } => {
                if self.for_leader(now, view) {
                    let entry = self.shared_entry(slot, entry);
                    self.on_report(now, sender, slot, Report::Vote(Round::fast(view), entry));
                }
            }
            Message::SlotPrepare { view, slot } => {
                if self.sent_by_leader(now, sender, view) {
                    self.on_slot_prepare(sender, slot);
                }
            }
            Message::SlotPromise { view, slot, vote } => {
                if self.for_leader(now, view) {
                    self.on_slot_promise(now, sender, slot, vote);
                }
            }
            Message::Accept { view, slot, entry } => {
                if self.sent_by_leader(now, sender, view) {
                    self.on_accept(sender, slot, entry);
                }
            }
            Message::AcceptOk { view, slot } => {
                if self.for_leader(now, view) {
                    self.on_accept_ok(now, sender, slot);
                }
            }
            Message::Chosen { view, slot, entry } => {
                if self.sent_by_leader(now, sender, view) {
                    let entry = self.shared_entry(slot, entry);
                    self.learn_chosen(slot, entry, Round::classic(view));
                }
            }
            Message::Sync {
                view,
                commit,
                log_start,
                frontier,
            } => {
                if self.sent_by_leader(now, sender, view) {
                    self.on_sync(now, sender, commit, log_start, frontier);
                }
            }
            Message::SyncReply { view, commit } => {
                if self.for_leader(now, view) {
                    self.on_sync_reply(now, sender, commit);
                }
            }
            Message::ViewChangeRequest { view } => self.on_view_change_request(now, sender, view),
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
                super::blob::ChunkIn {
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
                view: _,
                nonce,
                min_commit,
            } => self.on_state_request(sender, nonce, min_commit),
            Message::Recovery { nonce, epoch } => {
                self.learn_epoch(sender, epoch);
                let (view, epoch) = (self.view, self.epochs[sender]);
                self.send_plain(
                    Destination::Replica(sender),
                    Message::RecoveryResponse { view, nonce, epoch },
                );
            }
            Message::RecoveryResponse { .. } => self.stats.stale += 1,
            Message::PreVote {
                view,
                attempt,
                ballot,
            } => crate::kit::prevote::on_message(self, now, sender, view, attempt, ballot),
        }
    }

    /// A message of another view: an older one is ignored and counted, a newer one means
    /// this replica is behind and joins it. Returns whether `view` is the current view.
    pub(crate) fn check_view(&mut self, now: Time, view: u64) -> bool {
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

    /// For messages only the leader of a normal view handles.
    fn for_leader(&mut self, now: Time, view: u64) -> bool {
        if !self.check_view(now, view) {
            return false;
        }
        if !self.is_leading() {
            self.stats.stale += 1;
            return false;
        }
        true
    }

    /// For messages a normal follower takes from its leader only.
    fn sent_by_leader(&mut self, now: Time, sender: usize, view: u64) -> bool {
        if !self.check_view(now, view) {
            return false;
        }
        if sender != self.leader_of(view) {
            self.stats.unexpected += 1;
            return false;
        }
        if self.status != Status::Normal {
            self.stats.stale += 1;
            return false;
        }
        self.leader_heard = now;
        true
    }

    fn on_timers(&mut self, now: Time) {
        match self.status {
            Status::Normal if self.am_leader() => self.leader_timers(now),
            Status::Normal => crate::kit::prevote::on_leader_timer(self, now),
            Status::ViewChange => self.view_change_timer(now),
            Status::Recovering => self.recovery_timer(now),
        }
        self.transfer_timer(now);
    }

    fn next_deadline(&self) -> Option<Time> {
        let mut next = Earliest::default();
        match self.status {
            Status::Normal if self.am_leader() => {
                next.consider(self.next_heartbeat);
                next.consider(self.next_slot_check);
            }
            Status::Normal => next.consider(self.pre_vote.deadline(self.view, self.leader_heard)),
            Status::ViewChange => {
                if let Some(vc) = &self.vc {
                    next.consider(vc.resend_at);
                    next.consider(vc.started + self.cfg.timeouts.leader_timeout);
                }
            }
            Status::Recovering => next.consider(
                self.amnesia
                    .as_ref()
                    .and_then(|a| a.deadline(&self.cfg.timeouts)),
            ),
        }
        next.consider(self.transfer.as_ref().map(|t| t.resend_at));
        next.get()
    }
}

impl<A: App> Node for FastPaxosReplica<A> {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        self.now = now;
        self.dispatch(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        self.on_timers(now);
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.next_deadline()
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let replica = self.me() as u16;
        let (transmit, out) = self.outbox.poll(buf, |out, w| match out {
            Out::Plain(m) => m.encode(w),
            Out::Entry {
                kind,
                view,
                slot,
                entry,
            } => {
                let (view, slot, entry) = (*view, *slot, EntryRef::of(entry));
                match kind {
                    EntryMsg::FastAccepted => Message::FastAccepted { view, slot, entry },
                    EntryMsg::Accept => Message::Accept { view, slot, entry },
                    EntryMsg::Chosen => Message::Chosen { view, slot, entry },
                }
                .encode(w)
            }
            Out::Promise {
                view,
                slot,
                vote,
                truncated,
            } => {
                let vote = match (vote, truncated) {
                    (_, true) => VoteRef::Truncated,
                    (Report::None, _) => VoteRef::None,
                    (Report::Vote(round, e), _) => VoteRef::Vote(*round, EntryRef::of(e)),
                    (Report::Chosen(e), _) => VoteRef::Chosen(EntryRef::of(e)),
                };
                Message::SlotPromise {
                    view: *view,
                    slot: *slot,
                    vote,
                }
                .encode(w)
            }
            Out::Request(r) => Message::Request {
                client: r.client,
                request: r.request,
                reply_to: r.reply_to,
                op: &r.op,
            }
            .encode(w),
            Out::Reply {
                view,
                slot,
                client,
                request,
                result,
            } => Message::Reply {
                view: *view,
                slot: *slot,
                client: *client,
                request: *request,
                replica,
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
        if let Out::Reply { result, .. } = out {
            if self.spare_results.len() < SPARE && result.capacity() <= SPARE_BYTES {
                self.spare_results.push(result);
            }
        }
        Some(transmit)
    }
}

impl<A: App> Replica for FastPaxosReplica<A> {
    fn index(&self) -> usize {
        self.me()
    }

    fn is_leader(&self) -> bool {
        self.is_leading()
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
        self.log
            .get(slot)
            .filter(|s| s.chosen)
            .map(|s| s.entry.id())
    }

    /// Replicas execute chosen slots only, in order: the state never includes anything
    /// that is not chosen.
    fn execution(&self) -> (u64, u64) {
        match self.digest_cache.get() {
            Some((commit, digest)) if commit == self.commit => (commit, digest),
            _ => {
                let digest = self.machine.digest();
                self.digest_cache.set(Some((self.commit, digest)));
                (self.commit, digest)
            }
        }
    }

    fn stats(&self) -> ReplicaStats {
        reported(self.stats, self.machine.executed())
    }

    fn describe(&self) -> String {
        format!(
            "replica {} {:?} view {} {} commit {} log {}..{} next_fast {} fast_from {} \
             frontier {} tallies {} transfer {:?} vc {} amnesia {:?} view_changes {} \
             state_transfers {} {:?}",
            self.me(),
            self.status,
            self.view,
            if self.am_leader() {
                "leader"
            } else {
                "follower"
            },
            self.commit,
            self.log_start,
            self.log.last_slot().unwrap_or(0),
            self.next_fast,
            self.fast_from,
            self.frontier,
            self.tallies.len(),
            self.transfer.as_ref().map(|t| (t.need, t.source)),
            self.vc.as_ref().map_or(0, |vc| vc.reports.len()),
            self.amnesia.as_ref().map(|a| (a.min_view, a.adopted)),
            self.stats.view_changes,
            self.stats.state_transfers,
            self.counters,
        )
    }
}
