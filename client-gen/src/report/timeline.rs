//! Throughput over time: completions counted per fixed interval from the run's start, so
//! stalls (a view change, a failed leader) show as dips and zeros instead of vanishing
//! into an average.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::summary::f64_or_null;

/// Narrowest interval: finer ones measure the sender's scheduling, not the system.
const MIN_INTERVAL: Duration = Duration::from_millis(1);
/// Most intervals kept (16 MiB of counters): a day at 100 ms. Later completions are
/// counted in [`Timeline::beyond`] instead.
const MAX_INTERVALS: usize = 1 << 20;

/// One interval of a [`Timeline`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the interval, in seconds from the run's start.
    #[serde(deserialize_with = "f64_or_null")]
    pub t_s: f64,
    /// Successful completions in the interval, per second.
    #[serde(deserialize_with = "f64_or_null")]
    pub ops_per_s: f64,
    /// Requests that gave up in the interval.
    pub errors: u64,
}

/// Completions and errors per interval since the run's start, with the warm-up and
/// cool-down marks that delimit the measured window.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    interval: Duration,
    warmup_end: Duration,
    cooldown_start: Duration,
    end: Option<Duration>,
    ops: Vec<u64>,
    errors: Vec<u64>,
    beyond: u64,
}

impl Timeline {
    /// Intervals of `interval` (at least 1 ms); the measured window is
    /// `[warmup_end, cooldown_start)`, offsets from the start.
    pub fn new(interval: Duration, warmup_end: Duration, cooldown_start: Duration) -> Timeline {
        let interval = interval.max(MIN_INTERVAL);
        let mut t = Timeline {
            interval,
            warmup_end,
            cooldown_start: cooldown_start.max(warmup_end),
            end: None,
            ops: Vec::new(),
            errors: Vec::new(),
            beyond: 0,
        };
        if let Some(planned) = t.index(t.cooldown_start) {
            t.ops.reserve(planned + 1);
            t.errors.reserve(planned + 1);
        }
        t
    }

    /// Records one request ending `at` after the start: completed (`ok`) or given up.
    pub fn record(&mut self, at: Duration, ok: bool) {
        if ok {
            self.record_n(at, 1, 0);
        } else {
            self.record_n(at, 0, 1);
        }
    }

    /// Records `ops` completions and `errors` give-ups ending `at` after the start.
    pub fn record_n(&mut self, at: Duration, ops: u64, errors: u64) {
        let Some(i) = self.index(at) else {
            self.beyond = self.beyond.saturating_add(ops.saturating_add(errors));
            return;
        };
        if i >= self.ops.len() {
            self.ops.resize(i + 1, 0);
            self.errors.resize(i + 1, 0);
        }
        self.ops[i] += ops;
        self.errors[i] += errors;
    }

