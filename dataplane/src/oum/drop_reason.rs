use std::fmt;

/// Why a sequencer did not stamp a packet. The names are part of the golden vectors and of
/// every sequencer's counters (Rust, P4, C): keep them stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Shorter than an Ethernet header.
    TruncatedEthernet,
    /// EtherType is not IPv4 (VLAN-tagged frames included).
    NotIpv4,
    /// IPv4 header that is truncated or inconsistent (version, IHL, total length).
    MalformedIpv4,
    /// A fragment of a larger IPv4 datagram.
    Ipv4Fragment,
    /// IPv4 protocol is not UDP.
    NotUdp,
    /// UDP header truncated or its length field inconsistent.
    MalformedUdp,
    /// UDP destination port is not the OUM port.
    NotOumPort,
    /// UDP payload shorter than the 16-byte OUM header.
    TruncatedOum,
    /// OUM preamble is not 18 03 05 20.
    BadPreamble,
    /// Header size says "sequenced" already: never stamp twice.
    AlreadySequenced,
    /// Header size is neither 0 nor 10.
    BadHeaderSize,
    /// Destination address is not a configured group.
    UnknownGroup,
    /// The group's message number reached 2^64-1; the session must end first.
    CounterExhausted,
}

impl DropReason {
    pub const COUNT: usize = 13;
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::TruncatedEthernet,
        DropReason::NotIpv4,
        DropReason::MalformedIpv4,
        DropReason::Ipv4Fragment,
        DropReason::NotUdp,
        DropReason::MalformedUdp,
        DropReason::NotOumPort,
        DropReason::TruncatedOum,
        DropReason::BadPreamble,
        DropReason::AlreadySequenced,
        DropReason::BadHeaderSize,
        DropReason::UnknownGroup,
        DropReason::CounterExhausted,
    ];

    /// The stable kebab-case name used in golden vectors and counters.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::TruncatedEthernet => "truncated-ethernet",
            DropReason::NotIpv4 => "not-ipv4",
            DropReason::MalformedIpv4 => "malformed-ipv4",
            DropReason::Ipv4Fragment => "ipv4-fragment",
            DropReason::NotUdp => "not-udp",
            DropReason::MalformedUdp => "malformed-udp",
            DropReason::NotOumPort => "not-oum-port",
            DropReason::TruncatedOum => "truncated-oum",
            DropReason::BadPreamble => "bad-preamble",
            DropReason::AlreadySequenced => "already-sequenced",
            DropReason::BadHeaderSize => "bad-header-size",
            DropReason::UnknownGroup => "unknown-group",
            DropReason::CounterExhausted => "counter-exhausted",
        }
    }

    pub fn from_name(name: &str) -> Option<DropReason> {
        DropReason::ALL.into_iter().find(|r| r.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A counter per [`DropReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropCounts([u64; DropReason::COUNT]);

impl DropCounts {
    pub fn add(&mut self, reason: DropReason) {
        self.0[reason.index()] += 1;
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Reasons with a non-zero count, in declaration order.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indexes_match_all() {
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(DropReason::from_name(r.name()), Some(r));
        }
        assert_eq!(DropReason::from_name("no-such-reason"), None);
    }
}
