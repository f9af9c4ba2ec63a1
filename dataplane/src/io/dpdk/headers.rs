//! Ethernet / IPv4 / UDP headers of the DPDK backend: parsed in place with the `wire`
//! views on receive, written into the mbuf headroom on send.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::FrameDrop;
use crate::wire::{
    ETHERNET_HEADER_LEN, EtherType, EthernetFrame, IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Packet,
    MacAddr, UDP_HEADER_LEN, UdpPacket, ipv4_header_checksum,
};

/// Headers in front of a datagram we send (no IPv4 options).
pub const SEND_HEADER_LEN: usize = ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN;

/// Where a received UDP datagram sits in its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpInFrame {
    pub src_mac: MacAddr,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    /// Offset of the UDP payload (Ethernet + IPv4 with options, as IHL says, + UDP).
    pub payload_offset: usize,
    /// UDP payload length as the UDP length field says (padding excluded).
    pub payload_len: usize,
}

/// Classifies an Ethernet frame as an IPv4/UDP datagram, or says why it is not one. ARP
/// is reported as `Err(None)` so the caller can answer it.
pub fn parse_udp(frame: &[u8]) -> Result<UdpInFrame, Option<FrameDrop>> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| Some(FrameDrop::Runt))?;
    let src_mac = eth.src();
    match eth.ethertype() {
        EtherType::IPV4 => {}
        EtherType::ARP => return Err(None),
        _ => return Err(Some(FrameDrop::NotIpv4)),
    }
    let ip =
        Ipv4Packet::new_checked(eth.into_payload()).map_err(|_| Some(FrameDrop::MalformedIpv4))?;
    if ip.is_fragment() {
        return Err(Some(FrameDrop::Ipv4Fragment));
    }
    if ip.protocol() != IpProtocol::UDP {
        return Err(Some(FrameDrop::NotUdp));
    }
    let (src_ip, dst_ip, ip_header_len) = (ip.src_addr(), ip.dst_addr(), ip.header_len());
    let udp =
        UdpPacket::new_checked(ip.into_payload()).map_err(|_| Some(FrameDrop::MalformedUdp))?;
    Ok(UdpInFrame {
        src_mac,
        src: SocketAddrV4::new(src_ip, udp.src_port()),
        dst: SocketAddrV4::new(dst_ip, udp.dst_port()),
        payload_offset: ETHERNET_HEADER_LEN + ip_header_len + UDP_HEADER_LEN,
        payload_len: udp.payload().len(),
    })
}

/// Writes Ethernet, IPv4 (no options, DF, TTL 64, header checksum) and UDP (checksum 0,
/// "none") headers for a `payload_len`-byte datagram into `out` (SEND_HEADER_LEN bytes).
pub fn write_headers(
    out: &mut [u8],
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload_len: usize,
) -> bool {
    let Some(out) = out.get_mut(..SEND_HEADER_LEN) else {
        return false;
    };
    let udp_len = UDP_HEADER_LEN + payload_len;
    let Ok(total) = u16::try_from(IPV4_MIN_HEADER_LEN + udp_len) else {
        return false;
    };
    let (eth, rest) = out.split_at_mut(ETHERNET_HEADER_LEN);
    eth[0..6].copy_from_slice(&dst_mac.0);
    eth[6..12].copy_from_slice(&src_mac.0);
    eth[12..14].copy_from_slice(&EtherType::IPV4.0.to_be_bytes());
    let (ip, udp) = rest.split_at_mut(IPV4_MIN_HEADER_LEN);
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].fill(0);
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = IpProtocol::UDP.0;
    ip[10..12].fill(0);
    ip[12..16].copy_from_slice(&src.ip().octets());
    ip[16..20].copy_from_slice(&dst.ip().octets());
    let sum = ipv4_header_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    udp[0..2].copy_from_slice(&src.port().to_be_bytes());
    udp[2..4].copy_from_slice(&dst.port().to_be_bytes());
    udp[4..6].copy_from_slice(&(total - IPV4_MIN_HEADER_LEN as u16).to_be_bytes());
    udp[6..8].fill(0);
    true
}

