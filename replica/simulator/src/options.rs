//! What a simulation run does: cluster size, clients, virtual duration, fault kinds, and
//! the cluster config every node of a run is built from.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use dataplane::config::{ClusterConfig, Timeouts};

/// One kind of fault the schedule can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Datagrams lost on some or all links.
    Loss,
    /// Datagrams delivered twice.
    Duplicate,
    /// Datagrams held back so later ones overtake them.
    Reorder,
    /// Long and jittery link latency.
    Delay,
    /// Replica-replica, sequencer-replica and client-cluster partitions.
    Partition,
    /// A replica stops and later resumes with its memory intact.
    Crash,
    /// A replica stops and restarts with nothing (protocol recovery).
    MemoryLoss,
    /// The sequencer fails and a new one starts the next session.
    Failover,
    /// Replica-to-replica datagrams held in the network far longer than any link delay:
    /// until their sender has crashed and restarted (and recovered, after a memory loss)
    /// or, if it does not crash, for one to four recovery allowances; then delivered.
    LongHold,
    /// A replica's process is stopped (SIGSTOP) and later continued: it handles nothing
    /// meanwhile, its socket buffer fills up to a bound, and on resuming it handles the
    /// stale burst and every overdue timer at once.
    Pause,
    /// Stray stamped datagrams from a host that is not the sequencer: a newer, older or the
    /// current session, message numbers far beyond anything the run stamps (issue 13: one
    /// such datagram wedged the group). Each goes to one replica or to all.
    Stray,
}

impl FaultKind {
    /// Every kind, in the canonical order used for printing.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::Loss,
        FaultKind::Duplicate,
        FaultKind::Reorder,
        FaultKind::Delay,
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::MemoryLoss,
        FaultKind::Failover,
        FaultKind::LongHold,
        FaultKind::Pause,
        FaultKind::Stray,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Loss => "loss",
            FaultKind::Duplicate => "dup",
            FaultKind::Reorder => "reorder",
            FaultKind::Delay => "delay",
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::MemoryLoss => "memory-loss",
            FaultKind::Failover => "failover",
            FaultKind::LongHold => "long-hold",
            FaultKind::Pause => "pause",
            FaultKind::Stray => "stray",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Kinds that change the link model (as opposed to partitions and host failures).
    pub fn is_link_fault(self) -> bool {
        matches!(
            self,
            FaultKind::Loss | FaultKind::Duplicate | FaultKind::Reorder | FaultKind::Delay
        )
    }
}

/// A set of fault kinds; parses `none`, `all` or a comma list (`loss,dup,crash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FaultSet(u16);

impl FaultSet {
    pub const NONE: FaultSet = FaultSet(0);

    /// Every kind; a protocol narrows it to what it supports (see
    /// [`Protocol::supported_faults`](super::Protocol::supported_faults)).
    pub fn all() -> FaultSet {
        FaultKind::ALL.into_iter().collect()
    }

    pub fn contains(self, kind: FaultKind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn insert(&mut self, kind: FaultKind) {
        self.0 |= kind.bit();
    }

    pub fn remove(&mut self, kind: FaultKind) {
        self.0 &= !kind.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersection(self, other: FaultSet) -> FaultSet {
        FaultSet(self.0 & other.0)
    }

    /// Kinds in `self` but not in `other`.
    pub fn difference(self, other: FaultSet) -> FaultSet {
        FaultSet(self.0 & !other.0)
    }

    pub fn is_subset(self, other: FaultSet) -> bool {
        self.difference(other).is_empty()
    }

    /// The kinds, in canonical order.
    pub fn kinds(self) -> impl Iterator<Item = FaultKind> {
        FaultKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }

    /// Whether any kind that changes the link model is in the set.
    pub fn has_link_faults(self) -> bool {
        self.kinds().any(FaultKind::is_link_fault)
    }
}

impl FromIterator<FaultKind> for FaultSet {
    fn from_iter<I: IntoIterator<Item = FaultKind>>(iter: I) -> Self {
        let mut set = FaultSet::NONE;
        for k in iter {
            set.insert(k);
        }
        set
    }
}

impl FromStr for FaultSet {
    type Err = String;

    fn from_str(s: &str) -> Result<FaultSet, String> {
        let s = s.trim();
        match s {
            "none" | "" => return Ok(FaultSet::NONE),
            "all" => return Ok(FaultSet::all()),
            _ => {}
        }
        let mut set = FaultSet::NONE;
        for word in s.split(',').map(str::trim) {
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name() == word)
                .ok_or_else(|| {
                    format!(
                        "unknown fault kind {word:?}; expected none, all, or a comma list of {}",
                        FaultKind::ALL.map(FaultKind::name).join(", ")
                    )
                })?;
            set.insert(kind);
        }
        Ok(set)
    }
}

impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.kinds().map(FaultKind::name).collect();
        f.write_str(&names.join(","))
    }
}

