//! The normal case: the primary queues requests and keeps at most one batch in flight
//! (adaptive batching: the queue that builds up while a batch is being acknowledged becomes
//! the next batch, so batches grow with load and are single requests at low load); backups
//! append PREPAREs in order and acknowledge; everyone executes up to the commit number.

use std::net::SocketAddrV4;

use super::{Out, Status, VrReplica, recycle_into};
use crate::app::App;
use crate::time::Time;
use crate::vr::messages::{Entries, MAX_OP, Message, PREPARE_HEADER};
use crate::vr::types::Entry;
use crate::{ClientId, Destination, MAX_DATAGRAM, RequestId};

impl<A: App> VrReplica<A> {
    /// A client request. Only the normal primary takes it; a backup drops it (the client
    /// resends to every replica after a timeout, so a new primary gets it then).
    pub(super) fn on_request(
        &mut self,
        now: Time,
        from: SocketAddrV4,
        client: ClientId,
        request: RequestId,
        op: &[u8],
    ) {
        self.stats.requests += 1;
        if self.status != Status::Normal || !self.am_primary() {
            self.vr_stats.not_primary += 1;
            return;
        }
        if let Some(result) = self.machine.cached_result(client, request) {
            // Executed before: answer from the client table.
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(result);
            self.outbox.push_back((
                Destination::Client(from),
                Out::Reply {
                    view: self.view,
                    client,
                    request,
                    result: buf,
                },
            ));
            return;
        }
        if self.proposed.get(&client).is_some_and(|&r| r >= request) {
            self.vr_stats.in_progress += 1;
            return;
        }
        if op.len() > MAX_OP {
            self.vr_stats.oversized += 1;
            self.stats.malformed += 1;
            return;
        }
        if self.queue.len() >= self.cfg.max_queue {
            self.vr_stats.queue_full += 1;
            return;
        }
        let mut buf = self.buffer();
        buf.extend_from_slice(op);
        self.proposed.insert(client, request);
        self.queue.push_back(Entry {
            client,
            request,
            reply_to: from,
            op: buf,
        });
        self.advance_commit(now);
    }

    /// Moves the queue's head into the log as one batch and sends it. Called only when
    /// nothing is in flight.
    fn form_batch(&mut self, now: Time) {
        let first = self.log.end() + 1;
        let mut bytes = PREPARE_HEADER;
        let mut n = 0u64;
        while n < self.cfg.max_batch.max(1) as u64 {
            let Some(e) = self.queue.front() else { break };
            let len = e.encoded_len();
            if n > 0 && bytes + len > MAX_DATAGRAM {
                break;
            }
            bytes += len;
            n += 1;
            if let Some(e) = self.queue.pop_front() {
                self.log.append(e);
            }
        }
        if n == 0 {
            return;
        }
        let s = &mut self.vr_stats;
        s.batches += 1;
        s.batched_requests += n;
        s.largest_batch = s.largest_batch.max(n);
        if n == 1 {
            s.single_batches += 1;
        }
        self.push_prepares(Destination::OtherReplicas, first, self.log.end());
        self.prepare_resend_at = Some(self.prepare_timer.sent(now));
        self.heartbeat_at = now + self.cfg.timeouts.heartbeat;
        self.commit_notify_at = None;
        self.announced = self.commit;
    }

    /// Queues PREPAREs for op numbers `from..=to`, as many as it takes to stay within a
    /// datagram each (one, for a batch formed here).
    pub(super) fn push_prepares(&mut self, to: Destination, from: u64, last: u64) {
        if self.n() <= 1 || from > last {
            return;
        }
        let mut first = from;
        let mut bytes = PREPARE_HEADER;
        for (op, e) in self.log.iter_from(from) {
            if op > last {
                break;
            }
            let len = e.encoded_len();
            if op > first && bytes + len > MAX_DATAGRAM {
                self.outbox.push_back((
                    to,
                    Out::Prepare {
                        view: self.view,
                        first,
                        last: op - 1,
                        commit: self.commit,
                    },
                ));
                first = op;
                bytes = PREPARE_HEADER;
            }
            bytes += len;
        }
        self.outbox.push_back((
            to,
            Out::Prepare {
                view: self.view,
                first,
                last,
                commit: self.commit,
            },
        ));
    }

