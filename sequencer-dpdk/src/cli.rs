use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dataplane::config::{ClusterConfig, SequencerKind};
use dataplane::oum::SessionNumber;

use crate::replay::{ReplayOptions, replay};
use crate::session_state::SessionState;
use crate::session_survey::ask_replicas;
use crate::udp_loop::{RunOptions, run};

/// OUM end-host sequencer: stamps client requests with (session, message number) for their
/// group and multicasts them to the group's replicas.
#[derive(Debug, Parser)]
#[command(name = "sequencer", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve on kernel UDP (what `sequencer --config FILE` does).
    Run(RunArgs),
    /// Sequence every frame of a pcap capture offline and write the stamped frames out.
    Replay(ReplayArgs),
    /// Ask the replicas for the newest session they have seen and print the next safe one
    /// (for a switch failover, whose sequencer keeps no state file).
    Sessions(SessionsArgs),
    /// Measure the DPDK data path on one core, and plain forwarding on the same ports as
    /// its baseline (`bench --dpdk -- <EAL args>`).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Cluster config file (groups, replicas, OUM port, state file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Session number to start with; needed on the very first start, and it must be newer
    /// than the last one recorded and than any the replicas have seen. Otherwise the next
    /// session after the newest of those is used.
    #[arg(long, value_name = "N")]
    session: Option<u16>,
    /// Where the last session is recorded (overrides [sequencer] state_file).
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// Before stamping, ask every replica for the newest session it has seen and wait this
    /// long at most for the answers (less once all answered); the session chosen must be
    /// newer than any of them. 0 skips the question (the state file and --session alone).
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    session_query_ms: u64,
    /// Print a line of counters every --stats-interval seconds.
    #[arg(long)]
    stats: bool,
    /// Seconds between --stats lines.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = positive_secs)]
    stats_interval: f64,
    /// Spin on the sockets instead of sleeping in poll(2) when idle: lowest latency, one
    /// whole core.
    #[arg(long)]
    busy_poll: bool,
    /// Serve on a DPDK port instead of kernel UDP (EAL arguments after `--`); needs a
    /// build with the `dpdk` feature and every member's `mac` in the config.
    #[arg(long)]
    dpdk: bool,
    /// DPDK port to serve on (with --dpdk).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "dpdk")]
    port: u16,
    /// Frames per receive burst (with --dpdk, 1..=64).
    #[arg(long, value_name = "N", default_value_t = 32, requires = "dpdk")]
    burst: usize,
    /// Frames up to this many bytes are copied for each extra group member; longer ones
    /// get a header mbuf chained to a clone of the payload (with --dpdk).
    #[arg(long, value_name = "BYTES", default_value_t = 512, requires = "dpdk")]
    copy_threshold: usize,
    /// EAL arguments, after `--`: for example
    /// `-- --no-huge -m 256 --no-pci --no-shconf --no-telemetry -l 0 --vdev=net_ring0`.
    #[arg(last = true, value_name = "EAL ARGS")]
    eal_args: Vec<String>,
}

