//! [`DpdkIo`]: the [`PacketIo`] backend on one DPDK port queue. A received buffer is the
//! mbuf itself, trimmed so that its bytes are the UDP payload (headers parsed in place, no
//! copy); sending prepends Ethernet/IPv4/UDP headers in the mbuf's headroom.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::arp::{ArpOutcome, ArpTable, write_request};
use super::headers::{SEND_HEADER_LEN, parse_udp, write_headers};
use super::{FrameDrop, FrameDropCounts, Mbuf, Mempool, Port, tsc};
use crate::io::{Endpoint, IoStats, Packet, PacketIo};
use crate::oum::OUM_AUTHENTICATED_HEADER_SIZE;
use crate::wire::{MacAddr, OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE};

/// Largest burst taken from or given to the device in one call.
pub const MAX_BURST: usize = 64;

/// A datagram in an mbuf. `None` inside when the pool was empty at [`PacketIo::alloc`]:
/// such a buffer has no capacity and is dropped (and counted) when sent.
#[derive(Debug)]
pub struct DpdkBuf {
    mbuf: Option<Mbuf>,
    peer: SocketAddrV4,
    endpoint: Endpoint,
    /// The received frame's Ethernet source (its header is trimmed off), so the driver
    /// can tell a DPDK sequencer's stamped copy by the MAC the sequencer writes.
    src_mac: Option<MacAddr>,
}

impl DpdkBuf {
    pub fn mbuf(&self) -> Option<&Mbuf> {
        self.mbuf.as_ref()
    }
}

impl AsRef<[u8]> for DpdkBuf {
    fn as_ref(&self) -> &[u8] {
        self.mbuf.as_ref().map_or(&[], Mbuf::data)
    }
}

impl AsMut<[u8]> for DpdkBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self.mbuf.as_mut().map_or(&mut [], Mbuf::data_mut)
    }
}

impl Packet for DpdkBuf {
    fn buffer_mut(&mut self) -> &mut [u8] {
        self.mbuf.as_mut().map_or(&mut [], Mbuf::room_mut)
    }

    fn set_len(&mut self, len: usize) {
        if let Some(m) = self.mbuf.as_mut() {
            let len = len.min(m.data_len() + m.tailroom());
            m.set_data_len(len);
        }
    }

    fn capacity(&self) -> usize {
        self.mbuf
            .as_ref()
            .filter(|m| m.is_exclusive() && m.segments() == 1)
            .map_or(0, |m| m.data_len() + m.tailroom())
    }

    fn peer(&self) -> SocketAddrV4 {
        self.peer
    }

    fn set_peer(&mut self, peer: SocketAddrV4) {
        self.peer = peer;
    }

    fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    fn set_endpoint(&mut self, endpoint: Endpoint) {
        self.endpoint = endpoint;
    }

    fn src_mac(&self) -> Option<MacAddr> {
        self.src_mac
    }
}

/// How a [`DpdkIo`] is set up.
#[derive(Debug, Clone)]
pub struct DpdkIoConfig {
    /// Our addresses (IPv4 and UDP port), indexed by [`Endpoint`]: received datagrams
    /// must be addressed to one of them, and sent ones leave from one.
    pub local_addrs: Vec<SocketAddrV4>,
    /// MACs known in advance (from the cluster config); others are learned by ARP.
    pub static_macs: Vec<(Ipv4Addr, MacAddr)>,
    /// Capacity of the ARP table.
    pub arp_capacity: usize,
    /// Least time between two ARP requests for the same address.
    pub arp_retry: Duration,
}

impl Default for DpdkIoConfig {
    fn default() -> Self {
        DpdkIoConfig {
            local_addrs: Vec::new(),
            static_macs: Vec::new(),
            arp_capacity: 256,
            arp_retry: Duration::from_millis(100),
        }
    }
}

/// Counters of a [`DpdkIo`] beyond [`IoStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpdkIoStats {
    pub io: IoStats,
    pub drops: FrameDropCounts,
    pub arp_replies_sent: u64,
    pub arp_requests_sent: u64,
    pub arp_learned: u64,
}

