//! Long simulator sweeps of VR, run by hand in release:
//!
//! ```text
//! cargo test --release -p simulator protocol_sweeps::vr_long -- --ignored --nocapture
//! VR_SEEDS=0..20000 VR_REPLICAS=5 cargo test --release -p simulator protocol_sweeps::vr_long::sweep -- --ignored --nocapture
//! VR_CLIENTS=12 VR_THINK_MS=0 cargo test --release -p simulator protocol_sweeps::vr_long::sweep -- --ignored --nocapture
//! VR_SEED=123 VR_REPLICAS=3 VR_VERBOSE=1 cargo test --release -p simulator protocol_sweeps::vr_long::replay -- --ignored --nocapture
//! ```
//!
//! `VR_TIGHT=1` runs [`VrTight`] instead: a 16-entry log window and batches of at most 4, so
//! that snapshots, truncation and multi-datagram tails happen in every run.
//! (`replica-sim --protocol vr` does the plain sweep once the binary dispatches to VR.)

use std::net::SocketAddrV4;
use std::time::Duration;

use dataplane::config::ClusterConfig;

use super::vr::options;
use crate::{SeedRange, SimOptions, protocol_faults, run_seed, run_sweep};
use protocols::Protocol;
use protocols::app::App;
use protocols::time::Time;
use protocols::vr::{Vr, VrClient, VrConfig, VrReplica};
use protocols::{ClientId, Tuning};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// VR with a tiny checkpoint window and batch cap: state transfer by snapshot and log
/// truncation in every run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VrTight;

fn tight(config: &ClusterConfig, index: usize) -> VrConfig {
    VrConfig {
        log_keep: 16,
        max_batch: 4,
        ..VrConfig::from_cluster(config, index)
    }
}

impl Protocol for VrTight {
    type Replica<A: App> = VrReplica<A>;
    type Client = VrClient;
    const NAME: &'static str = "vr-tight";
    const SUMMARY: &'static str = "VR with a 16-entry log window and batches of at most 4";

    fn uses_sequencer() -> bool {
        Vr::uses_sequencer()
    }

    fn batches() -> bool {
        Vr::batches()
    }

    fn reply_quorum(config: &ClusterConfig) -> usize {
        Vr::reply_quorum(config)
    }

    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        _tuning: &Tuning,
    ) -> VrReplica<A> {
        VrReplica::new(tight(config, index), app)
    }

    fn recovering_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        _tuning: &Tuning,
        nonce: u64,
        now: Time,
    ) -> Option<VrReplica<A>> {
        Some(VrReplica::recovering(tight(config, index), app, nonce, now))
    }

    fn new_client(config: &ClusterConfig, id: u64, address: SocketAddrV4) -> VrClient {
        Vr::new_client(config, id, address)
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        Vr::reply_client(datagram)
    }
}

fn sweep_options(n: usize) -> SimOptions {
    let mut opts = options(
        n,
        &env_or("VR_FAULTS", "all"),
        env_or("VR_DURATION_MS", "3000").parse().unwrap(),
    );
    if let Ok(c) = std::env::var("VR_CLIENTS") {
        opts.clients = Some(c.parse().unwrap());
    }
    if let Ok(t) = std::env::var("VR_THINK_MS") {
        opts.think = Duration::from_millis(t.parse().unwrap());
    }
    opts
}

fn run<P: Protocol>(opts: &SimOptions, seeds: SeedRange) -> String {
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut failures = Vec::new();
    let summary = run_sweep::<P>(opts, seeds, jobs, |r| {
        if r.outcome.is_failure() {
            eprintln!("{}", r.failure_text());
            failures.push(r.seed);
        }
    });
    let line = format!(
        "{summary} clients={:?} think={:?} faults={}",
        opts.clients,
        opts.think,
        protocol_faults::<P>(opts)
    );
    assert!(summary.passed(), "{line}\nfailed seeds: {failures:?}");
    line
}

/// 5,000 seeds of every fault on 3 and on 5 replicas (or `VR_SEEDS` on `VR_REPLICAS`).
#[test]
#[ignore = "long: run in release by hand"]
fn sweep() {
    let seeds: SeedRange = env_or("VR_SEEDS", "0..5000").parse().unwrap();
    let replicas: Vec<usize> = match std::env::var("VR_REPLICAS") {
        Ok(r) => vec![r.parse().unwrap()],
        Err(_) => vec![3, 5],
    };
    for n in replicas {
        let opts = sweep_options(n);
        let line = if std::env::var("VR_TIGHT").is_ok() {
            run::<VrTight>(&opts, seeds)
        } else {
            run::<Vr>(&opts, seeds)
        };
        eprintln!("vr::long::sweep: {line}");
    }
}

/// Replays one seed with the simulator's trace on stderr.
#[test]
#[ignore = "replays VR_SEED by hand"]
fn replay() {
    let seed: u64 = env_or("VR_SEED", "0").parse().unwrap();
    let n: usize = env_or("VR_REPLICAS", "3").parse().unwrap();
    let mut opts = sweep_options(n);
    opts.verbose = env_or("VR_VERBOSE", "1").parse().unwrap();
    let mut err = std::io::stderr();
    let report = if std::env::var("VR_TIGHT").is_ok() {
        run_seed::<VrTight>(&opts, seed, Some(&mut err))
    } else {
        run_seed::<Vr>(&opts, seed, Some(&mut err))
    };
    eprintln!("{}", report.failure_text());
}
