//! The HdrHistogram "percentile distribution" text format (`.hgrm`), as Java's
//! `AbstractHistogram.outputPercentileDistribution` writes it, which HdrHistogram's
//! plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html) and HistogramLogAnalyzer
//! read: a header, one row per percentile tick, and three `#[...]` footer lines.

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// The unit `.hgrm` values are written in; the histogram itself holds nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HgrmUnit {
    /// The default: our latencies are tens of microseconds, which milliseconds at the
    /// format's 3 decimals would round to 0.0xx.
    Micros,
    /// What the HdrHistogram plotter labels its axis with; use it to overlay files from
    /// tools that write milliseconds (wrk2, Java HdrHistogram users).
    Millis,
}

impl HgrmUnit {
    /// Nanoseconds per unit: Java's `outputValueUnitScalingRatio`.
    pub fn ns_per_unit(self) -> f64 {
        match self {
            HgrmUnit::Micros => 1e3,
            HgrmUnit::Millis => 1e6,
        }
    }
}

/// Writes `hist` (nanoseconds) as an `.hgrm` in microseconds, 5 ticks per half distance
/// (the Java default).
pub fn write_hgrm(hist: &Histogram<u64>, out: impl Write) -> io::Result<()> {
    write_hgrm_with(hist, out, HgrmUnit::Micros, 5)
}

/// Writes `hist` (nanoseconds) as an `.hgrm` in `unit`, with `ticks_per_half_distance`
/// percentile rows per halving of the distance to 100 % (at least 1).
pub fn write_hgrm_with(
    hist: &Histogram<u64>,
    mut out: impl Write,
    unit: HgrmUnit,
    ticks_per_half_distance: u32,
) -> io::Result<()> {
    if ticks_per_half_distance == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "percentile ticks per half distance must be at least 1 (HdrHistogram uses 5)",
        ));
    }
    let scale = unit.ns_per_unit();
    let digits = usize::from(hist.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    for v in hist.iter_quantiles(ticks_per_half_distance) {
        total = total.saturating_add(v.count_since_last_iteration());
        let value = v.value_iterated_to() as f64 / scale;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            writeln!(
                out,
                "{value:12.digits$} {q:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            )?;
        } else {
            writeln!(out, "{value:12.digits$} {q:2.12} {total:10}")?;
        }
    }
    let mean = hist.mean() / scale;
    let stdev = hist.stdev() / scale;
    let max = if hist.is_empty() { 0 } else { hist.max() };
    let buckets = u64::from(hist.buckets());
    // The counts array holds (buckets + 1) half-buckets of sub_bucket_count / 2 entries.
    let sub_buckets = 2 * hist.distinct_values() as u64 / (buckets + 1);
    writeln!(
        out,
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {stdev:12.digits$}]"
    )?;
    writeln!(
        out,
        "#[Max     = {:12.digits$}, Total count    = {:12}]",
        max as f64 / scale,
        hist.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {buckets:12}, SubBuckets     = {sub_buckets:12}]"
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::LatencyRecorder;
    use std::time::Duration;

    fn hgrm(r: &LatencyRecorder, unit: HgrmUnit) -> String {
        let mut out = Vec::new();
        write_hgrm_with(r.histogram(), &mut out, unit, 5).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_histogram_in_the_java_layout() {
        let mut r = LatencyRecorder::new();
        for ns in [100, 200, 300, 400] {
            r.record(Duration::from_nanos(ns));
        }
        let text = hgrm(&r, HgrmUnit::Micros);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       0.100 0.000000000000          1           1.00"
        );
        assert_eq!(
            lines[3],
            "       0.100 0.100000000000          1           1.11"
        );
        assert_eq!(
            lines[4],
            "       0.100 0.200000000000          1           1.25"
        );
        assert_eq!(
            lines[5],
            "       0.200 0.300000000000          2           1.43"
        );
        let n = lines.len();
        assert_eq!(lines[n - 4], "       0.400 1.000000000000          4");
        assert_eq!(
            lines[n - 3],
            "#[Mean    =        0.250, StdDeviation   =        0.112]"
        );
        assert_eq!(
            lines[n - 2],
            "#[Max     =        0.400, Total count    =            4]"
        );
        // 100 ns .. 400 ns are exact (below 2048 ns the unit is 1 ns); mean 250 ns, standard
        // deviation sqrt(12500) ns = 111.8 ns.
        // 1 ns .. 60 s at 3 digits: 26 buckets of 2048 sub-buckets, as Java computes.
        assert_eq!(
            lines[n - 1],
            "#[Buckets =           26, SubBuckets     =         2048]"
        );
        assert!(text.ends_with("]\n"));

        // Every row: value and percentile non-decreasing, cumulative counts up to the total,
        // and the 1/(1-p) column on every row but the last.
        let rows: Vec<Vec<f64>> = lines[2..n - 3]
            .iter()
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        for w in rows.windows(2) {
            assert!(w[1][0] >= w[0][0] && w[1][1] >= w[0][1] && w[1][2] >= w[0][2]);
        }
        assert!(rows[..rows.len() - 1].iter().all(|r| r.len() == 4));
        for r in &rows[..rows.len() - 1] {
            assert!((r[3] - 1.0 / (1.0 - r[1])).abs() < 0.006, "{r:?}");
        }
    }

    #[test]
    fn units_and_larger_histograms() {
        let mut r = LatencyRecorder::new();
        for us in 1..=10_000u64 {
            r.record(Duration::from_micros(us));
        }
        let micros = hgrm(&r, HgrmUnit::Micros);
        let millis = hgrm(&r, HgrmUnit::Millis);
        assert!(micros.contains("#[Max     =    10002.431, Total count    =        10000]"));
        assert!(millis.contains("#[Max     =       10.002, Total count    =        10000]"));
        // The median row: 5000 us lies in a bucket of 4096 ns units, whose highest
        // equivalent value is 5001.215 us; 5001 values are at or below it.
        assert!(
            micros
                .lines()
                .any(|l| l == "    5001.215 0.500000000000       5001           2.00"),
            "{micros}"
        );
        // Five ticks per half distance: 0.5 .. 0.75 in steps of 0.05.
        for p in [
            "0.550000000000",
            "0.600000000000",
            "0.650000000000",
            "0.700000000000",
        ] {
            assert!(micros.contains(p), "no {p} row");
        }
        let last = micros.lines().rev().nth(3).unwrap();
        assert!(last.ends_with(" 1.000000000000      10000"), "{last}");
    }

    #[test]
    fn empty_histogram_and_bad_ticks() {
        let r = LatencyRecorder::new();
        let text = hgrm(&r, HgrmUnit::Micros);
        assert_eq!(text.lines().count(), 5);
        assert!(text.contains("#[Max     =        0.000, Total count    =            0]"));
        let e = write_hgrm_with(r.histogram(), Vec::new(), HgrmUnit::Micros, 0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
