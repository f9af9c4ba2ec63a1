//! Gap agreement (NOPaxos section 5.2.2): the leader decides whether a slot whose OUM
//! message was lost holds the request (if some replica has it) or a NO-OP, and no replica
//! moves past the slot until it knows.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{NopaxosReplica, ReplicaTimeouts, Status};
use crate::app::App;
use crate::protocol::Destination;
use crate::protocol::nopaxos::messages::{GapAnswer, Message};
use crate::protocol::nopaxos::types::{Entry, ViewId};
use crate::protocol::pending::RttEstimator;
use crate::time::Time;

/// When gap messages are retried. Every replica that waits on a gap holds up every later
/// request (the leader does not run ahead of an undecided slot; a follower does not skip
/// one), so a lost gap message must be retried after about a round trip between replicas,
/// not after a fixed `gap_request_ms` (10 ms, the original's) that under a few percent of
/// loss kept some replica stalled most of the time. The retry wait is an RFC 6298 estimate
/// over replica round trips (GAP-FIND to its reply, GAP-REQUEST to GAP-REPLY, GAP-COMMIT to
/// its acknowledgement; Karn's rule: never a retried one), at least `gap_request_min_ms`,
/// at most the configured wait, doubling on each retry.
#[derive(Debug, Clone)]
pub(crate) struct GapTimer {
    rtt: RttEstimator,
    /// The follower's outstanding GAP-REQUEST: slot, when first sent, whether retried.
    probe: Option<(u64, Time, bool)>,
    /// Gap messages sent again after their wait ran out.
    pub(crate) retries: u64,
}

impl GapTimer {
    pub(crate) fn new(t: &ReplicaTimeouts) -> GapTimer {
        GapTimer {
            rtt: RttEstimator::new(t.gap_request_min, t.gap_request),
            probe: None,
            retries: 0,
        }
    }

    /// The wait before retrying a gap message whose configured wait is `cap`.
    pub(crate) fn wait(&self, cap: Duration) -> Duration {
        self.rtt.rto_within(cap)
    }

    fn retried(&mut self) {
        self.retries += 1;
        self.rtt.back_off();
    }
}

/// The leader's agreement on one slot.
#[derive(Debug, Clone)]
pub(crate) struct LeaderGap {
    pub(crate) slot: u64,
    pub(crate) phase: GapPhase,
    /// When to retry (the search or the commit) or, for the search, give up on it.
    pub(crate) deadline: Time,
    /// When this phase's first message went out, and whether it was sent again since.
    started: Time,
    resent: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum GapPhase {
    /// Asking the other replicas whether one of them received the request.
    Finding { answered: BTreeSet<usize> },
    /// A NO-OP is in the leader's log; waiting for f replicas to acknowledge it.
    Committing { acks: BTreeSet<usize> },
}

impl<A: App> NopaxosReplica<A> {
    pub(super) fn start_leader_gap(&mut self, now: Time, slot: u64) {
        self.send(
            Destination::OtherReplicas,
            Message::GapFind {
                view: self.view,
                slot,
            },
        );
        self.gap = Some(LeaderGap {
            slot,
            phase: GapPhase::Finding {
                answered: BTreeSet::new(),
            },
            deadline: now + self.gap_timer.wait(self.cfg.timeouts.gap_request),
            started: now,
            resent: false,
        });
    }

    fn commit_noop(&mut self, now: Time, slot: u64) {
        tracing::debug!(replica = self.cfg.index, slot, "gap: committing a NO-OP");
        self.append_and_apply(now, Entry::NoOp);
        self.send(
            Destination::OtherReplicas,
            Message::GapCommit {
                view: self.view,
                slot,
            },
        );
        self.gap = Some(LeaderGap {
            slot,
            phase: GapPhase::Committing {
                acks: BTreeSet::new(),
            },
            deadline: now + self.gap_timer.wait(self.cfg.timeouts.gap_commit),
            started: now,
            resent: false,
        });
        if self.f() == 0 {
            self.gap = None;
        }
    }

    pub(super) fn leader_gap_timer(&mut self, now: Time) {
        let Some(gap) = &self.gap else { return };
        if now < gap.deadline {
            return;
        }
        let (slot, started) = (gap.slot, gap.started);
        match gap.phase {
            // The search is bounded by `gap_request` in all, as before; within it, peers
            // whose answer went missing are asked again after a round trip or so.
            GapPhase::Finding { .. } => {
                let give_up = started + self.cfg.timeouts.gap_request;
                if now >= give_up {
                    self.commit_noop(now, slot);
                    return;
                }
                self.send(
                    Destination::OtherReplicas,
                    Message::GapFind {
                        view: self.view,
                        slot,
                    },
                );
                self.gap_timer.retried();
                let next = now + self.gap_timer.wait(self.cfg.timeouts.gap_request);
                if let Some(g) = self.gap.as_mut() {
                    g.deadline = next.min(give_up);
                    g.resent = true;
                }
            }
            GapPhase::Committing { .. } => {
                self.send(
                    Destination::OtherReplicas,
                    Message::GapCommit {
                        view: self.view,
                        slot,
                    },
                );
                self.gap_timer.retried();
                let next = now + self.gap_timer.wait(self.cfg.timeouts.gap_commit);
                if let Some(g) = self.gap.as_mut() {
                    g.deadline = next;
                    g.resent = true;
                }
            }
        }
    }

