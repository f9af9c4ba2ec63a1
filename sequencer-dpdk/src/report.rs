//! Human-readable counters.

use std::fmt::Write as _;

use dataplane::config::ClusterConfig;
use dataplane::io::IoStats;
use dataplane::oum::SequencerStats;

/// The full report printed at exit (and on SIGINT).
pub fn final_report(config: &ClusterConfig, stats: &SequencerStats, io: Option<IoStats>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sequencer: session {}, {} stamped, {} dropped",
        stats.session,
        stats.stamped(),
        stats.drops.total()
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
        stats.drops.total()
    );
    for (reason, count) in stats.drops.nonzero() {
        let _ = write!(line, " {reason}={count}");
    }
    line
}
