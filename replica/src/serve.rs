//! `replica --mode nopaxos|vr|spec|fastpaxos|unreplicated`: a protocol core with the
//! key-value store, on kernel UDP at the replica's configured address.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::io::udp::{UdpConfig, UdpIo};

use crate::app::kv::KvStore;
use crate::driver::Addresses;
use crate::driver::udp::{LoopOptions, UdpLoop};
use crate::protocol::fastpaxos::{FastPaxosConfig, FastPaxosReplica};
use crate::protocol::nopaxos::{NopaxosConfig, NopaxosReplica};
use crate::protocol::spec::{SpecConfig, SpecReplica};
use crate::protocol::unreplicated::UnreplicatedServer;
use crate::protocol::vr::{VrConfig, VrReplica};
use crate::protocol::{Node, Replica};

/// Which protocol a replica process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Nopaxos,
    /// Viewstamped Replication / Multi-Paxos with batching.
    Vr,
    /// Speculative Paxos.
    Spec,
    FastPaxos,
    Unreplicated,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Start by recovering (the process restarted and lost its memory).
    pub recover: bool,
    pub busy_poll: bool,
    /// Print a stats line this often.
    pub stats_interval: Option<Duration>,
    /// Drop this fraction of received datagrams (fault injection).
    pub drop_rate: f64,
    /// VR's largest batch (its default if `None`).
    pub max_batch: Option<usize>,
}

/// A flag set by SIGINT or SIGTERM, so a process stops cleanly and prints its counters.
pub(crate) fn stop_flag() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install a handler for signal {signal}: {e}"))?;
    }
    Ok(stop)
}

pub fn serve(
    config: &ClusterConfig,
    index: usize,
    protocol: Protocol,
    options: ServeOptions,
) -> Result<(), String> {
    let address = config.replica_address(index).ok_or_else(|| {
        format!(
            "--index {index} is not a replica: the config has {} (0..{})",
            config.n(),
            config.n()
        )
    })?;
    let stop = stop_flag()?;
    let mut io = UdpIo::bind(&[address], UdpConfig::default()).map_err(|e| e.to_string())?;
    let addresses = Addresses::new(config, Some(index));
    let loop_options = LoopOptions {
        busy_poll: options.busy_poll,
        drop_rate: options.drop_rate,
    };
    println!("replica {index} serving {protocol:?} on {address}");
    // A recovering process proves to the others that its answers are fresh with a nonce no
    // earlier incarnation used: the wall clock in nanoseconds.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let recover = options.recover;
    let zero = dataplane::time::Time::ZERO;
    let kv = KvStore::default;
    match protocol {
        Protocol::Nopaxos => {
            let cfg = NopaxosConfig::from_cluster(config, index);
            let mut node = if recover {
                NopaxosReplica::recovering(cfg, kv(), nonce, zero)
            } else {
                NopaxosReplica::new(cfg, kv())
            };
            run(
                &mut node,
                &mut io,
                &addresses,
                loop_options,
                &stop,
                options.stats_interval,
            )
        }
        Protocol::Vr => {
            let mut cfg = VrConfig::from_cluster(config, index);
            if let Some(b) = options.max_batch {
                cfg.max_batch = b;
            }
            let mut node = if recover {
                VrReplica::recovering(cfg, kv(), nonce, zero)
            } else {
                VrReplica::new(cfg, kv())
            };
            run(
                &mut node,
                &mut io,
                &addresses,
                loop_options,
                &stop,
                options.stats_interval,
            )
        }
        Protocol::Spec => {
            let cfg = SpecConfig::from_cluster(config, index);
            let mut node = if recover {
                SpecReplica::recovering(cfg, kv(), nonce, zero)
            } else {
                SpecReplica::new(cfg, kv())
            };
            run(
                &mut node,
                &mut io,
                &addresses,
                loop_options,
                &stop,
                options.stats_interval,
            )
        }
        Protocol::FastPaxos => {
            let cfg = FastPaxosConfig::from_cluster(config, index);
            let mut node = if recover {
                FastPaxosReplica::recovering(cfg, kv(), nonce, zero)
            } else {
                FastPaxosReplica::new(cfg, kv())
            };
            run(
                &mut node,
                &mut io,
                &addresses,
                loop_options,
                &stop,
                options.stats_interval,
            )
        }
        Protocol::Unreplicated => {
            let mut node = UnreplicatedServer::new(kv());
            run(
                &mut node,
                &mut io,
                &addresses,
                loop_options,
                &stop,
                options.stats_interval,
            )
        }
    }
}

fn run<N: Node + Replica>(
    node: &mut N,
    io: &mut UdpIo,
    addresses: &Addresses,
    options: LoopOptions,
    stop: &AtomicBool,
    stats_interval: Option<Duration>,
) -> Result<(), String> {
    let mut driver = UdpLoop::new(node, io, addresses, options);
    let mut next_stats = stats_interval.map(|i| driver.now() + i);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if driver.round().map_err(|e| e.to_string())? == 0 {
            driver.idle().map_err(|e| e.to_string())?;
        }
        if let (Some(at), Some(interval)) = (next_stats, stats_interval) {
            if driver.now() >= at {
                println!("{}", stats_line(&*driver.node));
                next_stats = Some(driver.now() + interval);
            }
        }
    }
    let dropped = driver.dropped;
    println!("{} (dropped by --drop-rate: {dropped})", stats_line(&*node));
    println!("{}", node.describe());
    Ok(())
}

fn stats_line<R: Replica>(r: &R) -> String {
    let s = r.stats();
    format!(
        "stats replica={} leader={} requests={} executed={} commit_point={} malformed={} stale={} \
         foreign={} too_far_ahead={} view_changes={} state_transfers={}",
        r.index(),
        r.is_leader(),
        s.requests,
        s.executed,
        r.commit_point(),
        s.malformed,
        s.stale,
        s.foreign,
        s.too_far_ahead,
        s.view_changes,
        s.state_transfers
    )
}
