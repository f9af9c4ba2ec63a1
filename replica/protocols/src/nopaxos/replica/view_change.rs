//! View change (NOPaxos section 5.2.3): on leader suspicion, a session change or a newer
//! view seen, replicas send their logs to the new leader, which merges f+1 of them from the
//! latest normal view and starts the view; a view change that stalls (its leader is dead
//! too) moves on to the next view instead of retrying forever (defect 4).

use std::collections::{BTreeMap, BTreeSet};

use dataplane::oum::SessionNumber;

use super::{NopaxosReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::kit::view_change::{self, AttemptStep};
use crate::nopaxos::blob::{Blob, OutgoingBlob};
use crate::nopaxos::images::{StartViewImage, ViewChangeImage};
use crate::nopaxos::messages::{ChunkKind, Message};
use crate::nopaxos::noop_ranges::NoopRanges;
use crate::nopaxos::types::{Entry, ViewId};
use crate::time::Time;

/// Resends of START-VIEW to replicas that have not acknowledged it; after that, a replica
/// still behind finds the view through its own view change.
const START_VIEW_RESENDS: u32 = 10;

#[derive(Debug)]
pub(crate) struct ViewChangeState {
    /// At the new leader: VIEW-CHANGE images by sender (its own included).
    pub(crate) received: BTreeMap<usize, ViewChangeImage>,
    pub(crate) resend_at: Time,
    pub(crate) give_up_at: Time,
    own_blob: OutgoingBlob,
    /// The new leader is fetching state before it can start the view.
    pub(crate) awaiting_state: bool,
}

fn newer_session(a: Option<u16>, b: Option<u16>) -> Option<u16> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if SessionNumber(y).is_newer_than(SessionNumber(x)) {
            y
        } else {
            x
        }),
        (x, None) => x,
        (None, y) => y,
    }
}

impl<A: App> NopaxosReplica<A> {
    fn own_view_change_image(&self) -> ViewChangeImage {
        let first = self.log.start().max(self.sync_point + 1);
        ViewChangeImage {
            last_normal_view: self.last_normal_view,
            oum_session: self.oum_session,
            latest_oum_seen: self.latest_oum_seen,
            session_base: self.session_base,
            sync_point: self.sync_point,
            first_slot: first,
            entries: self.log.iter_from(first).map(|(_, e)| e.clone()).collect(),
            noops_ahead: self
                .noops_ahead
                .iter()
                .filter(|&(_, last)| last > self.sync_point)
                .map(|(first, last)| (first.max(self.sync_point + 1), last))
                .collect(),
            epochs: self.epochs.to_vec(),
        }
    }

    /// Takes on every recovery epoch `epochs` knows that this replica did not.
    pub(crate) fn learn_epochs(&mut self, epochs: &[u64]) {
        self.epochs.learn_all(epochs);
    }

    pub(crate) fn start_view_change(&mut self, now: Time, view: ViewId) {
        let view = self.view.join(&view);
        if self.status == Status::Recovering
            || (view == self.view && self.status == Status::ViewChange)
        {
            return;
        }
        if view == self.view {
            // Already normal in this view: nothing to change.
            return;
        }
        tracing::info!(replica = self.cfg.index, from = %self.view, to = %view, "view change");
        self.view = view;
        self.status = Status::ViewChange;
        self.stats.view_changes += 1;
        self.gap = None;
        self.end_sync_round();
        self.blocked = None;
        self.missing_to = 0;
        self.catch_up_to = 0;
        self.start_view_acks = None;
        self.start_view_blob = None;
        self.transfer = None;
        self.assembler.forget_before(view);
        let image = self.own_view_change_image();
        let id = self.next_nonce();
        let own_blob = OutgoingBlob::new(ChunkKind::ViewChange, view, id, image.encode());
        let mut received = BTreeMap::new();
        if self.am_leader() {
            received.insert(self.cfg.index, image);
        }
        self.vc = Some(ViewChangeState {
            received,
            resend_at: now + self.cfg.timeouts.view_change,
            give_up_at: now + self.cfg.timeouts.leader_timeout,
            own_blob,
            awaiting_state: false,
        });
        self.announce_view_change();
        self.try_finish_view_change(now);
    }

