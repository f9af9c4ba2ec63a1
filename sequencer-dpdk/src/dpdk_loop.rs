//! `sequencer --dpdk`: serving on a DPDK port, polling run to completion on one core: the
//! [`DpdkSequencer`] engine steps (receive, stamp, fan out, transmit), then the session
//! check, the stats line and the signal flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dataplane::config::ClusterConfig;
use dataplane::io::dpdk::{Eal, Mempool, Port, PortConfig, Queue};

use crate::dpdk_engine::{
    DEFAULT_COPY_THRESHOLD, DpdkSequencer, EngineConfig, EngineStats, MAX_BURST, MemberAddr,
};
use crate::report::{final_report, stats_line};
use crate::session_state::SessionState;

/// What `sequencer --dpdk` was asked for.
#[derive(Debug, Clone)]
pub struct DpdkOptions {
    pub port: u16,
    pub eal_args: Vec<String>,
    pub stats_interval: Option<Duration>,
    pub burst: usize,
    pub copy_threshold: usize,
    /// Mbufs in the pool (copies and header mbufs) and in the clone pool.
    pub pool_size: u32,
}

impl Default for DpdkOptions {
    fn default() -> Self {
        DpdkOptions {
            port: 0,
            eal_args: Vec::new(),
            stats_interval: None,
            burst: 32,
            copy_threshold: DEFAULT_COPY_THRESHOLD,
            pool_size: 8191,
        }
    }
}

/// Each group's members as DPDK needs them: the replica's MAC (config `mac`) and address.
pub fn member_table(config: &ClusterConfig) -> Result<Vec<Vec<MemberAddr>>, String> {
    config
        .groups
        .iter()
        .map(|g| {
            config
                .members(g)
                .iter()
                .map(|&m| {
                    let i = usize::from(m);
                    let addr = config.replica_address(i).ok_or_else(|| {
                        format!("group {} lists replica {m}, which does not exist", g.name)
                    })?;
                    let mac = config.replica_mac(i).ok_or_else(|| {
                        format!(
                            "replica[{i}] has no `mac`: on DPDK the sequencer addresses each \
                             member's copy itself, so give every member's Ethernet address in \
                             the config (mac = \"02:00:00:00:00:0b\")"
                        )
                    })?;
                    Ok(MemberAddr { mac, addr })
                })
                .collect()
        })
        .collect()
}

/// Runs until SIGINT or SIGTERM. The session is taken from `state` (and recorded) only
/// once DPDK and the port are up, so a start that fails uses no session.
pub fn run(
    config: &ClusterConfig,
    state: SessionState,
    requested_session: Option<u16>,
    options: &DpdkOptions,
) -> Result<(), String> {
    let members = member_table(config)?;
    if !(1..=MAX_BURST).contains(&options.burst) {
        return Err(format!(
            "--burst {} is outside 1..={MAX_BURST}",
            options.burst
        ));
    }
    let eal = Eal::init(&options.eal_args).map_err(|e| e.to_string())?;
    let pool = Mempool::create(
        &eal,
        "seq_pool",
        options.pool_size,
        256,
        Mempool::DEFAULT_DATA_ROOM,
    )
    .map_err(|e| e.to_string())?;
    let clone_pool = Mempool::create(&eal, "seq_clones", options.pool_size, 256, 0)
        .map_err(|e| e.to_string())?;
    let port =
        Port::start(&eal, options.port, pool, PortConfig::default()).map_err(|e| e.to_string())?;
    let queue = Queue::new(&port, 0).ok_or("the port has no queue 0")?;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install a handler for signal {signal}: {e}"))?;
    }
    let session = state.begin(requested_session).map_err(|e| e.to_string())?;
    let sequencer = config.sequencer(session)?;
    let mut engine = DpdkSequencer::new(
        sequencer,
        members,
        EngineConfig {
            rx: queue,
            tx: queue,
            burst: options.burst,
            copy_threshold: options.copy_threshold,
            mac: port.mac(),
        },
        pool,
        clone_pool,
    )?;
    let link = port.link();
    // The replicas judge stamps by this port's MAC when the config lists it: say which MAC
    // to list, and shout if the list misses it.
    let (mac_note, mac_unlisted) = crate::report::mac_note(config, port.mac());
    if mac_unlisted {
        eprintln!("sequencer: warning{mac_note}");
    }
    println!(
        "sequencer: session {session} on DPDK port {} ({}, {}, link {}), groups {}{}{mac_note}",
        port.id(),
        port.driver(),
        port.mac(),
        if link.up { "up" } else { "down" },
        config
            .groups
            .iter()
            .map(|g| config.group_socket(g).to_string())
            .collect::<Vec<_>>()
            .join(", "),
        crate::report::keyed_note(config)
    );

    let mut last_stats = Instant::now();
    let mut last_stamped = 0;
    let mut idle: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let received = engine.poll();
        if engine.sequencer().needs_new_session() {
            let next = engine.sequencer().session().next();
            state.record(next).map_err(|e| e.to_string())?;
            engine.sequencer_mut().start_session(next);
            tracing::warn!(session = %next, "a message number reached 2^64-1: new session");
            println!("sequencer: a message number reached 2^64-1; now session {next}");
        }
        // Read the clock only every 1024 idle polls or busy bursts: it is cheap, but the
        // loop is cheaper.
        idle = if received == 0 { idle + 1 } else { idle + 64 };
        if idle >= 1024 {
            idle = 0;
            if let Some(interval) = options.stats_interval {
                let elapsed = last_stats.elapsed();
                if elapsed >= interval {
                    let stats = engine.sequencer().stats();
                    println!(
                        "{} {}",
                        stats_line(&stats, last_stamped, elapsed.as_secs_f64()),
                        engine_line(&engine.stats())
                    );
                    last_stamped = stats.stamped();
                    last_stats = Instant::now();
                }
            }
        }
    }
    print!(
        "{}",
        final_report(config, &engine.sequencer().stats(), None)
    );
    println!("  dpdk: {}", engine_line(&engine.stats()));
    if let Ok(d) = port.device_stats() {
        println!(
            "  port {}: rx {} tx {} missed {} rx-errors {} tx-errors {} no-mbuf {}",
            port.id(),
            d.rx_packets,
            d.tx_packets,
            d.rx_missed,
            d.rx_errors,
            d.tx_errors,
            d.rx_no_mbuf
        );
    }
    drop(engine);
    drop(port);
    // SAFETY: the engine and the port are gone and no mbuf is held any more; nothing DPDK
    // is used after this.
    unsafe { eal.cleanup() };
    Ok(())
}

/// The engine's counters on one line.
pub fn engine_line(s: &EngineStats) -> String {
    let mut line = format!(
        "rx {} tx {} copies {} clones {} arp-replies {}",
        s.rx_frames, s.tx_frames, s.copies, s.clones, s.arp_replies
    );
    if s.unsealed > 0 {
        line.push_str(&format!(" unsealed={}", s.unsealed));
    }
    for (reason, n) in s.drops.nonzero() {
        line.push_str(&format!(" {reason}={n}"));
    }
    line
}
