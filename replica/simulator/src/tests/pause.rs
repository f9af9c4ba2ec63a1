//! No needless leader change (issue 13), against every protocol with a leader timeout: a
//! follower stopped (the pause fault) or cut off from the other replicas far longer than
//! the leader timeout must not depose a healthy leader when it is back, and a leader that
//! really fails must still be replaced within a bound.

use std::time::Duration;

use super::options;
use crate::time::Time;
use crate::trace::Trace;
use crate::world::World;
use crate::{Action, CrashTarget, Cut};
use protocols::Protocol;
use protocols::Replica;
use protocols::fastpaxos::FastPaxos;
use protocols::nopaxos::Nopaxos;
use protocols::specpaxos::Spec;
use protocols::vr::Vr;

/// The one normal leader, if exactly one replica that is up is a normal leader.
fn leader<P: Protocol>(world: &World<'_, P>) -> Option<usize> {
    let leaders: Vec<usize> = world
        .replica_cores()
        .filter(|r| r.is_leader() && r.is_normal())
        .map(Replica::index)
        .filter(|&i| world.replica_flags(i).is_some_and(|(up, _)| up))
        .collect();
    match leaders[..] {
        [one] => Some(one),
        _ => None,
    }
}

fn view_changes<P: Protocol>(world: &World<'_, P>) -> u64 {
    world.replica_cores().map(|r| r.stats().view_changes).sum()
}

fn leader_timeout<P: Protocol>(world: &World<'_, P>) -> Duration {
    Duration::from_millis(world.config().timeouts.leader_timeout_ms)
}

/// A world of 3 replicas on perfect links, run until its first leader settles. Its clients
/// are busy (1 ms think time), so a stopped replica's socket buffer fills up with requests
/// and the leader's messages are among those dropped, as under real load.
fn settled<P: Protocol>(seed: u64) -> (World<'static, P>, Time, usize) {
    let mut opts = options(3, "none", 20_000);
    opts.clients = Some(5);
    opts.think = Duration::from_millis(1);
    let mut world = World::<P>::new(&opts, seed, Trace::new(0, None)).unwrap();
    world.without_schedule();
    let mut t = Time::ZERO;
    loop {
        t += Duration::from_millis(50);
        world.run_until(t).unwrap();
        if let Some(l) = leader(&world)
            && world.replica_cores().all(Replica::is_normal)
            && world.completed() > 0
        {
            return (world, t, l);
        }
        assert!(
            t < Time::from_millis(5_000),
            "no leader settled: {:?}",
            world.describe()
        );
    }
}

/// How a follower is kept away from its leader.
#[derive(Debug, Clone, Copy)]
enum Away {
    /// Its process is stopped (SIGSTOP), then continued.
    Paused,
    /// It is cut off from the other replicas (not from clients or sequencer), then healed.
    CutOff,
}

/// Keeps a follower away for ten leader timeouts while the leader stays healthy, then
/// brings it back: the view must not change, and the cluster must keep serving clients.
fn follower_away_does_not_depose_the_leader<P: Protocol>(seed: u64, away: Away) {
    let (mut world, t, leader_before) = settled::<P>(seed);
    let changes_before = view_changes(&world);
    let timeout = leader_timeout(&world);
    let follower = (leader_before + 1) % 3;
    let (leave, back) = match away {
        Away::Paused => (
            Action::Pause {
                slot: 0,
                target: CrashTarget::Replica(follower),
            },
            Action::Resume { slot: 0 },
        ),
        Away::CutOff => (
            Action::Partition {
                id: 0,
                cut: Cut::Replicas(vec![follower]),
            },
            Action::Unpartition { id: 0 },
        ),
    };
    world.apply(t, leave);
    let back_at = t + 10 * timeout;
    let end = back_at + 10 * timeout;
    // Sampled often enough to see a deposing view change: its new leader leads for longer
    // than a step before anything could move the view again.
    let step = timeout / 10;
    let mut now = t;
    let mut served_while_away = None;
    let name = P::NAME;
    while now < end {
        now = (now + step).min(end);
        if served_while_away.is_none() && now >= back_at {
            world.run_until(back_at).unwrap();
            served_while_away = Some(world.completed());
            world.apply(back_at, back.clone());
        }
        world.run_until(now).unwrap();
        let leader_now = leader(&world);
        assert!(
            leader_now.is_none_or(|l| l == leader_before),
            "{name}, follower {away:?}: replica {leader_now:?} leads at {now}:\n{}",
            world.describe().join("\n")
        );
    }
    let state = world.describe().join("\n");
    // Speculative Paxos counts its reconciliations (a new epoch under the same leader) as
    // view changes, so only the leader's identity tells there.
    if name != "spec" {
        assert_eq!(
            view_changes(&world),
            changes_before,
            "{name}, follower {away:?}: a view change:\n{state}"
        );
    }
    assert_eq!(
        leader(&world),
        Some(leader_before),
        "{name}, follower {away:?}: the leader changed:\n{state}"
    );
    assert!(
        world.completed() > served_while_away.unwrap_or(u64::MAX),
        "{name}, follower {away:?}: nothing served after it came back:\n{state}"
    );
    assert!(
        world.replica_cores().all(Replica::is_normal),
        "{name}, follower {away:?}: a replica is not back to normal:\n{state}"
    );
}

