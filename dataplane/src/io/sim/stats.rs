//! Network-wide counters: every datagram copy is accounted for exactly once.

/// What the simulated network did with the datagrams handed to it. Every copy ends in
/// exactly one bucket, so a test or a replay can check that nothing vanished unexplained:
///
/// `sent + duplicated == delivered + lost + blocked_by_partition + to_down_host +
/// from_down_host + undeliverable + discarded_by_crash + socket_buffer_full + in_flight`
/// (see [`SimStats::unaccounted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Datagrams handed to the network by `send_burst` (with a valid source endpoint).
    pub sent: u64,
    /// Copies handed to their receiver by `recv_burst`.
    pub delivered: u64,
    /// Datagrams dropped by the link's loss probability.
    pub lost: u64,
    /// Extra copies made by the link's duplicate probability.
    pub duplicated: u64,
    /// Datagrams dropped at send time because a partition or isolation separated the hosts.
    pub blocked_by_partition: u64,
    /// Datagrams sent to a host that was down at send time.
    pub to_down_host: u64,
    /// Datagrams sent by a host that was down (a crashed process sends nothing).
    pub from_down_host: u64,
    /// Datagrams sent to an address no host owns, dropped as UDP would.
    pub undeliverable: u64,
    /// Copies in flight to a host when it crashed.
    pub discarded_by_crash: u64,
    /// Copies that reached a paused host whose socket buffer was full.
    pub socket_buffer_full: u64,
}

impl SimStats {
    /// Copies neither delivered nor dropped: those still in flight. `None` if the buckets do
    /// not add up (a bug in the network, which tests check for).
    pub fn unaccounted(&self) -> Option<u64> {
        let copies = self.sent.checked_add(self.duplicated)?;
        let settled = [
            self.delivered,
            self.lost,
            self.blocked_by_partition,
            self.to_down_host,
            self.from_down_host,
            self.undeliverable,
            self.discarded_by_crash,
            self.socket_buffer_full,
        ]
        .into_iter()
        .try_fold(0u64, u64::checked_add)?;
        copies.checked_sub(settled)
    }
}
