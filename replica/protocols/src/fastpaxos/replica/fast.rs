//! The fast round and collision recovery. Acceptors vote each client request into their
//! next free slot and report it to the leader; the leader learns a slot chosen when a fast
//! quorum voted one value there. When no value can reach a fast quorum (a collision, or
//! acceptors that did not vote there in time), the leader runs the view's classic round for
//! the slot with the value Fast Paxos's rule picks, using the fast votes as phase-1b
//! reports (Lamport's coordinated recovery), and re-proposes the requests that lost.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use super::{
    EntryMsg, FETCH_BATCH, FastPaxosReplica, HOLES_PER_TICK, MAX_WINDOW, Out, Slot, Status,
};
use crate::app::App;
use crate::fastpaxos::messages::{EntryRef, MAX_OP, Message, VoteRef};
use crate::fastpaxos::types::{Entry, Report, Request, Round, pick};
use crate::time::Time;
use crate::{ClientId, Destination, RequestId};

/// Slots whose deadline passed that the leader handles per timer tick (so a leader with
/// thousands of undecided slots does not send thousands of messages at once).
const DUE_PER_TICK: usize = 256;

/// The leader's knowledge of one undecided slot in its view.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// Per acceptor, what it reported (a fast vote, or its answer to SLOT-PREPARE).
    pub(crate) reports: Vec<Option<Report>>,
    /// The value of the view's classic round for this slot, once proposed.
    pub(crate) classic: Option<Entry>,
    /// Acceptors that accepted `classic` (bit per replica).
    pub(crate) acks: u64,
    /// Decided by the START-VIEW: a follower that adopted it accepted the value.
    pub(crate) from_start_view: bool,
    pub(crate) deadline: Time,
}

impl Tally {
    pub(crate) fn new(n: usize, deadline: Time) -> Tally {
        Tally {
            reports: vec![None; n],
            classic: None,
            acks: 0,
            from_start_view: false,
            deadline,
        }
    }

    fn reported(&self) -> usize {
        self.reports.iter().filter(|r| r.is_some()).count()
    }
}

/// The value of `r` if it is a vote in round `fast`.
fn fast_vote(r: &Option<Report>, fast: Round) -> Option<&Entry> {
    match r {
        Some(Report::Vote(round, e)) if *round == fast => Some(e),
        _ => None,
    }
}

impl<A: App> FastPaxosReplica<A> {
    /// A client request (or a leader's re-proposal): vote it into the next free slot.
    pub(crate) fn on_request(
        &mut self,
        now: Time,
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &[u8],
    ) {
        self.stats.requests += 1;
        if self.status != Status::Normal {
            return;
        }
        if op.len() > MAX_OP {
            self.stats.malformed += 1;
            return;
        }
        if let Some(result) = self.machine.cached_result(client, request) {
            // Executed already: the leader answers from the client table.
            if self.am_leader() {
                let mut buf = self.spare_results.pop().unwrap_or_default();
                buf.clear();
                buf.extend_from_slice(result);
                let result = buf;
                let view = self.view;
                self.send(
                    Destination::Client(reply_to),
                    Out::Reply {
                        view,
                        slot: 0,
                        client,
                        request,
                        result,
                    },
                );
            }
            return;
        }
        if let Some(&(r, slot)) = self.pending.get(&client) {
            if r == request {
                // Voted already: the report may have been lost, repeat it.
                self.repeat_report(now, slot);
                return;
            }
        }
        let entry = self.new_request(client, request, reply_to, op);
        self.vote_fast(now, entry);
    }

    fn vote_fast(&mut self, now: Time, entry: Entry) {
        let mut slot = self.next_fast.max(self.fast_from);
        while self.log.contains_key(slot) {
            slot += 1;
        }
        if slot > self.commit + MAX_WINDOW {
            self.stats.too_far_ahead += 1;
            return;
        }
        let view = self.view;
        self.set_slot(
            slot,
            Slot {
                entry: entry.clone(),
                round: Round::fast(view),
                chosen: false,
            },
        );
        self.next_fast = slot + 1;
        if self.am_leader() {
            let me = self.me();
            self.on_report(now, me, slot, Report::Vote(Round::fast(view), entry));
        } else {
            let leader = self.leader_of(view);
            self.send(
                Destination::Replica(leader),
                Out::Entry {
                    kind: EntryMsg::FastAccepted,
                    view,
                    slot,
                    entry,
                },
            );
        }
    }

