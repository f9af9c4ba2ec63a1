//! State transfer and recovery after memory loss.
//!
//! A state image holds nothing but chosen state (the application and client table after
//! the image's commit point), so any replica whose commit point is high enough may serve
//! one, and a replica may take any image that is ahead of it: it keeps its own votes above
//! the image's commit point, so what it promised as an acceptor stays true.
//!
//! A replica that lost its memory lost its votes too, and in Fast Paxos the leader does not
//! know every vote (fast votes go straight from clients to acceptors), so copying the
//! leader's state is not enough: a forgotten vote can be the one that made a fast quorum.
//! The recovering replica asks a classic quorum for the recovery epochs they know of it,
//! takes the next epoch and announces it, and once a classic quorum has acknowledged the
//! epoch it asks for a view above every view those replicas joined. It takes part again
//! only in such a view whose phase-1 quorum all knew its new epoch when they reported
//! (START-VIEW says so: `vouched`), adopting its START-VIEW (that view's phase 1 ran without
//! it, so its lost votes were accounted for by others), and only once it has copied the
//! chosen state up to that START-VIEW's commit point. Until then it votes in nothing,
//! reports nothing and acknowledges nothing.
//!
//! The epoch is the fence against its own past: a VIEW-CHANGE it sent before it lost its
//! memory (for any view, however high) carries an older epoch, and a leader counts a report
//! only if its epoch is at least the highest the leader knows for the sender, learning
//! epochs from RECOVERY and from every report (each carries what its sender knows). A view
//! formed after the one the replica rejoined has a phase-1 quorum that meets that view's
//! (classic quorums of the other replicas intersect), so it hears of the new epoch and
//! cannot count the old report: the replica never breaks a promise it forgot.

use std::collections::BTreeMap;

use super::{FastPaxosReplica, FastPaxosTimeouts, Status};
use crate::Destination;
use crate::app::App;
use crate::fastpaxos::blob::Blob;
use crate::fastpaxos::images::StateImage;
use crate::fastpaxos::messages::{ChunkKind, Message};
use crate::kit::state_transfer::{self, Served, Step, other_than};
use crate::time::Time;

/// A state request's need is the commit point the image must reach. Images hold chosen
/// state only, so any replica far enough along may answer, a recovering replica's request
/// included.
impl state_transfer::Need for u64 {
    fn for_recovery(&self) -> bool {
        false
    }
}

pub(crate) type Transfer = state_transfer::Transfer<u64>;

/// The image served last, named by the nonce of the request it answered.
pub(crate) type ServedImage = Served<u64, u64>;

/// A replica recovering from memory loss.
#[derive(Debug, Clone)]
pub(crate) struct Amnesia {
    pub(crate) nonce: u64,
    /// The epoch it recovers under, once a classic quorum said which ones they know.
    pub(crate) epoch: Option<u64>,
    /// RECOVERY-RESPONSEs of the current step: the view each responder had joined, and the
    /// epoch it knows of this replica.
    pub(crate) responses: BTreeMap<usize, (u64, u64)>,
    /// Once a classic quorum answered: the first view it may take part in.
    pub(crate) min_view: Option<u64>,
    /// The view whose START-VIEW it adopted, and the commit point it must reach.
    pub(crate) adopted: Option<(u64, u64)>,
    pub(crate) resend_at: Time,
    /// When it began waiting for the current view to start.
    pub(crate) target_since: Time,
}

impl Amnesia {
    pub(crate) fn deadline(&self, t: &FastPaxosTimeouts) -> Option<Time> {
        match (self.min_view, self.adopted) {
            (None, _) => Some(self.resend_at),
            (Some(_), None) => Some(self.resend_at.min(self.target_since + t.leader_timeout)),
            (Some(_), Some(_)) => None,
        }
    }
}

impl<A: App> FastPaxosReplica<A> {
    /// Copies chosen state up to at least `min_commit`, from `source` first (the leader if
    /// none), then from the others in turn.
    pub(crate) fn start_transfer(&mut self, now: Time, min_commit: u64, source: Option<usize>) {
        if self.commit >= min_commit || self.n() == 1 {
            return;
        }
        if self.transfer.as_ref().is_some_and(|t| t.need >= min_commit) {
            return;
        }
        let source = source.unwrap_or(self.leader_of(self.view)) % self.n();
        let source = other_than(self.me(), source, self.n());
        let nonce = self.next_nonce();
        let resend = self.cfg.timeouts.state_transfer;
        self.transfer = Some(Transfer::new(now, resend, nonce, source, min_commit));
        self.send_state_request();
    }

    fn send_state_request(&mut self) {
        let Some(t) = &self.transfer else { return };
        let (source, nonce, min_commit) = (t.source, t.nonce, t.need);
        let view = self.view;
        self.send_plain(
            Destination::Replica(source),
            Message::StateRequest {
                view,
                nonce,
                min_commit,
            },
        );
    }

