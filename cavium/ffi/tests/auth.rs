//! Authenticated stamps in the C core against the Rust primitive (`dataplane::oum::StampKey`,
//! on the `siphasher` crate): the same tag for random keys, fields and payloads of 0..2048
//! bytes, and C-sealed frames that `StampKey::open` accepts and turns back into the Rust
//! core's stamped datagram. Seeded (CAVIUM_SEED overrides).

mod common;

use std::net::Ipv4Addr;

use cavium_sequencer::auth::{siphash24, stamp_tag};
use cavium_sequencer::{CSequencer, CVerdict, Flags};
use common::{Rng, ipv4_checksum_ok, request, set_ipv4_checksum};
use dataplane::oum::{AuthError, GroupSpec, Sequencer, SessionNumber, StampKey, Verdict};

const PORT: u16 = 22222;

fn random_key(rng: &mut Rng) -> [u8; 16] {
    std::array::from_fn(|_| rng.byte())
}

#[test]
fn c_tag_equals_stamp_key_tag_for_random_keys_fields_and_payloads() {
    let mut rng = Rng(common::seed(0x5195_4a54));
    let payload: Vec<u8> = (0..2048).map(|_| rng.byte()).collect();
    // Every length up to 64 (all the ways the 12 bytes of fields and the payload straddle
    // 8-byte words), then random lengths up to 2048.
    let lengths = (0..=64).chain((0..3000).map(|_| rng.below(2049) as usize));
    for len in lengths.collect::<Vec<_>>() {
        let key = random_key(&mut rng);
        let (group, session, msgnum) =
            (rng.next_u64() as u16, rng.next_u64() as u16, rng.next_u64());
        let start = rng.below((2048 - len) as u64 + 1) as usize;
        let body = &payload[start..start + len];
        let want = StampKey::new(key).tag(group, session, msgnum, body);
        assert_eq!(
            stamp_tag(&key, group, session, msgnum, body),
            want,
            "len {len} key {key:02x?} group {group} session {session} msgnum {msgnum}"
        );
        // The one-call form over the same bytes, in one buffer.
        let mut all = Vec::with_capacity(12 + len);
        all.extend_from_slice(&group.to_be_bytes());
        all.extend_from_slice(&session.to_be_bytes());
        all.extend_from_slice(&msgnum.to_be_bytes());
        all.extend_from_slice(body);
        assert_eq!(siphash24(&key, &all), want, "one call, len {len}");
    }
}

fn keyed_groups() -> Vec<GroupSpec> {
    (0..3)
        .map(|i| GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100 + i),
            members: vec![0, 1, 2],
        })
        .collect()
}

#[test]
fn c_sealed_frames_open_with_stamp_key_into_the_rust_stamp() {
    let mut rng = Rng(common::seed(0xa17e));
    let specs = keyed_groups();
    let key = random_key(&mut rng);
    let keys = [None, Some(key), Some(random_key(&mut rng))];
    let c = CSequencer::with_keys(3, PORT, &specs, &keys, Flags::default()).unwrap();
    let mut rust = Sequencer::new(SessionNumber(3), PORT, &specs).unwrap();
    assert!(!c.keyed(0) && c.keyed(1) && c.keyed(2) && !c.keyed(3));
    for i in 0..2000u64 {
        let ihl = 5 + rng.below(4) as u8;
        let body: Vec<u8> = (0..rng.below(1500)).map(|_| rng.byte()).collect();
        let mut input = request(Ipv4Addr::new(10, 0, 0, 101), PORT, ihl, &body);
        set_ipv4_checksum(&mut input);
        let mut buf = input.clone();
        buf.resize(input.len() + 8 + rng.below(64) as usize, 0xcc);
        let (verdict, len) = c.process_buf(&mut buf, input.len());
        assert_eq!(
            verdict,
            CVerdict::Multicast {
                group: 1,
                session: 3,
                msgnum: i + 1
            }
        );
        assert_eq!(len, input.len() + 8);
        assert!(ipv4_checksum_ok(&buf[..len]), "frame {i}: IPv4 checksum");
        let udp = 14 + usize::from(ihl) * 4;
        let udp_len = usize::from(u16::from_be_bytes([buf[udp + 4], buf[udp + 5]]));
        assert_eq!(udp + udp_len, len, "UDP length covers the tag");
        assert_eq!(&buf[udp + 6..udp + 8], &[0, 0], "UDP checksum none");
        assert_eq!(&buf[udp + 12..udp + 14], &[0, 18], "header size 18");

        let mut r_frame = input.clone();
        assert!(matches!(
            rust.stamp_frame(&mut r_frame),
            Verdict::Multicast { .. }
        ));
        let mut datagram = buf[udp + 8..len].to_vec();
        let mut forged = datagram.clone();
        assert_eq!(
            StampKey::new(key).open(1, &mut datagram),
            Ok(datagram.len() - 8)
        );
        assert_eq!(&datagram[..datagram.len() - 8], &r_frame[udp + 8..]);
        // Any other group, or key, or a changed byte: refused.
        assert_eq!(
            StampKey::new(key).open(2, &mut forged.clone()),
            Err(AuthError::BadTag)
        );
        assert_eq!(
            StampKey::new(keys[2].unwrap()).open(1, &mut forged.clone()),
            Err(AuthError::BadTag)
        );
        let at = 6 + rng.below(forged.len() as u64 - 6) as usize;
        forged[at] ^= 1 << rng.below(8);
        assert_eq!(
            StampKey::new(key).open(1, &mut forged),
            Err(AuthError::BadTag)
        );
    }
    assert_eq!(c.stamped(1), 2000);
}

#[test]
fn two_phase_api_with_room_matches_process_buf() {
    let mut rng = Rng(common::seed(0x2fa5e));
    let specs = keyed_groups();
    let keys = [Some(random_key(&mut rng)), None, Some(random_key(&mut rng))];
    let c1 = CSequencer::with_keys(1, PORT, &specs, &keys, Flags::default()).unwrap();
    let c2 = CSequencer::with_keys(1, PORT, &specs, &keys, Flags::default()).unwrap();
    for _ in 0..3000 {
        let dst = Ipv4Addr::new(10, 0, 0, 99 + rng.below(5) as u8);
        let body: Vec<u8> = (0..rng.below(64)).map(|_| rng.byte()).collect();
        let input = request(dst, PORT, 5 + rng.below(2) as u8, &body);
        let mut a = input.clone();
        a.resize(input.len() + rng.below(16) as usize, 0);
        let mut b = a.clone();
        let whole = c1.process_buf(&mut a, input.len());
        let parsed = c2.classify_buf(&b, input.len());
        let split = c2.commit_buf(&mut b, input.len(), &parsed).unwrap();
        assert_eq!(whole, split);
        assert_eq!(a, b);
    }
    assert_eq!(c1.no_room_drops(), c2.no_room_drops());
    assert!(c1.no_room_drops() > 0 && c1.stamped(0) > 0 && c1.stamped(2) > 0);
}