    /// Repeats this acceptor's report of `slot` to the leader (a client resent the request
    /// it holds there).
    fn repeat_report(&mut self, now: Time, slot: u64) {
        let view = self.view;
        let Some(s) = self.log.get(slot) else { return };
        if s.chosen || s.round.view != view {
            return;
        }
        let (round, entry) = (s.round, s.entry.clone());
        if self.am_leader() {
            let me = self.me();
            if !round.classic {
                self.on_report(now, me, slot, Report::Vote(round, entry));
            }
            return;
        }
        let leader = self.leader_of(view);
        if round.classic {
            self.send_plain(
                Destination::Replica(leader),
                Message::AcceptOk { view, slot },
            );
        } else {
            self.send(
                Destination::Replica(leader),
                Out::Entry {
                    kind: EntryMsg::FastAccepted,
                    view,
                    slot,
                    entry,
                },
            );
        }
    }

    /// Leader: an acceptor's report about `slot` in this view.
    pub(crate) fn on_report(&mut self, now: Time, acceptor: usize, slot: u64, report: Report) {
        if slot <= self.commit || self.log.get(slot).is_some_and(|s| s.chosen) {
            // Decided already; tell an acceptor that does not know.
            if acceptor != self.me() {
                if let Some(s) = self.log.get(slot) {
                    let (entry, view) = (s.entry.clone(), self.view);
                    self.send(
                        Destination::Replica(acceptor),
                        Out::Entry {
                            kind: EntryMsg::Chosen,
                            view,
                            slot,
                            entry,
                        },
                    );
                }
            }
            return;
        }
        if slot > self.commit + MAX_WINDOW || slot == 0 {
            self.stats.too_far_ahead += 1;
            return;
        }
        self.frontier = self.frontier.max(slot);
        let deadline = now + self.cfg.timeouts.fast;
        if !self.tallies.contains_key(&slot) {
            let t = self.new_tally(deadline);
            self.tallies.insert(slot, t);
        }
        let Some(tally) = self.tallies.get_mut(&slot) else {
            return;
        };
        if let Some(r) = tally.reports.get_mut(acceptor) {
            *r = Some(report);
        }
        let deadline = tally.deadline;
        self.schedule_slot_check(deadline);
        self.evaluate(now, slot, false);
    }

    pub(crate) fn schedule_slot_check(&mut self, at: Time) {
        self.next_slot_check = Some(self.next_slot_check.map_or(at, |t| t.min(at)));
    }

    /// Whether replica `i` was heard from recently enough to be waited for.
    fn responsive(&self, now: Time, i: usize) -> bool {
        i == self.me()
            || self
                .heard
                .get(i)
                .is_some_and(|&h| now < h + self.cfg.timeouts.heartbeat * 2)
    }

    /// Decides what to do with `slot`: learn it chosen, start its classic round, or (on a
    /// timeout) ask the acceptors that have not reported.
    pub(crate) fn evaluate(&mut self, now: Time, slot: u64, timed_out: bool) {
        let view = self.view;
        let (qc, qf, n) = (self.q.classic, self.q.fast, self.n());
        let Some(t) = self.tallies.get(&slot) else {
            return;
        };
        if let Some(value) = &t.classic {
            if t.acks.count_ones() as usize >= qc {
                let value = value.clone();
                self.counters.classic_chosen += 1;
                self.choose(now, slot, value, Round::classic(view));
            } else if timed_out {
                self.resend_accept(now, slot);
            }
            return;
        }
        if let Some(e) = t.reports.iter().flatten().find_map(|r| match r {
            Report::Chosen(e) => Some(e.clone()),
            _ => None,
        }) {
            self.choose(now, slot, e, Round::classic(view));
            return;
        }
        // The value with the most fast votes of this view, and its count (counted in place:
        // this runs for every report, so it allocates nothing).
        let fast = Round::fast(view);
        let mut best: Option<(usize, usize)> = None;
        for (i, r) in t.reports.iter().enumerate() {
            let Some(e) = fast_vote(r, fast) else {
                continue;
            };
            if t.reports[..i]
                .iter()
                .any(|o| fast_vote(o, fast).is_some_and(|o| o.same(e)))
            {
                continue;
            }
            let c = t.reports[i..]
                .iter()
                .filter(|o| fast_vote(o, fast).is_some_and(|o| o.same(e)))
                .count();
            if best.is_none_or(|(_, b)| c > b) {
                best = Some((i, c));
            }
        }
        if let Some((i, c)) = best {
            if c >= qf {
                if let Some(e) = fast_vote(&t.reports[i], fast) {
                    let e = e.clone();
                    self.counters.fast_chosen += 1;
                    self.choose(now, slot, e, fast);
                    return;
                }
            }
        }
        let reported = t.reported();
        let max_count = best.map_or(0, |(_, c)| c);
        let possible = max_count + (n - reported) >= qf;
        let everyone_heard = (0..n).all(|i| t.reports[i].is_some() || !self.responsive(now, i));
        if reported >= qc && (!possible || everyone_heard || timed_out) {
            self.start_classic(now, slot);
        } else if timed_out {
            self.prepare_slot(now, slot);
        }
    }

