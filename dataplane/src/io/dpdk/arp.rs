//! ARP for IPv4 over Ethernet: answer requests for our addresses, learn senders, and ask
//! for unknown peers. The table has a fixed capacity, allocated once.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::wire::{ETHERNET_HEADER_LEN, EtherType, MacAddr};

/// An ARP packet for IPv4 over Ethernet.
pub const ARP_LEN: usize = 28;
const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;

#[derive(Debug, Clone, Copy)]
struct Entry {
    ip: Ipv4Addr,
    mac: Option<MacAddr>,
    /// Static entries (from the config) are never replaced by what the network says.
    fixed: bool,
    /// When we last asked for it (tsc), to ask at most once per interval.
    asked_at: u64,
}

/// IPv4 to MAC, static entries first, then learned ones (oldest replaced when full).
/// Looked up on every datagram sent and learned from every one received, so entries are
/// found through a hash index rather than a scan.
#[derive(Debug)]
pub struct ArpTable {
    entries: Vec<Entry>,
    /// Position in `entries` of each address.
    index: HashMap<Ipv4Addr, usize>,
    capacity: usize,
    next_victim: usize,
}

/// What handling an ARP frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOutcome {
    /// The frame was rewritten in place into a reply: send it back.
    Reply,
    /// A reply taught us its sender's address.
    Learned,
    /// Not for us or malformed.
    Ignored,
}

impl ArpTable {
    pub fn new(capacity: usize, fixed: &[(Ipv4Addr, MacAddr)]) -> ArpTable {
        let capacity = capacity.max(fixed.len() + 1);
        let mut entries = Vec::with_capacity(capacity);
        let mut index = HashMap::with_capacity(capacity);
        for &(ip, mac) in fixed {
            if index.contains_key(&ip) {
                continue;
            }
            index.insert(ip, entries.len());
            entries.push(Entry {
                ip,
                mac: Some(mac),
                fixed: true,
                asked_at: 0,
            });
        }
        ArpTable {
            entries,
            index,
            capacity,
            next_victim: 0,
        }
    }

    fn find(&self, ip: Ipv4Addr) -> Option<&Entry> {
        self.index.get(&ip).and_then(|&i| self.entries.get(i))
    }

    fn find_mut(&mut self, ip: Ipv4Addr) -> Option<&mut Entry> {
        let i = *self.index.get(&ip)?;
        self.entries.get_mut(i)
    }

    /// The MAC of `ip`: broadcast and multicast addresses map directly.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        if ip.is_broadcast() {
            return Some(MacAddr::BROADCAST);
        }
        if ip.is_multicast() {
            return Some(MacAddr::ipv4_multicast(ip));
        }
        self.find(ip).and_then(|e| e.mac)
    }

    pub fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
            return;
        }
        if let Some(e) = self.find_mut(ip) {
            if !e.fixed {
                e.mac = Some(mac);
            }
            return;
        }
        self.insert(Entry {
            ip,
            mac: Some(mac),
            fixed: false,
            asked_at: 0,
        });
    }

    /// Whether to send a request for `ip` now (`now`, `interval` in tsc ticks); records it.
    pub fn should_ask(&mut self, ip: Ipv4Addr, now: u64, interval: u64) -> bool {
        if let Some(e) = self.find_mut(ip) {
            if e.asked_at != 0 && now.wrapping_sub(e.asked_at) < interval {
                return false;
            }
            e.asked_at = now.max(1);
            return true;
        }
        self.insert(Entry {
            ip,
            mac: None,
            fixed: false,
            asked_at: now.max(1),
        });
        true
    }

    fn insert(&mut self, entry: Entry) {
        if self.entries.len() < self.capacity {
            self.index.insert(entry.ip, self.entries.len());
            self.entries.push(entry);
            return;
        }
        let n = self.entries.len();
        for _ in 0..n {
            let i = self.next_victim % n;
            self.next_victim = (i + 1) % n;
            if let Some(e) = self.entries.get_mut(i) {
                if !e.fixed {
                    self.index.remove(&e.ip);
                    self.index.insert(entry.ip, i);
                    *e = entry;
                    return;
                }
            }
        }
    }

    /// Handles an ARP frame: learns the sender and, for a request for one of `ours`,
    /// rewrites the frame in place into the reply (from `our_mac`).
    pub fn handle(&mut self, frame: &mut [u8], our_mac: MacAddr, ours: &[Ipv4Addr]) -> ArpOutcome {
        let Some(arp) = frame.get_mut(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + ARP_LEN) else {
            return ArpOutcome::Ignored;
        };
        if arp[0..6] != [0, 1, 0x08, 0x00, 6, 4] {
            return ArpOutcome::Ignored;
        }
        let op = u16::from_be_bytes([arp[6], arp[7]]);
        let mut sha = [0u8; 6];
        sha.copy_from_slice(&arp[8..14]);
        let spa = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
        let tpa = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
        let sender = MacAddr(sha);
        match op {
            OP_REQUEST if ours.contains(&tpa) => {
                self.learn(spa, sender);
                arp[6..8].copy_from_slice(&OP_REPLY.to_be_bytes());
                arp[18..24].copy_from_slice(&sha);
                arp[24..28].copy_from_slice(&spa.octets());
                arp[8..14].copy_from_slice(&our_mac.0);
                arp[14..18].copy_from_slice(&tpa.octets());
                frame[0..6].copy_from_slice(&sha);
                frame[6..12].copy_from_slice(&our_mac.0);
                ArpOutcome::Reply
            }
            OP_REPLY => {
                self.learn(spa, sender);
                ArpOutcome::Learned
            }
            _ => ArpOutcome::Ignored,
        }
    }
}

