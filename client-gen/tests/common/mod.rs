//! Helpers shared by the process tests of client-gen.

use std::path::PathBuf;
use std::process::Command;

/// The folder with every binary of the workspace, built if a narrower `cargo test` left
/// some out.
pub(crate) fn bin_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_client-gen"));
    let dir = exe.parent().unwrap().to_path_buf();
    if !dir.join("sequencer").is_file() || !dir.join("replica").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "sequencer-dpdk", "-p", "replica"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success());
    }
    dir
}
