//! The fault schedule: every fault of a run, drawn from the seed before the run starts, as
//! timed actions over the fault period, ending in one action that heals everything.
//!
//! Drawing the whole schedule up front (rather than during the run) keeps it independent of
//! what the protocol does, so a schedule can be printed, tested and replayed on its own. The
//! few choices that depend on the run (which replica is the leader when a crash aimed at
//! the leader fires) are resolved by the driver, deterministically.

use std::time::Duration;

use dataplane::io::sim::{LinkConfig, SimRng};

use super::options::{FaultKind, FaultSet};
use crate::time::Time;

/// A host of the simulated cluster, as faults name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimHost {
    Sequencer,
    Replica(usize),
    Client(usize),
}

/// Which links a link-model change applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkScope {
    /// Every link in the network.
    All,
    /// Every link to and from one host (one bad NIC or cable).
    Host(SimHost),
}

/// A partition: which hosts are cut off from which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// These replicas are cut off from the other replicas (not from clients or sequencer).
    Replicas(Vec<usize>),
    /// These replicas no longer hear the sequencer (nor it them).
    SequencerFrom(Vec<usize>),
    /// One client is cut off from every replica and the sequencer.
    Client(usize),
}

/// Which replica a crash hits; the leader is looked up when the crash fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashTarget {
    Leader,
    Replica(usize),
}

/// One fault action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// From now on, links in `scope` behave as `link`.
    Links { scope: LinkScope, link: LinkConfig },
    /// Every link is perfect again.
    ClearLinks,
    /// Starts partition `id`.
    Partition { id: u32, cut: Cut },
    /// Ends partition `id`.
    Unpartition { id: u32 },
    /// Crash slot `slot` begins: a replica stops. With `memory_loss` it restarts empty.
    Crash {
        slot: u32,
        target: CrashTarget,
        memory_loss: bool,
    },
    /// The replica of crash slot `slot` restarts.
    Restart { slot: u32 },
    /// The sequencer fails: requests to the group are lost.
    SequencerDown,
    /// A sequencer is back, in the next session (message numbers restart at 1).
    SequencerUp,
    /// From now on, each replica-to-replica datagram is held back with probability
    /// `chance` (the long-hold fault; see `crate::hold`).
    Hold { chance: f64 },
    /// No more datagrams are held back (those held stay held until their release).
    Unhold,
    /// Pause slot `slot` begins: a replica's process is stopped (SIGSTOP), its memory and
    /// timers intact; datagrams for it queue in its bounded socket buffer.
    Pause { slot: u32, target: CrashTarget },
    /// The replica of pause slot `slot` continues (SIGCONT): the queued burst and every
    /// overdue timer at once.
    Resume { slot: u32 },
    /// A stray stamped datagram from a client's address (not the sequencer's) to replica
    /// `to` (every replica if `None`): session `session_delta` from the sequencer's current
    /// one, message number `ahead` past the last one the sequencer stamped in it (or
    /// `ahead` itself in another session, whose numbers start at 1).
    Stray {
        to: Option<usize>,
        session_delta: i16,
        ahead: u64,
    },
    /// End of the fault period: perfect links, no partitions, every replica and the
    /// sequencer up.
    HealAll,
}

impl Action {
    /// Order among simultaneous actions: what ends a fault before what starts one.
    fn rank(&self) -> u8 {
        match self {
            Action::ClearLinks
            | Action::Unpartition { .. }
            | Action::Restart { .. }
            | Action::SequencerUp
            | Action::Unhold
            | Action::Resume { .. } => 0,
            Action::HealAll => 1,
            Action::Links { .. }
            | Action::Partition { .. }
            | Action::Crash { .. }
            | Action::SequencerDown
            | Action::Hold { .. }
            | Action::Pause { .. }
            | Action::Stray { .. } => 2,
        }
    }
}

/// An action and when it happens.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedAction {
    pub at: Time,
    pub action: Action,
}

/// What the schedule is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleParams {
    pub replicas: usize,
    pub clients: usize,
    pub sequencer: bool,
    /// Replicas that may be down at once.
    pub max_down: usize,
    pub faults: FaultSet,
    /// End of the fault period.
    pub heal_at: Time,
    /// How long a replica that lost its memory still counts as down after its restart,
    /// while it recovers.
    pub recovery_allowance: Duration,
}

/// The timed actions of one run, in time order (ties in the order drawn), the last one
/// [`Action::HealAll`] at the end of the fault period.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSchedule {
    pub actions: Vec<TimedAction>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