#[derive(Debug, Args)]
struct SessionsArgs {
    /// Cluster config file (replicas, state file).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Also consider this state file (overrides [sequencer] state_file).
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// How long to wait for the answers at most.
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    session_query_ms: u64,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Benchmark the DPDK path (the only one so far; kernel UDP is measured end to end by
    /// client-gen).
    #[arg(long, required = true)]
    dpdk: bool,
    /// Transmit port (a net_null vdev measures the path up to the driver).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// Members per group: copies per request.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    members: u16,
    /// Ethernet frame length of the requests.
    #[arg(long, value_name = "BYTES", default_value_t = 64, value_parser = clap::value_parser!(u16).range(58..=1514))]
    frame_len: u16,
    /// Requests per burst size, for each of the two measurements (plain forwarding and
    /// the stamped path); they alternate, --round requests at a time, and the medians of
    /// those rounds are compared.
    #[arg(long, value_name = "N", default_value_t = 20_000_000)]
    packets: u64,
    /// Burst sizes to measure.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', default_values_t = [4usize, 8, 16, 32, 64])]
    bursts: Vec<usize>,
    /// See `sequencer --help`.
    #[arg(long, value_name = "BYTES", default_value_t = 512)]
    copy_threshold: usize,
    /// Requests queued per (untimed) fill of the input ring, 1..=8191: the mbufs in
    /// flight, as a NIC's receive ring size sets them.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    round: usize,
    /// Give the group a stamp key, so every stamp carries a tag (authenticated stamps):
    /// what sealing adds to the stamped path.
    #[arg(long)]
    auth: bool,
    /// EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL ARGS")]
    eal_args: Vec<String>,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// Cluster config file (groups and OUM port).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Capture to read (classic pcap, Ethernet).
    #[arg(long = "in", value_name = "PCAP")]
    input: PathBuf,
    /// Capture to write: the stamped frames, with their original timestamps.
    #[arg(long = "out", value_name = "PCAP")]
    output: PathBuf,
    /// Session number to stamp with.
    #[arg(long, value_name = "N", default_value_t = 1)]
    session: u16,
}

fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e6 => Ok(v),
        _ => Err(format!(
            "{text:?} is not a positive number of seconds (for example 0.5)"
        )),
    }
}

