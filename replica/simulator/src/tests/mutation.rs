//! Every protocol's replica fed the traffic of a real run with corrupted datagrams mixed in:
//! bit flips, truncations, extensions and saturated length and number fields in otherwise
//! valid messages. Nothing may panic, and the corrupted datagrams must show up in the
//! replica's counters rather than vanish.

use std::time::Duration;

use crate::protocol::new_replica;
use crate::replay::{Input, record, transmit_buffer};
use protocols::Protocol;
use protocols::fastpaxos::FastPaxos;
use protocols::nopaxos::Nopaxos;
use protocols::specpaxos::Spec;
use protocols::unreplicated::Unreplicated;
use protocols::vr::Vr;
use protocols::{Node, Replica};

/// splitmix64: a seeded stream with no dependency.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corrupt(bytes: &[u8], s: &mut Stream) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match s.below(5) {
        0 => {
            for _ in 0..1 + s.below(4) {
                let i = s.below(out.len());
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << s.below(8);
                }
            }
        }
        1 => out.truncate(s.below(out.len())),
        2 => out.extend((0..1 + s.below(64)).map(|_| s.next() as u8)),
        // A length, count or number field set to its largest value: what a hostile sender
        // would try to make a receiver allocate or loop on.
        3 => {
            let at = s.below(out.len());
            let width = [2, 4, 8][s.below(3)];
            for b in out.iter_mut().skip(at).take(width) {
                *b = 0xFF;
            }
        }
        _ => {
            let at = s.below(out.len());
            for b in out.iter_mut().skip(at) {
                *b = s.next() as u8;
            }
        }
    }
    out
}

fn survives_corruption<P: Protocol>() {
    let rec = record::<P>(3, 4, Duration::from_millis(150)).expect("a failure-free run");
    assert!(rec.requests > 50, "{}: {}", P::NAME, rec.requests);
    let mut buf = transmit_buffer();
    for (index, inputs) in rec.inputs.iter().enumerate() {
        let mut s = Stream(0x5EED ^ index as u64);
        let mut core = new_replica::<P>(&rec.config, index);
        let mut corrupted = 0u64;
        for input in inputs {
            match input {
                Input::Datagram { at, from, bytes } => {
                    if s.below(4) == 0 {
                        corrupted += 1;
                        core.handle_datagram(*at, *from, &corrupt(bytes, &mut s));
                    }
                    core.handle_datagram(*at, *from, bytes);
                }
                Input::Timeout { at } => core.handle_timeout(*at),
            }
            while core.poll_transmit(&mut buf).is_some() {}
        }
        let st = core.stats();
        let noticed = st.ignored();
        assert!(
            corrupted == 0 || noticed > 0,
            "{} replica {index}: {corrupted} corrupted datagrams, none counted: {}",
            P::NAME,
            core.describe()
        );
    }
}

#[test]
fn unreplicated_survives_corrupted_traffic() {
    survives_corruption::<Unreplicated>();
}

#[test]
fn nopaxos_survives_corrupted_traffic() {
    survives_corruption::<Nopaxos>();
}

#[test]
fn vr_survives_corrupted_traffic() {
    survives_corruption::<Vr>();
}

#[test]
fn spec_survives_corrupted_traffic() {
    survives_corruption::<Spec>();
}

#[test]
fn fastpaxos_survives_corrupted_traffic() {
    survives_corruption::<FastPaxos>();
}
