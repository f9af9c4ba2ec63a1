//! The stamping core shared by every software sequencer (kernel UDP, DPDK, pcap replay).

use std::net::Ipv4Addr;

use super::auth::{AUTH_TAG_LEN, StampKey};
use super::plain_frame::{self, PlainFrame, address_key};
use super::{DropCounts, DropReason, SessionNumber, Stamp};
use crate::wire::{
    ETHERNET_HEADER_LEN, EtherType, EthernetFrame, IpProtocol, Ipv4Packet,
    OUM_SEQUENCED_HEADER_SIZE, OUM_UNSEQUENCED_HEADER_SIZE, OumPacket, UDP_HEADER_LEN, UdpPacket,
};

/// Index of a group in the sequencer's configuration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u16);

/// One OUM group: the IPv4 address clients send its requests to, and its members (replica
/// indexes, or output ports on a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub address: Ipv4Addr,
    pub members: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequencerError {
    #[error("group address {0} is configured twice; every group needs its own address")]
    DuplicateGroupAddress(Ipv4Addr),
    #[error("{0} groups configured; at most 65536 are supported")]
    TooManyGroups(usize),
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Stamped in place: send a copy to every member of `group`.
    Multicast { group: GroupId, stamp: Stamp },
    /// Not stamped; drop it.
    Drop(DropReason),
}

#[derive(Debug)]
struct GroupState {
    address: Ipv4Addr,
    members: Box<[u16]>,
    /// Last message number handed out in this session; 0 before the first.
    last: u64,
    stamped: u64,
}

/// A group's authenticated-stamp state, kept apart from [`GroupState`] so that the
/// unkeyed fast path touches exactly the bytes it touched before keys existed.
#[derive(Debug, Default)]
struct GroupSeal {
    /// With a key, every stamp of the group carries a tag (docs/wire-format.md,
    /// "Authenticated stamps").
    key: Option<StampKey>,
    /// Bytes a stamp needs after the datagram: [`AUTH_TAG_LEN`] with a key, else 0, so the
    /// fast path checks room with one compare whether the group is keyed or not (and not
    /// at all when the caller passes no room limit).
    tag_room: usize,
    /// Requests of a keyed group refused because no tag fits after them.
    too_big_for_tag: u64,
}

/// Counters of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStats {
    pub address: Ipv4Addr,
    pub last_msgnum: u64,
    /// Packets stamped since the sequencer started, across sessions.
    pub stamped: u64,
    /// Requests refused (not stamped, no number used) because the group's tag would not
    /// fit after them: the reason `too-big-for-tag`, counted apart from [`DropReason`],
    /// whose numbering the C core and the golden vectors share.
    pub too_big_for_tag: u64,
}

/// A snapshot of a sequencer's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencerStats {
    pub session: SessionNumber,
    pub groups: Vec<GroupStats>,
    pub drops: DropCounts,
}

impl SequencerStats {
    pub fn stamped(&self) -> u64 {
        self.groups.iter().map(|g| g.stamped).sum()
    }

    pub fn too_big_for_tag(&self) -> u64 {
        self.groups.iter().map(|g| g.too_big_for_tag).sum()
    }
}

/// Stamps OUM requests: per-group message numbers 1, 2, 3, ... within the current session.
///
/// Checks run in a fixed order and the first failure is the drop reason: Ethernet, IPv4,
/// UDP, OUM port, OUM header length, preamble, header size, group, counter
/// (docs/wire-format.md). Nothing but the OUM header's last 12 bytes and the UDP checksum
/// is written, and only for a packet that is stamped.
#[derive(Debug)]
pub struct Sequencer {
    session: SessionNumber,
    /// The OUM header's bytes 4..8 once stamped: header size 10 and the session, both
    /// big-endian, kept ready so a stamp writes them with one store.
    sequenced: [u8; 4],
    oum_port: u16,
    plain: PlainFrame,
    /// (address key, group) sorted by key, for a search per packet (linear while there are
    /// few groups); the key is `plain_frame::address_key`.
    by_address: Box<[(u32, GroupId)]>,
    /// The (address key, group) the fast path met last. Checked before any search: on a
    /// busy group the next request almost always goes to the same group, and a compare
    /// against a remembered key lets the core go on by branch prediction instead of
    /// waiting for a search over the frame's address. Without groups it names group
    /// 65535, which does not exist, so the fast path declines.
    recent: (u32, GroupId),
    groups: Box<[GroupState]>,
    /// Per group, as `groups`.
    auth: Box<[GroupSeal]>,
    drops: DropCounts,
}

