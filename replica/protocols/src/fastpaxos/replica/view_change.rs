//! Leader change. A replica that suspects its leader (or hears of a newer view) joins the
//! next view: it stops voting in older views and sends the new leader its VIEW-CHANGE, a
//! phase-1b report of every vote above its commit point. With reports from a classic
//! quorum, the new leader catches up to the highest commit point among them, picks each
//! undecided slot's value by Fast Paxos's rule, and sends START-VIEW: the decided slots
//! (which followers accept in the view's classic round by adopting it) and the slot from
//! which the view's fast round is open. A view that does not start within the leader
//! timeout is abandoned for the next one, so a dead new leader is passed over.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{FastPaxosReplica, MAX_WINDOW, Slot, Status};
use crate::Destination;
use crate::app::App;
use crate::fastpaxos::blob::{Blob, ChunkIn, OutgoingBlob};
use crate::fastpaxos::images::{SlotRecord, StartViewImage, ViewChangeReport};
use crate::fastpaxos::messages::{ChunkKind, Message};
use crate::fastpaxos::types::{Entry, Report, Request, Round, pick};
use crate::kit::view_change::{self, AttemptStep};
use crate::time::Time;

/// A view change in progress at this replica.
#[derive(Debug, Clone)]
pub(crate) struct ViewChange {
    pub(crate) started: Time,
    pub(crate) resend_at: Time,
    /// This replica's own report, resent to the new leader.
    pub(crate) blob: Option<OutgoingBlob>,
    /// New leader: the reports gathered.
    pub(crate) reports: BTreeMap<usize, ViewChangeReport>,
    /// New leader: the commit point it must reach (by state transfer) before merging.
    pub(crate) awaiting: Option<u64>,
}

impl<A: App> FastPaxosReplica<A> {
    /// Joins view `target` (if it is newer), reporting to its leader.
    pub(crate) fn start_view_change(&mut self, now: Time, target: u64) {
        if target <= self.view {
            return;
        }
        if self.status == Status::Recovering {
            self.amnesiac_follow(now, target);
            return;
        }
        self.view = target;
        self.status = Status::ViewChange;
        self.stats.view_changes += 1;
        self.clear_leader_state();
        crate::fastpaxos::blob::forget_before(&mut self.assembler, target);
        let report = self.report();
        let leader = self.leader_of(target);
        let id = self.next_nonce();
        let blob = OutgoingBlob::new(ChunkKind::ViewChange, target, id, report.encode());
        self.vc = Some(ViewChange {
            started: now,
            resend_at: now + self.cfg.timeouts.view_change,
            blob: (leader != self.me()).then_some(blob),
            reports: BTreeMap::new(),
            awaiting: None,
        });
        self.announce_view_change();
        if leader == self.me() {
            let me = self.me();
            if let Some(vc) = self.vc.as_mut() {
                vc.reports.insert(me, report);
            }
            self.try_finish_view_change(now);
        }
    }

    /// Asks the others to change to this view and sends this replica's report to its
    /// leader (the leader counts its own in place and keeps none to send).
    fn announce_view_change(&mut self) {
        let view = self.view;
        self.send_plain(
            Destination::OtherReplicas,
            Message::ViewChangeRequest { view },
        );
        if let Some(blob) = self.vc.as_ref().and_then(|vc| vc.blob.clone()) {
            self.send_blob(Destination::Replica(self.leader_of(view)), &blob);
        }
    }

    pub(crate) fn clear_leader_state(&mut self) {
        while let Some((_, t)) = self.tallies.pop_first() {
            self.recycle_tally(t);
        }
        self.next_slot_check = None;
        self.adopted = 0;
        self.start_view_sent.iter_mut().for_each(|t| *t = None);
        self.frontier = 0;
    }