const MS: u64 = 1_000_000;

/// Uniform in `lo..=hi` (`lo` if `hi < lo`).
fn between(rng: &mut SimRng, lo: u64, hi: u64) -> u64 {
    lo + rng.up_to(hi.saturating_sub(lo))
}

impl FaultSchedule {
    /// Draws a schedule from `rng`. Lanes are drawn in a fixed order (links, partitions,
    /// crashes, failovers, long holds, pauses), each only if its kinds are enabled; a new
    /// lane goes last, so older lanes draw the same for a seed as before it existed.
    pub fn generate(p: &ScheduleParams, rng: &mut SimRng) -> FaultSchedule {
        let period = p.heal_at.as_nanos();
        let mut actions = Vec::new();
        // Shorter fault periods get no faults: every fault lasts a while.
        if period >= 10 * MS {
            if p.faults.has_link_faults() {
                link_lane(p, period, rng, &mut actions);
            }
            if p.faults.contains(FaultKind::Partition) {
                partition_lane(p, period, rng, &mut actions);
            }
            let crashes =
                p.faults.contains(FaultKind::Crash) || p.faults.contains(FaultKind::MemoryLoss);
            if crashes && p.max_down > 0 && p.replicas > 0 {
                crash_lane(p, period, rng, &mut actions);
            }
            if p.faults.contains(FaultKind::Failover) && p.sequencer {
                failover_lane(period, rng, &mut actions);
            }
            if p.faults.contains(FaultKind::LongHold) && p.replicas > 1 {
                hold_lane(period, rng, &mut actions);
            }
            if p.faults.contains(FaultKind::Pause) && p.max_down > 0 && p.replicas > 0 {
                pause_lane(p, period, rng, &mut actions);
            }
            if p.faults.contains(FaultKind::Stray) && p.sequencer && p.replicas > 0 {
                stray_lane(p, period, rng, &mut actions);
            }
        }
        actions.push(TimedAction {
            at: p.heal_at,
            action: Action::HealAll,
        });
        // At one instant, endings come first (a restart before the crash that takes its
        // place), then the heal; otherwise the order drawn (the sort is stable).
        actions.sort_by_key(|a| (a.at, a.action.rank()));
        FaultSchedule { actions }
    }

    /// The most crash slots open at once, counting a memory-loss slot as open for
    /// `recovery_allowance` after its restart: what the at-most-`max_down` rule bounds.
    pub fn max_concurrent_down(&self, recovery_allowance: Duration) -> usize {
        let mut edges: Vec<(Time, i32)> = Vec::new();
        let mut memory_loss = std::collections::BTreeMap::new();
        for a in &self.actions {
            match a.action {
                Action::Crash {
                    slot,
                    memory_loss: m,
                    ..
                } => {
                    edges.push((a.at, 1));
                    memory_loss.insert(slot, m);
                }
                Action::Restart { slot } => {
                    let extra = if memory_loss.get(&slot) == Some(&true) {
                        recovery_allowance
                    } else {
                        Duration::ZERO
                    };
                    edges.push((a.at + extra, -1));
                }
                _ => {}
            }
        }
        // Ends before starts at the same instant: a slot ending when another begins does not
        // overlap it.
        edges.sort_by_key(|&(t, d)| (t, d));
        let mut open = 0i32;
        let mut max = 0i32;
        for (_, d) in edges {
            open += d;
            max = max.max(open);
        }
        usize::try_from(max).unwrap_or(0)
    }
}

/// Alternating calm and stormy periods; a storm hits the whole network or one host.
fn link_lane(p: &ScheduleParams, period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let hosts = all_hosts(p);
    let mut t = 0u64;
    loop {
        t += rng.up_to(period / 6);
        if t >= period {
            break;
        }
        let end = (t + between(rng, period / 40, period / 5)).min(period);
        let scope = if rng.chance(0.3) && !hosts.is_empty() {
            let i = rng.up_to(hosts.len() as u64 - 1) as usize;
            LinkScope::Host(hosts[i])
        } else {
            LinkScope::All
        };
        let link = draw_link(p.faults, matches!(scope, LinkScope::Host(_)), rng);
        out.push(TimedAction {
            at: Time::from_nanos(t),
            action: Action::Links { scope, link },
        });
        out.push(TimedAction {
            at: Time::from_nanos(end),
            action: Action::ClearLinks,
        });
        t = end;
    }
}

