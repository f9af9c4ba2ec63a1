//! `replica --mode <protocol>`: a protocol core of the registry with the
//! key-value store (or the null app, `--app null`), on kernel UDP at the replica's
//! configured address.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::io::PacketIo;
use dataplane::io::udp::{UdpConfig, UdpIo};

use crate::driver::udp::{LoopOptions, UdpLoop};
use crate::driver::{Addresses, RefusalCounts};
use crate::stale_alarm::{self, StaleSessionAlarm};
use dataplane::time::Time;
use protocols::app::kv::KvStore;
use protocols::app::null::NullApp;
use protocols::app::{App, AppKind};
use protocols::{Node, Protocol, ProtocolKind, ProtocolVisitor, Replica, Tuning};

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
    /// The replicated application.
    pub app: AppKind,
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

/// Runs a node once [`with_node`] has built it: the part of serving that depends on the
/// packet backend.
pub(crate) trait NodeRunner {
    fn run<N: Node + Replica>(self, node: &mut N) -> Result<(), String>;
}

/// Builds the protocol core `protocol` for replica `index` (fresh, or recovering with
/// `options.recover`) with the application `options.app` and hands it to `runner`.
pub(crate) fn with_node<R: NodeRunner>(
    config: &ClusterConfig,
    index: usize,
    protocol: ProtocolKind,
    options: &ServeOptions,
    runner: R,
) -> Result<(), String> {
    if protocol.uses_sequencer() {
        one_ordered_stream(config, index)?;
    }
    match options.app {
        AppKind::Kv => protocol.visit(BuildNode {
            config,
            index,
            options,
            app: KvStore::default,
            runner,
        }),
        AppKind::Null => protocol.visit(BuildNode {
            config,
            index,
            options,
            app: NullApp::default,
            runner,
        }),
    }
}

/// [`with_node`] once the protocol and the application are known.
struct BuildNode<'a, F, R> {
    config: &'a ClusterConfig,
    index: usize,
    options: &'a ServeOptions,
    app: F,
    runner: R,
}

impl<A: App, F: Fn() -> A, R: NodeRunner> ProtocolVisitor for BuildNode<'_, F, R> {
    type Output = Result<(), String>;

    fn visit<P: Protocol>(self) -> Result<(), String> {
        let tuning = Tuning {
            max_batch: self.options.max_batch,
            retain: None,
        };
        let (config, index, app) = (self.config, self.index, (self.app)());
        if !self.options.recover {
            let mut node = P::new_replica(config, index, app, &tuning);
            return self.runner.run(&mut node);
        }
        // A recovering process proves to the others that its answers are fresh with a
        // nonce no earlier incarnation used: the wall clock in nanoseconds.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        match P::recovering_replica(config, index, app, &tuning, nonce, Time::ZERO) {
            Some(mut node) => self.runner.run(&mut node),
            None => Err(format!(
                "--recover: {} keeps one copy of the state and has no recovery; start it \
                 without --recover",
                P::NAME
            )),
        }
    }
}

/// A protocol on OUM orders the first group's stream, and its receiver takes one stream: a
/// stamp does not name its group, so a second group's stamps arriving at the same replica
/// would interleave with the first's (both count from 1) and read as duplicates and gaps.
fn one_ordered_stream(config: &ClusterConfig, index: usize) -> Result<(), String> {
    match config
        .groups_of(index)
        .find(|g| config.groups.first() != Some(*g))
    {
        Some(g) => Err(format!(
            "replica {index} is a member of group \"{}\" as well as of the first group, \"{}\", \
             whose requests the protocol orders; a replica can follow one OUM group. Leave it out \
             of `members` of \"{}\" (later groups are for the sequencer and `--mode listen`)",
            g.name,
            config.groups.first().map_or("", |f| f.name.as_str()),
            g.name
        )),
        None => Ok(()),
    }
}

/// The replica's address in the config, or an error naming the valid indexes.
pub(crate) fn replica_address(
    config: &ClusterConfig,
    index: usize,
) -> Result<std::net::SocketAddrV4, String> {
    config.replica_address(index).ok_or_else(|| {
        format!(
            "--index {index} is not a replica: the config has {} (0..{})",
            config.n(),
            config.n()
        )
    })
}

/// Kernel-UDP sockets for replica `index`: its own address, and the multicast address of
/// every group it belongs to that has one.
pub(crate) fn bind_replica_io(config: &ClusterConfig, index: usize) -> Result<UdpIo, String> {
    let address = replica_address(config, index)?;
    let mut io = UdpIo::bind(&[address], UdpConfig::default()).map_err(|e| e.to_string())?;
    for group in config.groups_of(index) {
        if let Some(multicast) = config.multicast_socket(group) {
            io.join_multicast(multicast, *address.ip()).map_err(|e| {
                format!(
                    "group {}: {e}; give the group no `multicast` to have the sequencer send \
                     one copy per member instead",
                    group.name
                )
            })?;
        }
    }
    Ok(io)
}