    pub(super) fn view_change_timer(&mut self, now: Time) {
        let resend = self.cfg.timeouts.view_change;
        let Some(vc) = self.vc.as_mut() else { return };
        match view_change::on_timer(now, &mut vc.resend_at, vc.give_up_at, resend) {
            AttemptStep::MoveOn => {
                let next = ViewId {
                    leader_num: self.view.leader_num + 1,
                    session_num: self.view.session_num,
                };
                self.start_view_change(now, next);
            }
            AttemptStep::Resend => self.announce_view_change(),
            AttemptStep::Wait => {}
        }
    }

    /// Asks the others to change to this view and sends this replica's VIEW-CHANGE to its
    /// leader (the leader counts its own in place).
    fn announce_view_change(&mut self) {
        let Some(own_blob) = self.vc.as_ref().map(|vc| vc.own_blob.clone()) else {
            return;
        };
        let request = Message::ViewChangeRequest { view: self.view };
        self.send(Destination::OtherReplicas, request);
        if !self.am_leader() {
            self.send_blob(Destination::Replica(self.leader()), &own_blob);
        }
    }

    pub(super) fn on_view_change_request(&mut self, now: Time, sender: usize, view: ViewId) {
        if view == self.view {
            if self.status == Status::Normal && self.am_leader() {
                self.resend_start_view(sender);
            }
            return;
        }
        if view.covers(&self.view) || !self.view.covers(&view) {
            self.start_view_change(now, view);
        } else {
            self.stats.stale += 1;
        }
    }

    fn resend_start_view(&mut self, to: usize) {
        if let Some(blob) = self.start_view_blob.clone() {
            self.send_blob(Destination::Replica(to), &blob);
        }
    }

    pub(super) fn on_view_change_blob(&mut self, now: Time, blob: Blob) {
        let Ok(image) = ViewChangeImage::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        self.learn_epochs(&image.epochs);
        if blob.view != self.view {
            if blob.view.covers(&self.view) || !self.view.covers(&blob.view) {
                self.start_view_change(now, blob.view);
            } else {
                self.stats.stale += 1;
                return;
            }
        }
        if blob.view != self.view {
            return;
        }
        if self.status == Status::Normal && self.am_leader() {
            // The sender missed START-VIEW.
            self.resend_start_view(blob.sender);
            return;
        }
        if self.status != Status::ViewChange || !self.am_leader() {
            return;
        }
        if let Some(vc) = self.vc.as_mut() {
            vc.received.insert(blob.sender, image);
        }
        self.try_finish_view_change(now);
    }

