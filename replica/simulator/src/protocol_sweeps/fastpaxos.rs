//! The bounded simulator sweeps of CI: every fault kind Fast Paxos supports (loss,
//! duplication, reordering, delay, partitions, crashes with and without memory loss, long
//! holds, pauses).

use std::time::{Duration, Instant};

use crate::{FaultSet, SeedRange, SimOptions, SweepSummary, run_sweep};
use protocols::fastpaxos::FastPaxos;

/// Runs `seeds` of Fast Paxos on `replicas` with `faults`; returns the summary, the
/// failures' reports, and the wall time.
pub(crate) fn sweep(replicas: usize, faults: &str, seeds: &str) -> (SweepSummary, Vec<String>) {
    sweep_with(replicas, faults, seeds, 3000)
}

/// [`sweep`] with a run length.
pub(crate) fn sweep_with(
    replicas: usize,
    faults: &str,
    seeds: &str,
    duration_ms: u64,
) -> (SweepSummary, Vec<String>) {
    let opts = SimOptions {
        replicas,
        faults: faults.parse::<FaultSet>().expect("valid fault list"),
        duration: Duration::from_millis(duration_ms),
        ..SimOptions::default()
    };
    sweep_opts(&opts, seeds)
}

/// Runs `seeds` with `opts`; returns the summary and the failures' reports.
pub(crate) fn sweep_opts(opts: &SimOptions, seeds: &str) -> (SweepSummary, Vec<String>) {
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut failures = Vec::new();
    let summary = run_sweep::<FastPaxos>(opts, seeds.parse::<SeedRange>().unwrap(), jobs, |r| {
        if r.outcome.is_failure() {
            failures.push(r.failure_text());
        }
    });
    (summary, failures)
}

fn assert_sweep(replicas: usize, faults: &str, seeds: &str, expect: u64) {
    let started = Instant::now();
    let (summary, failures) = sweep(replicas, faults, seeds);
    let line = summary.to_string();
    assert!(summary.passed(), "{line}\n{}", failures.join("\n"));
    assert_eq!(summary.ok, expect, "{line}");
    eprintln!("{line} (test wall {:.1}s)", started.elapsed().as_secs_f64());
}

#[test]
fn fastpaxos_survives_150_seeds_of_every_fault_on_3_replicas() {
    assert_sweep(3, "all", "0..150", 150);
}

#[test]
fn fastpaxos_survives_40_seeds_of_every_fault_on_5_replicas() {
    assert_sweep(5, "all", "0..40", 40);
}

/// Sums a counter over every replica's final describe line of `seeds` runs.
pub(crate) fn mechanism_totals(replicas: usize, seeds: &str) -> Vec<(&'static str, u64)> {
    let opts = SimOptions {
        replicas,
        faults: FaultSet::all(),
        duration: Duration::from_millis(3000),
        ..SimOptions::default()
    };
    const NAMES: [&str; 9] = [
        "fast_chosen",
        "classic_chosen",
        "collisions",
        "slot_prepares",
        "reproposals",
        "views_led",
        "recoveries",
        "view_changes",
        "state_transfers",
    ];
    let mut totals = vec![0u64; NAMES.len()];
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    run_sweep::<FastPaxos>(&opts, seeds.parse::<SeedRange>().unwrap(), jobs, |r| {
        for line in &r.describe {
            for (i, name) in NAMES.iter().enumerate() {
                if let Some(at) = line.find(name) {
                    let rest = &line[at + name.len()..];
                    let digits: String = rest
                        .trim_start_matches([':', ' '])
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    totals[i] += digits.parse::<u64>().unwrap_or(0);
                }
            }
        }
    });
    NAMES.iter().copied().zip(totals).collect()
}

#[test]
#[ignore = "prints how often each mechanism ran"]
fn print_mechanism_totals() {
    for n in [3, 5] {
        eprintln!("n={n}: {:?}", mechanism_totals(n, "0..40"));
    }
}
