//! CPU time of the server processes over a load's measured window: sampled when the window
//! opens and when it closes, turned into CPU microseconds per completed request
//! ([`crate::report::CpuAccount`]).

pub mod procfs;

use std::str::FromStr;
use std::time::Instant;

use crate::report::{CpuAccount, ProcessCpu};
use procfs::{CpuSample, ReadError, read_cpu};

/// A server process on this machine whose CPU time is accounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProcess {
    pub name: String,
    pub pid: u32,
}

impl FromStr for ServerProcess {
    type Err = String;

    /// `NAME=PID`, for example `sequencer=1234`.
    fn from_str(s: &str) -> Result<Self, String> {
        let fix = "give NAME=PID, for example --server-pid sequencer=1234 (one flag per process)";
        let (name, pid) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("{s:?}: no '=': {fix}"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("{s:?}: the name is empty: {fix}"));
        }
        let pid = pid
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{s:?}: {pid:?} is not a process id: {fix}"))?;
        Ok(ServerProcess {
            name: name.to_string(),
            pid,
        })
    }
}

/// Every process's CPU time at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    samples: Vec<Result<CpuSample, ReadError>>,
}

impl Snapshot {
    pub fn take(servers: &[ServerProcess]) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            samples: servers.iter().map(|s| read_cpu(s.pid)).collect(),
        }
    }
}

/// The account of `servers` between two snapshots, for a window in which `throughput_ops_s`
/// requests per second completed.
///
/// The CPU *rate* between the snapshots is divided by the window's throughput, so the
/// snapshots need not fall exactly on the window's edges (the engine takes them within a few
/// milliseconds of them).
pub fn account(
    servers: &[ServerProcess],
    before: &Snapshot,
    after: &Snapshot,
    throughput_ops_s: f64,
) -> CpuAccount {
    if servers.is_empty() {
        return CpuAccount::unmeasured(
            "remote: no server PIDs (client-gen run --server-pid NAME=PID)",
        );
    }
    let span_s = after.at.saturating_duration_since(before.at).as_secs_f64();
    let processes = servers
        .iter()
        .zip(before.samples.iter().zip(&after.samples))
        .map(|(server, (b, a))| process_cpu(server, b, a, span_s, throughput_ops_s))
        .collect();
    CpuAccount::new(processes)
}

fn process_cpu(
    server: &ServerProcess,
    before: &Result<CpuSample, ReadError>,
    after: &Result<CpuSample, ReadError>,
    span_s: f64,
    throughput: f64,
) -> ProcessCpu {
    let na = |why: &str| ProcessCpu::unavailable(&server.name, Some(server.pid), why);
    let (b, a) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(ReadError::Unreadable(why)), _) | (_, Err(ReadError::Unreadable(why))) => {
            return na(&format!("unreadable: {why}"));
        }
        (Err(ReadError::Exited), _) | (_, Err(ReadError::Exited)) => return na("exited"),
    };
    if a.start_ticks != b.start_ticks {
        return na("exited (its PID now belongs to another process)");
    }
    if a.source != b.source {
        return na("unreadable: CPU time read from two different sources");
    }
    let Some(delta_ns) = a.cpu_ns.checked_sub(b.cpu_ns) else {
        return na("unreadable: CPU time went backwards (a thread exited mid-window)");
    };
    if span_s <= 0.0 {
        return na("unreadable: the window had no length");
    }
    if !throughput.is_finite() || throughput <= 0.0 {
        return na("no requests completed");
    }
    let cpu_s = delta_ns as f64 / 1e9;
    let us_per_op = cpu_s / span_s / throughput * 1e6;
    ProcessCpu::measured(&server.name, server.pid, cpu_s, us_per_op, a.source.name())
}

#[cfg(test)]
mod tests {
    use super::procfs::CpuSource;
    use super::*;
    use std::time::Duration;

    fn sample(ns: u64) -> Result<CpuSample, ReadError> {
        Ok(CpuSample {
            cpu_ns: ns,
            source: CpuSource::Schedstat,
            start_ticks: 5,
        })
    }

    fn servers() -> Vec<ServerProcess> {
        ["sequencer", "replica 0", "replica 1"]
            .iter()
            .zip(1..)
            .map(|(n, pid)| ServerProcess {
                name: n.to_string(),
                pid,
            })
            .collect()
    }

    #[test]
    fn parses_name_equals_pid() {
        let s: ServerProcess = "replica 0=4321".parse().unwrap();
        assert_eq!((s.name.as_str(), s.pid), ("replica 0", 4321));
        for bad in ["sequencer", "=12", "x=0", "x=-1", "x=abc"] {
            let e = bad.parse::<ServerProcess>().unwrap_err();
            assert!(e.contains("NAME=PID"), "{bad}: {e}");
        }
    }

    #[test]
    fn cpu_rate_over_throughput() {
        let t0 = Instant::now();
        let before = Snapshot {
            at: t0,
            samples: vec![sample(0), sample(1_000_000_000), sample(0)],
        };
        let after = Snapshot {
            at: t0 + Duration::from_secs(2),
            // 1 s, 0.5 s and 0.2 s of CPU over 2 s, at 10k ops/s.
            samples: vec![
                sample(1_000_000_000),
                sample(1_500_000_000),
                sample(200_000_000),
            ],
        };
        let a = account(&servers(), &before, &after, 10_000.0);
        let us: Vec<f64> = a.processes.iter().map(|p| p.us_per_op.unwrap()).collect();
        for (got, want) in us.iter().zip([50.0, 25.0, 10.0]) {
            assert!((got - want).abs() < 1e-9, "{us:?}");
        }
        assert_eq!(a.busiest.as_deref(), Some("sequencer"));
        assert!((a.projected_ops_s.unwrap() - 20_000.0).abs() < 1e-6);
        assert_eq!(a.processes[0].cpu_s, Some(1.0));
    }

    #[test]
    fn missing_figures_say_why() {
        let t0 = Instant::now();
        let before = Snapshot {
            at: t0,
            samples: vec![
                sample(0),
                sample(0),
                Err(ReadError::Unreadable("permission denied".into())),
            ],
        };
        let after = Snapshot {
            at: t0 + Duration::from_secs(1),
            samples: vec![sample(10), Err(ReadError::Exited), sample(5)],
        };
        let a = account(&servers(), &before, &after, 100.0);
        let na: Vec<Option<&str>> = a.processes.iter().map(|p| p.na.as_deref()).collect();
        assert_eq!(
            na,
            [None, Some("exited"), Some("unreadable: permission denied")]
        );
        assert_eq!(a.projected_ops_s, None);

        let reused = Ok(CpuSample {
            start_ticks: 6,
            ..sample(10).unwrap()
        });
        let after = Snapshot {
            at: t0 + Duration::from_secs(1),
            samples: vec![reused, sample(0), sample(0)],
        };
        let before = Snapshot {
            at: t0,
            samples: vec![sample(0), sample(5), sample(0)],
        };
        let a = account(&servers(), &before, &after, 0.0);
        assert!(
            a.processes[0]
                .na
                .as_deref()
                .unwrap()
                .contains("another process")
        );
        assert!(a.processes[1].na.as_deref().unwrap().contains("backwards"));
        assert_eq!(a.processes[2].na.as_deref(), Some("no requests completed"));

        let remote = account(&[], &before, &after, 100.0);
        assert!(remote.unmeasured.as_deref().unwrap().starts_with("remote"));
    }
}
