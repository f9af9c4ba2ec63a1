//! Wire format: every message round-trips, every truncation fails, random and forged bytes
//! never panic and never make the decoder allocate what they claim.

use dataplane::io::sim::SimRng;

use crate::MAX_DATAGRAM;
use crate::codec::{CodecError, Writer};
use crate::vr::messages::{
    Ballot, ChunkIn, ChunkKind, MAX_OP, Message, PREPARE_HEADER, StateMode, code, encode_prepare,
};
use crate::vr::types::{ENTRY_OVERHEAD, Entry};

fn entry(i: u64, op_len: usize) -> Entry {
    Entry {
        client: 100 + i,
        request: i,
        reply_to: "10.1.2.3:4000".parse().unwrap(),
        op: vec![i as u8; op_len],
    }
}

/// A PREPARE encoded from log entries, as the primary sends it.
fn prepare_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    encode_prepare(&mut w, 7, 40, 39, entries.iter()).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

fn encode(m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    m.encode(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

fn samples() -> Vec<Vec<u8>> {
    let mut out = vec![
        encode(&Message::Request {
            client: 1,
            request: 2,
            op: b"hello",
        }),
        encode(&Message::Request {
            client: 1,
            request: 3,
            op: b"",
        }),
        encode(&Message::Reply {
            view: 4,
            client: 1,
            request: 2,
            result: b"r",
        }),
        encode(&Message::PrepareOk { view: 4, op: 99 }),
        encode(&Message::Commit {
            view: 4,
            commit: 98,
        }),
        encode(&Message::StartViewChange { view: 5 }),
        encode(&Message::Chunk(ChunkIn {
            kind: ChunkKind::ViewChange,
            view: 5,
            id: 11,
            index: 1,
            count: 3,
            total: 20000,
            data: b"chunk",
        })),
        encode(&Message::Chunk(ChunkIn {
            kind: ChunkKind::State,
            view: 5,
            id: 12,
            index: 0,
            count: 1,
            total: 0,
            data: b"",
        })),
        encode(&Message::StateRequest {
            view: 5,
            op: 10,
            commit: 9,
            nonce: 77,
            mode: StateMode::Recovery,
        }),
        encode(&Message::Recovery { nonce: 78 }),
        encode(&Message::RecoveryResponse { view: 6, nonce: 78 }),
        encode(&Message::PreVote {
            view: 6,
            attempt: 3,
            ballot: Ballot::Ask,
        }),
        encode(&Message::PreVote {
            view: 6,
            attempt: 3,
            ballot: Ballot::Grant,
        }),
    ];
    out.push(prepare_bytes(&[entry(1, 3), entry(2, 0), entry(3, 10)]));
    out.push(prepare_bytes(&[]));
    out
}

#[test]
fn every_message_round_trips_and_every_truncation_fails() {
    for bytes in samples() {
        let m = Message::decode(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        assert_eq!(encode(&m), bytes, "re-encoding {m:?}");
        for len in 0..bytes.len() {
            assert!(
                Message::decode(&bytes[..len]).is_err(),
                "{m:?} cut at {len}"
            );
        }
        // A byte after the last field, inside the body the envelope declares.
        let mut longer = bytes.clone();
        longer.push(0);
        let body_len = u32::from_be_bytes(longer[8..12].try_into().unwrap()) + 1;
        longer[8..12].copy_from_slice(&body_len.to_be_bytes());
        assert!(
            Message::decode(&longer).is_err(),
            "{m:?} with a trailing byte"
        );
    }
}

#[test]
fn a_prepare_carries_its_batch_in_place() {
    let entries = vec![entry(1, 3), entry(2, 0), entry(3, 10)];
    let bytes = prepare_bytes(&entries);
    assert_eq!(bytes.len(), PREPARE_HEADER + 3 * ENTRY_OVERHEAD + 13);
    let Message::Prepare {
        view,
        first,
        commit,
        entries: got,
    } = Message::decode(&bytes).unwrap()
    else {
        panic!("not a prepare")
    };
    assert_eq!((view, first, commit, got.len()), (7, 40, 39, 3));
    let back: Vec<Entry> = got
        .iter()
        .map(|e| Entry {
            client: e.client,
            request: e.request,
            reply_to: e.reply_to,
            op: e.op.to_vec(),
        })
        .collect();
    assert_eq!(back, entries);
}

#[test]
fn the_largest_operation_fits_a_prepare_alone() {
    let bytes = prepare_bytes(&[entry(1, MAX_OP)]);
    assert_eq!(bytes.len(), MAX_DATAGRAM);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    let too_big = [entry(1, MAX_OP + 1)];
    assert!(matches!(
        encode_prepare(&mut w, 1, 1, 0, too_big.iter()),
        Err(CodecError::TooLong { .. })
    ));
}

#[test]
fn forged_counts_and_bad_fields_are_errors() {
    // A PREPARE claiming 2^32 - 1 entries in a few bytes.
    let mut bytes = prepare_bytes(&[entry(1, 1)]);
    let count_at = PREPARE_HEADER - 4;
    bytes[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(Message::decode(&bytes).is_err());
    // First op number 0, and one whose batch would overflow.
    for first in [0u64, u64::MAX] {
        let mut bytes = prepare_bytes(&[entry(1, 1)]);
        bytes[20..28].copy_from_slice(&first.to_be_bytes());
        assert!(Message::decode(&bytes).is_err(), "first {first}");
    }
    // Unknown chunk kind and state mode.
    let mut chunk = samples()[6].clone();
    chunk[12] = 9;
    assert!(Message::decode(&chunk).is_err());
    let mut get = samples()[8].clone();
    let last = get.len() - 1;
    get[last] = 3;
    assert!(Message::decode(&get).is_err());
    // Types outside VR's range, and the range's unused numbers.
    let mut other = samples()[3].clone();
    for t in [0x01u8, 0x10, code::PRE_VOTE + 1, 0x3f, 0x40] {
        other[5] = t;
        assert!(Message::decode(&other).is_err(), "type {t:#x}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SimRng::new(0x5eed);
    let templates = samples();
    for round in 0..50_000u64 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            let len = rng.up_to(120) as usize;
            (0..len).map(|_| rng.next_u64() as u8).collect()
        } else {
            // Mutate a valid message: more likely to get past the envelope.
            let mut b = templates[(round as usize / 2) % templates.len()].clone();
            for _ in 0..1 + rng.up_to(3) {
                let i = rng.up_to(b.len() as u64 - 1) as usize;
                b[i] = rng.next_u64() as u8;
            }
            b
        };
        if let Ok(Message::Prepare { entries, .. }) = Message::decode(&bytes) {
            assert_eq!(entries.iter().count(), entries.len());
        }
    }
}
