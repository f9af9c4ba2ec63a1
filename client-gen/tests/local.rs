//! `client-gen local`, `run`, `sweep` and `plot` with the real binaries on loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use client_gen::report::RunSummary;

mod common;
use common::bin_dir;

fn client_gen(args: &[&str], results: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_client-gen"))
        .args(args)
        .arg("--results")
        .arg(results)
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--quiet")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The single subfolder a run created.
fn run_folder(results: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

#[test]
fn local_runs_every_protocol_and_writes_checked_reports() {
    let results = tempfile::tempdir().unwrap();
    let out = client_gen(
        &[
            "local",
            "--duration",
            "3",
            "--warmup",
            "0.5",
            "--cooldown",
            "0.5",
            "--check",
        ],
        results.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout.matches("linearizable").count(), 5, "{stdout}");
    assert!(stdout.contains("vs unrep"), "{stdout}");
    assert!(stdout.contains("one core per process"), "{stdout}");
    let folder = run_folder(results.path());
    for protocol in ["unreplicated", "nopaxos", "vr", "spec", "fastpaxos"] {
        let json = std::fs::read_to_string(folder.join(format!("{protocol}.json"))).unwrap();
        let summary = RunSummary::from_json(&json).unwrap();
        assert_eq!(summary.protocol, protocol);
        assert!(summary.ops > 0 && summary.throughput_ops_s > 0.0, "{json}");
        assert!(summary.latency.p50 > 0.0 && summary.latency.p50 <= summary.latency.p99);
        assert!(!summary.timeline.is_empty());
        // Every server process was measured; the busiest bounds the projection.
        let cpu = &summary.cpu;
        let expected = if protocol == "unreplicated" { 1 } else { 3 }
            + usize::from(matches!(protocol, "nopaxos" | "spec"));
        assert_eq!(cpu.processes.len(), expected, "{json}");
        assert!(
            cpu.processes
                .iter()
                .all(|p| p.us_per_op.is_some_and(|c| c > 0.0)),
            "{json}"
        );
        assert!(
            cpu.busiest.is_some() && cpu.projected_ops_s.is_some_and(|p| p > 0.0),
            "{json}"
        );
        let hgrm = std::fs::read_to_string(folder.join(format!("{protocol}.hgrm"))).unwrap();
        assert!(
            hgrm.contains("Percentile") && hgrm.contains("#[Max"),
            "{hgrm}"
        );
        assert!(folder.join(format!("{protocol}.history.jsonl")).is_file());
    }
}

/// Kills the first leader 1.5 s into a run of `protocol`: throughput must drop to nothing
/// while the replicas replace it, then come back, and the history stay linearizable.
fn rides_out_a_killed_leader(protocol: &str) {
    let results = tempfile::tempdir().unwrap();
    let out = client_gen(
        &[
            "local",
            "--protocols",
            protocol,
            "--duration",
            "7",
            "--warmup",
            "0.5",
            "--cooldown",
            "0.5",
            "--interval-ms",
            "250",
            "--kill-leader-after",
            "1.5",
            "--check",
        ],
        results.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("linearizable"), "{stdout}");
    assert!(!stdout.contains("NOT linearizable"), "{stdout}");
    let folder = run_folder(results.path());
    let summary = RunSummary::from_json(
        &std::fs::read_to_string(folder.join(format!("{protocol}.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        summary.notes.iter().any(|n| n.contains("killed")),
        "{:?}",
        summary.notes
    );
    // Throughput drops to nothing while the view changes, then comes back.
    let after_kill: Vec<f64> = summary
        .timeline
        .iter()
        .filter(|p| p.t_s >= 1.75)
        .map(|p| p.ops_per_s)
        .collect();
    let dip = after_kill.iter().position(|&r| r == 0.0);
    assert!(
        dip.is_some(),
        "{protocol}: no interval without progress: {after_kill:?}"
    );
    let recovered = after_kill.iter().skip(dip.unwrap()).any(|&r| r > 0.0);
    assert!(recovered, "{protocol}: never recovered: {after_kill:?}");
}

#[test]
fn nopaxos_rides_out_a_killed_leader() {
    rides_out_a_killed_leader("nopaxos");
}

#[test]
fn vr_rides_out_a_killed_leader() {
    rides_out_a_killed_leader("vr");
}

#[test]
fn spec_rides_out_a_killed_leader() {
    rides_out_a_killed_leader("spec");
}

#[test]
fn fastpaxos_rides_out_a_killed_leader() {
    rides_out_a_killed_leader("fastpaxos");
}

#[test]
fn bad_arguments_are_refused_with_the_fix() {
    let results = tempfile::tempdir().unwrap();
    let out = client_gen(&["local", "--replicas", "2"], results.path());
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("odd number of replicas"),
        "{}",
        text(&out).1
    );
    let out = client_gen(
        &["local", "--duration", "1", "--warmup", "1"],
        results.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("nothing"), "{}", text(&out).1);
    let out = Command::new(env!("CARGO_BIN_EXE_client-gen"))
        .args(["local", "--bin-dir"])
        .arg(results.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("cargo build --release"),
        "{}",
        text(&out).1
    );
}

#[test]
fn sweep_draws_curves_and_plot_redraws_them() {
    let results = tempfile::tempdir().unwrap();
    let out = client_gen(
        &[
            "sweep",
            "--protocols",
            "unreplicated,nopaxos",
            "--levels",
            "1,4",
            "--duration",
            "1.5",
            "--warmup",
            "0.3",
            "--cooldown",
            "0.2",
        ],
        results.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let folder = run_folder(results.path());
    let sweep = client_gen::plot::read_sweep(&folder.join("sweep.json")).unwrap();
    assert_eq!(sweep.len(), 4);
    assert!(sweep.iter().all(|s| s.ops > 0));
    for ext in ["png", "svg"] {
        let size = std::fs::metadata(folder.join(format!("sweep.{ext}")))
            .unwrap()
            .len();
        assert!(size > 1000, "sweep.{ext} is {size} bytes");
    }
    let redrawn = results.path().join("again");
    let out = Command::new(env!("CARGO_BIN_EXE_client-gen"))
        .args(["plot", "--in"])
        .arg(folder.join("sweep.json"))
        .arg("--out")
        .arg(&redrawn)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(redrawn.with_extension("png").is_file());
    let svg = std::fs::read_to_string(redrawn.with_extension("svg")).unwrap();
    assert!(
        svg.contains("nopaxos p50") && svg.contains("unreplicated p99"),
        "legend in the SVG"
    );
}
