//! The sequencer's DPDK data path, one run-to-completion step at a time: receive a burst of
//! frames, stamp each in place ([`Sequencer::stamp_plain`] inline for the common request,
//! [`Sequencer::stamp_frame`] out of line for anything else), make one copy per group
//! member with that member's destination (MAC, IPv4, UDP port), transmit the burst. The
//! same engine also forwards without stamping ([`DpdkSequencer::poll_forward`]), the
//! baseline `sequencer bench --dpdk` compares the stamped path with.
//!
//! Fan-out (the copies): the last member gets the received mbuf itself, rewritten in
//! place, so a one-member group costs no allocation at all. Every other member gets either
//! * a full copy (one mbuf, `memcpy` of the frame) when the frame is at most
//!   `copy_threshold` bytes, or
//! * a header mbuf (Ethernet + IPv4 + UDP, copied and rewritten) chained in front of a clone
//!   of the payload (`rte_pktmbuf_clone`, adjusted past the headers), as DPDK's
//!   ipv4_multicast example does.
//!
//! Why both: the clone path takes two mbufs (header and indirect), reference count updates
//! and a two-segment transmit, which costs more than copying a frame of a few hundred bytes;
//! copying costs more only for large frames. Measured with `sequencer bench --dpdk
//! --members 3 --bursts 32 --copy-threshold {0,2000} --frame-len N` (net_null, one core of
//! the development VM): copies win at 64, 256 and 512 bytes (9.2 vs 5.9, 8.2 vs 5.4, 8.1 vs
//! 5.5 M requests/s), clones win at 1024 and 1514 bytes (4.9 vs 4.1, 4.4 vs 3.1). Hence the
//! default threshold of 512 bytes, which keeps NOPaxos requests on the copy path.

use std::net::{Ipv4Addr, SocketAddrV4};

use dataplane::io::dpdk::arp::{ArpOutcome, ArpTable};
use dataplane::io::dpdk::headers::{SEND_HEADER_LEN, rewrite_destination};
use dataplane::io::dpdk::{FrameDrop, FrameDropCounts, Mbuf, MbufBurst, Mempool, Queue};
use dataplane::oum::{GroupId, Sequencer, Verdict};
use dataplane::wire::{
    ETHERNET_HEADER_LEN, EtherType, IPV4_MIN_HEADER_LEN, MacAddr, UDP_HEADER_LEN,
};

/// Most frames taken per receive burst.
pub const MAX_BURST: usize = 64;
/// Frames at most this long are copied for extra members; longer ones are cloned.
pub const DEFAULT_COPY_THRESHOLD: usize = 512;

/// What [`DpdkSequencer::poll_forward`] does to each copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// Each copy gets its member's destination (MAC, IPv4 address, UDP port), as the
    /// stamped path writes it: forwarding that does the sequencer's addressing but none
    /// of its parsing or stamping.
    Addressed,
    /// Each copy leaves as it came (testpmd's "io" forwarding): the frame's bytes are
    /// never touched unless a copy has to be made.
    Unchanged,
}

/// Where a member's copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberAddr {
    pub mac: MacAddr,
    pub addr: SocketAddrV4,
}

/// Queues and tuning of an engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    pub rx: Queue,
    pub tx: Queue,
    /// Frames per receive burst (1..=MAX_BURST).
    pub burst: usize,
    pub copy_threshold: usize,
    /// The MAC we send from and answer ARP with.
    pub mac: MacAddr,
}

/// The engine's own counters (the sequencer core counts its drops itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Extra-member copies made by memcpy and by header + clone.
    pub copies: u64,
    pub clones: u64,
    pub arp_replies: u64,
    /// Stamped frames of a keyed group the tag could not be added to, dropped. The core
    /// checks the room before it stamps, so this stays 0 unless that check and the
    /// sealing disagree.
    pub unsealed: u64,
    pub drops: FrameDropCounts,
}

