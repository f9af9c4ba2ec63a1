use std::net::SocketAddrV4;

use super::Message;
use crate::app::{App, Execution, StateMachine};
use crate::time::Time;
use crate::{Destination, EntryId, Node, Outbox, Replica, ReplicaStats, Transmit};

/// Replies waiting to be encoded: (client address, client, request, result).
type PendingReply = (u64, u64, Vec<u8>);

/// The single server: executes each new request once, in arrival order, and answers.
#[derive(Debug)]
pub struct UnreplicatedServer<A> {
    machine: StateMachine<A>,
    outbox: Outbox<PendingReply>,
    /// Spare result buffers, so replying allocates nothing in the steady state.
    spare: Vec<Vec<u8>>,
    stats: ReplicaStats,
}

impl<A: App> UnreplicatedServer<A> {
    pub fn new(app: A) -> UnreplicatedServer<A> {
        UnreplicatedServer {
            machine: StateMachine::new(app),
            outbox: Outbox::default(),
            spare: Vec::new(),
            stats: ReplicaStats::default(),
        }
    }

    pub fn machine(&self) -> &StateMachine<A> {
        &self.machine
    }
}

impl<A: App> Node for UnreplicatedServer<A> {
    fn handle_datagram(&mut self, _now: Time, from: SocketAddrV4, datagram: &[u8]) {
        match Message::decode(datagram) {
            Ok(Message::Request {
                client,
                request,
                op,
            }) => {
                self.stats.requests += 1;
                let execution = self.machine.execute(client, request, op);
                if let Execution::Executed(_) = execution {
                    self.stats.executed += 1;
                }
                if let Some(result) = execution.result() {
                    let mut buf = self.spare.pop().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(result);
                    self.outbox
                        .push(Destination::Client(from), (client, request, buf));
                }
            }
            Ok(Message::Reply { .. }) => self.stats.unexpected += 1,
            Err(_) => self.stats.malformed += 1,
        }
    }

    fn handle_timeout(&mut self, _now: Time) {}

    fn poll_timeout(&self) -> Option<Time> {
        None
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let (transmit, (_, _, result)) =
            self.outbox.poll(buf, |(client, request, result), w| {
                Message::Reply {
                    client: *client,
                    request: *request,
                    result,
                }
                .encode(w)
            })?;
        self.spare.push(result);
        Some(transmit)
    }
}

impl<A: App> Replica for UnreplicatedServer<A> {
    fn index(&self) -> usize {
        0
    }

    fn is_leader(&self) -> bool {
        true
    }

    fn is_normal(&self) -> bool {
        true
    }

    fn commit_point(&self) -> u64 {
        self.machine.executed()
    }

    fn committed_entry(&self, _slot: u64) -> Option<EntryId> {
        // One copy of the state: there is nothing to agree with.
        None
    }

    fn execution(&self) -> (u64, u64) {
        (self.machine.executed(), self.machine.digest())
    }

    fn stats(&self) -> ReplicaStats {
        self.stats
    }

    fn describe(&self) -> String {
        format!(
            "unreplicated server: {} executed, {} requests",
            self.machine.executed(),
            self.stats.requests
        )
    }
}
