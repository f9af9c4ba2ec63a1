use std::time::Instant;

use super::options;
use crate::{SeedRange, run_sweep};
use protocols::nopaxos::Nopaxos;
use protocols::unreplicated::Unreplicated;

/// The bounded sweep of CI: 200 seeds of the unreplicated baseline under every fault it
/// supports (network faults, partitions, server pauses).
#[test]
fn unreplicated_survives_200_seeds_of_faults() {
    let opts = options(1, "all", 3000);
    let started = Instant::now();
    let mut failures = Vec::new();
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let summary =
        run_sweep::<Unreplicated>(&opts, "0..200".parse::<SeedRange>().unwrap(), jobs, |r| {
            if r.outcome.is_failure() {
                failures.push(r.failure_text());
            }
        });
    let line = summary.to_string();
    assert!(summary.passed(), "{line}\n{}", failures.join("\n"));
    assert_eq!(summary.seeds, 200);
    assert_eq!(summary.ok, 200, "{line}");
    assert!(summary.ops > 100_000, "{line}");
    assert!(line.starts_with("protocol=unreplicated replicas=1 seeds=200 ok=200 violations=0 stalls=0 inconclusive=0 ops="));
    eprintln!("{line} (test wall {:.1}s)", started.elapsed().as_secs_f64());
}

#[test]
fn reports_come_in_seed_order() {
    let opts = options(1, "loss", 1000);
    let mut seeds = Vec::new();
    let summary =
        run_sweep::<Unreplicated>(&opts, "10..30".parse().unwrap(), 4, |r| seeds.push(r.seed));
    assert_eq!(seeds, (10..30).collect::<Vec<_>>());
    assert_eq!(summary.seeds, 20);
}

/// Runs a NOPaxos sweep and asserts every seed passed.
fn nopaxos_sweep(replicas: usize, faults: &str, seeds: &str, expect: u64) {
    let opts = options(replicas, faults, 3000);
    let started = Instant::now();
    let mut failures = Vec::new();
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let summary = run_sweep::<Nopaxos>(&opts, seeds.parse::<SeedRange>().unwrap(), jobs, |r| {
        if r.outcome.is_failure() {
            failures.push(r.failure_text());
        }
    });
    let line = summary.to_string();
    assert!(summary.passed(), "{line}\n{}", failures.join("\n"));
    assert_eq!(summary.ok, expect, "{line}");
    eprintln!("{line} (test wall {:.1}s)", started.elapsed().as_secs_f64());
}

/// The bounded NOPaxos sweep of CI: every fault kind (loss, duplication, reordering, delay,
/// partitions, crashes with and without memory loss, sequencer failover, long holds, pauses)
/// on 3 replicas.
#[test]
fn nopaxos_survives_200_seeds_of_every_fault_on_3_replicas() {
    nopaxos_sweep(3, "all", "0..200", 200);
}

#[test]
fn nopaxos_survives_60_seeds_of_every_fault_on_5_replicas() {
    nopaxos_sweep(5, "all", "0..60", 60);
}

#[test]
fn nopaxos_survives_sequencer_failovers_and_partitions_on_7_replicas() {
    nopaxos_sweep(7, "failover,partition,crash", "0..30", 30);
}
