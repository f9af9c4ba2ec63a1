//! Building whole frames and datagrams, for tests, benchmarks, tools and clients. Not for
//! the hot path: these allocate.

use std::net::Ipv4Addr;

use super::{
    ETHERNET_HEADER_LEN, EtherType, EthernetHeader, IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Repr,
    MacAddr, OUM_HEADER_LEN, OumRepr, UDP_HEADER_LEN, UdpRepr, WireError,
};
use zerocopy::FromBytes;

/// Everything needed to build an Ethernet / IPv4 / UDP frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpFrameSpec {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub ttl: u8,
    /// IPv4 options, padded with zeros (end of options) to a multiple of 4 bytes.
    pub ip_options: Vec<u8>,
    /// Fill in the UDP checksum (otherwise 0, "none").
    pub udp_checksum: bool,
}

impl Default for UdpFrameSpec {
    fn default() -> Self {
        UdpFrameSpec {
            src_mac: MacAddr([0x02, 0, 0, 0, 0, 0x01]),
            dst_mac: MacAddr([0x02, 0, 0, 0, 0, 0x02]),
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 100),
            src_port: 40000,
            dst_port: super::OUM_DEFAULT_PORT,
            ttl: 64,
            ip_options: Vec::new(),
            udp_checksum: true,
        }
    }
}

impl UdpFrameSpec {
    /// The frame carrying `payload` as its UDP payload.
    pub fn build(&self, payload: &[u8]) -> Result<Vec<u8>, WireError> {
        let mut options = self.ip_options.clone();
        options.resize(options.len().div_ceil(4) * 4, 0);
        if options.len() > 40 {
            return Err(WireError::Ipv4HeaderLength(
                ((20 + options.len()) / 4) as u8,
            ));
        }
        let ip_header_len = IPV4_MIN_HEADER_LEN + options.len();
        let udp_len = UDP_HEADER_LEN + payload.len();
        let mut frame = vec![0u8; ETHERNET_HEADER_LEN + ip_header_len + udp_len];
        let (eth, rest) = frame.split_at_mut(ETHERNET_HEADER_LEN);
        let (header, _) = EthernetHeader::mut_from_prefix(eth)
            .map_err(|_| WireError::truncated(super::Layer::Ethernet, ETHERNET_HEADER_LEN, 0))?;
        header.dst = self.dst_mac;
        header.src = self.src_mac;
        header.ethertype.set(EtherType::IPV4.0);

        let (ip, udp) = rest.split_at_mut(ip_header_len);
        Ipv4Repr {
            src: self.src_ip,
            dst: self.dst_ip,
            protocol: IpProtocol::UDP,
            ttl: self.ttl,
            dscp_ecn: 0,
            ident: 0,
            dont_fragment: true,
            payload_len: ip_header_len - IPV4_MIN_HEADER_LEN + udp_len,
        }
        .emit(ip)?;
        if !options.is_empty() {
            // Ipv4Repr writes IHL 5; widen it to cover the options and redo the checksum.
            ip[0] = 0x40 | (ip_header_len / 4) as u8;
            ip[IPV4_MIN_HEADER_LEN..].copy_from_slice(&options);
            let total = (ip_header_len + udp_len) as u16;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[10..12].fill(0);
            let sum = super::ipv4_header_checksum(ip);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        udp[UDP_HEADER_LEN..].copy_from_slice(payload);
        let addrs = self.udp_checksum.then_some((self.src_ip, self.dst_ip));
        UdpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            payload_len: payload.len(),
        }
        .emit(udp, addrs)?;
        Ok(frame)
    }
}

/// A UDP payload for an OUM group: the OUM header (`repr`) followed by `body`.
pub fn oum_payload(repr: OumRepr, body: &[u8]) -> Vec<u8> {
    let mut payload = vec![0u8; OUM_HEADER_LEN + body.len()];
    // The buffer is exactly long enough for the header.
    let _ = repr.emit(&mut payload);
    payload[OUM_HEADER_LEN..].copy_from_slice(body);
    payload
}
