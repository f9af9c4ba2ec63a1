//! The bodies of the fuzz targets (fuzz/fuzz_targets/*), kept here so that ordinary tests
//! run them too, over truncations and random bytes, on every `cargo test`.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::oum::{Event, GroupSpec, Receiver, ReceiverConfig, Sequencer, SessionNumber, Stamp};
use crate::time::Time;
use crate::wire::{
    Envelope, EnvelopeRepr, EthernetFrame, EthernetRepr, Ipv4Packet, Ipv4Repr, OumPacket, OumRepr,
    UdpPacket, UdpRepr,
};

/// Runs every wire decoder over `data`, each layer both alone and nested.
pub fn decode_all(data: &[u8]) {
    if let Ok(eth) = EthernetFrame::new_checked(data) {
        let _ = EthernetRepr::parse(&eth);
        if let Ok(ip) = Ipv4Packet::new_checked(eth.into_payload()) {
            let _ = Ipv4Repr::parse(&ip);
            let _ = ip.verify_checksum();
            let (src, dst) = (ip.src_addr(), ip.dst_addr());
            if let Ok(udp) = UdpPacket::new_checked(ip.into_payload()) {
                let _ = UdpRepr::parse(&udp);
                let _ = udp.verify_checksum(src, dst);
                decode_oum_payload(udp.into_payload());
            }
        }
    }
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        let _ = Ipv4Repr::parse(&ip);
    }
    if let Ok(udp) = UdpPacket::new_checked(data) {
        let _ = UdpRepr::parse(&udp);
    }
    decode_oum_payload(data);
    if let Ok(env) = Envelope::new_checked(data) {
        let _ = EnvelopeRepr::parse(&env);
    }
    // An authenticated stamp: any bytes give an error or a shorter plain stamped datagram.
    let mut copy = data.to_vec();
    if let Ok(len) = crate::oum::StampKey::new([7; 16]).open(0, &mut copy) {
        assert!(len + crate::oum::AUTH_TAG_LEN == data.len(), "{len}");
    }
    // A session query or answer is accepted only in its one canonical encoding.
    if let Some(query) = crate::oum::SessionQuery::parse(data) {
        assert_eq!(query.to_bytes().as_slice(), data, "{query:?}");
    }
}

fn decode_oum_payload(payload: &[u8]) {
    if let Ok(oum) = OumPacket::new_checked(payload) {
        let _ = OumRepr::parse(&oum);
        if let Ok(env) = Envelope::new_checked(oum.into_body()) {
            let _ = EnvelopeRepr::parse(&env);
        }
    }
}

/// Runs the sequencer core over `frame` (in place) with a two-group configuration whose first
/// group's counter sits just below the wrap, so every branch is reachable. A second
/// sequencer in the same state takes every frame through the parser alone
/// (`stamp_frame_parsed`): the fast path must give the same verdicts, bytes and counters.
pub fn sequence_frame(frame: &mut [u8]) {
    let groups = [
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100),
            members: vec![0, 1, 2],
        },
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 101),
            members: vec![3],
        },
    ];
    let make = || {
        let mut sequencer =
            Sequencer::new(SessionNumber(1), crate::wire::OUM_DEFAULT_PORT, &groups).ok()?;
        sequencer.set_last_msgnum(crate::oum::GroupId(0), u64::MAX - 1);
        Some(sequencer)
    };
    let (Some(mut sequencer), Some(mut reference)) = (make(), make()) else {
        return;
    };
    let original = frame.to_vec();
    let mut parsed = frame.to_vec();
    for _ in 0..2 {
        let fast = sequencer.stamp_frame(frame);
        let slow = reference.stamp_frame_parsed(&mut parsed);
        assert_eq!(fast, slow);
        assert_eq!(&frame[..], &parsed[..]);
    }
    assert_eq!(sequencer.stats(), reference.stats());
    let _ = sequencer.stamp_datagram(crate::oum::GroupId(1), frame);
    seal_frame(&original, &groups);
}

/// A keyed group's frame stamped with room for the tag and sealed: never a panic, and what
/// comes out has headers that parse and a UDP payload that opens with the key.
fn seal_frame(frame: &[u8], groups: &[GroupSpec]) {
    use crate::oum::{AUTH_TAG_LEN, GroupId, StampKey, Verdict};
    let Ok(mut keyed) = Sequencer::new(SessionNumber(1), crate::wire::OUM_DEFAULT_PORT, groups)
    else {
        return;
    };
    let key = StampKey::new([7; 16]);
    keyed.set_key(GroupId(0), Some(key.clone()));
    let mut buffer = frame.to_vec();
    buffer.extend_from_slice(&[0; AUTH_TAG_LEN]);
    let Some(Verdict::Multicast { group, .. }) =
        keyed.stamp_frame_in(&mut buffer[..frame.len()], AUTH_TAG_LEN)
    else {
        return;
    };
    let Some(len) = keyed.seal_frame(group, &mut buffer) else {
        assert_ne!(group, GroupId(0), "a keyed stamp was not sealed");
        return;
    };
    let eth = EthernetFrame::new_checked(&buffer[..len]).expect("sealed Ethernet");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("sealed IPv4");
    let udp = UdpPacket::new_checked(ip.payload()).expect("sealed UDP");
    let mut payload = udp.payload().to_vec();
    assert!(
        key.open(0, &mut payload).is_ok(),
        "a sealed stamp does not open"
    );
}

