//! `replica --dpdk` and `replica bench --dpdk` on virtual devices, each run as its own
//! process (EAL initialises once per process). They need root (and DPDK); without root
//! they print "skipped: needs root" and pass.
#![cfg(feature = "dpdk")]

use dataplane::io::dpdk::eal::{NO_HARDWARE_ARGS as EAL, running_as_root as is_root};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_replica");
fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("cluster.toml");
    let mut text = String::from(
        "f = 1\n[sequencer]\nkind = \"dpdk\"\nmacs = [\"02:00:00:00:00:64\"]\n\
         [[group]]\nname = \"g\"\naddress = \"10.0.0.100\"\n",
    );
    for i in 0..3 {
        text.push_str(&format!(
            "[[replica]]\naddress = \"10.0.0.{}:51000\"\nmac = \"02:00:00:00:00:{:02x}\"\n",
            11 + i,
            11 + i
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_mode_serves_on_net_ring_and_stops_on_sigint() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    for mode in ["nopaxos", "vr", "spec", "fastpaxos", "unreplicated"] {
        let child = Command::new(BIN)
            .args([
                "--dpdk", "--index", "1", "--mode", mode, "--stats", "0.1", "--config",
            ])
            .arg(&config)
            .arg("--")
            .args(EAL)
            .arg("--vdev=net_ring0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        // SAFETY: kill(2) on our own child's PID.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("over DPDK port 0 (net_ring")
                && stdout.contains("busy-polling, stamps only from MAC 02:00:00:00:00:64"),
            "{mode}: {stdout}"
        );
        // Periodic and final stats lines carry the backend's and the device's counters.
        let lines = stdout
            .lines()
            .filter(|l| l.contains(" dpdk: rx=0 tx="))
            .count();
        assert!(lines >= 2, "{mode}: {stdout}");
        assert!(stdout.contains("port0: rx=0 tx="), "{mode}: {stdout}");
        assert!(
            stdout.contains("(dropped by --drop-rate: 0) dpdk:"),
            "{mode}: {stdout}"
        );
    }
}

#[test]
fn bad_dpdk_arguments_are_clear_errors() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let run = |extra: &[&str], eal: &[&str]| {
        let out = Command::new(BIN)
            .args(["--index", "0", "--config"])
            .arg(&config)
            .args(extra)
            .arg("--")
            .args(eal)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--dpdk"], &["--bogus-opt=3"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("Unknown EAL option \"--bogus-opt=3\""),
        "{stderr}"
    );
    let mut eal = EAL.to_vec();
    eal.push("--vdev=net_ring0");
    let (code, stderr) = run(&["--dpdk", "--port", "3"], &eal);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("DPDK port 3 does not exist"), "{stderr}");
    let (code, stderr) = run(&[], &eal);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("EAL arguments after `--` need --dpdk"),
        "{stderr}"
    );
}

#[test]
fn the_benches_execute_and_answer_every_request() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    // With --auth every request carries a tag the leader's driver must open with the
    // group's key: 20000 executed means every sealed frame opened. Every frame comes from
    // the sequencer MAC the bench's config lists, so the MAC check runs on each.
    for (mode, name, auth) in [
        ("nopaxos", "nopaxos leader", false),
        ("nopaxos", "nopaxos leader", true),
        ("unreplicated", "unreplicated server", false),
    ] {
        let out = Command::new(BIN)
            .args(["bench", "--dpdk", "--mode", mode])
            .args(if auth { &["--auth"][..] } else { &[] })
            .args(["--requests", "20000", "--round", "500", "--"])
            .args(EAL)
            .arg("--vdev=net_null0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains(&format!("{name}: 20000 requests in"))
                && stdout.contains("executed 20000, datagrams sent ")
                && stdout.contains("tx errors 0, frame drops 0"),
            "{stdout}"
        );
    }
}

/// Issue 13: a replica on DPDK takes stamps only from a configured sequencer MAC. Every
/// request arrives twice with the same stamp through DpdkIo and the real poll loop, first
/// from a stranger's MAC (replying to an address with no ARP entry), then from the
/// sequencer's. Without the check the forged copy would take the slot: it would be executed,
/// its reply would fail to send (tx errors, no-arp-entry drops) and nothing would be counted
/// as `stranger_stamp`. Sealed copies (the forger holding the key) are refused too.
#[test]
fn forged_stamps_from_another_mac_are_refused_and_counted() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    for auth in [false, true] {
        let out = Command::new(BIN)
            .args(["bench", "--dpdk", "--forged"])
            .args(if auth { &["--auth"][..] } else { &[] })
            .args(["--requests", "5000", "--round", "500", "--"])
            .args(EAL)
            .arg("--vdev=net_null0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "auth {auth}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("nopaxos leader: 5000 requests in")
                && stdout.contains("executed 5000, datagrams sent ")
                && stdout.contains("tx errors 0, frame drops 0, stranger_stamp 5000"),
            "auth {auth}: {stdout}"
        );
    }
}
