//! Drivers: run a sans-IO protocol core over real packet I/O.

pub mod udp;

use std::net::SocketAddrV4;

use dataplane::config::ClusterConfig;
use dataplane::oum::{AuthError, OUM_AUTHENTICATED_HEADER_SIZE, StampKey};
use dataplane::wire::{MacAddr, OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE};

use protocols::{AddressBook, Destination};

/// Whether `datagram` claims a sequencer's stamp: the OUM preamble and header size 10, or
/// 18 with a tag. Truncated headers are not stamps (the core counts them as malformed).
#[inline]
fn is_stamp(datagram: &[u8]) -> bool {
    if !datagram.starts_with(&OUM_PREAMBLE) {
        return false;
    }
    let sequenced = OUM_SEQUENCED_HEADER_SIZE.to_be_bytes();
    let sealed = OUM_AUTHENTICATED_HEADER_SIZE.to_be_bytes();
    matches!(datagram.get(4..6), Some(size) if size == sequenced || size == sealed)
}

/// Where the driven node's datagrams go (its [`AddressBook`]), and which stamps it takes.
#[derive(Debug, Clone)]
pub struct Addresses {
    book: AddressBook,
    /// The replica index of the node being driven, if it is a replica.
    me: Option<usize>,
    /// The only sources a replica takes stamped datagrams from: the group sockets of a
    /// kernel-UDP sequencer. Empty when the config's sequencer forwards with the client's
    /// source address (DPDK, switch) or when the node is not a replica (docs/operations.md,
    /// "Who may stamp").
    stamp_sources: Vec<SocketAddrV4>,
    /// The only Ethernet sources a replica takes stamped frames from, on a backend that
    /// sees frames (DPDK): the DPDK sequencers' port MACs, `[sequencer] macs`, which they
    /// write as the source of every stamped copy. Empty: no MAC check.
    stamp_macs: Vec<MacAddr>,
    /// The replicated group's (`groups[0]`) stamp key, for a replica whose config gives
    /// one: then only stamps with a valid tag reach the core (docs/operations.md,
    /// "Authenticated stamps").
    stamp_key: Option<StampKey>,
    /// Whether any of the three checks above is on, so the driver's loop can hand every
    /// datagram straight to the core when none is.
    checks_stamps: bool,
}

/// Why a driver dropped a datagram before the core saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A stamp from a source that is no group socket of a kernel-UDP sequencer, or (on
    /// DPDK) from an Ethernet source that is none of `[sequencer] macs`.
    StrangerStamp,
    /// A stamp without a tag (header size 10) for a keyed group.
    MissingTag,
    /// A stamp whose tag is wrong: forged, altered, or made with another key.
    BadTag,
}

/// What a driver refused, by reason; printed on the replica's stats line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RefusalCounts {
    pub stranger_stamp: u64,
    pub missing_tag: u64,
    pub bad_tag: u64,
}

impl RefusalCounts {
    pub fn add(&mut self, refusal: Refusal) {
        match refusal {
            Refusal::StrangerStamp => self.stranger_stamp += 1,
            Refusal::MissingTag => self.missing_tag += 1,
            Refusal::BadTag => self.bad_tag += 1,
        }
    }
}

impl Addresses {
    /// Fails only if the replicated group's key, set after the config was read, is not one.
    pub fn new(config: &ClusterConfig, me: Option<usize>) -> Result<Addresses, String> {
        let stamp_key = match (me, config.groups.first()) {
            (Some(_), Some(group)) => group.stamp_key()?,
            _ => None,
        };
        let mut addresses = Addresses {
            book: AddressBook::new(config),
            me,
            stamp_sources: match me {
                Some(_) if config.sequencer.kind.stamps_from_group_socket() => config
                    .groups
                    .iter()
                    .map(|g| config.group_socket(g))
                    .collect(),
                _ => Vec::new(),
            },
            stamp_macs: match me {
                Some(_) => config.sequencer.stamp_macs(),
                None => Vec::new(),
            },
            stamp_key,
            checks_stamps: false,
        };
        addresses.checks_stamps = !addresses.stamp_sources.is_empty()
            || !addresses.stamp_macs.is_empty()
            || addresses.stamp_key.is_some();
        Ok(addresses)
    }

    /// Whether the driver must pass `datagram` through [`admit`](Self::admit) before the
    /// core sees it: a stamp, with some check configured. Everything else goes straight to
    /// the core, so a replica with no check, and every datagram that is not a stamp, pay
    /// one flag test (and a prefix compare) on the per-request path.
    #[inline]
    pub fn must_admit(&self, datagram: &[u8]) -> bool {
        self.checks_stamps && is_stamp(datagram)
    }

