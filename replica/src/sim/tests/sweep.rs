use std::time::Instant;

use super::options;
use crate::sim::{SeedRange, Unreplicated, run_sweep};

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
