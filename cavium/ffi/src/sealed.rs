//! What a keyed group's stamped frame must look like, built from the Rust side alone: the
//! Rust core's stamp, then `StampKey::seal` on the UDP payload with 8 bytes of room, then
//! the IPv4 and UDP fix-ups the C core documents (cavium/src/oum_seq.c, `oum_seal`). The
//! differential tests hold the C core's sealed frames to it, until the Rust core seals
//! frames itself.

use dataplane::oum::{AUTH_TAG_LEN, StampKey};

const ETH: usize = 14;

/// The stamped frame's length once sealed (the IPv4 packet and the tag; Ethernet padding
/// goes), or `None` when the IPv4 total length cannot grow by the tag. `frame` must be one
/// a sequencer stamped or would stamp (its IPv4 header is valid).
pub fn sealed_len(frame: &[u8]) -> Option<usize> {
    let total = usize::from(u16::from_be_bytes([frame[ETH + 2], frame[ETH + 3]]));
    (total + AUTH_TAG_LEN <= usize::from(u16::MAX)).then_some(ETH + total + AUTH_TAG_LEN)
}

/// RFC 1624, eqn. 3: the IPv4 header checksum after one 16-bit word changed.
pub fn checksum_replace(check: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// The frame a keyed group's sequencer sends for `stamped` (a frame the Rust core stamped
/// for `group`), in a buffer of `cap` bytes; `None` when it has no room for the tag.
pub fn seal_frame(key: &StampKey, group: u16, stamped: &[u8], cap: usize) -> Option<Vec<u8>> {
    let out_len = sealed_len(stamped)?;
    if out_len > cap.max(stamped.len()) {
        return None;
    }
    let ip_header = usize::from(stamped[ETH] & 0x0f) * 4;
    let udp = ETH + ip_header;
    let udp_len = usize::from(u16::from_be_bytes([stamped[udp + 4], stamped[udp + 5]]));
    let udp_end = udp + udp_len;
    let ip_end = out_len - AUTH_TAG_LEN;
    let mut out = Vec::with_capacity(out_len);
    out.extend_from_slice(&stamped[..udp_end]);
    out.extend_from_slice(&[0; AUTH_TAG_LEN]);
    out.extend_from_slice(&stamped[udp_end..ip_end]);
    key.seal(group, &mut out[udp + 8..udp_end + AUTH_TAG_LEN])
        .ok()?;
    let new_udp_len = (udp_len + AUTH_TAG_LEN) as u16;
    out[udp + 4..udp + 6].copy_from_slice(&new_udp_len.to_be_bytes());
    let total = u16::from_be_bytes([out[ETH + 2], out[ETH + 3]]);
    let new_total = total + AUTH_TAG_LEN as u16;
    out[ETH + 2..ETH + 4].copy_from_slice(&new_total.to_be_bytes());
    let check = u16::from_be_bytes([out[ETH + 10], out[ETH + 11]]);
    out[ETH + 10..ETH + 12]
        .copy_from_slice(&checksum_replace(check, total, new_total).to_be_bytes());
    Some(out)
}

/// True when the IPv4 header of `frame` (at byte 14) has a right checksum.
pub fn ipv4_checksum_ok(frame: &[u8]) -> bool {
    ones_sum(&frame[ETH..ETH + usize::from(frame[ETH] & 0x0f) * 4]) == 0xffff
}

/// Sets the IPv4 header checksum of `frame` right.
pub fn set_ipv4_checksum(frame: &mut [u8]) {
    let header = ETH..ETH + usize::from(frame[ETH] & 0x0f) * 4;
    frame[ETH + 10..ETH + 12].fill(0);
    let sum = !ones_sum(&frame[header]);
    frame[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());
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
