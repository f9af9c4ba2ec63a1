use std::collections::BTreeMap;
use std::time::Duration;

use dataplane::io::sim::SimRng;

use crate::time::Time;
use crate::{Action, Cut, FaultKind, FaultSchedule, FaultSet, LinkScope, ScheduleParams};

fn params(replicas: usize, faults: FaultSet) -> ScheduleParams {
    ScheduleParams {
        replicas,
        clients: 4,
        sequencer: true,
        max_down: (replicas - 1) / 2,
        faults,
        heal_at: Time::from_millis(2000),
        recovery_allowance: Duration::from_millis(400),
    }
}

fn draw(p: &ScheduleParams, seed: u64) -> FaultSchedule {
    FaultSchedule::generate(p, &mut SimRng::new(seed))
}

#[test]
fn the_same_seed_gives_the_same_schedule() {
    let p = params(5, FaultSet::all());
    for seed in 0..50 {
        assert_eq!(draw(&p, seed), draw(&p, seed));
    }
    let distinct: std::collections::BTreeSet<String> =
        (0..50).map(|s| format!("{:?}", draw(&p, s))).collect();
    assert!(distinct.len() > 45, "seeds give different schedules");
}

#[test]
fn at_most_max_down_replicas_are_down_at_once() {
    for replicas in [3, 5, 7, 9] {
        for faults in ["crash", "memory-loss", "crash,memory-loss", "all"] {
            let p = params(replicas, faults.parse().unwrap());
            let mut crashes = 0;
            for seed in 0..300 {
                let s = draw(&p, seed);
                let most = s.max_concurrent_down(p.recovery_allowance);
                assert!(
                    most <= p.max_down,
                    "n={replicas} faults={faults} seed={seed}: {most} down at once"
                );
                crashes += s
                    .actions
                    .iter()
                    .filter(|a| matches!(a.action, Action::Crash { .. }))
                    .count();
            }
            assert!(
                crashes > 300,
                "n={replicas} {faults}: only {crashes} crashes"
            );
        }
    }
}

#[test]
fn a_schedule_is_well_formed_and_ends_healed() {
    let p = params(5, FaultSet::all());
    for seed in 0..200 {
        let s = draw(&p, seed);
        let last = s.actions.last().unwrap();
        assert_eq!(last.action, Action::HealAll);
        assert_eq!(last.at, p.heal_at);
        assert!(s.actions.windows(2).all(|w| w[0].at <= w[1].at), "sorted");
        // Every fault that starts also ends, after it starts, by the heal.
        let mut open: BTreeMap<String, Time> = BTreeMap::new();
        let mut sequencer_down = false;
        for a in &s.actions {
            assert!(a.at <= p.heal_at);
            match &a.action {
                Action::Links { .. } => {
                    assert!(
                        open.insert("links".into(), a.at).is_none(),
                        "storms overlap"
                    );
                }
                Action::ClearLinks => assert!(open.remove("links").is_some()),
                Action::Partition { id, cut } => {
                    match cut {
                        Cut::Replicas(set) => assert!(!set.is_empty() && set.len() < 5),
                        Cut::SequencerFrom(set) => assert!(!set.is_empty()),
                        Cut::Client(c) => assert!(*c < 4),
                    }
                    assert!(open.insert(format!("p{id}"), a.at).is_none());
                }
                Action::Unpartition { id } => assert!(open.remove(&format!("p{id}")).is_some()),
                Action::Crash { slot, .. } => {
                    assert!(open.insert(format!("c{slot}"), a.at).is_none());
                }
                Action::Restart { slot } => {
                    let start = open.remove(&format!("c{slot}")).unwrap();
                    assert!(start <= a.at);
                }
                Action::SequencerDown => {
                    assert!(!sequencer_down);
                    sequencer_down = true;
                }
                Action::SequencerUp => {
                    assert!(sequencer_down);
                    sequencer_down = false;
                }
                Action::Hold { chance } => {
                    assert!(*chance > 0.0 && *chance < 1.0);
                    assert!(open.insert("hold".into(), a.at).is_none(), "holds overlap");
                }
                Action::Unhold => assert!(open.remove("hold").is_some()),
                Action::Pause { slot, .. } => {
                    assert!(!open.keys().any(|k| k.starts_with('s')), "pauses overlap");
                    assert!(open.insert(format!("s{slot}"), a.at).is_none());
                }
                Action::Resume { slot } => {
                    let start = open.remove(&format!("s{slot}")).unwrap();
                    assert!(start <= a.at);
                }
                Action::Stray { to, .. } => assert!(to.is_none_or(|i| i < p.replicas)),
                Action::HealAll => {}
            }
        }
        assert!(open.is_empty(), "seed {seed}: left open: {open:?}");
        assert!(!sequencer_down);
    }
}

