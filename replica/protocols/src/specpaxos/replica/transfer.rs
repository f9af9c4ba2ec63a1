//! State transfer and recovery after memory loss.
//!
//! A replica asks a peer for its log after the asker's commit point (the asker has the
//! state there), or, if the peer's log no longer reaches back that far, for its base
//! snapshot and log. Any up-to-date replica can serve: the asker starts with the replica
//! that knows (the leader, or the one holding the committed prefix) and moves on to the
//! next on each timeout, accepting an image only if it holds what the asker needs.
//!
//! Recovery follows Viewstamped Replication Revisited — the replica takes no part until it
//! has caught up, and takes its state from the leader of the latest view among f + 1
//! answers — with one change that speculation requires: a request can complete in the fast
//! path without the leader holding it, so the leader's log at any moment may lack a request
//! the recovering replica helped complete and then forgot. The leader therefore serves a
//! recovery only from a view it formed (merged) after it heard of that recovery; the merge
//! recovers every such request from the other replicas' logs. If its current view is older,
//! it reconciles first.

use super::{SpecReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::kit::image_codec::decode_or_count;
use crate::kit::state_transfer::{self, RecoveryPoll, Served, Step};
use crate::specpaxos::blob::{Blob, ChunkIn};
use crate::specpaxos::images::StateImage;
use crate::specpaxos::ledger::AdoptError;
use crate::specpaxos::messages::{ChunkKind, Message};
use crate::specpaxos::types::{LogHash, SpecViewId};
use crate::time::Time;

/// Why a replica copies state, which decides what image it may take: an image must never
/// make a replica drop an entry that may have completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The leader committed a prefix this log contradicts or lacks (`slot`, `hash`).
    Repair { slot: u64, hash: LogHash },
    /// The replica could not adopt START-VIEW of `view` in place.
    StartView { view: SpecViewId },
    /// The new leader lacks the committed prefix (`slot`, `hash`) its merge starts from.
    NewLeader { slot: u64, hash: LogHash },
    /// Lost its memory; needs the state of the leader of `view` or a later view.
    Recovery { view: SpecViewId },
}

impl state_transfer::Need for Purpose {
    fn for_recovery(&self) -> bool {
        matches!(self, Purpose::Recovery { .. })
    }
}

pub(crate) type Transfer = state_transfer::Transfer<Purpose>;

pub(crate) type Recovery = RecoveryPoll<SpecViewId>;

/// The image served last, named by the nonce of the request it answered and the view it
/// was cut in (a later view's log may differ).
pub(crate) type ServedImage = Served<(u64, SpecViewId), SpecViewId>;

/// A recovery heard of: its nonce, and the view (formed after hearing of it) from which
/// this replica, as leader, may serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fence {
    pub(crate) nonce: u64,
    pub(crate) ready: Option<SpecViewId>,
}

impl<A: App> SpecReplica<A> {
    pub(crate) fn start_transfer(&mut self, now: Time, source: usize, purpose: Purpose) {
        if let Some(t) = &self.transfer {
            let same_kind = matches!(
                (t.need, purpose),
                (Purpose::Repair { .. }, Purpose::Repair { .. })
            );
            if t.need == purpose || same_kind {
                return;
            }
        }
        if matches!(purpose, Purpose::Repair { .. }) {
            self.spec_stats.repairs += 1;
        }
        // A recovery's requests carry its own nonce: the leader recognises the recovery
        // it fenced, whichever request of it arrives.
        let nonce = match (purpose, &self.recovery) {
            (Purpose::Recovery { .. }, Some(r)) => r.nonce,
            _ => self.next_nonce(),
        };
        let resend = self.cfg.timeouts.state_transfer;
        self.transfer = Some(Transfer::new(now, resend, nonce, source, purpose));
        self.send_state_request();
    }

    fn send_state_request(&mut self) {
        let Some(t) = &self.transfer else { return };
        let (view, recovery) = match t.need {
            Purpose::Repair { .. } => (self.view, false),
            Purpose::StartView { view } => (view, false),
            Purpose::NewLeader { .. } => (SpecViewId::INITIAL, false),
            Purpose::Recovery { view } => (view, true),
        };
        let from = if recovery { 0 } else { self.ledger.commit() };
        let (source, nonce) = (t.source, t.nonce);
        self.send(
            Destination::Replica(source),
            Message::StateRequest {
                view,
                nonce,
                from,
                recovery,
            },
        );
    }

