//! Normal operation: requests arrive through the sequencer, are logged in arrival order and
//! executed at once (speculatively), and every replica answers the client with its view,
//! slot, prefix hash and result. The OUM stamp is checked (an unstamped packet did not come
//! through the sequencer) but not relied on: a dropped or reordered request makes logs
//! diverge, which synchronization and reconciliation repair.

use dataplane::wire::OumRepr;

use super::{MAX_DEFERRED, Out, SYNC_EVERY_SLOTS, SpecReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::specpaxos::ledger::Standing;
use crate::specpaxos::messages::Message;
use crate::specpaxos::types::{LogHash, Request};
use crate::time::Time;

impl<A: App> SpecReplica<A> {
    /// A datagram stamped (or not) by the sequencer.
    pub(super) fn on_oum_datagram(&mut self, now: Time, datagram: &[u8]) {
        match OumRepr::parse_bytes(datagram) {
            Ok(OumRepr::Sequenced(_)) => {}
            Ok(OumRepr::Unsequenced) => {
                // Not through the sequencer: never trusted.
                self.stats.unstamped += 1;
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        }
        match Message::decode_sequenced(datagram) {
            Ok(Message::Request {
                client,
                request,
                reply_to,
                op,
            }) => self.on_request(
                now,
                Request {
                    client,
                    request,
                    reply_to,
                    op: op.to_vec(),
                },
            ),
            Ok(_) => self.stats.unexpected += 1,
            Err(_) => self.stats.malformed += 1,
        }
    }

    fn on_request(&mut self, now: Time, request: Request) {
        self.stats.requests += 1;
        match self.status {
            Status::Normal => self.handle_request(now, request),
            Status::ViewChange => {
                if self.deferred.len() < MAX_DEFERRED {
                    self.deferred.push_back(request);
                } else {
                    self.spec_stats.deferred_dropped += 1;
                }
            }
            Status::Recovering => self.stats.stale += 1,
        }
    }

    /// Requests that arrived during a view change, in arrival order.
    pub(crate) fn drain_deferred(&mut self, now: Time) {
        while self.status == Status::Normal {
            let Some(request) = self.deferred.pop_front() else {
                return;
            };
            self.handle_request(now, request);
        }
    }

    fn handle_request(&mut self, now: Time, request: Request) {
        let (client, id, reply_to) = (request.client, request.request, request.reply_to);
        match self.ledger.standing(client, id) {
            Standing::Stale => self.stats.stale += 1,
            Standing::InLog(slot) => {
                // A retry: answer again, from the current view (the log still holds it).
                let hash = self.ledger.hash_at(slot).unwrap_or(LogHash::ZERO);
                let committed = slot <= self.ledger.commit();
                if let Some(result) = self.ledger.cached_result(client, id) {
                    let result = result.to_vec();
                    self.reply(reply_to, slot, hash, client, id, committed, result);
                }
            }
            Standing::BeforeBase => {
                if let Some(result) = self.ledger.cached_result(client, id) {
                    let result = result.to_vec();
                    self.reply(reply_to, 0, LogHash::ZERO, client, id, true, result);
                }
            }
            Standing::New => {
                let mut result = Vec::new();
                let (slot, hash, answered) = self.ledger.append(request, &mut result);
                if answered {
                    let committed = slot <= self.ledger.commit();
                    self.reply(reply_to, slot, hash, client, id, committed, result);
                }
                self.after_append(now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        to: std::net::SocketAddrV4,
        slot: u64,
        hash: LogHash,
        client: u64,
        request: u64,
        committed: bool,
        result: Vec<u8>,
    ) {
        self.outbox.push(
            Destination::Client(to),
            Out::Reply {
                view: self.view,
                slot,
                hash,
                client,
                request,
                committed,
                result,
            },
        );
    }

    /// The log grew: answer a SYNC that waited for it, or synchronize if much is pending.
    fn after_append(&mut self, now: Time) {
        let end = self.ledger.end();
        if let Some(slot) = self.pending_sync {
            if end >= slot {
                self.pending_sync = None;
                self.send_sync_reply(slot);
            }
        }
        if self.am_leader() && end >= self.synced_end + SYNC_EVERY_SLOTS {
            self.start_sync(now);
        }
    }
}
