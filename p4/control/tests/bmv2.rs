//! Where the tools are installed: compiles p4/nopaxos.p4 with p4c-bm2-ss and runs every
//! golden vector through bmv2's simple_switch (pcap files, no root); type-checks the TNA
//! build with p4test and Tofino's includes. Where they are not, each test prints SKIPPED
//! and passes without claiming anything.
//!
//! Tools: `P4C_BM2_SS`, `SIMPLE_SWITCH`, `SIMPLE_SWITCH_CLI`, `P4TEST` (paths), else on PATH;
//! `TNA_INCLUDE`: a folder holding tna.p4.

use std::path::PathBuf;

use dataplane::golden::{default_path, load};
use p4_control::bmv2::{Bmv2Tools, compare, compile, expected_outputs, find_tool, p4_dir, run};
use p4_control::cmd::{Cmd, EGRESS, Key, Value};
use p4_control::stf::{ALL_PORTS, CLIENT_PORT, golden_commands};

#[test]
fn bmv2_runs_golden_vectors_or_skips() {
    let Some(tools) = Bmv2Tools::find() else {
        println!(
            "SKIPPED: p4c/bmv2 not found (set P4C_BM2_SS and SIMPLE_SWITCH or put p4c-bm2-ss, \
             simple_switch and simple_switch_CLI on PATH)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = compile(&tools.p4c, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let vectors = load(&default_path()).unwrap();
    let cmds = golden_commands(&vectors).unwrap();
    let ports: Vec<u16> = ALL_PORTS.collect();
    let got = run(&tools, &json, &cmds, &ports, CLIENT_PORT, dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let expected = expected_outputs(&cmds);
    let problems = compare(&expected, &got);
    let sent = cmds
        .iter()
        .filter(|c| matches!(c, Cmd::Packet { .. }))
        .count();
    let out: usize = got.values().map(Vec::len).sum();
    if !problems.is_empty() {
        let log = std::fs::read_to_string(dir.path().join("switch.txt")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        panic!(
            "{} differences between simple_switch and the golden vectors:\n{}\n--- switch log \
             (last lines) ---\n{}",
            problems.len(),
            problems.join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    println!(
        "bmv2: {sent} frames in, {out} frames out on {} ports, all as expected",
        ports.len()
    );
}

#[test]
fn bmv2_member_rewrite_readdresses_copies_or_skips() {
    let Some(tools) = Bmv2Tools::find() else {
        println!("SKIPPED: p4c/bmv2 not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = compile(&tools.p4c, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let vectors = load(&default_path()).unwrap();
    // The first golden case, plus a rewrite for replica 1's port (2) only.
    let mut cmds = golden_commands(&dataplane::golden::Vectors {
        cases: vectors.cases[..1].to_vec(),
        ..vectors.clone()
    })
    .unwrap();
    // Keep configuration, drop the switch-only case that golden_commands appends.
    let end = cmds
        .iter()
        .position(|c| matches!(c, Cmd::Comment(t) if t.starts_with("case switch-")))
        .unwrap();
    cmds.truncate(end);
    let first_packet = cmds
        .iter()
        .position(|c| matches!(c, Cmd::Packet { .. }))
        .unwrap();
    cmds.insert(
        first_packet,
        Cmd::Add {
            control: EGRESS,
            table: "member_rewrite",
            key_field: "standard_metadata.egress_port",
            key: Key::Exact(Value::Int(2)),
            action: "to_member",
            args: vec![
                ("dst_mac", Value::Mac([2, 0, 0, 0, 1, 2])),
                ("dst_addr", Value::Addr("10.0.1.2".parse().unwrap())),
                ("dst_port", Value::Int(51001)),
            ],
        },
    );
    let ports: Vec<u16> = ALL_PORTS.collect();
    let got = run(&tools, &json, &cmds, &ports, CLIENT_PORT, dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let expected = expected_outputs(&cmds);
    let stamped = &expected[&1][0].1;
    assert_eq!(
        got[&1],
        vec![stamped.clone()],
        "port 1 has no rewrite: unchanged"
    );
    assert_eq!(
        got[&3],
        vec![stamped.clone()],
        "port 3 has no rewrite: unchanged"
    );
    let copy = &got[&2][0];
    let mut want = stamped.clone();
    want[0..6].copy_from_slice(&[2, 0, 0, 0, 1, 2]);
    want[30..34].copy_from_slice(&[10, 0, 1, 2]);
    want[36..38].copy_from_slice(&51001u16.to_be_bytes());
    let checksum = dataplane::wire::ipv4_header_checksum(&want[14..34]);
    want[24..26].copy_from_slice(&checksum.to_be_bytes());
    assert_eq!(
        dataplane::golden::encode_hex(copy),
        dataplane::golden::encode_hex(&want),
        "replica 1's copy is readdressed with a correct IPv4 checksum"
    );
    println!("bmv2: member rewrite readdresses only the configured port");
}

fn tna_include() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("TNA_INCLUDE").filter(|d| !d.is_empty())?);
    dir.join("tna.p4").is_file().then_some(dir)
}

#[test]
fn p4test_typechecks_both_targets_or_skips() {
    let Some(p4test) = find_tool("P4TEST", "p4test") else {
        println!("SKIPPED: p4test not found (set P4TEST or put it on PATH)");
        return;
    };
    let src = p4_dir().join("nopaxos.p4");
    let v1 = std::process::Command::new(&p4test)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        v1.status.success(),
        "p4test (v1model) failed:\n{}",
        String::from_utf8_lossy(&v1.stderr)
    );
    println!("p4test: v1model build type-checks");
    let Some(tna) = tna_include() else {
        println!("SKIPPED: TNA includes not found (set TNA_INCLUDE to a folder with tna.p4)");
        return;
    };
    let out = std::process::Command::new(&p4test)
        .arg("-I")
        .arg(&tna)
        .arg("-D__TARGET_TOFINO__=1")
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "p4test (TNA) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("p4test: TNA build type-checks against {}", tna.display());
}