    pub(super) fn transfer_timer(&mut self, now: Time) {
        let (n, me, resend) = (self.n(), self.cfg.index, self.cfg.timeouts.state_transfer);
        match Transfer::on_timer(&mut self.transfer, now, resend, n, me) {
            Step::Wait => {}
            Step::AskAgain => self.send_state_request(),
            // The leader did not answer: it may be gone. Ask everyone for the latest view
            // again rather than trusting another replica's state.
            Step::Abandoned => self.recovery.iter_mut().for_each(|r| r.restart(now)),
        }
    }

    pub(super) fn on_state_request(
        &mut self,
        now: Time,
        sender: usize,
        min_view: SpecViewId,
        nonce: u64,
        from: u64,
        recovery: bool,
    ) {
        if recovery {
            let fence = self
                .fences
                .entry(sender)
                .or_insert(Fence { nonce, ready: None });
            if fence.nonce != nonce {
                *fence = Fence { nonce, ready: None };
            }
            let ready = fence.ready;
            if self.status != Status::Normal || !self.am_leader() {
                return;
            }
            if ready != Some(self.view) {
                // This view may predate what the recovering replica forgot.
                self.reconcile(now);
                return;
            }
        } else if self.last_normal_view < min_view || self.transfer.is_some() {
            return;
        }
        let mut served = self.served.take();
        let view = self.last_normal_view;
        let blob = Served::answer(&mut served, sender, (nonce, view), view, nonce, || {
            self.state_image(from).encode()
        });
        self.served = served;
        self.send_blob(Destination::Replica(sender), &blob);
    }

    /// This replica's log from `from`, with the snapshot it starts from when the log no
    /// longer reaches back that far.
    fn state_image(&self, from: u64) -> StateImage {
        match self.ledger.segment_from(from) {
            Some(segment) => StateImage {
                view: self.last_normal_view,
                commit: self.ledger.commit(),
                segment,
                snapshot: None,
            },
            None => {
                let (snapshot, segment) = self.ledger.full_image();
                StateImage {
                    view: self.last_normal_view,
                    commit: self.ledger.commit(),
                    segment,
                    snapshot: Some(snapshot),
                }
            }
        }
    }

    pub(super) fn on_chunk(&mut self, now: Time, sender: usize, chunk: ChunkIn<'_>) {
        let Some(blob) = self.assembler.add(sender, chunk) else {
            return;
        };
        match blob.kind {
            ChunkKind::ViewChange => self.on_view_change_blob(now, blob),
            ChunkKind::StartView => self.on_start_view_blob(now, blob),
            ChunkKind::State => self.on_state_blob(now, blob),
        }
    }

