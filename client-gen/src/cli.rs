use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dataplane::config::ClusterConfig;

use crate::engine::{LoadMode, LoadSpec, ProtocolKind, run_load};
use crate::local::ReplicaFlags;
use crate::local::{LocalOptions, run_local};
use crate::oum_demo::{self, DemoOptions};
use crate::workload::{Arrivals, KeyDistribution, WorkloadSpec, WriteMix};
use protocols::app::AppKind;

/// Load generation and local clusters for nopaxos-rs.
#[derive(Debug, Parser)]
#[command(name = "client-gen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a sequencer and replicas on loopback, run every protocol in turn under the same
    /// load, print a side-by-side table and write reports (the main job).
    Local(LocalArgs),
    /// Run a load against a running cluster described by --config.
    Run(RunArgs),
    /// Sweep load levels (client counts or offered rates) per protocol and draw the
    /// latency-throughput curves (PNG and SVG).
    Sweep(SweepArgs),
    /// Draw the curves of a saved sweep (its sweep.json) again.
    Plot(PlotArgs),
    /// Start a sequencer and a replica group (listen mode) on loopback, send requests through
    /// the sequencer, restart it midway, and compare the replicas' ordered streams.
    OumDemo(DemoArgs),
}

fn secs(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..1e7).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "{text:?} is not a number of seconds (for example 2.5)"
        )),
    }
}

fn app_kind(text: &str) -> Result<AppKind, String> {
    match text {
        "kv" => Ok(AppKind::Kv),
        "null" => Ok(AppKind::Null),
        _ => Err(format!("{text:?} is not an app: choose kv or null")),
    }
}

/// `--check` needs results to check; the null app returns none.
fn refuse_check_with_null_app(check: bool, app: AppKind) -> Result<(), String> {
    if check && app == AppKind::Null {
        return Err(
            "--check with --app null: the null app returns an empty result for every \
                    operation, so there is nothing to check for linearizability; drop --check \
                    or use --app kv"
                .into(),
        );
    }
    Ok(())
}

fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a fraction between 0 and 1 (for example 0.01)"
        )),
    }
}

