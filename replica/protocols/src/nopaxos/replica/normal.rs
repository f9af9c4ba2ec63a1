//! Normal operation: OUM delivery into the log, execution at the leader, replies.

use dataplane::oum::{Discard, Event, Stamp};
use dataplane::wire::OumRepr;

use super::reply_queue::ReplyFields;
use super::{NopaxosReplica, Status};
use crate::app::{App, Execution};
use crate::nopaxos::messages::Message;
use crate::nopaxos::types::{Entry, Request};
use crate::time::Time;

impl<A: App> NopaxosReplica<A> {
    /// A datagram stamped (or not) by the sequencer. Returns true if it went into the log
    /// on the in-order path, after which the receiver holds nothing to poll.
    pub(super) fn on_oum_datagram(&mut self, now: Time, datagram: &[u8]) -> bool {
        let stamp = match OumRepr::parse_bytes(datagram) {
            Ok(OumRepr::Sequenced(stamp)) => stamp,
            Ok(OumRepr::Unsequenced) => {
                // Unsequenced: never delivered, never trusted (defect 2).
                self.stats.unstamped += 1;
                return false;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return false;
            }
        };
        // A stamped packet whose message does not decode still occupies its slot: every
        // replica got the same bytes, so each logs it as a NO-OP.
        let request = match Message::decode_sequenced_request(datagram) {
            Ok((client, request, reply_to, op)) => {
                let mut buf = self.buffer();
                buf.extend_from_slice(op);
                Some(Request {
                    client,
                    request,
                    reply_to,
                    op: buf,
                })
            }
            Err(_) => {
                self.stats.malformed += 1;
                None
            }
        };
        // The common case, the next message with nothing waiting: straight into the log,
        // as the receiver would deliver it on the next poll (no trip through its ring).
        if self.takes_oum_events() && self.receiver.deliver_in_order(stamp) {
            let slot = self.session_base + stamp.msgnum;
            self.stats.requests += 1;
            let entry = request.map_or(Entry::NoOp, Entry::Request);
            // `accept_at` would decide the same; its checks and set lookup cost ~18 of
            // ~940 instructions per request here (callgrind, the protocols bench).
            if slot == self.log.end() + 1 && self.noops_ahead.is_empty() {
                self.append_and_apply(now, entry);
            } else {
                self.accept_at(now, slot, entry);
            }
            return true;
        }
        match self.receiver.on_stamped(now, stamp, request) {
            Ok(()) => {}
            Err(rejected) => match rejected.reason {
                Discard::TooFarAhead => {
                    self.stats.too_far_ahead += 1;
                    if self.status == Status::Normal && !self.am_leader() {
                        // Hopelessly behind the stream: catch up from a peer's state.
                        self.start_transfer(now, self.view);
                    }
                }
                Discard::StaleSession => self.stats.stale_session += 1,
                Discard::Duplicate => self.stats.duplicate += 1,
                Discard::BeyondWindow => self.stats.beyond_window += 1,
                Discard::Unconfirmed => self.stats.unconfirmed += 1,
                Discard::Malformed => self.stats.malformed += 1,
                Discard::Unsequenced => self.stats.unstamped += 1,
            },
        }
        false
    }

    /// Takes OUM events while the replica can use them: normal status, no gap being agreed.
    pub(crate) fn process_oum(&mut self, now: Time) {
        loop {
            if !self.takes_oum_events() {
                return;
            }
            let Some(event) = self.receiver.poll_event(now) else {
                return;
            };
            match event {
                Event::Message { stamp, packet } => self.deliver(now, stamp, packet),
                Event::Drop(stamp) => {
                    // The run of drops that follows it, taken at once: gap agreement works
                    // on the whole run rather than slot by slot.
                    let more = self.receiver.poll_drops(now, u64::MAX);
                    let first = self.session_base + stamp.msgnum;
                    self.on_drops(now, first, first + more);
                }
                Event::SessionTerminated { old: _, new } => {
                    // Always through a view change, even for the first session this replica
                    // hears of: an empty log here does not mean the others logged nothing
                    // (cut off from the sequencer, it may meet a later session first while
                    // they log an earlier one in the same view; simulator seed 15296).
                    self.latest_oum_seen = Some(new.0);
                    let next = super::ViewId {
                        leader_num: self.view.leader_num,
                        session_num: self.view.session_num + 1,
                    };
                    self.start_view_change(now, next);
                }
            }
        }
    }

    /// The OUM message `stamp` of the current session, delivered in order.
    fn deliver(&mut self, now: Time, stamp: Stamp, packet: Option<Request>) {
        let slot = self.session_base + stamp.msgnum;
        self.stats.requests += 1;
        let entry = match packet {
            Some(request) => Entry::Request(request),
            None => Entry::NoOp,
        };
        self.accept_at(now, slot, entry);
    }

    /// Whether OUM events can be taken now: normal, not waiting on a gap or a transfer.
    pub(super) fn takes_oum_events(&self) -> bool {
        self.status == Status::Normal
            && self.gap.is_none()
            && self.blocked.is_none()
            && self.transfer.is_none()
    }

    /// The OUM message for `slot` arrived (or its content was learned from a peer).
    pub(crate) fn accept_at(&mut self, now: Time, slot: u64, entry: Entry) {
        if slot <= self.log.end() {
            return; // filled earlier from a peer
        }
        if slot != self.log.end() + 1 {
            // The stream and the log disagree about positions: only a transfer can repair it.
            self.stats.too_far_ahead += 1;
            self.start_transfer(now, self.view);
            return;
        }
        let entry = if self.noops_ahead.contains(slot) {
            self.noops_ahead.remove_through(slot);
            Entry::NoOp
        } else {
            entry
        };
        self.append_and_apply(now, entry);
    }

    /// Appends the next slot; the leader executes it and answers with the result, a follower
    /// answers without one.
    #[inline]
    pub(crate) fn append_and_apply(&mut self, _now: Time, entry: Entry) {
        let slot = self.log.append(entry);
        if self.am_leader() {
            self.execute_through(slot, true);
        } else if let Some(Entry::Request(r)) = self.log.get(slot) {
            self.replies.push(ReplyFields {
                to: r.reply_to,
                view: self.view,
                slot,
                client: r.client,
                request: r.request,
                replica: self.cfg.index as u16,
                result: None,
            });
        }
    }

    /// Executes every slot up to `upto`; `reply` makes the leader answer each request (the
    /// reply is encoded at once, from the result the state machine still holds).
    pub(crate) fn execute_through(&mut self, upto: u64, reply: bool) {
        while self.exec_point < upto {
            let slot = self.exec_point + 1;
            let Some(entry) = self.log.get(slot) else {
                return;
            };
            self.exec_point = slot;
            let Entry::Request(r) = entry else {
                continue;
            };
            let execution = self.machine.execute(r.client, r.request, &r.op);
            if let (true, Execution::Executed(result) | Execution::Duplicate(result)) =
                (reply, execution)
            {
                self.replies.push(ReplyFields {
                    to: r.reply_to,
                    view: self.view,
                    slot,
                    client: r.client,
                    request: r.request,
                    replica: self.cfg.index as u16,
                    result: Some(result),
                });
            }
        }
    }
}
