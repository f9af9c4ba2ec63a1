//! `p4-control`: the control plane of the P4 switch sequencer (docs/p4.md).
//!
//! * `p4-control bmv2 --config cluster.toml --ports 0=1,1=2,2=3 --session 1
//!   [--host-ports 10,11]` prints simple_switch_CLI commands;
//! * `p4-control tofino ...` prints a bfrt_python script for the TNA build;
//! * `p4-control failover --config cluster.toml --session 2 [--target tofino]` prints the one
//!   command that moves a running switch to a new session;
//! * `p4-control stf [--check]` writes (or checks) p4/tests/stf/, the golden vectors as p4c STF
//!   tests, one file per case.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dataplane::config::ClusterConfig;
use p4_control::cmd::render_cli;
use p4_control::plan::{SwitchPlan, failover_bfrt, failover_bmv2};
use p4_control::ports::{HostPorts, PortMap, Route};
use p4_control::stf;

#[derive(Debug, Parser)]
#[command(
    name = "p4-control",
    version,
    about = "Control plane of the P4 switch sequencer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DeployArgs {
    /// The cluster TOML every binary reads.
    #[arg(long)]
    config: PathBuf,
    /// Switch port of each replica: REPLICA=PORT pairs, comma separated (`0=1,1=2,2=3`).
    #[arg(long)]
    ports: PortMap,
    /// The session the switch stamps with. Take one newer than any a sequencer of this
    /// cluster used before (docs/p4.md, "Sequencer failover").
    #[arg(long)]
    session: u16,
    /// Host-facing switch ports, comma separated (`10,11`): the ports clients and other
    /// hosts sit on, not replicas' ports or links to other switches. A stamped OUM packet
    /// entering on one is forged and dropped (docs/p4.md, "Forged stamps"). Without it, the
    /// switch cannot tell forged stamps from real ones.
    #[arg(long)]
    host_ports: Option<HostPorts>,
    /// An ordinary IPv4 route, repeatable: PREFIX/LEN,PORT,DST_MAC,SRC_MAC.
    #[arg(long = "route")]
    routes: Vec<Route>,
    /// Send stamped copies unchanged (group address and OUM port) instead of readdressing
    /// each copy to its replica's address, port and MAC (v1model egress `member_rewrite`).
    #[arg(long)]
    no_member_rewrite: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Target {
    Bmv2,
    Tofino,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// simple_switch_CLI commands for the v1model build.
    Bmv2(DeployArgs),
    /// A bfrt_python script for the TNA build.
    Tofino(DeployArgs),
    /// The command that moves a running switch to a new session.
    Failover {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        session: u16,
        #[arg(long, value_enum, default_value = "bmv2")]
        target: Target,
    },
    /// Writes p4/tests/stf/*.stf from the golden vectors, one p4c STF test per case, and
    /// removes stale ones (or checks the folder is up to date).
    Stf {
        #[arg(long)]
        vectors: Option<PathBuf>,
        /// The folder to write (default: p4/tests/stf of this source tree).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Fail if the file differs instead of writing it.
        #[arg(long)]
        check: bool,
    },
}

fn load(path: &std::path::Path) -> Result<ClusterConfig, String> {
    ClusterConfig::load(path).map_err(|e| e.to_string())
}

fn plan(args: &DeployArgs) -> Result<SwitchPlan, String> {
    let plan = SwitchPlan::new(
        &load(&args.config)?,
        &args.ports,
        args.session,
        args.routes.clone(),
        !args.no_member_rewrite,
    )?;
    Ok(match &args.host_ports {
        Some(ports) => plan.with_host_ports(ports),
        None => plan,
    })
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Bmv2(args) => {
            let plan = plan(&args)?;
            print!("{}", render_cli(&plan.bmv2_commands()));
            eprint!("{}", plan.summary());
        }
        Command::Tofino(args) => {
            let plan = plan(&args)?;
            print!("{}", plan.bfrt_script());
            eprint!("{}", plan.summary());
        }
        Command::Failover {
            config,
            session,
            target,
        } => {
            let config = load(&config)?;
            match target {
                Target::Bmv2 => println!(
                    "{}",
                    failover_bmv2(config.oum.port, session)
                        .cli()
                        .unwrap_or_default()
                ),
                Target::Tofino => print!("{}", failover_bfrt(config.oum.port, session)),
            }
        }
        Command::Stf {
            vectors,
            out_dir,
            check,
        } => {
            let vectors_path = vectors.unwrap_or_else(dataplane::golden::default_path);
            let vectors = dataplane::golden::load(&vectors_path)?;
            let files = stf::render_golden_stf(&vectors)?;
            let dir = out_dir.unwrap_or_else(stf::stf_dir);
            let differences = stf::stf_dir_differences(&dir, &files)?;
            if check {
                if !differences.is_empty() {
                    return Err(format!(
                        "{} is out of date (run `p4-control stf`):\n  {}",
                        dir.display(),
                        differences.join("\n  ")
                    ));
                }
                eprintln!("{}: {} files, up to date", dir.display(), files.len());
            } else {
                write_stf_dir(&dir, &files)?;
                eprintln!(
                    "{}: wrote {} files ({} changed)",
                    dir.display(),
                    files.len(),
                    differences.len()
                );
            }
        }
    }
    Ok(())
}

/// Writes `files` into `dir` and removes the `.stf` files there that are not among them.
fn write_stf_dir(dir: &std::path::Path, files: &[(String, String)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, _) in stf::read_stf_dir(dir)? {
        if !files.iter().any(|(n, _)| *n == name) {
            let path = dir.join(&name);
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("p4-control: {e}");
            ExitCode::FAILURE
        }
    }
}
