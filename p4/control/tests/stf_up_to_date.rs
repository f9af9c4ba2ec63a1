//! p4/tests/stf/ is what `p4-control stf` generates from the golden vectors now; the STF
//! tests and the live run both cover every golden packet, and every STF file has the shape
//! p4c's harness needs (all configuration before the first frame, every port named).

use std::collections::BTreeSet;

use dataplane::golden::{Expect, Step, default_path, load};
use p4_control::cmd::Cmd;
use p4_control::model::{SwitchOutcome, stamp_claim, switch_outcome};
use p4_control::plan::SwitchPlan;
use p4_control::stf::{
    ALL_PORTS, CLIENT_PORT, drop_sentinel, golden_commands, golden_stf_tests, render_golden_stf,
    stf_dir, stf_dir_differences, test_ports, test_routes,
};
use p4_control::stf_host_ports::{HOST_PORT, NOT_HOST_PORT, host_port_stf_tests};

#[test]
fn checked_in_stf_files_are_up_to_date() {
    let vectors = load(&default_path()).unwrap();
    let want = render_golden_stf(&vectors).unwrap();
    let differences = stf_dir_differences(&stf_dir(), &want).unwrap();
    assert!(
        differences.is_empty(),
        "p4/tests/stf is out of date (run `cargo run -p p4-control -- stf`):\n{}",
        differences.join("\n")
    );
}

fn packets(cmds: &[Cmd]) -> Vec<(u16, &Vec<u8>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Packet { port, bytes } => Some((*port, bytes)),
            _ => None,
        })
        .collect()
}

fn expects(cmds: &[Cmd]) -> Vec<(u16, &Vec<u8>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Expect { port, bytes } => Some((*port, bytes)),
            _ => None,
        })
        .collect()
}

#[test]
fn live_run_covers_every_golden_packet() {
    let vectors = load(&default_path()).unwrap();
    let cmds = golden_commands(&vectors).unwrap();
    let sent = packets(&cmds);

    let mut golden_packets = Vec::new();
    let mut golden_expects = 0;
    let mut routed = 0;
    let mut dropped = 0;
    for case in &vectors.cases {
        for step in &case.steps {
            if let Step::Packet { packet, expect } = step {
                let bytes = dataplane::golden::decode_hex(packet).unwrap();
                match switch_outcome(&bytes, expect, &test_ports(), &test_routes()).unwrap() {
                    SwitchOutcome::Multicast { ports, .. } => {
                        let Expect::Multicast { members, .. } = expect else {
                            panic!("a multicast outcome from a drop verdict");
                        };
                        assert_eq!(ports.len(), members.len());
                        golden_expects += ports.len();
                    }
                    SwitchOutcome::Routed { .. } => {
                        assert!(matches!(expect, Expect::Drop { .. }));
                        routed += 1;
                        golden_expects += 1;
                    }
                    SwitchOutcome::Dropped { .. } => {
                        assert!(matches!(expect, Expect::Drop { .. }));
                        dropped += 1;
                    }
                }
                golden_packets.push(bytes);
            }
        }
    }
    // Every golden frame is sent, in order, into the client port, followed by the
    // switch-only cases' frames.
    assert!(sent.len() > golden_packets.len());
    for (i, want) in golden_packets.iter().enumerate() {
        assert_eq!(sent[i], (CLIENT_PORT, want), "golden packet {i}");
    }
    // Two switch-only frames of 3 copies each.
    assert_eq!(expects(&cmds).len(), golden_expects + 6);
    // Both non-stamp outcomes occur: routing and dropping.
    assert!(routed >= 10, "{routed} routed");
    assert!(dropped >= 10, "{dropped} dropped");
}

