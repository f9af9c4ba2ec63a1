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
