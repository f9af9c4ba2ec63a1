//! The deterministic simulator (DESIGN.md rule 4): a whole cluster (replicas, the OUM
//! sequencer, clients) in one process, single-threaded, in virtual time, with faults drawn
//! from one seed. Every run checks the client history for linearizability, the replicas'
//! committed logs and execution digests for agreement, and that the cluster makes progress
//! once the faults heal. A failing seed prints the one command that replays it.
//!
//! * [`Protocol`]: what a protocol provides to be simulated ([`Unreplicated`] here; the
//!   NOPaxos implementation sits beside it).
//! * [`SimOptions`], [`FaultKind`], [`FaultSet`], [`SeedRange`]: what a run or sweep does.
//! * [`run_seed`] runs one seed; [`run_sweep`] runs a range of seeds (in parallel) and
//!   gives a [`SweepSummary`]; each run ends in a [`RunReport`].
//!
//! Inside: `faults` draws the fault schedule from the seed; `world` owns the hosts and the
//! driver loop (`world::inject` applies faults, `world::deliver` feeds the cores,
//! `world::finish` checks and reports); `routes` maps protocol destinations to addresses;
//! `hold` keeps the datagrams of the long-hold fault; `sequencer` is the simulated OUM
//! sequencer host; `workload` runs the clients and records
//! the history; `checks` holds agreement and the linearizability call; `report` the
//! outcomes; `trace` the `--verbose` output.

mod checks;
mod faults;
mod hold;
mod options;
mod protocol;
pub mod replay;
mod report;
mod routes;
mod sequencer;
mod sweep;
mod table1;
mod trace;
mod workload;
mod world;

#[cfg(test)]
mod protocol_sweeps;
#[cfg(test)]
mod tests;

use dataplane::time;

pub use faults::{
    Action, CrashTarget, Cut, FaultSchedule, LinkScope, ScheduleParams, SimHost, TimedAction,
};
pub use options::{FaultKind, FaultSet, SeedRange, SimOptions, TIMEOUT_SCALE};
pub use protocol::{
    LONG_HOLD_EXCLUDED, ReplicaOf, long_hold_excluded, new_replica, recovering_replica,
    supported_faults,
};
pub use report::{Check, Outcome, RunReport, SweepSummary};
pub use sweep::{protocol_faults, protocol_replicas, run_seed, run_sweep};
pub use table1::{Table1Row, format_table1, table1_row};
pub use workload::Call;