    pub(crate) fn transfer_timer(&mut self, now: Time) {
        if self
            .transfer
            .as_ref()
            .is_some_and(|t| self.commit >= t.need)
        {
            self.transfer = None;
            self.after_catch_up(now);
            return;
        }
        let (n, me, resend) = (self.n(), self.me(), self.cfg.timeouts.state_transfer);
        if Transfer::on_timer(&mut self.transfer, now, resend, n, me) == Step::AskAgain {
            self.send_state_request();
        }
    }

    pub(crate) fn on_state_request(&mut self, sender: usize, nonce: u64, min_commit: u64) {
        if self.status == Status::Recovering || self.commit < min_commit {
            self.stats.stale += 1;
            return;
        }
        let mut served = self.served_image.take();
        let blob = Served::answer(&mut served, sender, nonce, self.view, nonce, || {
            let mut machine = Vec::new();
            self.machine.snapshot(&mut machine);
            let commit = self.commit;
            StateImage { commit, machine }.encode()
        });
        self.served_image = served;
        self.send_blob(Destination::Replica(sender), &blob);
    }

    pub(crate) fn on_state_blob(&mut self, now: Time, blob: Blob) {
        let Some(t) = self.transfer.clone() else {
            self.stats.stale += 1;
            return;
        };
        let Some(image) = t.answer(&blob, &mut self.stats, StateImage::decode) else {
            return;
        };
        let min_commit = t.need;
        if image.commit < min_commit || image.commit <= self.commit {
            self.stats.stale += 1;
            return;
        }
        if self.machine.restore(&image.machine).is_err() {
            self.stats.malformed += 1;
            return;
        }
        self.commit = image.commit;
        self.log.truncate_before(image.commit + 1);
        self.log_start = image.commit + 1;
        self.next_fast = self.next_fast.max(image.commit + 1);
        self.transfer = None;
        self.stats.state_transfers += 1;
        self.rebuild_pending();
        self.advance_commit();
        self.after_catch_up(now);
    }

    /// Carries on with what waited for the chosen state: a view change this replica leads,
    /// or its recovery.
    fn after_catch_up(&mut self, now: Time) {
        if self.status == Status::ViewChange
            && self.vc.as_ref().is_some_and(|vc| vc.awaiting.is_some())
        {
            if let Some(vc) = self.vc.as_mut() {
                vc.awaiting = None;
            }
            self.try_finish_view_change(now);
        }
        if self.status == Status::Recovering {
            if let Some((_, need)) = self.amnesia.as_ref().and_then(|a| a.adopted) {
                if self.commit >= need {
                    self.finish_recovery(now);
                } else if self.transfer.is_none() {
                    self.start_transfer(now, need, None);
                }
            }
        }
    }

    pub(crate) fn start_recovery(&mut self, now: Time, nonce: u64) {
        self.status = Status::Recovering;
        self.amnesia = Some(Amnesia {
            nonce,
            epoch: None,
            responses: BTreeMap::new(),
            min_view: None,
            adopted: None,
            resend_at: now + self.cfg.timeouts.state_transfer,
            target_since: now,
        });
        self.send_plain(
            Destination::OtherReplicas,
            Message::Recovery { nonce, epoch: 0 },
        );
    }

    pub(crate) fn recovery_timer(&mut self, now: Time) {
        let t = self.cfg.timeouts;
        let view = self.view;
        let Some(a) = self.amnesia.as_mut() else {
            return;
        };
        let (nonce, epoch) = (a.nonce, a.epoch.unwrap_or(0));
        match (a.min_view, a.adopted) {
            (None, _) if now >= a.resend_at => {
                a.resend_at = now + t.state_transfer;
                self.send_plain(
                    Destination::OtherReplicas,
                    Message::Recovery { nonce, epoch },
                );
            }
            (Some(_), None) if now >= a.target_since + t.leader_timeout => {
                self.amnesiac_follow(now, view + 1);
            }
            (Some(_), None) if now >= a.resend_at => {
                a.resend_at = now + t.view_change;
                // Keep announcing the epoch: the view's phase-1 quorum must all know it.
                self.send_plain(
                    Destination::OtherReplicas,
                    Message::Recovery { nonce, epoch },
                );
                self.send_plain(
                    Destination::OtherReplicas,
                    Message::ViewChangeRequest { view },
                );
            }
            _ => {}
        }
    }

