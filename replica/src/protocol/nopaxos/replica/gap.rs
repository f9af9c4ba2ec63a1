//! Gap agreement (NOPaxos section 5.2.2): the leader decides whether a slot whose OUM
//! message was lost holds the request (if some replica has it) or a NO-OP, and no replica
//! moves past the slot until it knows.

use std::collections::BTreeSet;

use super::{NopaxosReplica, Status};
use crate::app::App;
use crate::protocol::Destination;
use crate::protocol::nopaxos::messages::{GapAnswer, Message};
use crate::protocol::nopaxos::types::{Entry, ViewId};
use crate::time::Time;

/// The leader's agreement on one slot.
#[derive(Debug, Clone)]
pub(crate) struct LeaderGap {
    pub(crate) slot: u64,
    pub(crate) phase: GapPhase,
    /// When to move on (end the search) or resend (the commit).
    pub(crate) deadline: Time,
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
            deadline: now + self.cfg.timeouts.gap_request,
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
            deadline: now + self.cfg.timeouts.gap_commit,
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
        let slot = gap.slot;
        match gap.phase {
            GapPhase::Finding { .. } => self.commit_noop(now, slot),
            GapPhase::Committing { .. } => {
                self.send(
                    Destination::OtherReplicas,
                    Message::GapCommit {
                        view: self.view,
                        slot,
                    },
                );
                if let Some(g) = self.gap.as_mut() {
                    g.deadline = now + self.cfg.timeouts.gap_commit;
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
        self.blocked = Some((slot, now + self.cfg.timeouts.gap_request));
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
                self.blocked = Some((slot, now + self.cfg.timeouts.gap_request));
                self.request_slot(slot);
            }
        } else if self.catch_up_to > self.log.end() && self.transfer.is_none() {
            // Behind the leader's sync point with no later message to reveal the gap.
            let slot = self.log.end() + 1;
            self.blocked = Some((slot, now + self.cfg.timeouts.gap_request));
            self.request_slot(slot);
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
                let next = self.log.end() + 1;
                self.blocked = Some((next, now + self.cfg.timeouts.gap_request));
                self.request_slot(next);
            }
        } else if slot <= self.log.end() && slot > self.exec_point && entry.is_noop() {
            if let Some(e) = self.log.get_mut(slot) {
                *e = Entry::NoOp;
            }
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
                if let Some(e) = self.log.get_mut(slot) {
                    *e = Entry::NoOp;
                }
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
