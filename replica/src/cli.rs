use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use dataplane::config::ClusterConfig;

use crate::listen::{ListenOptions, listen};
use crate::serve::{Protocol, ServeOptions, serve};

/// A replica of the cluster in --config, number --index, running --mode.
#[derive(Debug, Parser)]
#[command(name = "replica", version)]
struct Cli {
    /// Cluster config file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// This replica's number: its position among the [[replica]] entries, from 0.
    #[arg(long, value_name = "I")]
    index: usize,
    /// What to run.
    #[arg(long, value_enum, default_value_t = Mode::Nopaxos)]
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
    /// Drop this fraction (0..1) of received datagrams, to measure behaviour under loss.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = fraction)]
    drop_rate: f64,
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
enum Mode {
    /// NOPaxos with the key-value store.
    Nopaxos,
    /// Viewstamped Replication (Multi-Paxos) with adaptive batching.
    Vr,
    /// Speculative Paxos (needs the sequencer, used as a best-effort order).
    Spec,
    /// Fast Paxos.
    Fastpaxos,
    /// The unreplicated baseline (one server) with the key-value store.
    Unreplicated,
    /// Follow the group's ordered stream and report it (no replication protocol).
    Listen,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.max_batch.is_some() && cli.mode != Mode::Vr {
        eprintln!("replica: --max-batch applies to --mode vr only (drop it or add --mode vr)");
        return ExitCode::from(2);
    }
    let result = ClusterConfig::load(&cli.config)
        .map_err(|e| e.to_string())
        .and_then(|config| {
            let options = ServeOptions {
                recover: cli.recover,
                busy_poll: cli.busy_poll,
                stats_interval: cli
                    .stats
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64),
                drop_rate: cli.drop_rate,
                max_batch: cli.max_batch.map(|b| b as usize),
            };
            match cli.mode {
                Mode::Listen => {
                    listen(&config, cli.index, ListenOptions { events: cli.events }).map(|_| ())
                }
                Mode::Nopaxos => serve(&config, cli.index, Protocol::Nopaxos, options),
                Mode::Vr => serve(&config, cli.index, Protocol::Vr, options),
                Mode::Spec => serve(&config, cli.index, Protocol::Spec, options),
                Mode::Fastpaxos => serve(&config, cli.index, Protocol::FastPaxos, options),
                Mode::Unreplicated => serve(&config, cli.index, Protocol::Unreplicated, options),
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
