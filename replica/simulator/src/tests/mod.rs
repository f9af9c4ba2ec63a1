//! Tests of the simulator: options, the fault schedule, the driver, each check (against
//! protocols that break it on purpose), the sequencer host, and a bounded seed sweep.

mod agreement;
mod driver;
mod fakes;
mod memory_loss;
mod mutation;
mod options;
mod pause;
mod schedule;
mod sequencer;
mod stray;
mod sweep;

use std::time::Duration;

use super::{FaultSet, SimOptions};

/// Options for a test run: `faults`, a short virtual duration.
fn options(replicas: usize, faults: &str, duration_ms: u64) -> SimOptions {
    SimOptions {
        replicas,
        faults: faults.parse::<FaultSet>().expect("valid fault list"),
        duration: Duration::from_millis(duration_ms),
        ..SimOptions::default()
    }
}