/// Crashes the leader: another replica must lead a normal view within a few leader
/// timeouts (the pre-vote must not slow a real failure down beyond that).
fn crashed_leader_is_replaced_promptly<P: Protocol>(seed: u64) {
    let (mut world, t, leader_before) = settled::<P>(seed);
    let timeout = leader_timeout(&world);
    world.apply(
        t,
        Action::Crash {
            slot: 0,
            target: CrashTarget::Leader,
            memory_loss: false,
        },
    );
    let bound = t + 3 * timeout;
    let step = timeout / 20;
    let mut now = t;
    let replaced_at = loop {
        now += step;
        world.run_until(now).unwrap();
        if leader(&world).is_some_and(|l| l != leader_before) {
            break now;
        }
        assert!(
            now < bound,
            "{}: no new leader {:?} after the leader crashed:\n{}",
            P::NAME,
            bound.saturating_since(t),
            world.describe().join("\n")
        );
    };
    let completed = world.completed();
    world.run_until(replaced_at + 5 * timeout).unwrap();
    assert!(
        world.completed() > completed,
        "{}: the new leader serves nothing",
        P::NAME
    );
}

#[test]
fn a_paused_nopaxos_follower_does_not_depose_the_leader() {
    follower_away_does_not_depose_the_leader::<Nopaxos>(1, Away::Paused);
}

#[test]
fn a_cut_off_nopaxos_follower_does_not_depose_the_leader() {
    follower_away_does_not_depose_the_leader::<Nopaxos>(1, Away::CutOff);
}

#[test]
fn a_paused_vr_backup_does_not_depose_the_primary() {
    follower_away_does_not_depose_the_leader::<Vr>(1, Away::Paused);
}

#[test]
fn a_cut_off_vr_backup_does_not_depose_the_primary() {
    follower_away_does_not_depose_the_leader::<Vr>(1, Away::CutOff);
}

#[test]
fn a_paused_spec_follower_does_not_depose_the_leader() {
    follower_away_does_not_depose_the_leader::<Spec>(1, Away::Paused);
}

#[test]
fn a_cut_off_spec_follower_does_not_depose_the_leader() {
    follower_away_does_not_depose_the_leader::<Spec>(1, Away::CutOff);
}

#[test]
fn a_paused_fast_paxos_follower_does_not_depose_the_leader() {
    follower_away_does_not_depose_the_leader::<FastPaxos>(1, Away::Paused);
}

#[test]
fn a_cut_off_fast_paxos_follower_does_not_depose_the_leader() {
    follower_away_does_not_depose_the_leader::<FastPaxos>(1, Away::CutOff);
}

#[test]
fn a_crashed_nopaxos_leader_is_replaced_promptly() {
    crashed_leader_is_replaced_promptly::<Nopaxos>(2);
}

#[test]
fn a_crashed_vr_primary_is_replaced_promptly() {
    crashed_leader_is_replaced_promptly::<Vr>(2);
}

#[test]
fn a_crashed_spec_leader_is_replaced_promptly() {
    crashed_leader_is_replaced_promptly::<Spec>(2);
}

#[test]
fn a_crashed_fast_paxos_leader_is_replaced_promptly() {
    crashed_leader_is_replaced_promptly::<FastPaxos>(2);
}

/// A paused replica handles nothing until it resumes, counts against the at-most-f budget
/// (a crash that would exceed it is skipped), and is marked in the state lines.
#[test]
fn a_paused_replica_is_frozen_and_counts_as_unavailable() {
    let (mut world, t, leader) = settled::<Nopaxos>(3);
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    world.apply(
        t,
        Action::Pause {
            slot: 0,
            target: CrashTarget::Replica(follower),
        },
    );
    let frozen = world.describe()[follower].clone();
    assert!(frozen.contains("[paused]"), "{frozen}");
    world.apply(
        t,
        Action::Crash {
            slot: 0,
            target: CrashTarget::Replica(other),
            memory_loss: false,
        },
    );
    assert_eq!(
        world.replica_flags(other),
        Some((true, false)),
        "f = 1: crash skipped"
    );
    world.run_until(t + Duration::from_millis(500)).unwrap();
    assert_eq!(
        world.describe()[follower],
        frozen,
        "nothing handled while paused"
    );
    world.apply(t + Duration::from_millis(500), Action::Resume { slot: 0 });
    world.run_until(t + Duration::from_millis(510)).unwrap();
    assert!(!world.describe()[follower].contains("[paused]"));
    assert_ne!(
        world.describe()[follower],
        frozen,
        "the queued burst was handled"
    );
}
