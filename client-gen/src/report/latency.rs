//! Latency recording in an HdrHistogram (DESIGN.md rule 7).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::summary::f64_or_null;

/// Latencies of one run (or one client; [`LatencyRecorder::merge`] combines them).
///
/// Values are nanoseconds, from 1 ns to a fixed maximum (60 s unless chosen), at 3
/// significant digits: loopback and kernel-bypass latencies are tens of microseconds, where
/// whole-microsecond units would round by several percent. The range is fixed, so recording
/// never allocates; a latency above the maximum is recorded as the maximum and counted in
/// [`LatencyRecorder::saturated`], never dropped and never a panic.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
    max_ns: u64,
    saturated: u64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

impl LatencyRecorder {
    /// The default maximum: no request of a healthy run waits longer, and a minute is still
    /// a small histogram (about 200 KiB).
    pub const DEFAULT_MAX: Duration = Duration::from_secs(60);
    /// Significant decimal digits kept: 0.1 % resolution at every magnitude.
    pub const SIGNIFICANT_DIGITS: u8 = 3;

    pub fn new() -> LatencyRecorder {
        LatencyRecorder::with_max(Self::DEFAULT_MAX)
    }

    /// A recorder tracking up to `max` (at least 2 ns; longer ones saturate).
    pub fn with_max(max: Duration) -> LatencyRecorder {
        // A histogram needs high >= 2 * low; the cap leaves room for the bucket arithmetic.
        let max_ns = duration_ns(max).clamp(2, u64::MAX >> 2);
        let hist = Histogram::new_with_bounds(1, max_ns, Self::SIGNIFICANT_DIGITS)
            .expect("bounds 1..=max_ns with max_ns >= 2 at 3 digits are always valid");
        LatencyRecorder {
            hist,
            max_ns,
            saturated: 0,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        self.record_ns(duration_ns(latency));
    }

    pub fn record_ns(&mut self, ns: u64) {
        if ns > self.max_ns {
            self.saturated += 1;
        }
        self.hist.saturating_record(ns.min(self.max_ns));
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Latencies above the maximum, recorded as the maximum: if non-zero, the tail
    /// percentiles are lower bounds.
    pub fn saturated(&self) -> u64 {
        self.saturated
    }

    /// The largest latency tracked exactly.
    pub fn max_trackable(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// The histogram, in nanoseconds, for [`super::write_hgrm`] and custom analysis.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Adds `other`'s latencies (for example per-client recorders into one).
    pub fn merge(&mut self, other: &LatencyRecorder) -> Result<(), String> {
        self.hist.add(&other.hist).map_err(|e| {
            format!(
                "cannot merge latencies tracked up to {:?} into a recorder tracking up to \
                 {:?}: {e:?}; create both with the same maximum",
                other.max_trackable(),
                self.max_trackable()
            )
        })?;
        self.saturated += other.saturated;
        Ok(())
    }

    pub fn reset(&mut self) {
        self.hist.reset();
        self.saturated = 0;
    }

    /// The latency at quantile `q` (0 to 1), in microseconds; 0 when nothing was recorded.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            return 0.0;
        }
        ns_to_us(self.hist.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    pub fn summary(&self) -> LatencySummary {
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            p50: self.quantile_us(0.5),
            p90: self.quantile_us(0.9),
            p99: self.quantile_us(0.99),
            p999: self.quantile_us(0.999),
            max: ns_to_us(self.hist.max()),
            mean: self.hist.mean() / 1000.0,
            count: self.hist.len(),
        }
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ns_to_us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// A run's latency in microseconds. Percentiles are HdrHistogram's: the highest value
/// equivalent (within 0.1 %) to the sample at that rank. All zero when nothing was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    #[serde(deserialize_with = "f64_or_null")]
    pub p50: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub p90: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub p99: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub p999: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub max: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub mean: f64,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_latencies() {
        let mut r = LatencyRecorder::new();
        assert_eq!(r.summary(), LatencySummary::default());
        // 1..=1000 microseconds, one each.
        for us in 1..=1000u64 {
            r.record(Duration::from_micros(us));
        }
        let s = r.summary();
        assert_eq!(s.count, 1000);
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1e-9;
        assert!(near(s.p50, 500.0), "{s:?}");
        assert!(near(s.p90, 900.0), "{s:?}");
        assert!(near(s.p99, 990.0), "{s:?}");
        assert!(near(s.p999, 999.0), "{s:?}");
        assert!(near(s.max, 1000.0), "{s:?}");
        assert!(near(s.mean, 500.5), "{s:?}");
        // Sub-microsecond resolution where it matters: 20.3 us stays 20.3 us.
        let mut r = LatencyRecorder::new();
        r.record(Duration::from_nanos(20_300));
        assert!(near(r.summary().p50, 20.3), "{:?}", r.summary());
    }

    #[test]
    fn saturation_is_counted_not_lost() {
        let mut r = LatencyRecorder::with_max(Duration::from_millis(10));
        r.record(Duration::from_millis(1));
        r.record(Duration::from_secs(5));
        r.record(Duration::MAX);
        assert_eq!(r.count(), 3);
        assert_eq!(r.saturated(), 2);
        assert!(
            (r.summary().max - 10_000.0).abs() <= 10.0,
            "{:?}",
            r.summary()
        );
        r.reset();
        assert_eq!((r.count(), r.saturated()), (0, 0));
    }

    #[test]
    fn merge_adds_counts_and_rejects_wider_ranges() {
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        a.record(Duration::from_micros(10));
        b.record(Duration::from_micros(30));
        b.record(Duration::from_secs(100));
        a.merge(&b).unwrap();
        assert_eq!((a.count(), a.saturated()), (3, 1));
        let mut small = LatencyRecorder::with_max(Duration::from_millis(1));
        let e = small.merge(&a).unwrap_err();
        assert!(e.contains("same maximum"), "{e}");
        // Out-of-range bounds are clamped, not a panic.
        let mut tiny = LatencyRecorder::with_max(Duration::ZERO);
        tiny.record(Duration::from_secs(1));
        assert_eq!(tiny.saturated(), 1);
        let _ = LatencyRecorder::with_max(Duration::MAX);
    }
}
