//! `client-gen local`: a whole cluster on loopback as child processes (a sequencer and the
//! replicas), each chosen protocol in turn under the same workload, a side-by-side table,
//! reports in a results folder, and every child stopped, also on Ctrl-C or when one dies.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use protocols::app::AppKind;

use crate::children::ChildProc;
use crate::engine::{LoadOutcome, LoadSpec, ProtocolKind, run_load};

/// What `client-gen local` runs.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub protocols: Vec<ProtocolKind>,
    pub replicas: usize,
    /// The load: its protocol and config are filled in per run.
    pub load: LoadSpec,
    pub bin_dir: PathBuf,
    /// Where reports go (a new folder per invocation inside it).
    pub results: PathBuf,
    /// How the replicas are started.
    pub flags: ReplicaFlags,
    /// SIGKILL the initial leader this long after the load starts.
    pub kill_leader_after: Option<Duration>,
    pub check: bool,
    pub keep: bool,
}

/// Replica flags every protocol's replicas are started with.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaFlags {
    /// Replicas drop this fraction of received datagrams.
    pub drop_rate: f64,
    /// The replicated application (`replica --app`).
    pub app: AppKind,
    /// VR's largest batch (`replica --max-batch`; passed to VR replicas only, the one
    /// protocol that batches).
    pub max_batch: Option<u32>,
}

const STARTUP: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);

/// Distinct free UDP ports on loopback (each socket is held until all are chosen).
pub(crate) fn free_ports(count: usize) -> Result<Vec<u16>, String> {
    let sockets: Vec<UdpSocket> = (0..count)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find a free UDP port on loopback: {e}"))?;
    sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

/// A cluster config for `n` replicas on loopback at free ports.
pub fn loopback_config(n: usize, work: &Path) -> Result<ClusterConfig, String> {
    let ports = free_ports(n + 1)?;
    let mut config = ClusterConfig::local(n, 0, Ipv4Addr::new(127, 0, 0, 10));
    for (r, p) in config.replicas.iter_mut().zip(&ports) {
        r.address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, *p);
    }
    config.oum.port = ports[n];
    // One send per request from the sequencer, copied by the kernel to each replica (one
    // unicast copy per member costs the sequencer a send each: docs/benchmarks.md).
    config.groups[0].multicast = Some(Ipv4Addr::new(239, 255, 0, 10));
    config.sequencer.state_file = Some(work.join("sequencer-session"));
    Ok(config)
}

/// The children of one protocol's cluster.
pub struct Cluster {
    pub sequencer: Option<ChildProc>,
    pub replicas: Vec<ChildProc>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("replicas", &self.replicas.len())
            .finish()
    }
}

impl Cluster {
    /// Starts the sequencer (if the protocol uses one) and the replicas, and waits until
    /// each says it is serving.
    pub fn start(
        protocol: ProtocolKind,
        config: &ClusterConfig,
        config_path: &Path,
        bin_dir: &Path,
        flags: &ReplicaFlags,
    ) -> Result<Cluster, String> {
        for bin in ["sequencer", "replica"] {
            if !bin_dir.join(bin).is_file() {
                return Err(format!(
                    "{} not found: build every binary first with `cargo build --release`",
                    bin_dir.join(bin).display()
                ));
            }
        }
        let mut replicas = Vec::new();
        for i in 0..protocol.replicas(config) {
            let mut cmd = Command::new(bin_dir.join("replica"));
            cmd.arg("--config")
                .arg(config_path)
                .args(["--index", &i.to_string(), "--mode", protocol.name()])
                .args(["--drop-rate", &flags.drop_rate.to_string()]);
            if flags.app == AppKind::Null {
                cmd.args(["--app", "null"]);
            }
            if let (Some(batch), true) = (flags.max_batch, protocol.batches()) {
                cmd.args(["--max-batch", &batch.to_string()]);
            }
            let mut child = ChildProc::spawn(&format!("replica {i}"), cmd)?;
            child.wait_for_line(|l| l.contains("serving"), STARTUP)?;
            replicas.push(child);
        }
        let sequencer = if protocol.uses_sequencer() {
            let mut cmd = Command::new(bin_dir.join("sequencer"));
            cmd.arg("--config")
                .arg(config_path)
                .args(["--session", "1"]);
            let mut child = ChildProc::spawn("sequencer", cmd)?;
            child.wait_for_line(|l| l.starts_with("sequencer: session"), STARTUP)?;
            Some(child)
        } else {
            None
        };
        Ok(Cluster {
            sequencer,
            replicas,
        })
    }

