//! The C core and the Rust core (dataplane::oum::Sequencer) on the same random and mutated
//! frames: same verdict, same output bytes, same counters. Seeded (CAVIUM_SEED overrides;
//! CAVIUM_CASES sets the number of frames).

mod common;

use std::net::Ipv4Addr;

use cavium_sequencer::differential::{KeyedPair, PORT, compare, groups};
use cavium_sequencer::{CSequencer, CVerdict, Flags};
use common::{Rng, header_size_at, request};
use dataplane::golden::{self, Step};
use dataplane::oum::{DropReason, GroupId, GroupSpec, Sequencer, SessionNumber};

fn cases(default: usize) -> usize {
    std::env::var("CAVIUM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Golden-vector inputs: starting points for mutation.
fn vector_inputs() -> Vec<Vec<u8>> {
    let vectors = golden::load(&golden::default_path()).unwrap();
    vectors
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter_map(|s| match s {
            Step::Packet { packet, .. } => Some(golden::decode_hex(packet).unwrap()),
            Step::NewSession { .. } => None,
        })
        .collect()
}

/// Offsets where one changed byte changes the verdict: EtherType, version/IHL, total
/// length, flags/fragment offset, protocol, destination address, UDP port and length, OUM
/// preamble and header size (for a frame without options; mutated frames shift them).
const INTERESTING: &[usize] = &[
    12, 13, 14, 16, 17, 20, 21, 23, 33, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
];

fn frame(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut f = match rng.below(5) {
        0 => (0..rng.below(160)).map(|_| rng.byte()).collect(),
        1 => seeds[rng.below(seeds.len() as u64) as usize].clone(),
        _ => {
            let dst = Ipv4Addr::new(10, 0, 0, 99 + rng.below(5) as u8);
            let port = if rng.below(8) == 0 { PORT + 1 } else { PORT };
            let ihl = 5 + rng.below(4) as u8;
            let body: Vec<u8> = (0..rng.below(40)).map(|_| rng.byte()).collect();
            request(dst, port, ihl, &body)
        }
    };
    for _ in 0..rng.below(4) {
        if f.is_empty() {
            break;
        }
        let at = if rng.below(2) == 0 {
            INTERESTING[rng.below(INTERESTING.len() as u64) as usize]
        } else {
            rng.below(f.len() as u64) as usize
        };
        if let Some(b) = f.get_mut(at) {
            *b = match rng.below(4) {
                0 => *b ^ (1 << rng.below(8)),
                1 => 0,
                2 => 0xff,
                _ => rng.byte(),
            };
        }
    }
    match rng.below(6) {
        0 => f.truncate(rng.below(f.len() as u64 + 1) as usize),
        1 => f.extend((0..rng.below(20)).map(|_| rng.byte())),
        _ => {}
    }
    f
}

#[test]
fn c_and_rust_agree_on_random_and_mutated_frames() {
    let seed = common::seed(0x0c0f_fee5);
    let n = cases(100_000);
    let mut rng = Rng(seed);
    let seeds = vector_inputs();
    let specs = groups();
    let mut c = CSequencer::new(7, PORT, &specs, Flags::default()).unwrap();
    let mut rust = Sequencer::new(SessionNumber(7), PORT, &specs).unwrap();
    // Group 2 starts near the counter's end, so exhaustion is exercised too.
    assert!(c.set_last_msgnum(2, u64::MAX - 50));
    assert!(rust.set_last_msgnum(GroupId(2), u64::MAX - 50));
    let mut stamped = 0u64;
    for i in 0..n {
        let input = frame(&mut rng, &seeds);
        if let Err(problem) = compare(&c, &mut rust, &input) {
            panic!(
                "frame {i} (replay: CAVIUM_SEED={seed} CAVIUM_CASES={}): {problem}\n  input {}",
                i + 1,
                golden::encode_hex(&input)
            );
        }
        // Now and then a new session, on both.
        if rng.below(20_000) == 0 {
            let s = rng.next_u64() as u16;
            c.start_session(s);
            rust.start_session(SessionNumber(s));
        }
        stamped = (0..3).map(|g| c.stamped(g)).sum();
    }
    // Counters agree too, and the mix reached every verdict that matters.
    let stats = rust.stats();
    for reason in DropReason::ALL {
        assert_eq!(c.drop_count(reason), stats.drops.get(reason), "{reason}");
    }
    for (g, rg) in stats.groups.iter().enumerate() {
        assert_eq!(c.stamped(g as u16), rg.stamped, "group {g} stamped");
        assert_eq!(c.last_msgnum(g as u16), rg.last_msgnum, "group {g} last");
    }
    assert_eq!(stamped, stats.stamped());
    assert!(
        stamped > n as u64 / 10,
        "only {stamped} of {n} frames stamped"
    );
    let reached = DropReason::ALL
        .into_iter()
        .filter(|&r| c.drop_count(r) > 0)
        .count();
    assert!(
        reached >= 12,
        "the generator reached only {reached} drop reasons"
    );
}

#[test]
fn every_truncation_of_every_vector_agrees() {
    let specs = vec![GroupSpec {
        address: Ipv4Addr::new(10, 0, 0, 100),
        members: vec![0, 1, 2],
    }];
    for input in vector_inputs() {
        for len in 0..=input.len() {
            let c = CSequencer::new(1, PORT, &specs, Flags::default()).unwrap();
            let mut rust = Sequencer::new(SessionNumber(1), PORT, &specs).unwrap();
            compare(&c, &mut rust, &input[..len]).unwrap_or_else(|p| {
                panic!("{} truncated to {len}: {p}", golden::encode_hex(&input))
            });
        }
    }
}

#[test]
fn two_phase_api_matches_process() {
    let specs = groups();
    let c1 = CSequencer::new(3, PORT, &specs, Flags::default()).unwrap();
    let c2 = CSequencer::new(3, PORT, &specs, Flags::default()).unwrap();
    let mut rng = Rng(common::seed(42));
    let seeds = vector_inputs();
    for _ in 0..5_000 {
        let input = frame(&mut rng, &seeds);
        let (mut a, mut b) = (input.clone(), input.clone());
        let whole = c1.process(&mut a);
        let parsed = c2.classify(&b);
        assert_eq!(b, input, "classify wrote to the frame");
        let split = c2.commit(&mut b, &parsed).unwrap();
        assert_eq!(whole, split);
        assert_eq!(a, b);
    }
}

#[test]
fn forwarding_other_traffic() {
    let specs = groups();
    let c = CSequencer::new(
        1,
        PORT,
        &specs,
        Flags {
            forward_other: true,
        },
    )
    .unwrap();
    let other_port = request(Ipv4Addr::new(10, 0, 0, 100), PORT + 1, 5, b"x");
    let mut f = other_port.clone();
    assert_eq!(c.process(&mut f), CVerdict::Forward(DropReason::NotOumPort));
    assert_eq!(f, other_port, "forwarded frames are unchanged");
    let mut arp = vec![0u8; 60];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(c.process(&mut arp), CVerdict::Forward(DropReason::NotIpv4));
    let mut short = vec![0u8; 10];
    assert_eq!(
        c.process(&mut short),
        CVerdict::Drop(DropReason::TruncatedEthernet)
    );
    let mut stranger = request(Ipv4Addr::new(10, 9, 9, 9), PORT, 5, b"x");
    assert_eq!(
        c.process(&mut stranger),
        CVerdict::Drop(DropReason::UnknownGroup)
    );
    let mut req = request(Ipv4Addr::new(10, 0, 0, 101), PORT, 6, b"x");
    assert_eq!(
        c.process(&mut req),
        CVerdict::Multicast {
            group: 1,
            session: 1,
            msgnum: 1
        }
    );
    assert_eq!(req[header_size_at(6) + 1], 10);
    assert_eq!(c.forward_count(DropReason::NotOumPort), 1);
    assert_eq!(c.forward_count(DropReason::NotIpv4), 1);
    assert_eq!(c.drop_count(DropReason::NotOumPort), 0);
    assert_eq!(c.drop_count(DropReason::TruncatedEthernet), 1);
    assert_eq!(c.drop_count(DropReason::UnknownGroup), 1);
}

#[test]
fn configuration_errors_and_queries() {
    let mut specs = groups();
    specs.push(GroupSpec {
        address: Ipv4Addr::new(10, 0, 0, 101),
        members: vec![9],
    });
    assert_eq!(
        CSequencer::new(1, PORT, &specs, Flags::default()).unwrap_err(),
        cavium_sequencer::InitError::DuplicateGroupAddress
    );
    let c = CSequencer::new(5, 4000, &groups(), Flags::default()).unwrap();
    assert_eq!((c.session(), c.oum_port(), c.group_count()), (5, 4000, 3));
    assert_eq!(c.lookup(Ipv4Addr::new(10, 0, 0, 101)), Some(1));
    assert_eq!(c.lookup(Ipv4Addr::new(10, 0, 0, 103)), None);
    assert_eq!(c.members(0), &[0, 1, 2]);
    assert_eq!(c.members(2), &[] as &[u16]);
    assert_eq!(c.members(3), &[] as &[u16]);
    assert_eq!(c.group_address(1), Ipv4Addr::new(10, 0, 0, 101));
    // Many groups: the lookup (binary search over a sorted index) finds each.
    let many: Vec<GroupSpec> = (0..5000u32)
        .map(|i| GroupSpec {
            address: Ipv4Addr::from(0x0a00_0000 + i.wrapping_mul(2_654_435_761) % 0x00ff_ffff),
            members: vec![(i % 7) as u16],
        })
        .collect();
    let c = CSequencer::new(1, PORT, &many, Flags::default()).unwrap();
    for (i, g) in many.iter().enumerate() {
        assert_eq!(c.lookup(g.address), Some(i as u16));
        assert_eq!(c.members(i as u16), &g.members[..]);
    }
}

#[test]
fn burst_matches_one_at_a_time() {
    let specs = groups();
    let c1 = CSequencer::new(1, PORT, &specs, Flags::default()).unwrap();
    let c2 = CSequencer::new(1, PORT, &specs, Flags::default()).unwrap();
    let mut rng = Rng(common::seed(7));
    let seeds = vector_inputs();
    let inputs: Vec<Vec<u8>> = (0..100).map(|_| frame(&mut rng, &seeds)).collect();
    let mut burst = inputs.clone();
    let mut verdicts = Vec::new();
    c1.process_burst(&mut burst, &mut verdicts);
    assert_eq!(verdicts.len(), inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let mut f = input.clone();
        assert_eq!(c2.process(&mut f), verdicts[i], "frame {i}");
        assert_eq!(f, burst[i], "frame {i}");
    }
}

/// Keyed groups: the C core's sealed frames against the Rust core's own sealing path
/// (`set_key`, `stamp_frame_in` with the same room, `seal_frame`), on the same random and
/// mutated frames, some with IPv4 trailers or Ethernet padding, with a random amount of
/// room after each frame: verdicts, bytes and counters agree, the C core's
/// no-room-for-tag being the Rust core's too-big-for-tag.
#[test]
fn keyed_groups_agree_with_rust_stamp_then_seal() {
    let seed = common::seed(0x5ea1_ed00);
    let n = cases(50_000);
    let mut rng = Rng(seed);
    let seeds = vector_inputs();
    let keys = [
        Some(std::array::from_fn(|_| rng.byte())),
        None,
        Some(std::array::from_fn(|_| rng.byte())),
    ];
    let mut pair = KeyedPair::new(7, &groups(), &keys);
    // Group 2 (keyed) starts near the counter's end: exhaustion meets the room check.
    assert!(pair.c.set_last_msgnum(2, u64::MAX - 50));
    assert!(pair.rust.set_last_msgnum(GroupId(2), u64::MAX - 50));
    for i in 0..n {
        let mut input = frame(&mut rng, &seeds);
        // An IPv4 trailer on a quarter of them (on a frame long enough to be IPv4).
        if rng.below(4) == 0 && input.len() >= 18 {
            let trailer: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.byte()).collect();
            input = with_ipv4_trailer_any(input, &trailer);
        }
        let room = match rng.below(4) {
            0 => rng.below(8) as usize,
            1 => 8,
            _ => 8 + rng.below(64) as usize,
        };
        if let Err(problem) = pair.compare(&input, room) {
            panic!(
                "frame {i} room {room} (replay: CAVIUM_SEED={seed} CAVIUM_CASES={}): {problem}\n  input {}",
                i + 1,
                golden::encode_hex(&input)
            );
        }
    }
    let stats = pair.rust.stats();
    assert_eq!(pair.c.no_room_drops(), stats.too_big_for_tag());
    for reason in DropReason::ALL {
        assert_eq!(
            pair.c.drop_count(reason),
            stats.drops.get(reason),
            "{reason}"
        );
    }
    for (g, rg) in stats.groups.iter().enumerate() {
        let g16 = g as u16;
        assert_eq!(pair.c.stamped(g16), rg.stamped, "group {g}");
        assert_eq!(pair.c.last_msgnum(g16), rg.last_msgnum, "group {g} last");
    }
    assert_eq!(
        stats.groups[1].too_big_for_tag, 0,
        "an unkeyed group refused"
    );
    assert!(pair.c.stamped(0) > n as u64 / 20 && pair.c.stamped(1) > n as u64 / 20);
    assert!(
        stats.too_big_for_tag() > 100,
        "only {} frames without room",
        stats.too_big_for_tag()
    );
    assert!(pair.c.drop_count(DropReason::CounterExhausted) > 0);
}

/// Like `common::with_ipv4_trailer` for any frame: grows whatever the bytes at the IPv4
/// total length say by the trailer, so mutated and random frames get trailers too.
fn with_ipv4_trailer_any(mut frame: Vec<u8>, trailer: &[u8]) -> Vec<u8> {
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let end = (14 + total).min(frame.len());
    frame.splice(end..end, trailer.iter().copied());
    let grown = (total + trailer.len()).min(usize::from(u16::MAX)) as u16;
    frame[16..18].copy_from_slice(&grown.to_be_bytes());
    frame
}

/// The room rule at its edges, frame by frame: the tag replaces any IPv4 trailer and
/// Ethernet padding, so a keyed request is sealed exactly when the buffer holds the frame
/// up to its UDP datagram and 8 more bytes; IPv4 header + UDP length + 8 must fit in
/// 65535; and an exhausted counter is the reason before the room, in both cores.
#[test]
fn keyed_room_rule_edges_agree() {
    let key = Some([0x42; 16]);
    let mut pair = KeyedPair::new(3, &groups(), &[key, None, key]);
    let mut cases = 0;
    for ihl in [5, 7] {
        for trailer in 0..=10usize {
            for pad in 0..=10usize {
                for room in 0..=10usize {
                    for dst in [100, 101] {
                        let body = [0x5a; 9];
                        let mut f = request(Ipv4Addr::new(10, 0, 0, dst), PORT, ihl, &body);
                        if trailer > 0 {
                            f = common::with_ipv4_trailer(f, &vec![0xee; trailer]);
                        }
                        f.extend(std::iter::repeat_n(0xdd, pad));
                        let before = pair.rust.stats().too_big_for_tag();
                        pair.compare(&f, room).unwrap_or_else(|p| {
                            panic!("ihl {ihl} trailer {trailer} pad {pad} room {room}: {p}")
                        });
                        let refused = pair.rust.stats().too_big_for_tag() > before;
                        assert_eq!(refused, dst == 100 && trailer + pad + room < 8);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 5000);
    // The 16-bit total length: IPv4 header + UDP length + 8 at most 65535, whatever room.
    for (body_len, sealed) in [
        (65535 - 20 - 8 - 16 - 8, true),
        (65535 - 20 - 8 - 16 - 7, false),
    ] {
        let f = request(Ipv4Addr::new(10, 0, 0, 100), PORT, 5, &vec![1; body_len]);
        let before = pair.rust.stats().too_big_for_tag();
        pair.compare(&f, 64).unwrap();
        assert_eq!(
            pair.rust.stats().too_big_for_tag() == before,
            sealed,
            "body {body_len}"
        );
    }
    // With a trailer the limit is on the sealed length, not the old total: a 65535-byte
    // IPv4 packet whose last 8 bytes are a trailer is sealed in place.
    let f = request(
        Ipv4Addr::new(10, 0, 0, 100),
        PORT,
        5,
        &vec![1; 65535 - 20 - 8 - 16 - 8],
    );
    let f = common::with_ipv4_trailer(f, &[9; 8]);
    assert_eq!(u16::from_be_bytes([f[16], f[17]]), u16::MAX);
    let before = pair.rust.stats().too_big_for_tag();
    pair.compare(&f, 0).unwrap();
    assert_eq!(
        pair.rust.stats().too_big_for_tag(),
        before,
        "a trailer is room at the limit"
    );
    // Exhausted and without room: counter-exhausted in both.
    assert!(pair.c.set_last_msgnum(2, u64::MAX));
    assert!(pair.rust.set_last_msgnum(GroupId(2), u64::MAX));
    let f = request(Ipv4Addr::new(10, 0, 0, 102), PORT, 5, b"x");
    let before = pair.c.drop_count(DropReason::CounterExhausted);
    pair.compare(&f, 0).unwrap();
    assert_eq!(pair.c.drop_count(DropReason::CounterExhausted), before + 1);
    let stats = pair.rust.stats();
    assert_eq!(pair.c.no_room_drops(), stats.too_big_for_tag());
    for reason in DropReason::ALL {
        assert_eq!(
            pair.c.drop_count(reason),
            stats.drops.get(reason),
            "{reason}"
        );
    }
}