/// Rewrites the destination of an IPv4/UDP frame in place (the sequencer's per-member
/// copy): destination and source MAC, destination IPv4 address with the header checksum
/// updated incrementally (RFC 1624), destination UDP port. The UDP checksum must be 0
/// already (the sequencer clears it). `ip_header_len` is the IPv4 header length (IHL * 4).
/// Inlined because it runs per copy on the DPDK paths, the sequencer's and its forwarding
/// baseline's alike, where a call's argument passing is a noticeable share of its cost.
#[inline(always)]
pub fn rewrite_destination(
    frame: &mut [u8],
    ip_header_len: usize,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    dst: SocketAddrV4,
) -> bool {
    let udp_at = ETHERNET_HEADER_LEN + ip_header_len;
    let Some(frame) = frame.get_mut(..udp_at + UDP_HEADER_LEN) else {
        return false;
    };
    frame[0..6].copy_from_slice(&dst_mac.0);
    frame[6..12].copy_from_slice(&src_mac.0);
    let ip = &mut frame[ETHERNET_HEADER_LEN..udp_at];
    let old = [
        u16::from_be_bytes([ip[16], ip[17]]),
        u16::from_be_bytes([ip[18], ip[19]]),
    ];
    let new_ip = dst.ip().octets();
    let new = [
        u16::from_be_bytes([new_ip[0], new_ip[1]]),
        u16::from_be_bytes([new_ip[2], new_ip[3]]),
    ];
    ip[16..20].copy_from_slice(&new_ip);
    let checksum = u16::from_be_bytes([ip[10], ip[11]]);
    let updated = incremental_checksum(checksum, &old, &new);
    ip[10..12].copy_from_slice(&updated.to_be_bytes());
    frame[udp_at + 2..udp_at + 4].copy_from_slice(&dst.port().to_be_bytes());
    true
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), word by word. Two folds always suffice: the
/// sum of five 16-bit words is below 2^19, one fold leaves at most 0xffff + 7, the second
/// at most 0xffff. Fixed folds instead of a loop keep it branch-free on the per-copy path.
#[inline(always)]
fn incremental_checksum(checksum: u16, old: &[u16; 2], new: &[u16; 2]) -> u16 {
    let mut sum = u32::from(!checksum);
    for (&o, &n) in old.iter().zip(new) {
        sum += u32::from(!o) + u32::from(n);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// IPv4 destination of a frame already known to be IPv4 with at least a minimal header.
pub fn ipv4_destination(frame: &[u8]) -> Option<Ipv4Addr> {
    let d = frame.get(ETHERNET_HEADER_LEN + 16..ETHERNET_HEADER_LEN + 20)?;
    Some(Ipv4Addr::new(d[0], d[1], d[2], d[3]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build::UdpFrameSpec;

    #[test]
    fn written_headers_parse_back_and_rewrites_keep_the_checksum_valid() {
        let mut frame = vec![0u8; SEND_HEADER_LEN + 5];
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1000);
        let dst = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2000);
        let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
        assert!(write_headers(&mut frame, a, b, src, dst, 5));
        let parsed = parse_udp(&frame).unwrap();
        assert_eq!((parsed.src, parsed.dst, parsed.src_mac), (src, dst, a));
        assert_eq!(
            (parsed.payload_offset, parsed.payload_len),
            (SEND_HEADER_LEN, 5)
        );
        let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
        assert!(ip.verify_checksum());

        for options in [vec![], vec![1, 1, 1, 1], vec![7; 12]] {
            let spec = UdpFrameSpec {
                ip_options: options,
                udp_checksum: false,
                ..Default::default()
            };
            let mut frame = spec.build(b"hello").unwrap();
            let ihl = usize::from(frame[14] & 0x0f) * 4;
            let to = SocketAddrV4::new(Ipv4Addr::new(192, 168, 200, 17), 51000);
            assert!(rewrite_destination(&mut frame, ihl, b, a, to));
            let parsed = parse_udp(&frame).unwrap();
            assert_eq!(parsed.dst, to);
            assert_eq!(&frame[0..6], &a.0);
            assert!(
                Ipv4Packet::new_checked(&frame[14..])
                    .unwrap()
                    .verify_checksum()
            );
        }
    }

    #[test]
    fn incremental_checksum_matches_a_full_recomputation() {
        let mut header = [0u8; 20];
        let mut seed = 0x1234_5678u32;
        for _ in 0..2000 {
            for b in header.iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                *b = (seed >> 16) as u8;
            }
            if seed & 1 == 0 {
                header[16..20].fill(0xff);
            }
            header[0] = 0x45;
            header[2..4].copy_from_slice(&20u16.to_be_bytes());
            header[6..8].fill(0);
            header[10..12].fill(0);
            let sum = ipv4_header_checksum(&header);
            header[10..12].copy_from_slice(&sum.to_be_bytes());
            let old = [
                u16::from_be_bytes([header[16], header[17]]),
                u16::from_be_bytes([header[18], header[19]]),
            ];
            let new = [(seed >> 3) as u16, if seed & 2 == 0 { 0xffff } else { 0 }];
            header[16..18].copy_from_slice(&new[0].to_be_bytes());
            header[18..20].copy_from_slice(&new[1].to_be_bytes());
            let updated = incremental_checksum(sum, &old, &new);
            header[10..12].copy_from_slice(&updated.to_be_bytes());
            assert!(
                crate::wire::Ipv4Packet::new_checked(&header[..])
                    .unwrap()
                    .verify_checksum()
            );
        }
    }

    #[test]
    fn garbage_is_classified() {
        assert_eq!(parse_udp(&[0; 10]), Err(Some(FrameDrop::Runt)));
        let mut f = UdpFrameSpec::default().build(b"x").unwrap();
        f[12] = 0x86;
        f[13] = 0xdd;
        assert_eq!(parse_udp(&f), Err(Some(FrameDrop::NotIpv4)));
        f[12] = 0x08;
        f[13] = 0x06;
        assert_eq!(parse_udp(&f), Err(None));
        let mut f = UdpFrameSpec::default().build(b"x").unwrap();
        f[14] = 0x46; // IHL 6 without the options' bytes being consistent with lengths
        f[16] = 0;
        f[17] = 20; // total length 20 < header length 24
        assert_eq!(parse_udp(&f), Err(Some(FrameDrop::MalformedIpv4)));
        let f = UdpFrameSpec::default().build(b"x").unwrap();
        assert_eq!(parse_udp(&f[..30]), Err(Some(FrameDrop::MalformedIpv4)));
    }
}
