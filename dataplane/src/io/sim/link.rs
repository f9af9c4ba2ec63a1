//! The link model: what happens to one datagram between two hosts.

use std::time::Duration;

use super::SimError;
use super::rng::SimRng;

/// How a directed link treats datagrams. The defaults are a perfect link with a fixed
/// 10 us delay, so a fault-free run still has realistic, nonzero latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Probability that a datagram that survived loss arrives twice.
    pub duplicate: f64,
    /// Base one-way latency of every copy.
    pub delay: Duration,
    /// Extra latency drawn uniformly from `0..=jitter` per copy; datagrams sent closer
    /// together than the jitter can swap places.
    pub jitter: Duration,
    /// Probability that a copy is held back by an extra `reorder_delay`, so later datagrams
    /// overtake it (it overtakes nothing).
    pub reorder: f64,
    /// How long a reordered copy is held back.
    pub reorder_delay: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_micros(10),
            jitter: Duration::ZERO,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }
}

/// The longest delay the model works with; longer durations saturate here so that time
/// arithmetic never overflows.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl LinkConfig {
    /// Checks that every probability is in `0..=1`; the error names the first bad field.
    pub fn validate(&self) -> Result<(), SimError> {
        for (field, value) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SimError::InvalidProbability { field, value });
            }
        }
        Ok(())
    }

    /// Decides whether a datagram survives and whether it is duplicated. Draw order (part of
    /// the replay contract): loss, then duplicate.
    pub(super) fn copies(&self, rng: &mut SimRng) -> Copies {
        if rng.chance(self.loss) {
            Copies::Lost
        } else if rng.chance(self.duplicate) {
            Copies::Two
        } else {
            Copies::One
        }
    }

    /// The latency of one copy. Draw order: jitter, then reorder.
    pub(super) fn latency(&self, rng: &mut SimRng) -> Duration {
        let jitter = rng.up_to(nanos(self.jitter));
        let mut total = nanos(self.delay).saturating_add(jitter);
        if rng.chance(self.reorder) {
            total = total.saturating_add(nanos(self.reorder_delay));
        }
        Duration::from_nanos(total)
    }
}

/// The fate of one datagram on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Copies {
    Lost,
    One,
    Two,
}
