//! The stray-datagram fault: a stamped datagram that no sequencer sent, from a client's
//! address, straight to the replicas' cores (the simulator has no source-address filter, so
//! this tests the protocol core's own robustness).

use dataplane::io::{Packet, PacketIo};
use dataplane::oum::{GroupId, SessionNumber, Stamp};
use dataplane::wire::OumRepr;
use dataplane::wire::build::oum_payload;

use super::World;
use crate::time::Time;
use protocols::Protocol;

impl<P: Protocol> World<'_, P> {
    /// The sequencer's next `count` stamps are lost on the way to every replica (a real
    /// jump of the stream, unlike a stray stamp), for tests.
    #[cfg(test)]
    pub(crate) fn lose_next_stamps(&mut self, count: u64) {
        if let Some(sequencer) = self.sequencer.as_mut() {
            sequencer.skip(count);
        }
    }

    /// Sends one stray datagram to replica `to` (every replica if `None`); see
    /// [`crate::Action::Stray`] for how its stamp is made.
    pub(super) fn stray(&mut self, now: Time, to: Option<usize>, session_delta: i16, ahead: u64) {
        let Some(sequencer) = self.sequencer.as_ref() else {
            return;
        };
        let current = sequencer.session().0;
        let session = current.wrapping_add_signed(session_delta);
        let msgnum = if session_delta == 0 {
            let last = sequencer.last_msgnum(GroupId(0)).unwrap_or(0);
            last.saturating_add(ahead)
        } else {
            ahead
        };
        let stamp = Stamp::new(session, msgnum);
        // Not a decodable request: were it ever delivered it would be a NO-OP at the replicas
        // it reached and not at the others, which the agreement check catches.
        let payload = oum_payload(OumRepr::Sequenced(stamp), &ahead.to_be_bytes());
        let targets: Vec<_> = match to {
            Some(i) => self.routes.replicas().get(i).copied().into_iter().collect(),
            None => self.routes.replicas().to_vec(),
        };
        let Some(client) = self.clients.first_mut() else {
            return;
        };
        let mut batch = Vec::with_capacity(targets.len());
        for peer in targets {
            let mut buf = client.io.alloc();
            if buf.fill(&payload) {
                buf.set_peer(peer);
                batch.push(buf);
            } else {
                client.io.free(buf);
            }
        }
        let _ = client.io.send_burst(&mut batch);
        if self.trace.on(1) {
            self.trace.line(
                now,
                format_args!(
                    "stray stamp session {} msgnum {msgnum} to {to:?} (current session {})",
                    SessionNumber(session),
                    SessionNumber(current)
                ),
            );
        }
    }
}
