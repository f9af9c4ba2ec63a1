//! The one list of protocols: what each one is ([`Protocol`]: its properties and how to
//! build its replica and client cores) and the names the command lines take
//! ([`ProtocolKind`]). The replica process, `replica-sim` and client-gen read it; adding a
//! protocol touches its own folder, its `registry_entry.rs`, and the list here.

use std::fmt;
use std::net::SocketAddrV4;
use std::str::FromStr;

use dataplane::config::ClusterConfig;

use crate::app::App;
use crate::fastpaxos::FastPaxos;
use crate::nopaxos::Nopaxos;
use crate::specpaxos::Spec;
use crate::time::Time;
use crate::unreplicated::Unreplicated;
use crate::vr::Vr;
use crate::{Client, ClientId, Replica};

/// Settings of one replica process that only some protocols take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    /// The largest batch a batching protocol ([`Protocol::batches`]) orders in one round;
    /// its own default when `None`.
    pub max_batch: Option<usize>,
    /// Executed slots a replica keeps before truncating its log, for protocols that
    /// truncate by count (Fast Paxos); their own default when `None`. The simulator keeps
    /// few, so runs of a few virtual seconds reach state transfer.
    pub retain: Option<u64>,
}

impl Tuning {
    /// What the simulator and the scenario harness build replicas with: few retained
    /// slots, so runs of a few virtual seconds truncate logs and send lagging replicas to
    /// state transfer.
    pub const SIMULATION: Tuning = Tuning {
        max_batch: None,
        retain: Some(256),
    };
}

/// A protocol: its properties and how to build its cores. Every consumer (the replica
/// process on kernel UDP or DPDK, the simulator, client-gen) builds nodes through this
/// trait only, so anything implementing it can be served, swept and loaded.
pub trait Protocol {
    /// The replica core over the application `A`.
    type Replica<A: App>: Replica;
    type Client: Client + 'static;
    /// The name on every command line and in reports.
    const NAME: &'static str;
    /// One line for `--help`: what the protocol is.
    const SUMMARY: &'static str;

    /// Whether clients send through the sequencer ([`Destination::Group`]), so a cluster
    /// runs one (and failover and sequencer-replica partitions are possible).
    ///
    /// [`Destination::Group`]: crate::Destination::Group
    fn uses_sequencer() -> bool;

    /// Whether one replica of each view leads it (orders, or finishes what the fast path
    /// could not).
    fn has_leader() -> bool {
        true
    }

    /// Whether the protocol orders requests in batches ([`Tuning::max_batch`]).
    fn batches() -> bool {
        false
    }

    /// How many replicas the protocol runs in `config` (unreplicated: 1).
    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }

    /// How many matching replies a client waits for before a request counts as done.
    fn reply_quorum(config: &ClusterConfig) -> usize;

    /// Replica `index` of a cluster starting fresh, over `app`.
    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
    ) -> Self::Replica<A>;

    /// Replica `index` restarting at `now` after a crash that lost its memory; `nonce`
    /// differs from that of every earlier incarnation. `None` if the protocol has no
    /// recovery.
    fn recovering_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<Self::Replica<A>>;

    /// Client `id` at `address`, where the replies to it must go.
    fn new_client(config: &ClusterConfig, id: ClientId, address: SocketAddrV4) -> Self::Client;

    /// The client a reply datagram is for, read from the reply (clients sharing one socket
    /// demultiplex with it); `None` for anything that is not this protocol's reply.
    fn reply_client(datagram: &[u8]) -> Option<ClientId>;

    /// Replicas that may be down at the same time while the rest still make progress. The
    /// default, f, keeps a quorum up.
    fn max_down(config: &ClusterConfig) -> usize {
        config.f
    }
}

/// Calls `visit` with the protocol a [`ProtocolKind`] names, so code generic over
/// [`Protocol`] runs for a protocol chosen at run time.
pub trait ProtocolVisitor {
    type Output;
    fn visit<P: Protocol>(self) -> Self::Output;
}

/// Every protocol, by name: the one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolKind {
    Unreplicated,
    Nopaxos,
    /// Viewstamped Replication (Multi-Paxos) with batching.
    Vr,
    /// Speculative Paxos.
    Spec,
    FastPaxos,
}

impl ProtocolKind {
    pub const ALL: [ProtocolKind; 5] = [
        ProtocolKind::Unreplicated,
        ProtocolKind::Nopaxos,
        ProtocolKind::Vr,
        ProtocolKind::Spec,
        ProtocolKind::FastPaxos,
    ];

