//! Where the tools are installed: compiles p4/nopaxos.p4 with p4c-bm2-ss and runs every
//! golden vector through bmv2's simple_switch (pcap files, no root), both on one live switch
//! and as the checked-in STF tests (one fresh switch per file); runs those files through
//! p4c's own STF harness; type-checks the TNA build with p4test and Tofino's includes. Where
//! they are not, each test prints SKIPPED and passes without claiming anything.
//!
//! Tools: `P4C_BM2_SS`, `SIMPLE_SWITCH`, `SIMPLE_SWITCH_CLI`, `P4TEST` (paths), else on PATH;
//! `TNA_INCLUDE`: a folder holding tna.p4; `P4C_SOURCE`: a p4c source tree (for its harness,
//! backends/bmv2/run-bmv2-test.py), run by `P4C_PYTHON` (default python3, which needs the
//! harness's Python packages: ptf, scapy, ply).

use std::path::PathBuf;

use dataplane::golden::{default_path, load};
use p4_control::bmv2::{Bmv2Tools, compare, compile, expected_outputs, find_tool, p4_dir, run};
use p4_control::cmd::{Cmd, EGRESS, Key, Value};
use p4_control::stf::{ALL_PORTS, golden_commands, golden_stf_tests, read_stf_dir, stf_dir};
use p4_control::stf_host_ports::host_port_stf_tests;

/// The bmv2 tools, or None after printing SKIPPED.
fn tools_or_skip() -> Option<Bmv2Tools> {
    let tools = Bmv2Tools::find();
    if tools.is_none() {
        println!(
            "SKIPPED: p4c/bmv2 not found (set P4C_BM2_SS and SIMPLE_SWITCH or put p4c-bm2-ss, \
             simple_switch and simple_switch_CLI on PATH)"
        );
    }
    tools
}

/// The program compiled into a fresh folder (kept alive by the returned guard) and the
/// golden vectors.
fn compiled(tools: &Bmv2Tools) -> (tempfile::TempDir, PathBuf, dataplane::golden::Vectors) {
    let dir = tempfile::tempdir().unwrap();
    let json = compile(&tools.p4c, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    (dir, json, load(&default_path()).unwrap())
}

#[test]
fn bmv2_runs_golden_vectors_or_skips() {
    let Some(tools) = tools_or_skip() else { return };
    let (dir, json, vectors) = compiled(&tools);
    let cmds = golden_commands(&vectors).unwrap();
    let ports: Vec<u16> = ALL_PORTS.collect();
    let got = run(&tools, &json, &cmds, &ports, dir.path()).unwrap_or_else(|e| panic!("{e}"));
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
    let Some(tools) = tools_or_skip() else { return };
    let (dir, json, vectors) = compiled(&tools);
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
    let got = run(&tools, &json, &cmds, &ports, dir.path()).unwrap_or_else(|e| panic!("{e}"));
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

#[test]
fn bmv2_runs_every_stf_test_on_a_fresh_switch_or_skips() {
    let Some(tools) = tools_or_skip() else { return };
    let (_dir, json, vectors) = compiled(&tools);
    // The golden cases and the switch-only host-port test (stamps from a host-facing port).
    let mut tests = golden_stf_tests(&vectors).unwrap();
    tests.extend(host_port_stf_tests(&vectors, tests.len()).unwrap());
    let ports: Vec<u16> = ALL_PORTS.collect();
    let mut failures = Vec::new();
    let (mut sent, mut out) = (0, 0);
    for test in &tests {
        let run_dir = tempfile::tempdir().unwrap();
        let got = run(&tools, &json, &test.cmds, &ports, run_dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", test.file_name));
        let problems = compare(&expected_outputs(&test.cmds), &got);
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", test.file_name, problems.join("\n  ")));
        }
        sent += test
            .cmds
            .iter()
            .filter(|c| matches!(c, Cmd::Packet { .. }))
            .count();
        out += got.values().map(Vec::len).sum::<usize>();
    }
    assert!(
        failures.is_empty(),
        "{} of {} STF tests differ:\n{}",
        failures.len(),
        tests.len(),
        failures.join("\n")
    );
    println!(
        "bmv2: {} STF tests, {sent} frames in, {out} frames out, all as expected",
        tests.len()
    );
}

/// p4c's harness: `P4C_SOURCE`'s backends/bmv2/run-bmv2-test.py, where p4c-bm2-ss and
/// simple_switch are found.
fn p4c_harness(tools: &Bmv2Tools) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let source = PathBuf::from(std::env::var_os("P4C_SOURCE").filter(|d| !d.is_empty())?);
    let script = source.join("backends/bmv2/run-bmv2-test.py");
    script.is_file().then_some(())?;
    let python = std::env::var_os("P4C_PYTHON")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let build_dir = tools.p4c.parent()?.to_path_buf();
    Some((python, script, build_dir))
}

#[test]
fn p4c_stf_harness_passes_every_stf_file_or_skips() {
    let Some(tools) = tools_or_skip() else { return };
    let Some((python, script, build_dir)) = p4c_harness(&tools) else {
        println!(
            "SKIPPED: p4c's STF harness not found (set P4C_SOURCE to a p4c source tree, and \
             P4C_PYTHON to a python with ptf, scapy and ply)"
        );
        return;
    };
    let files = read_stf_dir(&stf_dir()).unwrap();
    assert!(!files.is_empty(), "no STF files in {}", stf_dir().display());
    // The harness finds simple_switch on PATH.
    let switch_dir = tools.simple_switch.parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(switch_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let source = script.ancestors().nth(3).unwrap().to_path_buf();
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    // One working folder for all runs: the harness picks its thrift port under a lock
    // folder in its working directory, so concurrent runs must share it.
    let work = tempfile::tempdir().unwrap();
    // Two harness runs at a time: each compiles the program and waits seconds for bmv2.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, _)) = files.get(i) else { break };
                    let output = std::process::Command::new(&python)
                        .arg(&script)
                        .arg("-bd")
                        .arg(&build_dir)
                        .arg("-tf")
                        .arg(stf_dir().join(name))
                        .arg(&source)
                        .arg(p4_dir().join("nopaxos.p4"))
                        .env("PATH", &path)
                        .current_dir(work.path())
                        .output()
                        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
                    if !output.status.success() {
                        let text = String::from_utf8_lossy(&output.stdout).to_string()
                            + &String::from_utf8_lossy(&output.stderr);
                        let errors: Vec<&str> = text
                            .lines()
                            .filter(|l| l.contains("ERROR") || l.contains("rror:"))
                            .collect();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{name}: {}", errors.join(" | ")));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "p4c's STF harness failed on {} of {} files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!(
        "p4c STF harness: all {} files in {} pass",
        files.len(),
        stf_dir().display()
    );
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
