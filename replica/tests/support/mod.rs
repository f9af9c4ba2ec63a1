//! Helpers shared by the tests that run the real binaries on loopback.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder with the workspace's binaries. The sequencer belongs to another package, so
/// `cargo test -p replica` alone does not build it: build it here if it is missing. (Not
/// when it is merely older: the workspace's test run builds it with its own features,
/// DPDK included, and a rebuild here without them would replace that binary.)
pub(crate) fn bin_dir() -> PathBuf {
    let replica = Path::new(env!("CARGO_BIN_EXE_replica"));
    let dir = replica.parent().unwrap().to_path_buf();
    if !dir.join("sequencer").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "sequencer-dpdk"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success());
    }
    dir
}

/// `n` UDP ports free on 127.0.0.1 a moment ago.
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}
