use std::net::Ipv4Addr;

use super::build::{UdpFrameSpec, oum_payload};
use super::*;

/// Ethernet / IPv4 / UDP (checksum 0x974b) / OUM (unsequenced) / "hello", from
/// 10.0.0.1:40000 to 10.0.0.100:22222; checksums computed independently of this crate.
const FRAME: [u8; 63] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x31, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x26, 0x58, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
    0x00, 0x64, 0x9c, 0x40, 0x56, 0xce, 0x00, 0x1d, 0x97, 0x4b, 0x18, 0x03, 0x05, 0x20, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
];
const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

/// Parses every layer the sequencer parses; the error of the first layer that fails.
fn parse_stack(bytes: &[u8]) -> Result<(OumRepr, usize), WireError> {
    let eth = EthernetFrame::new_checked(bytes)?;
    let ip = Ipv4Packet::new_checked(eth.into_payload())?;
    let udp = UdpPacket::new_checked(ip.into_payload())?;
    let oum = OumPacket::new_checked(udp.into_payload())?;
    Ok((OumRepr::parse(&oum)?, oum.body().len()))
}

#[test]
fn fixed_frame_parses_layer_by_layer() {
    let eth = EthernetFrame::new_checked(&FRAME[..]).unwrap();
    assert_eq!(eth.dst(), MacAddr([2, 0, 0, 0, 0, 2]));
    assert_eq!(eth.src(), MacAddr([2, 0, 0, 0, 0, 1]));
    assert_eq!(eth.ethertype(), EtherType::IPV4);

    let ip = Ipv4Packet::new_checked(eth.into_payload()).unwrap();
    assert_eq!(ip.header_len(), 20);
    assert_eq!(ip.total_len(), 49);
    assert!(ip.dont_fragment());
    assert!(!ip.is_fragment());
    assert_eq!(ip.ttl(), 64);
    assert_eq!(ip.protocol(), IpProtocol::UDP);
    assert_eq!(ip.src_addr(), SRC);
    assert_eq!(ip.dst_addr(), DST);
    assert!(ip.verify_checksum());

    let udp = UdpPacket::new_checked(ip.into_payload()).unwrap();
    assert_eq!(udp.src_port(), 40000);
    assert_eq!(udp.dst_port(), OUM_DEFAULT_PORT);
    assert_eq!(udp.length(), 29);
    assert_eq!(udp.checksum(), 0x974b);
    assert!(udp.verify_checksum(SRC, DST));
    assert!(!udp.verify_checksum(SRC, Ipv4Addr::new(10, 0, 0, 101)));

    let oum = OumPacket::new_checked(udp.into_payload()).unwrap();
    assert_eq!(OumRepr::parse(&oum), Ok(OumRepr::Unsequenced));
    assert_eq!(oum.body(), b"hello");
}

#[test]
fn reprs_round_trip_to_the_same_bytes() {
    let eth = EthernetFrame::new_checked(&FRAME[..]).unwrap();
    let eth_repr = EthernetRepr::parse(&eth).unwrap();
    let mut out = FRAME;
    out[..14].fill(0);
    eth_repr.emit(&mut EthernetFrame::new_checked(&mut out[..]).unwrap());
    assert_eq!(out, FRAME);

    let ip = Ipv4Packet::new_checked(eth.into_payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip).unwrap();
    let mut out = FRAME;
    out[14..34].fill(0);
    ip_repr.emit(&mut out[14..]).unwrap();
    assert_eq!(out, FRAME);

    let udp = UdpPacket::new_checked(ip.into_payload()).unwrap();
    let udp_repr = UdpRepr::parse(&udp).unwrap();
    let mut out = FRAME;
    out[34..42].fill(0);
    udp_repr.emit(&mut out[34..], Some((SRC, DST))).unwrap();
    assert_eq!(out, FRAME);

    let oum = OumPacket::new_checked(udp.into_payload()).unwrap();
    let oum_repr = OumRepr::parse(&oum).unwrap();
    let mut out = FRAME;
    out[42..58].fill(0xee);
    oum_repr.emit(&mut out[42..]).unwrap();
    assert_eq!(out, FRAME);
}

#[test]
fn builder_reproduces_the_fixed_frame() {
    let spec = UdpFrameSpec::default();
    let frame = spec
        .build(&oum_payload(OumRepr::Unsequenced, b"hello"))
        .unwrap();
    assert_eq!(frame, FRAME);
}

#[test]
fn sequenced_header_round_trips() {
    let stamp = Stamp::new(0xbeef, 0x0102_0304_0506_0708);
    let mut buf = [0u8; 16];
    OumRepr::Sequenced(stamp).emit(&mut buf).unwrap();
    assert_eq!(
        buf,
        [
            0x18, 0x03, 0x05, 0x20, 0x00, 0x0a, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
            0x07, 0x08
        ]
    );
    assert_eq!(OumRepr::parse_bytes(&buf), Ok(OumRepr::Sequenced(stamp)));
}

