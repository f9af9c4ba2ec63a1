//! `client-gen sweep`: one cluster per protocol, a series of loads of increasing size
//! (client counts, or offered rates), and the latency-throughput curves drawn from them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::engine::{LoadMode, LoadSpec, ProtocolKind, run_load};
use crate::local::{Cluster, ReplicaFlags, loopback_config};
use crate::report::RunSummary;
use crate::workload::Arrivals;

/// The load levels of a sweep.
#[derive(Debug, Clone)]
pub enum Levels {
    /// Closed loop with this many clients.
    Clients(Vec<usize>),
    /// Open loop (Poisson arrivals) at these rates, with the spec's client pool.
    Rates(Vec<f64>),
}

#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub protocols: Vec<ProtocolKind>,
    pub replicas: usize,
    pub load: LoadSpec,
    pub levels: Levels,
    pub flags: ReplicaFlags,
    pub bin_dir: PathBuf,
    pub results: PathBuf,
}

/// Runs the sweep; writes `sweep.json`, `sweep.png` and `sweep.svg` into a new folder of
/// `results`, and returns the printed table.
pub fn run_sweep(options: &SweepOptions, stop: &AtomicBool) -> Result<String, String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = options.results.join(format!("sweep-{stamp}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let work = std::env::temp_dir().join(format!("nopaxos-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = sweep_into(options, &work, &dir, stop);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn sweep_into(
    options: &SweepOptions,
    work: &Path,
    dir: &Path,
    stop: &AtomicBool,
) -> Result<String, String> {
    let mut points: Vec<RunSummary> = Vec::new();
    for &protocol in &options.protocols {
        let mut config = loopback_config(options.replicas, work)?;
        config.timeouts = options.load.config.timeouts.clone();
        let path = work.join(format!("{}.toml", protocol.name()));
        std::fs::write(&path, config.to_toml())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let _ = std::fs::remove_file(work.join("sequencer-session"));
        let mut cluster =
            Cluster::start(protocol, &config, &path, &options.bin_dir, &options.flags)?;
        let levels: Vec<LoadSpec> = match &options.levels {
            Levels::Clients(counts) => counts
                .iter()
                .map(|&n| LoadSpec {
                    clients: n,
                    mode: LoadMode::Closed {
                        think: std::time::Duration::ZERO,
                    },
                    ..options.load.clone()
                })
                .collect(),
            Levels::Rates(rates) => rates
                .iter()
                .map(|&rate| LoadSpec {
                    mode: LoadMode::Open {
                        arrivals: Arrivals::Poisson { rate },
                    },
                    ..options.load.clone()
                })
                .collect(),
        };
        for mut spec in levels {
            spec.protocol = protocol;
            spec.config = config.clone();
            spec.servers = cluster.servers();
            let outcome = run_load(&spec, stop);
            if let Some(death) = cluster.death(None) {
                cluster.stop();
                return Err(format!("{protocol}: {death}"));
            }
            points.push(outcome?.summary);
        }
        cluster.stop();
    }
    let json = dir.join("sweep.json");
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&points).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    let (png, svg) = crate::plot::plot(&points, &dir.join("sweep"), "latency vs throughput")?;
    let mut out = table(&points);
    let _ = writeln!(
        out,
        "\n{}\n{}\n{}",
        json.display(),
        png.display(),
        svg.display()
    );
    Ok(out)
}

/// One row per load level, with the busiest server process and the throughput with one
/// core per process (see [`crate::report::format_table`]).
pub fn table(points: &[RunSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>7} {:>10} {:>12} {:>9} {:>9} {:>6}  {:<10} {:>6} {:>10}",
        "protocol",
        "clients",
        "offered/s",
        "throughput/s",
        "p50 us",
        "p99 us",
        "errors",
        "busiest",
        "us/req",
        "1-core/s"
    );
    for p in points {
        let offered = p
            .offered_rate
            .map_or("-".to_string(), |r| format!("{r:.0}"));
        let busiest = match (&p.cpu.busiest, p.cpu.missing()) {
            (Some(name), _) => name.clone(),
            (None, why) => format!("n/a: {}", why.unwrap_or_default()),
        };
        let us = p
            .cpu
            .busiest
            .as_ref()
            .and(p.cpu.busiest_us_per_op)
            .map_or("-".to_string(), |us| format!("{us:.1}"));
        let projected = p
            .cpu
            .projected_ops_s
            .map_or("-".to_string(), |o| format!("{o:.0}"));
        let _ = writeln!(
            out,
            "{:<14} {:>7} {:>10} {:>12.0} {:>9.1} {:>9.1} {:>6}  {:<10} {:>6} {:>10}",
            p.protocol,
            p.clients,
            offered,
            p.throughput_ops_s,
            p.latency.p50,
            p.latency.p99,
            p.errors,
            busiest,
            us,
            projected
        );
    }
    out
}