impl Sequencer {
    pub fn new(
        session: SessionNumber,
        oum_port: u16,
        groups: &[GroupSpec],
    ) -> Result<Sequencer, SequencerError> {
        if groups.len() > usize::from(u16::MAX) + 1 {
            return Err(SequencerError::TooManyGroups(groups.len()));
        }
        let mut by_address: Vec<(u32, GroupId)> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (address_key(g.address.octets()), GroupId(i as u16)))
            .collect();
        by_address.sort_unstable();
        if let Some(w) = by_address.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(SequencerError::DuplicateGroupAddress(Ipv4Addr::from(
                w[0].0.to_ne_bytes(),
            )));
        }
        let groups: Box<[GroupState]> = groups
            .iter()
            .map(|g| GroupState {
                address: g.address,
                members: g.members.clone().into_boxed_slice(),
                last: 0,
                stamped: 0,
            })
            .collect();
        let auth = (0..groups.len()).map(|_| GroupSeal::default()).collect();
        Ok(Sequencer {
            session,
            sequenced: sequenced_word(session),
            oum_port,
            plain: PlainFrame::new(oum_port),
            recent: by_address
                .first()
                .copied()
                .unwrap_or((0, GroupId(u16::MAX))),
            by_address: by_address.into_boxed_slice(),
            groups,
            auth,
            drops: DropCounts::default(),
        })
    }

    pub fn session(&self) -> SessionNumber {
        self.session
    }

    pub fn oum_port(&self) -> u16 {
        self.oum_port
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Starts a new session: every group's message numbers begin again at 1. The caller
    /// makes sure `session` was never used before (the `sequencer` binary persists it first).
    pub fn start_session(&mut self, session: SessionNumber) {
        self.session = session;
        self.sequenced = sequenced_word(session);
        for g in self.groups.iter_mut() {
            g.last = 0;
        }
    }

    /// Sets the last message number a group handed out in this session, as a control plane
    /// restoring state would; the next packet gets `last + 1`.
    pub fn set_last_msgnum(&mut self, group: GroupId, last: u64) -> bool {
        match self.groups.get_mut(usize::from(group.0)) {
            Some(g) => {
                g.last = last;
                true
            }
            None => false,
        }
    }

    /// Gives `group` a stamp key (its stamps then carry a tag) or takes it away; false for
    /// an unknown group.
    pub fn set_key(&mut self, group: GroupId, key: Option<StampKey>) -> bool {
        match self.auth.get_mut(usize::from(group.0)) {
            Some(g) => {
                g.tag_room = if key.is_some() { AUTH_TAG_LEN } else { 0 };
                g.key = key;
                true
            }
            None => false,
        }
    }

    /// Whether `group`'s stamps carry a tag.
    #[inline]
    pub fn seals(&self, group: GroupId) -> bool {
        self.auth
            .get(usize::from(group.0))
            .is_some_and(|g| g.key.is_some())
    }

    /// Appends the tag to a datagram of a keyed `group` just stamped by this sequencer:
    /// `datagram` is the stamped datagram followed by [`AUTH_TAG_LEN`] spare bytes. False
    /// (nothing written) for an unkeyed group or a datagram that is not a plain stamp.
    pub fn seal_datagram(&self, group: GroupId, datagram: &mut [u8]) -> bool {
        match self
            .auth
            .get(usize::from(group.0))
            .and_then(|g| g.key.as_ref())
        {
            Some(key) => key.seal(group.0, datagram).is_ok(),
            None => false,
        }
    }

    /// Appends the tag to an Ethernet frame of a keyed `group` just stamped by this
    /// sequencer, whose buffer `frame` has at least [`AUTH_TAG_LEN`] bytes after the
    /// frame's UDP datagram: the tag goes right after the UDP payload (over any Ethernet
    /// padding or IPv4 trailer, which are dropped), the UDP length grows by 8, the IPv4
    /// total length becomes IPv4 header + UDP length and the IPv4 checksum is updated; the UDP checksum stays 0 ("none"),
    /// as stamping left it. Returns the frame's new length, or None (nothing written) for
    /// an unkeyed group or a frame that is not a stamped IPv4/UDP one.
    pub fn seal_frame(&self, group: GroupId, frame: &mut [u8]) -> Option<usize> {
        let key = self.auth.get(usize::from(group.0))?.key.as_ref()?;
        super::seal_frame::seal(key, group.0, frame)
    }

    /// The last message number `group` handed out in this session (0: none yet).
    pub fn last_msgnum(&self, group: GroupId) -> Option<u64> {
        self.groups.get(usize::from(group.0)).map(|g| g.last)
    }

    /// True once some group has handed out message number 2^64-1: only a new session lets
    /// that group's traffic through again.
    pub fn needs_new_session(&self) -> bool {
        self.groups.iter().any(|g| g.last == u64::MAX)
    }

    pub fn group_by_address(&self, address: Ipv4Addr) -> Option<GroupId> {
        self.group_by_key(address_key(address.octets()))
    }

    #[inline(always)]
    fn group_by_key(&self, key: u32) -> Option<GroupId> {
        // A scan of a few entries costs less than a binary search's dependent steps.
        const SCAN: usize = 8;
        if self.by_address.len() <= SCAN {
            return self
                .by_address
                .iter()
                .find(|&&(a, _)| a == key)
                .map(|&(_, g)| g);
        }
        self.by_address
            .binary_search_by_key(&key, |&(a, _)| a)
            .ok()
            .and_then(|i| self.by_address.get(i))
            .map(|&(_, g)| g)
    }

    pub fn group_address(&self, group: GroupId) -> Option<Ipv4Addr> {
        self.groups.get(usize::from(group.0)).map(|g| g.address)
    }

    /// The members a stamped packet of `group` goes to; empty for an unknown group.
    pub fn members(&self, group: GroupId) -> &[u16] {
        self.groups
            .get(usize::from(group.0))
            .map_or(&[], |g| &g.members)
    }

    pub fn stats(&self) -> SequencerStats {
        SequencerStats {
            session: self.session,
            groups: self
                .groups
                .iter()
                .zip(self.auth.iter())
                .map(|(g, seal)| GroupStats {
                    address: g.address,
                    last_msgnum: g.last,
                    stamped: g.stamped,
                    too_big_for_tag: seal.too_big_for_tag,
                })
                .collect(),
            drops: self.drops,
        }
    }

    /// Stamps an Ethernet frame in place, as a sequencer on raw frames (DPDK, a pcap file)
    /// does: the group is the IPv4 destination address, and the UDP checksum is set to zero
    /// ("none") since the stamp changed the payload.
    /// Keyed groups are stamped as if a tag fitted: a caller that seals uses
    /// [`stamp_frame_in`](Self::stamp_frame_in).
    #[inline]
    pub fn stamp_frame(&mut self, frame: &mut [u8]) -> Verdict {
        self.stamp_frame_in(frame, usize::MAX)
            .unwrap_or(Verdict::Drop(DropReason::UnknownGroup))
    }

    /// [`stamp_frame`](Self::stamp_frame) for a frame with `room` spare bytes after it.
    /// None: the frame is a request of a keyed group and the tag would not fit; it is left
    /// unstamped, no number is used, and it is counted in the group's `too_big_for_tag`.
    /// The tag fits when the buffer (frame and room) holds the frame up to the end of its
    /// UDP datagram and 8 bytes more, and the IPv4 header, UDP length and tag together
    /// are at most 65535 bytes: the tag replaces any Ethernet padding or IPv4 trailer, as
    /// [`seal_frame`](Self::seal_frame) does. The C core refuses exactly these frames, as
    /// `no-room-for-tag`; both check an exhausted counter first.
    #[inline]
    pub fn stamp_frame_in(&mut self, frame: &mut [u8], room: usize) -> Option<Verdict> {
        match self.stamp_common(frame, room) {
            Some((group, msgnum)) => Some(Verdict::Multicast {
                group,
                stamp: Stamp {
                    session: self.session,
                    msgnum,
                },
            }),
            None => self.stamp_unusual(frame, room),
        }
    }

    /// Stamps a burst of frames; `verdicts` is cleared and receives one verdict per frame.
    pub fn stamp_burst<F: AsMut<[u8]>>(&mut self, frames: &mut [F], verdicts: &mut Vec<Verdict>) {
        verdicts.clear();
        verdicts.extend(frames.iter_mut().map(|f| self.stamp_frame(f.as_mut())));
    }

    /// Stamps a UDP payload received on `group`'s socket, as the kernel-UDP sequencer does:
    /// the kernel already checked the IP and UDP headers and picked the group by address.
    /// Keyed groups are stamped as if a tag fitted: a caller that seals uses
    /// [`stamp_datagram_in`](Self::stamp_datagram_in).
    pub fn stamp_datagram(&mut self, group: GroupId, payload: &mut [u8]) -> Verdict {
        self.stamp_datagram_in(group, payload, usize::MAX)
            .unwrap_or(Verdict::Drop(DropReason::UnknownGroup))
    }

    /// [`stamp_datagram`](Self::stamp_datagram) for a datagram with `room` spare bytes
    /// after it in its buffer. None: a keyed group's tag would not fit; the datagram is
    /// left unstamped, no number is used, and it is counted in `too_big_for_tag`.
    pub fn stamp_datagram_in(
        &mut self,
        group: GroupId,
        payload: &mut [u8],
        room: usize,
    ) -> Option<Verdict> {
        let verdict = match self.stamp_oum(Some(group), payload, room) {
            Ok(Some((group, stamp))) => Verdict::Multicast { group, stamp },
            Ok(None) => return None,
            Err(reason) => Verdict::Drop(reason),
        };
        if let Verdict::Drop(reason) = verdict {
            self.drops.add(reason);
        }
        Some(verdict)
    }

    /// The fast path of [`stamp_frame`](Self::stamp_frame), for a caller that handles
    /// the common frame inline: an Ethernet II frame carrying IPv4 without options, not a
    /// fragment, UDP to the OUM port, an unsequenced OUM header, lengths that fill the
    /// frame exactly (no Ethernet padding), to a known group whose counter is not
    /// exhausted. Such a frame is stamped with exactly the writes the full
    /// parser makes and its group returned (the IPv4 header is 20 bytes). For anything else
    /// it returns `None` having written and counted nothing: pass the frame to
    /// `stamp_frame`, which decides and counts.
    ///
    /// Why a separate path: on DPDK, stamping is what the sequencer adds to plain
    /// forwarding (docs/benchmarks.md), and this one does it in a few dozen instructions.
    /// `fast_path_agrees_with_the_parser` checks that both paths give the same verdicts,
    /// bytes and counters on every truncation and on byte changes at every offset, and the
    /// fuzz target `sequencer_frame` on whatever it generates.
    #[inline(always)]
    pub fn stamp_plain(&mut self, frame: &mut [u8]) -> Option<GroupId> {
        self.stamp_plain_in(frame, usize::MAX)
    }

    /// [`stamp_plain`](Self::stamp_plain) for a frame with `room` spare bytes after it:
    /// it also declines (writing and counting nothing) a request of a keyed group with no
    /// room for the tag, which [`stamp_frame_in`](Self::stamp_frame_in) then refuses and
    /// counts. A stamp of a keyed group still needs [`seal_frame`](Self::seal_frame).
    #[inline(always)]
    pub fn stamp_plain_in(&mut self, frame: &mut [u8], room: usize) -> Option<GroupId> {
        self.stamp_common(frame, room).map(|(group, _)| group)
    }

    /// [`stamp_plain_in`](Self::stamp_plain_in), also returning the message number given.
    #[inline(always)]
    fn stamp_common(&mut self, frame: &mut [u8], room: usize) -> Option<(GroupId, u64)> {
        use plain_frame::{END, OUM, UDP};
        let len = frame.len();
        let f: &mut [u8; END] = frame.get_mut(..END)?.try_into().ok()?;
        let key = self.plain.destination(f, len)?;
        let group = match self.recent {
            (recent, group) if recent == key => group,
            _ => {
                let group = self.group_by_key(key)?;
                self.recent = (key, group);
                group
            }
        };
        // No room for a keyed group's tag, like an exhausted counter, is the parser's to
        // count. Unkeyed, `tag_room` is 0 and this compare never declines; with no room
        // limit (`stamp_plain`, room usize::MAX) the compiler drops it.
        // A plain frame ends with its UDP datagram, so the tag's room is the buffer's,
        // capped where the 16-bit IPv4 total length would overflow (destination() checked
        // that `len - 14` fits in 16 bits, so the subtraction does not wrap).
        let room = room.min(usize::from(u16::MAX) + ETHERNET_HEADER_LEN - len);
        if room < self.auth.get(usize::from(group.0))?.tag_room {
            return None;
        }
        let state = self.groups.get_mut(usize::from(group.0))?;
        let msgnum = state.last.checked_add(1)?;
        state.last = msgnum;
        state.stamped += 1;
        f[UDP + 6..UDP + 8].fill(0);
        f[OUM + 4..OUM + 8].copy_from_slice(&self.sequenced);
        f[OUM + 8..END].copy_from_slice(&msgnum.to_be_bytes());
        Some((group, msgnum))
    }

    /// [`stamp_frame`](Self::stamp_frame) without the fast path: every frame through the
    /// checked views. For the fuzz target and tests, which check that the two agree.
    #[doc(hidden)]
    pub fn stamp_frame_parsed(&mut self, frame: &mut [u8]) -> Verdict {
        self.stamp_unusual(frame, usize::MAX)
            .unwrap_or(Verdict::Drop(DropReason::UnknownGroup))
    }

    /// Everything but the common frame: kept out of line so the fast path stays small
    /// where it is inlined.
    #[inline(never)]
    fn stamp_unusual(&mut self, frame: &mut [u8], room: usize) -> Option<Verdict> {
        let verdict = self.try_stamp_parsed(frame, room)?;
        if let Verdict::Drop(reason) = verdict {
            self.drops.add(reason);
        }
        Some(verdict)
    }

    /// Stamps any frame, through the checked views of every layer. None: a keyed group's
    /// tag would not fit in `room` (counted, nothing written).
    fn try_stamp_parsed(&mut self, frame: &mut [u8], room: usize) -> Option<Verdict> {
        let drop = |reason| Some(Verdict::Drop(reason));
        let buffer_len = frame.len().saturating_add(room);
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return drop(DropReason::TruncatedEthernet);
        };
        if eth.ethertype() != EtherType::IPV4 {
            return drop(DropReason::NotIpv4);
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.into_payload()) else {
            return drop(DropReason::MalformedIpv4);
        };
        if ip.is_fragment() {
            return drop(DropReason::Ipv4Fragment);
        }
        if ip.protocol() != IpProtocol::UDP {
            return drop(DropReason::NotUdp);
        }
        let group = self.group_by_address(ip.dst_addr());
        let ip_header_len = ip.header_len();
        let Ok(mut udp) = UdpPacket::new_checked(ip.into_payload()) else {
            return drop(DropReason::MalformedUdp);
        };
        if udp.dst_port() != self.oum_port {
            return drop(DropReason::NotOumPort);
        }
        let (udp_header, payload) = udp.split_mut();
        // The tag replaces whatever follows the UDP datagram (Ethernet padding, an IPv4
        // trailer: `seal_frame`), so its room is the buffer's past the datagram, capped
        // where the 16-bit IPv4 total length would overflow.
        let ip_len = ip_header_len + UDP_HEADER_LEN + payload.len();
        let room = buffer_len
            .min(ETHERNET_HEADER_LEN + usize::from(u16::MAX))
            .saturating_sub(ETHERNET_HEADER_LEN + ip_len);
        match self.stamp_oum(group, payload, room) {
            Ok(Some((group, stamp))) => {
                udp_header.checksum.set(0);
                Some(Verdict::Multicast { group, stamp })
            }
            Ok(None) => None,
            Err(reason) => drop(reason),
        }
    }

    /// Stamps the OUM header at the start of `oum`. Ok(None): the group is keyed and
    /// `room` (spare bytes after the request) cannot take its tag; counted, nothing
    /// written, no number used.
    fn stamp_oum(
        &mut self,
        group: Option<GroupId>,
        oum: &mut [u8],
        room: usize,
    ) -> Result<Option<(GroupId, Stamp)>, DropReason> {
        let mut packet = OumPacket::new_checked(oum).map_err(|_| DropReason::TruncatedOum)?;
        if !packet.has_preamble() {
            return Err(DropReason::BadPreamble);
        }
        match packet.header_size() {
            OUM_UNSEQUENCED_HEADER_SIZE => {}
            OUM_SEQUENCED_HEADER_SIZE => return Err(DropReason::AlreadySequenced),
            _ => return Err(DropReason::BadHeaderSize),
        }
        let (group, state) = group
            .and_then(|g| Some((g, self.groups.get_mut(usize::from(g.0))?)))
            .ok_or(DropReason::UnknownGroup)?;
        if state.last == u64::MAX {
            return Err(DropReason::CounterExhausted);
        }
        if let Some(seal) = self.auth.get_mut(usize::from(group.0)) {
            if room < seal.tag_room {
                seal.too_big_for_tag += 1;
                return Ok(None);
            }
        }
        state.last += 1;
        state.stamped += 1;
        let stamp = Stamp {
            session: self.session,
            msgnum: state.last,
        };
        packet.header_mut().stamp(stamp);
        Ok(Some((group, stamp)))
    }
}

