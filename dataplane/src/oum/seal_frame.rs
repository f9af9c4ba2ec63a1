//! Sealing a stamped Ethernet frame (the DPDK sequencer's case): the tag is appended to the
//! UDP payload, replacing whatever followed the UDP datagram (an IPv4 trailer, Ethernet
//! padding), so the UDP length grows by [`AUTH_TAG_LEN`], the IPv4 total length becomes
//! IPv4 header + UDP length and the IPv4 header checksum follows. The C sequencer
//! (cavium/) seals by the same rule, and the differential tests hold them to it. The checksum is updated incrementally (RFC 1624), as
//! `rewrite_destination` does on the fan-out, so a header that arrived with a bad checksum
//! keeps a bad one and the receiver still drops it; the UDP checksum stays 0 ("none"), as
//! stamping left it, since the stamp and the tag changed the payload.

use super::auth::{AUTH_TAG_LEN, StampKey};
use crate::wire::{ETHERNET_HEADER_LEN, UDP_HEADER_LEN};

/// Seals the stamped frame at the start of `buffer` with `key` for `group`; `buffer` must
/// hold at least [`AUTH_TAG_LEN`] bytes after the frame's UDP datagram. Returns the sealed
/// frame's length (any Ethernet padding or IPv4 trailer after the UDP datagram is replaced
/// by the tag), or None, with nothing written, if the frame's headers are not those of a
/// stamped IPv4/UDP frame or the buffer is too short. Never panics.
pub(super) fn seal(key: &StampKey, group: u16, buffer: &mut [u8]) -> Option<usize> {
    const IP: usize = ETHERNET_HEADER_LEN;
    let ihl = usize::from(*buffer.get(IP)? & 0x0f) * 4;
    let udp = IP + ihl;
    let udp_len = usize::from(u16::from_be_bytes([
        *buffer.get(udp + 4)?,
        *buffer.get(udp + 5)?,
    ]));
    let old_total = u16::from_be_bytes([*buffer.get(IP + 2)?, *buffer.get(IP + 3)?]);
    let new_udp_len = u16::try_from(udp_len + AUTH_TAG_LEN).ok()?;
    let new_total = u16::try_from(ihl + usize::from(new_udp_len)).ok()?;
    let end = IP + usize::from(new_total);
    if ihl < 20 || udp_len < UDP_HEADER_LEN || end > buffer.len() {
        return None;
    }
    key.seal(group, &mut buffer[udp + UDP_HEADER_LEN..end])
        .ok()?;
    buffer[udp + 4..udp + 6].copy_from_slice(&new_udp_len.to_be_bytes());
    buffer[IP + 2..IP + 4].copy_from_slice(&new_total.to_be_bytes());
    let checksum = u16::from_be_bytes([buffer[IP + 10], buffer[IP + 11]]);
    let checksum = updated_checksum(checksum, old_total, new_total);
    buffer[IP + 10..IP + 12].copy_from_slice(&checksum.to_be_bytes());
    Some(end)
}

