use std::time::Duration;

use crate::time::Time;

/// The CPU's time-stamp counter as a clock for run-to-completion loops: reading it costs a
/// few cycles, so a poll loop can read it every burst to fire its timers.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    start: u64,
    hz: u64,
}

impl TscClock {
    /// A clock whose epoch is now. Needs the EAL (it measured the TSC frequency).
    pub fn new(_eal: &super::Eal) -> TscClock {
        // SAFETY: the EAL is initialised (we hold a reference to it).
        let hz = unsafe { dpdk_sys::rte_get_tsc_hz() }.max(1);
        TscClock { start: tsc(), hz }
    }

    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Time since the epoch, as protocol cores take it.
    pub fn now(&self) -> Time {
        let ticks = tsc().wrapping_sub(self.start);
        let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(self.hz);
        Time::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now().as_nanos())
    }
}

/// The raw time-stamp counter (`rte_rdtsc`).
pub fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { dpdk_sys::shim_rdtsc() }
}
