//! Tests of the whole protocol: scenarios on a harness that can lose, hold back and reorder
//! chosen messages, and bounded simulator sweeps.

mod harness;
mod scenarios;