fn load_config(path: &std::path::Path) -> Result<ClusterConfig, String> {
    ClusterConfig::load(path).map_err(|e| e.to_string())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Replay(args)) => run_replay(args),
        Some(Command::Bench(args)) => run_bench(args),
        Some(Command::Sessions(args)) => run_sessions(args),
        Some(Command::Run(args)) => run_serve(args),
        None => run_serve(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sequencer: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_serve(args: RunArgs) -> Result<(), String> {
    if args.dpdk {
        run_dpdk(args)
    } else if !args.eal_args.is_empty() {
        Err("EAL arguments after `--` need --dpdk".into())
    } else {
        run_udp(args)
    }
}

#[cfg(not(feature = "dpdk"))]
const NO_DPDK: &str = "this sequencer was built without DPDK support; rebuild with \
                       `cargo build --release -p sequencer-dpdk --features dpdk` (needs \
                       libdpdk-dev >= 22.11 and libclang-dev)";

#[cfg(not(feature = "dpdk"))]
fn run_dpdk(_args: RunArgs) -> Result<(), String> {
    Err(NO_DPDK.into())
}

#[cfg(not(feature = "dpdk"))]
fn run_bench(_args: BenchArgs) -> Result<(), String> {
    Err(NO_DPDK.into())
}

#[cfg(feature = "dpdk")]
fn run_dpdk(args: RunArgs) -> Result<(), String> {
    let path = args
        .config
        .ok_or("missing --config FILE (the cluster config; deploy/cluster.toml is an example)")?;
    let config = load_config(&path)?;
    let state_file = args
        .state_file
        .or_else(|| config.sequencer.state_file.clone());
    let state = SessionState::new(state_file);
    // Chosen (not yet recorded) before DPDK starts, so a refused session costs no EAL start;
    // the DPDK loop records it once the port is up.
    let session = choose_session(&config, &state, args.session, args.session_query_ms)?;
    warn_if_kind_differs(&config, SequencerKind::Dpdk);
    crate::dpdk_loop::run(
        &config,
        state,
        Some(session.0),
        &crate::dpdk_loop::DpdkOptions {
            port: args.port,
            eal_args: args.eal_args,
            stats_interval: args
                .stats
                .then(|| Duration::from_secs_f64(args.stats_interval)),
            burst: args.burst,
            copy_threshold: args.copy_threshold,
            ..Default::default()
        },
    )
}

#[cfg(feature = "dpdk")]
fn run_bench(args: BenchArgs) -> Result<(), String> {
    debug_assert!(args.dpdk);
    crate::dpdk_bench::run(&crate::dpdk_bench::BenchOptions {
        port: args.port,
        eal_args: args.eal_args,
        members: args.members,
        frame_len: usize::from(args.frame_len),
        packets: args.packets,
        bursts: args.bursts,
        copy_threshold: args.copy_threshold,
        round: args.round,
        auth: args.auth,
    })
}

/// The replicas decide from `[sequencer] kind` whether a stamp's source address must be a
/// group socket (docs/operations.md, "Who may stamp"); a sequencer of another kind than the
/// config says is either dropped wholesale (`stranger_stamp`) or unchecked, so say so.
fn warn_if_kind_differs(config: &ClusterConfig, running: SequencerKind) {
    let configured = config.sequencer.kind;
    if configured == running {
        return;
    }
    let consequence = if configured.stamps_from_group_socket() {
        "replicas will drop every stamp as stranger_stamp, since this sequencer keeps the \
         client's source address"
    } else {
        "replicas will not check that stamps come from the group socket"
    };
    let name = |k: SequencerKind| match k {
        SequencerKind::Udp => "udp",
        SequencerKind::Dpdk => "dpdk",
        SequencerKind::Switch => "switch",
    };
    eprintln!(
        "sequencer: WARN the config says [sequencer] kind = \"{}\" but this is a {} \
         sequencer: {consequence}. Set kind = \"{}\".",
        name(configured),
        name(running),
        name(running)
    );
}

fn run_udp(args: RunArgs) -> Result<(), String> {
    let path = args
        .config
        .ok_or("missing --config FILE (the cluster config; deploy/cluster.toml is an example)")?;
    let config = load_config(&path)?;
    let state_file = args
        .state_file
        .or_else(|| config.sequencer.state_file.clone());
    let state = SessionState::new(state_file);
    let chosen = choose_session(&config, &state, args.session, args.session_query_ms)?;
    warn_if_kind_differs(&config, SequencerKind::Udp);
    let session = state.begin(Some(chosen.0)).map_err(|e| e.to_string())?;
    run(
        &config,
        state,
        session,
        RunOptions {
            stats_interval: args
                .stats
                .then(|| Duration::from_secs_f64(args.stats_interval)),
            busy_poll: args.busy_poll,
        },
    )
}

/// The session this start uses: newer than the state file's and than any the replicas
/// report (docs/operations.md, "Sessions"). Says on stderr how it was chosen.
fn choose_session(
    config: &ClusterConfig,
    state: &SessionState,
    requested: Option<u16>,
    query_ms: u64,
) -> Result<SessionNumber, String> {
    let replicas: Vec<_> = config.replicas.iter().map(|r| r.address).collect();
    let survey = ask_replicas(&replicas, Duration::from_millis(query_ms))
        .map_err(|e| format!("cannot ask the replicas for their session: {e}"))?;
    let (session, how) = state
        .choose(requested, &survey)
        .map_err(|e| e.to_string())?;
    eprintln!("sequencer: {how}");
    Ok(session)
}

/// Prints what the replicas (and the state file) know and the next session to use; a
/// controller or operator failing over to a switch sequencer takes it from here.
fn run_sessions(args: SessionsArgs) -> Result<(), String> {
    let config = load_config(&args.config)?;
    let state = SessionState::new(
        args.state_file
            .or_else(|| config.sequencer.state_file.clone()),
    );
    let replicas: Vec<_> = config.replicas.iter().map(|r| r.address).collect();
    let survey = ask_replicas(&replicas, Duration::from_millis(args.session_query_ms))
        .map_err(|e| format!("cannot ask the replicas for their session: {e}"))?;
    match state.choose(None, &survey) {
        Ok((session, how)) => {
            println!("{how}");
            println!("next session: {session}");
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn run_replay(args: ReplayArgs) -> Result<(), String> {
    let config = load_config(&args.config)?;
    let summary = replay(
        &config,
        &ReplayOptions {
            input: args.input,
            output: args.output,
            session: args.session,
        },
    )?;
    print!("{summary}");
    Ok(())
}
