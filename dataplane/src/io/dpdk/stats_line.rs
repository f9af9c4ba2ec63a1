//! The DPDK backend's and device's counters on one line, which every process on DPDK
//! appends to its stats line.

use super::{DpdkIo, Port};

/// The backend's counters and the device's on one line (appended to the stats line).
pub fn dpdk_stats_line(io: &DpdkIo, port: &Port) -> String {
    let s = io.dpdk_stats();
    let mut line = format!(
        " dpdk: rx={} tx={} tx_errors={} arp_replies={} arp_requests={} arp_learned={}",
        s.io.rx_packets,
        s.io.tx_packets,
        s.io.tx_errors,
        s.arp_replies_sent,
        s.arp_requests_sent,
        s.arp_learned
    );
    for (reason, n) in s.drops.nonzero() {
        line.push_str(&format!(" {reason}={n}"));
    }
    if let Ok(d) = port.device_stats() {
        line.push_str(&format!(
            " port{}: rx={} tx={} missed={} rx_errors={} tx_errors={} no_mbuf={}",
            port.id(),
            d.rx_packets,
            d.tx_packets,
            d.rx_missed,
            d.rx_errors,
            d.tx_errors,
            d.rx_no_mbuf
        ));
    }
    line
}