/// Seeds to run: `A..B` (B excluded) or a single seed `S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

impl SeedRange {
    pub fn single(seed: u64) -> SeedRange {
        SeedRange {
            start: seed,
            end: seed.saturating_add(1),
        }
    }

    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn range(&self) -> Range<u64> {
        self.start..self.end
    }
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<SeedRange, String> {
        let number = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|e| format!("{t:?} is not a seed: {e}"))
        };
        match s.split_once("..") {
            Some((a, b)) => {
                let (start, end) = (number(a)?, number(b)?);
                if end <= start {
                    return Err(format!("empty seed range {s}: the end is excluded"));
                }
                Ok(SeedRange { start, end })
            }
            None => Ok(SeedRange::single(number(s)?)),
        }
    }
}

/// Options of a run; the command line exposes all but `keys` and `think`, so a printed
/// replay command reproduces a run made with their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// Replicas asked for; a protocol may run another number (unreplicated: 1).
    pub replicas: usize,
    /// Clients; `None` draws 3 to 5 from the seed.
    pub clients: Option<usize>,
    /// Virtual length of a run: a fault period, then a quiet period of at least
    /// [`SimOptions::quiet_period`].
    pub duration: Duration,
    /// Fault kinds, already narrowed to what the protocol supports.
    pub faults: FaultSet,
    /// Keys the workload spreads its operations over.
    pub keys: usize,
    /// Longest client think time between operations.
    pub think: Duration,
    /// Trace level of `--verbose` (0: none, 1: events, 2: also every datagram).
    pub verbose: u8,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            replicas: 3,
            clients: None,
            duration: Duration::from_millis(3000),
            faults: FaultSet::all(),
            keys: 5,
            think: Duration::from_millis(25),
            verbose: 0,
        }
    }
}

/// Every protocol timeout is the configured default divided by this, so that a run of a
/// few virtual seconds sees many view changes and failovers; the ratios between timeouts,
/// which is what the protocols depend on, stay as configured.
pub const TIMEOUT_SCALE: u64 = 10;

/// First UDP port of the simulated replicas (127.0.0.1:7000, :7001, ...).
const BASE_PORT: u16 = 7000;
/// The OUM group address, owned by the simulated sequencer.
const GROUP_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 100);

impl SimOptions {
    /// The cluster config of an `n`-replica run: [`ClusterConfig::local`] with every timeout
    /// divided by [`TIMEOUT_SCALE`].
    pub fn cluster_config(&self, n: usize) -> ClusterConfig {
        let mut config = ClusterConfig::local(n, BASE_PORT, GROUP_ADDRESS);
        let d = Timeouts::default();
        let scale = |ms: u64| (ms / TIMEOUT_SCALE).max(1);
        config.timeouts = Timeouts {
            gap_request_ms: scale(d.gap_request_ms),
            gap_request_min_ms: scale(d.gap_request_min_ms),
            gap_commit_ms: scale(d.gap_commit_ms),
            view_change_ms: scale(d.view_change_ms),
            state_transfer_ms: scale(d.state_transfer_ms),
            start_view_ms: scale(d.start_view_ms),
            sync_period_ms: scale(d.sync_period_ms),
            leader_timeout_ms: scale(d.leader_timeout_ms),
            client_resend_ms: scale(d.client_resend_ms),
            client_resend_min_ms: scale(d.client_resend_min_ms),
            client_give_up_ms: scale(d.client_give_up_ms),
        };
        config
    }

    /// The shortest quiet period after the faults heal: long enough for a client's stuck
    /// request to give up, and for several leader timeouts (a view change, a recovery)
    /// before the new request every client must complete.
    pub fn quiet_period(config: &ClusterConfig) -> Duration {
        let t = &config.timeouts;
        Duration::from_millis(t.client_give_up_ms + 4 * t.leader_timeout_ms)
    }

    /// When faults end (everything heals) for a run of this config: 70% of the duration,
    /// less if the quiet period needs more room.
    pub fn heal_at(&self, config: &ClusterConfig) -> Duration {
        let seventy = self.duration.mul_f64(0.7);
        let latest = self.duration.saturating_sub(Self::quiet_period(config));
        seventy.min(latest)
    }
}
