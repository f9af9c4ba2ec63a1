//! A replica running a protocol on OUM follows one group: as a member of a second group it
//! would get two interleaved streams (stamps do not name their group), so it refuses to
//! start with an error naming the group and the fix (issue 13).

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;

use dataplane::config::{ClusterConfig, GroupConfig};

fn config_with_second_group(dir: &std::path::Path, members: Vec<u16>) -> std::path::PathBuf {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClusterConfig::local(3, port, Ipv4Addr::new(127, 0, 0, 10));
    let mut probe = GroupConfig::new("probe", Ipv4Addr::new(127, 0, 0, 11));
    probe.members = Some(members);
    config.groups.push(probe);
    let path = dir.join("cluster.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    path
}

#[test]
fn a_protocol_replica_in_two_groups_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with_second_group(dir.path(), vec![0]);
    for mode in ["nopaxos", "spec"] {
        let out = Command::new(env!("CARGO_BIN_EXE_replica"))
            .arg("--config")
            .arg(&path)
            .args(["--index", "0", "--mode", mode])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{mode}: {stderr}");
        assert!(
            stderr.contains("member of group \"probe\"")
                && stderr.contains("Leave it out of `members` of \"probe\""),
            "{mode}: {stderr}"
        );
    }
}
