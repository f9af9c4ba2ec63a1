//! Several threads stamping one group through one C sequencer at once, as Octeon cores do:
//! every message number is handed out exactly once, also where the counter runs out.

mod common;

use std::net::Ipv4Addr;
use std::sync::{Arc, Barrier};

use cavium_sequencer::{CSequencer, CVerdict, Flags};
use common::{header_size_at, request};
use dataplane::oum::{DropReason, GroupSpec};

const PORT: u16 = 22222;

/// Runs `threads` threads of `per_thread` stamps each on group 0, starting after `start`;
/// returns every number handed out, sorted, and the number of exhausted drops.
fn race(threads: usize, per_thread: usize, start: u64) -> (Vec<u64>, u64, Arc<CSequencer>) {
    let specs = vec![
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100),
            members: vec![0, 1, 2],
        },
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 101),
            members: vec![0],
        },
    ];
    let mut seq = CSequencer::new(9, PORT, &specs, Flags::default()).unwrap();
    assert!(seq.set_last_msgnum(0, start));
    let seq = Arc::new(seq);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let seq = Arc::clone(&seq);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut frame = request(Ipv4Addr::new(10, 0, 0, 100), PORT, 5, &[t as u8; 8]);
                let mut other = request(Ipv4Addr::new(10, 0, 0, 101), PORT, 5, &[0; 8]);
                let mut got = Vec::with_capacity(per_thread);
                let mut exhausted = 0u64;
                barrier.wait();
                for i in 0..per_thread {
                    frame[header_size_at(5) + 1] = 0;
                    match seq.process(&mut frame) {
                        CVerdict::Multicast {
                            group: 0,
                            session: 9,
                            msgnum,
                        } => {
                            // The number in the frame is the one reported.
                            let at = header_size_at(5) + 4;
                            let written = u64::from_be_bytes(frame[at..at + 8].try_into().unwrap());
                            assert_eq!(written, msgnum);
                            got.push(msgnum);
                        }
                        CVerdict::Drop(DropReason::CounterExhausted) => exhausted += 1,
                        v => panic!("unexpected {v:?}"),
                    }
                    // Traffic of another group in between must not disturb group 0.
                    if i % 16 == 0 {
                        other[header_size_at(5) + 1] = 0;
                        assert!(matches!(
                            seq.process(&mut other),
                            CVerdict::Multicast { group: 1, .. }
                        ));
                    }
                }
                (got, exhausted)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut exhausted = 0;
    for h in handles {
        let (got, ex) = h.join().unwrap();
        // Within one thread the numbers only grow.
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        all.extend(got);
        exhausted += ex;
    }
    all.sort_unstable();
    (all, exhausted, seq)
}

#[test]
fn each_number_exactly_once_from_many_threads() {
    let (threads, per_thread) = (4, 50_000);
    let (all, exhausted, seq) = race(threads, per_thread, 0);
    let total = (threads * per_thread) as u64;
    assert_eq!(exhausted, 0);
    assert_eq!(all.len() as u64, total);
    assert!(
        all.iter().copied().eq(1..=total),
        "numbers are not exactly 1..={total}"
    );
    assert_eq!(seq.last_msgnum(0), total);
    assert_eq!(seq.stamped(0), total);
    assert_eq!(seq.stamped(1), (threads * per_thread.div_ceil(16)) as u64);
}

#[test]
fn counter_end_is_reached_exactly_once_under_contention() {
    let start = u64::MAX - 1000;
    let (all, exhausted, seq) = race(4, 1000, start);
    assert_eq!(all.len(), 1000);
    assert!(all.iter().copied().eq(start + 1..=u64::MAX));
    assert_eq!(exhausted, 3000);
    assert_eq!(seq.drop_count(DropReason::CounterExhausted), 3000);
    assert!(seq.needs_new_session());
}

/// Keyed groups from many threads: the seal happens after the number is taken, on the
/// thread's own frame, so every sealed frame carries its own number and a tag that opens.
#[test]
fn keyed_group_seals_each_number_once_from_many_threads() {
    use dataplane::oum::StampKey;
    let specs = vec![GroupSpec {
        address: Ipv4Addr::new(10, 0, 0, 100),
        members: vec![0, 1, 2],
    }];
    let key = [0x3c; 16];
    let seq =
        Arc::new(CSequencer::with_keys(4, PORT, &specs, &[Some(key)], Flags::default()).unwrap());
    let (threads, per_thread) = (4, 10_000);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let seq = Arc::clone(&seq);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let input = request(Ipv4Addr::new(10, 0, 0, 100), PORT, 5, &[t as u8; 32]);
                let udp = 14 + 20;
                let mut got = Vec::with_capacity(per_thread);
                barrier.wait();
                for _ in 0..per_thread {
                    let mut buf = input.clone();
                    buf.resize(input.len() + 8, 0);
                    let (verdict, len) = seq.process_buf(&mut buf, input.len());
                    let CVerdict::Multicast { msgnum, .. } = verdict else {
                        panic!("unexpected {verdict:?}");
                    };
                    assert_eq!(len, input.len() + 8);
                    let mut datagram = buf[udp + 8..len].to_vec();
                    assert!(StampKey::new(key).open(0, &mut datagram).is_ok());
                    let written = u64::from_be_bytes(datagram[8..16].try_into().unwrap());
                    assert_eq!(written, msgnum);
                    got.push(msgnum);
                }
                got
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    let total = (threads * per_thread) as u64;
    assert!(all.iter().copied().eq(1..=total));
    assert_eq!(seq.stamped(0), total);
}
