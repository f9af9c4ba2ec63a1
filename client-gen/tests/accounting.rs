//! Bottleneck accounting and the fair-comparison flags with the real binaries on loopback:
//! CPU per request of every server process, `run --server-pid`, the null app and VR's
//! `--max-batch`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use client_gen::report::RunSummary;

mod common;
use common::bin_dir;

fn client_gen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_client-gen"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn summary(folder: &Path, protocol: &str) -> RunSummary {
    let json = std::fs::read_to_string(folder.join(format!("{protocol}.json"))).unwrap();
    RunSummary::from_json(&json).unwrap()
}

#[test]
fn local_with_the_null_app_and_vr_batches_accounts_every_server() {
    let results = tempfile::tempdir().unwrap();
    let bins = bin_dir();
    let out = client_gen(&[
        "local",
        "--app",
        "null",
        "--protocols",
        "unreplicated,nopaxos,vr",
        "--max-batch",
        "64",
        "--duration",
        "2.5",
        "--warmup",
        "0.5",
        "--cooldown",
        "0.5",
        "--interval-ms",
        "250",
        "--quiet",
        "--results",
        results.path().to_str().unwrap(),
        "--bin-dir",
        bins.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("one core per process"), "{stdout}");
    assert!(
        stdout.contains("nopaxos: CPU per request: sequencer "),
        "{stdout}"
    );
    let folder = std::fs::read_dir(results.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for (protocol, names) in [
        ("unreplicated", &["replica 0"][..]),
        (
            "nopaxos",
            &["sequencer", "replica 0", "replica 1", "replica 2"],
        ),
        ("vr", &["replica 0", "replica 1", "replica 2"]),
    ] {
        let s = summary(&folder, protocol);
        assert!(s.workload.ends_with("--app null"), "{}", s.workload);
        let got: Vec<&str> = s.cpu.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(got, names, "{protocol}");
        for p in &s.cpu.processes {
            assert!(p.us_per_op.is_some_and(|c| c > 0.0), "{protocol}: {p:?}");
            assert_eq!(p.source.as_deref(), Some("schedstat"), "{p:?}");
        }
        let busiest = s.cpu.busiest_us_per_op.unwrap();
        assert!(
            s.cpu
                .processes
                .iter()
                .all(|p| p.us_per_op.unwrap() <= busiest)
        );
        let projected = s.cpu.projected_ops_s.unwrap();
        assert!(
            (projected * busiest - 1e6).abs() < 1e-3 * 1e6,
            "{:?}",
            s.cpu
        );
        // The last point of the timeline holds the drained requests, not a sliver rated
        // at several times the real throughput.
        let mut rates: Vec<f64> = s.timeline.iter().map(|p| p.ops_per_s).collect();
        let last = *rates.last().unwrap();
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        assert!(last <= 2.0 * median, "{protocol}: {:?}", s.timeline);
        assert_eq!(s.timeline.len(), 10, "2.5 s in 250 ms intervals");
    }
    let vr = summary(&folder, "vr");
    assert!(
        vr.notes.iter().any(|n| n.contains("at most 64")),
        "{:?}",
        vr.notes
    );
}

#[test]
fn run_accounts_the_pids_it_is_given_and_says_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let config = client_gen::local::loopback_config(1, dir.path()).unwrap();
    let config_path = dir.path().join("cluster.toml");
    std::fs::write(&config_path, config.to_toml()).unwrap();
    let mut server = Command::new(bin_dir().join("replica"))
        .arg("--config")
        .arg(&config_path)
        .args(["--index", "0", "--mode", "unreplicated", "--app", "null"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.contains("serving") && first.contains("Null"),
        "{first}"
    );
    // A PID that has exited (and been reaped) by the time the window opens.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();

    let json = dir.path().join("summary.json");
    let base = [
        "run",
        "--config",
        config_path.to_str().unwrap(),
        "--protocol",
        "unreplicated",
        "--app",
        "null",
        "--duration",
        "1.5",
        "--warmup",
        "0.3",
        "--cooldown",
        "0.2",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ];
    let server_arg = format!("server={}", server.id());
    let gone_arg = format!("gone={gone_pid}");
    let mut args = base.to_vec();
    args.extend(["--server-pid", &server_arg, "--server-pid", &gone_arg]);
    let out = client_gen(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let s = RunSummary::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(s.ops > 0);
    assert!(
        s.cpu.processes[0].us_per_op.is_some_and(|c| c > 0.0),
        "{:?}",
        s.cpu
    );
    assert_eq!(s.cpu.processes[1].na.as_deref(), Some("exited"));
    assert_eq!(
        s.cpu.projected_ops_s, None,
        "a missing process is never free"
    );
    assert!(stdout.contains("gone n/a: exited"), "{stdout}");
    assert!(stdout.contains("n/a: gone exited"), "{stdout}");

    // Without PIDs the servers count as remote.
    let out = client_gen(&base);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("n/a: remote"), "{stdout}");
    let s = RunSummary::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(s.cpu.processes.is_empty() && s.cpu.unmeasured.is_some());

    // A name given twice is refused.
    let mut args = base.to_vec();
    args.extend(["--server-pid", &server_arg, "--server-pid", &server_arg]);
    let out = client_gen(&args);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("given twice"), "{}", text(&out).1);

    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn nothing_to_check_with_the_null_app() {
    let out = client_gen(&["local", "--app", "null", "--check"]);
    assert!(!out.status.success());
    let stderr = text(&out).1;
    assert!(
        stderr.contains("nothing to check") && stderr.contains("drop --check"),
        "{stderr}"
    );
    let out = client_gen(&["local", "--app", "nothing"]);
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("choose kv or null"),
        "{}",
        text(&out).1
    );
    let out = client_gen(&["run", "--config", "x.toml", "--server-pid", "sequencer"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("NAME=PID"), "{}", text(&out).1);
}
