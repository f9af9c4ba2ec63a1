//! Entry points: one seed, or a range of seeds spread over worker threads (each run is
//! single-threaded and independent, so the result of a seed does not depend on the others).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use super::options::{FaultSet, SeedRange, SimOptions};
use super::report::{Check, Outcome, RunReport, SweepSummary, replay_command};
use super::trace::Trace;
use super::world::World;
use crate::protocol::supported_faults;
use crate::time::Time;
use protocols::Protocol;

/// The fault kinds `P` supports with these options (`--faults all` means these).
pub fn protocol_faults<P: Protocol>(options: &SimOptions) -> FaultSet {
    let config = options.cluster_config(options.replicas);
    let n = P::replicas(&config);
    if n == config.n() {
        supported_faults::<P>(&config)
    } else {
        supported_faults::<P>(&options.cluster_config(n))
    }
}

/// How many replicas `P` actually runs when `options.replicas` are asked for.
pub fn protocol_replicas<P: Protocol>(options: &SimOptions) -> usize {
    P::replicas(&options.cluster_config(options.replicas))
}

/// Runs one seed of `P` and checks it. Fault kinds `P` does not support are left out.
/// With `trace`, events are written there at `options.verbose` detail.
pub fn run_seed<P: Protocol>(
    options: &SimOptions,
    seed: u64,
    trace: Option<&mut dyn Write>,
) -> RunReport {
    match World::<P>::new(options, seed, Trace::new(options.verbose, trace)) {
        Ok(world) => world.run(),
        Err(detail) => {
            let replicas = protocol_replicas::<P>(options);
            RunReport {
                protocol: P::NAME,
                seed,
                outcome: Outcome::Violation {
                    check: Check::Setup,
                    detail,
                },
                replicas,
                clients: options.clients.unwrap_or(0),
                invoked: 0,
                completed: 0,
                committed_slots: 0,
                virtual_time: Time::ZERO,
                describe: Vec::new(),
                net: Default::default(),
                fingerprint: 0,
                history: Vec::new(),
                replay: replay_command(
                    P::NAME,
                    replicas,
                    options,
                    protocol_faults::<P>(options),
                    seed,
                ),
            }
        }
    }
}

/// Runs every seed of `seeds` on `jobs` threads and sums up. `on_report` sees every run's
/// report in seed order (whatever order the threads finish in), so output is reproducible.
pub fn run_sweep<P: Protocol>(
    options: &SimOptions,
    seeds: SeedRange,
    jobs: usize,
    mut on_report: impl FnMut(&RunReport),
) -> SweepSummary {
    let started = Instant::now();
    let mut summary = SweepSummary {
        protocol: P::NAME,
        replicas: protocol_replicas::<P>(options),
        ..SweepSummary::default()
    };
    let jobs = jobs.clamp(1, usize::try_from(seeds.len()).unwrap_or(usize::MAX).max(1));
    let next = AtomicU64::new(seeds.start);
    let (tx, rx) = mpsc::channel::<RunReport>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    let mut report = run_seed::<P>(options, seed, None);
                    report.history = Vec::new();
                    if tx.send(report).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Reports arrive in completion order; hand them on in seed order.
        let mut waiting: BTreeMap<u64, RunReport> = BTreeMap::new();
        let mut expected = seeds.start;
        for report in rx {
            waiting.insert(report.seed, report);
            while let Some(report) = waiting.remove(&expected) {
                summary.add(&report);
                on_report(&report);
                expected += 1;
            }
        }
    });
    summary.wall_s = started.elapsed().as_secs_f64();
    summary
}