/// [`PacketIo`] on one queue of a started [`Port`]. Several workers each own a `DpdkIo` on
/// their own queue of the same port.
#[derive(Debug)]
pub struct DpdkIo {
    port: u16,
    queue: u16,
    /// Where frames leave: the receiving port and queue unless [`DpdkIo::set_tx`] chose
    /// another (benchmarks send to net_null while receiving from a ring).
    tx_port: u16,
    tx_queue: u16,
    mac: MacAddr,
    pool: Mempool,
    local_addrs: Vec<SocketAddrV4>,
    local_ips: Vec<Ipv4Addr>,
    arp: ArpTable,
    arp_retry_ticks: u64,
    /// Frames to send that are not datagrams (ARP replies and requests), flushed per call.
    control: Vec<Mbuf>,
    raw: Vec<*mut dpdk_sys::rte_mbuf>,
    stats: DpdkIoStats,
}

impl DpdkIo {
    pub fn new(port: &Port, queue: u16, pool: Mempool, config: DpdkIoConfig) -> io::Result<DpdkIo> {
        if queue >= port.queues() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "port {} has {} queue(s); there is no queue {queue}",
                    port.id(),
                    port.queues()
                ),
            ));
        }
        if config.local_addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no local address given",
            ));
        }
        let mut local_ips: Vec<Ipv4Addr> = config.local_addrs.iter().map(|a| *a.ip()).collect();
        local_ips.sort_unstable();
        local_ips.dedup();
        // SAFETY: the EAL is initialised (a Port exists).
        let hz = unsafe { dpdk_sys::rte_get_tsc_hz() };
        let arp_retry_ticks =
            u64::try_from(u128::from(hz) * config.arp_retry.as_nanos() / 1_000_000_000)
                .unwrap_or(u64::MAX);
        Ok(DpdkIo {
            port: port.id(),
            queue,
            tx_port: port.id(),
            tx_queue: queue,
            mac: port.mac(),
            pool,
            local_addrs: config.local_addrs,
            local_ips,
            arp: ArpTable::new(config.arp_capacity, &config.static_macs),
            arp_retry_ticks,
            control: Vec::with_capacity(MAX_BURST),
            raw: Vec::with_capacity(MAX_BURST),
            stats: DpdkIoStats::default(),
        })
    }

    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// Sends through `queue` of `port` instead of the receiving queue (frames still carry
    /// the receiving port's MAC as their source).
    pub fn set_tx(&mut self, port: &Port, queue: u16) -> io::Result<()> {
        if queue >= port.queues() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("port {} has no queue {queue}", port.id()),
            ));
        }
        self.tx_port = port.id();
        self.tx_queue = queue;
        Ok(())
    }

    pub fn dpdk_stats(&self) -> DpdkIoStats {
        let mut s = self.stats;
        s.io.rx_truncated = s.drops.get(FrameDrop::MultiSegment);
        s
    }

    /// The MAC we would send to `ip` with, if known.
    pub fn arp_lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.arp.lookup(ip)
    }

    fn drop_frame(&mut self, reason: FrameDrop, mbuf: Mbuf) {
        self.stats.drops.add(reason);
        drop(mbuf);
    }

    /// Classifies one received frame: a datagram for us goes to `batch`, ARP is answered,
    /// anything else is counted and freed.
    fn accept(&mut self, mut mbuf: Mbuf, batch: &mut Vec<DpdkBuf>) {
        if mbuf.segments() != 1 {
            return self.drop_frame(FrameDrop::MultiSegment, mbuf);
        }
        let parsed = match parse_udp(mbuf.data()) {
            Ok(p) => p,
            Err(Some(reason)) => return self.drop_frame(reason, mbuf),
            Err(None) => {
                let frame = mbuf.data_mut();
                return match self.arp.handle(frame, self.mac, &self.local_ips) {
                    ArpOutcome::Reply => {
                        self.stats.arp_replies_sent += 1;
                        self.control.push(mbuf);
                    }
                    ArpOutcome::Learned => self.stats.arp_learned += 1,
                    ArpOutcome::Ignored => self.drop_frame(FrameDrop::ArpIgnored, mbuf),
                };
            }
        };
        let Some(index) = self.local_addrs.iter().position(|a| *a == parsed.dst) else {
            let reason = if self.local_ips.contains(parsed.dst.ip()) {
                FrameDrop::WrongPort
            } else {
                FrameDrop::NotOurAddress
            };
            return self.drop_frame(reason, mbuf);
        };
        // A datagram a sequencer stamped was relayed: its source address is the client's
        // but its source MAC the sequencer's, so it teaches nothing; ask the client instead
        // (the answer usually arrives before the client's retry needs it).
        // A sealed stamp (header size 18) is relayed the same way.
        let relayed = mbuf
            .data()
            .get(parsed.payload_offset..parsed.payload_offset + 6)
            .is_some_and(|h| {
                h[..4] == OUM_PREAMBLE
                    && (h[4..6] == OUM_SEQUENCED_HEADER_SIZE.to_be_bytes()
                        || h[4..6] == OUM_AUTHENTICATED_HEADER_SIZE.to_be_bytes())
            });
        if !relayed {
            self.arp.learn(*parsed.src.ip(), parsed.src_mac);
        } else if self.arp.lookup(*parsed.src.ip()).is_none() {
            if let Some(request) = Mbuf::alloc(self.pool) {
                let from = *self.local_addrs[index].ip();
                self.ask(from, *parsed.src.ip(), request);
            }
        }
        // Keep exactly the UDP payload: drop the headers in front and any Ethernet padding
        // or bytes beyond the UDP length behind.
        let behind = mbuf.data_len() - parsed.payload_offset - parsed.payload_len;
        if !mbuf.adj(parsed.payload_offset) || !mbuf.trim(behind) {
            return self.drop_frame(FrameDrop::MalformedUdp, mbuf);
        }
        self.stats.io.rx_packets += 1;
        batch.push(DpdkBuf {
            mbuf: Some(mbuf),
            peer: parsed.src,
            endpoint: Endpoint(index as u16),
            src_mac: Some(parsed.src_mac),
        });
    }

    /// Turns a datagram into a frame in place; None (counted) if it cannot be sent now.
    fn frame(&mut self, buf: DpdkBuf) -> Option<Mbuf> {
        let Some(mut mbuf) = buf.mbuf else {
            self.stats.drops.add(FrameDrop::NoMbuf);
            return None;
        };
        let Some(&from) = self.local_addrs.get(usize::from(buf.endpoint.0)) else {
            self.stats.drops.add(FrameDrop::TxTooLarge);
            return None;
        };
        let to = buf.peer;
        let Some(dst_mac) = self.arp.lookup(*to.ip()) else {
            self.stats.drops.add(FrameDrop::NoArpEntry);
            self.ask(*from.ip(), *to.ip(), mbuf);
            return None;
        };
        let payload_len = mbuf.pkt_len();
        let mac = self.mac;
        // Only an exclusive mbuf's headroom is ours to write (a clone's is shared).
        let written = mbuf.is_exclusive()
            && mbuf
                .prepend(SEND_HEADER_LEN)
                .is_some_and(|h| write_headers(h, mac, dst_mac, from, to, payload_len));
        if written {
            Some(mbuf)
        } else {
            self.stats.drops.add(FrameDrop::TxTooLarge);
            None
        }
    }

    /// Sends an ARP request for `target` (at most once per retry interval), reusing `mbuf`.
    fn ask(&mut self, from: Ipv4Addr, target: Ipv4Addr, mut mbuf: Mbuf) {
        if !self.arp.should_ask(target, tsc(), self.arp_retry_ticks) || !mbuf.is_exclusive() {
            return;
        }
        let mac = self.mac;
        let room_len = mbuf.room_mut().len();
        if room_len < 60 || !mbuf.set_data_len(60) {
            return;
        }
        let frame = mbuf.data_mut();
        frame.fill(0);
        if write_request(frame, mac, from, target).is_some() {
            self.stats.arp_requests_sent += 1;
            self.control.push(mbuf);
        }
    }

    /// Transmits `self.raw` (owned mbufs); frees and counts what the queue refused.
    fn transmit_raw(&mut self) -> usize {
        let mut sent = 0;
        while sent < self.raw.len() {
            let rest = &mut self.raw[sent..];
            let n = rest.len().min(MAX_BURST) as u16;
            // SAFETY: the port and queue are started; rest holds owned mbufs, and the ones
            // the driver takes (the first n returned) are its to free.
            let taken = usize::from(unsafe {
                dpdk_sys::shim_tx_burst(self.tx_port, self.tx_queue, rest.as_mut_ptr(), n)
            });
            sent += taken;
            if taken < usize::from(n) {
                break;
            }
        }
        let refused = self.raw.len() - sent;
        // SAFETY: the refused mbufs are still ours and are not used after this.
        unsafe { super::mbuf::free_raw(&self.raw[sent..]) };
        self.stats
            .drops
            .add_n(FrameDrop::TxQueueFull, refused as u64);
        self.raw.clear();
        sent
    }

    fn flush_control(&mut self) {
        if self.control.is_empty() {
            return;
        }
        self.raw.clear();
        for m in self.control.drain(..) {
            self.raw.push(m.into_raw());
        }
        self.transmit_raw();
    }
}

