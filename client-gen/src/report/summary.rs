//! The saved record of one run: everything a figure needs, as JSON.

use serde::{Deserialize, Deserializer, Serialize};

use super::cpu::CpuAccount;
use super::latency::LatencySummary;
use super::timeline::TimelinePoint;

/// JSON has no NaN or infinity, and serde_json writes them as `null`; reading `null` back as
/// NaN keeps a saved summary loadable whatever it held.
pub(super) fn f64_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One run, as saved for plotting later. Counts and rates cover only the measured window
/// (after warm-up, before cool-down); `timeline` covers the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `nopaxos`, `unreplicated`, ...: the name [`super::format_table`] compares by.
    pub protocol: String,
    pub replicas: usize,
    pub clients: usize,
    /// `closed` or `open`.
    pub mode: String,
    /// Open loop: requests per second asked for (throughput below it means the system
    /// could not keep up).
    pub offered_rate: Option<f64>,
    #[serde(deserialize_with = "f64_or_null")]
    pub warmup_s: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub measured_s: f64,
    #[serde(deserialize_with = "f64_or_null")]
    pub cooldown_s: f64,
    /// Requests completed inside the measured window.
    pub ops: u64,
    /// Requests that gave up inside the measured window: counted, never silently dropped.
    pub errors: u64,
    /// `ops / measured_s`.
    #[serde(deserialize_with = "f64_or_null")]
    pub throughput_ops_s: f64,
    pub latency: LatencySummary,
    pub timeline: Vec<TimelinePoint>,
    pub seed: u64,
    /// The workload, as the flags that reproduce it.
    pub workload: String,
    /// Fraction of datagrams dropped on purpose, if any were.
    pub drops_injected: Option<f64>,
    /// Anything a reader of the figure should know (saturated latencies, a killed leader).
    pub notes: Vec<String>,
    /// The server processes' CPU per request over the measured window, the busiest one and
    /// the one-core-per-process projection. Summaries written before it existed read back
    /// as unmeasured.
    #[serde(default = "cpu_not_recorded")]
    pub cpu: CpuAccount,
}

fn cpu_not_recorded() -> CpuAccount {
    CpuAccount::unmeasured("not recorded (a summary from before CPU accounting)")
}

impl RunSummary {
    /// Pretty JSON. Non-finite numbers become `null` (read back as NaN, or `None`).
    pub fn to_json_pretty(&self) -> String {
        match serde_json::to_string_pretty(self) {
            Ok(json) => json,
            // Plain fields only, so this does not happen; if it ever did, the file says why
            // instead of the program stopping.
            Err(e) => format!("{{\"error\": {:?}}}", e.to_string()),
        }
    }

    pub fn from_json(json: &str) -> Result<RunSummary, String> {
        serde_json::from_str(json).map_err(|e| format!("not a run summary: {e}"))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::report::ProcessCpu;

    /// A summary with every field set, for the JSON and table tests.
    pub(in crate::report) fn sample(protocol: &str, throughput: f64) -> RunSummary {
        RunSummary {
            protocol: protocol.to_string(),
            replicas: 3,
            clients: 8,
            mode: "open".to_string(),
            offered_rate: Some(50_000.0),
            warmup_s: 2.0,
            measured_s: 7.0,
            cooldown_s: 1.0,
            ops: (throughput * 7.0) as u64,
            errors: 2,
            throughput_ops_s: throughput,
            latency: LatencySummary {
                p50: 45.125,
                p90: 80.0,
                p99: 120.5,
                p999: 250.3,
                max: 1000.0,
                mean: 50.5,
                count: 700,
            },
            timeline: vec![
                TimelinePoint {
                    t_s: 0.0,
                    ops_per_s: 100.0,
                    errors: 0,
                },
                TimelinePoint {
                    t_s: 1.0,
                    ops_per_s: 0.0,
                    errors: 3,
                },
            ],
            seed: 7,
            workload: "--keys 1000 --distribution uniform".to_string(),
            drops_injected: Some(0.01),
            notes: vec!["leader killed at 5 s".to_string()],
            cpu: CpuAccount::new(vec![
                ProcessCpu::measured(
                    "sequencer",
                    10,
                    2.0,
                    throughput_cost(throughput),
                    "schedstat",
                ),
                ProcessCpu::measured("replica 0", 11, 1.0, 5.0, "schedstat"),
            ]),
        }
    }

    /// The sequencer's cost in the sample: a busiest process that differs per protocol.
    fn throughput_cost(throughput: f64) -> f64 {
        if throughput > 160_000.0 { 4.0 } else { 20.0 }
    }

    #[test]
    fn json_round_trip() {
        let s = sample("nopaxos", 12345.5);
        let json = s.to_json_pretty();
        assert_eq!(RunSummary::from_json(&json), Ok(s.clone()));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["protocol"], "nopaxos");
        assert_eq!(v["latency"]["p99"], 120.5);
        assert_eq!(v["timeline"][1]["errors"], 3);
        assert_eq!(v["offered_rate"], 50000.0);
        // Absent options are null and read back as None.
        let closed = RunSummary {
            offered_rate: None,
            drops_injected: None,
            ..s
        };
        let json = closed.to_json_pretty();
        assert!(json.contains("\"offered_rate\": null"));
        assert_eq!(RunSummary::from_json(&json), Ok(closed));
    }

    #[test]
    fn a_summary_from_before_cpu_accounting_still_reads() {
        let mut v: serde_json::Value =
            serde_json::from_str(&sample("vr", 10.0).to_json_pretty()).unwrap();
        assert!(v["cpu"]["busiest"].is_string());
        v.as_object_mut().unwrap().remove("cpu");
        let old = RunSummary::from_json(&v.to_string()).unwrap();
        assert!(old.cpu.busiest.is_none());
        assert!(old.cpu.unmeasured.unwrap().starts_with("not recorded"));
    }

    #[test]
    fn non_finite_numbers_survive_as_null() {
        let s = RunSummary {
            throughput_ops_s: f64::NAN,
            measured_s: f64::INFINITY,
            ..sample("vr", 1.0)
        };
        let json = s.to_json_pretty();
        assert!(json.contains("\"throughput_ops_s\": null"));
        let back = RunSummary::from_json(&json).unwrap();
        assert!(back.throughput_ops_s.is_nan() && back.measured_s.is_nan());
    }

    #[test]
    fn bad_json_is_a_clear_error() {
        let e = RunSummary::from_json("{\"protocol\": \"x\"}").unwrap_err();
        assert!(e.starts_with("not a run summary: missing field"), "{e}");
        let e = RunSummary::from_json("[1, 2").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }
}
