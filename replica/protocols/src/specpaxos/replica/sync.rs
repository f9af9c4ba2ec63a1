//! Synchronization (the paper's section on periodic synchronization): every period, or
//! when a client reports divergent replies, the leader asks the followers for their prefix
//! hash at its log end. If a superquorum (the leader among them) holds the leader's prefix
//! there, that prefix is committed: the leader marks it, tells the followers (SYNC-COMMIT,
//! and again in the next SYNC), and those whose log holds it commit it too. A follower
//! whose log contradicts the committed prefix repairs itself from the leader: it rolls back
//! its divergent speculative suffix and adopts the leader's log. Without a superquorum the
//! leader reconciles: a view change it leads itself (the next epoch) merges the logs.
//!
//! A superquorum, not a majority, commits a prefix, so that a commit and a fast-path
//! completion are recognised by the same rule in the merge. The SYNC is also the leader's
//! heartbeat.

use std::collections::BTreeMap;

use super::{Purpose, SpecReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::specpaxos::ledger::CommitOutcome;
use crate::specpaxos::messages::Message;
use crate::specpaxos::types::{LogHash, SpecViewId};
use crate::time::Time;

/// A synchronization round of the leader.
#[derive(Debug, Clone)]
pub(crate) struct SyncRound {
    pub(crate) slot: u64,
    pub(crate) hash: LogHash,
    pub(crate) replies: BTreeMap<usize, Option<LogHash>>,
    pub(crate) deadline: Time,
}

impl<A: App> SpecReplica<A> {
    /// Starts a round at the current log end, unless one is running.
    pub(crate) fn start_sync(&mut self, now: Time) {
        if self.status != Status::Normal || !self.am_leader() || self.sync.is_some() {
            return;
        }
        self.ledger.checkpoint();
        let slot = self.ledger.end();
        let hash = self.ledger.hash_at(slot).unwrap_or_default();
        let commit = self.ledger.commit();
        let commit_hash = self.ledger.hash_at(commit).unwrap_or_default();
        self.send(
            Destination::OtherReplicas,
            Message::Sync {
                view: self.view,
                slot,
                hash,
                commit,
                commit_hash,
            },
        );
        self.synced_end = slot;
        self.sync = Some(SyncRound {
            slot,
            hash,
            replies: BTreeMap::new(),
            deadline: now + self.cfg.timeouts.sync_wait,
        });
        self.evaluate_sync(now);
    }

    fn evaluate_sync(&mut self, now: Time) {
        let Some(round) = &self.sync else { return };
        let matching = 1 + round
            .replies
            .values()
            .filter(|h| **h == Some(round.hash))
            .count();
        let others = round.replies.len() + 1 - matching;
        let (slot, hash) = (round.slot, round.hash);
        if matching >= self.superquorum() {
            self.sync = None;
            if self.ledger.commit_to(slot, hash) == CommitOutcome::Conflict {
                self.spec_stats.safety_alarms += 1;
            }
            self.spec_stats.sync_commits += 1;
            self.send(
                Destination::OtherReplicas,
                Message::SyncCommit {
                    view: self.view,
                    slot,
                    hash,
                },
            );
        } else if others > self.n() - self.superquorum() {
            // Enough replicas disagree that no superquorum can form.
            self.fail_sync(now);
        }
    }

    /// The round cannot commit: reconcile if anything is left uncommitted.
    pub(crate) fn fail_sync(&mut self, now: Time) {
        let Some(round) = self.sync.take() else {
            return;
        };
        self.spec_stats.sync_failures += 1;
        if round.slot > self.ledger.commit() {
            self.reconcile(now);
        }
    }

    /// A view change the leader leads again, to merge divergent logs.
    pub(crate) fn reconcile(&mut self, now: Time) {
        if self.status != Status::Normal || !self.am_leader() {
            return;
        }
        self.spec_stats.reconciliations += 1;
        let next = self.view.next_epoch();
        self.start_view_change(now, next);
    }

    /// A client saw replies that cannot form a superquorum, or none in time.
    pub(super) fn on_reconcile_request(&mut self, now: Time, view: SpecViewId) {
        // A client's view is only a hint: never join a view because a client named it.
        if view != self.view {
            self.stats.stale += 1;
            return;
        }
        if self.status == Status::Normal && self.am_leader() {
            self.start_sync(now);
        } else {
            self.stats.unexpected += 1;
        }
    }

    pub(super) fn on_sync_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: SpecViewId,
        slot: u64,
        hash: Option<LogHash>,
    ) {
        if !self.check_view(now, view) {
            return;
        }
        if self.status != Status::Normal || !self.am_leader() {
            self.stats.unexpected += 1;
            return;
        }
        match self.sync.as_mut() {
            Some(round) if round.slot == slot => {
                round.replies.insert(sender, hash);
            }
            _ => {
                self.stats.stale += 1;
                return;
            }
        }
        self.evaluate_sync(now);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_sync(
        &mut self,
        now: Time,
        sender: usize,
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
        commit: u64,
        commit_hash: LogHash,
    ) {
        let _ = hash;
        if !self.check_view(now, view) {
            return;
        }
        if sender != self.leader() || self.am_leader() {
            self.stats.unexpected += 1;
            return;
        }
        if self.status == Status::ViewChange {
            // The view started without this replica: it missed START-VIEW.
            self.start_transfer(now, sender, Purpose::StartView { view });
            return;
        }
        if self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        if commit > self.ledger.commit() {
            self.apply_commit(now, commit, commit_hash);
        }
        self.ledger.checkpoint();
        if slot <= self.ledger.end() {
            self.pending_sync = None;
            self.send_sync_reply(slot);
        } else {
            self.pending_sync = Some(slot);
        }
    }

    pub(crate) fn send_sync_reply(&mut self, slot: u64) {
        let hash = self.ledger.hash_at(slot);
        let leader = self.leader();
        self.send(
            Destination::Replica(leader),
            Message::SyncReply {
                view: self.view,
                slot,
                hash,
            },
        );
    }

    pub(super) fn on_sync_commit(
        &mut self,
        now: Time,
        sender: usize,
        view: SpecViewId,
        slot: u64,
        hash: LogHash,
    ) {
        if !self.check_view(now, view) {
            return;
        }
        if sender != self.leader() || self.am_leader() {
            self.stats.unexpected += 1;
            return;
        }
        if self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        self.apply_commit(now, slot, hash);
    }

    /// The leader's log is committed up to `slot`: commit it here too, or repair.
    fn apply_commit(&mut self, now: Time, slot: u64, hash: LogHash) {
        let r = self.ledger.commit_to(slot, hash);
        match r {
            CommitOutcome::Committed => {}
            CommitOutcome::Beyond | CommitOutcome::Mismatch => {
                let leader = self.leader();
                self.start_transfer(now, leader, Purpose::Repair { slot, hash });
            }
            CommitOutcome::Conflict => {
                self.spec_stats.safety_alarms += 1;
            }
        }
    }
}
