//! NOPaxos scenarios on a small deterministic harness that can drop chosen messages: the
//! original implementation's test suite, and a regression test for each of its defects.

mod gap_runs;
mod harness;
mod recovery_fence;
mod scenarios;