#[test]
fn only_the_enabled_kinds_are_drawn() {
    let p = params(3, FaultSet::NONE);
    for seed in 0..20 {
        assert_eq!(draw(&p, seed).actions.len(), 1, "only the heal");
    }
    let p = params(3, "loss".parse().unwrap());
    for seed in 0..100 {
        for a in draw(&p, seed).actions {
            match a.action {
                Action::Links { link, .. } => {
                    assert!(link.loss > 0.0);
                    assert_eq!(link.duplicate, 0.0);
                    assert_eq!(link.reorder, 0.0);
                    assert_eq!(link.jitter, Duration::ZERO);
                }
                Action::ClearLinks | Action::HealAll => {}
                other => panic!("seed {seed}: {other:?} with faults=loss"),
            }
        }
    }
    // Memory loss alone: every crash loses memory; crash alone: none does.
    for (faults, lose) in [("memory-loss", true), ("crash", false)] {
        let p = params(5, faults.parse().unwrap());
        for seed in 0..50 {
            for a in draw(&p, seed).actions {
                if let Action::Crash { memory_loss, .. } = a.action {
                    assert_eq!(memory_loss, lose);
                }
            }
        }
    }
    // No sequencer: no failover and no sequencer partitions; one replica: no replica cuts.
    let p = ScheduleParams {
        replicas: 1,
        sequencer: false,
        max_down: 1,
        ..params(3, FaultSet::all())
    };
    for seed in 0..100 {
        for a in draw(&p, seed).actions {
            match a.action {
                Action::SequencerDown | Action::SequencerUp => panic!("no sequencer"),
                Action::Partition { cut, .. } => assert!(matches!(cut, Cut::Client(_))),
                Action::Links {
                    scope: LinkScope::Host(h),
                    ..
                } => assert_ne!(h, crate::SimHost::Sequencer),
                _ => {}
            }
        }
    }
}

#[test]
fn every_kind_shows_up_under_all() {
    let p = params(5, FaultSet::all());
    let mut seen = FaultSet::NONE;
    for seed in 0..100 {
        for a in draw(&p, seed).actions {
            match a.action {
                Action::Links { link, .. } => {
                    if link.loss > 0.0 {
                        seen.insert(FaultKind::Loss);
                    }
                    if link.duplicate > 0.0 {
                        seen.insert(FaultKind::Duplicate);
                    }
                    if link.reorder > 0.0 {
                        seen.insert(FaultKind::Reorder);
                    }
                    if link.jitter > Duration::ZERO {
                        seen.insert(FaultKind::Delay);
                    }
                }
                Action::Partition { .. } => seen.insert(FaultKind::Partition),
                Action::Crash { memory_loss, .. } => seen.insert(if memory_loss {
                    FaultKind::MemoryLoss
                } else {
                    FaultKind::Crash
                }),
                Action::SequencerDown => seen.insert(FaultKind::Failover),
                Action::Hold { .. } => seen.insert(FaultKind::LongHold),
                Action::Pause { .. } => seen.insert(FaultKind::Pause),
                Action::Stray { .. } => seen.insert(FaultKind::Stray),
                _ => {}
            }
        }
    }
    assert_eq!(seen, FaultSet::all());
}