    /// At the new leader: once f+1 VIEW-CHANGEs are in, merge and start the view.
    pub(crate) fn try_finish_view_change(&mut self, now: Time) {
        let Some(vc) = self.vc.as_ref() else { return };
        if self.status != Status::ViewChange || !self.am_leader() || vc.awaiting_state {
            return;
        }
        if vc.received.len() < self.f() + 1 {
            return;
        }
        // The recovery fence: a report whose sender's own epoch is below the highest this
        // replica or any report knows for it was sent before the sender lost its memory (it
        // may lack what the sender acknowledged since): not counted. Its own always counts.
        let mut known = self.epochs.clone();
        for image in vc.received.values() {
            known.learn_all(&image.epochs);
        }
        let me = self.cfg.index;
        let counted: BTreeMap<usize, &ViewChangeImage> = vc
            .received
            .iter()
            .filter(|(s, i)| **s == me || i.epochs.get(**s).copied().unwrap_or(0) >= known[**s])
            .map(|(s, i)| (*s, i))
            .collect();
        if counted.len() < self.f() + 1 {
            return;
        }
        let latest = counted
            .values()
            .map(|i| i.last_normal_view)
            .max_by_key(ViewId::rank)
            .unwrap_or(ViewId::INITIAL);
        let considered: Vec<(usize, &ViewChangeImage)> = counted
            .iter()
            .filter(|(_, i)| i.last_normal_view == latest)
            .map(|(s, i)| (*s, *i))
            .collect();
        let stable = considered
            .iter()
            .map(|(_, i)| i.sync_point)
            .max()
            .unwrap_or(0);
        let end = considered
            .iter()
            .map(|(_, i)| i.end())
            .max()
            .unwrap_or(0)
            .max(stable);
        // NO-OPs acknowledged ahead of a replica's log count as entries of that log.
        let mut acknowledged_noops = NoopRanges::default();
        for (first, last) in considered.iter().flat_map(|(_, i)| i.noops_ahead.iter()) {
            acknowledged_noops.insert(*first, *last);
        }
        // NO-OP wins over a request, a request over nothing.
        let mut merged = Vec::with_capacity((end - stable) as usize);
        for slot in stable + 1..=end {
            let mut pick: Option<&Entry> = None;
            if acknowledged_noops.contains(slot) {
                merged.push(Entry::NoOp);
                continue;
            }
            for (_, image) in &considered {
                let Some(e) = slot
                    .checked_sub(image.first_slot)
                    .and_then(|i| image.entries.get(i as usize))
                else {
                    continue;
                };
                if e.is_noop() {
                    pick = Some(e);
                    break;
                }
                pick.get_or_insert(e);
            }
            merged.push(pick.cloned().unwrap_or(Entry::NoOp));
        }
        let base_image = considered.first().map(|(_, i)| *i);
        let old_session = base_image.and_then(|i| i.oum_session);
        let old_base = base_image.map_or(0, |i| i.session_base);
        let newest = counted.values().fold(None, |acc, i| {
            newer_session(newer_session(acc, i.latest_oum_seen), i.oum_session)
        });
        let (oum_session, session_base) =
            if self.view.session_num > latest.session_num && newest != old_session {
                (newest, end)
            } else {
                (old_session, old_base)
            };
        let stable_source = considered
            .iter()
            .filter(|(s, i)| i.sync_point == stable && *s != self.cfg.index)
            .map(|(s, _)| *s)
            .next();

        // A follower of the latest view that applied the stable point's NO-OPs can execute
        // its own log up to it.
        if self.last_normal_view == latest
            && self.exec_point < stable
            && self.noops_applied >= stable
            && self.log.end() >= stable
            && self.log.start() <= self.exec_point + 1
        {
            self.execute_through(stable, false);
        }
        // Can this replica's executed state continue from the merged log?
        let x = self.exec_point;
        let matches = (stable + 1..=x).all(|slot| {
            let mine = self.log.get(slot).map(Entry::id);
            let theirs = merged.get((slot - stable - 1) as usize).map(Entry::id);
            mine.is_some() && mine == theirs
        });
        let reconcilable = (x == stable
            && (self.sync_point == x || self.last_normal_view == latest))
            || (self.last_normal_view == latest && stable <= x && x <= end && matches);
        if !reconcilable {
            // Without another replica holding the stable state, wait for the next view.
            if let Some(source) = stable_source {
                if let Some(vc) = self.vc.as_mut() {
                    vc.awaiting_state = true;
                }
                self.start_transfer_from(
                    now,
                    source,
                    latest,
                    super::transfer::Purpose::NewLeader { stable },
                );
            }
            return;
        }

        self.log.truncate_after(stable);
        if self.log.end() < stable {
            self.log = crate::nopaxos::log::Log::starting_at(stable + 1);
        }
        for e in merged {
            self.log.append(e);
        }
        self.execute_through(end, false);
        tracing::info!(
            replica = self.cfg.index,
            view = %self.view,
            stable,
            end,
            "view started, leading"
        );
        if stable > self.sync_point {
            self.sync_point = stable;
        }
        self.enter_view(now, oum_session, session_base, stable);
        let image = StartViewImage {
            oum_session,
            session_base,
            sync_point: self.sync_point,
            first_slot: self.log.start(),
            entries: self
                .log
                .iter_from(self.log.start())
                .map(|(_, e)| e.clone())
                .collect(),
        };
        let id = self.next_nonce();
        let blob = OutgoingBlob::new(ChunkKind::StartView, self.view, id, image.encode());
        self.send_blob(Destination::OtherReplicas, &blob);
        self.start_view_blob = Some(blob);
        self.start_view_acks = Some((BTreeSet::new(), now + self.cfg.timeouts.start_view));
        self.start_view_resends = 0;
        self.next_sync_at = now;
    }

