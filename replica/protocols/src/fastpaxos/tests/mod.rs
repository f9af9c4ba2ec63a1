//! Tests of the Fast Paxos core: focused scenarios on an in-memory cluster that can lose
//! chosen messages, and the bounded simulator sweeps of CI.

mod fence;
mod harness;
mod scenarios;