/// A link model with some of the enabled link faults (at least one), of random severity.
fn draw_link(faults: FaultSet, one_host: bool, rng: &mut SimRng) -> LinkConfig {
    let enabled: Vec<FaultKind> = faults.kinds().filter(|k| k.is_link_fault()).collect();
    let mut chosen: Vec<FaultKind> = enabled
        .iter()
        .copied()
        .filter(|_| rng.chance(0.6))
        .collect();
    if chosen.is_empty() {
        let i = rng.up_to(enabled.len().saturating_sub(1) as u64) as usize;
        chosen.extend(enabled.get(i).copied());
    }
    let mut link = LinkConfig::default();
    for kind in chosen {
        match kind {
            FaultKind::Loss => {
                let u = rng.next_f64();
                let worst = if one_host { 0.6 } else { 0.3 };
                link.loss = 0.001 + worst * u * u;
            }
            FaultKind::Duplicate => link.duplicate = 0.25 * rng.next_f64(),
            FaultKind::Reorder => {
                link.reorder = 0.3 * rng.next_f64();
                link.reorder_delay = Duration::from_nanos(between(rng, MS / 20, 3 * MS));
            }
            FaultKind::Delay => {
                link.delay += Duration::from_nanos(rng.up_to(2 * MS));
                link.jitter = Duration::from_nanos(rng.up_to(MS));
            }
            _ => {}
        }
    }
    link
}

/// Partition episodes at random times; they may overlap.
fn partition_lane(p: &ScheduleParams, period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let mut forms = Vec::new();
    if p.replicas > 1 {
        forms.push(0);
    }
    if p.sequencer && p.replicas > 0 {
        forms.push(1);
    }
    if p.clients > 0 {
        forms.push(2);
    }
    if forms.is_empty() {
        return;
    }
    let episodes = 1 + rng.up_to(period / (400 * MS));
    for id in 0..episodes {
        let start = rng.up_to(period.saturating_sub(1));
        let end = (start + between(rng, period / 50, period / 4)).min(period);
        let form = forms[rng.up_to(forms.len() as u64 - 1) as usize];
        let cut = match form {
            0 => Cut::Replicas(subset(rng, p.replicas, false)),
            1 => Cut::SequencerFrom(subset(rng, p.replicas, true)),
            _ => Cut::Client(rng.up_to(p.clients as u64 - 1) as usize),
        };
        let id = id as u32;
        out.push(TimedAction {
            at: Time::from_nanos(start),
            action: Action::Partition { id, cut },
        });
        out.push(TimedAction {
            at: Time::from_nanos(end),
            action: Action::Unpartition { id },
        });
    }
}

/// A random nonempty subset of `0..n`, a proper one unless `may_be_all`.
fn subset(rng: &mut SimRng, n: usize, may_be_all: bool) -> Vec<usize> {
    loop {
        let set: Vec<usize> = (0..n).filter(|_| rng.chance(0.5)).collect();
        if !set.is_empty() && (may_be_all || set.len() < n) {
            return set;
        }
    }
}

/// Crash slots that never leave more than `max_down` replicas down at once.
fn crash_lane(p: &ScheduleParams, period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let both = p.faults.contains(FaultKind::Crash) && p.faults.contains(FaultKind::MemoryLoss);
    let only_memory_loss = !p.faults.contains(FaultKind::Crash);
    let allowance = nanos(p.recovery_allowance);
    // Accounting intervals [start, end) of placed slots.
    let mut placed: Vec<(u64, u64)> = Vec::new();
    let attempts = 1 + rng.up_to(period / (300 * MS));
    let mut slot = 0u32;
    for _ in 0..attempts {
        let start = rng.up_to(period.saturating_sub(1));
        let end = (start + between(rng, period / 50, period / 3)).min(period);
        let memory_loss = only_memory_loss || (both && rng.chance(0.5));
        let target = if rng.chance(0.4) {
            CrashTarget::Leader
        } else {
            CrashTarget::Replica(rng.up_to(p.replicas as u64 - 1) as usize)
        };
        let accounted_end = if memory_loss {
            end.saturating_add(allowance)
        } else {
            end
        };
        if max_overlap(&placed, start, accounted_end) >= p.max_down {
            continue;
        }
        placed.push((start, accounted_end));
        out.push(TimedAction {
            at: Time::from_nanos(start),
            action: Action::Crash {
                slot,
                target,
                memory_loss,
            },
        });
        out.push(TimedAction {
            at: Time::from_nanos(end),
            action: Action::Restart { slot },
        });
        slot += 1;
    }
}

