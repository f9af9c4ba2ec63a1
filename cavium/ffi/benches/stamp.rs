//! The C core beside the Rust core, stamping the same frames on one core: one frame at a
//! time and bursts of 32; and the C core's keyed stamp (authenticated stamps: SipHash-2-4
//! tag appended) against its plain stamp, for 64-byte and 1 KiB OUM datagrams.
//! Run: cargo bench -p cavium-sequencer --bench stamp
//! (docs/cavium.md and docs/benchmarks.md report the figures).

use std::hint::black_box;
use std::net::Ipv4Addr;

use cavium_sequencer::{CSequencer, CVerdict, Flags};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dataplane::oum::{GroupSpec, Sequencer, SessionNumber};
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{OUM_DEFAULT_PORT, OumRepr};

/// Offset of the OUM header-size field in a frame without IP options.
const HEADER_SIZE_AT: usize = 14 + 20 + 8 + 4;

fn groups() -> Vec<GroupSpec> {
    (0..4)
        .map(|i| GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100 + i),
            members: vec![0, 1, 2],
        })
        .collect()
}

/// The same frame as dataplane's `oum` bench: a 48-byte-body request to the last group.
fn request_frame() -> Vec<u8> {
    UdpFrameSpec {
        dst_ip: Ipv4Addr::new(10, 0, 0, 103),
        ..UdpFrameSpec::default()
    }
    .build(&oum_payload(OumRepr::Unsequenced, &[0x5a; 48]))
    .unwrap()
}

/// Marks a stamped frame "not yet sequenced" again (a two-byte store, in both cores'
/// figures alike).
fn unstamp(frame: &mut [u8]) {
    frame[HEADER_SIZE_AT..HEADER_SIZE_AT + 2].fill(0);
}

/// Frames each bench cycles through. A frame is stamped, then re-marked half a ring later,
/// so no frame is read right after the small store that re-marked it: a real sequencer
/// stamps each frame once, and reading a frame back while that store is still in flight
/// (store forwarding failing on wide loads) would measure the bench, not the core.
const RING: usize = 256;

fn ring() -> Vec<Vec<u8>> {
    (0..RING).map(|_| request_frame()).collect()
}

fn stamping(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_vs_rust");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rust/stamp_frame", |b| {
        let mut seq = Sequencer::new(SessionNumber(1), OUM_DEFAULT_PORT, &groups()).unwrap();
        let mut frames = ring();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % RING;
            unstamp(&mut frames[(i + RING / 2) % RING]);
            black_box(seq.stamp_frame(black_box(&mut frames[i])))
        });
    });
    group.bench_function("c/stamp_frame", |b| {
        let seq = CSequencer::new(1, OUM_DEFAULT_PORT, &groups(), Flags::default()).unwrap();
        let mut frames = ring();
        assert!(matches!(
            seq.process(&mut frames[0].clone()),
            CVerdict::Multicast { .. }
        ));
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % RING;
            unstamp(&mut frames[(i + RING / 2) % RING]);
            black_box(seq.process_raw(black_box(&mut frames[i])))
        });
    });
    group.throughput(Throughput::Elements(32));
    let bursts = RING / 32;
    group.bench_function("rust/stamp_burst_32", |b| {
        let mut seq = Sequencer::new(SessionNumber(1), OUM_DEFAULT_PORT, &groups()).unwrap();
        let mut frames = ring();
        let mut verdicts = Vec::with_capacity(32);
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % bursts;
            let ahead = (k + bursts / 2) % bursts;
            frames[ahead * 32..(ahead + 1) * 32]
                .iter_mut()
                .for_each(|f| unstamp(f));
            seq.stamp_burst(black_box(&mut frames[k * 32..(k + 1) * 32]), &mut verdicts);
            black_box(&verdicts);
        });
    });
    group.bench_function("c/stamp_burst_32", |b| {
        let seq = CSequencer::new(1, OUM_DEFAULT_PORT, &groups(), Flags::default()).unwrap();
        let mut frames = ring();
        let mut verdicts = Vec::with_capacity(32);
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % bursts;
            let ahead = (k + bursts / 2) % bursts;
            frames[ahead * 32..(ahead + 1) * 32]
                .iter_mut()
                .for_each(|f| unstamp(f));
            seq.process_burst(black_box(&mut frames[k * 32..(k + 1) * 32]), &mut verdicts);
            black_box(&verdicts);
        });
    });
    group.finish();
}

/// A request to group 3 whose OUM datagram (header and body) is `datagram` bytes.
fn request_of(datagram: usize) -> Vec<u8> {
    UdpFrameSpec {
        dst_ip: Ipv4Addr::new(10, 0, 0, 103),
        ..UdpFrameSpec::default()
    }
    .build(&oum_payload(
        OumRepr::Unsequenced,
        &vec![0x5a; datagram - 16],
    ))
    .unwrap()
}

/// Keyed against plain stamping in the C core. A sealed frame grows by its tag and its
/// lengths and checksum change, so each frame is restored from a pristine copy half a ring
/// later (a copy of the frame, paid alike in both figures; the difference is the tag).
fn keyed(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_keyed");
    group.throughput(Throughput::Elements(1));
    for datagram in [64usize, 1024] {
        let pristine = request_of(datagram);
        let len = pristine.len();
        for keyed in [false, true] {
            let keys: Vec<Option<[u8; 16]>> = (0..4).map(|_| keyed.then_some([7u8; 16])).collect();
            let seq =
                CSequencer::with_keys(1, OUM_DEFAULT_PORT, &groups(), &keys, Flags::default())
                    .unwrap();
            let mut frames: Vec<Vec<u8>> = (0..RING)
                .map(|_| {
                    let mut f = pristine.clone();
                    f.resize(len + 8, 0);
                    f
                })
                .collect();
            let (verdict, out_len) = seq.process_buf(&mut frames[0].clone(), len);
            assert!(matches!(verdict, CVerdict::Multicast { .. }));
            assert_eq!(out_len, if keyed { len + 8 } else { len });
            let name = format!("{}/{datagram}B", if keyed { "keyed" } else { "plain" });
            let mut i = 0;
            group.bench_function(name, |b| {
                b.iter(|| {
                    i = (i + 1) % RING;
                    frames[(i + RING / 2) % RING][..len].copy_from_slice(&pristine);
                    black_box(seq.process_buf(black_box(&mut frames[i]), len))
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, stamping, keyed);
criterion_main!(benches);
