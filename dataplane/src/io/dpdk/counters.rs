use std::fmt;

/// Why a DPDK backend dropped a frame before (or instead of) handing it on. Stable names,
/// printed in counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameDrop {
    /// More than one segment: a jumbo frame or a scattered receive. We handle single-mbuf
    /// frames only (a standard MTU fits one default mbuf).
    MultiSegment,
    /// Shorter than an Ethernet header.
    Runt,
    /// EtherType neither IPv4 nor ARP (IPv6, VLAN-tagged, ...).
    NotIpv4,
    /// Truncated or inconsistent IPv4 header (version, IHL, total length).
    MalformedIpv4,
    Ipv4Fragment,
    NotUdp,
    /// UDP header truncated or its length inconsistent with the IPv4 payload.
    MalformedUdp,
    /// IPv4 destination is none of our addresses.
    NotOurAddress,
    /// Our address, but not one of our UDP ports.
    WrongPort,
    /// An ARP packet that is malformed or neither a request for us nor a reply.
    ArpIgnored,
    /// The transmit queue was full.
    TxQueueFull,
    /// The mbuf pool was empty (a copy, a header or a reply could not be made).
    NoMbuf,
    /// No MAC known for the destination yet (an ARP request was sent).
    NoArpEntry,
    /// A datagram to send did not fit in front of the headroom or the frame.
    TxTooLarge,
}

impl FrameDrop {
    pub const COUNT: usize = 14;
    pub const ALL: [FrameDrop; FrameDrop::COUNT] = [
        FrameDrop::MultiSegment,
        FrameDrop::Runt,
        FrameDrop::NotIpv4,
        FrameDrop::MalformedIpv4,
        FrameDrop::Ipv4Fragment,
        FrameDrop::NotUdp,
        FrameDrop::MalformedUdp,
        FrameDrop::NotOurAddress,
        FrameDrop::WrongPort,
        FrameDrop::ArpIgnored,
        FrameDrop::TxQueueFull,
        FrameDrop::NoMbuf,
        FrameDrop::NoArpEntry,
        FrameDrop::TxTooLarge,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            FrameDrop::MultiSegment => "multi-segment",
            FrameDrop::Runt => "runt",
            FrameDrop::NotIpv4 => "not-ipv4",
            FrameDrop::MalformedIpv4 => "malformed-ipv4",
            FrameDrop::Ipv4Fragment => "ipv4-fragment",
            FrameDrop::NotUdp => "not-udp",
            FrameDrop::MalformedUdp => "malformed-udp",
            FrameDrop::NotOurAddress => "not-our-address",
            FrameDrop::WrongPort => "wrong-port",
            FrameDrop::ArpIgnored => "arp-ignored",
            FrameDrop::TxQueueFull => "tx-queue-full",
            FrameDrop::NoMbuf => "no-mbuf",
            FrameDrop::NoArpEntry => "no-arp-entry",
            FrameDrop::TxTooLarge => "tx-too-large",
        }
    }
}

impl fmt::Display for FrameDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A counter per [`FrameDrop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameDropCounts([u64; FrameDrop::COUNT]);

impl FrameDropCounts {
    pub fn add(&mut self, reason: FrameDrop) {
        self.add_n(reason, 1);
    }

    pub fn add_n(&mut self, reason: FrameDrop, n: u64) {
        self.0[reason as usize] += n;
    }

    pub fn get(&self, reason: FrameDrop) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn nonzero(&self) -> impl Iterator<Item = (FrameDrop, u64)> + '_ {
        FrameDrop::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, r) in FrameDrop::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i);
        }
        let mut c = FrameDropCounts::default();
        c.add(FrameDrop::Runt);
        c.add_n(FrameDrop::NoMbuf, 2);
        assert_eq!(c.total(), 3);
        assert_eq!(c.nonzero().count(), 2);
    }
}