/// The most intervals of `placed` open at once within `[start, end)`.
fn max_overlap(placed: &[(u64, u64)], start: u64, end: u64) -> usize {
    // The count can only rise at a start, so checking `start` and every interval start
    // inside the window finds the maximum.
    let open_at = |t: u64| placed.iter().filter(|&&(s, e)| s <= t && t < e).count();
    let mut max = open_at(start);
    for &(s, _) in placed {
        if s > start && s < end {
            max = max.max(open_at(s));
        }
    }
    max
}

/// Sequencer failures spread over the period, each followed by a new session.
fn failover_lane(period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let count = 1 + rng.up_to(period / (800 * MS));
    let slot_len = period / count;
    for i in 0..count {
        let start = i * slot_len + rng.up_to(slot_len / 2);
        let down = between(rng, MS, (150 * MS).min(slot_len / 2));
        out.push(TimedAction {
            at: Time::from_nanos(start),
            action: Action::SequencerDown,
        });
        out.push(TimedAction {
            at: Time::from_nanos(start + down),
            action: Action::SequencerUp,
        });
    }
}

/// Long-hold windows: while one is open, each replica-to-replica datagram is held back
/// with the window's probability (released long after, see `crate::hold`). Windows cover
/// about half the fault period, so they overlap partitions and crashes.
fn hold_lane(period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let mut t = 0u64;
    loop {
        t += rng.up_to(period / 4);
        if t >= period {
            break;
        }
        let end = (t + between(rng, period / 10, period / 2)).min(period);
        let u = rng.next_f64();
        let chance = 0.01 + 0.2 * u * u;
        out.push(TimedAction {
            at: Time::from_nanos(t),
            action: Action::Hold { chance },
        });
        out.push(TimedAction {
            at: Time::from_nanos(end),
            action: Action::Unhold,
        });
        t = end;
    }
}

/// Stray datagrams at random times, a few dozen per run. Their message numbers lie at least
/// 2^40 past anything stamped, where no run's sequencer ever gets: a stray inside the
/// stream's reach (the next few messages of the current session, or the first of the next
/// session) is indistinguishable from the sequencer's own and would take the real
/// message's slot at the replicas it reaches; only authenticated stamps exclude that. These
/// test that a stray the receiver can tell apart costs nothing: it never ends a session,
/// forces drops or starts a state transfer (see `dataplane::oum::Receiver::on_stamped`).
fn stray_lane(p: &ScheduleParams, period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let count = 1 + rng.up_to(period / (20 * MS));
    for _ in 0..count {
        let at = rng.up_to(period.saturating_sub(1));
        let to = if rng.chance(0.5) {
            None
        } else {
            Some(rng.up_to(p.replicas as u64 - 1) as usize)
        };
        let session_delta = rng.up_to(6) as i16 - 3;
        let ahead = (1 << 40) + rng.up_to(1 << 50);
        out.push(TimedAction {
            at: Time::from_nanos(at),
            action: Action::Stray {
                to,
                session_delta,
                ahead,
            },
        });
    }
}

/// Pause slots, a few per run, at most one open at a time. Most outlast the leader timeout
/// (a stopped follower must not depose a healthy leader when it continues; a stopped leader
/// must be replaced and must step down when it continues); some are shorter. At run time a
/// pause is skipped when it would leave more than `max_down` replicas unavailable, crashes
/// included.
fn pause_lane(p: &ScheduleParams, period: u64, rng: &mut SimRng, out: &mut Vec<TimedAction>) {
    let count = 1 + rng.up_to(period / (700 * MS));
    let slot_len = period / count;
    for i in 0..count {
        let start = i * slot_len + rng.up_to(slot_len / 2);
        let end = (start + between(rng, period / 100, slot_len / 2)).min(period);
        let target = if rng.chance(0.3) {
            CrashTarget::Leader
        } else {
            CrashTarget::Replica(rng.up_to(p.replicas as u64 - 1) as usize)
        };
        let slot = i as u32;
        out.push(TimedAction {
            at: Time::from_nanos(start),
            action: Action::Pause { slot, target },
        });
        out.push(TimedAction {
            at: Time::from_nanos(end),
            action: Action::Resume { slot },
        });
    }
}

fn all_hosts(p: &ScheduleParams) -> Vec<SimHost> {
    let mut hosts: Vec<SimHost> = (0..p.replicas).map(SimHost::Replica).collect();
    if p.sequencer {
        hosts.push(SimHost::Sequencer);
    }
    hosts.extend((0..p.clients).map(SimHost::Client));
    hosts
}
