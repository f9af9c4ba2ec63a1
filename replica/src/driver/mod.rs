//! Drivers: run a sans-IO protocol core over real packet I/O.

pub mod udp;

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use dataplane::wire::{OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE};

use crate::protocol::Destination;

/// Turns a core's destinations into addresses, from the cluster config.
#[derive(Debug, Clone)]
pub struct Addresses {
    replicas: Vec<SocketAddrV4>,
    group: Option<SocketAddrV4>,
    /// The replica index of the node being driven, if it is a replica.
    me: Option<usize>,
    /// The only sources a replica takes stamped datagrams from: the group sockets of a
    /// kernel-UDP sequencer. Empty when the config's sequencer forwards with the client's
    /// source address (DPDK, switch) or when the node is not a replica (docs/operations.md,
    /// "Who may stamp").
    stamp_sources: Vec<SocketAddrV4>,
}

impl Addresses {
    pub fn new(config: &ClusterConfig, me: Option<usize>) -> Addresses {
        Addresses {
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            group: config.groups.first().map(|g| config.group_socket(g)),
            me,
            stamp_sources: match me {
                Some(_) if config.sequencer.kind.stamps_from_group_socket() => config
                    .groups
                    .iter()
                    .map(|g| config.group_socket(g))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    /// Whether the driver may hand `datagram` from `from` to the core: false only for a
    /// stamped OUM datagram (header size 10) from an address that is no group socket, when
    /// the sequencer is a kernel-UDP end host. Anything else passes, to be judged (and
    /// counted) by the core. Cheap: a prefix compare, then a scan of a few addresses.
    pub fn stamp_source_ok(&self, from: SocketAddrV4, datagram: &[u8]) -> bool {
        if self.stamp_sources.is_empty() || !datagram.starts_with(&OUM_PREAMBLE) {
            return true;
        }
        let sequenced = OUM_SEQUENCED_HEADER_SIZE.to_be_bytes();
        if datagram.get(4..6) != Some(&sequenced[..]) {
            return true;
        }
        self.stamp_sources.contains(&from)
    }

    /// The replica index of the node being driven, if it is a replica.
    pub fn me(&self) -> Option<usize> {
        self.me
    }

    /// Calls `each` with every address `destination` stands for.
    pub fn resolve(&self, destination: Destination, mut each: impl FnMut(SocketAddrV4)) {
        match destination {
            Destination::Replica(i) => {
                if let Some(a) = self.replicas.get(i) {
                    each(*a);
                }
            }
            Destination::OtherReplicas => {
                for (i, a) in self.replicas.iter().enumerate() {
                    if Some(i) != self.me {
                        each(*a);
                    }
                }
            }
            Destination::Client(a) => each(a),
            Destination::Group => {
                if let Some(g) = self.group {
                    each(g);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use dataplane::config::SequencerKind;
    use dataplane::wire::{OumPacket, Stamp};

    use super::*;

    fn stamped() -> Vec<u8> {
        let mut bytes = vec![0u8; 40];
        bytes[..4].copy_from_slice(&OUM_PREAMBLE);
        OumPacket::new_checked(&mut bytes[..])
            .unwrap()
            .header_mut()
            .stamp(Stamp::new(3, 7));
        bytes
    }

    fn config(kind: SequencerKind) -> ClusterConfig {
        let mut c = ClusterConfig::local(3, 0, Ipv4Addr::new(127, 0, 0, 90));
        c.sequencer.kind = kind;
        c
    }

    #[test]
    fn a_replica_takes_stamps_only_from_a_group_socket_of_a_udp_sequencer() {
        let c = config(SequencerKind::Udp);
        let group = c.group_socket(&c.groups[0]);
        let stranger: SocketAddrV4 = "127.0.0.1:4000".parse().unwrap();
        let a = Addresses::new(&c, Some(1));
        assert!(a.stamp_source_ok(group, &stamped()));
        assert!(!a.stamp_source_ok(stranger, &stamped()));
        // Same address, another port: not the sequencer's socket.
        let near = SocketAddrV4::new(*group.ip(), group.port() + 1);
        assert!(!a.stamp_source_ok(near, &stamped()));
        // Unstamped, protocol messages and truncated headers are the core's to judge.
        let mut unstamped = stamped();
        unstamped[4..6].copy_from_slice(&0u16.to_be_bytes());
        assert!(a.stamp_source_ok(stranger, &unstamped));
        assert!(a.stamp_source_ok(stranger, b"envelope"));
        assert!(a.stamp_source_ok(stranger, &stamped()[..5]));
        assert!(!a.stamp_source_ok(stranger, &stamped()[..6]));
        // A client-side driver never filters.
        assert!(Addresses::new(&c, None).stamp_source_ok(stranger, &stamped()));
    }

    #[test]
    fn dpdk_and_switch_sequencers_keep_the_client_source_so_nothing_is_filtered() {
        let stranger: SocketAddrV4 = "127.0.0.1:4000".parse().unwrap();
        for kind in [SequencerKind::Dpdk, SequencerKind::Switch] {
            let a = Addresses::new(&config(kind), Some(0));
            assert!(a.stamp_source_ok(stranger, &stamped()), "{kind:?}");
        }
    }
}
