//! What a run and a sweep report: the outcome of each check, the replay command of a failed
//! seed, and the one summary line of a sweep.

use std::fmt;

use dataplane::io::sim::SimStats;

use super::options::{FaultSet, SimOptions};
use super::workload::Call;
use crate::time::Time;

/// The check a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The client history has no linearization.
    Linearizability,
    /// Two replicas committed different entries in one slot.
    Agreement,
    /// Two replicas executed up to the same slot and reached different states.
    ExecutionDigest,
    /// After the faults healed, some client completed no new operation.
    Progress,
    /// Virtual time stopped advancing: a core asks for a timer or message loop forever.
    Livelock,
    /// The run could not be set up (a bad option or config).
    Setup,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::Linearizability => "linearizability",
            Check::Agreement => "agreement",
            Check::ExecutionDigest => "execution-digest",
            Check::Progress => "progress",
            Check::Livelock => "livelock",
            Check::Setup => "setup",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Ok,
    /// A safety check failed (linearizability, agreement, execution digest) or the run
    /// could not start.
    Violation { check: Check, detail: String },
    /// A liveness check failed: no progress after healing, or virtual time stuck.
    Stall { check: Check, detail: String },
    /// No violation found, but the linearizability checker ran out of budget.
    Inconclusive { detail: String },
}

impl Outcome {
    /// Violations and stalls fail a sweep; an inconclusive check does not.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Violation { .. } | Outcome::Stall { .. })
    }
}

/// Everything a run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub protocol: &'static str,
    pub seed: u64,
    pub outcome: Outcome,
    pub replicas: usize,
    pub clients: usize,
    /// Operations invoked and operations that returned a result.
    pub invoked: u64,
    pub completed: u64,
    /// Slots some replica reported committed.
    pub committed_slots: usize,
    /// Virtual time when the run ended.
    pub virtual_time: Time,
    /// Each replica's `describe()` line when the run ended (marked when down).
    pub describe: Vec<String>,
    pub net: SimStats,
    /// A hash of the history and the network counters: equal for equal runs.
    pub fingerprint: u64,
    pub history: Vec<Call>,
    /// The one command that replays this run with tracing.
    pub replay: String,
}

impl RunReport {
    /// The failure report: seed, check, details, replica states and the replay command.
    pub fn failure_text(&self) -> String {
        let (kind, check, detail) = match &self.outcome {
            Outcome::Ok => return format!("ok seed={}", self.seed),
            Outcome::Violation { check, detail } => ("VIOLATION", check.name(), detail),
            Outcome::Stall { check, detail } => ("STALL", check.name(), detail),
            Outcome::Inconclusive { detail } => ("INCONCLUSIVE", "linearizability", detail),
        };
        let mut text = format!(
            "{kind} protocol={} seed={} check={check} at={}: {detail}\n",
            self.protocol, self.seed, self.virtual_time
        );
        for line in &self.describe {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("  replay: ");
        text.push_str(&self.replay);
        text
    }
}

/// The command that replays `seed` of `protocol` with the same options and tracing on.
/// `supported` is the protocol's fault set, printed as `all` when the run used all of it.
pub(crate) fn replay_command(
    protocol: &str,
    replicas: usize,
    options: &SimOptions,
    supported: FaultSet,
    seed: u64,
) -> String {
    let faults = if options.faults == supported {
        "all".to_string()
    } else {
        options.faults.to_string()
    };
    let clients = options
        .clients
        .map_or(String::new(), |m| format!(" --clients {m}"));
    format!(
        "cargo run --release -p replica --bin replica-sim -- --protocol {protocol} --replicas \
         {replicas}{clients} --seed {seed} --faults {faults} --duration-ms {} --verbose",
        options.duration.as_millis()
    )
}

/// The totals of a sweep: printed as its one summary line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepSummary {
    pub protocol: &'static str,
    pub replicas: usize,
    pub seeds: u64,
    pub ok: u64,
    pub violations: u64,
    pub stalls: u64,
    pub inconclusive: u64,
    /// Operations completed, over all runs.
    pub ops: u64,
    pub virtual_s: f64,
    pub wall_s: f64,
}

impl SweepSummary {
    /// Counts one run.
    pub fn add(&mut self, report: &RunReport) {
        self.seeds += 1;
        self.ops += report.completed;
        self.virtual_s += report.virtual_time.as_nanos() as f64 / 1e9;
        match report.outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Violation { .. } => self.violations += 1,
            Outcome::Stall { .. } => self.stalls += 1,
            Outcome::Inconclusive { .. } => self.inconclusive += 1,
        }
    }

    /// Whether every seed passed (inconclusive ones included).
    pub fn passed(&self) -> bool {
        self.violations == 0 && self.stalls == 0
    }
}

impl fmt::Display for SweepSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "protocol={} replicas={} seeds={} ok={} violations={} stalls={} inconclusive={} \
             ops={} virtual_s={:.1} wall_s={:.2}",
            self.protocol,
            self.replicas,
            self.seeds,
            self.ok,
            self.violations,
            self.stalls,
            self.inconclusive,
            self.ops,
            self.virtual_s,
            self.wall_s
        )
    }
}
