//! Synchronization (NOPaxos section 5.2.4): the leader periodically makes a prefix of its
//! log stable at f+1 replicas; followers then execute up to it, and everyone truncates the
//! log and the NO-OP lists behind it, so no message grows without bound (defect 6). The
//! SYNC-PREPARE doubles as the leader's heartbeat.

use std::collections::BTreeSet;

use super::{CATCH_UP_BY_TRANSFER, NopaxosReplica, Status};
use crate::app::App;
use crate::protocol::Destination;
use crate::protocol::nopaxos::messages::{MAX_SYNC_NOOPS, Message};
use crate::protocol::nopaxos::types::{Entry, ViewId};
use crate::time::Time;

#[derive(Debug, Clone)]
pub(crate) struct SyncRound {
    pub(crate) slot: u64,
    pub(crate) acks: BTreeSet<usize>,
}

impl<A: App> NopaxosReplica<A> {
    pub(super) fn sync_timer(&mut self, now: Time) {
        if now < self.next_sync_at {
            return;
        }
        self.next_sync_at = now + self.cfg.timeouts.sync_period;
        // Only final slots: a NO-OP still being committed is not.
        let mut slot = match &self.gap {
            Some(g) => g.slot - 1,
            None => self.log.end(),
        };
        let mut noops = Vec::new();
        for (s, e) in self.log.iter_from(self.sync_point + 1) {
            if s > slot {
                break;
            }
            if e.is_noop() {
                if noops.len() == MAX_SYNC_NOOPS {
                    slot = s - 1;
                    break;
                }
                noops.push(s);
            }
        }
        slot = slot.max(self.sync_point);
        self.sync_round = Some(SyncRound {
            slot,
            acks: BTreeSet::new(),
        });
        self.send(
            Destination::OtherReplicas,
            Message::SyncPrepare {
                view: self.view,
                slot,
                noops,
            },
        );
        if self.f() == 0 {
            self.commit_sync(slot);
        }
    }

    pub(super) fn on_sync_prepare(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        slot: u64,
        noops: &[u64],
    ) {
        if !self.check_view(now, view) || sender != self.leader() || self.status != Status::Normal {
            return;
        }
        self.leader_heard = now;
        for &s in noops {
            if s <= self.sync_point {
                continue;
            }
            if s <= self.log.end() {
                if let Some(e) = self.log.get_mut(s) {
                    *e = Entry::NoOp;
                }
            } else if s - self.log.end() <= self.cfg.receiver.max_gap {
                self.noops_ahead.insert(s);
            }
        }
        if self.log.end() >= slot {
            self.prepared_sync = self.prepared_sync.max(slot);
            self.send(
                Destination::Replica(sender),
                Message::SyncReply {
                    view: self.view,
                    slot,
                },
            );
        } else if slot - self.log.end() > CATCH_UP_BY_TRANSFER {
            self.start_transfer(now, self.view);
        } else {
            self.catch_up_to = self.catch_up_to.max(slot);
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
        round.acks.insert(sender);
        if round.acks.len() >= f {
            self.commit_sync(slot);
        }
    }

    fn commit_sync(&mut self, slot: u64) {
        self.sync_round = None;
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
        if self.prepared_sync >= slot && self.log.end() >= slot {
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
                if freed.len() < 4096 {
                    freed.push(r.op);
                }
            }
        });
        self.spare = freed;
        self.noops_ahead = self.noops_ahead.split_off(&(slot + 1));
    }
}
