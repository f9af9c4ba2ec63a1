//! Long simulator sweeps, run by hand in release:
//! `cargo test --release -p simulator protocol_sweeps::spec_long -- --ignored --nocapture`.

use std::time::Instant;

use super::spec::sweep_with_totals;

fn long_sweep(replicas: usize, seeds: &str) {
    let started = Instant::now();
    let (summary, failures, totals) = sweep_with_totals(replicas, "all", seeds);
    let line = summary.to_string();
    eprintln!("{line} (test wall {:.1}s)", started.elapsed().as_secs_f64());
    eprintln!("  {totals}");
    assert!(failures.is_empty(), "{line}\n{}", failures.join("\n"));
    assert!(summary.passed(), "{line}");
    assert_eq!(summary.ok, summary.seeds, "{line}");
}

#[test]
#[ignore = "long: run in release"]
fn spec_survives_5000_seeds_of_every_fault_on_3_replicas() {
    long_sweep(3, "0..5000");
}

#[test]
#[ignore = "long: run in release"]
fn spec_survives_5000_seeds_of_every_fault_on_5_replicas() {
    long_sweep(5, "0..5000");
}

/// Replays one seed with a trace: `SPEC_SEED=546 SPEC_REPLICAS=5 cargo test --release -p
/// simulator protocol_sweeps::spec_long::replay -- --ignored --nocapture` writes /tmp/spec-trace.txt.
#[test]
#[ignore = "debugging aid"]
fn replay() {
    let seed: u64 = std::env::var("SPEC_SEED").map_or(0, |s| s.parse().unwrap());
    let replicas: usize = std::env::var("SPEC_REPLICAS").map_or(3, |s| s.parse().unwrap());
    let verbose: u8 = std::env::var("SPEC_VERBOSE").map_or(1, |s| s.parse().unwrap());
    let opts = crate::SimOptions {
        replicas,
        faults: crate::FaultSet::all(),
        duration: std::time::Duration::from_millis(3000),
        verbose,
        ..crate::SimOptions::default()
    };
    let mut out = std::fs::File::create("/tmp/spec-trace.txt").unwrap();
    let report = crate::run_seed::<protocols::specpaxos::Spec>(&opts, seed, Some(&mut out));
    eprintln!("{}", report.failure_text());
}

/// An ad hoc sweep: `SPEC_REPLICAS`, `SPEC_FAULTS`, `SPEC_SEEDS` (e.g. `0..1000`).
#[test]
#[ignore = "debugging aid"]
fn custom() {
    let replicas: usize = std::env::var("SPEC_REPLICAS").map_or(3, |s| s.parse().unwrap());
    let faults = std::env::var("SPEC_FAULTS").unwrap_or_else(|_| "all".into());
    let seeds = std::env::var("SPEC_SEEDS").unwrap_or_else(|_| "0..100".into());
    let started = Instant::now();
    let (summary, failures, totals) = sweep_with_totals(replicas, &faults, &seeds);
    eprintln!(
        "{summary} faults={faults} (test wall {:.1}s)",
        started.elapsed().as_secs_f64()
    );
    eprintln!("  {totals}");
    for f in failures.iter().take(5) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty());
}
