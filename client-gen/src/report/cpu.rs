//! Bottleneck accounting: each server process's CPU time per completed request over the
//! measured window, the busiest process, and the throughput the cluster would reach with
//! one core per process (the paper's setup: one machine per process), beside what one box
//! measured (where every process shares the same cores, so total CPU bounds throughput).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// One server process's share of the work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCpu {
    /// `sequencer`, `replica 0`, ... (or the name given to `--server-pid`).
    pub name: String,
    pub pid: Option<u32>,
    /// CPU microseconds per completed request; `None` when `na` says why not.
    pub us_per_op: Option<f64>,
    /// CPU seconds the process used over the measured window.
    pub cpu_s: Option<f64>,
    /// Where the time came from: `schedstat` or `stat` (see docs/benchmarks.md).
    pub source: Option<String>,
    /// Why there is no figure: `exited`, `unreadable: ...`, `no requests completed`.
    pub na: Option<String>,
}

impl ProcessCpu {
    pub fn measured(name: &str, pid: u32, cpu_s: f64, us_per_op: f64, source: &str) -> Self {
        ProcessCpu {
            name: name.to_string(),
            pid: Some(pid),
            us_per_op: Some(us_per_op),
            cpu_s: Some(cpu_s),
            source: Some(source.to_string()),
            na: None,
        }
    }

    pub fn unavailable(name: &str, pid: Option<u32>, why: &str) -> Self {
        ProcessCpu {
            name: name.to_string(),
            pid,
            us_per_op: None,
            cpu_s: None,
            source: None,
            na: Some(why.to_string()),
        }
    }

    /// The figure in words: `12.3 us` or `n/a: exited`.
    pub fn cost_text(&self) -> String {
        match (self.us_per_op, &self.na) {
            (Some(us), None) => format!("{us:.1} us"),
            (_, Some(why)) => format!("n/a: {why}"),
            (None, None) => "n/a".to_string(),
        }
    }
}

/// The servers' CPU per request for one run, and what it implies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuAccount {
    pub processes: Vec<ProcessCpu>,
    /// Why nothing was measured at all (for example `remote`: no PIDs given).
    pub unmeasured: Option<String>,
    /// The process with the most CPU per request, if every process was measured.
    pub busiest: Option<String>,
    pub busiest_us_per_op: Option<f64>,
    /// `1e6 / busiest_us_per_op`: ops/s with one core per process.
    pub projected_ops_s: Option<f64>,
    /// Sum over the servers: on one box, `cores * 1e6 / total` bounds the throughput.
    pub total_us_per_op: Option<f64>,
}

impl CpuAccount {
    /// Nothing measured, and why (`remote`, ...).
    pub fn unmeasured(why: &str) -> CpuAccount {
        CpuAccount {
            processes: Vec::new(),
            unmeasured: Some(why.to_string()),
            busiest: None,
            busiest_us_per_op: None,
            projected_ops_s: None,
            total_us_per_op: None,
        }
    }

    /// The account of `processes`. The busiest process and the projection exist only if
    /// every process has a figure: one missing process might have been the bottleneck, and
    /// counting it as free would overstate the projection.
    pub fn new(processes: Vec<ProcessCpu>) -> CpuAccount {
        if processes.is_empty() {
            return CpuAccount::unmeasured("no server processes");
        }
        let costs: Option<Vec<f64>> = processes
            .iter()
            .map(|p| p.us_per_op.filter(|c| c.is_finite() && *c >= 0.0))
            .collect();
        let (busiest, busiest_us, total) = match costs {
            Some(costs) => {
                let (i, &max) = costs
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .expect("non-empty");
                (
                    Some(processes[i].name.clone()),
                    Some(max),
                    Some(costs.iter().sum::<f64>()),
                )
            }
            None => (None, None, None),
        };
        CpuAccount {
            projected_ops_s: busiest_us.filter(|&us| us > 0.0).map(|us| 1e6 / us),
            processes,
            unmeasured: None,
            busiest,
            busiest_us_per_op: busiest_us,
            total_us_per_op: total,
        }
    }

    /// Why there is no busiest process: the account's own reason, or the first process
    /// without a figure (`replica 0 exited`).
    pub fn missing(&self) -> Option<String> {
        if self.busiest.is_some() {
            return None;
        }
        if let Some(why) = &self.unmeasured {
            return Some(why.clone());
        }
        self.processes
            .iter()
            .find(|p| p.us_per_op.is_none())
            .map(|p| format!("{} {}", p.name, p.na.as_deref().unwrap_or("not measured")))
    }