    /// Whether the driver may hand `datagram` from `from` (and, on DPDK, from Ethernet
    /// source `src_mac`) to the core, and how many of its bytes: a stamp from a stranger
    /// (see [`stamp_source_ok`](Self::stamp_source_ok)) is
    /// refused; with a key, a stamp is taken only with a valid tag, and is then rewritten
    /// in place as the plain stamped datagram the cores know (header size 10, no trailer),
    /// so they never see a tag. Anything that is not a stamp passes unchanged, to be
    /// judged (and counted) by the core. Allocates nothing; never panics.
    #[inline]
    pub fn admit(
        &self,
        from: SocketAddrV4,
        src_mac: Option<MacAddr>,
        datagram: &mut [u8],
    ) -> Result<usize, Refusal> {
        if !is_stamp(datagram) {
            // Unstamped, protocol messages, truncated headers: the core's to judge.
            return Ok(datagram.len());
        }
        self.admit_stamp(from, src_mac, datagram)
    }

    /// [`admit`](Self::admit) for a datagram [`must_admit`](Self::must_admit) found to be a
    /// stamp (the driver's per-request path, which tests that first).
    #[inline]
    pub fn admit_stamp(
        &self,
        from: SocketAddrV4,
        src_mac: Option<MacAddr>,
        datagram: &mut [u8],
    ) -> Result<usize, Refusal> {
        if !self.stamp_from_sequencer(from, src_mac) {
            return Err(Refusal::StrangerStamp);
        }
        let Some(key) = &self.stamp_key else {
            return Ok(datagram.len());
        };
        // The replicated group is group 0 (the config puts every replica in it).
        match key.open(0, datagram) {
            Ok(len) => Ok(len),
            Err(AuthError::MissingTag) => Err(Refusal::MissingTag),
            Err(AuthError::BadTag) => Err(Refusal::BadTag),
            // Unstamped, or too short for a header and a tag: the core's to count.
            Err(AuthError::NotStamped | AuthError::Malformed) => Ok(datagram.len()),
        }
    }

    /// Whether stamps must carry a valid tag.
    pub fn requires_tags(&self) -> bool {
        self.stamp_key.is_some()
    }

    /// Whether the driver may hand `datagram` from `from` to the core: false only for a
    /// stamped OUM datagram (header size 10, or 18 with a tag) from an address that is no
    /// group socket, when the sequencer is a kernel-UDP end host, or from an Ethernet
    /// source (`src_mac`, known on DPDK only) that is none of the DPDK sequencers' MACs,
    /// when they are configured. Anything else passes, to be judged (and counted) by the
    /// core. Cheap: with neither list, two length tests; else a prefix compare, then a scan
    /// of a few entries.
    #[inline]
    pub fn stamp_source_ok(
        &self,
        from: SocketAddrV4,
        src_mac: Option<MacAddr>,
        datagram: &[u8],
    ) -> bool {
        (self.stamp_sources.is_empty() && self.stamp_macs.is_empty())
            || !is_stamp(datagram)
            || self.stamp_from_sequencer(from, src_mac)
    }

    /// The source half of [`stamp_source_ok`](Self::stamp_source_ok), for a datagram known
    /// to be a stamp.
    #[inline]
    fn stamp_from_sequencer(&self, from: SocketAddrV4, src_mac: Option<MacAddr>) -> bool {
        if !self.stamp_sources.is_empty() && !self.stamp_sources.contains(&from) {
            return false;
        }
        // A kernel socket shows no MAC: there only the address (above) or the network can
        // judge (docs/operations.md, "Who may stamp").
        match src_mac {
            Some(mac) if !self.stamp_macs.is_empty() => self.stamp_macs.contains(&mac),
            _ => true,
        }
    }

    /// The Ethernet sources stamps are taken from on DPDK; empty when not checked.
    pub fn stamp_macs(&self) -> &[MacAddr] {
        &self.stamp_macs
    }

    /// The replica index of the node being driven, if it is a replica.
    pub fn me(&self) -> Option<usize> {
        self.me
    }

    /// Calls `each` with every address `destination` stands for, in a datagram from the
    /// driven node.
    #[inline]
    pub fn resolve(&self, destination: Destination, each: impl FnMut(SocketAddrV4)) {
        self.book.resolve(destination, self.me, each);
    }
}

#[cfg(test)]
mod tests;