    /// The server processes, sequencer first, for CPU accounting.
    pub fn servers(&self) -> Vec<crate::cpu::ServerProcess> {
        self.sequencer
            .iter()
            .chain(&self.replicas)
            .map(|c| crate::cpu::ServerProcess {
                name: c.name().to_string(),
                pid: c.pid(),
            })
            .collect()
    }

    /// The first child that died, and why.
    pub fn death(&mut self, except: Option<usize>) -> Option<String> {
        let replicas = self
            .replicas
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| Some(*i) != except)
            .find_map(|(_, c)| c.death());
        replicas.or_else(|| self.sequencer.as_mut().and_then(ChildProc::death))
    }

    /// Stops every child (SIGINT, then SIGKILL); returns their last lines.
    pub fn stop(self) -> Vec<String> {
        let mut lines = Vec::new();
        for child in self.replicas.into_iter().chain(self.sequencer) {
            let name = child.name().to_string();
            let (out, result) = child.stop(GRACE);
            lines.extend(out.into_iter().map(|l| format!("{name}: {l}")));
            if let Err(e) = result {
                lines.push(format!("{name}: {e}"));
            }
        }
        lines
    }
}

/// Runs every protocol in turn; returns the printed report.
pub fn run_local(options: &LocalOptions, stop: &AtomicBool) -> Result<String, String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let results = options.results.join(format!("local-{stamp}"));
    std::fs::create_dir_all(&results)
        .map_err(|e| format!("cannot create results folder {}: {e}", results.display()))?;
    let work = std::env::temp_dir().join(format!("nopaxos-local-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let outcome = run_all(options, &work, &results, stop);
    if !options.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    outcome
}

fn run_all(
    options: &LocalOptions,
    work: &Path,
    results: &Path,
    stop: &AtomicBool,
) -> Result<String, String> {
    let mut summaries = Vec::new();
    let mut report = String::new();
    for &protocol in &options.protocols {
        let outcome = run_one(options, protocol, work, stop)?;
        crate::output::write_reports(
            results,
            protocol.name(),
            &outcome,
            options.check,
            &mut report,
        )?;
        summaries.push(outcome.summary);
    }
    report.push('\n');
    report.push_str(&crate::report::format_table(
        &summaries,
        Some("unreplicated"),
    ));
    report.push_str(&format!("\nreports in {}\n", results.display()));
    Ok(report)
}

fn run_one(
    options: &LocalOptions,
    protocol: ProtocolKind,
    work: &Path,
    stop: &AtomicBool,
) -> Result<LoadOutcome, String> {
    let config = {
        let mut c = loopback_config(options.replicas, work)?;
        c.timeouts = options.load.config.timeouts.clone();
        c
    };
    let config_path = work.join(format!("{}.toml", protocol.name()));
    std::fs::write(&config_path, config.to_toml())
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    let _ = std::fs::remove_file(work.join("sequencer-session"));
    let mut cluster = Cluster::start(
        protocol,
        &config,
        &config_path,
        &options.bin_dir,
        &options.flags,
    )?;
    let mut spec = options.load.clone();
    spec.protocol = protocol;
    spec.config = config;
    spec.servers = cluster.servers();
    let killer = options.kill_leader_after.and_then(|after| {
        let pid = cluster.replicas.first()?.pid();
        Some(std::thread::spawn(move || {
            std::thread::sleep(after);
            // SAFETY: kill(2) on the PID of a child we started; it is reaped only when the
            // cluster is stopped, after this thread has been joined.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }))
    });
    let killed = killer.as_ref().map(|_| 0usize);
    let outcome = run_load(&spec, stop);
    if let Some(k) = killer {
        let _ = k.join();
    }
    let death = cluster.death(killed);
    let lines = cluster.stop();
    let mut outcome = outcome?;
    if let Some(death) = death {
        return Err(format!("{protocol}: {death}"));
    }
    if let Some(after) = options.kill_leader_after {
        outcome.summary.notes.push(format!(
            "initial leader (replica 0) killed with SIGKILL at {:.1} s",
            after.as_secs_f64()
        ));
    }
    if options.flags.drop_rate > 0.0 {
        outcome.summary.drops_injected = Some(options.flags.drop_rate);
    }
    if let (Some(batch), true) = (options.flags.max_batch, protocol.batches()) {
        outcome.summary.notes.push(format!(
            "{protocol} replicas batched at most {batch} requests (--max-batch)"
        ));
    }
    outcome
        .summary
        .notes
        .extend(lines.into_iter().filter(|l| l.contains("stats ")));
    Ok(outcome)
}
