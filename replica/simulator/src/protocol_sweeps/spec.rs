//! Bounded simulator sweeps of CI; the long ones are in `spec_long`.

use std::time::{Duration, Instant};

use crate::{FaultSet, SeedRange, SimOptions, SweepSummary, run_sweep};
use protocols::specpaxos::Spec;

/// Protocol counters summed over a sweep, from the replicas' final `describe()` lines.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) counters: std::collections::BTreeMap<&'static str, u64>,
}

const COUNTED: [&str; 7] = [
    "transfers",
    "reconciliations",
    "repairs",
    "rollbacks",
    "undone",
    "alarms",
    "view_changes",
];

impl Totals {
    fn add(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            if let Some(name) = COUNTED.iter().find(|n| **n == w[0]) {
                if let Ok(v) = w[1].parse::<u64>() {
                    *self.counters.entry(name).or_default() += v;
                }
            }
        }
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, v) in &self.counters {
            write!(f, "{k}={v} ")?;
        }
        Ok(())
    }
}

/// Sweeps `seeds` of Speculative Paxos on `replicas` under `faults`; returns the summary
/// line, the failure reports and the protocol counters summed. A replica that raised a
/// safety alarm (a peer contradicted what it knew committed) fails its seed too.
pub(crate) fn sweep_with_totals(
    replicas: usize,
    faults: &str,
    seeds: &str,
) -> (SweepSummary, Vec<String>, Totals) {
    let opts = SimOptions {
        replicas,
        faults: faults.parse::<FaultSet>().expect("valid fault list"),
        duration: Duration::from_millis(3000),
        ..SimOptions::default()
    };
    let mut failures = Vec::new();
    let mut totals = Totals::default();
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let summary = run_sweep::<Spec>(&opts, seeds.parse::<SeedRange>().unwrap(), jobs, |r| {
        let before = totals.counters.get("alarms").copied().unwrap_or(0);
        for line in &r.describe {
            totals.add(line);
        }
        if r.outcome.is_failure() {
            failures.push(r.failure_text());
        } else if totals.counters.get("alarms").copied().unwrap_or(0) > before {
            failures.push(format!("ALARM {}", r.failure_text()));
        }
    });
    (summary, failures, totals)
}

fn assert_sweep(replicas: usize, faults: &str, seeds: &str, expect: u64) {
    let started = Instant::now();
    let (summary, failures, totals) = sweep_with_totals(replicas, faults, seeds);
    let line = summary.to_string();
    assert!(failures.is_empty(), "{line}\n{}", failures.join("\n"));
    assert!(summary.passed(), "{line}");
    assert_eq!(summary.ok, expect, "{line}");
    eprintln!("{line} (test wall {:.1}s)", started.elapsed().as_secs_f64());
    eprintln!("  {totals}");
}

/// Every fault kind (loss, duplication, reordering, delay, partitions, crashes with and
/// without memory loss, sequencer failover) on 3 replicas.
#[test]
fn spec_survives_150_seeds_of_every_fault_on_3_replicas() {
    assert_sweep(3, "all", "0..150", 150);
}

#[test]
fn spec_survives_40_seeds_of_every_fault_on_5_replicas() {
    assert_sweep(5, "all", "0..40", 40);
}
