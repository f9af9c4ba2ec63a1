//! How the simulator builds a protocol's nodes (from its registry entry, over the key-value
//! store) and which faults make sense for it.

use dataplane::config::ClusterConfig;
use protocols::{Protocol, Tuning};

use super::options::{FaultKind, FaultSet};
use crate::time::Time;
use protocols::app::kv::KvStore;

/// A protocol's replica core as the simulator runs it: over the key-value store.
pub type ReplicaOf<P> = <P as Protocol>::Replica<KvStore>;

/// Replica `index` of a cluster starting fresh, with an empty store and the simulation
/// tuning ([`Tuning::SIMULATION`]).
pub fn new_replica<P: Protocol>(config: &ClusterConfig, index: usize) -> ReplicaOf<P> {
    P::new_replica(config, index, KvStore::default(), &Tuning::SIMULATION)
}

/// Replica `index` restarting at `now` after losing its memory; `None` if the protocol
/// has no recovery (then the `memory-loss` fault is not used).
pub fn recovering_replica<P: Protocol>(
    config: &ClusterConfig,
    index: usize,
    nonce: u64,
    now: Time,
) -> Option<ReplicaOf<P>> {
    P::recovering_replica(
        config,
        index,
        KvStore::default(),
        &Tuning::SIMULATION,
        nonce,
        now,
    )
}

/// The fault kinds that make sense for protocol `P` in `config`: `--faults all` means
/// these, and asking for another kind is an error.
pub fn supported_faults<P: Protocol>(config: &ClusterConfig) -> FaultSet {
    let mut set = FaultSet::all();
    if !P::uses_sequencer() {
        set.remove(FaultKind::Failover);
        set.remove(FaultKind::Stray);
    }
    if P::max_down(config) == 0 {
        set.remove(FaultKind::Crash);
        set.remove(FaultKind::MemoryLoss);
        // A paused replica is as unavailable as a crashed one while it lasts.
        set.remove(FaultKind::Pause);
    }
    if recovering_replica::<P>(config, 0, 0, Time::ZERO).is_none() {
        set.remove(FaultKind::MemoryLoss);
    }
    if long_hold_excluded(P::NAME).is_some() {
        set.remove(FaultKind::LongHold);
    }
    set
}

/// Protocols the long-hold fault ([`FaultKind::LongHold`]) is not applied to, by
/// [`Protocol::NAME`], each with the reason: a protocol whose design assumes datagrams are
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