/// One queue's worth of sequencer: the stamping core, the member table and the buffers of
/// a burst, all allocated up front.
#[derive(Debug)]
pub struct DpdkSequencer {
    sequencer: Sequencer,
    /// Per group (by GroupId), its members' addresses in member order.
    members: Vec<Box<[MemberAddr]>>,
    config: EngineConfig,
    pool: Mempool,
    clone_pool: Mempool,
    arp: ArpTable,
    group_ips: Vec<Ipv4Addr>,
    /// Whether any group's stamps carry a tag (set in the core before the engine is
    /// made). Without one the per-frame work is today's plus one predictable branch.
    keyed: bool,
    rx: MbufBurst,
    tx: MbufBurst,
    stats: EngineStats,
}

impl DpdkSequencer {
    /// `members[g]` lists group g's member addresses in the order of the sequencer's
    /// member list. `pool` supplies copies and header mbufs, `clone_pool` indirect mbufs.
    pub fn new(
        sequencer: Sequencer,
        members: Vec<Vec<MemberAddr>>,
        config: EngineConfig,
        pool: Mempool,
        clone_pool: Mempool,
    ) -> Result<DpdkSequencer, String> {
        if members.len() != sequencer.group_count() {
            return Err(format!(
                "{} member lists for {} groups",
                members.len(),
                sequencer.group_count()
            ));
        }
        if !(1..=MAX_BURST).contains(&config.burst) {
            return Err(format!("burst {} is outside 1..={MAX_BURST}", config.burst));
        }
        let widest = members.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let group_ips = (0..sequencer.group_count())
            .filter_map(|g| sequencer.group_address(dataplane::oum::GroupId(g as u16)))
            .collect();
        let keyed = (0..sequencer.group_count()).any(|g| sequencer.seals(GroupId(g as u16)));
        Ok(DpdkSequencer {
            keyed,
            sequencer,
            members: members.into_iter().map(Vec::into_boxed_slice).collect(),
            config,
            pool,
            clone_pool,
            arp: ArpTable::new(1, &[]),
            group_ips,
            rx: MbufBurst::with_capacity(MAX_BURST),
            tx: MbufBurst::with_capacity(MAX_BURST * widest),
            stats: EngineStats::default(),
        })
    }

    pub fn sequencer(&self) -> &Sequencer {
        &self.sequencer
    }

