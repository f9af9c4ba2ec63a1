//! View change and reconciliation: replicas stop executing, send their logs (committed
//! point, prefix hash there, speculative suffix) to the new view's leader, which merges
//! f + 1 of them (see [`merge`](crate::specpaxos::merge)), positions its own log on the
//! result (rolling back what differs, or copying the committed prefix from a replica that
//! has it), and sends START-VIEW. Followers adopt the merged log the same way. The merged
//! log is committed once f + 1 replicas hold it (START-VIEW-REPLY), and the leader says so
//! with a SYNC-COMMIT.
//!
//! A reconciliation is a view change to the next epoch under the same leader; a suspected
//! leader is replaced by the next leader number. A view change that has not finished after
//! `leader_timeout` moves on to the next leader rather than retrying the same view forever.

use std::collections::{BTreeMap, BTreeSet};

use super::{Purpose, SpecReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::kit::state_transfer::other_than;
use crate::kit::view_change::{self, AttemptStep};
use crate::specpaxos::blob::{Blob, OutgoingBlob};
use crate::specpaxos::images::{LogSegment, StartViewImage, ViewChangeImage};
use crate::specpaxos::ledger::{AdoptError, CommitOutcome};
use crate::specpaxos::merge::{Merged, merge};
use crate::specpaxos::messages::{ChunkKind, Message};
use crate::specpaxos::types::{LogHash, SpecViewId};
use crate::time::Time;

/// Resends of START-VIEW to replicas that have not acknowledged it; after that, a replica
/// still behind finds the view when it hears the leader's next SYNC.
const START_VIEW_RESENDS: u32 = 10;

#[derive(Debug)]
pub(crate) struct ViewChangeState {
    /// At the new leader: the logs received, by sender (its own included).
    pub(crate) received: BTreeMap<usize, ViewChangeImage>,
    pub(crate) resend_at: Time,
    pub(crate) give_up_at: Time,
    own_blob: OutgoingBlob,
    /// The merge, once computed (the new leader may still be fetching the committed prefix).
    pub(crate) merged: Option<Merged>,
}

/// The leader's START-VIEW until f + 1 replicas hold the merged log.
#[derive(Debug)]
pub(crate) struct StartViewState {
    blob: OutgoingBlob,
    acks: BTreeSet<usize>,
    resend_at: Time,
    resends: u32,
    /// End of the merged log and its hash: committed with f + 1 acknowledgements.
    end: u64,
    hash: LogHash,
    committed: bool,
    n: usize,
}

impl StartViewState {
    pub(crate) fn next_resend(&self) -> Option<Time> {
        (self.resends < START_VIEW_RESENDS && self.acks.len() < self.n).then_some(self.resend_at)
    }
}

impl<A: App> SpecReplica<A> {
    fn own_view_change_image(&self) -> ViewChangeImage {
        let commit = self.ledger.commit();
        ViewChangeImage {
            last_normal_view: self.last_normal_view,
            segment: self.ledger.segment_from(commit).unwrap_or_else(|| {
                LogSegment::empty(commit, self.ledger.hash_at(commit).unwrap_or_default())
            }),
        }
    }

    pub(crate) fn start_view_change(&mut self, now: Time, view: SpecViewId) {
        if self.status == Status::Recovering || view < self.view {
            return;
        }
        if view == self.view && self.status != Status::Normal {
            return;
        }
        if view == self.view {
            // Already normal in this view.
            return;
        }
        self.view = view;
        self.status = Status::ViewChange;
        self.stats.view_changes += 1;
        self.sync = None;
        self.start_view = None;
        self.pending_sync = None;
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
            merged: None,
        });
        self.announce_view_change();
        self.try_finish_view_change(now);
    }

    pub(super) fn view_change_timer(&mut self, now: Time) {
        let resend = self.cfg.timeouts.view_change;
        let Some(vc) = self.vc.as_mut() else { return };
        match view_change::on_timer(now, &mut vc.resend_at, vc.give_up_at, resend) {
            AttemptStep::MoveOn => {
                let next = self.view.next_leader();
                self.start_view_change(now, next);
            }
            AttemptStep::Resend => self.announce_view_change(),
            AttemptStep::Wait => {}
        }
    }

    /// Asks the others to change to this view and sends this replica's log to its leader
    /// (the leader counts its own in place).
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

    pub(super) fn on_view_change_request(&mut self, now: Time, sender: usize, view: SpecViewId) {
        if view == self.view {
            if self.status == Status::Normal && self.am_leader() {
                self.resend_start_view(sender);
            }
            return;
        }
        if view > self.view {
            self.start_view_change(now, view);
        } else {
            self.stats.stale += 1;
        }
    }

    fn resend_start_view(&mut self, to: usize) {
        if let Some(blob) = self.start_view.as_ref().map(|s| s.blob.clone()) {
            self.send_blob(Destination::Replica(to), &blob);
        }
    }

    pub(super) fn on_view_change_blob(&mut self, now: Time, blob: Blob) {
        let Ok(image) = ViewChangeImage::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        if blob.view > self.view {
            self.start_view_change(now, blob.view);
        }
        if blob.view != self.view {
            self.stats.stale += 1;
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
            if vc.merged.is_none() {
                vc.received.insert(blob.sender, image);
            }
        }
        self.try_finish_view_change(now);
    }

    /// At the new leader: with f + 1 logs, merge them.
    fn try_finish_view_change(&mut self, now: Time) {
        let f = self.f();
        let me = self.cfg.index;
        if self.status != Status::ViewChange || self.leader() != me {
            return;
        }
        let Some(vc) = self.vc.as_mut() else { return };
        if vc.merged.is_some() || vc.received.len() < f + 1 {
            return;
        }
        // Exactly f + 1 logs, this replica's first: the merge rule counts among f + 1.
        let mut chosen: Vec<(usize, &ViewChangeImage)> = Vec::with_capacity(f + 1);
        if let Some(own) = vc.received.get(&me) {
            chosen.push((me, own));
        }
        for (r, image) in &vc.received {
            if chosen.len() > f {
                break;
            }
            if *r != me {
                chosen.push((*r, image));
            }
        }
        let Some(merged) = merge(f, &chosen) else {
            return;
        };
        vc.merged = Some(merged);
        // Recoveries heard of so far can be served from this view: its log holds everything
        // committed before it, including what the recovering replicas forgot.
        let view = self.view;
        for fence in self.fences.values_mut() {
            fence.ready = Some(view);
        }
        self.continue_as_new_leader(now);
    }

    /// Positions this replica's log on the merged one, or fetches the committed prefix.
    pub(crate) fn continue_as_new_leader(&mut self, now: Time) {
        let Some(merged) = self.vc.as_ref().and_then(|vc| vc.merged.clone()) else {
            return;
        };
        let commit = merged.segment.prev_slot;
        match self.ledger.adopt(&merged.segment, commit) {
            Ok(()) => self.enter_view_as_leader(now, merged),
            Err(e) => {
                if e == AdoptError::Conflict {
                    self.spec_stats.safety_alarms += 1;
                }
                let purpose = Purpose::NewLeader {
                    slot: commit,
                    hash: merged.segment.prev_hash,
                };
                let source = other_than(self.cfg.index, merged.source, self.n());
                self.start_transfer(now, source, purpose);
            }
        }
    }

    fn enter_view_as_leader(&mut self, now: Time, merged: Merged) {
        self.status = Status::Normal;
        self.last_normal_view = self.view;
        self.vc = None;
        self.transfer = None;
        self.leader_heard = now;
        self.ledger.checkpoint();
        let end = self.ledger.end();
        let hash = self.ledger.hash_at(end).unwrap_or_default();
        let image = StartViewImage {
            commit: self.ledger.commit(),
            segment: merged.segment,
        };
        let id = self.next_nonce();
        let blob = OutgoingBlob::new(ChunkKind::StartView, self.view, id, image.encode());
        self.send_blob(Destination::OtherReplicas, &blob);
        let mut acks = BTreeSet::new();
        acks.insert(self.cfg.index);
        self.start_view = Some(StartViewState {
            blob,
            acks,
            resend_at: now + self.cfg.timeouts.start_view,
            resends: 0,
            end,
            hash,
            committed: false,
            n: self.n(),
        });
        self.next_sync_at = now + self.cfg.timeouts.sync_period;
        self.synced_end = end;
        self.maybe_commit_start_view();
        self.drain_deferred(now);
    }

    pub(super) fn start_view_timer(&mut self, now: Time) {
        let Some(sv) = self.start_view.as_mut() else {
            return;
        };
        if sv.next_resend().is_none_or(|t| now < t) {
            return;
        }
        sv.resends += 1;
        sv.resend_at = now + self.cfg.timeouts.start_view;
        let blob = sv.blob.clone();
        let missing: Vec<usize> = (0..sv.n).filter(|r| !sv.acks.contains(r)).collect();
        for r in missing {
            self.send_blob(Destination::Replica(r), &blob);
        }
    }

    pub(super) fn on_start_view_reply(&mut self, now: Time, sender: usize, view: SpecViewId) {
        if !self.check_view(now, view) {
            return;
        }
        if self.status != Status::Normal || !self.am_leader() {
            return;
        }
        if let Some(sv) = self.start_view.as_mut() {
            sv.acks.insert(sender);
        }
        self.maybe_commit_start_view();
    }

    fn maybe_commit_start_view(&mut self) {
        let f = self.f();
        let Some(sv) = self.start_view.as_mut() else {
            return;
        };
        if sv.committed || sv.acks.len() < f + 1 {
            return;
        }
        sv.committed = true;
        let (end, hash) = (sv.end, sv.hash);
        if self.ledger.commit_to(end, hash) == CommitOutcome::Conflict {
            self.spec_stats.safety_alarms += 1;
        }
        self.send(
            Destination::OtherReplicas,
            Message::SyncCommit {
                view: self.view,
                slot: end,
                hash,
            },
        );
    }

    pub(super) fn on_start_view_blob(&mut self, now: Time, blob: Blob) {
        let Ok(image) = StartViewImage::decode(&blob.data) else {
            self.stats.malformed += 1;
            return;
        };
        if blob.sender != blob.view.leader(self.n()) {
            self.stats.unexpected += 1;
            return;
        }
        if blob.view < self.view {
            self.stats.stale += 1;
            return;
        }
        if blob.view == self.view && self.status == Status::Normal {
            // A resend: this replica already holds the view's log; acknowledge again.
            if !self.am_leader() {
                let view = self.view;
                self.send(
                    Destination::Replica(blob.sender),
                    Message::StartViewReply { view },
                );
            }
            return;
        }
        if blob.view > self.view || self.status == Status::Normal {
            // Joining a view this replica has not changed to yet: promise it first.
            self.start_view_change(now, blob.view);
        }
        if self.status != Status::ViewChange || self.view != blob.view {
            return;
        }
        let r = self.ledger.adopt(&image.segment, image.commit);
        match r {
            Ok(()) => self.become_follower(now),
            Err(e) => {
                if e == AdoptError::Conflict {
                    self.spec_stats.safety_alarms += 1;
                }
                let view = self.view;
                self.start_transfer(now, blob.sender, Purpose::StartView { view });
            }
        }
    }

    /// The merged log of the current view is in place: normal again.
    pub(crate) fn become_follower(&mut self, now: Time) {
        self.status = Status::Normal;
        self.last_normal_view = self.view;
        self.vc = None;
        // A state transfer asked for while changing views is answered by now.
        self.transfer = None;
        self.leader_heard = now;
        self.pending_sync = None;
        self.ledger.checkpoint();
        let (view, leader) = (self.view, self.leader());
        if leader != self.cfg.index {
            self.send(
                Destination::Replica(leader),
                Message::StartViewReply { view },
            );
        }
        self.drain_deferred(now);
    }
}
