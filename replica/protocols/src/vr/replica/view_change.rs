//! View change (VR Revisited section 4.2). A replica that suspects the primary, or hears of
//! a newer view, moves to view v+1 (or that view) and sends START-VIEW-CHANGE to all; with f
//! of them it sends DO-VIEW-CHANGE (last normal view, commit number, retained log) to the
//! new primary. The new primary, with f+1 DO-VIEW-CHANGEs (its own included), takes the log
//! with the largest (last normal view, op number) and the largest commit number, becomes
//! normal and sends START-VIEW. A view change that has not completed after the leader
//! timeout moves on to the next view (its primary may be dead too).

use std::collections::{BTreeMap, BTreeSet};

use super::{Status, TransferMode, VrReplica, recycle_into};
use crate::Destination;
use crate::app::App;
use crate::kit::view_change::{self, AttemptStep};
use crate::time::Time;
use crate::vr::blob::{Blob, OutgoingBlob};
use crate::vr::images::{DoViewChange, StartView};
use crate::vr::messages::{ChunkKind, Message};
use crate::vr::types::Entry;

/// What the new primary knows of one replica's DO-VIEW-CHANGE. Its own is summarised (the
/// merge uses its log in place).
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) last_normal: u64,
    pub(crate) op: u64,
    pub(crate) commit: u64,
    pub(crate) first: u64,
    pub(crate) entries: Vec<Entry>,
}

/// A view change in progress.
#[derive(Debug)]
pub(crate) struct ViewChange {
    /// Replicas that sent START-VIEW-CHANGE for this view.
    pub(crate) svcs: BTreeSet<usize>,
    /// At the new primary: DO-VIEW-CHANGEs received (its own included).
    pub(crate) dvcs: BTreeMap<usize, Candidate>,
    pub(crate) started: Time,
    pub(crate) resend_at: Time,
    /// This replica's DO-VIEW-CHANGE, once sent (resent with START-VIEW-CHANGE).
    pub(crate) dvc_blob: Option<OutgoingBlob>,
    /// The new primary is fetching a snapshot to reach the best log's window.
    pub(crate) awaiting_snapshot: bool,
}

impl<A: App> VrReplica<A> {
    /// Moves to `view` (higher than the current one) and starts changing to it.
    pub(crate) fn start_view_change(&mut self, now: Time, view: u64) {
        self.status = Status::ViewChange;
        self.view = view;
        self.reset_primary_state();
        self.drop_transfer_unless_recovery();
        self.assembler.forget_before(view);
        self.vc = Some(ViewChange {
            svcs: BTreeSet::new(),
            dvcs: BTreeMap::new(),
            started: now,
            resend_at: now + self.cfg.timeouts.view_change,
            dvc_blob: None,
            awaiting_snapshot: false,
        });
        self.stats.view_changes += 1;
        self.send(
            Destination::OtherReplicas,
            Message::StartViewChange { view },
        );
        self.maybe_send_do_view_change();
        self.try_finish_view_change(now);
    }

    fn own_candidate(&self) -> Candidate {
        Candidate {
            last_normal: self.last_normal,
            op: self.log.end(),
            commit: self.commit,
            first: self.log.start(),
            entries: Vec::new(),
        }
    }

    /// With f START-VIEW-CHANGEs, sends DO-VIEW-CHANGE to the new primary (once; resent by
    /// the timer). The new primary counts its own state instead.
    fn maybe_send_do_view_change(&mut self) {
        let view = self.view;
        let primary = self.primary_of(view);
        if primary == self.me() {
            return;
        }
        let f = self.f();
        let Some(vc) = self.vc.as_ref() else { return };
        if vc.svcs.len() < f || vc.dvc_blob.is_some() {
            return;
        }
        let image = DoViewChange {
            last_normal: self.last_normal,
            commit: self.commit,
            first: self.log.start(),
            entries: self
                .log
                .iter_from(self.log.start())
                .map(|(_, e)| e.clone())
                .collect(),
        };
        let blob = self.new_blob(ChunkKind::ViewChange, view, image.encode());
        self.send_blob(Destination::Replica(primary), &blob);
        if let Some(vc) = self.vc.as_mut() {
            vc.dvc_blob = Some(blob);
        }
    }

    pub(super) fn on_start_view_change(&mut self, now: Time, sender: usize, view: u64) {
        if view > self.view {
            self.start_view_change(now, view);
        }
        if view < self.view {
            self.stats.stale += 1;
            return;
        }
        match self.status {
            Status::ViewChange => {
                if let Some(vc) = self.vc.as_mut() {
                    vc.svcs.insert(sender);
                }
                self.maybe_send_do_view_change();
            }
            Status::Normal if self.am_primary() => self.resend_start_view(sender),
            _ => self.stats.stale += 1,
        }
    }

    /// A replica still changing to the view this primary started missed START-VIEW.
    fn resend_start_view(&mut self, to: usize) {
        if let Some(blob) = self.start_view_blob.clone() {
            self.send_blob(Destination::Replica(to), &blob);
        }
    }

    pub(super) fn on_do_view_change_blob(&mut self, now: Time, blob: Blob) {
        let view = blob.view;
        if view > self.view {
            self.start_view_change(now, view);
        }
        if view < self.view {
            self.stats.stale += 1;
            return;
        }
        if self.status == Status::Normal {
            if self.am_primary() {
                self.resend_start_view(blob.sender);
            } else {
                self.stats.stale += 1;
            }
            return;
        }
        if self.status != Status::ViewChange || self.primary_of(view) != self.me() {
            self.stats.unexpected += 1;
            return;
        }
        let Ok(d) = DoViewChange::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        let candidate = Candidate {
            last_normal: d.last_normal,
            op: d.op(),
            commit: d.commit,
            first: d.first,
            entries: d.entries,
        };
        if let Some(vc) = self.vc.as_mut() {
            vc.dvcs.insert(blob.sender, candidate);
        }
        self.try_finish_view_change(now);
    }

