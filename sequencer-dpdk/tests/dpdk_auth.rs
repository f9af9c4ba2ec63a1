//! Authenticated stamps on the DPDK engine (ring port, one process per scenario as in
//! dpdk.rs): every copy of a keyed group's request, copied or cloned, carries a tag that
//! opens with the group's key, with consistent IPv4 and UDP lengths and a valid IPv4
//! checksum; an unkeyed group's copies are as before; a keyed request with no tailroom for
//! the tag is refused unstamped and counted. Needs root, like dpdk.rs.
#![cfg(feature = "dpdk")]

mod support;
use support::{in_own_process, member_addr, rig};

use std::net::Ipv4Addr;

use dataplane::oum::{AUTH_TAG_LEN, GroupId, GroupSpec, Sequencer, SessionNumber, StampKey};
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{
    EthernetFrame, Ipv4Packet, OUM_DEFAULT_PORT, OumRepr, UdpPacket, ipv4_header_checksum,
};

const KEY: [u8; 16] = *b"dpdk-test-key-16";
const KEYED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const PLAIN: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 101);

fn request(group: Ipv4Addr, body: &[u8]) -> Vec<u8> {
    UdpFrameSpec {
        dst_ip: group,
        udp_checksum: false,
        ..Default::default()
    }
    .build(&oum_payload(OumRepr::Unsequenced, body))
    .unwrap()
}

/// The UDP payload of a sent copy, after checking its lengths and IPv4 checksum.
fn checked_payload(frame: &[u8]) -> Vec<u8> {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert_eq!(usize::from(ip.total_len()), frame.len() - 14);
    let header = &eth.payload()[..20];
    assert_eq!(
        u16::from_be_bytes([header[10], header[11]]),
        ipv4_header_checksum(header),
        "IPv4 checksum"
    );
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(usize::from(udp.length()), ip.payload().len());
    assert_eq!(udp.checksum(), 0);
    udp.payload().to_vec()
}

fn sealing_scenario() {
    let rig = rig();
    let specs = [KEYED, PLAIN].map(|address| GroupSpec {
        address,
        members: vec![0, 1, 2],
    });
    let mut sequencer = Sequencer::new(SessionNumber(3), OUM_DEFAULT_PORT, &specs).unwrap();
    sequencer.set_key(GroupId(0), Some(StampKey::new(KEY)));
    let members = vec![
        (0..3).map(member_addr).collect(),
        (0..3).map(member_addr).collect(),
    ];
    // Threshold 100: the short request's extra copies are memcpy'd, the long one's are a
    // header mbuf chained to a clone of the (sealed) payload.
    let mut engine = rig.engine(sequencer, members, 100);
    let key = StampKey::new(KEY);
    for (i, body) in [&b"short"[..], &[9u8; 600][..]].into_iter().enumerate() {
        rig.inject(&request(KEYED, body));
        while engine.poll() == 0 {}
        let copies = rig.collect();
        assert_eq!(copies.len(), 3);
        for copy in &copies {
            let mut payload = checked_payload(copy);
            assert_eq!(&payload[4..6], &[0, 18], "sealed header size");
            assert_eq!(copy.len(), request(KEYED, body).len() + AUTH_TAG_LEN);
            let plain = key.open(0, &mut payload).unwrap();
            assert_eq!(&payload[16..plain], body);
            assert_eq!(
                u64::from_be_bytes(payload[8..16].try_into().unwrap()),
                i as u64 + 1
            );
        }
    }
    // The unkeyed group: header size 10, no trailer.
    let plain_request = request(PLAIN, b"plain");
    rig.inject(&plain_request);
    while engine.poll() == 0 {}
    for copy in rig.collect() {
        assert_eq!(copy.len(), plain_request.len());
        assert_eq!(&checked_payload(&copy)[4..6], &[0, 10]);
    }
    // A keyed request that fills its mbuf to the end leaves no room for the tag: refused
    // before it takes a number, counted, nothing sent.
    let full = request(KEYED, &vec![1u8; 2048 - 42 - 16]);
    assert_eq!(full.len(), 2048);
    rig.inject(&full);
    while engine.poll() == 0 {}
    assert!(rig.collect().is_empty());
    let stats = engine.sequencer().stats();
    assert_eq!(stats.too_big_for_tag(), 1);
    assert_eq!(stats.groups[0].last_msgnum, 2);
    assert_eq!(engine.stats().unsealed, 0);
    drop(engine);
    rig.assert_all_mbufs_back();
}

#[test]
fn keyed_copies_carry_a_tag_that_opens_with_the_key() {
    in_own_process(
        "keyed_copies_carry_a_tag_that_opens_with_the_key",
        sealing_scenario,
    );
}
