//! The Internet checksum (RFC 1071) and the two places it is used here.

use std::net::Ipv4Addr;

/// Adds `data` to a running one's-complement sum, 16 bits at a time, big-endian.
fn sum_words(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_be_bytes(word);
        // Summing 32-bit halves into a 64-bit accumulator defers carries; folding at the
        // end gives the same one's-complement sum as 16-bit additions.
        acc += (v >> 32) + (v & 0xffff_ffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for pair in &mut rest {
        acc += u64::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// The folded one's-complement sum of several byte strings laid end to end; every part but
/// the last must have an even length.
pub(crate) fn ones_complement_sum(parts: &[&[u8]]) -> u16 {
    fold(parts.iter().fold(0, |acc, part| sum_words(acc, part)))
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The one's complement of the one's-complement sum of `data` (RFC 1071).
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum_words(0, data))
}

/// The checksum an IPv4 header (options included) should carry: the checksum field itself is
/// left out of the sum, as if it were zero.
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    match (header.get(..10), header.get(12..)) {
        (Some(before), Some(after)) => !fold(sum_words(sum_words(0, before), after)),
        _ => internet_checksum(header),
    }
}

/// The UDP checksum of `udp` (header and payload) over IPv4, as RFC 768 defines it, with the
/// checksum field left out of the sum. A computed 0 is sent as 0xffff, since 0 on the wire
/// means "no checksum".
pub fn udp_checksum(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> u16 {
    match udp.split_at_checked(8) {
        Some((header, payload)) => udp_checksum_parts(src, dst, header, payload),
        None => udp_checksum_parts(src, dst, udp, &[]),
    }
}

/// [`udp_checksum`] for a datagram held as its 8-byte header and its payload.
pub(crate) fn udp_checksum_parts(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    header: &[u8],
    payload: &[u8],
) -> u16 {
    let length = (header.len() + payload.len()) as u64;
    let mut acc = sum_words(0, &src.octets());
    acc = sum_words(acc, &dst.octets());
    acc += u64::from(crate::wire::IpProtocol::UDP.0);
    acc += length;
    acc = match (header.get(..6), header.get(8..)) {
        (Some(before), Some(after)) => sum_words(sum_words(acc, before), after),
        _ => sum_words(acc, header),
    };
    acc = sum_words(acc, payload);
    match !fold(acc) {
        0 => 0xffff,
        c => c,
    }
}
