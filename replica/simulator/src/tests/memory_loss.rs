use super::fakes::Amnesiac;
use super::options;
use crate::trace::Trace;
use crate::world::World;
use crate::{Action, CrashTarget, FaultKind};

use crate::time::Time;

fn crash(slot: u32, target: CrashTarget, memory_loss: bool) -> Action {
    Action::Crash {
        slot,
        target,
        memory_loss,
    }
}

/// The nonce in an amnesiac's describe line.
fn nonce(line: &str) -> u64 {
    line.split_once("nonce=Some(")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no nonce in {line}"))
}

#[test]
fn memory_loss_is_supported_only_with_recovery() {
    let config = crate::SimOptions::default().cluster_config(3);
    assert!(crate::supported_faults::<Amnesiac>(&config).contains(FaultKind::MemoryLoss));
    assert!(!crate::supported_faults::<Amnesiac>(&config).contains(FaultKind::Failover));
    let unreplicated = crate::supported_faults::<protocols::unreplicated::Unreplicated>(
        &options(1, "none", 1).cluster_config(1),
    );
    assert!(!unreplicated.contains(FaultKind::MemoryLoss));
    assert!(unreplicated.contains(FaultKind::Crash));
}

#[test]
fn a_replica_that_lost_its_memory_counts_as_down_until_it_recovers() {
    let opts = options(3, "none", 3000);
    let mut world = World::<Amnesiac>::new(&opts, 0, Trace::new(0, None)).unwrap();
    let t = Time::from_millis(10);
    world.drive(t).unwrap();
    // f = 1: one replica may be unavailable at a time.
    world.apply(t, crash(0, CrashTarget::Leader, true));
    assert_eq!(
        world.replica_flags(0),
        Some((false, false)),
        "the leader crashed"
    );
    world.apply(t, crash(1, CrashTarget::Replica(2), false));
    assert_eq!(
        world.replica_flags(2),
        Some((true, false)),
        "a second crash is refused"
    );
    world.apply(t, Action::Restart { slot: 0 });
    assert_eq!(
        world.replica_flags(0),
        Some((true, true)),
        "back, recovering"
    );
    assert_eq!(nonce(&world.describe()[0]) >> 32, 1, "the first restart");
    world.apply(t, crash(2, CrashTarget::Replica(1), false));
    assert_eq!(
        world.replica_flags(1),
        Some((true, false)),
        "still one unavailable"
    );
    world.drive(Time::from_millis(100)).unwrap();
    assert_eq!(world.now(), Time::from_millis(100));
    assert_eq!(
        world.replica_flags(0),
        Some((true, false)),
        "recovered after 50 ms"
    );
    // Now another crash may go ahead; a crash aimed at a down replica takes the next one.
    world.apply(world.now(), crash(3, CrashTarget::Replica(1), true));
    assert_eq!(world.replica_flags(1), Some((false, false)));
    world.apply(world.now(), Action::HealAll);
    assert_eq!(world.replica_flags(1), Some((true, true)));
    assert_eq!(nonce(&world.describe()[1]) >> 32, 2, "the second restart");
}