/// Writes a broadcast ARP request for `target` into `frame` (at least 42 bytes); returns
/// the frame length, or None if `frame` is too short.
pub fn write_request(
    frame: &mut [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    target: Ipv4Addr,
) -> Option<usize> {
    let frame = frame.get_mut(..ETHERNET_HEADER_LEN + ARP_LEN)?;
    frame[0..6].copy_from_slice(&MacAddr::BROADCAST.0);
    frame[6..12].copy_from_slice(&our_mac.0);
    frame[12..14].copy_from_slice(&EtherType::ARP.0.to_be_bytes());
    let arp = &mut frame[ETHERNET_HEADER_LEN..];
    arp[0..6].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
    arp[6..8].copy_from_slice(&OP_REQUEST.to_be_bytes());
    arp[8..14].copy_from_slice(&our_mac.0);
    arp[14..18].copy_from_slice(&our_ip.octets());
    arp[18..24].fill(0);
    arp[24..28].copy_from_slice(&target.octets());
    Some(ETHERNET_HEADER_LEN + ARP_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const THEM: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    #[test]
    fn a_request_for_us_becomes_a_reply_and_teaches_the_sender() {
        let (our_ip, their_ip) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut frame = [0u8; 60];
        write_request(&mut frame, THEM, their_ip, our_ip).unwrap();
        let mut table = ArpTable::new(4, &[]);
        assert_eq!(table.handle(&mut frame, US, &[our_ip]), ArpOutcome::Reply);
        assert_eq!(table.lookup(their_ip), Some(THEM));
        assert_eq!(&frame[0..6], &THEM.0);
        assert_eq!(&frame[6..12], &US.0);
        // The reply, handled by the asker, teaches it our address.
        let mut theirs = ArpTable::new(4, &[]);
        assert_eq!(
            theirs.handle(&mut frame, THEM, &[their_ip]),
            ArpOutcome::Learned
        );
        assert_eq!(theirs.lookup(our_ip), Some(US));
    }

    #[test]
    fn requests_for_others_and_garbage_are_ignored_and_fixed_entries_stay() {
        let mut frame = [0u8; 60];
        write_request(
            &mut frame,
            THEM,
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 0, 9),
        )
        .unwrap();
        let fixed = [(Ipv4Addr::new(10, 0, 0, 2), US)];
        let mut table = ArpTable::new(2, &fixed);
        assert_eq!(
            table.handle(&mut frame, US, &[Ipv4Addr::new(10, 0, 0, 1)]),
            ArpOutcome::Ignored
        );
        assert_eq!(table.handle(&mut frame[..30], US, &[]), ArpOutcome::Ignored);
        table.learn(Ipv4Addr::new(10, 0, 0, 2), THEM);
        assert_eq!(table.lookup(Ipv4Addr::new(10, 0, 0, 2)), Some(US));
        // Learned entries beyond the capacity replace learned ones, never fixed ones.
        for i in 10..20 {
            table.learn(Ipv4Addr::new(10, 0, 1, i), THEM);
        }
        assert_eq!(table.lookup(Ipv4Addr::new(10, 0, 0, 2)), Some(US));
        assert_eq!(table.lookup(Ipv4Addr::new(10, 0, 1, 19)), Some(THEM));
        assert!(table.should_ask(Ipv4Addr::new(10, 9, 9, 9), 100, 50));
        assert!(!table.should_ask(Ipv4Addr::new(10, 9, 9, 9), 120, 50));
        assert!(table.should_ask(Ipv4Addr::new(10, 9, 9, 9), 200, 50));
    }

    #[test]
    fn a_full_table_replaces_learned_entries_and_keeps_the_index_true() {
        let fixed_ip = Ipv4Addr::new(10, 0, 0, 1);
        let fixed_mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let mut t = ArpTable::new(3, &[(fixed_ip, fixed_mac)]);
        let ip = |i: u8| Ipv4Addr::new(10, 0, 1, i);
        let mac = |i: u8| MacAddr([2, 0, 0, 0, 1, i]);
        for i in 1..=5 {
            t.learn(ip(i), mac(i));
        }
        // Capacity 3: the fixed entry and the two most recent learned ones.
        assert_eq!(t.lookup(fixed_ip), Some(fixed_mac));
        assert_eq!(t.lookup(ip(1)), None);
        assert_eq!(t.lookup(ip(2)), None);
        assert_eq!(t.lookup(ip(3)), None);
        assert_eq!(t.lookup(ip(4)), Some(mac(4)));
        assert_eq!(t.lookup(ip(5)), Some(mac(5)));
        // The network cannot override a fixed entry; a learned one follows the network.
        t.learn(fixed_ip, mac(9));
        t.learn(ip(5), mac(8));
        assert_eq!(t.lookup(fixed_ip), Some(fixed_mac));
        assert_eq!(t.lookup(ip(5)), Some(mac(8)));
    }
}