impl PacketIo for DpdkIo {
    type Buf = DpdkBuf;

    fn recv_burst(&mut self, batch: &mut Vec<DpdkBuf>, max: usize) -> io::Result<usize> {
        let before = batch.len();
        let mut raw = [std::ptr::null_mut::<dpdk_sys::rte_mbuf>(); MAX_BURST];
        let want = max.min(MAX_BURST) as u16;
        // SAFETY: started port and queue; raw has room for `want` pointers, and the first
        // n returned are owned mbufs handed to us.
        let n = usize::from(unsafe {
            dpdk_sys::shim_rx_burst(self.port, self.queue, raw.as_mut_ptr(), want)
        });
        for &p in &raw[..n] {
            // SAFETY: owned mbuf from the rx burst, wrapped once.
            if let Some(m) = unsafe { Mbuf::from_raw(p) } {
                self.accept(m, batch);
            }
        }
        self.flush_control();
        Ok(batch.len() - before)
    }

    fn send_burst(&mut self, batch: &mut Vec<DpdkBuf>) -> io::Result<usize> {
        self.raw.clear();
        let mut dropped = 0u64;
        for buf in batch.drain(..) {
            match self.frame(buf) {
                Some(m) => self.raw.push(m.into_raw()),
                None => dropped += 1,
            }
        }
        let total = self.raw.len();
        let sent = self.transmit_raw();
        self.stats.io.tx_packets += sent as u64;
        self.stats.io.tx_errors += dropped + (total - sent) as u64;
        self.flush_control();
        Ok(sent)
    }

