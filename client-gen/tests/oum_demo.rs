//! The main job end to end: real sequencer and replica processes on loopback.

use std::path::PathBuf;
use std::process::Command;

/// The folder with every binary of the workspace, built if a narrower `cargo test` left
/// some out.
fn bin_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_client-gen"));
    let dir = exe.parent().unwrap().to_path_buf();
    if !dir.join("sequencer").is_file() || !dir.join("replica").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile = if dir.ends_with("release") {
            vec!["--release"]
        } else {
            vec![]
        };
        let status = Command::new(cargo)
            .args(["build", "-p", "sequencer-dpdk", "-p", "replica"])
            .args(profile)
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

#[test]
fn demo_sequences_through_a_restart_and_every_replica_agrees() {
    let out = Command::new(env!("CARGO_BIN_EXE_client-gen"))
        .args([
            "oum-demo",
            "--requests",
            "500",
            "--rate",
            "5000",
            "--replicas",
            "3",
        ])
        .arg("--bin-dir")
        .arg(bin_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("session 1: sent 500 requests"), "{stdout}");
    assert!(stdout.contains("session 2: sent 500 requests"), "{stdout}");
    assert!(
        stdout.contains("sequencer: session 2, 500 stamped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("same request at the same (session, message number) on every replica: yes"),
        "{stdout}"
    );
    assert!(stdout.contains("client's send order kept: yes"), "{stdout}");
    // Every replica saw both sessions start.
    assert_eq!(stdout.matches(" 2                ").count(), 3, "{stdout}");
}

#[test]
fn missing_binaries_are_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_client-gen"))
        .args(["oum-demo", "--bin-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo build --release"), "{err}");
}