    fn on_state_blob(&mut self, now: Time, blob: Blob) {
        let Some(transfer) = self.transfer.clone() else {
            self.stats.stale += 1;
            return;
        };
        if !transfer.answered_by(&blob) {
            self.stats.stale += 1;
            return;
        }
        // An image answers the situation at the time of the request; if the replica has
        // moved on since (adopted START-VIEW meanwhile, voted in the new view), taking it
        // could replace entries it has answered clients about.
        let still_needed = match transfer.need {
            Purpose::Recovery { .. } => self.status == Status::Recovering,
            Purpose::Repair { slot, hash } => {
                self.status == Status::Normal && self.ledger.hash_at(slot) != Some(hash)
            }
            Purpose::StartView { view } => self.status == Status::ViewChange && self.view == view,
            Purpose::NewLeader { .. } => {
                self.status == Status::ViewChange
                    && self.am_leader()
                    && self.vc.as_ref().is_some_and(|vc| vc.merged.is_some())
            }
        };
        if !still_needed {
            self.transfer = None;
            self.stats.stale += 1;
            return;
        }
        let Some(image) = decode_or_count(&blob.data, &mut self.stats, StateImage::decode) else {
            return;
        };
        let holds = |slot: u64, hash: LogHash| image.segment.hash_at(slot) == Some(hash);
        let acceptable = match transfer.need {
            Purpose::Recovery { view } => {
                blob.sender == image.view.leader(self.n()) && image.view >= view
            }
            Purpose::Repair { slot, hash } => {
                self.status == Status::Normal
                    && image.view == self.view
                    && (blob.sender == self.leader() || holds(slot, hash))
            }
            Purpose::StartView { view } => image.view >= view,
            Purpose::NewLeader { slot, hash } => {
                holds(slot, hash) || (image.segment.prev_slot >= slot && image.commit >= slot)
            }
        };
        if !acceptable {
            // Taking it could make this replica drop what it must keep.
            self.stats.stale += 1;
            return;
        }
        let applied = match &image.snapshot {
            Some(snapshot) => self
                .ledger
                .install(snapshot, &image.segment, image.commit)
                .map_err(|_| AdoptError::Mismatch),
            None => self.ledger.adopt(&image.segment, image.commit),
        };
        if let Err(e) = applied {
            if e == AdoptError::Conflict {
                self.spec_stats.safety_alarms += 1;
            } else {
                // A well-formed image that does not line up with this log (cut from a state
                // this replica has moved past, or a snapshot that does not fit): stale, and
                // the transfer stays open for a better one.
                self.stats.stale += 1;
            }
            return;
        }
        self.transfer = None;
        self.stats.state_transfers += 1;
        match transfer.need {
            Purpose::Recovery { .. } => {
                self.recovery = None;
                self.status = Status::Normal;
                self.view = image.view;
                self.last_normal_view = image.view;
                self.leader_heard = now;
                self.ledger.checkpoint();
            }
            Purpose::Repair { .. } => {}
            Purpose::StartView { .. } => {
                self.view = self.view.max(image.view);
                self.become_follower(now);
            }
            Purpose::NewLeader { .. } => self.continue_as_new_leader(now),
        }
    }

    pub(crate) fn start_recovery(&mut self, now: Time, nonce: u64) {
        self.status = Status::Recovering;
        self.recovery = Some(Recovery::new(nonce, now + self.cfg.timeouts.state_transfer));
        self.send(Destination::OtherReplicas, Message::Recovery { nonce });
    }

    pub(super) fn recovery_timer(&mut self, now: Time) {
        if self.transfer.is_some() {
            return;
        }
        let Some(r) = self.recovery.as_mut() else {
            return;
        };
        if r.resend_due(now, self.cfg.timeouts.state_transfer) {
            let nonce = r.nonce;
            self.send(Destination::OtherReplicas, Message::Recovery { nonce });
        }
    }

    pub(super) fn on_recovery(&mut self, now: Time, sender: usize, nonce: u64) {
        let fence = self
            .fences
            .entry(sender)
            .or_insert(Fence { nonce, ready: None });
        if fence.nonce != nonce {
            *fence = Fence { nonce, ready: None };
        }
        if self.status != Status::Normal {
            return;
        }
        let view = self.view;
        self.send(
            Destination::Replica(sender),
            Message::RecoveryResponse { view, nonce },
        );
        if sender == self.leader() {
            // The leader lost its memory: replace it now rather than after a timeout.
            self.start_view_change(now, view.next_leader());
        }
    }

    /// A recovering replica handles answers to its recovery itself and lets only chunks of
    /// state images on to the normal dispatch (returns whether `m` goes on).
    pub(super) fn recovering_admits(&mut self, now: Time, sender: usize, m: &Message<'_>) -> bool {
        match *m {
            Message::RecoveryResponse { view, nonce } => {
                if let Some(r) = self.recovery.as_mut() {
                    if r.record(sender, nonce, view, &mut self.stats) {
                        self.maybe_finish_recovery(now);
                    }
                }
                false
            }
            Message::Chunk {
                kind: ChunkKind::State,
                ..
            } => true,
            _ => {
                self.stats.stale += 1;
                false
            }
        }
    }

    /// With f + 1 answers, the latest view among them is at least as recent as any view
    /// this replica took part in before it lost its memory.
    fn maybe_finish_recovery(&mut self, now: Time) {
        if self.transfer.is_some() {
            return;
        }
        let Some(latest) = self.recovery.as_ref().and_then(|r| r.latest(self.f() + 1)) else {
            return;
        };
        let leader = latest.leader(self.n());
        // If this replica leads that view, the others must first move on without it (they
        // do when they hear its RECOVERY).
        if leader != self.cfg.index {
            self.start_transfer(now, leader, Purpose::Recovery { view: latest });
        }
    }
}
