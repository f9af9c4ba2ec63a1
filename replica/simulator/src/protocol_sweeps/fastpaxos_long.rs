//! Long simulator sweeps, run in release:
//! `cargo test --release -p simulator protocol_sweeps::fastpaxos_long -- --ignored --nocapture`.

use super::fastpaxos::sweep;

fn long_sweep(replicas: usize, seeds: &str) {
    let (summary, failures) = sweep(replicas, "all", seeds);
    let line = summary.to_string();
    eprintln!("{line}");
    assert!(summary.passed(), "{line}\n{}", failures.join("\n"));
}

#[test]
#[ignore = "long: run in release"]
fn n3_5000_seeds_of_every_fault() {
    long_sweep(3, "0..5000");
}

#[test]
#[ignore = "long: run in release"]
fn n5_5000_seeds_of_every_fault() {
    long_sweep(5, "0..5000");
}

/// A sweep chosen by the environment, for hunting bugs:
/// `FP_SWEEP="replicas=7 faults=crash,memory-loss seeds=0..2000 duration_ms=6000"`
/// (also `clients=N` and `think_ms=N` for more contention).
#[test]
#[ignore = "long: run in release with FP_SWEEP set"]
fn custom() {
    let Ok(spec) = std::env::var("FP_SWEEP") else {
        eprintln!("FP_SWEEP not set");
        return;
    };
    let mut replicas = 3;
    let mut faults = "all".to_string();
    let mut seeds = "0..100".to_string();
    let mut duration_ms = 3000;
    let mut clients = None;
    let mut think_ms = None;
    for word in spec.split_whitespace() {
        match word.split_once('=') {
            Some(("replicas", v)) => replicas = v.parse().expect("replicas"),
            Some(("faults", v)) => faults = v.to_string(),
            Some(("seeds", v)) => seeds = v.to_string(),
            Some(("duration_ms", v)) => duration_ms = v.parse().expect("duration_ms"),
            Some(("clients", v)) => clients = Some(v.parse().expect("clients")),
            Some(("think_ms", v)) => think_ms = Some(v.parse().expect("think_ms")),
            _ => panic!("unknown FP_SWEEP word {word}"),
        }
    }
    let mut opts = crate::SimOptions {
        replicas,
        faults: faults.parse().expect("valid fault list"),
        duration: std::time::Duration::from_millis(duration_ms),
        clients,
        ..crate::SimOptions::default()
    };
    if let Some(ms) = think_ms {
        opts.think = std::time::Duration::from_millis(ms);
    }
    let (summary, failures) = super::fastpaxos::sweep_opts(&opts, &seeds);
    let line = summary.to_string();
    eprintln!("{line}");
    assert!(summary.passed(), "{line}\n{}", failures.join("\n"));
}
