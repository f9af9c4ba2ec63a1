//! Human-readable counters.

use std::fmt::Write as _;

use dataplane::config::ClusterConfig;
use dataplane::io::IoStats;
use dataplane::oum::SequencerStats;
use dataplane::wire::MacAddr;

/// The full report printed at exit (and on SIGINT).
pub fn final_report(config: &ClusterConfig, stats: &SequencerStats, io: Option<IoStats>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sequencer: session {}, {} stamped, {} dropped",
        stats.session,
        stats.stamped(),
        stats.drops.total() + stats.too_big_for_tag()
    );
    for (group, g) in config.groups.iter().zip(&stats.groups) {
        let _ = writeln!(
            out,
            "  group {} ({}): {} stamped, last message number {}, members {:?}{}",
            group.name,
            g.address,
            g.stamped,
            g.last_msgnum,
            config.members(group),
            group
                .multicast
                .map_or(String::new(), |m| format!(", multicast {m}"))
        );
    }
    for (reason, count) in stats.drops.nonzero() {
        let _ = writeln!(out, "  dropped {reason}: {count}");
    }
    if stats.too_big_for_tag() > 0 {
        let _ = writeln!(
            out,
            "  dropped too-big-for-tag: {} (no room after the request for its group's tag)",
            stats.too_big_for_tag()
        );
    }
    if let Some(io) = io {
        let _ = writeln!(
            out,
            "  io: {} received, {} sent, {} oversized, {} send errors",
            io.rx_packets, io.tx_packets, io.rx_truncated, io.tx_errors
        );
    }
    out
}

/// One line for `--stats`: totals and the rate since the previous line.
pub fn stats_line(stats: &SequencerStats, previous_stamped: u64, seconds: f64) -> String {
    let stamped = stats.stamped();
    let rate = (stamped.saturating_sub(previous_stamped)) as f64 / seconds.max(1e-9);
    let mut line = format!(
        "session {} stamped {} ({:.0}/s) dropped {}",
        stats.session,
        stamped,
        rate,
        stats.drops.total() + stats.too_big_for_tag()
    );
    for (reason, count) in stats.drops.nonzero() {
        let _ = write!(line, " {reason}={count}");
    }
    if stats.too_big_for_tag() > 0 {
        let _ = write!(line, " too-big-for-tag={}", stats.too_big_for_tag());
    }
    line
}

/// ", stamps of kv, kv2 carry a tag" for a start-up line; empty when no group is keyed.
pub fn keyed_note(config: &ClusterConfig) -> String {
    let keyed = config.keyed_groups();
    if keyed.is_empty() {
        String::new()
    } else {
        format!("; stamps of {} carry a tag", keyed.join(", "))
    }
}

/// What the start-up line says about `[sequencer] macs` for this port's MAC, so the
/// operator can copy it into the config, and whether the config is wrong for this port:
/// replicas on DPDK would then refuse every stamp (docs/operations.md, "Who may stamp").
pub fn mac_note(config: &ClusterConfig, mac: MacAddr) -> (String, bool) {
    let macs = config.sequencer.stamp_macs();
    if macs.is_empty() {
        (
            format!(
                "; replicas check no stamp MAC (to have DPDK replicas check: [sequencer] \
                 macs = [\"{mac}\"])"
            ),
            false,
        )
    } else if macs.contains(&mac) {
        (
            "; replicas on DPDK take stamps only from [sequencer] macs".into(),
            false,
        )
    } else {
        (
            format!(
                "; [sequencer] macs does not list this port's MAC {mac}: replicas on DPDK \
                 will refuse every stamp as stranger_stamp (add \"{mac}\" to macs)"
            ),
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use dataplane::config::SequencerKind;

    use super::*;

    #[test]
    fn the_mac_note_gives_the_mac_to_copy_and_flags_a_missing_one() {
        let mut c = ClusterConfig::local(3, 51000, Ipv4Addr::new(10, 0, 0, 100));
        c.sequencer.kind = SequencerKind::Dpdk;
        let mac = MacAddr([2, 0, 0, 0, 0, 0x64]);
        let (note, wrong) = mac_note(&c, mac);
        assert!(
            note.contains("macs = [\"02:00:00:00:00:64\"]") && !wrong,
            "{note}"
        );
        c.sequencer.macs = vec!["02:00:00:00:00:64".into()];
        assert!(!mac_note(&c, mac).1);
        let (note, wrong) = mac_note(&c, MacAddr([2, 0, 0, 0, 0, 0x65]));
        assert!(note.contains("02:00:00:00:00:65") && wrong, "{note}");
    }
}