    /// Phase 1a of the classic round for `slot`, to the acceptors that have not reported;
    /// the leader answers for itself at once.
    fn prepare_slot(&mut self, now: Time, slot: u64) {
        let me = self.me();
        let own = match self.log.get(slot) {
            Some(s) if s.chosen => Report::Chosen(s.entry.clone()),
            Some(s) => Report::Vote(s.round, s.entry.clone()),
            None => Report::None,
        };
        self.next_fast = self.next_fast.max(slot + 1);
        let view = self.view;
        let resend = self.cfg.timeouts.resend;
        let Some(t) = self.tallies.get_mut(&slot) else {
            return;
        };
        t.reports[me] = Some(own);
        t.deadline = now + resend;
        let missing: Vec<usize> = (0..t.reports.len())
            .filter(|&i| t.reports[i].is_none())
            .collect();
        let deadline = t.deadline;
        self.counters.slot_prepares += 1;
        for i in missing {
            self.send_plain(Destination::Replica(i), Message::SlotPrepare { view, slot });
        }
        self.schedule_slot_check(deadline);
        if self
            .tallies
            .get(&slot)
            .is_some_and(|t| t.reported() >= self.q.classic)
        {
            self.evaluate(now, slot, false);
        }
    }

    /// Phase 2a of the classic round for `slot` with the value the rule picks from the
    /// reports.
    fn start_classic(&mut self, now: Time, slot: u64) {
        let view = self.view;
        let me = self.me();
        let Some(t) = self.tallies.get(&slot) else {
            return;
        };
        let reports: Vec<Report> = t.reports.iter().flatten().cloned().collect();
        let values = reports.iter().filter_map(|r| match r {
            Report::Vote(_, e) => Some(e),
            _ => None,
        });
        if values.clone().any(|e| values.clone().any(|o| !o.same(e))) {
            self.counters.collisions += 1;
        }
        let machine = &self.machine;
        let picked = pick(&self.q, &reports, |e| match e {
            Entry::Request(r) => machine.cached_result(r.client, r.request).is_none(),
            Entry::NoOp => false,
        });
        if picked.chosen {
            self.choose(now, slot, picked.value, Round::classic(view));
            return;
        }
        let value = picked.value;
        let resend = self.cfg.timeouts.resend;
        if let Some(t) = self.tallies.get_mut(&slot) {
            t.classic = Some(value.clone());
            t.acks = 1 << me;
            t.deadline = now + resend;
        }
        self.schedule_slot_check(now + resend);
        self.set_slot(
            slot,
            Slot {
                entry: value.clone(),
                round: Round::classic(view),
                chosen: false,
            },
        );
        self.next_fast = self.next_fast.max(slot + 1);
        self.send(
            Destination::OtherReplicas,
            Out::Entry {
                kind: EntryMsg::Accept,
                view,
                slot,
                entry: value,
            },
        );
        self.evaluate(now, slot, false);
    }

    fn resend_accept(&mut self, now: Time, slot: u64) {
        let view = self.view;
        let resend = self.cfg.timeouts.resend;
        let Some(t) = self.tallies.get_mut(&slot) else {
            return;
        };
        let Some(value) = t.classic.clone() else {
            return;
        };
        t.deadline = now + resend;
        let acks = t.acks;
        for i in (0..self.n()).filter(|i| acks & (1 << i) == 0) {
            self.send(
                Destination::Replica(i),
                Out::Entry {
                    kind: EntryMsg::Accept,
                    view,
                    slot,
                    entry: value.clone(),
                },
            );
        }
        self.schedule_slot_check(now + resend);
    }