    pub fn sequencer_mut(&mut self) -> &mut Sequencer {
        &mut self.sequencer
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// One step: receive a burst, stamp, fan out, transmit. Returns frames received.
    /// Keyed or not is decided once per burst, so a sequencer without keys runs the loop of
    /// before, with no per-frame test of it.
    pub fn poll(&mut self) -> usize {
        if self.keyed {
            self.step(true, Self::handle_keyed)
        } else {
            self.step(true, Self::handle)
        }
    }

    /// One step of plain forwarding, the baseline `sequencer bench --dpdk` measures the
    /// stamped path against: receive a burst and send each frame to every member of
    /// `group` (all frames, whatever their destination), with no parsing and no stamp.
    /// The copies are made exactly as [`poll`](Self::poll) makes them (the received mbuf
    /// for the last member; memcpy up to the copy threshold, header mbuf + clone above
    /// it), through the same bursts, queues and loop, so the comparison measures what
    /// sequencing adds to moving the same copies, not the fan-out every multicast pays.
    /// Returns frames received.
    pub fn poll_forward(&mut self, group: GroupId, how: Forwarding) -> usize {
        let copies = self
            .members
            .get(usize::from(group.0))
            .map_or(0, |m| m.len());
        // A lone unchanged copy is the received mbuf itself, whose bytes this path never
        // reads; prefetching them would be work a forwarder does not do.
        let touches_bytes = how == Forwarding::Addressed || copies > 1;
        self.step(touches_bytes, |this, mbuf| this.forward(mbuf, group, how))
    }

    /// Receive a burst, hand each frame to `each` in order, transmit what it queued.
    /// Always inlined, so each mode's loop is compiled as one body, as `poll` was before
    /// it shared this loop with the forwarding baseline.
    #[inline(always)]
    fn step(&mut self, prefetch: bool, mut each: impl FnMut(&mut Self, Mbuf)) -> usize {
        let n = self.config.rx.rx(&mut self.rx, self.config.burst);
        if n == 0 {
            return 0;
        }
        self.stats.rx_frames += n as u64;
        if prefetch {
            self.rx.prefetch_data();
        }
        let mut rx = std::mem::replace(&mut self.rx, MbufBurst::with_capacity(0));
        for mbuf in rx.drain() {
            each(self, mbuf);
        }
        self.rx = rx;
        self.flush();
        n
    }

    fn forward(&mut self, mut mbuf: Mbuf, group: GroupId, how: Forwarding) {
        let Some(members) = self
            .members
            .get_mut(usize::from(group.0))
            .map(std::mem::take)
        else {
            return;
        };
        if let Some((last, others)) = members.split_last() {
            let large = mbuf.data_len() > self.config.copy_threshold;
            for member in others {
                // The clone path's split point: an option-less IPv4/UDP header, assumed
                // rather than parsed (the bench's frames have no options).
                match self.member_copy(&mbuf, large, SEND_HEADER_LEN) {
                    Some(mut copy) => {
                        if how == Forwarding::Addressed {
                            // SAFETY: a header mbuf or a fresh copy: its first segment is ours.
                            let bytes = unsafe { copy.data_mut_unchecked() };
                            self.address(bytes, member);
                        }
                        self.queue(copy);
                    }
                    None => self.stats.drops.add(FrameDrop::NoMbuf),
                }
            }
            if how == Forwarding::Addressed {
                // SAFETY: the received mbuf, ours alone except for clones made above, which
                // were adjusted past the header bytes rewritten here.
                let bytes = unsafe { mbuf.data_mut_unchecked() };
                self.address(bytes, last);
            }
            self.queue(mbuf);
        }
        self.members[usize::from(group.0)] = members;
    }

    /// A forwarded copy's destination, written as the stamped path writes it but with the
    /// IPv4 header length assumed (20) instead of read from the frame.
    fn address(&self, frame: &mut [u8], member: &MemberAddr) {
        rewrite_destination(
            frame,
            IPV4_MIN_HEADER_LEN,
            self.config.mac,
            member.mac,
            member.addr,
        );
    }

    /// An extra member's copy of `original`, as the fan-out makes it.
    fn member_copy(&mut self, original: &Mbuf, large: bool, header_len: usize) -> Option<Mbuf> {
        if large {
            self.header_and_clone(original, header_len)
        } else {
            self.full_copy(original)
        }
    }

    fn flush(&mut self) {
        if self.tx.is_empty() {
            return;
        }
        let (sent, refused) = self.config.tx.tx(&mut self.tx);
        self.stats.tx_frames += sent as u64;
        self.stats
            .drops
            .add_n(FrameDrop::TxQueueFull, refused as u64);
    }

    fn queue(&mut self, mbuf: Mbuf) {
        if let Err(mbuf) = self.tx.push(mbuf) {
            // Full (cannot happen with the sizes chosen in new): send what we have first.
            self.flush();
            if self.tx.push(mbuf).is_err() {
                self.stats.drops.add(FrameDrop::TxQueueFull);
            }
        }
    }

    fn handle(&mut self, mut mbuf: Mbuf) {
        if mbuf.segments() != 1 {
            self.stats.drops.add(FrameDrop::MultiSegment);
            return;
        }
        // The common request is stamped inline; anything else (ARP included) goes the
        // careful way, out of line. The fast path's IPv4 header length is a constant, so
        // the fan-out below compiles for it without the checks a variable one needs.
        match self.sequencer.stamp_plain(mbuf.data_mut()) {
            Some(group) => self.fan_out(mbuf, group, IPV4_MIN_HEADER_LEN),
            None => self.handle_unusual(mbuf, usize::MAX),
        }
    }

    /// [`handle`](Self::handle) when some group is keyed: a keyed group's tag goes in the
    /// tailroom, and the core refuses (and counts) a request that leaves too little, before
    /// it takes a number.
    fn handle_keyed(&mut self, mut mbuf: Mbuf) {
        if mbuf.segments() != 1 {
            self.stats.drops.add(FrameDrop::MultiSegment);
            return;
        }
        let room = mbuf.tailroom();
        match self.sequencer.stamp_plain_in(mbuf.data_mut(), room) {
            Some(group) => {
                if self.seal(&mut mbuf, group) {
                    self.fan_out(mbuf, group, IPV4_MIN_HEADER_LEN)
                }
            }
            None => self.handle_unusual(mbuf, room),
        }
    }

    /// Adds the tag to a stamped frame if `group` is keyed: the frame grows into the
    /// mbuf's tailroom, and the fan-out's copies and clones carry the sealed bytes. False
    /// (the mbuf dropped and counted) if it could not be done.
    #[inline(never)]
    fn seal(&mut self, mbuf: &mut Mbuf, group: GroupId) -> bool {
        if !self.sequencer.seals(group) {
            return true;
        }
        match self.sequencer.seal_frame(group, mbuf.room_mut()) {
            Some(len) if mbuf.set_data_len(len) => true,
            _ => {
                self.stats.unsealed += 1;
                false
            }
        }
    }

    /// Sends a stamped frame (IPv4 header `ihl` bytes long) to every member of `group`.
    #[inline(always)]
    fn fan_out(&mut self, mut mbuf: Mbuf, group: GroupId, ihl: usize) {
        let header_len = ETHERNET_HEADER_LEN + ihl + UDP_HEADER_LEN;
        let members = std::mem::take(&mut self.members[usize::from(group.0)]);
        if let Some((last, others)) = members.split_last() {
            let large = mbuf.data_len() > self.config.copy_threshold;
            for member in others {
                match self.member_copy(&mbuf, large, header_len) {
                    Some(mut copy) => {
                        // SAFETY: a header mbuf or a fresh copy: its first segment is ours.
                        let bytes = unsafe { copy.data_mut_unchecked() };
                        rewrite_destination(bytes, ihl, self.config.mac, member.mac, member.addr);
                        self.queue(copy);
                    }
                    None => self.stats.drops.add(FrameDrop::NoMbuf),
                }
            }
            // SAFETY: clones made above were adjusted past the headers, so the header bytes
            // rewritten here are read by no one else; nothing else uses the chain now.
            let bytes = unsafe { mbuf.data_mut_unchecked() };
            rewrite_destination(bytes, ihl, self.config.mac, last.mac, last.addr);
            self.queue(mbuf);
        }
        self.members[usize::from(group.0)] = members;
    }

    /// A frame the fast path left alone: an ARP request for a group address is answered,
    /// anything else goes through the full parser, which stamps it (and it is fanned out)
    /// or counts why not.
    #[inline(never)]
    fn handle_unusual(&mut self, mut mbuf: Mbuf, room: usize) {
        let frame = mbuf.data_mut();
        // ARP requests for a group address are answered (clients on the LAN resolve the
        // group address to us); any other ARP goes on to the core, which drops it as
        // not-ipv4 like every sequencer implementation.
        if frame.get(12..14) == Some(&EtherType::ARP.0.to_be_bytes())
            && self.arp.handle(frame, self.config.mac, &self.group_ips) == ArpOutcome::Reply
        {
            self.stats.arp_replies += 1;
            self.queue(mbuf);
            return;
        }
        let Some(Verdict::Multicast { group, .. }) = self.sequencer.stamp_frame_in(frame, room)
        else {
            return; // counted by the sequencer core; the mbuf is freed here
        };
        let ihl = usize::from(frame[ETHERNET_HEADER_LEN] & 0x0f) * 4;
        if self.keyed && !self.seal(&mut mbuf, group) {
            return;
        }
        self.fan_out(mbuf, group, ihl);
    }

    fn full_copy(&mut self, original: &Mbuf) -> Option<Mbuf> {
        let mut copy = Mbuf::alloc(self.pool)?;
        let src = original.data();
        copy.append(src.len())?.copy_from_slice(src);
        self.stats.copies += 1;
        Some(copy)
    }

    fn header_and_clone(&mut self, original: &Mbuf, header_len: usize) -> Option<Mbuf> {
        let mut header = Mbuf::alloc(self.pool)?;
        header
            .append(header_len)?
            .copy_from_slice(original.data().get(..header_len)?);
        let mut payload = original.clone_in(self.clone_pool)?;
        if !payload.adj(header_len) {
            return None;
        }
        header.chain(payload).ok()?;
        self.stats.clones += 1;
        Some(header)
    }
}
