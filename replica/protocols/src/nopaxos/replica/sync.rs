//! Synchronization (NOPaxos section 5.2.4): the leader periodically makes a prefix of its
//! log stable at f+1 replicas; followers then execute up to it, and everyone truncates the
//! log and the NO-OP lists behind it, so no message grows without bound (defect 6). The
//! SYNC-PREPARE doubles as the leader's heartbeat.

use super::{CATCH_UP_BY_TRANSFER, NopaxosReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::nopaxos::messages::{MAX_SYNC_NOOP_RANGES, Message};
use crate::nopaxos::types::{Entry, ViewId};
use crate::time::Time;

#[derive(Debug, Clone)]
pub(crate) struct SyncRound {
    pub(crate) slot: u64,
    /// Which replicas acknowledged, by index; kept between rounds so a round allocates
    /// nothing.
    pub(crate) acked: Vec<bool>,
    pub(crate) acks: usize,
}

impl<A: App> NopaxosReplica<A> {
    /// Ends the running synchronization round, if any, keeping its storage for the next.
    pub(super) fn end_sync_round(&mut self) {
        if let Some(round) = self.sync_round.take() {
            self.spare_sync_acks = round.acked;
        }
    }

    pub(super) fn sync_timer(&mut self, now: Time) {
        if now < self.next_sync_at {
            return;
        }
        self.next_sync_at = now + self.cfg.timeouts.sync_period;
        // Only final slots: a NO-OP still being committed is not.
        let last_final = match &self.gap {
            Some(g) => g.first - 1,
            None => self.log.end(),
        };
        let (mut slot, noops) = self.noops_between(self.sync_point, last_final);
        slot = slot.max(self.sync_point);
        self.end_sync_round();
        let mut acked = std::mem::take(&mut self.spare_sync_acks);
        acked.clear();
        acked.resize(self.cfg.replicas.len(), false);
        self.sync_round = Some(SyncRound {
            slot,
            acked,
            acks: 0,
        });
        self.send(
            Destination::OtherReplicas,
            Message::SyncPrepare {
                view: self.view,
                prev: self.sync_point,
                slot,
                noops,
            },
        );
        if self.f() == 0 {
            self.commit_sync(slot);
        }
    }

    /// The NO-OPs in `(from, upto]` of this replica's log as ranges, at most
    /// [`MAX_SYNC_NOOP_RANGES`] of them; returns the slot the list really reaches (earlier if
    /// it was cut short).
    fn noops_between(&self, from: u64, upto: u64) -> (u64, Vec<(u64, u64)>) {
        let mut reach = upto;
        let mut noops: Vec<(u64, u64)> = Vec::new();
        for s in self.log.noops_from(from + 1) {
            if s > upto {
                break;
            }
            if let Some((_, last)) = noops.last_mut()
                && *last + 1 == s
            {
                *last = s;
                continue;
            }
            if noops.len() == MAX_SYNC_NOOP_RANGES {
                reach = s - 1;
                break;
            }
            noops.push((s, s));
        }
        (reach, noops)
    }

    pub(super) fn on_sync_prepare(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        prev: u64,
        slot: u64,
        noops: &[(u64, u64)],
    ) {
        if !self.check_view(now, view) || sender != self.leader() || self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        for &(first, last) in noops {
            let first = first.max(self.sync_point + 1);
            let end = self.log.end();
            for s in first..=last.min(end) {
                self.log.set_noop(s);
            }
            // Beyond the log, within what a replica keeps ahead (no further: it would
            // catch up by state transfer).
            let last = last.min(end.saturating_add(self.cfg.receiver.max_gap));
            let first = first.max(end + 1);
            if first <= last {
                self.noops_ahead.insert(first, last);
            }
        }
        if prev > self.noops_applied {
            // A SYNC-PREPARE went missing: NO-OPs before `prev` may be unknown here.
            self.send(
                Destination::Replica(sender),
                Message::SyncFetch {
                    view: self.view,
                    from: self.noops_applied,
                },
            );
            return;
        }
        self.noops_applied = self.noops_applied.max(slot);
        if self.log.end() >= slot {
            self.send(
                Destination::Replica(sender),
                Message::SyncReply {
                    view: self.view,
                    slot,
                },
            );
        } else if self.slots_to_fetch(slot, noops) > CATCH_UP_BY_TRANSFER {
            self.start_transfer(now, self.view);
        } else {
            self.catch_up_to = self.catch_up_to.max(slot);
        }
    }

    /// Slots after this log's end, up to `slot`, that may hold requests: all but the NO-OPs
    /// `noops` lists. NO-OP runs cost a GAP-REPLY a few bytes, so a follower behind by a long
    /// run of them catches up from the leader; one behind by many requests copies state.
    fn slots_to_fetch(&self, slot: u64, noops: &[(u64, u64)]) -> u64 {
        let end = self.log.end();
        let noop_slots = noops
            .iter()
            .map(|&(first, last)| {
                let (first, last) = (first.max(end + 1), last.min(slot));
                if first <= last { last - first + 1 } else { 0 }
            })
            .fold(0u64, u64::saturating_add);
        slot.saturating_sub(end).saturating_sub(noop_slots)
    }

    /// A follower missed NO-OPs: send them since `from`, with a commit if already stable.
    pub(super) fn on_sync_fetch(&mut self, now: Time, sender: usize, view: ViewId, from: u64) {
        if !self.check_view(now, view) || !self.am_leader() || self.status != Status::Normal {
            return;
        }
        if from + 1 < self.log.start() {
            // Behind what this log keeps: only a state transfer can help.
            self.send(
                Destination::Replica(sender),
                Message::GapReply {
                    view: self.view,
                    slot: from + 1,
                    answer: crate::nopaxos::messages::GapAnswer::Truncated,
                },
            );
            return;
        }
        let upto = self.sync_point.max(from);
        let (reach, noops) = self.noops_between(from, upto);
        self.send(
            Destination::Replica(sender),
            Message::SyncPrepare {
                view: self.view,
                prev: from,
                slot: reach,
                noops,
            },
        );
        if reach > from && reach <= self.sync_point {
            self.send(
                Destination::Replica(sender),
                Message::SyncCommit {
                    view: self.view,
                    slot: reach,
                },
            );
        }
    }

    pub(super) fn on_sync_reply(&mut self, now: Time, sender: usize, view: ViewId, slot: u64) {
        if !self.check_view(now, view) || !self.am_leader() {
            return;
        }
        let f = self.f();
        let Some(round) = self.sync_round.as_mut() else {
            return;
        };
        if round.slot != slot {
            return;
        }
        if let Some(acked) = round.acked.get_mut(sender)
            && !*acked
        {
            *acked = true;
            round.acks += 1;
        }
        if round.acks >= f {
            self.commit_sync(slot);
        }
    }

    fn commit_sync(&mut self, slot: u64) {
        self.end_sync_round();
        self.send(
            Destination::OtherReplicas,
            Message::SyncCommit {
                view: self.view,
                slot,
            },
        );
        self.advance_sync_point(slot);
    }

    pub(super) fn on_sync_commit(&mut self, now: Time, sender: usize, view: ViewId, slot: u64) {
        if !self.check_view(now, view) || sender != self.leader() || self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        // Only if this replica applied the matching SYNC-PREPARE's NO-OPs: otherwise its
        // log may still hold a request where the leader has a NO-OP.
        if self.noops_applied >= slot && self.log.end() >= slot {
            self.execute_through(slot, false);
            self.advance_sync_point(slot);
        }
    }

    /// Records a new sync point and truncates behind the previous one (keeping one period of
    /// log lets slightly slow followers still fetch slots from it).
    pub(crate) fn advance_sync_point(&mut self, slot: u64) {
        if slot <= self.sync_point {
            return;
        }
        let previous = self.sync_point;
        self.sync_point = slot;
        let mut freed = std::mem::take(&mut self.spare);
        self.log.truncate_before_with(previous + 1, |e| {
            if let Entry::Request(r) = e {
                if freed.len() < super::SPARE_BUFFERS {
                    freed.push(r.op);
                }
            }
        });
        self.spare = freed;
        self.noops_ahead.remove_through(slot);
    }
}
