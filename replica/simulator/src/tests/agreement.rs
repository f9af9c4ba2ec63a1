use super::fakes::{DISAGREE, DIVERGE, Faulty, FaultyReplica, SILENT, SPIN, Sloppy};
use super::options;
use crate::checks::Agreement;
use crate::{Check, Outcome, run_seed};
use protocols::EntryId;
use protocols::app::kv::KvStore;
use protocols::unreplicated::UnreplicatedServer;

fn faulty<const MODE: u8>(index: usize) -> FaultyReplica<MODE> {
    crate::new_replica::<Faulty<MODE>>(&crate::SimOptions::default().cluster_config(3), index)
}

#[test]
fn the_observer_catches_two_entries_in_one_slot() {
    let mut a = Agreement::new(3);
    a.observe(0, &faulty::<DISAGREE>(0)).unwrap();
    a.observe(0, &faulty::<DISAGREE>(0)).unwrap();
    let f = a.observe(1, &faulty::<DISAGREE>(1)).unwrap_err();
    assert_eq!(f.check, Check::Agreement);
    assert!(f.detail.contains("slot 1"), "{}", f.detail);
    assert!(
        f.detail.contains(&format!(
            "{:?}",
            EntryId::Request {
                client: 0,
                request: 1
            }
        )),
        "{}",
        f.detail
    );
}

#[test]
fn the_observer_catches_two_states_at_one_slot() {
    let mut a = Agreement::new(2);
    a.observe(0, &faulty::<DIVERGE>(0)).unwrap();
    let f = a.observe(1, &faulty::<DIVERGE>(1)).unwrap_err();
    assert_eq!(f.check, Check::ExecutionDigest);
    // Replicas that agree pass, whatever order they are observed in.
    let mut a = Agreement::new(2);
    let server = UnreplicatedServer::new(KvStore::default());
    a.observe(0, &server).unwrap();
    a.observe(1, &server).unwrap();
    a.rescan(0, &server).unwrap();
}

#[test]
fn a_disagreement_fails_the_run_with_a_full_report() {
    let report = run_seed::<Faulty<DISAGREE>>(&options(3, "none", 1000), 42, None);
    let Outcome::Violation { check, detail } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(*check, Check::Agreement);
    assert!(detail.contains("slot 1"));
    let text = report.failure_text();
    assert!(
        text.starts_with("VIOLATION protocol=faulty seed=42 check=agreement"),
        "{text}"
    );
    for i in 0..3 {
        assert!(
            text.contains(&format!("replica {i}: faulty replica {i}")),
            "{text}"
        );
    }
    assert!(text.contains(
        "replay: cargo run --release -p replica --bin replica-sim -- --protocol faulty \
         --replicas 3 --seed 42"
    ));
    assert_eq!(
        text.matches("cargo run").count(),
        1,
        "exactly one replay command"
    );
}

#[test]
fn diverging_states_fail_the_run() {
    let report = run_seed::<Faulty<DIVERGE>>(&options(5, "none", 1000), 1, None);
    assert!(
        matches!(
            report.outcome,
            Outcome::Violation {
                check: Check::ExecutionDigest,
                ..
            }
        ),
        "{:?}",
        report.outcome
    );
}

#[test]
fn a_silent_cluster_is_a_stall() {
    let report = run_seed::<Faulty<SILENT>>(&options(3, "none", 1500), 3, None);
    let Outcome::Stall { check, detail } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(*check, Check::Progress);
    assert!(detail.contains("completed no operation"), "{detail}");
    assert!(report.outcome.is_failure());
    assert!(report.failure_text().starts_with("STALL"));
}

#[test]
fn a_timer_that_is_always_due_is_a_livelock() {
    let report = run_seed::<Faulty<SPIN>>(&options(3, "none", 1000), 0, None);
    let Outcome::Stall { check, detail } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(*check, Check::Livelock);
    assert!(detail.contains("replica 0's timer"), "{detail}");
}

#[test]
fn executing_duplicates_is_caught_by_the_linearizability_check() {
    // The sloppy server re-executes resent and duplicated requests: appends land twice.
    let opts = options(1, "dup,loss", 2000);
    let caught = (0..20)
        .map(|seed| run_seed::<Sloppy>(&opts, seed, None))
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Violation {
                    check: Check::Linearizability,
                    ..
                }
            )
        })
        .count();
    assert!(caught >= 10, "only {caught} of 20 seeds caught");
}