    /// A recovering replica handles answers to its recovery and requests to join a view
    /// itself, and lets only chunks of START-VIEWs and state images on to the normal
    /// dispatch (returns whether `m` goes on).
    pub(super) fn recovering_admits(&mut self, now: Time, sender: usize, m: &Message<'_>) -> bool {
        match *m {
            Message::RecoveryResponse { view, nonce, epoch } => {
                self.on_recovery_response(now, sender, view, nonce, epoch);
                false
            }
            Message::ViewChangeRequest { view } => {
                if self.amnesia.as_ref().is_some_and(|a| a.min_view.is_some()) && view > self.view {
                    self.amnesiac_follow(now, view);
                }
                false
            }
            Message::Chunk {
                kind: ChunkKind::StartView | ChunkKind::State,
                ..
            } => true,
            _ => {
                self.stats.stale += 1;
                false
            }
        }
    }

    /// Recovery in two steps, each answered by a classic quorum of others: which epochs
    /// they know of this replica (it takes the next one), then, the epoch announced, which
    /// views they joined (it asks for a view above all of them).
    fn on_recovery_response(
        &mut self,
        now: Time,
        sender: usize,
        view: u64,
        nonce: u64,
        known: u64,
    ) {
        let qc = self.q.classic;
        let Some(a) = self.amnesia.as_mut() else {
            return;
        };
        if nonce != a.nonce || a.min_view.is_some() {
            self.stats.stale += 1;
            return;
        }
        match a.epoch {
            Some(e) if known == e => {
                a.responses.insert(sender, (view, known));
            }
            // An answer to the first step, late.
            Some(e) if known < e => {
                self.stats.stale += 1;
                return;
            }
            // None yet, or a responder knows a later epoch than the one announced: this
            // replica recovers under one above it.
            _ => {
                a.responses.insert(sender, (view, known));
                let highest = a.responses.values().map(|&(_, e)| e).max().unwrap_or(0);
                if a.epoch.is_none() && a.responses.len() < qc {
                    return;
                }
                let epoch = highest + 1;
                a.epoch = Some(epoch);
                a.responses.clear();
                a.resend_at = now + self.cfg.timeouts.state_transfer;
                self.incarnation = epoch;
                let me = self.me();
                self.learn_epoch(me, epoch);
                self.send_plain(
                    Destination::OtherReplicas,
                    Message::Recovery { nonce, epoch },
                );
                return;
            }
        }
        // A classic quorum of others acknowledged the epoch: one of them joined every view
        // this replica could have voted in before it lost its memory.
        if a.responses.len() >= qc {
            let newest = a.responses.values().map(|&(v, _)| v).max().unwrap_or(0);
            a.min_view = Some(newest + 1);
            self.amnesiac_follow(now, newest + 1);
        }
    }

    /// A recovering replica moves to view `target` (or the first one after it that another
    /// replica leads: it cannot lead before it has recovered), asking the others to join.
    pub(crate) fn amnesiac_follow(&mut self, now: Time, target: u64) {
        let n = self.n() as u64;
        let me = self.me();
        let view_change = self.cfg.timeouts.view_change;
        let Some(a) = self.amnesia.as_mut() else {
            return;
        };
        let Some(min_view) = a.min_view else { return };
        let mut target = target.max(min_view);
        if n > 1 {
            while (target % n) as usize == me {
                target += 1;
            }
        }
        a.adopted = None;
        a.target_since = now;
        a.resend_at = now + view_change;
        self.view = target;
        self.stats.view_changes += 1;
        crate::fastpaxos::blob::forget_before(&mut self.assembler, target);
        self.send_plain(
            Destination::OtherReplicas,
            Message::ViewChangeRequest { view: target },
        );
    }

    /// Whether a recovering replica may adopt the START-VIEW of `view` that `vouched` for
    /// the replicas' epochs: a view it asked for, whose phase-1 quorum all knew its epoch.
    pub(crate) fn amnesiac_may_join(&self, view: u64, vouched: &[u64]) -> bool {
        let Some(a) = self.amnesia.as_ref() else {
            return false;
        };
        let fenced = a
            .epoch
            .is_some_and(|e| vouched.get(self.me()).is_some_and(|&v| v >= e));
        fenced && a.min_view.is_some_and(|m| view >= m)
    }

    /// A recovering replica adopted the START-VIEW of `view`: it recovers once its chosen
    /// state reaches `need`.
    pub(crate) fn amnesiac_adopted(&mut self, now: Time, view: u64, need: u64, leader: usize) {
        if let Some(a) = self.amnesia.as_mut() {
            a.adopted = Some((view, need));
        }
        if self.commit >= need {
            self.finish_recovery(now);
        } else {
            self.start_transfer(now, need, Some(leader));
        }
    }

    fn finish_recovery(&mut self, now: Time) {
        self.counters.recoveries += 1;
        self.status = Status::Normal;
        let me = self.me();
        self.incarnation = self.incarnation.max(self.epochs[me]);
        self.amnesia = None;
        self.leader_heard = now;
        let (view, commit) = (self.view, self.commit);
        let leader = self.leader_of(view);
        self.send_plain(
            Destination::Replica(leader),
            Message::SyncReply { view, commit },
        );
    }
}