#[test]
fn unsequenced_header_ignores_garbage_in_stamp_fields() {
    let mut buf = [0xffu8; 16];
    buf[..4].copy_from_slice(&OUM_PREAMBLE);
    buf[4..6].copy_from_slice(&0u16.to_be_bytes());
    assert_eq!(OumRepr::parse_bytes(&buf), Ok(OumRepr::Unsequenced));
}

#[test]
fn oum_header_errors() {
    let mut buf = [0u8; 16];
    OumRepr::Unsequenced.emit(&mut buf).unwrap();
    let mut bad = buf;
    bad[0] = 0x19;
    assert_eq!(
        OumRepr::parse_bytes(&bad),
        Err(WireError::OumPreamble([0x19, 0x03, 0x05, 0x20]))
    );
    let mut bad = buf;
    bad[5] = 7;
    assert_eq!(OumRepr::parse_bytes(&bad), Err(WireError::OumHeaderSize(7)));
    assert!(matches!(
        OumRepr::parse_bytes(&buf[..15]),
        Err(WireError::Truncated {
            layer: Layer::Oum,
            needed: 16,
            available: 15
        })
    ));
}

#[test]
fn ipv4_options_are_skipped_using_ihl() {
    let spec = UdpFrameSpec {
        ip_options: vec![0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00], // router alert, NOPs, end
        ..UdpFrameSpec::default()
    };
    let frame = spec
        .build(&oum_payload(OumRepr::Unsequenced, b"opt"))
        .unwrap();
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert_eq!(ip.header_len(), 28);
    assert_eq!(
        ip.options(),
        &[0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]
    );
    assert!(ip.verify_checksum());
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(udp.dst_port(), OUM_DEFAULT_PORT);
    assert!(udp.verify_checksum(SRC, DST));
    assert_eq!(parse_stack(&frame), Ok((OumRepr::Unsequenced, 3)));
}

#[test]
fn ethernet_padding_is_not_part_of_the_ip_packet() {
    let mut frame = FRAME.to_vec();
    frame.resize(80, 0xaa);
    assert_eq!(parse_stack(&frame), Ok((OumRepr::Unsequenced, 5)));
}

#[test]
fn udp_payload_ends_at_udp_length() {
    let mut frame = FRAME.to_vec();
    // UDP length 27: two bytes of the body fall outside the datagram.
    frame[38..40].copy_from_slice(&27u16.to_be_bytes());
    assert_eq!(parse_stack(&frame), Ok((OumRepr::Unsequenced, 3)));
}

#[test]
fn ipv4_header_errors() {
    let mut bad = FRAME;
    bad[14] = 0x65;
    assert_eq!(
        Ipv4Packet::new_checked(&bad[14..]).err(),
        Some(WireError::Ipv4Version(6))
    );
    let mut bad = FRAME;
    bad[14] = 0x44;
    assert_eq!(
        Ipv4Packet::new_checked(&bad[14..]).err(),
        Some(WireError::Ipv4HeaderLength(4))
    );
    let mut bad = FRAME;
    bad[14] = 0x4f; // 60-byte header in a 49-byte packet
    assert!(matches!(
        Ipv4Packet::new_checked(&bad[14..]),
        Err(WireError::Truncated {
            layer: Layer::Ipv4,
            needed: 60,
            ..
        })
    ));
    let mut bad = FRAME;
    bad[16..18].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        Ipv4Packet::new_checked(&bad[14..]).err(),
        Some(WireError::Ipv4TotalLength {
            total: 19,
            header: 20
        })
    );
    let mut bad = FRAME;
    bad[16..18].copy_from_slice(&50u16.to_be_bytes());
    assert!(matches!(
        Ipv4Packet::new_checked(&bad[14..]),
        Err(WireError::Truncated {
            layer: Layer::Ipv4,
            needed: 50,
            available: 49
        })
    ));
    let mut frag = FRAME;
    frag[20] = 0x20; // more fragments
    let ip = Ipv4Packet::new_checked(&frag[14..]).unwrap();
    assert!(ip.is_fragment());
    assert_eq!(Ipv4Repr::parse(&ip), Err(WireError::Ipv4Fragment));
}

#[test]
fn udp_header_errors() {
    let mut bad = FRAME;
    bad[38..40].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        UdpPacket::new_checked(&bad[34..]).err(),
        Some(WireError::UdpLength(7))
    );
    let mut bad = FRAME;
    bad[38..40].copy_from_slice(&30u16.to_be_bytes());
    assert!(matches!(
        UdpPacket::new_checked(&bad[34..]),
        Err(WireError::Truncated {
            layer: Layer::Udp,
            needed: 30,
            available: 29
        })
    ));
}