/// Feeds a receiver a stream of UDP payloads cut from `data`: each starts with a length
/// byte and a time step byte, then that many bytes of payload. A second receiver takes the
/// same stream, taking each run of drops at once (`poll_drops`, at most a few at a time):
/// both must report the same events and counts.
pub fn receive_stream(data: &[u8]) {
    let config = ReceiverConfig {
        reorder_window: Duration::from_micros(50),
        min_reorder_window: Duration::ZERO,
        pending_capacity: 8,
        max_gap: 64,
    };
    let mut one: Receiver<&[u8]> = Receiver::new(config);
    let mut runs: Receiver<&[u8]> = Receiver::new(config);
    let mut now = Time::ZERO;
    let mut rest = data;
    while let [len, step, tail @ ..] = rest {
        let take = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(take);
        rest = next;
        now += Duration::from_micros(u64::from(*step));
        if *step == 0xff {
            // The session being delivered, or the one that ended it and awaits `listen`.
            let session = one.newest_session().unwrap_or_default();
            one.listen(session, u64::from(*len));
            runs.listen(session, u64::from(*len));
        }
        let _ = one.on_payload(now, payload);
        let _ = runs.on_payload(now, payload);
        drain_both(&mut one, &mut runs, now, u64::from(*step % 4));
    }
    // Drain what the deadline releases; max_gap bounds how much that can be.
    now += Duration::from_secs(1);
    drain_both(&mut one, &mut runs, now, u64::MAX);
}

/// Drains `one` event by event and `runs` taking up to `max` more drops after each drop;
/// both must say the same.
fn drain_both(one: &mut Receiver<&[u8]>, runs: &mut Receiver<&[u8]>, now: Time, max: u64) {
    let mut expected = Vec::new();
    while let Some(e) = one.poll_event(now) {
        expected.push(e);
    }
    let mut got = Vec::new();
    while let Some(e) = runs.poll_event(now) {
        if let Event::Drop(stamp) = e {
            let more = runs.poll_drops(now, max);
            got.extend(
                (0..=more).map(|i| Event::Drop(Stamp::new(stamp.session.0, stamp.msgnum + i))),
            );
        } else {
            got.push(e);
        }
    }
    assert_eq!(expected, got);
    assert_eq!(one.stats(), runs.stats());
    assert_eq!(one.next_msgnum(), runs.next_msgnum());
}

/// Runs the pcap reader over `data` as a whole file.
pub fn decode_pcap(data: &[u8]) {
    crate::pcap::decode_all(data);
}

/// Parses `data` as a cluster config file.
pub fn parse_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::ClusterConfig::parse(text);
    }
}

#[cfg(test)]
mod tests {
    /// A small deterministic generator, so the test needs no dependency.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_bytes_never_panic_any_decoder() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let base = crate::wire::build::UdpFrameSpec::default()
            .build(&crate::wire::build::oum_payload(
                crate::wire::OumRepr::Unsequenced,
                b"some body bytes",
            ))
            .unwrap_or_default();
        for round in 0..20_000 {
            let len = (xorshift(&mut state) % 128) as usize;
            let mut data: Vec<u8> = if round % 2 == 0 {
                // Mutations of a valid frame reach deeper layers than pure noise.
                let mut d = base.clone();
                for _ in 0..(xorshift(&mut state) % 4) {
                    let i = (xorshift(&mut state) as usize) % d.len();
                    d[i] = xorshift(&mut state) as u8;
                }
                d.truncate(len.max(14));
                d
            } else {
                (0..len).map(|_| xorshift(&mut state) as u8).collect()
            };
            super::decode_all(&data);
            super::decode_pcap(&data);
            super::parse_config(&data);
            super::receive_stream(&data);
            super::sequence_frame(&mut data);
        }
    }

    #[test]
    fn streams_of_stamps_report_the_same_events_with_runs_of_drops_taken_at_once() {
        // Valid stamps, mostly ascending with gaps, jumps and repeats, so the receivers
        // drop, hold, force and confirm (random bytes rarely make a stamp).
        let mut state = 0x1234_5678_9abc_def1u64;
        for _ in 0..500 {
            let mut data = Vec::new();
            // Message 1 of session 1 ends the unbound state; a step of 0xff then listens at
            // the record's length byte (16, a bare header).
            let mut cursor = 16u64;
            for stamp in [1, 16] {
                let payload = crate::wire::build::oum_payload(
                    crate::wire::OumRepr::Sequenced(crate::wire::Stamp::new(1, stamp)),
                    b"",
                );
                data.push(payload.len() as u8);
                data.push(if stamp == 16 { 0xff } else { 0 });
                data.extend_from_slice(&payload);
            }
            for _ in 0..60 {
                let r = xorshift(&mut state);
                cursor = match r % 10 {
                    0 => cursor + 20 + r % 80, // beyond the ring: a jump to confirm
                    1 => cursor.saturating_sub(3),
                    _ => cursor + r % 4,
                };
                let session = if r % 97 == 0 { 2 } else { 1 };
                let payload = crate::wire::build::oum_payload(
                    crate::wire::OumRepr::Sequenced(crate::wire::Stamp::new(session, cursor)),
                    b"",
                );
                data.push(payload.len() as u8);
                data.push((r >> 8) as u8 % 120);
                data.extend_from_slice(&payload);
            }
            super::receive_stream(&data);
        }
    }

    #[test]
    fn mutated_session_queries_parse_only_in_canonical_form() {
        use crate::oum::{SessionNumber, SessionQuery};
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let base = SessionQuery::Answer {
            nonce: 7,
            replica: 1,
            newest: Some(SessionNumber(3)),
        }
        .to_bytes();
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut d = base.to_vec();
            for _ in 0..(xorshift(&mut state) % 3) {
                let i = (xorshift(&mut state) as usize) % d.len();
                d[i] = xorshift(&mut state) as u8;
            }
            d.truncate(16 + (xorshift(&mut state) % 6) as usize);
            super::decode_all(&d);
            accepted += usize::from(SessionQuery::parse(&d).is_some());
        }
        assert!(accepted > 0, "the mutations never kept a valid answer");
    }
}
