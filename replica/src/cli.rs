use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Duration;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};
use dataplane::config::ClusterConfig;
use protocols::ProtocolKind;

use crate::listen::{ListenOptions, listen};
use crate::serve::{ServeOptions, serve};

/// A replica of the cluster in --config, number --index, running --mode.
#[derive(Debug, Parser)]
#[command(
    name = "replica",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Cluster config file.
    #[arg(long, value_name = "FILE", required = true)]
    config: Option<PathBuf>,
    /// This replica's number: its position among the [[replica]] entries, from 0.
    #[arg(long, value_name = "I", required = true)]
    index: Option<usize>,
    /// What to run.
    #[arg(long, value_enum, default_value = "nopaxos")]
    mode: Mode,
    /// The process restarted after a crash and lost its memory: recover from the other
    /// replicas before taking part. Required for any replica that was part of the running
    /// cluster; never for a cluster's first start.
    #[arg(long)]
    recover: bool,
    /// In listen mode, print every message, drop and session change.
    #[arg(long)]
    events: bool,
    /// Print a stats line every SECS seconds.
    #[arg(long, value_name = "SECS")]
    stats: Option<f64>,
    /// Spin on the socket instead of sleeping in poll(2) when idle.
    #[arg(long)]
    busy_poll: bool,
    /// VR: the most requests in one batch (the batch size adapts below it with the load).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_batch: Option<u32>,
    /// The replicated application: the key-value store, or `null` (every operation a no-op
    /// with an empty result, to measure the protocol alone, as the original C++ code did).
    #[arg(long, value_enum, default_value_t = AppArg::Kv)]
    app: AppArg,
    /// Drop this fraction (0..1) of received datagrams, to measure behaviour under loss.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = fraction)]
    drop_rate: f64,
    /// Serve on a DPDK port instead of kernel UDP (EAL arguments after `--`); needs a build
    /// with the `dpdk` feature. Busy-polls on the EAL's main lcore (`-l`) unless
    /// --idle-sleep. Peers' MACs come from the config's `mac` fields or ARP.
    #[arg(long)]
    dpdk: bool,
    /// DPDK port to serve on (with --dpdk).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "dpdk")]
    port: u16,
    /// With --dpdk: sleep (at most 100 us) when a poll finds nothing instead of spinning,
    /// for DPDK processes sharing cores (tests on small machines).
    #[arg(long, requires = "dpdk")]
    idle_sleep: bool,
    /// EAL arguments, after `--`: for example
    /// `-- --no-huge -m 256 --no-pci --no-shconf --no-telemetry -l 0 --vdev=net_af_packet0,iface=veth0`.
    #[arg(last = true, value_name = "EAL ARGS")]
    eal_args: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the NOPaxos leader's (or the unreplicated server's) request rate on one core
    /// on DPDK (`bench --dpdk -- <EAL args>`).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Benchmark on DPDK (the only backend measured this way; kernel UDP is measured end to
    /// end by client-gen).
    #[arg(long, required = true)]
    dpdk: bool,
    /// The core to drive: the NOPaxos leader, or the unreplicated server as the baseline.
    #[arg(long, value_enum, default_value_t = BenchMode::Nopaxos)]
    mode: BenchMode,
    /// Port the replies leave through (a net_null vdev measures up to the driver).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// Requests to handle.
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    requests: u64,
    /// Requests queued per (untimed) fill of the input ring, 1..=8191.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    round: usize,
    /// Distinct clients the requests come from.
    #[arg(long, value_name = "N", default_value_t = 64)]
    clients: u64,
    /// Replicas in the NOPaxos group (only the leader runs; the others are absent).
    #[arg(long, value_name = "N", default_value_t = 3)]
    replicas: usize,
    /// Fraction of requests that are gets (the rest are puts).
    #[arg(long, value_name = "F", default_value_t = 0.5, value_parser = fraction)]
    reads: f64,
    /// Bytes per put value.
    #[arg(long, value_name = "BYTES", default_value_t = 32)]
    value_size: usize,
    /// Distinct keys.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    keys: u64,
    /// NOPaxos: the group has a stamp key and every request carries a tag, which the
    /// leader's driver checks and removes (what authenticated stamps add).
    #[arg(long)]
    auth: bool,
    /// NOPaxos: before each request, a forged copy with the same stamp from a MAC that is
    /// not the sequencer's (replying elsewhere): the leader must refuse every one as
    /// `stranger_stamp` and execute only the sequencer's (docs/operations.md, "Who may
    /// stamp").
    #[arg(long)]
    forged: bool,
    /// EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL ARGS")]
    eal_args: Vec<String>,
}

fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a fraction between 0 and 1 (for example 0.01)"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchMode {
    /// The NOPaxos leader, fed requests a sequencer stamped.
    Nopaxos,
    /// The unreplicated server (the baseline), fed plain requests.
    Unreplicated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AppArg {
    /// The key-value store (get, put, append, compare-and-swap).
    Kv,
    /// Every operation is a no-op with an empty result.
    Null,
}