    pub(super) fn on_gap_find(&mut self, now: Time, sender: usize, view: ViewId, slot: u64) {
        if !self.check_view(now, view) || self.status != Status::Normal {
            return;
        }
        if sender == self.leader() {
            self.leader_heard = now;
        }
        let entry = match self.log.get(slot) {
            Some(Entry::Request(r)) => Some(Entry::Request(r.clone())),
            // Not reached yet and not known lost here: the message may be on its way or
            // held behind an earlier gap. "Not here" would let the leader NO-OP a request
            // this replica is about to log, costing its client a resend; silence makes the
            // leader ask again after a round trip or so (within gap_request_ms in all).
            None if slot > self.log.end() && self.blocked.is_none_or(|(b, _)| b != slot) => {
                return;
            }
            _ => None,
        };
        self.send(
            Destination::Replica(sender),
            Message::GapFindReply {
                view: self.view,
                slot,
                entry,
            },
        );
    }

    pub(super) fn on_gap_find_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        slot: u64,
        entry: Option<Entry>,
    ) {
        if !self.check_view(now, view) || !self.am_leader() {
            return;
        }
        let Some(gap) = self.gap.as_mut() else { return };
        if gap.slot != slot {
            return;
        }
        let GapPhase::Finding { answered } = &mut gap.phase else {
            return;
        };
        if !gap.resent {
            self.gap_timer.rtt.sample(now.saturating_since(gap.started));
        }
        answered.insert(sender);
        let everyone = answered.len() + 1 >= self.cfg.n();
        match entry {
            Some(entry @ Entry::Request(_)) => {
                // A peer has it: the slot holds the request, as if it had arrived.
                self.gap = None;
                self.append_and_apply(now, entry);
            }
            _ if everyone => self.commit_noop(now, slot),
            _ => {}
        }
    }

    pub(super) fn on_gap_commit_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        slot: u64,
    ) {
        if !self.check_view(now, view) || !self.am_leader() {
            return;
        }
        let f = self.f();
        let Some(gap) = self.gap.as_mut() else { return };
        if gap.slot != slot {
            return;
        }
        if let GapPhase::Committing { acks } = &mut gap.phase {
            if !gap.resent {
                self.gap_timer.rtt.sample(now.saturating_since(gap.started));
            }
            acks.insert(sender);
            if acks.len() >= f {
                self.gap = None;
            }
        }
    }

    /// A follower's request for a slot it missed.
    pub(super) fn on_gap_request(&mut self, now: Time, sender: usize, view: ViewId, slot: u64) {
        if !self.check_view(now, view) || !self.am_leader() || self.status != Status::Normal {
            return;
        }
        let answer = if slot < self.log.start() {
            GapAnswer::Truncated
        } else {
            match self.log.get(slot) {
                Some(entry) => GapAnswer::Entry(entry.clone()),
                // Not decided here yet: the follower asks again.
                None => return,
            }
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

    /// A follower waits at `slot` until the leader says what it holds.
    pub(super) fn block_on(&mut self, now: Time, slot: u64) {
        self.blocked = Some((
            slot,
            now + self.gap_timer.wait(self.cfg.timeouts.gap_request),
        ));
        self.gap_timer.probe = Some((slot, now, false));
        self.request_slot(slot);
    }

    pub(super) fn request_slot(&mut self, slot: u64) {
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
        let entry = match answer {
            GapAnswer::Truncated => {
                self.blocked = None;
                self.start_transfer(now, self.view);
                return;
            }
            GapAnswer::Entry(e) => e,
        };
        if slot == self.log.end() + 1 {
            if self.blocked.is_some_and(|(b, _)| b == slot) {
                self.blocked = None;
            }
            self.accept_at(now, slot, entry);
            if self.blocked.is_none() && self.catch_up_to > self.log.end() {
                self.block_on(now, self.log.end() + 1);
            }
        } else if slot <= self.log.end() && slot > self.exec_point && entry.is_noop() {
            self.log.set_noop(slot);
        }
    }

    /// The leader committed a NO-OP at `slot`.
    pub(super) fn on_gap_commit(&mut self, now: Time, sender: usize, view: ViewId, slot: u64) {
        if !self.check_view(now, view) || sender != self.leader() || self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        if slot <= self.log.end() {
            if slot > self.exec_point {
                self.log.set_noop(slot);
            }
        } else if slot == self.log.end() + 1 && self.blocked.is_some_and(|(b, _)| b == slot) {
            self.blocked = None;
            self.append_and_apply(now, Entry::NoOp);
        } else if slot - self.log.end() <= self.cfg.receiver.max_gap {
            // Not reached yet: when its OUM message or drop comes, it is a NO-OP.
            self.noops_ahead.insert(slot);
        } else {
            self.stats.too_far_ahead += 1;
            return;
        }
        self.send(
            Destination::Replica(sender),
            Message::GapCommitReply {
                view: self.view,
                slot,
            },
        );
    }
}