pub fn serve(
    config: &ClusterConfig,
    index: usize,
    protocol: ProtocolKind,
    options: ServeOptions,
) -> Result<(), String> {
    let address = replica_address(config, index)?;
    let stop = stop_flag()?;
    let mut io = bind_replica_io(config, index)?;
    let addresses = Addresses::new(config, Some(index))?;
    if !addresses.stamp_macs().is_empty() {
        // A kernel socket hides the Ethernet source: the list cannot be checked here.
        eprintln!(
            "replica {index}: note: [sequencer] macs is checked only by replicas on DPDK \
             (--dpdk); on kernel UDP stamps are taken from any MAC, so keep forgers off the \
             replica network (docs/operations.md, \"Who may stamp\")"
        );
    }
    println!(
        "replica {index} serving {protocol} ({:?} app) on {address}",
        options.app
    );
    let runner = LoopRunner {
        io: &mut io,
        addresses: &addresses,
        options: &options,
        stop: &stop,
        extra_stats: |_: &UdpIo| String::new(),
    };
    with_node(config, index, protocol, &options, runner)
}

/// Runs a node on a packet backend until `stop`, printing stats lines (the node's, then
/// `extra_stats` of the backend) every `options.stats_interval` and once at the end.
pub(crate) struct LoopRunner<'a, I, S> {
    pub io: &'a mut I,
    pub addresses: &'a Addresses,
    pub options: &'a ServeOptions,
    pub stop: &'a AtomicBool,
    pub extra_stats: S,
}

impl<I: PacketIo, S: Fn(&I) -> String> NodeRunner for LoopRunner<'_, I, S> {
    fn run<N: Node + Replica>(self, node: &mut N) -> Result<(), String> {
        let loop_options = LoopOptions {
            busy_poll: self.options.busy_poll,
            drop_rate: self.options.drop_rate,
        };
        let stats_interval = self.options.stats_interval;
        let mut driver = UdpLoop::new(node, self.io, self.addresses, loop_options);
        let mut next_stats = stats_interval.map(|i| driver.now() + i);
        let mut alarm = StaleSessionAlarm::new(
            driver.node.index(),
            driver.now(),
            driver.node.stats().stale_session,
        );
        let mut next_alarm = driver.now() + stale_alarm::PERIOD;
        while !self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            if driver.round().map_err(|e| e.to_string())? == 0 {
                driver.idle().map_err(|e| e.to_string())?;
            }
            let now = driver.now();
            if now >= next_alarm {
                next_alarm = now + stale_alarm::PERIOD;
                let node = &*driver.node;
                if let Some(line) =
                    alarm.check(now, node.stats().stale_session, node.newest_oum_session())
                {
                    eprintln!("{line}");
                }
            }
            if let (Some(at), Some(interval)) = (next_stats, stats_interval) {
                if driver.now() >= at {
                    println!(
                        "{}{}",
                        stats_line(&*driver.node, driver.refused),
                        (self.extra_stats)(&*driver.io)
                    );
                    next_stats = Some(driver.now() + interval);
                }
            }
        }
        let dropped = driver.dropped;
        let refused = driver.refused;
        let extra = (self.extra_stats)(&*driver.io);
        println!(
            "{} (dropped by --drop-rate: {dropped}){extra}",
            stats_line(&*node, refused)
        );
        println!("{}", node.describe());
        Ok(())
    }
}

/// The counters line; docs/operations.md ("Replica counters") explains each field, and
/// client-gen keeps these lines in its reports. `stranger_stamp`, `missing_tag` and
/// `bad_tag` are the driver's counts of stamps it refused (they never reach the core): from
/// a source that is no sequencer, and for a keyed group without a tag or with a wrong one.
pub(crate) fn stats_line<R: Replica>(r: &R, refused: RefusalCounts) -> String {
    let s = r.stats();
    format!(
        "stats replica={} leader={} requests={} executed={} commit_point={} malformed={} \
         unstamped={} stranger={} unexpected={} stale={} stale_session={} duplicate={} \
         too_far_ahead={} beyond_window={} unconfirmed={} view_changes={} state_transfers={} \
         stranger_stamp={} missing_tag={} bad_tag={}",
        r.index(),
        r.is_leader(),
        s.requests,
        s.executed,
        r.commit_point(),
        s.malformed,
        s.unstamped,
        s.stranger,
        s.unexpected,
        s.stale,
        s.stale_session,
        s.duplicate,
        s.too_far_ahead,
        s.beyond_window,
        s.unconfirmed,
        s.view_changes,
        s.state_transfers,
        refused.stranger_stamp,
        refused.missing_tag,
        refused.bad_tag
    )
}