/// What a replica process runs: a protocol of the registry, or `listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serve(ProtocolKind),
    /// Follow the group's ordered stream and report it (no replication protocol).
    Listen,
}

/// Every mode, for clap: the registry's protocols, then `listen`.
static MODES: LazyLock<Vec<Mode>> = LazyLock::new(|| {
    ProtocolKind::ALL
        .into_iter()
        .map(Mode::Serve)
        .chain([Mode::Listen])
        .collect()
});

impl ValueEnum for Mode {
    fn value_variants<'a>() -> &'a [Self] {
        &MODES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Mode::Serve(kind) => PossibleValue::new(kind.name()).help(kind.summary()),
            Mode::Listen => PossibleValue::new("listen")
                .help("Follow the group's ordered stream and report it (no replication protocol)"),
        })
    }
}

#[cfg(not(feature = "dpdk"))]
const NO_DPDK: &str = "this replica was built without DPDK support; rebuild with --features \
                       dpdk (`cargo build --release -p replica --features dpdk`; needs \
                       libdpdk-dev >= 22.11 and libclang-dev)";

#[cfg(feature = "dpdk")]
fn bench(args: BenchArgs) -> Result<(), String> {
    crate::dpdk::bench(&crate::dpdk::BenchOptions {
        mode: match args.mode {
            BenchMode::Nopaxos => crate::dpdk::BenchMode::Nopaxos,
            BenchMode::Unreplicated => crate::dpdk::BenchMode::Unreplicated,
        },
        port: args.port,
        eal_args: args.eal_args,
        requests: args.requests,
        round: args.round,
        clients: args.clients,
        replicas: args.replicas,
        reads: args.reads,
        value_size: args.value_size,
        keys: args.keys,
        auth: args.auth,
        forged: args.forged,
    })
}

#[cfg(not(feature = "dpdk"))]
fn bench(_args: BenchArgs) -> Result<(), String> {
    Err(NO_DPDK.into())
}

fn serve_on(
    config: &ClusterConfig,
    cli: &Cli,
    protocol: ProtocolKind,
    options: ServeOptions,
) -> Result<(), String> {
    let index = cli.index.unwrap_or_default();
    if !cli.dpdk {
        return serve(config, index, protocol, options);
    }
    #[cfg(feature = "dpdk")]
    {
        let dpdk = crate::dpdk::DpdkServeOptions {
            port: cli.port,
            eal_args: cli.eal_args.clone(),
        };
        crate::dpdk::serve_dpdk(config, index, protocol, options, &dpdk)
    }
    #[cfg(not(feature = "dpdk"))]
    {
        let _ = (config, protocol, options);
        Err(NO_DPDK.into())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Bench(args)) = cli.command {
        return match bench(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("replica: {message}");
                ExitCode::FAILURE
            }
        };
    }
    if cli.max_batch.is_some() && !matches!(cli.mode, Mode::Serve(p) if p.batches()) {
        let batching: Vec<_> = ProtocolKind::ALL
            .into_iter()
            .filter(|p| p.batches())
            .map(|p| format!("--mode {p}"))
            .collect();
        eprintln!(
            "replica: --max-batch applies to batching protocols only (drop it, or use {})",
            batching.join(" or ")
        );
        return ExitCode::from(2);
    }
    if cli.app != AppArg::Kv && cli.mode == Mode::Listen {
        eprintln!(
            "replica: --app chooses what a protocol replicates; --mode listen has none (drop --app)"
        );
        return ExitCode::from(2);
    }
    if !cli.eal_args.is_empty() && !cli.dpdk {
        eprintln!("replica: EAL arguments after `--` need --dpdk");
        return ExitCode::from(2);
    }
    if cli.dpdk && cli.mode == Mode::Listen {
        eprintln!("replica: --mode listen runs on kernel UDP only (drop --dpdk)");
        return ExitCode::from(2);
    }
    let (Some(config_path), Some(index)) = (cli.config.as_ref(), cli.index) else {
        eprintln!("replica: --config and --index are required");
        return ExitCode::from(2);
    };
    let result = ClusterConfig::load(config_path)
        .map_err(|e| e.to_string())
        .and_then(|config| {
            let options = ServeOptions {
                recover: cli.recover,
                busy_poll: cli.busy_poll || (cli.dpdk && !cli.idle_sleep),
                stats_interval: cli
                    .stats
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64),
                drop_rate: cli.drop_rate,
                max_batch: cli.max_batch.map(|b| b as usize),
                app: match cli.app {
                    AppArg::Kv => protocols::app::AppKind::Kv,
                    AppArg::Null => protocols::app::AppKind::Null,
                },
            };
            match cli.mode {
                Mode::Listen => {
                    listen(&config, index, ListenOptions { events: cli.events }).map(|_| ())
                }
                Mode::Serve(protocol) => serve_on(&config, &cli, protocol, options),
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("replica: {message}");
            ExitCode::FAILURE
        }
    }
}
