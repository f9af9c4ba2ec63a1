//! Shared by the integration tests: a seeded generator and frame builders.
#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;

/// SplitMix64: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// The seed for a randomized test: `CAVIUM_SEED` or a fixed default.
pub fn seed(default: u64) -> u64 {
    std::env::var("CAVIUM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// An unsequenced OUM request frame: Ethernet, IPv4 with `ihl` words of header (options
/// filled with NOPs), UDP to `port`, the OUM header, `body` bytes.
pub fn request(dst: Ipv4Addr, port: u16, ihl: u8, body: &[u8]) -> Vec<u8> {
    let ip_header = usize::from(ihl) * 4;
    let udp_len = 8 + 16 + body.len();
    let ip_len = ip_header + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x08, 0x00]);
    f.push(0x40 | ihl);
    f.push(0);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1]);
    f.extend_from_slice(&dst.octets());
    f.extend(std::iter::repeat_n(1u8, ip_header - 20));
    f.extend_from_slice(&0xc000u16.to_be_bytes());
    f.extend_from_slice(&port.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0xab, 0xcd]);
    f.extend_from_slice(&[0x18, 0x03, 0x05, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(body);
    f
}

/// Offset of the OUM header-size field in a frame built by [`request`] with `ihl`.
pub fn header_size_at(ihl: u8) -> usize {
    14 + usize::from(ihl) * 4 + 8 + 4
}

/// True when the IPv4 header of `frame` (at byte 14) has a right checksum.
pub fn ipv4_checksum_ok(frame: &[u8]) -> bool {
    ones_sum(&frame[14..14 + usize::from(frame[14] & 0x0f) * 4]) == 0xffff
}

/// Sets the IPv4 header checksum of `frame` right.
pub fn set_ipv4_checksum(frame: &mut [u8]) {
    let header = 14..14 + usize::from(frame[14] & 0x0f) * 4;
    frame[24..26].fill(0);
    let sum = !ones_sum(&frame[header]);
    frame[24..26].copy_from_slice(&sum.to_be_bytes());
}

/// `frame` (a [`request`]) with the `trailer` bytes as IPv4 payload after its UDP datagram (an IPv4
/// trailer), the total length grown to cover them and the checksum set right.
pub fn with_ipv4_trailer(mut frame: Vec<u8>, trailer: &[u8]) -> Vec<u8> {
    let total = u16::from_be_bytes([frame[16], frame[17]]) + trailer.len() as u16;
    frame.truncate(14 + usize::from(u16::from_be_bytes([frame[16], frame[17]])));
    frame.extend_from_slice(trailer);
    frame[16..18].copy_from_slice(&total.to_be_bytes());
    set_ipv4_checksum(&mut frame);
    frame
}

fn ones_sum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