/// The load every subcommand runs.
#[derive(Debug, Args, Clone)]
struct LoadArgs {
    /// Closed loop: concurrent clients. Open loop (--rate): the pool of clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Open loop: requests at this rate, "fixed:N" or "poisson:N" per second; latency is
    /// measured from each request's intended send time. Closed loop without it.
    #[arg(long, value_name = "SPEC")]
    rate: Option<Arrivals>,
    /// Closed loop: microseconds a client waits after an answer before its next request.
    #[arg(long, value_name = "US", default_value_t = 0)]
    think_us: u64,
    /// Seconds of load, warm-up and cool-down included.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = secs)]
    duration: Duration,
    /// Stop after this many requests instead (the run still ends at --duration).
    #[arg(long, value_name = "N")]
    ops: Option<u64>,
    /// Seconds at the start left out of the figures.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = secs)]
    warmup: Duration,
    /// Seconds at the end left out of the figures.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = secs)]
    cooldown: Duration,
    /// Distinct keys.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// Key popularity: "uniform" or "zipfian[:EXPONENT]" (default exponent 0.99).
    #[arg(long, value_name = "DIST", default_value = "uniform")]
    distribution: KeyDistribution,
    /// Fraction of requests that are reads (gets).
    #[arg(long, value_name = "F", default_value = "0.5", value_parser = fraction)]
    reads: f64,
    /// How writes split: "put", or for example "put:0.5,append:0.3,cas:0.2".
    #[arg(long, value_name = "MIX", default_value = "put")]
    writes: WriteMix,
    /// Bytes per written value.
    #[arg(long, value_name = "BYTES", default_value_t = 32)]
    value_size: usize,
    /// What the replicas execute: `kv` (the key-value store) or `null` (empty operations,
    /// no-ops with empty results: the protocol's cost alone, as the original C++ code
    /// measured). `local` and `sweep` start the replicas with it; with `run` it must match
    /// the running cluster's `replica --app`.
    #[arg(long, value_name = "APP", default_value = "kv", value_parser = app_kind)]
    app: AppKind,
    /// Seed of the workload (keys, values, arrivals).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Milliseconds per point of the throughput-over-time series.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    interval_ms: u64,
    /// Spin instead of sleeping when idle.
    #[arg(long)]
    busy_poll: bool,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

impl LoadArgs {
    fn spec(
        &self,
        protocol: ProtocolKind,
        config: ClusterConfig,
        record_history: bool,
    ) -> LoadSpec {
        LoadSpec {
            protocol,
            config,
            clients: self.clients,
            mode: match &self.rate {
                Some(arrivals) => LoadMode::Open {
                    arrivals: arrivals.clone(),
                },
                None => LoadMode::Closed {
                    think: Duration::from_micros(self.think_us),
                },
            },
            duration: self.duration,
            max_ops: self.ops,
            warmup: self.warmup,
            cooldown: self.cooldown,
            workload: WorkloadSpec {
                keys: self.keys,
                distribution: self.distribution.clone(),
                read_fraction: self.reads,
                write_mix: self.writes.clone(),
                value_size: self.value_size,
                seed: self.seed,
                app: self.app,
            },
            interval: Duration::from_millis(self.interval_ms.max(1)),
            bind: SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
            record_history,
            progress: !self.quiet,
            busy_poll: self.busy_poll,
            servers: Vec::new(),
        }
    }
}

#[derive(Debug, Args)]
struct LocalArgs {
    /// Protocols to run, in order (default: every protocol the replica supports).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_values_t = ProtocolKind::ALL
    )]
    protocols: Vec<ProtocolKind>,
    /// Replicas of the replicated protocols.
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    #[command(flatten)]
    load: LoadArgs,
    /// Folder for reports (a new subfolder per invocation).
    #[arg(long, value_name = "DIR", default_value = "results")]
    results: PathBuf,
    /// Replicas drop this fraction of the datagrams they receive.
    #[arg(long, value_name = "P", default_value = "0", value_parser = fraction)]
    drop_rate: f64,
    /// VR replicas batch at most N requests (`replica --max-batch`); the original C++
    /// implementation's VR benchmarks used 64.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_batch: Option<u32>,
    /// Kill the initial leader (replica 0) with SIGKILL this many seconds into the load.
    #[arg(long, value_name = "SECS", value_parser = secs)]
    kill_leader_after: Option<Duration>,
    /// Record every operation and check the histories for linearizability.
    #[arg(long)]
    check: bool,
    /// Folder holding the `sequencer` and `replica` binaries (default: this program's).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Keep the working folder (configs, session state).
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Cluster config file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Protocol the cluster runs.
    #[arg(long, value_enum, default_value = "nopaxos")]
    protocol: ProtocolKind,
    #[command(flatten)]
    load: LoadArgs,
    /// Write the JSON summary here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the latency percentile distribution (HdrHistogram .hgrm) here.
    #[arg(long, value_name = "FILE")]
    hgrm: Option<PathBuf>,
    /// Write every operation's invoke and return here (JSON lines).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Check the history for linearizability (implies recording it).
    #[arg(long)]
    check: bool,
    /// A server process on this machine to account CPU per request for, as NAME=PID (for
    /// example `sequencer=1234`); repeat for the sequencer and every replica. Without it
    /// the CPU figures read "n/a: remote".
    #[arg(long = "server-pid", value_name = "NAME=PID")]
    server_pids: Vec<crate::cpu::ServerProcess>,
    /// The clients' own address (replies come to it): on kernel UDP the socket binds it
    /// (default 127.0.0.1, any port); with --dpdk it is required in full.
    #[arg(long, value_name = "IP:PORT")]
    bind: Option<SocketAddrV4>,
    /// Drive the clients over a DPDK port instead of a kernel socket (EAL arguments after
    /// `--`); needs a build with the `dpdk` feature.
    #[arg(long, requires = "bind")]
    dpdk: bool,
    /// DPDK port to use (with --dpdk).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "dpdk")]
    port: u16,
    /// EAL arguments, after `--`: for example
    /// `-- --no-huge -m 256 --no-pci --no-shconf --no-telemetry -l 1 --vdev=net_af_packet0,iface=veth0`.
    #[arg(last = true, value_name = "EAL ARGS")]
    eal_args: Vec<String>,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// Protocols to sweep.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_values_t = ProtocolKind::ALL
    )]
    protocols: Vec<ProtocolKind>,
    /// Replicas of the replicated protocols.
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Closed-loop client counts to run, e.g. 1,2,4,8,16.
    #[arg(
        long = "levels",
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32"
    )]
    client_levels: Vec<usize>,
    /// Open-loop offered rates (Poisson, requests per second) to run instead of client counts.
    #[arg(long = "rates", value_delimiter = ',')]
    rate_levels: Option<Vec<f64>>,
    #[command(flatten)]
    load: LoadArgs,
    /// Folder for the sweep's files (a new subfolder per invocation).
    #[arg(long, value_name = "DIR", default_value = "results")]
    results: PathBuf,
    /// VR replicas batch at most N requests (`replica --max-batch`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_batch: Option<u32>,
    /// Folder holding the `sequencer` and `replica` binaries (default: this program's).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// A sweep.json written by `client-gen sweep`.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Output path without extension: writes OUT.png and OUT.svg.
    #[arg(long = "out", value_name = "STEM")]
    output: PathBuf,
    /// Title of the figure.
    #[arg(long, default_value = "latency vs throughput")]
    title: String,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Replicas in the group.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    replicas: u16,
    /// Requests per session.
    #[arg(long, default_value_t = 5000)]
    requests: u64,
    /// Requests per second.
    #[arg(long, default_value_t = 20000, value_parser = clap::value_parser!(u64).range(1..))]
    rate: u64,
    /// Sequencer lifetimes; each restart must take a new session.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    sessions: u32,
    /// Folder holding the `sequencer` and `replica` binaries (default: this program's).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Keep the working folder (config, session state).
    #[arg(long)]
    keep: bool,
}

