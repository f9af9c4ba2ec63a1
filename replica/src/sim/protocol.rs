//! What a protocol provides to be simulated: how to build its replicas and clients, and
//! which faults make sense for it.

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use dataplane::oum::SessionNumber;

use super::options::{FaultKind, FaultSet};
use crate::app::kv::KvStore;
use crate::protocol::nopaxos::{NopaxosClient, NopaxosConfig, NopaxosReplica};
use crate::protocol::pending::ClientTimeouts;
use crate::protocol::unreplicated::{UnreplicatedClient, UnreplicatedServer};
use crate::protocol::{Client, Replica};
use crate::time::Time;

/// A protocol the simulator can run: its replica and client cores over the key-value store.
/// The simulator drives the cores through [`Replica`] and [`Client`] only, so anything that
/// implements them can be swept for safety and liveness.
pub trait SimProtocol {
    type R: Replica;
    type C: Client;
    /// The name on the command line and in reports.
    const NAME: &'static str;

    /// Whether clients send through the sequencer ([`Destination::Group`]), so the run has
    /// a sequencer host (and failover and sequencer-replica partitions are possible).
    ///
    /// [`Destination::Group`]: crate::protocol::Destination::Group
    fn uses_sequencer() -> bool;

    /// How many replicas the protocol runs in `config` (unreplicated: 1).
    fn replicas(config: &ClusterConfig) -> usize;

    /// Replica `index` of a cluster starting fresh, with an empty [`KvStore`].
    fn new_replica(config: &ClusterConfig, index: usize) -> Self::R;

    /// Replica `index` restarting at `now` after a crash that lost its memory; `nonce`
    /// differs from that of every earlier restart in the run. `None` if the protocol has no
    /// recovery, and then the `memory-loss` fault is not used.
    fn recovering_replica(
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> Option<Self::R>;

    /// Client `id` (ids are 1, 2, ... and unique within a run) at `address`, where the
    /// replies to it must go.
    fn new_client(config: &ClusterConfig, id: u64, address: SocketAddrV4) -> Self::C;

    /// Replicas that may be down at the same time during the fault period. The default, f,
    /// keeps a quorum up, so the cluster can always recover once the faults heal.
    fn max_down(config: &ClusterConfig) -> usize {
        config.f
    }

    /// The session the sequencer starts in.
    fn initial_session() -> SessionNumber {
        SessionNumber(0)
    }

    /// The fault kinds that make sense for this protocol in `config`: `--faults all` means
    /// these, and asking for another kind is an error.
    fn supported_faults(config: &ClusterConfig) -> FaultSet {
        let mut set = FaultSet::all();
        if !Self::uses_sequencer() {
            set.remove(FaultKind::Failover);
            set.remove(FaultKind::Stray);
        }
        if Self::max_down(config) == 0 {
            set.remove(FaultKind::Crash);
            set.remove(FaultKind::MemoryLoss);
            // A paused replica is as unavailable as a crashed one while it lasts.
            set.remove(FaultKind::Pause);
        }
        if Self::recovering_replica(config, 0, 0, Time::ZERO).is_none() {
            set.remove(FaultKind::MemoryLoss);
        }
        if Self::uses_long_hold() == Some(false) || long_hold_excluded(Self::NAME).is_some() {
            set.remove(FaultKind::LongHold);
        }
        set
    }

    /// Whether the long-hold fault applies (`None`: the default, it does unless
    /// [`LONG_HOLD_EXCLUDED`] names the protocol).
    fn uses_long_hold() -> Option<bool> {
        None
    }
}

/// Protocols the long-hold fault ([`FaultKind::LongHold`]) is not applied to, by
/// [`SimProtocol::NAME`], each with the reason: a protocol whose design assumes datagrams are
/// delivered within some bound, or one where the fault found a violation that is reported
/// and not yet fixed (see docs/protocols.md).
pub const LONG_HOLD_EXCLUDED: &[(&str, &str)] = &[];

/// Why the long-hold fault does not apply to the protocol `name`, if it does not.
pub fn long_hold_excluded(name: &str) -> Option<&'static str> {
    LONG_HOLD_EXCLUDED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, why)| why)
}

/// The unreplicated baseline: one server, clients talk to it directly.
#[derive(Debug, Clone, Copy)]
pub struct Unreplicated;

impl SimProtocol for Unreplicated {
    type R = UnreplicatedServer<KvStore>;
    type C = UnreplicatedClient;
    const NAME: &'static str = "unreplicated";

    fn uses_sequencer() -> bool {
        false
    }

    fn replicas(_config: &ClusterConfig) -> usize {
        1
    }

    fn new_replica(_config: &ClusterConfig, _index: usize) -> Self::R {
        UnreplicatedServer::new(KvStore::default())
    }

    fn recovering_replica(_: &ClusterConfig, _: usize, _: u64, _: Time) -> Option<Self::R> {
        // One copy of the state: losing it loses the data, nothing can recover it.
        None
    }

    fn new_client(config: &ClusterConfig, id: u64, _address: SocketAddrV4) -> Self::C {
        UnreplicatedClient::new(id, ClientTimeouts::from_config(&config.timeouts))
    }

    /// f is 0, but a crash here keeps the server's memory: a pause that clients ride out by
    /// resending, which is worth simulating.
    fn max_down(_config: &ClusterConfig) -> usize {
        1
    }
}

/// NOPaxos: clients send through the sequencer; replicas recover after memory loss.
#[derive(Debug, Clone, Copy)]
pub struct Nopaxos;

impl SimProtocol for Nopaxos {
    type R = NopaxosReplica<KvStore>;
    type C = NopaxosClient;
    const NAME: &'static str = "nopaxos";

    fn uses_sequencer() -> bool {
        true
    }

    fn replicas(config: &ClusterConfig) -> usize {
        config.n()
    }

    fn new_replica(config: &ClusterConfig, index: usize) -> Self::R {
        NopaxosReplica::new(
            NopaxosConfig::from_cluster(config, index),
            KvStore::default(),
        )
    }

    fn recovering_replica(
        config: &ClusterConfig,
        index: usize,
        nonce: u64,
        now: Time,
    ) -> Option<Self::R> {
        Some(NopaxosReplica::recovering(
            NopaxosConfig::from_cluster(config, index),
            KvStore::default(),
            nonce,
            now,
        ))
    }

    fn new_client(config: &ClusterConfig, id: u64, address: SocketAddrV4) -> Self::C {
        NopaxosClient::new(
            id,
            address,
            config.n(),
            config.f,
            ClientTimeouts::from_config(&config.timeouts),
        )
    }
}
