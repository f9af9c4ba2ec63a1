use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Args, Parser, Subcommand};

use crate::oum_demo::{self, DemoOptions};

/// Load generation and local clusters for nopaxos-rs.
#[derive(Debug, Parser)]
#[command(name = "client-gen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a sequencer and a replica group (listen mode) on loopback, send requests through
    /// the sequencer, restart it midway, and compare the replicas' ordered streams.
    OumDemo(DemoArgs),
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("client-gen: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match cli.command {
        Command::OumDemo(args) => {
            let bin_dir = match args.bin_dir.or_else(|| {
                std::env::current_exe()
                    .ok()
                    .and_then(|p| p.parent().map(PathBuf::from))
            }) {
                Some(dir) => dir,
                None => {
                    eprintln!("client-gen: cannot tell where the binaries are; pass --bin-dir");
                    return ExitCode::FAILURE;
                }
            };
            let options = DemoOptions {
                replicas: usize::from(args.replicas),
                requests: args.requests,
                rate: args.rate,
                sessions: args.sessions,
                bin_dir,
                keep: args.keep,
            };
            match oum_demo::run(&options, &stop) {
                Ok(report) => {
                    print!("{report}");
                    if oum_demo::consistent(&report) {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(message) => {
                    eprintln!("client-gen: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