/// The OUM header's bytes 4..8 of a packet stamped in `session`.
fn sequenced_word(session: SessionNumber) -> [u8; 4] {
    let [a, b] = OUM_SEQUENCED_HEADER_SIZE.to_be_bytes();
    let [c, d] = session.0.to_be_bytes();
    [a, b, c, d]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OumRepr;
    use crate::wire::build::{UdpFrameSpec, oum_payload};

    const GROUP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    /// A sequencer whose group 1 is GROUP with `last` handed out, among `groups` groups in
    /// all (more than 8 takes the binary search), in `session`.
    fn sequencer_of(groups: u8, session: u16, last: u64) -> Sequencer {
        let groups: Vec<GroupSpec> = (0..groups)
            .map(|i| GroupSpec {
                address: match i {
                    1 => GROUP,
                    _ => Ipv4Addr::new(10, 0, i, 7),
                },
                members: vec![0, 1, 2],
            })
            .collect();
        let mut s = Sequencer::new(
            SessionNumber(session),
            crate::wire::OUM_DEFAULT_PORT,
            &groups,
        )
        .unwrap();
        s.set_last_msgnum(GroupId(1), last);
        s
    }

    fn sequencer(last: u64) -> Sequencer {
        sequencer_of(2, 9, last)
    }

    /// Both paths on a copy of `frame`, with sequencers in the same state: the same
    /// verdict, bytes and counters. And `stamp_plain` alone either stamps exactly as the
    /// parser does or leaves the frame and every counter as they were.
    fn agree_with(frame: &[u8], make: impl Fn() -> Sequencer) {
        let (mut a, mut b, mut c) = (make(), make(), make());
        let (mut fa, mut fb, mut fc) = (frame.to_vec(), frame.to_vec(), frame.to_vec());
        let va = a.stamp_frame(&mut fa);
        let vb = match b.try_stamp_parsed(&mut fb, usize::MAX).unwrap() {
            Verdict::Drop(reason) => {
                b.drops.add(reason);
                Verdict::Drop(reason)
            }
            v => v,
        };
        assert_eq!(va, vb, "{frame:02x?}");
        assert_eq!(fa, fb, "{frame:02x?}");
        assert_eq!(a.stats(), b.stats(), "{frame:02x?}");
        let before = c.stats();
        match c.stamp_plain(&mut fc) {
            Some(group) => {
                assert!(matches!(va, Verdict::Multicast { group: g, .. } if g == group));
                assert_eq!(fc, fa, "{frame:02x?}");
                assert_eq!(c.stats(), a.stats(), "{frame:02x?}");
            }
            None => {
                assert_eq!(fc, frame, "{frame:02x?}");
                assert_eq!(c.stats(), before, "{frame:02x?}");
            }
        }
    }

    fn agree(frame: &[u8], last: u64) {
        agree_with(frame, || sequencer(last));
    }

    fn request(dst_ip: Ipv4Addr, ip_options: Vec<u8>, body: usize) -> Vec<u8> {
        UdpFrameSpec {
            dst_ip,
            udp_checksum: true,
            ip_options,
            ..UdpFrameSpec::default()
        }
        .build(&oum_payload(OumRepr::Unsequenced, &vec![0x5a; body]))
        .unwrap()
    }

    #[test]
    fn fast_path_agrees_with_the_parser() {
        let mut frames = Vec::new();
        for body in [0, 1, 30] {
            for ip_options in [vec![], vec![1, 1, 1, 1]] {
                frames.push(request(GROUP, ip_options, body));
            }
        }
        let mut padded = frames[0].clone();
        padded.extend_from_slice(&[0; 6]);
        frames.push(padded);
        let mut df = frames[0].clone();
        df[14 + 6] = 0x40;
        df[14 + 10..14 + 12].fill(0);
        let sum = crate::wire::ipv4_header_checksum(&df[14..34]);
        df[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
        frames.push(df);
        let mut stamped = 0;
        let mut fast = 0;
        for frame in &frames {
            for last in [0, u64::MAX - 1, u64::MAX] {
                agree(frame, last);
                for cut in 0..frame.len() {
                    agree(&frame[..cut], last);
                }
            }
            for at in 0..frame.len() {
                let original = frame[at];
                for value in [0, 1, 0x05, 0x07, 0x0a, 0x11, 0x20, 0x3f, 0x40, 0x45, 0x46]
                    .into_iter()
                    .chain([0x64, 0x80, 0xff])
                    .chain([original.wrapping_add(1), original.wrapping_sub(1)])
                {
                    let mut changed = frame.clone();
                    changed[at] = value;
                    agree(&changed, 0);
                }
            }
            let mut s = sequencer(0);
            if matches!(s.stamp_frame(&mut frame.clone()), Verdict::Multicast { .. }) {
                stamped += 1;
            }
            if s.stamp_plain(&mut frame.clone()).is_some() {
                fast += 1;
            }
        }
        // Every unchanged frame is a valid request (the test covers the accepting path),
        // and the ones without IPv4 options or padding take the fast path.
        assert_eq!(stamped, frames.len());
        assert_eq!(fast, frames.len() - 4);
    }

    #[test]
    fn fast_path_agrees_on_group_tables_and_sessions() {
        for groups in [1u8, 2, 8, 9, 40] {
            for session in [0, 1, 0x1234, u16::MAX] {
                for dst in [
                    GROUP,
                    Ipv4Addr::new(10, 0, 0, 7),
                    Ipv4Addr::new(10, 0, 3, 7),
                ]
                .into_iter()
                .chain([Ipv4Addr::new(10, 0, 39, 7), Ipv4Addr::new(10, 0, 40, 7)])
                {
                    for last in [0, 41, u64::MAX - 1, u64::MAX] {
                        let frame = request(dst, vec![], 3);
                        agree_with(&frame, || sequencer_of(groups, session, last));
                    }
                }
            }
        }
        // A stream switching between groups (the remembered group changes), known and
        // unknown, through one sequencer per path.
        for groups in [1u8, 3, 12] {
            let (mut a, mut b) = (sequencer_of(groups, 7, 0), sequencer_of(groups, 7, 0));
            let mut seed = 99u32;
            for _ in 0..500 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let pick = (seed >> 16) as u8 % (groups + 1);
                let dst = match pick {
                    1 => GROUP,
                    _ => Ipv4Addr::new(10, 0, pick, 7),
                };
                let frame = request(dst, vec![], usize::from(pick));
                let (mut fa, mut fb) = (frame.clone(), frame.clone());
                let va = a.stamp_frame(&mut fa);
                let vb = match b.try_stamp_parsed(&mut fb, usize::MAX).unwrap() {
                    Verdict::Drop(reason) => {
                        b.drops.add(reason);
                        Verdict::Drop(reason)
                    }
                    v => v,
                };
                assert_eq!((va, &fa), (vb, &fb));
            }
            assert_eq!(a.stats(), b.stats());
        }
        // Without groups nothing is stamped, whatever the address.
        let mut none =
            Sequencer::new(SessionNumber(1), crate::wire::OUM_DEFAULT_PORT, &[]).unwrap();
        for dst in [GROUP, Ipv4Addr::UNSPECIFIED] {
            let mut frame = request(dst, vec![], 0);
            assert_eq!(none.stamp_plain(&mut frame), None);
            assert_eq!(
                none.stamp_frame(&mut frame),
                Verdict::Drop(DropReason::UnknownGroup)
            );
        }
        // A new session changes what the fast path writes.
        let mut s = sequencer(5);
        s.start_session(SessionNumber(0xabcd));
        let mut frame = request(GROUP, vec![], 0);
        assert_eq!(s.stamp_plain(&mut frame), Some(GroupId(1)));
        let oum = OumPacket::new_checked(&frame[42..]).unwrap();
        assert_eq!(
            OumRepr::parse(&oum).unwrap(),
            OumRepr::Sequenced(Stamp::new(0xabcd, 1))
        );
    }
}
