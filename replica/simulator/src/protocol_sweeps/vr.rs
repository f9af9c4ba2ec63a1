//! Simulator sweeps of VR: the bounded CI sweeps, and batching as the simulator sees it.

use std::time::{Duration, Instant};

use crate::{FaultSet, Outcome, SeedRange, SimOptions, run_seed, run_sweep};
use protocols::vr::Vr;

pub(crate) fn options(replicas: usize, faults: &str, duration_ms: u64) -> SimOptions {
    SimOptions {
        replicas,
        faults: faults.parse::<FaultSet>().expect("valid fault list"),
        duration: Duration::from_millis(duration_ms),
        ..SimOptions::default()
    }
}

/// Runs a sweep of VR and asserts every seed passed; returns the summary line.
pub(crate) fn vr_sweep(opts: &SimOptions, seeds: &str) -> String {
    let started = Instant::now();
    let mut failures = Vec::new();
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let seeds = seeds.parse::<SeedRange>().unwrap();
    let summary = run_sweep::<Vr>(opts, seeds, jobs, |r| {
        if r.outcome.is_failure() {
            failures.push(r.failure_text());
        }
    });
    let line = summary.to_string();
    assert!(summary.passed(), "{line}\n{}", failures.join("\n"));
    assert_eq!(summary.seeds, seeds.len(), "{line}");
    eprintln!("{line} (test wall {:.1}s)", started.elapsed().as_secs_f64());
    line
}

/// The bounded VR sweep of CI: every fault kind VR supports (loss, duplication,
/// reordering, delay, partitions, crashes with and without memory loss, long holds, pauses)
/// on 3 replicas.
#[test]
fn vr_survives_150_seeds_of_every_fault_on_3_replicas() {
    vr_sweep(&options(3, "all", 3000), "0..150");
}

#[test]
fn vr_survives_40_seeds_of_every_fault_on_5_replicas() {
    vr_sweep(&options(5, "all", 3000), "0..40");
}

/// The protocol's fault set: no sequencer, so no failover; memory loss is supported.
#[test]
fn vr_supports_every_fault_but_sequencer_failover() {
    use crate::FaultKind;
    use protocols::Protocol;
    let config = options(3, "all", 3000).cluster_config(3);
    let set = crate::supported_faults::<Vr>(&config);
    assert!(set.contains(FaultKind::MemoryLoss));
    assert!(set.contains(FaultKind::Crash));
    assert!(!set.contains(FaultKind::Failover));
    assert!(!Vr::uses_sequencer());
}

/// Reads the primary's batch counters from the replicas' describe lines of a run.
fn batch_counters(describe: &[String]) -> (u64, u64, u64) {
    let field = |line: &str, name: &str| -> u64 {
        line.split_once(&format!(" {name} "))
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    describe.iter().fold((0, 0, 0), |(b, r, l), line| {
        (
            b + field(line, "batches"),
            r + field(line, "batched"),
            l.max(field(line, "largest_batch")),
        )
    })
}

/// Under concurrent load the primary forms batches of several requests; with one client it
/// never does (and so adds no latency waiting for a batch to fill).
#[test]
fn the_simulator_sees_batches_under_load_and_none_for_one_client() {
    let mut busy = options(3, "none", 1500);
    busy.clients = Some(24);
    busy.think = Duration::ZERO;
    let report = run_seed::<Vr>(&busy, 1, None);
    assert_eq!(report.outcome, Outcome::Ok, "{}", report.failure_text());
    let (batches, batched, largest) = batch_counters(&report.describe);
    assert!(largest > 1, "{:?}", report.describe);
    assert!(batched > 2 * batches, "mean batch {batched}/{batches}");
    assert!(report.completed > 1000);

    let mut alone = options(3, "none", 1500);
    alone.clients = Some(1);
    let report = run_seed::<Vr>(&alone, 1, None);
    assert_eq!(report.outcome, Outcome::Ok, "{}", report.failure_text());
    let (batches, batched, largest) = batch_counters(&report.describe);
    assert_eq!(largest, 1, "{:?}", report.describe);
    assert_eq!(batches, batched);
    assert!(batches > 10);
}
