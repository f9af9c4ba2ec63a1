//! Gap agreement at a follower (NOPaxos section 5.2.2), over runs of slots: taking a run of
//! drop notifications (the leader's side of a run is in `gap`), answering the leader's
//! GAP-FIND, applying its GAP-COMMITs, and catching up on slots this replica lost by
//! asking the leader (GAP-REQUEST), whose GAP-REPLY carries as many decided slots as fit in a
//! datagram, NO-OP runs in a few bytes each. A follower behind by tens of thousands of
//! NO-OPs catches up in a message or two instead of a round trip per slot.

use super::{NopaxosReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::nopaxos::messages::{
    GAP_REPLY_RUN_BYTES, GapAnswer, GapRun, MAX_GAP_REPLY_SLOTS, Message, request_len,
};
use crate::nopaxos::types::{Entry, ViewId};
use crate::time::Time;

impl<A: App> NopaxosReplica<A> {
    /// The OUM receiver reported the messages of slots `first..=last` lost here.
    pub(super) fn on_drops(&mut self, now: Time, first: u64, last: u64) {
        let mut from = first.max(self.log.end() + 1); // earlier ones were filled from a peer
        // The skip rule: slots whose NO-OP the leader already committed are NO-OPs now.
        while from <= last && from == self.log.end() + 1 {
            let Some(run_last) = self.noops_ahead.run_from(from) else {
                break;
            };
            let upto = run_last.min(last);
            self.append_noops_through(upto);
            from = upto + 1;
        }
        if from > last {
            return;
        }
        if from != self.log.end() + 1 {
            // The stream and the log disagree about positions: only a transfer can repair it.
            self.stats.too_far_ahead += 1;
            self.start_transfer(now, self.view);
            return;
        }
        if self.am_leader() {
            self.start_leader_gap(now, from, last);
        } else {
            self.missing_to = last;
            self.block_on(now, from);
        }
    }

    /// Appends NO-OPs from the log's end through `upto` (decided ones: committed by the
    /// leader or in its log), forgetting them from the NO-OPs ahead.
    fn append_noops_through(&mut self, upto: u64) {
        let end = self.log.end();
        if upto <= end {
            return;
        }
        self.log.append_noops(upto - end);
        self.noops_ahead.remove_through(upto);
        if self.am_leader() {
            self.execute_through(upto, true);
        }
    }

    /// NO-OPs decided for `first..=last`: they replace requests held but not executed,
    /// extend the log up to `append_upto` if the run reaches its end, and are remembered as
    /// NO-OPs ahead beyond that (a range: nothing is allocated per slot not reached).
    fn apply_noops(&mut self, first: u64, last: u64, append_upto: u64) {
        let end = self.log.end();
        let held_from = first.max(self.exec_point + 1).max(self.log.start());
        for slot in held_from..=last.min(end) {
            self.log.set_noop(slot);
        }
        if first <= end + 1 {
            self.append_noops_through(last.min(append_upto));
        }
        let ahead_from = first.max(self.log.end() + 1);
        if ahead_from <= last {
            self.noops_ahead.insert(ahead_from, last);
        }
    }

    /// The last slot this replica can say holds no request unless its log has it: its
    /// log's end, or the last of a run its receiver reported lost and it waits on.
    fn known_lost_to(&self) -> u64 {
        let end = self.log.end();
        match self.blocked {
            Some((b, _)) if b == end + 1 => self.missing_to.max(end),
            _ => end,
        }
    }

    pub(super) fn on_gap_find(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        first: u64,
        last: u64,
    ) {
        if !self.check_view(now, view) || self.status != Status::Normal {
            return;
        }
        if sender == self.leader() {
            self.leader_heard = now;
        }
        // Slots not reached yet and not known lost here are left out: their messages may be
        // on their way or held behind an earlier gap. "Not here" would let the leader NO-OP
        // a request this replica is about to log, costing its client a resend; silence makes
        // the leader ask again after a round trip or so (within gap_request_ms in all).
        let upto = last.min(self.known_lost_to());
        if upto < first {
            return;
        }
        let scan_to = upto.min(self.log.end());
        let mut held = self
            .log
            .iter_from(first)
            .take_while(|(slot, _)| *slot <= scan_to)
            .skip_while(|(_, e)| e.is_noop())
            .peekable();
        let clear = held.peek().map_or(upto, |(slot, _)| slot - 1);
        // The requests from the first one held on, while consecutive, as many as fit in a
        // datagram: a leader that lost a burst its peers received fills it in one round.
        let mut found = Vec::new();
        let mut bytes = 0;
        for (_, e) in held {
            let Entry::Request(r) = e else { break };
            bytes += request_len(r);
            if !found.is_empty() && bytes > GAP_REPLY_RUN_BYTES {
                break;
            }
            found.push(r.clone());
        }
        self.send(
            Destination::Replica(sender),
            Message::GapFindReply {
                view: self.view,
                first,
                last,
                clear,
                found,
            },
        );
    }

    /// A follower's request for the slots from `slot` on: the leader answers with as many
    /// decided slots as fit in one datagram.
    pub(super) fn on_gap_request(&mut self, now: Time, sender: usize, view: ViewId, slot: u64) {
        if !self.check_view(now, view) || !self.am_leader() || self.status != Status::Normal {
            return;
        }
        let answer = if slot < self.log.start() {
            GapAnswer::Truncated
        } else if slot > self.log.end() {
            return; // not decided here yet: the follower asks again
        } else {
            GapAnswer::Entries(self.runs_from(slot))
        };
        self.send(
            Destination::Replica(sender),
            Message::GapReply {
                view: self.view,
                slot,
                answer,
            },
        );
    }

    /// The log from `slot` (which it holds) as runs: consecutive NO-OPs in one run, at most
    /// [`GAP_REPLY_RUN_BYTES`] encoded and [`MAX_GAP_REPLY_SLOTS`] slots (always at least
    /// the first slot). Every slot in the leader's log is decided: the leader never changes
    /// its own entries in a view, and its NO-OPs being committed are as final as the
    /// GAP-COMMIT the follower would otherwise wait for.
    fn runs_from(&self, slot: u64) -> Vec<GapRun> {
        let mut runs: Vec<GapRun> = Vec::new();
        let (mut bytes, mut slots) = (0usize, 0u64);
        for (_, entry) in self.log.iter_from(slot) {
            if slots == MAX_GAP_REPLY_SLOTS {
                break;
            }
            match (entry, runs.last_mut()) {
                (Entry::NoOp, Some(GapRun::NoOps(n))) => *n += 1,
                (Entry::NoOp, _) => {
                    let run = GapRun::NoOps(1);
                    if !runs.is_empty() && bytes + run.encoded_len() > GAP_REPLY_RUN_BYTES {
                        break;
                    }
                    bytes += run.encoded_len();
                    runs.push(run);
                }
                (Entry::Request(r), _) => {
                    let len = 1 + request_len(r);
                    if !runs.is_empty() && bytes + len > GAP_REPLY_RUN_BYTES {
                        break;
                    }
                    bytes += len;
                    runs.push(GapRun::Request(r.clone()));
                }
            }
            slots += 1;
        }
        runs
    }

    /// A follower waits at `slot` until the leader says what it holds.
    pub(super) fn block_on(&mut self, now: Time, slot: u64) {
        self.blocked = Some((
            slot,
            now + self.gap_timer.wait(self.cfg.timeouts.gap_request),
        ));
        self.gap_timer.probe = Some((slot, now, false));
        self.request_slot(slot);
    }

    fn request_slot(&mut self, slot: u64) {
        let leader = self.leader();
        self.send(
            Destination::Replica(leader),
            Message::GapRequest {
                view: self.view,
                slot,
            },
        );
    }

    pub(super) fn follower_gap_timer(&mut self, now: Time) {
        if let Some((slot, at)) = self.blocked {
            if now >= at {
                self.gap_timer.retried();
                if let Some(probe) = self.gap_timer.probe.as_mut() {
                    probe.2 = true;
                }
                let wait = self.gap_timer.wait(self.cfg.timeouts.gap_request);
                self.blocked = Some((slot, now + wait));
                self.request_slot(slot);
            }
        } else if self.catch_up_to > self.log.end() && self.transfer.is_none() {
            // Behind the leader's sync point with no later message to reveal the gap.
            self.block_on(now, self.log.end() + 1);
        }
    }

    /// After the log grew: stop waiting if the slot waited on is filled, and ask at once
    /// for the next part if this replica is still missing slots (lost here, or behind the
    /// leader's sync point).
    fn after_catching_up(&mut self, now: Time) {
        let end = self.log.end();
        if self.blocked.is_some_and(|(b, _)| b <= end) {
            self.blocked = None;
        }
        if self.blocked.is_none() && (self.missing_to > end || self.catch_up_to > end) {
            self.block_on(now, end + 1);
        }
    }

    pub(super) fn on_gap_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        slot: u64,
        answer: GapAnswer,
    ) {
        if !self.check_view(now, view) || sender != self.leader() || self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        if let Some((asked, sent, retried)) = self.gap_timer.probe {
            if asked == slot {
                if !retried {
                    self.gap_timer.rtt.sample(now.saturating_since(sent));
                }
                self.gap_timer.probe = None;
            }
        }
        let runs = match answer {
            GapAnswer::Truncated => {
                self.blocked = None;
                self.start_transfer(now, self.view);
                return;
            }
            GapAnswer::Entries(runs) => runs,
        };
        let mut at = slot;
        for run in runs {
            if at > self.log.end() + 1 {
                break; // not contiguous with this log (a reply older than a transfer)
            }
            match run {
                GapRun::NoOps(n) => {
                    let last = at + u64::from(n) - 1;
                    // The leader's log: decided, and asked for, so all of it goes in.
                    self.apply_noops(at, last, last);
                    at = last + 1;
                }
                GapRun::Request(r) => {
                    if at == self.log.end() + 1 {
                        self.accept_at(now, at, Entry::Request(r));
                    }
                    at += 1;
                }
            }
        }
        self.after_catching_up(now);
    }

    /// The leader committed NO-OPs in `first..=last`.
    pub(super) fn on_gap_commit(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        first: u64,
        last: u64,
    ) {
        if !self.check_view(now, view) || sender != self.leader() || self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        if last < first {
            return;
        }
        let end = self.log.end();
        if last.saturating_sub(end) > self.cfg.receiver.max_gap {
            // Too far ahead to hold: this replica will catch up by state transfer.
            self.stats.too_far_ahead += 1;
            return;
        }
        // Slots this replica waits on (it lost them) take their NO-OPs at once; slots it has
        // not reached are NO-OPs when their OUM messages or drops come (the skip rule).
        let end = self.log.end();
        let append_upto = match self.blocked {
            Some((b, _)) if b == end + 1 => self.missing_to.max(b),
            _ => end,
        };
        self.apply_noops(first, last, append_upto);
        self.after_catching_up(now);
        self.send(
            Destination::Replica(sender),
            Message::GapCommitReply {
                view: self.view,
                first,
                last,
            },
        );
    }
}