    /// At the new primary: with f+1 DO-VIEW-CHANGEs, builds the new log and starts the view.
    pub(crate) fn try_finish_view_change(&mut self, now: Time) {
        let me = self.me();
        if self.status != Status::ViewChange || self.primary_of(self.view) != me {
            return;
        }
        let own = self.own_candidate();
        let f = self.f();
        let deadline = self.cfg.timeouts.leader_timeout;
        let Some(vc) = self.vc.as_mut() else { return };
        if vc.awaiting_snapshot || now >= vc.started + deadline {
            // An attempt past its deadline never completes (the timer moves on to the next
            // view): recovery relies on it (see `transfer`).
            return;
        }
        vc.dvcs.insert(me, own);
        if vc.dvcs.len() < f + 1 {
            return;
        }
        // The largest (last normal view, op number); among equals, our own (no copying).
        let Some((&best_sender, best)) = vc
            .dvcs
            .iter()
            .max_by_key(|&(&i, c)| (c.last_normal, c.op, i == me))
        else {
            return;
        };
        let max_commit = vc.dvcs.values().map(|c| c.commit).max().unwrap_or(0);
        if self.exec + 1 < best.first {
            // The best log starts beyond what this replica executed: first copy a
            // snapshot from within its window.
            let (lo, hi) = (best.first - 1, best.op);
            vc.awaiting_snapshot = true;
            self.start_transfer(now, best_sender, TransferMode::Snapshot { lo, hi });
            return;
        }
        let Some(mut vc) = self.vc.take() else { return };
        let Some(best) = vc.dvcs.remove(&best_sender) else {
            return;
        };
        if best_sender != me {
            let spare = &mut self.spare;
            self.log
                .truncate_after_with(self.exec, |e| recycle_into(spare, e.op));
            for (i, e) in best.entries.into_iter().enumerate() {
                let op = best.first + i as u64;
                if op == self.log.end() + 1 {
                    self.log.append(e);
                }
            }
        }
        self.begin_view_as_primary(now, max_commit);
    }

    /// The new primary's log is settled: become normal, send START-VIEW, execute what is
    /// committed (answering clients) and treat the rest as the batch in flight.
    fn begin_view_as_primary(&mut self, now: Time, max_commit: u64) {
        let end = self.log.end();
        self.commit = max_commit.max(self.exec).min(end);
        self.status = Status::Normal;
        self.last_normal = self.view;
        self.vc = None;
        self.drop_transfer_unless_recovery();
        self.reset_primary_state();
        for (_, e) in self.log.iter_from(self.exec + 1) {
            let r = self.proposed.entry(e.client).or_insert(e.request);
            *r = (*r).max(e.request);
        }
        let image = StartView {
            commit: self.commit,
            first: self.log.start(),
            entries: self
                .log
                .iter_from(self.log.start())
                .map(|(_, e)| e.clone())
                .collect(),
        };
        let blob = self.new_blob(ChunkKind::StartView, self.view, image.encode());
        self.send_blob(Destination::OtherReplicas, &blob);
        self.start_view_blob = Some(blob);
        self.announced = self.commit;
        self.heartbeat_at = now + self.cfg.timeouts.heartbeat;
        if end > self.commit {
            self.prepare_resend_at = Some(self.prepare_timer.restarted(now));
        }
        self.execute_committed(now);
        self.advance_commit(now);
    }

    pub(super) fn on_start_view_blob(&mut self, now: Time, blob: Blob) {
        let view = blob.view;
        if blob.sender != self.primary_of(view) {
            self.stats.unexpected += 1;
            return;
        }
        if view < self.view || (view == self.view && self.status == Status::Normal) {
            self.stats.stale += 1;
            return;
        }
        let Ok(sv) = StartView::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        if self.exec + 1 < sv.first {
            // Too far behind for the new log's window: join with the committed state and
            // copy the rest.
            self.adopt_view(now, view);
            self.request_catch_up(now);
            return;
        }
        let spare = &mut self.spare;
        self.log
            .truncate_after_with(self.exec, |e| recycle_into(spare, e.op));
        for (i, e) in sv.entries.into_iter().enumerate() {
            let op = sv.first + i as u64;
            if op == self.log.end() + 1 {
                self.log.append(e);
            }
        }
        self.view = view;
        self.last_normal = view;
        self.status = Status::Normal;
        self.vc = None;
        self.reset_primary_state();
        self.drop_transfer_unless_recovery();
        self.assembler.forget_before(view);
        self.leader_heard = now;
        self.commit = sv.commit.max(self.exec).min(self.log.end());
        self.execute_committed(now);
        let end = self.log.end();
        self.send(
            Destination::Replica(blob.sender),
            Message::PrepareOk { view, op: end },
        );
    }

    pub(super) fn view_change_timers(&mut self, now: Time) {
        let timeout = self.cfg.timeouts.leader_timeout;
        let resend = self.cfg.timeouts.view_change;
        let Some(vc) = self.vc.as_mut() else { return };
        match view_change::on_timer(now, &mut vc.resend_at, vc.started + timeout, resend) {
            AttemptStep::MoveOn => self.start_view_change(now, self.view + 1),
            AttemptStep::Wait => {}
            AttemptStep::Resend => {
                let blob = vc.dvc_blob.clone();
                let view = self.view;
                self.send(
                    Destination::OtherReplicas,
                    Message::StartViewChange { view },
                );
                if let Some(blob) = blob {
                    let primary = self.primary_of(view);
                    self.send_blob(Destination::Replica(primary), &blob);
                }
            }
        }
    }
}
