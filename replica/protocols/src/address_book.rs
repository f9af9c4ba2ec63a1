//! Where a core's [`Destination`]s are: the replicas' and the group's socket addresses, from
//! the cluster config. Every driver (kernel UDP, DPDK, the simulator, client-gen's load
//! engine) resolves destinations through one [`AddressBook`].

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use crate::Destination;

/// The replicas' addresses and the replicated group's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBook {
    replicas: Vec<SocketAddrV4>,
    group: Option<SocketAddrV4>,
}

impl AddressBook {
    /// Every replica of `config`, and its first group's socket (the one the protocols
    /// order), if it has a group.
    pub fn new(config: &ClusterConfig) -> AddressBook {
        AddressBook {
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            group: config.groups.first().map(|g| config.group_socket(g)),
        }
    }

    /// The first `n` replicas only (a protocol that runs fewer than the config lists).
    pub fn with_replicas(mut self, n: usize) -> AddressBook {
        self.replicas.truncate(n);
        self
    }

    /// The group socket `group` instead of the config's.
    pub fn with_group(mut self, group: SocketAddrV4) -> AddressBook {
        self.group = Some(group);
        self
    }

    pub fn replicas(&self) -> &[SocketAddrV4] {
        &self.replicas
    }

    pub fn group(&self) -> Option<SocketAddrV4> {
        self.group
    }

    /// Calls `each` with every address `destination` stands for in a datagram from
    /// `sender` (its replica index, if a replica sends: [`Destination::OtherReplicas`]
    /// leaves it out). An unknown replica index, or the group of a config without one,
    /// yields nothing.
    #[inline]
    pub fn resolve(
        &self,
        destination: Destination,
        sender: Option<usize>,
        mut each: impl FnMut(SocketAddrV4),
    ) {
        match destination {
            Destination::Replica(i) => {
                if let Some(a) = self.replicas.get(i) {
                    each(*a);
                }
            }
            Destination::OtherReplicas => {
                for (i, a) in self.replicas.iter().enumerate() {
                    if Some(i) != sender {
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

    use super::*;

    fn resolved(book: &AddressBook, d: Destination, sender: Option<usize>) -> Vec<u16> {
        let mut ports = Vec::new();
        book.resolve(d, sender, |a| ports.push(a.port()));
        ports
    }

    #[test]
    fn destinations_resolve_to_the_configured_sockets() {
        let config = ClusterConfig::local(3, 43000, Ipv4Addr::new(127, 0, 0, 10));
        let book = AddressBook::new(&config);
        assert_eq!(resolved(&book, Destination::Replica(2), None), [43002]);
        assert_eq!(resolved(&book, Destination::Replica(3), None), [0u16; 0]);
        assert_eq!(
            resolved(&book, Destination::OtherReplicas, Some(1)),
            [43000, 43002]
        );
        assert_eq!(
            resolved(&book, Destination::OtherReplicas, None),
            [43000, 43001, 43002]
        );
        let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5000);
        assert_eq!(resolved(&book, Destination::Client(client), None), [5000]);
        let group = book.group().expect("a local config has a group");
        assert_eq!(resolved(&book, Destination::Group, None), [group.port()]);
        let one = book.clone().with_replicas(1);
        assert_eq!(resolved(&one, Destination::OtherReplicas, None), [43000]);
    }
}