    /// One line: every process's CPU per request, the busiest, and the projection.
    pub fn describe(&self) -> String {
        let mut out = String::from("CPU per request:");
        if let Some(why) = &self.unmeasured {
            let _ = write!(out, " n/a: {why}");
            return out;
        }
        let parts: Vec<String> = self
            .processes
            .iter()
            .map(|p| format!("{} {}", p.name, p.cost_text()))
            .collect();
        out.push(' ');
        out.push_str(&parts.join(", "));
        let sources: Vec<&str> = {
            let mut s: Vec<&str> = self
                .processes
                .iter()
                .filter_map(|p| p.source.as_deref())
                .collect();
            s.dedup();
            s
        };
        if !sources.is_empty() {
            let _ = write!(out, " ({})", sources.join(", "));
        }
        match (&self.busiest, self.busiest_us_per_op, self.projected_ops_s) {
            (Some(name), Some(us), Some(ops)) => {
                let _ = write!(
                    out,
                    "; busiest {name} ({us:.1} us): one core per process {ops:.0} ops/s"
                );
            }
            _ => {
                let why = self.missing().unwrap_or_else(|| "zero CPU".into());
                let _ = write!(out, "; no projection ({why})");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three(seq: f64, r0: f64, r1: f64) -> Vec<ProcessCpu> {
        vec![
            ProcessCpu::measured("sequencer", 10, 1.0, seq, "schedstat"),
            ProcessCpu::measured("replica 0", 11, 1.0, r0, "schedstat"),
            ProcessCpu::measured("replica 1", 12, 1.0, r1, "schedstat"),
        ]
    }

    #[test]
    fn the_busiest_process_bounds_the_projection() {
        let a = CpuAccount::new(three(22.5, 10.0, 9.5));
        assert_eq!(a.busiest.as_deref(), Some("sequencer"));
        assert_eq!(a.busiest_us_per_op, Some(22.5));
        assert!((a.projected_ops_s.unwrap() - 1e6 / 22.5).abs() < 1e-6);
        assert!((a.total_us_per_op.unwrap() - 42.0).abs() < 1e-9);
        let b = CpuAccount::new(three(5.0, 20.0, 9.5));
        assert_eq!(b.busiest.as_deref(), Some("replica 0"));
        assert_eq!(b.projected_ops_s, Some(50_000.0));
        assert!(
            b.describe().contains("busiest replica 0 (20.0 us)"),
            "{}",
            b.describe()
        );
        assert!(b.describe().contains("50000 ops/s"));
    }

    #[test]
    fn a_process_without_a_figure_is_never_free() {
        let mut ps = three(5.0, 20.0, 9.5);
        ps[1] = ProcessCpu::unavailable("replica 0", Some(11), "exited");
        let a = CpuAccount::new(ps);
        assert_eq!((a.busiest.clone(), a.projected_ops_s), (None, None));
        assert_eq!(a.missing().as_deref(), Some("replica 0 exited"));
        let text = a.describe();
        assert!(text.contains("replica 0 n/a: exited"), "{text}");
        assert!(text.contains("no projection (replica 0 exited)"), "{text}");
        assert!(!text.contains("0.0 us"), "{text}");
    }

    #[test]
    fn unmeasured_and_zero_cost() {
        let a = CpuAccount::unmeasured("remote");
        assert_eq!(a.missing().as_deref(), Some("remote"));
        assert_eq!(a.describe(), "CPU per request: n/a: remote");
        assert_eq!(
            CpuAccount::new(Vec::new()).missing().as_deref(),
            Some("no server processes")
        );
        // Zero CPU has a busiest process but no finite projection.
        let z = CpuAccount::new(three(0.0, 0.0, 0.0));
        assert_eq!(z.busiest_us_per_op, Some(0.0));
        assert_eq!(z.projected_ops_s, None);
        // A NaN figure counts as missing.
        let mut ps = three(1.0, 2.0, 3.0);
        ps[0].us_per_op = Some(f64::NAN);
        assert_eq!(CpuAccount::new(ps).busiest, None);
    }

    #[test]
    fn json_round_trip() {
        let a = CpuAccount::new(three(22.5, 10.0, 9.5));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<CpuAccount>(&json).unwrap(), a);
    }
}