    /// Becomes normal in the current view with the given OUM position.
    pub(crate) fn enter_view(
        &mut self,
        now: Time,
        oum_session: Option<u16>,
        session_base: u64,
        stable: u64,
    ) {
        self.status = Status::Normal;
        self.last_normal_view = self.view;
        self.oum_session = oum_session;
        self.session_base = session_base;
        self.noops_ahead.clear();
        self.blocked = None;
        self.missing_to = 0;
        self.gap = None;
        self.end_sync_round();
        self.catch_up_to = 0;
        self.noops_applied = stable;
        self.vc = None;
        self.transfer = None;
        self.leader_heard = now;
        if let Some(session) = oum_session {
            let next = (self.log.end() + 1).saturating_sub(session_base).max(1);
            self.receiver.listen(SessionNumber(session), next);
        }
    }

    pub(super) fn start_view_timer(&mut self, now: Time) {
        let Some((acks, at)) = self.start_view_acks.as_mut() else {
            return;
        };
        if now < *at {
            return;
        }
        *at = now + self.cfg.timeouts.start_view;
        let missing: Vec<usize> = (0..self.cfg.n())
            .filter(|i| *i != self.cfg.index && !acks.contains(i))
            .collect();
        self.start_view_resends += 1;
        if missing.is_empty() || self.start_view_resends > START_VIEW_RESENDS {
            self.start_view_acks = None;
            return;
        }
        for i in missing {
            self.resend_start_view(i);
        }
    }

    pub(super) fn on_start_view_reply(&mut self, sender: usize, view: ViewId) {
        if view != self.view || !self.am_leader() {
            return;
        }
        if let Some((acks, _)) = self.start_view_acks.as_mut() {
            acks.insert(sender);
            if acks.len() + 1 >= self.cfg.n() {
                self.start_view_acks = None;
            }
        }
    }

    pub(super) fn on_start_view_blob(&mut self, now: Time, blob: Blob) {
        if blob.sender != blob.view.leader(self.cfg.n()) {
            self.stats.unexpected += 1;
            return;
        }
        let Ok(image) = StartViewImage::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        if !blob.view.covers(&self.view) {
            self.stats.stale += 1;
            return;
        }
        if blob.view == self.view && self.status == Status::Normal {
            self.send(
                Destination::Replica(blob.sender),
                Message::StartViewReply { view: self.view },
            );
            return;
        }
        self.view = blob.view;
        if self.status == Status::Normal {
            self.status = Status::ViewChange;
        }
        let stable = image.sync_point;
        let end = image.end();
        let x = self.exec_point;
        let covered = x + 1 >= image.first_slot;
        // Entries this replica executed beyond its own sync point were speculative (it led
        // an older view): each must be in the new log, unchanged, or the state is replaced.
        let matches = x <= end
            && (self.sync_point + 1..=x).all(|slot| {
                let mine = self.log.get(slot).map(Entry::id);
                let theirs = slot
                    .checked_sub(image.first_slot)
                    .and_then(|i| image.entries.get(i as usize))
                    .map(Entry::id);
                mine.is_some() && mine == theirs
            });
        if !(covered && matches) {
            // This replica's state cannot be continued from the view's log: copy a peer's.
            self.vc = None;
            self.start_transfer(now, blob.view);
            return;
        }
        let mut log = crate::nopaxos::log::Log::starting_at(image.first_slot);
        for e in image.entries {
            log.append(e);
        }
        self.log = log;
        self.execute_through(stable, false);
        self.sync_point = self.sync_point.max(stable);
        self.enter_view(now, image.oum_session, image.session_base, stable);
        tracing::info!(
            replica = self.cfg.index,
            view = %self.view,
            stable,
            end,
            "view started, following"
        );
        // The view's log is the leader's: every NO-OP in it is known.
        self.noops_applied = self.log.end();
        self.send(
            Destination::Replica(blob.sender),
            Message::StartViewReply { view: self.view },
        );
    }
}