fn default_bin_dir(given: Option<PathBuf>) -> Result<PathBuf, String> {
    given
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(PathBuf::from))
        })
        .ok_or_else(|| "cannot tell where the binaries are; pass --bin-dir".to_string())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("client-gen: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Local(args) => local(args, &stop),
        Command::Run(args) => run(args, &stop),
        Command::Sweep(args) => sweep(args, &stop),
        Command::Plot(args) => plot(args),
        Command::OumDemo(args) => demo(args, &stop),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("client-gen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn local(args: LocalArgs, stop: &AtomicBool) -> Result<String, String> {
    if args.replicas == 0 || args.replicas % 2 == 0 {
        return Err(format!(
            "--replicas {}: NOPaxos needs an odd number of replicas, 2f+1 (for example 3)",
            args.replicas
        ));
    }
    if args.protocols.is_empty() {
        return Err("--protocols is empty: name at least one (nopaxos, unreplicated)".into());
    }
    refuse_check_with_null_app(args.check, args.load.app)?;
    let config = ClusterConfig::local(args.replicas, 0, std::net::Ipv4Addr::new(127, 0, 0, 10));
    let options = LocalOptions {
        protocols: args.protocols,
        replicas: args.replicas,
        load: args.load.spec(ProtocolKind::Nopaxos, config, args.check),
        bin_dir: default_bin_dir(args.bin_dir)?,
        results: args.results,
        flags: ReplicaFlags {
            drop_rate: args.drop_rate,
            app: args.load.app,
            max_batch: args.max_batch,
        },
        kill_leader_after: args.kill_leader_after,
        check: args.check,
        keep: args.keep,
    };
    run_local(&options, stop)
}

#[cfg(feature = "dpdk")]
fn run_dpdk(
    spec: &LoadSpec,
    args: &RunArgs,
    stop: &AtomicBool,
) -> Result<(crate::engine::LoadOutcome, String), String> {
    let me = args.bind.unwrap_or(spec.bind);
    crate::dpdk::run_load_dpdk(spec, me, args.port, &args.eal_args, stop)
}

#[cfg(not(feature = "dpdk"))]
fn run_dpdk(
    _spec: &LoadSpec,
    _args: &RunArgs,
    _stop: &AtomicBool,
) -> Result<(crate::engine::LoadOutcome, String), String> {
    Err(
        "this client-gen was built without DPDK support; rebuild with --features dpdk \
         (`cargo build --release -p client-gen --features dpdk`; needs libdpdk-dev >= 22.11 \
         and libclang-dev)"
            .into(),
    )
}

fn run(args: RunArgs, stop: &AtomicBool) -> Result<String, String> {
    if !args.eal_args.is_empty() && !args.dpdk {
        return Err("EAL arguments after `--` need --dpdk".into());
    }
    refuse_check_with_null_app(args.check, args.load.app)?;
    let config = ClusterConfig::load(&args.config).map_err(|e| e.to_string())?;
    let record = args.history.is_some() || args.check;
    let mut spec = args.load.spec(args.protocol, config, record);
    for (i, server) in args.server_pids.iter().enumerate() {
        if args.server_pids[..i].iter().any(|s| s.name == server.name) {
            return Err(format!(
                "--server-pid {}={}: the name {:?} is given twice; name each process once \
                 (for example replica0=PID, replica1=PID)",
                server.name, server.pid, server.name
            ));
        }
    }
    spec.servers = args.server_pids.clone();
    if let Some(bind) = args.bind {
        spec.bind = bind;
    }
    let (outcome, device) = if args.dpdk {
        let (outcome, line) = run_dpdk(&spec, &args, stop)?;
        (outcome, Some(line))
    } else {
        (run_load(&spec, stop)?, None)
    };
    let mut report = String::new();
    if let Some(line) = device {
        report.push_str(&format!("DPDK:{line}\n"));
    }
    if let Some(path) = &args.json {
        std::fs::write(path, outcome.summary.to_json_pretty())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.hgrm {
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        crate::report::write_hgrm(outcome.latency.histogram(), std::io::BufWriter::new(file))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.history {
        crate::output::write_history(path, &outcome)?;
    }
    report.push_str(&crate::output::describe(args.protocol.name(), &outcome));
    report.push_str(&crate::report::format_table(
        std::slice::from_ref(&outcome.summary),
        None,
    ));
    if args.check {
        let verdict = crate::output::check_history(&outcome);
        report.push_str(&format!(
            "history of {} operations: {verdict}\n",
            outcome.history.len()
        ));
        if !verdict.starts_with("linearizable") {
            return Err(format!("the history is not linearizable: {verdict}"));
        }
    }
    Ok(report)
}

fn sweep(args: SweepArgs, stop: &AtomicBool) -> Result<String, String> {
    if args.replicas == 0 || args.replicas % 2 == 0 {
        return Err(format!(
            "--replicas {}: NOPaxos needs an odd number of replicas, 2f+1 (for example 3)",
            args.replicas
        ));
    }
    let levels = match args.rate_levels {
        Some(rates) if rates.iter().all(|r| r.is_finite() && *r > 0.0) && !rates.is_empty() => {
            crate::sweep::Levels::Rates(rates)
        }
        Some(_) => {
            return Err("--rates: give positive request rates, e.g. 5000,10000,20000".into());
        }
        None if args.client_levels.iter().all(|n| *n > 0) && !args.client_levels.is_empty() => {
            crate::sweep::Levels::Clients(args.client_levels)
        }
        None => return Err("--levels: give positive client counts, e.g. 1,2,4,8".into()),
    };
    let config = ClusterConfig::local(args.replicas, 0, std::net::Ipv4Addr::new(127, 0, 0, 10));
    let options = crate::sweep::SweepOptions {
        protocols: args.protocols,
        replicas: args.replicas,
        load: args.load.spec(ProtocolKind::Nopaxos, config, false),
        levels,
        flags: ReplicaFlags {
            drop_rate: 0.0,
            app: args.load.app,
            max_batch: args.max_batch,
        },
        bin_dir: default_bin_dir(args.bin_dir)?,
        results: args.results,
    };
    crate::sweep::run_sweep(&options, stop)
}

fn plot(args: PlotArgs) -> Result<String, String> {
    let points = crate::plot::read_sweep(&args.input)?;
    let (png, svg) = crate::plot::plot(&points, &args.output, &args.title)?;
    Ok(format!("{}\n{}\n", png.display(), svg.display()))
}

fn demo(args: DemoArgs, stop: &AtomicBool) -> Result<String, String> {
    let options = DemoOptions {
        replicas: usize::from(args.replicas),
        requests: args.requests,
        rate: args.rate,
        sessions: args.sessions,
        bin_dir: default_bin_dir(args.bin_dir)?,
        keep: args.keep,
    };
    let report = oum_demo::run(&options, stop)?;
    if oum_demo::consistent(&report) {
        Ok(report)
    } else {
        Err(format!("{report}\nthe replicas' streams disagree"))
    }
}