#[test]
fn stf_tests_hold_the_live_runs_frames_and_the_harness_can_run_them() {
    let vectors = load(&default_path()).unwrap();
    let live = golden_commands(&vectors).unwrap();
    let tests = golden_stf_tests(&vectors).unwrap();
    let sentinel = drop_sentinel(&vectors).unwrap();

    // One file per case, and one more per new session within a case.
    let new_sessions = vectors
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| matches!(s, Step::NewSession { .. }))
        .count();
    assert_eq!(tests.len(), vectors.cases.len() + 1 + new_sessions);
    let names: BTreeSet<&str> = tests.iter().map(|t| t.file_name.as_str()).collect();
    assert_eq!(names.len(), tests.len(), "file names are unique");

    let mut client_frames = Vec::new();
    let mut all_expects = Vec::new();
    for test in &tests {
        let name = &test.file_name;
        // p4c's harness applies every command before bmv2 reads a frame.
        let first_packet = test
            .cmds
            .iter()
            .position(|c| matches!(c, Cmd::Packet { .. }))
            .unwrap_or_else(|| panic!("{name}: no frame"));
        assert!(
            !test.cmds[first_packet..].iter().any(Cmd::is_cli),
            "{name}: a table write after the first frame"
        );
        // Every port is named, so the harness checks every port's output.
        let named: BTreeSet<u16> = packets(&test.cmds)
            .into_iter()
            .filter(|(_, b)| !b.is_empty())
            .chain(expects(&test.cmds))
            .map(|(p, _)| p)
            .collect();
        assert_eq!(named, ALL_PORTS.collect(), "{name}: every port named");
        for (port, bytes) in packets(&test.cmds) {
            if port == CLIENT_PORT {
                client_frames.push(bytes.clone());
            } else {
                assert_eq!(bytes, &sentinel, "{name}: only the dropped ARP elsewhere");
            }
        }
        all_expects.extend(expects(&test.cmds).into_iter().map(|(p, b)| (p, b.clone())));
    }
    let live_frames: Vec<Vec<u8>> = packets(&live).into_iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(
        client_frames, live_frames,
        "the same frames in the same order"
    );
    let live_expects: Vec<(u16, Vec<u8>)> = expects(&live)
        .into_iter()
        .map(|(p, b)| (p, b.clone()))
        .collect();
    assert_eq!(all_expects, live_expects, "the same expectations");

    // In the files, only the 0-byte frame is a comment: STF cannot express it.
    // (The host-port test's file is not part of the live run; its frames are checked in
    // host_port_stf_test_drops_stamps_from_host_ports_only.)
    let files = render_golden_stf(&vectors).unwrap();
    let lines: usize = files
        .iter()
        .filter(|(name, _)| !name.ends_with("-switch-stamp-from-host-port.stf"))
        .map(|(_, text)| text.lines().filter(|l| l.starts_with("packet 0 ")).count())
        .sum();
    assert_eq!(lines + 1, live_frames.len());
}

/// The model's stamp claim (what the program drops from a host-facing port) holds for the
/// golden frames with an OUM header to the OUM port and a header size other than 0, and for
/// no frame the golden vectors stamp.
#[test]
fn stamp_claims_among_the_golden_frames() {
    let vectors = load(&default_path()).unwrap();
    let mut claims = BTreeSet::new();
    for case in &vectors.cases {
        for step in &case.steps {
            let Step::Packet { packet, expect } = step else {
                continue;
            };
            let bytes = dataplane::golden::decode_hex(packet).unwrap();
            if stamp_claim(&bytes, case.config.oum_port) {
                match expect {
                    Expect::Drop { reason } => {
                        claims.insert(reason.clone());
                    }
                    Expect::Multicast { .. } => {
                        panic!("{}: a stamped request is a claim", case.name)
                    }
                }
            }
        }
    }
    let want: BTreeSet<String> = ["already-sequenced", "bad-header-size"]
        .map(String::from)
        .into();
    assert_eq!(claims, want);
}

/// The host-port STF test: its table entry before any frame; from the host-facing port the
/// client's request is stamped and both stamps (header size 10 and 18) are dropped; the same
/// stamps from a port that is not host-facing are routed.
#[test]
fn host_port_stf_test_drops_stamps_from_host_ports_only() {
    let vectors = load(&default_path()).unwrap();
    let tests = host_port_stf_tests(&vectors, 34).unwrap();
    let [test] = &tests[..] else {
        panic!("one host-port test");
    };
    assert_eq!(test.file_name, "34-switch-stamp-from-host-port.stf");
    let entry = SwitchPlan::host_port_cmd(HOST_PORT);
    let at = test
        .cmds
        .iter()
        .position(|c| *c == entry)
        .expect("host_ports entry");
    let first_packet = test
        .cmds
        .iter()
        .position(|c| matches!(c, Cmd::Packet { .. }))
        .unwrap();
    assert!(at < first_packet);
    assert!(!test.cmds[first_packet..].iter().any(Cmd::is_cli));

    // Each frame (port, bytes) with what comes out for it: the expects up to the next frame.
    type Frame = (u16, Vec<u8>);
    let mut steps: Vec<(u16, Vec<u8>, Vec<Frame>)> = Vec::new();
    for c in &test.cmds {
        match c {
            Cmd::Packet { port, bytes } => steps.push((*port, bytes.clone(), Vec::new())),
            Cmd::Expect { port, bytes } => steps.last_mut().unwrap().2.push((*port, bytes.clone())),
            _ => {}
        }
    }
    let sentinel = drop_sentinel(&vectors).unwrap();
    let steps: Vec<_> = steps
        .into_iter()
        .filter(|(_, b, _)| *b != sentinel)
        .collect();
    assert_eq!(steps.len(), 5);
    let (port, request, out) = &steps[0];
    assert_eq!(*port, HOST_PORT);
    assert!(!stamp_claim(request, 22222));
    assert_eq!(out.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [1, 2, 3]);
    for pair in [&steps[1..3], &steps[3..5]] {
        let (host, claim, dropped) = &pair[0];
        let (other, same, routed) = &pair[1];
        assert_eq!((*host, *other), (HOST_PORT, NOT_HOST_PORT));
        assert_eq!(claim, same);
        assert!(stamp_claim(claim, 22222));
        assert!(dropped.is_empty(), "a stamp from the host port came out");
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].0, 9, "routed to the test route's port");
    }
    assert_eq!(&steps[3].1[46..48], &[0, 18], "header size 18");
}