    /// The highest op number f backups hold (everything, with no backups).
    fn quorum_point(&mut self) -> u64 {
        let f = self.f();
        if f == 0 {
            return self.log.end();
        }
        let me = self.me();
        self.ack_scratch.clear();
        self.ack_scratch.extend(
            self.acks
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != me)
                .map(|(_, a)| *a),
        );
        self.ack_scratch.sort_unstable_by(|a, b| b.cmp(a));
        self.ack_scratch
            .get(f - 1)
            .copied()
            .unwrap_or(0)
            .min(self.log.end())
    }

    /// The primary's step after anything that may have changed its acknowledgements or
    /// queue: commit and execute what f backups hold, then send the next batch if the one
    /// in flight is done.
    pub(super) fn advance_commit(&mut self, now: Time) {
        if self.status != Status::Normal || !self.am_primary() {
            return;
        }
        loop {
            let point = self.quorum_point();
            if point > self.commit {
                self.commit = point;
                self.execute_committed(now);
            }
            if self.log.end() > self.commit {
                return;
            }
            if self.prepare_resend_at.take().is_some() {
                self.prepare_timer.committed(now);
            }
            if self.queue.is_empty() {
                if self.commit > self.announced && self.commit_notify_at.is_none() && self.n() > 1 {
                    self.commit_notify_at = Some(now + self.cfg.timeouts.idle_commit);
                }
                return;
            }
            self.form_batch(now);
        }
    }

    pub(super) fn on_prepare_ok(&mut self, now: Time, sender: usize, view: u64, op: u64) {
        if view != self.view || self.status != Status::Normal || !self.am_primary() {
            if view > self.view {
                self.stats.too_far_ahead += 1;
            } else {
                self.stats.stale += 1;
            }
            return;
        }
        let end = self.log.end();
        if let Some(a) = self.acks.get_mut(sender) {
            *a = (*a).max(op.min(end));
        }
        self.advance_commit(now);
    }

    /// Whether a message of `view` from that view's primary is for this replica as a
    /// backup of the current view; a newer view (or the one this replica is changing to)
    /// is adopted: its log is cut back to what is committed, and state transfer fills in
    /// the rest.
    pub(super) fn accept_primary_message(&mut self, now: Time, view: u64) -> bool {
        if view < self.view {
            self.stats.stale += 1;
            return false;
        }
        if view == self.view && self.status == Status::Normal {
            return !self.am_primary();
        }
        self.adopt_view(now, view);
        true
    }

    /// Becomes a normal backup of `view` (whose primary is another replica), keeping only
    /// the committed part of the log: what follows it may differ in the new view.
    pub(super) fn adopt_view(&mut self, now: Time, view: u64) {
        let spare = &mut self.spare;
        self.log
            .truncate_after_with(self.exec, |e| recycle_into(spare, e.op));
        self.commit = self.exec;
        self.view = view;
        self.last_normal = view;
        self.status = Status::Normal;
        self.vc = None;
        self.reset_primary_state();
        self.leader_heard = now;
        self.drop_transfer_unless_recovery();
        self.assembler.forget_before(view);
    }

    /// Forgets everything only a primary keeps.
    pub(super) fn reset_primary_state(&mut self) {
        for e in self.queue.drain(..) {
            recycle_into(&mut self.spare, e.op);
        }
        self.proposed.clear();
        self.prepare_resend_at = None;
        self.commit_notify_at = None;
        self.acks.iter_mut().for_each(|a| *a = 0);
        self.start_view_blob = None;
    }

    pub(super) fn on_prepare(
        &mut self,
        now: Time,
        sender: usize,
        view: u64,
        first: u64,
        commit: u64,
        entries: Entries<'_>,
    ) {
        if sender != self.primary_of(view) {
            self.stats.unexpected += 1;
            return;
        }
        if !self.accept_primary_message(now, view) {
            return;
        }
        self.leader_heard = now;
        if first > self.log.end() + 1 {
            // A PREPARE went missing: fetch the gap.
            self.stats.too_far_ahead += 1;
            self.request_catch_up(now);
        } else {
            for (op, e) in (first..).zip(entries.iter()) {
                if op > self.log.end() {
                    let mut buf = self.spare.pop().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(e.op);
                    self.log.append(Entry {
                        client: e.client,
                        request: e.request,
                        reply_to: e.reply_to,
                        op: buf,
                    });
                }
            }
        }
        let end = self.log.end();
        self.send(
            Destination::Replica(sender),
            Message::PrepareOk { view, op: end },
        );
        self.learn_commit(now, commit);
    }

    pub(super) fn on_commit(&mut self, now: Time, sender: usize, view: u64, commit: u64) {
        if sender != self.primary_of(view) {
            self.stats.unexpected += 1;
            return;
        }
        if !self.accept_primary_message(now, view) {
            return;
        }
        self.leader_heard = now;
        self.learn_commit(now, commit);
    }

    /// A backup learns the primary's commit number: it executes up to it, or fetches what
    /// it is missing.
    pub(super) fn learn_commit(&mut self, now: Time, commit: u64) {
        if commit > self.log.end() {
            self.request_catch_up(now);
        }
        let point = commit.min(self.log.end());
        if point > self.commit {
            self.commit = point;
            self.execute_committed(now);
        }
    }

    /// Executes every committed operation not executed yet; the normal primary answers the
    /// clients. Then drops log entries that fell out of the checkpoint window.
    pub(super) fn execute_committed(&mut self, _now: Time) {
        let reply = self.status == Status::Normal && self.am_primary();
        let view = self.view;
        while self.exec < self.commit {
            let op = self.exec + 1;
            let Some(e) = self.log.get(op) else {
                // Cannot happen (the log holds everything after `exec`); stay consistent.
                self.commit = self.exec;
                break;
            };
            let execution = self.machine.execute(e.client, e.request, &e.op);
            if reply {
                if let Some(result) = execution.result() {
                    let mut buf = self.spare.pop().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(result);
                    self.outbox.push_back((
                        Destination::Client(e.reply_to),
                        Out::Reply {
                            view,
                            client: e.client,
                            request: e.request,
                            result: buf,
                        },
                    ));
                }
            }
            if self.proposed.get(&e.client) == Some(&e.request) {
                self.proposed.remove(&e.client);
            }
            self.exec = op;
        }
        self.truncate_log();
    }

    /// Keeps `log_keep` executed entries: the application state stands for the rest.
    pub(super) fn truncate_log(&mut self) {
        let keep = self.cfg.log_keep;
        if self.exec > keep {
            let spare = &mut self.spare;
            self.log
                .truncate_before_with(self.exec - keep + 1, |e| recycle_into(spare, e.op));
        }
    }

    /// Timers of a normal replica: the primary's PREPARE resend, idle COMMIT and heartbeat;
    /// a backup's primary timeout.
    pub(super) fn normal_timers(&mut self, now: Time) {
        if self.am_primary() {
            if self.prepare_resend_at.is_some_and(|t| now >= t) {
                self.resend_prepares(now);
            }
            let notify = self.commit_notify_at.is_some_and(|t| now >= t);
            if notify || (self.n() > 1 && now >= self.heartbeat_at) {
                let (view, commit) = (self.view, self.commit);
                self.send(Destination::OtherReplicas, Message::Commit { view, commit });
                self.announced = commit;
                self.heartbeat_at = now + self.cfg.timeouts.heartbeat;
                self.commit_notify_at = None;
            }
        } else {
            crate::kit::prevote::on_leader_timer(self, now);
        }
    }

    /// Sends the batch in flight again to every backup that has not acknowledged it.
    fn resend_prepares(&mut self, now: Time) {
        let end = self.log.end();
        if end <= self.commit {
            self.prepare_resend_at = None;
            return;
        }
        let from = self.commit + 1;
        for b in 0..self.n() {
            if b != self.me() && self.acks.get(b).is_some_and(|&a| a < end) {
                self.push_prepares(Destination::Replica(b), from, end);
            }
        }
        // The heartbeat is not pushed back: backups that did acknowledge still need it.
        self.prepare_resend_at = Some(self.prepare_timer.resent(now));
    }
}
