//! Drivers: run a sans-IO protocol core over real packet I/O.

pub mod udp;

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;

use crate::protocol::Destination;

/// Turns a core's destinations into addresses, from the cluster config.
#[derive(Debug, Clone)]
pub struct Addresses {
    replicas: Vec<SocketAddrV4>,
    group: Option<SocketAddrV4>,
    /// The replica index of the node being driven, if it is a replica.
    me: Option<usize>,
}

impl Addresses {
    pub fn new(config: &ClusterConfig, me: Option<usize>) -> Addresses {
        Addresses {
            replicas: config.replicas.iter().map(|r| r.address).collect(),
            group: config.groups.first().map(|g| config.group_socket(g)),
            me,
        }
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