/// RFC 1624, equation 3: the header checksum after one 16-bit word went from `old` to
/// `new`, HC' = ~(~HC + ~m + m').
fn updated_checksum(checksum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::oum::{GroupId, GroupSpec, Sequencer, SessionNumber, Verdict};
    use crate::wire::build::{UdpFrameSpec, oum_payload};
    use crate::wire::{
        EthernetFrame, Ipv4Packet, OUM_HEADER_LEN, OumRepr, UdpPacket, ipv4_header_checksum,
    };

    const KEY: [u8; 16] = *b"fedcba9876543210";
    const GROUP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    fn keyed_sequencer() -> Sequencer {
        let spec = GroupSpec {
            address: GROUP,
            members: vec![0],
        };
        let mut s = Sequencer::new(SessionNumber(9), 22222, &[spec]).unwrap();
        s.set_key(GroupId(0), Some(StampKey::new(KEY)));
        s
    }

    fn request(body: &[u8]) -> Vec<u8> {
        UdpFrameSpec {
            dst_ip: GROUP,
            dst_port: 22222,
            ..UdpFrameSpec::default()
        }
        .build(&oum_payload(OumRepr::Unsequenced, body))
        .unwrap()
    }

    #[test]
    fn a_sealed_frame_has_valid_headers_and_opens_into_the_stamped_datagram() {
        for body in [&b""[..], b"put k v", &[7u8; 1000]] {
            let mut s = keyed_sequencer();
            let frame = request(body);
            let len = frame.len();
            let mut buffer = frame.clone();
            buffer.resize(len + AUTH_TAG_LEN, 0xee);
            let Some(Verdict::Multicast { group, .. }) =
                s.stamp_frame_in(&mut buffer[..len], AUTH_TAG_LEN)
            else {
                panic!("not stamped");
            };
            let stamped = buffer[..len].to_vec();
            let sealed_len = s.seal_frame(group, &mut buffer).unwrap();
            assert_eq!(sealed_len, len + AUTH_TAG_LEN);
            let eth = EthernetFrame::new_checked(&buffer[..sealed_len]).unwrap();
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            let header = &eth.payload()[..20];
            assert_eq!(
                u16::from_be_bytes([header[10], header[11]]),
                ipv4_header_checksum(header)
            );
            assert_eq!(usize::from(ip.total_len()), sealed_len - 14);
            let udp = UdpPacket::new_checked(ip.payload()).unwrap();
            assert_eq!(udp.checksum(), 0);
            let mut datagram = udp.payload().to_vec();
            let plain = StampKey::new(KEY).open(0, &mut datagram).unwrap();
            assert_eq!(&datagram[..plain], &stamped[42..]);
            assert!(plain >= OUM_HEADER_LEN);
        }
    }

    #[test]
    fn a_keyed_request_without_room_is_refused_unstamped_and_counted() {
        let mut s = keyed_sequencer();
        let mut frame = request(b"x");
        let before = frame.clone();
        for room in [0, AUTH_TAG_LEN - 1] {
            assert_eq!(s.stamp_plain_in(&mut frame, room), None);
            assert_eq!(s.stamp_frame_in(&mut frame, room), None);
        }
        assert_eq!(frame, before);
        let stats = s.stats();
        assert_eq!((stats.stamped(), stats.too_big_for_tag()), (0, 2));
        assert_eq!(s.last_msgnum(GroupId(0)), Some(0));
        // The same for a datagram on kernel UDP.
        let mut datagram = frame[42..].to_vec();
        assert_eq!(s.stamp_datagram_in(GroupId(0), &mut datagram, 7), None);
        assert_eq!(s.stats().too_big_for_tag(), 3);
        // With room it is stamped as usual.
        assert!(s.stamp_plain_in(&mut frame, AUTH_TAG_LEN).is_some());
    }

    #[test]
    fn an_unkeyed_group_is_never_sealed_and_garbage_never_panics() {
        let spec = GroupSpec {
            address: GROUP,
            members: vec![0],
        };
        let mut s = Sequencer::new(SessionNumber(9), 22222, &[spec]).unwrap();
        let mut frame = request(b"x");
        assert!(s.stamp_plain_in(&mut frame, 0).is_some());
        frame.extend_from_slice(&[0; AUTH_TAG_LEN]);
        assert_eq!(s.seal_frame(GroupId(0), &mut frame), None);
        let key = StampKey::new(KEY);
        let whole = request(b"put k v");
        for n in 0..whole.len() + AUTH_TAG_LEN {
            let mut b = whole.clone();
            b.resize(whole.len() + AUTH_TAG_LEN, 0);
            let _ = seal(&key, 0, &mut b[..n]);
        }
    }

    #[test]
    fn an_ipv4_trailer_and_padding_are_replaced_by_the_tag_and_count_as_room() {
        // 3 trailer bytes + 2 bytes of padding: 5 spare bytes, so 3 more of room are needed.
        let mut frame = request(b"put k v");
        let udp_end = frame.len();
        let total = u16::from_be_bytes([frame[16], frame[17]]) + 3;
        frame[16..18].copy_from_slice(&total.to_be_bytes());
        frame[24..26].fill(0);
        let c = ipv4_header_checksum(&frame[14..34]);
        frame[24..26].copy_from_slice(&c.to_be_bytes());
        frame.extend_from_slice(&[0xa0, 0xa1, 0xa2, 0xd0, 0xd1]);
        let len = frame.len();
        let mut s = keyed_sequencer();
        for room in [0, 2] {
            let mut buffer = frame.clone();
            buffer.resize(len + room, 0);
            assert_eq!(s.stamp_frame_in(&mut buffer[..len], room), None);
            assert_eq!(buffer[..len], frame[..]);
        }
        assert_eq!(s.stats().too_big_for_tag(), 2);
        let mut buffer = frame.clone();
        buffer.resize(len + 3, 0);
        let Some(Verdict::Multicast { group, .. }) = s.stamp_frame_in(&mut buffer[..len], 3) else {
            panic!("not stamped");
        };
        assert_eq!(
            s.seal_frame(group, &mut buffer),
            Some(udp_end + AUTH_TAG_LEN)
        );
        let header = &buffer[14..34];
        let sealed_total = u16::from_be_bytes([header[2], header[3]]);
        assert_eq!(usize::from(sealed_total), udp_end + AUTH_TAG_LEN - 14);
        assert_eq!(
            u16::from_be_bytes([header[10], header[11]]),
            ipv4_header_checksum(header)
        );
    }

    #[test]
    fn a_keyed_request_that_would_pass_65535_bytes_is_refused_before_its_number() {
        let mut s = keyed_sequencer();
        // IPv4 header + UDP length = 65528: one byte too many for the tag.
        let mut frame = request(&vec![1; 65528 - 20 - 8 - 16]);
        let len = frame.len();
        frame.resize(len + 64, 0);
        assert_eq!(s.stamp_frame_in(&mut frame[..len], 64), None);
        assert_eq!(s.stats().too_big_for_tag(), 1);
        assert_eq!(s.last_msgnum(GroupId(0)), Some(0));
        // One byte less is sealed, to a total length of exactly 65535.
        let mut frame = request(&vec![1; 65527 - 20 - 8 - 16]);
        let len = frame.len();
        frame.resize(len + 64, 0);
        let Some(Verdict::Multicast { group, .. }) = s.stamp_frame_in(&mut frame[..len], 64) else {
            panic!("not stamped");
        };
        assert_eq!(s.seal_frame(group, &mut frame), Some(14 + 65535));
    }

    #[test]
    fn the_incremental_checksum_matches_a_full_one() {
        let mut header = [
            0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 100,
        ];
        let c = ipv4_header_checksum(&header);
        header[10..12].copy_from_slice(&c.to_be_bytes());
        let updated = updated_checksum(c, 60, 68);
        header[2..4].copy_from_slice(&68u16.to_be_bytes());
        assert_eq!(updated, ipv4_header_checksum(&header));
    }
}
