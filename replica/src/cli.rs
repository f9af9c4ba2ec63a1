use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use dataplane::config::ClusterConfig;

use crate::listen::{ListenOptions, listen};

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
    #[arg(long, value_enum, default_value_t = Mode::Listen)]
    mode: Mode,
    /// In listen mode, print every message, drop and session change.
    #[arg(long)]
    events: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Follow the group's ordered stream and report it (no replication protocol).
    Listen,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = ClusterConfig::load(&cli.config)
        .map_err(|e| e.to_string())
        .and_then(|config| match cli.mode {
            Mode::Listen => {
                listen(&config, cli.index, ListenOptions { events: cli.events }).map(|_| ())
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