    /// Leader: `slot` is chosen. Tells the followers, executes what it can, and re-proposes
    /// the requests that lost the slot.
    pub(crate) fn choose(&mut self, now: Time, slot: u64, value: Entry, round: Round) {
        let mut losers: Vec<Arc<Request>> = Vec::new();
        if let Some(t) = self.tallies.remove(&slot) {
            for r in t.reports.iter().flatten() {
                if let Report::Vote(_, Entry::Request(req)) = r {
                    let lost = match &value {
                        Entry::Request(v) => !Arc::ptr_eq(v, req) && **v != **req,
                        Entry::NoOp => true,
                    };
                    if lost && !losers.iter().any(|l| **l == **req) {
                        losers.push(req.clone());
                    }
                }
            }
            self.recycle_tally(t);
        }
        let view = self.view;
        if self.is_leading() {
            self.send(
                Destination::OtherReplicas,
                Out::Entry {
                    kind: EntryMsg::Chosen,
                    view,
                    slot,
                    entry: value.clone(),
                },
            );
        }
        self.learn_chosen(slot, value, round);
        for r in losers {
            self.repropose(now, r);
        }
    }

    /// Leader: proposes again a request that lost its slot, the way a client does (to every
    /// acceptor, itself included), unless it is executed or held in the log already.
    pub(crate) fn repropose(&mut self, now: Time, r: Arc<Request>) {
        if !self.is_leading() || self.machine.cached_result(r.client, r.request).is_some() {
            return;
        }
        if let Some(&(request, _)) = self.pending.get(&r.client) {
            if request >= r.request {
                return;
            }
        }
        self.counters.reproposals += 1;
        self.send(Destination::OtherReplicas, Out::Request(r.clone()));
        self.vote_fast(now, Entry::Request(r));
    }

    /// Follower: phase 1a for `slot` (it will not vote there in the fast round any more).
    pub(crate) fn on_slot_prepare(&mut self, leader: usize, slot: u64) {
        if slot > self.commit + MAX_WINDOW || slot == 0 {
            self.stats.too_far_ahead += 1;
            return;
        }
        let (vote, truncated) = if slot < self.log_start {
            (Report::None, true)
        } else {
            match self.log.get(slot) {
                Some(s) if s.chosen => (Report::Chosen(s.entry.clone()), false),
                Some(s) => (Report::Vote(s.round, s.entry.clone()), false),
                None => (Report::None, false),
            }
        };
        self.next_fast = self.next_fast.max(slot + 1);
        let view = self.view;
        self.send(
            Destination::Replica(leader),
            Out::Promise {
                view,
                slot,
                vote,
                truncated,
            },
        );
    }

    /// Leader: phase 1b for `slot`.
    pub(crate) fn on_slot_promise(
        &mut self,
        now: Time,
        acceptor: usize,
        slot: u64,
        vote: VoteRef<'_>,
    ) {
        let report = match vote {
            VoteRef::Truncated => {
                // The acceptor executed and forgot the slot: this leader is behind.
                if slot > self.commit {
                    self.start_transfer(now, slot, Some(acceptor));
                }
                return;
            }
            VoteRef::None => Report::None,
            VoteRef::Vote(round, e) => Report::Vote(round, e.to_entry()),
            VoteRef::Chosen(e) => Report::Chosen(e.to_entry()),
        };
        self.on_report(now, acceptor, slot, report);
    }

    /// Follower: phase 2a of the classic round.
    pub(crate) fn on_accept(&mut self, leader: usize, slot: u64, entry: EntryRef<'_>) {
        let view = self.view;
        if slot <= self.commit || self.log.get(slot).is_some_and(|s| s.chosen) {
            if self.log.get(slot).is_some_and(|s| entry.matches(&s.entry)) {
                self.send_plain(
                    Destination::Replica(leader),
                    Message::AcceptOk { view, slot },
                );
            }
            return;
        }
        if slot > self.commit + MAX_WINDOW || slot == 0 {
            self.stats.too_far_ahead += 1;
            return;
        }
        self.set_slot(
            slot,
            Slot {
                entry: entry.to_entry(),
                round: Round::classic(view),
                chosen: false,
            },
        );
        self.next_fast = self.next_fast.max(slot + 1);
        self.send_plain(
            Destination::Replica(leader),
            Message::AcceptOk { view, slot },
        );
    }