    fn alloc(&mut self) -> DpdkBuf {
        let mbuf = Mbuf::alloc(self.pool);
        DpdkBuf {
            mbuf,
            peer: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            endpoint: Endpoint(0),
            src_mac: None,
        }
    }

    fn free(&mut self, buf: DpdkBuf) {
        drop(buf);
    }

    /// A copy, not a clone: a buffer's bytes stay writable through [`AsMut`] only if no
    /// other buffer shares them. (The frame-level sequencer shares payloads with
    /// `Mbuf::clone_in` instead.)
    fn duplicate(&mut self, buf: &DpdkBuf) -> DpdkBuf {
        let mut copy = self.alloc();
        if !copy.fill(buf.as_ref()) {
            copy.mbuf = None;
        }
        copy.peer = buf.peer;
        copy.endpoint = buf.endpoint;
        copy
    }

    /// Vdevs and most NICs here have no rx interrupts: this only sleeps a little (at most
    /// 100 us) so a caller that shares its core yields it; busy pollers never call it.
    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        std::thread::sleep(timeout.min(Duration::from_micros(100)));
        Ok(())
    }

    fn local_addrs(&self) -> &[SocketAddrV4] {
        &self.local_addrs
    }

    fn stats(&self) -> IoStats {
        self.dpdk_stats().io
    }
}
