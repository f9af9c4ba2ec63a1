use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dataplane::config::ClusterConfig;

use crate::replay::{ReplayOptions, replay};
use crate::session_state::SessionState;
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
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Cluster config file (groups, replicas, OUM port, state file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Session number to start with; needed on the very first start, and it must be newer
    /// than the last one recorded. Otherwise the next session after the recorded one is used.
    #[arg(long, value_name = "N")]
    session: Option<u16>,
    /// Where the last session is recorded (overrides [sequencer] state_file).
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
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
        Some(Command::Run(args)) => run_udp(args),
        None => run_udp(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sequencer: {message}");
            ExitCode::FAILURE
        }
    }
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
    let session = state.begin(args.session).map_err(|e| e.to_string())?;
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
