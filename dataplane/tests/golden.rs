//! The Rust sequencer core against every golden vector.

use std::collections::BTreeSet;

use dataplane::golden::{self, Expect, RustSequencer, Step};
use dataplane::oum::DropReason;

#[test]
fn rust_sequencer_matches_every_golden_vector() {
    let vectors = golden::load(&golden::default_path()).unwrap();
    assert_eq!(vectors.format, 1);
    assert!(vectors.cases.len() >= 20, "{} cases", vectors.cases.len());
    let failures = golden::run_vectors(&vectors, &mut RustSequencer::default());
    let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(failures.is_empty(), "{}", report.join("\n"));
}

#[test]
fn golden_vectors_cover_every_drop_reason() {
    let vectors = golden::load(&golden::default_path()).unwrap();
    let used: BTreeSet<String> = vectors
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter_map(|s| match s {
            Step::Packet {
                expect: Expect::Drop { reason },
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    for reason in DropReason::ALL {
        assert!(
            used.contains(reason.name()),
            "no vector drops with {reason}"
        );
    }
    for name in &used {
        assert!(
            DropReason::from_name(name).is_some(),
            "unknown reason {name}"
        );
    }
}

#[test]
fn a_wrong_implementation_is_caught() {
    /// Stamps correctly but forgets to clear the UDP checksum.
    struct KeepsChecksum(RustSequencer);
    impl golden::SequencerUnderTest for KeepsChecksum {
        fn configure(&mut self, c: &golden::CaseConfig) -> Result<(), String> {
            self.0.configure(c)
        }
        fn new_session(&mut self, s: u16) -> Result<(), String> {
            self.0.new_session(s)
        }
        fn process(&mut self, frame: &mut Vec<u8>) -> Result<golden::Outcome, String> {
            let before = frame.clone();
            let outcome = self.0.process(frame)?;
            if frame.len() > 42 && frame != &before {
                frame[40..42].copy_from_slice(&before[40..42]);
            }
            Ok(outcome)
        }
    }
    let vectors = golden::load(&golden::default_path()).unwrap();
    let failures = golden::run_vectors(&vectors, &mut KeepsChecksum(RustSequencer::default()));
    assert!(!failures.is_empty());
}