    /// Marks when the load ended (issuing stopped): the series then reaches exactly there.
    /// Requests answered after it (the last in-flight ones, drained) count in the last
    /// interval, and a partial last interval's rate is taken over its actual length.
    pub fn set_end(&mut self, at: Duration) {
        self.end = Some(at);
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    pub fn warmup_end(&self) -> Duration {
        self.warmup_end
    }

    pub fn cooldown_start(&self) -> Duration {
        self.cooldown_start
    }

    /// Whether a request ending `at` counts in the measured window.
    pub fn in_window(&self, at: Duration) -> bool {
        at >= self.warmup_end && at < self.cooldown_start
    }

    /// Requests recorded after the last interval kept (over a day at 100 ms intervals).
    pub fn beyond(&self) -> u64 {
        self.beyond
    }

    /// Completions and errors over the whole run.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.ops.iter().sum::<u64>(),
            self.errors.iter().sum::<u64>(),
        )
    }

    /// Adds `other`'s counts (for example per-thread timelines into one).
    pub fn merge(&mut self, other: &Timeline) -> Result<(), String> {
        if other.interval != self.interval {
            return Err(format!(
                "cannot merge a timeline of {:?} intervals into one of {:?}; use one interval",
                other.interval, self.interval
            ));
        }
        if other.ops.len() > self.ops.len() {
            self.ops.resize(other.ops.len(), 0);
            self.errors.resize(other.errors.len(), 0);
        }
        for (a, b) in self.ops.iter_mut().zip(&other.ops) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
        self.beyond += other.beyond;
        self.end = self.end.max(other.end);
        Ok(())
    }

    /// One point per interval from the start up to the end set by [`Timeline::set_end`], or
    /// else up to the later of the cool-down mark and the last recorded request. Intervals
    /// without completions are included as zeros.
    ///
    /// With an end set, requests recorded after it are counted in the last point, and a
    /// last, partial interval shorter than half an interval is folded into the one before
    /// (whose rate is then taken over both): a sliver of microseconds holds a handful of
    /// drained requests, and rating them over the sliver printed rates several times the
    /// real one.
    pub fn series(&self) -> Vec<TimelinePoint> {
        let width = self.interval.as_secs_f64();
        let Some(end) = self.end else {
            let planned = self.index(self.cooldown_start).unwrap_or(MAX_INTERVALS);
            let len = self.ops.len().max(planned);
            return (0..len)
                .map(|i| self.point(i, i + 1, width, width))
                .collect();
        };
        let n = end.as_nanos().div_ceil(self.interval.as_nanos());
        let mut len = usize::try_from(n)
            .unwrap_or(MAX_INTERVALS)
            .clamp(1, MAX_INTERVALS);
        let end_s = end.as_secs_f64();
        // The last interval's actual length (the whole width if the end is on a boundary).
        let mut last_span = (end_s - (len - 1) as f64 * width).clamp(0.0, width);
        if last_span == 0.0 {
            last_span = width;
        }
        if len >= 2 && last_span < width / 2.0 {
            len -= 1;
            last_span += width;
        }
        (0..len)
            .map(|i| {
                if i + 1 == len {
                    // The last point also takes everything recorded after it.
                    self.point(i, usize::MAX, width, last_span)
                } else {
                    self.point(i, i + 1, width, width)
                }
            })
            .collect()
    }

    /// The point starting at interval `first`, counting intervals `first..until`, rated
    /// over `span` seconds.
    fn point(&self, first: usize, until: usize, width: f64, span: f64) -> TimelinePoint {
        let sum = |v: &[u64]| -> u64 {
            v.get(first..until.min(v.len()))
                .map_or(0, |s| s.iter().sum())
        };
        TimelinePoint {
            t_s: first as f64 * width,
            ops_per_s: sum(&self.ops) as f64 / span,
            errors: sum(&self.errors),
        }
    }

    fn index(&self, at: Duration) -> Option<usize> {
        let i = at.as_nanos() / self.interval.as_nanos();
        usize::try_from(i).ok().filter(|&i| i < MAX_INTERVALS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn counts_per_interval_with_gaps_as_zeros() {
        let mut t = Timeline::new(ms(100), ms(200), ms(500));
        for at in [0, 10, 99, 100, 350, 351] {
            t.record(ms(at), true);
        }
        t.record(ms(360), false);
        let s = t.series();
        let ops: Vec<f64> = s.iter().map(|p| p.ops_per_s).collect();
        // Up to the cool-down mark (500 ms): 5 intervals, the empty ones as zeros.
        assert_eq!(ops, [30.0, 10.0, 0.0, 20.0, 0.0]);
        assert_eq!(s[3].errors, 1);
        assert!((s[3].t_s - 0.3).abs() < 1e-12);
        assert_eq!(t.totals(), (6, 1));
        assert!(!t.in_window(ms(199)) && t.in_window(ms(200)) && !t.in_window(ms(500)));
        // Later completions extend the series.
        t.record(ms(720), true);
        assert_eq!(t.series().len(), 8);
    }

    #[test]
    fn the_partial_last_interval_is_rated_over_its_length() {
        let mut t = Timeline::new(Duration::from_secs(1), Duration::ZERO, ms(1500));
        for _ in 0..10 {
            t.record(ms(1200), true);
        }
        t.set_end(ms(1500));
        let s = t.series();
        assert_eq!(s.len(), 2);
        assert!((s[1].ops_per_s - 20.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s[0].ops_per_s, 0.0);
    }

    /// The bug this guards against: a run that stops issuing at 2 s drains its last
    /// in-flight requests a few microseconds later; the series used to end there, and the
    /// sliver of an interval after 2 s, rated over its length, read 80 000 ops/s in a run of
    /// 50 ops/s.
    #[test]
    fn drained_requests_do_not_make_a_sliver_of_an_interval() {
        let mut t = Timeline::new(Duration::from_secs(1), Duration::ZERO, ms(2000));
        for i in 0..100 {
            t.record(ms(i * 20), true);
        }
        let drained = Duration::from_secs(2) + Duration::from_micros(100);
        for _ in 0..8 {
            t.record(drained, true);
        }
        // The end as the engine used to set it (after the drain) ...
        t.set_end(drained);
        let rates: Vec<f64> = t.series().iter().map(|p| p.ops_per_s).collect();
        assert_eq!(rates.len(), 2, "{rates:?}");
        assert_eq!(rates[0], 50.0);
        assert!((rates[1] - 58.0 / 1.0001).abs() < 1e-6, "{rates:?}");
        // ... and as it sets it now (when issuing stopped): the drain counts in the last
        // whole interval.
        t.set_end(Duration::from_secs(2));
        let rates: Vec<f64> = t.series().iter().map(|p| p.ops_per_s).collect();
        assert_eq!(rates, [50.0, 58.0]);
        assert_eq!(t.series().iter().map(|p| p.errors).sum::<u64>(), 0);
    }

    #[test]
    fn bounds_never_panic() {
        let mut t = Timeline::new(Duration::ZERO, ms(5), ms(1));
        assert_eq!(t.interval(), MIN_INTERVAL);
        assert_eq!(t.cooldown_start(), ms(5));
        t.record(Duration::MAX, true);
        t.record(Duration::from_secs(1 << 40), false);
        assert_eq!(t.beyond(), 2);
        assert_eq!(t.totals(), (0, 0));
        t.set_end(Duration::MAX);
        assert_eq!(t.series().len(), MAX_INTERVALS);
    }

    #[test]
    fn merge_adds_and_checks_the_interval() {
        let mut a = Timeline::new(ms(100), Duration::ZERO, Duration::ZERO);
        let mut b = a.clone();
        a.record(ms(50), true);
        b.record(ms(50), true);
        b.record(ms(250), false);
        a.merge(&b).unwrap();
        let s = a.series();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].ops_per_s, s[2].errors), (20.0, 1));
        let c = Timeline::new(ms(200), Duration::ZERO, Duration::ZERO);
        assert!(a.merge(&c).unwrap_err().contains("one interval"));
    }
}