    /// This replica's phase-1b report: every vote above its commit point.
    fn report(&self) -> ViewChangeReport {
        ViewChangeReport {
            commit: self.commit,
            epoch: self.incarnation,
            epochs: self.epochs.to_vec(),
            votes: self
                .log
                .range_from(self.commit + 1)
                .map(|(slot, s)| SlotRecord {
                    slot,
                    round: s.round,
                    chosen: s.chosen,
                    entry: s.entry.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn view_change_timer(&mut self, now: Time) {
        let Some(vc) = self.vc.as_mut() else { return };
        let give_up_at = vc.started + self.cfg.timeouts.leader_timeout;
        let resend = self.cfg.timeouts.view_change;
        match view_change::on_timer(now, &mut vc.resend_at, give_up_at, resend) {
            // The new leader did not start the view: pass it over.
            AttemptStep::MoveOn => self.start_view_change(now, self.view + 1),
            AttemptStep::Resend => self.announce_view_change(),
            AttemptStep::Wait => {}
        }
    }

    pub(crate) fn on_view_change_request(&mut self, now: Time, sender: usize, view: u64) {
        if view > self.view {
            self.start_view_change(now, view);
        } else if view == self.view && self.is_leading() {
            // It missed the START-VIEW.
            self.send_start_view_to(now, sender);
        } else if view < self.view {
            self.stats.stale += 1;
        }
    }

    pub(crate) fn on_chunk(&mut self, now: Time, sender: usize, chunk: ChunkIn<'_>) {
        if chunk.kind != ChunkKind::State && chunk.view < self.view {
            self.stats.stale += 1;
            return;
        }
        let Some(blob) = self.assembler.add(sender, chunk) else {
            return;
        };
        match blob.kind {
            ChunkKind::ViewChange => self.on_report_blob(now, blob),
            ChunkKind::StartView => self.on_start_view_blob(now, blob),
            ChunkKind::State => self.on_state_blob(now, blob),
        }
    }

    fn on_report_blob(&mut self, now: Time, blob: Blob) {
        if self.status == Status::Recovering {
            self.stats.stale += 1;
            return;
        }
        if blob.view > self.view {
            self.start_view_change(now, blob.view);
        }
        if blob.view < self.view {
            self.stats.stale += 1;
            return;
        }
        if self.leader_of(blob.view) != self.me() {
            self.stats.unexpected += 1;
            return;
        }
        if self.status == Status::Normal {
            self.send_start_view_to(now, blob.sender);
            return;
        }
        let Ok(report) = ViewChangeReport::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        // What the sender knows of recoveries, and its own epoch.
        for (i, &e) in report.epochs.iter().enumerate().take(self.n()) {
            self.learn_epoch(i, e);
        }
        self.learn_epoch(blob.sender, report.epoch);
        if let Some(vc) = self.vc.as_mut() {
            vc.reports.insert(blob.sender, report);
        }
        self.try_finish_view_change(now);
    }

    /// New leader: with a classic quorum of reports, catch up and start the view.
    pub(crate) fn try_finish_view_change(&mut self, now: Time) {
        if self.status != Status::ViewChange || !self.am_leader() {
            return;
        }
        let (epochs, me) = (&self.epochs, self.cfg.index);
        let Some(vc) = self.vc.as_mut() else { return };
        // A report from before its sender lost its memory does not count (the recovery
        // fence): the sender no longer keeps the promise it made there. (Its own report is
        // of this incarnation, whatever epoch it was tagged with.)
        let before = vc.reports.len();
        vc.reports
            .retain(|&i, r| i == me || r.epoch >= epochs.get(i).copied().unwrap_or(0));
        self.stats.stale += (before - vc.reports.len()) as u64;
        if vc.reports.len() < self.q.classic {
            return;
        }
        let Some((&source, top)) = vc.reports.iter().max_by_key(|(_, r)| r.commit) else {
            return;
        };
        let top = top.commit;
        if self.commit < top {
            // Slots up to `top` are chosen, and the reports say nothing below their own
            // commit points: take the chosen state first.
            if let Some(vc) = self.vc.as_mut() {
                vc.awaiting = Some(top);
            }
            self.start_transfer(now, top, Some(source));
            return;
        }
        let Some(vc) = self.vc.take() else { return };
        self.finish_view_change(now, vc.reports);
    }

    fn finish_view_change(&mut self, now: Time, reports: BTreeMap<usize, ViewChangeReport>) {
        let view = self.view;
        let me = self.me();
        // The epochs every report knew: a replica recovering under one of them may join.
        for (i, v) in self.vouched.iter_mut().enumerate() {
            *v = reports
                .values()
                .map(|r| r.epochs.get(i).copied().unwrap_or(0))
                .min()
                .unwrap_or(0);
        }
        let last = reports
            .values()
            .filter_map(|r| r.votes.last().map(|v| v.slot))
            .max()
            .unwrap_or(0)
            .clamp(self.commit, self.commit + MAX_WINDOW);
        // Per report, a cursor into its (slot-ordered) votes.
        let lists: Vec<&[SlotRecord]> = reports.values().map(|r| r.votes.as_slice()).collect();
        let mut cursors = vec![0usize; lists.len()];
        let mut losers: Vec<Arc<Request>> = Vec::new();
        let mut decided: Vec<(u64, Entry, bool)> = Vec::new();
        for slot in self.commit + 1..=last {
            let mut slot_reports = Vec::with_capacity(lists.len());
            for (i, list) in lists.iter().enumerate() {
                while cursors[i] < list.len() && list[cursors[i]].slot < slot {
                    cursors[i] += 1;
                }
                slot_reports.push(match list.get(cursors[i]) {
                    Some(v) if v.slot == slot && v.chosen => Report::Chosen(v.entry.clone()),
                    Some(v) if v.slot == slot => Report::Vote(v.round, v.entry.clone()),
                    _ => Report::None,
                });
            }
            if let Some(s) = self.log.get(slot).filter(|s| s.chosen) {
                decided.push((slot, s.entry.clone(), true));
                continue;
            }
            let machine = &self.machine;
            let picked = pick(&self.q, &slot_reports, |e| match e {
                Entry::Request(r) => machine.cached_result(r.client, r.request).is_none(),
                Entry::NoOp => false,
            });
            for r in &slot_reports {
                if let Report::Vote(_, Entry::Request(req)) = r {
                    if !picked.value.same(&Entry::Request(req.clone()))
                        && !losers.iter().any(|l| **l == **req)
                    {
                        losers.push(req.clone());
                    }
                }
            }
            decided.push((slot, picked.value, picked.chosen));
        }
        // The new log: chosen slots, the decided slots as this view's classic votes, and
        // nothing else above (older votes beyond `last` can never be chosen: no member of
        // the quorum voted there, and all of them promised this view).
        let above: Vec<u64> = self
            .log
            .range_from(self.commit + 1)
            .filter(|(_, s)| !s.chosen)
            .map(|(slot, _)| slot)
            .collect();
        for slot in above {
            self.log.remove(slot);
        }
        let n = self.n();
        let deadline = now + self.cfg.timeouts.resend;
        for (slot, entry, chosen) in decided {
            let round = Round::classic(view);
            if !chosen {
                let mut t = self.new_tally(deadline);
                t.classic = Some(entry.clone());
                t.acks = 1 << me;
                t.from_start_view = true;
                self.tallies.insert(slot, t);
            }
            self.log.insert(
                slot,
                Slot {
                    entry,
                    round,
                    chosen,
                },
            );
        }
        self.counters.views_led += 1;
        self.fast_from = last + 1;
        self.next_fast = last + 1;
        self.frontier = last;
        self.status = Status::Normal;
        self.adopted = 1 << me;
        self.next_heartbeat = now;
        self.rebuild_pending();
        if !self.tallies.is_empty() {
            self.schedule_slot_check(deadline);
        }
        let image = self.start_view_image();
        let id = self.next_nonce();
        let blob = OutgoingBlob::new(ChunkKind::StartView, view, id, image.encode());
        self.send_blob(Destination::OtherReplicas, &blob);
        for i in 0..n {
            if i != me {
                self.start_view_sent[i] = Some(now);
            }
        }
        self.advance_commit();
        let slots: Vec<u64> = self.tallies.keys().copied().collect();
        for s in slots {
            self.evaluate(now, s, false);
        }
        for r in losers {
            self.repropose(now, r);
        }
    }

    /// The START-VIEW of the current view as of now: the log from its first kept slot up to
    /// the start of the fast round, and chosen slots beyond.
    pub(crate) fn start_view_image(&self) -> StartViewImage {
        StartViewImage {
            commit: self.commit,
            first_slot: self.log_start,
            fast_from: self.fast_from.max(self.commit + 1),
            frontier: (self.frontier + 1).max(self.fast_from).max(self.commit + 1),
            vouched: self.vouched.clone(),
            entries: self
                .log
                .iter()
                .filter(|&(slot, s)| slot < self.fast_from || s.chosen)
                .map(|(slot, s)| SlotRecord {
                    slot,
                    round: s.round,
                    chosen: s.chosen,
                    entry: s.entry.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn send_start_view_to(&mut self, now: Time, replica: usize) {
        let recent = self
            .start_view_sent
            .get(replica)
            .copied()
            .flatten()
            .is_some_and(|t| now < t + self.cfg.timeouts.start_view);
        if recent || replica >= self.n() {
            return;
        }
        self.start_view_sent[replica] = Some(now);
        let image = self.start_view_image();
        let id = self.next_nonce();
        let blob = OutgoingBlob::new(ChunkKind::StartView, self.view, id, image.encode());
        self.send_blob(Destination::Replica(replica), &blob);
    }

    /// Follower (or a recovering replica): adopts the new leader's START-VIEW, accepting
    /// its decided slots in the view's classic round.
    fn on_start_view_blob(&mut self, now: Time, blob: Blob) {
        let w = blob.view;
        if blob.sender != self.leader_of(w) {
            self.stats.unexpected += 1;
            return;
        }
        if w < self.view {
            self.stats.stale += 1;
            return;
        }
        if w == self.view && self.status == Status::Normal {
            let commit = self.commit;
            self.send_plain(
                Destination::Replica(blob.sender),
                Message::SyncReply { view: w, commit },
            );
            return;
        }
        let Ok(sv) = StartViewImage::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        if self.status == Status::Recovering && !self.amnesiac_may_join(w, &sv.vouched) {
            self.stats.stale += 1;
            if w >= self.view && self.amnesia.as_ref().is_some_and(|a| a.min_view.is_some()) {
                // Formed without the fence (a member of its phase-1 quorum had not heard of
                // this recovery): the next view will be.
                self.amnesiac_follow(now, w + 1);
            }
            return;
        }
        for (i, &e) in sv.vouched.iter().enumerate().take(self.n()) {
            self.learn_epoch(i, e);
        }
        if w > self.view {
            self.view = w;
            self.stats.view_changes += 1;
            crate::fastpaxos::blob::forget_before(&mut self.assembler, w);
        }
        self.clear_leader_state();
        self.vc = None;
        let round = Round::classic(w);
        let mut covered = std::collections::BTreeSet::new();
        for rec in sv.entries {
            covered.insert(rec.slot);
            if rec.slot <= self.commit {
                continue;
            }
            if rec.chosen {
                self.log.insert(
                    rec.slot,
                    Slot {
                        entry: rec.entry,
                        round: rec.round,
                        chosen: true,
                    },
                );
            } else if rec.slot < sv.fast_from && !self.log.get(rec.slot).is_some_and(|s| s.chosen) {
                self.log.insert(
                    rec.slot,
                    Slot {
                        entry: rec.entry,
                        round,
                        chosen: false,
                    },
                );
            }
        }
        // Votes from older views at slots the leader left open can never be chosen: drop
        // them, so the fast round starts afresh there.
        let stale: Vec<u64> = self
            .log
            .range_from(self.commit + 1)
            .filter(|(slot, s)| !s.chosen && *slot >= sv.first_slot && !covered.contains(slot))
            .map(|(slot, _)| slot)
            .collect();
        for slot in stale {
            self.log.remove(slot);
        }
        self.fast_from = sv.fast_from;
        self.next_fast = sv.frontier.max(sv.fast_from);
        self.leader_heard = now;
        self.rebuild_pending();
        self.advance_commit();
        let need = sv.first_slot.saturating_sub(1);
        if self.status == Status::Recovering {
            self.amnesiac_adopted(now, w, sv.commit.max(need), blob.sender);
            return;
        }
        self.status = Status::Normal;
        if self.commit < need {
            self.start_transfer(now, need, Some(blob.sender));
        }
        let commit = self.commit;
        self.send_plain(
            Destination::Replica(blob.sender),
            Message::SyncReply { view: w, commit },
        );
    }
}