#[test]
fn checksums_match_known_values() {
    // The worked example of the IPv4 header checksum from RFC 1071's usual illustration.
    let header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(ipv4_header_checksum(&header), 0xb861);
    assert_eq!(internet_checksum(&header), 0);
    assert_eq!(udp_checksum(SRC, DST, &FRAME[34..]), 0x974b);
    // Odd-length data is padded with a zero byte.
    assert_eq!(internet_checksum(&[0x01]), !0x0100);
}

#[test]
fn udp_checksum_of_zero_is_sent_as_ffff() {
    // Choose a payload whose checksum comes out as 0: solve for the last two bytes.
    let mut datagram = vec![0u8; 10];
    datagram[..8].copy_from_slice(&[0, 1, 0, 2, 0, 10, 0, 0]);
    let partial = udp_checksum(SRC, DST, &datagram);
    let fix = !partial;
    datagram[8..10].copy_from_slice(&(!fix).to_be_bytes());
    assert_eq!(udp_checksum(SRC, DST, &datagram), 0xffff);
}

#[test]
fn envelope_round_trips_and_rejects_foreign_bytes() {
    let mut buf = [0u8; 20];
    let repr = EnvelopeRepr {
        msg_type: MessageType(7),
        body_len: 8,
    };
    repr.emit(&mut buf).unwrap();
    assert_eq!(
        &buf[..12],
        &[b'N', b'O', b'P', b'X', 1, 7, 0, 0, 0, 0, 0, 8]
    );
    let env = Envelope::new_checked(&buf[..]).unwrap();
    assert_eq!(EnvelopeRepr::parse(&env), Ok(repr));
    assert_eq!(env.body().len(), 8);

    let mut bad = buf;
    bad[0] = 0x18;
    let env = Envelope::new_checked(&bad[..]).unwrap();
    assert!(matches!(
        EnvelopeRepr::parse(&env),
        Err(WireError::EnvelopeMagic(_))
    ));
    let mut bad = buf;
    bad[4] = 2;
    let env = Envelope::new_checked(&bad[..]).unwrap();
    assert_eq!(
        EnvelopeRepr::parse(&env),
        Err(WireError::EnvelopeVersion(2))
    );
    let mut bad = buf;
    bad[7] = 1;
    let env = Envelope::new_checked(&bad[..]).unwrap();
    assert_eq!(EnvelopeRepr::parse(&env), Err(WireError::EnvelopeFlags(1)));
    assert!(matches!(
        Envelope::new_checked(&buf[..19]),
        Err(WireError::Truncated {
            layer: Layer::Envelope,
            needed: 20,
            available: 19
        })
    ));
    // A body length near u32::MAX must not overflow anything.
    let mut huge = buf;
    huge[8..12].fill(0xff);
    assert!(Envelope::new_checked(&huge[..]).is_err());
}

#[test]
fn every_truncation_of_every_packet_is_an_error_not_a_panic() {
    let with_options = UdpFrameSpec {
        ip_options: vec![1, 1, 1, 0],
        ..UdpFrameSpec::default()
    }
    .build(&oum_payload(OumRepr::Sequenced(Stamp::new(3, 9)), b"body"))
    .unwrap();
    let mut envelope = [0u8; 30];
    EnvelopeRepr {
        msg_type: MessageType(1),
        body_len: 18,
    }
    .emit(&mut envelope)
    .unwrap();

    for packet in [&FRAME[..], &with_options[..]] {
        assert!(parse_stack(packet).is_ok());
        for len in 0..packet.len() {
            let prefix = &packet[..len];
            // Every strict prefix cuts into the IPv4 packet, whose total length notices.
            assert!(parse_stack(prefix).is_err(), "len {len}");
            let mut copy = prefix.to_vec();
            crate::fuzzing::decode_all(&copy);
            crate::fuzzing::sequence_frame(&mut copy);
        }
    }
    for len in 0..envelope.len() {
        let prefix = &envelope[..len];
        assert!(Envelope::new_checked(prefix).is_err(), "len {len}");
        crate::fuzzing::decode_all(prefix);
    }
}

#[test]
fn session_numbers_use_serial_arithmetic() {
    let s = |n| SessionNumber(n);
    assert!(s(1).is_newer_than(s(0)));
    assert!(!s(0).is_newer_than(s(1)));
    assert!(s(0).is_newer_than(s(65535)), "wraps");
    assert!(s(5).is_newer_than(s(65530)));
    assert!(!s(65530).is_newer_than(s(5)));
    assert!(s(32767).is_newer_than(s(0)));
    assert!(!s(32769).is_newer_than(s(0)));
    assert!(
        s(32768).is_newer_than(s(0)),
        "undefined distance counts as newer"
    );
    assert_eq!(s(65535).next(), s(0));
    assert!(!s(7).is_newer_than(s(7)));
}
