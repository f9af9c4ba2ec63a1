//! `replica-sim`: sweeps seeds of the deterministic simulator for one protocol and prints one
//! summary line; a failing seed also prints its report and the one command that replays it.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{ArgAction, Parser};
use protocols::{Protocol, ProtocolKind, ProtocolVisitor};
use simulator::{
    FaultSet, RunReport, SeedRange, SimOptions, SweepSummary, Table1Row, protocol_faults, run_seed,
    run_sweep,
};

/// Runs a whole cluster (replicas, sequencer, clients) in virtual time under seeded faults,
/// and checks linearizability, agreement and progress after healing for every seed.
#[derive(Debug, Parser)]
#[command(name = "replica-sim", version)]
struct Cli {
    /// The protocol to simulate.
    #[arg(long, value_enum, required_unless_present = "table1")]
    protocol: Option<ProtocolKind>,
    /// Measure the paper's Table 1 for every protocol (failure-free runs; message delays,
    /// messages at the busiest replica, quorum, throughput change at 1% loss) and print it.
    #[arg(long)]
    table1: bool,
    /// Replicas (2f+1; the unreplicated baseline always runs 1).
    #[arg(long, default_value_t = 3, value_name = "N")]
    replicas: usize,
    /// Clients; by default each seed draws 3 to 5.
    #[arg(long, value_name = "M")]
    clients: Option<usize>,
    /// Seeds to run, A..B with B excluded.
    #[arg(
        long,
        default_value = "0..100",
        value_name = "A..B",
        conflicts_with = "seed"
    )]
    seeds: SeedRange,
    /// Run this one seed.
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Fault kinds: none, all, or a comma list of loss, dup, reorder, delay, partition,
    /// crash, memory-loss, failover, long-hold, pause, stray. `all` is every kind the protocol supports.
    #[arg(long, default_value = "all", value_name = "LIST")]
    faults: FaultSet,
    /// Virtual length of each run in milliseconds (faults, then a quiet period).
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    duration_ms: u64,
    /// Trace the events of a single seed (twice: also every datagram).
    #[arg(long, short, action = ArgAction::Count)]
    verbose: u8,
    /// Worker threads for a sweep; the machine's parallelism by default.
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
}

/// Measures one protocol's row of Table 1.
struct Table1 {
    replicas: usize,
}

impl ProtocolVisitor for Table1 {
    type Output = Result<Table1Row, String>;
    fn visit<P: Protocol>(self) -> Self::Output {
        simulator::table1_row::<P>(self.replicas)
    }
}

fn table1(replicas: usize) -> ExitCode {
    let mut ok = Vec::new();
    for kind in ProtocolKind::ALL {
        match kind.visit(Table1 { replicas }) {
            Ok(r) => ok.push(r),
            Err(e) => {
                eprintln!("replica-sim: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{}", simulator::format_table1(&ok));
    ExitCode::SUCCESS
}

/// Sweeps the protocol the command line names.
struct Sweep<'a>(&'a Cli);

impl ProtocolVisitor for Sweep<'_> {
    type Output = ExitCode;
    fn visit<P: Protocol>(self) -> ExitCode {
        run::<P>(self.0)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.table1 {
        return table1(cli.replicas);
    }
    let Some(protocol) = cli.protocol else {
        eprintln!("replica-sim: name a --protocol (or ask for --table1)");
        return ExitCode::FAILURE;
    };
    protocol.visit(Sweep(&cli))
}

fn run<P: Protocol>(cli: &Cli) -> ExitCode {
    let mut options = SimOptions {
        replicas: cli.replicas,
        clients: cli.clients,
        duration: Duration::from_millis(cli.duration_ms),
        faults: cli.faults,
        verbose: cli.verbose,
        ..SimOptions::default()
    };
    let supported = protocol_faults::<P>(&options);
    if cli.faults == FaultSet::all() {
        options.faults = supported;
    } else if !cli.faults.is_subset(supported) {
        eprintln!(
            "replica-sim: {} does not support --faults {} (it supports: {supported})",
            P::NAME,
            cli.faults.difference(supported)
        );
        return ExitCode::from(2);
    }
    let seeds = cli.seed.map_or(cli.seeds, SeedRange::single);
    if seeds.is_empty() {
        eprintln!("replica-sim: no seeds to run");
        return ExitCode::from(2);
    }
    let summary = if cli.verbose > 0 {
        if seeds.len() != 1 {
            eprintln!("replica-sim: --verbose traces one run; give --seed S");
            return ExitCode::from(2);
        }
        traced_run::<P>(&options, seeds.start)
    } else {
        let jobs = cli.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        run_sweep::<P>(&options, seeds, jobs, print_if_notable)
    };
    println!("{summary}");
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One seed with its trace on stdout.
fn traced_run<P: Protocol>(options: &SimOptions, seed: u64) -> SweepSummary {
    let started = Instant::now();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let report = run_seed::<P>(options, seed, Some(&mut out));
    let _ = out.flush();
    drop(out);
    print_if_notable(&report);
    let mut summary = SweepSummary {
        protocol: P::NAME,
        replicas: report.replicas,
        ..SweepSummary::default()
    };
    summary.add(&report);
    summary.wall_s = started.elapsed().as_secs_f64();
    summary
}

/// Prints the report of a run that failed or was inconclusive.
fn print_if_notable(report: &RunReport) {
    if report.outcome != simulator::Outcome::Ok {
        println!("{}", report.failure_text());
    }
}
