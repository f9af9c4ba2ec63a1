//! p4/tests/nopaxos.stf is what `p4-control stf` generates from the golden vectors now, and
//! it covers every golden packet.

use dataplane::golden::{Expect, Step, default_path, load};
use p4_control::cmd::Cmd;
use p4_control::model::{SwitchOutcome, switch_outcome};
use p4_control::stf::{golden_commands, render_golden_stf, stf_path, test_ports, test_routes};

#[test]
fn checked_in_stf_is_up_to_date() {
    let vectors = load(&default_path()).unwrap();
    let want = render_golden_stf(&vectors).unwrap();
    let have = std::fs::read_to_string(stf_path()).unwrap();
    assert!(
        have == want,
        "p4/tests/nopaxos.stf is out of date: run `cargo run -p p4-control -- stf`"
    );
}

#[test]
fn stf_covers_every_golden_packet() {
    let vectors = load(&default_path()).unwrap();
    let cmds = golden_commands(&vectors).unwrap();
    let packets: Vec<&Vec<u8>> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::Packet { bytes, .. } => Some(bytes),
            _ => None,
        })
        .collect();
    let expects = cmds
        .iter()
        .filter(|c| matches!(c, Cmd::Expect { .. }))
        .count();

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
    // Every golden frame is sent, in order, followed by the switch-only cases' frames.
    assert!(packets.len() > golden_packets.len());
    for (i, want) in golden_packets.iter().enumerate() {
        assert_eq!(packets[i], want, "golden packet {i}");
    }
    // Two switch-only frames of 3 copies each.
    assert_eq!(expects, golden_expects + 6);
    // Both non-stamp outcomes occur: routing and dropping.
    assert!(routed >= 10, "{routed} routed");
    assert!(dropped >= 10, "{dropped} dropped");
    let stf = std::fs::read_to_string(stf_path()).unwrap();
    assert_eq!(
        stf.lines().filter(|l| l.starts_with("packet ")).count() + 1,
        packets.len(),
        "only the 0-byte frame is missing from the STF file (as a comment)"
    );
}
