use super::fakes::Grouped;
use super::options;
use crate::{Outcome, run_seed};

/// The number after `key` (`received=` or `stamped `) in a describe line.
fn field(line: &str, key: &str) -> u64 {
    line.split_once(key)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn the_sequencer_stamps_and_fans_out_to_every_member() {
    let report = run_seed::<Grouped>(&options(3, "none", 1000), 0, None);
    assert_eq!(report.outcome, Outcome::Ok, "{}", report.failure_text());
    let members: Vec<&String> = report.describe.iter().take(3).collect();
    let seq = report.describe.last().unwrap();
    assert!(seq.starts_with("sequencer: session 0"), "{seq}");
    let stamped = field(seq, "stamped ");
    for m in members {
        assert_eq!(field(m, "received="), stamped, "{m}");
        assert_eq!(field(m, "last="), stamped, "{m}");
        assert_eq!(field(m, "regressions="), 0);
    }
    assert!(report.completed > 100);
}

#[test]
fn failover_starts_a_new_session_and_traffic_resumes() {
    let opts = options(5, "failover,partition", 3000);
    for seed in 0..10 {
        let report = run_seed::<Grouped>(&opts, seed, None);
        assert_eq!(report.outcome, Outcome::Ok, "{}", report.failure_text());
        let seq = report.describe.last().unwrap();
        let session: u64 = seq
            .strip_prefix("sequencer: session ")
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!(session >= 1, "seed {seed}: {seq}");
        let member0 = &report.describe[0];
        assert_eq!(field(member0, "regressions="), 0, "{member0}");
        assert!(field(member0, "sessions_seen=") >= 2, "{member0}");
    }
}
