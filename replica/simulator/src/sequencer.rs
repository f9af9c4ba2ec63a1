//! The simulated OUM sequencer host: the same stamping core as the real sequencers, owning
//! the group socket, fanning stamped copies out to the members, failing over to a new
//! session when the fault schedule says so.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use dataplane::io::sim::{SimIo, SimNetwork};
use dataplane::io::{Packet, PacketBuf, PacketIo};
use dataplane::oum::{GroupId, Sequencer, SessionNumber, Verdict};

use super::routes::{Routes, Scratch};

/// Datagrams taken from the network per receive call.
const BURST: usize = 64;

/// The sequencer and its host.
#[derive(Debug)]
pub(crate) struct SequencerHost {
    core: Sequencer,
    pub(crate) io: SimIo,
    /// Where stamped copies of group 0 go, in member order.
    members: Vec<SocketAddrV4>,
    up: bool,
    /// Packets stamped and fanned out.
    pub(crate) stamped: u64,
    /// Packets the core refused (unsequenced header missing, already stamped, ...).
    pub(crate) refused: u64,
}

impl SequencerHost {
    pub(crate) fn new(
        config: &ClusterConfig,
        session: SessionNumber,
        io: SimIo,
        routes: &Routes,
    ) -> Result<SequencerHost, String> {
        let core = Sequencer::new(session, config.oum.port, &config.group_specs())
            .map_err(|e| e.to_string())?;
        let members = config
            .groups
            .first()
            .map(|g| {
                config
                    .members(g)
                    .iter()
                    .filter_map(|&m| routes.replicas().get(usize::from(m)).copied())
                    .collect()
            })
            .unwrap_or_default();
        Ok(SequencerHost {
            core,
            io,
            members,
            up: true,
            stamped: 0,
            refused: 0,
        })
    }

    pub(crate) fn session(&self) -> SessionNumber {
        self.core.session()
    }

    /// The last message number stamped for group `group` in the current session.
    pub(crate) fn last_msgnum(&self, group: GroupId) -> Option<u64> {
        self.core.last_msgnum(group)
    }

    /// Moves the counter of group 0 on by `count`, as if that many messages were stamped
    /// and reached no member: a real jump of the stream, for tests.
    #[cfg(test)]
    pub(crate) fn skip(&mut self, count: u64) {
        let last = self.core.last_msgnum(GroupId(0)).unwrap_or(0);
        self.core.set_last_msgnum(GroupId(0), last + count);
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up
    }

    /// Stamps every datagram due now and sends a copy to each member. Returns how many
    /// datagrams it took from the network.
    pub(crate) fn step(&mut self, scratch: &mut Scratch) -> usize {
        if !self.up {
            return 0;
        }
        let mut taken = 0;
        loop {
            let n = self.io.recv_burst(&mut scratch.rx, BURST).unwrap_or(0);
            if n == 0 {
                break;
            }
            taken += n;
            let mut received = std::mem::take(&mut scratch.rx);
            for mut buf in received.drain(..) {
                match self.core.stamp_datagram(GroupId(0), buf.as_mut()) {
                    Verdict::Multicast { .. } => {
                        self.stamped += 1;
                        self.fan_out(buf, scratch);
                    }
                    Verdict::Drop(_) => {
                        self.refused += 1;
                        self.io.free(buf);
                    }
                }
            }
            scratch.rx = received;
            if self.core.needs_new_session() {
                self.core.start_session(self.core.session().next());
            }
        }
        if !scratch.tx.is_empty() {
            let _ = self.io.send_burst(&mut scratch.tx);
            scratch.tx.clear();
        }
        taken
    }

    fn fan_out(&mut self, buf: PacketBuf, scratch: &mut Scratch) {
        let Some((&last, others)) = self.members.split_last() else {
            self.io.free(buf);
            return;
        };
        for &to in others {
            let mut copy = self.io.duplicate(&buf);
            copy.set_peer(to);
            scratch.tx.push(copy);
        }
        let mut buf = buf;
        buf.set_peer(last);
        scratch.tx.push(buf);
    }

    /// The sequencer fails: whatever is in flight to it is lost, and requests sent to the
    /// group meanwhile are dropped.
    pub(crate) fn fail(&mut self, net: &SimNetwork) {
        if self.up {
            self.up = false;
            let _ = net.set_host_up(self.io.host(), false);
        }
    }

    /// A sequencer takes over (or the old one restarts) in the next session, with every
    /// message number starting again at 1, as a sequencer that cannot know the old counters
    /// must. No-op if it is already up.
    pub(crate) fn take_over(&mut self, net: &SimNetwork) -> bool {
        if self.up {
            return false;
        }
        self.core.start_session(self.core.session().next());
        self.up = true;
        let _ = net.set_host_up(self.io.host(), true);
        true
    }
}
