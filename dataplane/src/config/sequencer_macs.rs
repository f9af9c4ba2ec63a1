//! `[sequencer] macs`: the Ethernet source MACs a replica on DPDK takes stamps from
//! (docs/operations.md, "Who may stamp").

use super::{Problem, SequencerConfig, SequencerKind, parse_mac};

const EXAMPLE: &str = "macs = [\"02:00:00:00:00:64\"] (the MAC `sequencer --dpdk` prints at start)";

/// Every bad entry, and the list itself when the sequencer kind cannot be told by its MAC.
pub(super) fn problems(sequencer: &SequencerConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, mac) in sequencer.macs.iter().enumerate() {
        if parse_mac(mac).is_none() {
            out.push(Problem {
                field: format!("sequencer.macs[{i}]"),
                problem: format!("{mac:?} is not a MAC address (six hex pairs)"),
                example: EXAMPLE.into(),
            });
        }
    }
    // Refused rather than ignored: a list that checks nothing would look like protection.
    // A kernel-UDP sequencer is judged by its source address instead, and a switch keeps
    // the client's source MAC on the stamped copies (p4/targets/v1model.p4 rewrites only the
    // destination), so its MAC says nothing about who stamped.
    let why = match sequencer.kind {
        SequencerKind::Dpdk => None,
        SequencerKind::Udp => Some(
            "kind = \"udp\": replicas already take stamps only from the group sockets' \
             addresses; a MAC list applies to kind = \"dpdk\" only",
        ),
        SequencerKind::Switch => Some(
            "kind = \"switch\": a switch's stamped copies keep the client's source MAC, so no \
             MAC says who stamped; a MAC list applies to kind = \"dpdk\" only",
        ),
    };
    if let (false, Some(why)) = (sequencer.macs.is_empty(), why) {
        out.push(Problem {
            field: "sequencer.macs".into(),
            problem: why.into(),
            example: "remove `macs`, or set kind = \"dpdk\" if a DPDK sequencer stamps".into(),
        });
    }
    out
}