    /// Runs `visitor` with this protocol's [`Protocol`] type.
    pub fn visit<V: ProtocolVisitor>(self, visitor: V) -> V::Output {
        match self {
            ProtocolKind::Unreplicated => visitor.visit::<Unreplicated>(),
            ProtocolKind::Nopaxos => visitor.visit::<Nopaxos>(),
            ProtocolKind::Vr => visitor.visit::<Vr>(),
            ProtocolKind::Spec => visitor.visit::<Spec>(),
            ProtocolKind::FastPaxos => visitor.visit::<FastPaxos>(),
        }
    }

    pub fn name(self) -> &'static str {
        self.visit(Name)
    }

    /// [`Protocol::SUMMARY`].
    pub fn summary(self) -> &'static str {
        self.visit(Summary)
    }

    /// Whether requests go through the sequencer.
    pub fn uses_sequencer(self) -> bool {
        self.visit(UsesSequencer)
    }

    /// Whether the protocol takes [`Tuning::max_batch`].
    pub fn batches(self) -> bool {
        self.visit(Batches)
    }

    /// Replicas the protocol runs in `config`.
    pub fn replicas(self, config: &ClusterConfig) -> usize {
        self.visit(Replicas(config))
    }

    /// Every name, for an error message or a help text: "unreplicated, nopaxos, ...".
    pub fn names() -> String {
        ProtocolKind::ALL.map(ProtocolKind::name).join(", ")
    }
}

struct Name;
impl ProtocolVisitor for Name {
    type Output = &'static str;
    fn visit<P: Protocol>(self) -> &'static str {
        P::NAME
    }
}

struct Summary;
impl ProtocolVisitor for Summary {
    type Output = &'static str;
    fn visit<P: Protocol>(self) -> &'static str {
        P::SUMMARY
    }
}

struct UsesSequencer;
impl ProtocolVisitor for UsesSequencer {
    type Output = bool;
    fn visit<P: Protocol>(self) -> bool {
        P::uses_sequencer()
    }
}

struct Batches;
impl ProtocolVisitor for Batches {
    type Output = bool;
    fn visit<P: Protocol>(self) -> bool {
        P::batches()
    }
}

struct Replicas<'a>(&'a ClusterConfig);
impl ProtocolVisitor for Replicas<'_> {
    type Output = usize;
    fn visit<P: Protocol>(self) -> usize {
        P::replicas(self.0)
    }
}

impl FromStr for ProtocolKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ProtocolKind::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown protocol {s:?}: choose one of {}",
                    ProtocolKind::names()
                )
            })
    }
}

/// `--protocol nopaxos` and the like: the names, listed in `--help`.
#[cfg(feature = "clap")]
impl clap::ValueEnum for ProtocolKind {
    fn value_variants<'a>() -> &'a [Self] {
        &ProtocolKind::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.summary()))
    }
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_protocol() {
        for kind in ProtocolKind::ALL {
            assert_eq!(kind.name().parse::<ProtocolKind>(), Ok(kind));
        }
        let err = "paxos".parse::<ProtocolKind>().unwrap_err();
        assert!(err.contains("nopaxos, vr"), "{err}");
    }

    #[test]
    fn properties_match_the_designs() {
        let config = ClusterConfig::local(3, 42000, std::net::Ipv4Addr::new(127, 0, 0, 10));
        assert!(ProtocolKind::Nopaxos.uses_sequencer());
        assert!(ProtocolKind::Spec.uses_sequencer());
        assert!(!ProtocolKind::Vr.uses_sequencer());
        assert!(!ProtocolKind::FastPaxos.uses_sequencer());
        assert!(!ProtocolKind::Unreplicated.uses_sequencer());
        assert!(ProtocolKind::Vr.batches());
        assert!(!ProtocolKind::Nopaxos.batches());
        assert_eq!(ProtocolKind::Unreplicated.replicas(&config), 1);
        assert_eq!(ProtocolKind::Nopaxos.replicas(&config), 3);
        // f + 1 for NOPaxos (leader included) and VR's leader reply, a superquorum of
        // f + ceil(f/2) + 1 for the speculative protocols.
        assert_eq!(Nopaxos::reply_quorum(&config), 2);
        assert_eq!(Vr::reply_quorum(&config), 1);
        assert_eq!(Spec::reply_quorum(&config), 3);
        assert_eq!(FastPaxos::reply_quorum(&config), 1);
        assert_eq!(Unreplicated::reply_quorum(&config), 1);
    }
}