    pub(crate) fn on_accept_ok(&mut self, now: Time, acceptor: usize, slot: u64) {
        let Some(t) = self.tallies.get_mut(&slot) else {
            return;
        };
        if t.classic.is_none() {
            return;
        }
        t.acks |= 1 << acceptor;
        self.evaluate(now, slot, false);
    }

    /// Follower: the leader's heartbeat.
    pub(crate) fn on_sync(
        &mut self,
        now: Time,
        leader: usize,
        commit: u64,
        log_start: u64,
        frontier: u64,
    ) {
        if frontier <= self.commit + MAX_WINDOW {
            // Skip the slots the others have moved past, so the acceptors' fast-round
            // slots line up again after losses.
            self.next_fast = self.next_fast.max(frontier);
        }
        if self.commit < commit && self.commit + 1 < log_start {
            self.start_transfer(now, log_start - 1, Some(leader));
        }
        let (view, mine) = (self.view, self.commit);
        self.send_plain(
            Destination::Replica(leader),
            Message::SyncReply { view, commit: mine },
        );
    }

    /// Leader: a follower's commit point; it also holds this view's START-VIEW.
    pub(crate) fn on_sync_reply(&mut self, now: Time, follower: usize, commit: u64) {
        let bit = 1u64 << follower;
        if self.adopted & bit == 0 {
            self.adopted |= bit;
            let slots: Vec<u64> = self
                .tallies
                .iter_mut()
                .filter(|(_, t)| t.from_start_view && t.acks & bit == 0)
                .map(|(&s, t)| {
                    t.acks |= bit;
                    s
                })
                .collect();
            for s in slots {
                self.evaluate(now, s, false);
            }
        }
        if commit < self.commit && commit + 1 >= self.log_start {
            let view = self.view;
            let last = self.commit.min(commit + FETCH_BATCH);
            let missing: Vec<(u64, Entry)> = self
                .log
                .range(commit + 1, last)
                .map(|(s, slot)| (s, slot.entry.clone()))
                .collect();
            for (slot, entry) in missing {
                self.send(
                    Destination::Replica(follower),
                    Out::Entry {
                        kind: EntryMsg::Chosen,
                        view,
                        slot,
                        entry,
                    },
                );
            }
        }
    }

    pub(crate) fn leader_timers(&mut self, now: Time) {
        let lt = self.cfg.timeouts.leader_timeout;
        let me = self.me();
        let heard = (0..self.n())
            .filter(|&i| i == me || self.heard.get(i).is_some_and(|&h| now < h + lt))
            .count();
        if heard < self.q.classic {
            // Cut off from a quorum: nothing can be chosen here. Step down rather than keep
            // a growing set of slots (and their SLOT-PREPAREs) going.
            let next = self.view + 1;
            self.start_view_change(now, next);
            return;
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.cfg.timeouts.heartbeat;
            let (view, commit, log_start) = (self.view, self.commit, self.log_start);
            let frontier = (self.frontier + 1).max(self.fast_from);
            self.send_plain(
                Destination::OtherReplicas,
                Message::Sync {
                    view,
                    commit,
                    log_start,
                    frontier,
                },
            );
        }
        if self.next_slot_check.is_some_and(|t| now >= t) {
            self.next_slot_check = None;
            self.check_slots(now);
        }
    }

    /// Leader: starts on slots nobody reported (holes below the frontier), and handles
    /// every slot whose deadline passed.
    fn check_slots(&mut self, now: Time) {
        let deadline = now + self.cfg.timeouts.fast;
        let mut created = 0;
        let mut slot = self.commit + 1;
        while slot <= self.frontier && created < HOLES_PER_TICK {
            if !self.tallies.contains_key(&slot) && !self.log.get(slot).is_some_and(|s| s.chosen) {
                let t = self.new_tally(deadline);
                self.tallies.insert(slot, t);
                created += 1;
            }
            slot += 1;
        }
        let due: Vec<u64> = self
            .tallies
            .iter()
            .filter(|(_, t)| t.deadline <= now)
            .map(|(&s, _)| s)
            .take(DUE_PER_TICK)
            .collect();
        let more = due.len() == DUE_PER_TICK;
        for s in due {
            self.evaluate(now, s, true);
        }
        let later = now + self.cfg.timeouts.fast;
        if more {
            self.schedule_slot_check(later);
        }
        if let Some(next) = self.tallies.values().map(|t| t.deadline).min() {
            self.schedule_slot_check(next.max(later.min(now + Duration::from_micros(1))));
        }
    }
}
