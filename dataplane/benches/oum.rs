//! OUM hot paths: the sequencer core stamping (one frame, a burst of 32, a UDP payload) and
//! the receiver delivering (in order, and with gaps). Run: cargo bench -p dataplane --bench oum

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dataplane::oum::{
    Event, GroupId, GroupSpec, Receiver, ReceiverConfig, Sequencer, SessionNumber,
};
use dataplane::time::Time;
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{OUM_DEFAULT_PORT, OumRepr, Stamp};

/// Offset of the OUM header-size field in a frame without IP options.
const HEADER_SIZE_AT: usize = 14 + 20 + 8 + 4;

fn sequencer() -> Sequencer {
    let groups: Vec<GroupSpec> = (0..4)
        .map(|i| GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100 + i),
            members: vec![0, 1, 2],
        })
        .collect();
    Sequencer::new(SessionNumber(1), OUM_DEFAULT_PORT, &groups).unwrap()
}

/// A 64-byte-payload request to the last of the four groups.
fn request_frame() -> Vec<u8> {
    UdpFrameSpec {
        dst_ip: Ipv4Addr::new(10, 0, 0, 103),
        ..UdpFrameSpec::default()
    }
    .build(&oum_payload(OumRepr::Unsequenced, &[0x5a; 48]))
    .unwrap()
}

/// Marks a stamped frame "not yet sequenced" again so the next stamp takes the full path;
/// a two-byte store, included in the figures.
fn unstamp(frame: &mut [u8]) {
    frame[HEADER_SIZE_AT..HEADER_SIZE_AT + 2].fill(0);
}

/// Frames `stamp_frame` cycles through.
const RING: usize = 256;

fn stamping(c: &mut Criterion) {
    let mut group = c.benchmark_group("sequencer");
    group.throughput(Throughput::Elements(1));
    // Each iteration stamps the next frame of a ring and re-marks one half a ring ahead,
    // so a frame is not read back right after the small stores that re-marked it: a real
    // sequencer stamps each frame once, after the NIC wrote it, and a load that overlaps
    // stores still in flight (store forwarding failing) would measure the bench, not the
    // stamping.
    group.bench_function("stamp_frame", |b| {
        let mut seq = sequencer();
        let mut frames: Vec<Vec<u8>> = (0..RING).map(|_| request_frame()).collect();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % RING;
            unstamp(&mut frames[(i + RING / 2) % RING]);
            black_box(seq.stamp_frame(black_box(&mut frames[i])))
        });
    });
    group.bench_function("stamp_datagram", |b| {
        let mut seq = sequencer();
        let mut payload = oum_payload(OumRepr::Unsequenced, &[0x5a; 48]);
        b.iter(|| {
            payload[4..6].fill(0);
            black_box(seq.stamp_datagram(GroupId(3), black_box(&mut payload)))
        });
    });
    group.throughput(Throughput::Elements(32));
    group.bench_function("stamp_burst_32", |b| {
        let mut seq = sequencer();
        let mut frames: Vec<Vec<u8>> = (0..RING).map(|_| request_frame()).collect();
        let bursts = RING / 32;
        let mut verdicts = Vec::with_capacity(32);
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % bursts;
            let ahead = (k + bursts / 2) % bursts;
            for f in frames[ahead * 32..(ahead + 1) * 32].iter_mut() {
                unstamp(f);
            }
            seq.stamp_burst(black_box(&mut frames[k * 32..(k + 1) * 32]), &mut verdicts);
            black_box(&verdicts);
        });
    });
    group.finish();
}

type Payload = [u8; 24];

fn stamped_payload(msgnum: u64) -> Payload {
    let mut p = [0u8; 24];
    OumRepr::Sequenced(Stamp::new(1, msgnum))
        .emit(&mut p)
        .unwrap();
    p
}

fn receiving(c: &mut Criterion) {
    let mut group = c.benchmark_group("receiver");
    group.throughput(Throughput::Elements(1));
    group.bench_function("in_order", |b| {
        let mut r: Receiver<Payload> = Receiver::new(ReceiverConfig::default());
        r.listen(SessionNumber(1), 1);
        let mut msgnum = 0;
        let now = Time::from_millis(1);
        b.iter(|| {
            msgnum += 1;
            let _ = r.on_payload(now, stamped_payload(msgnum));
            while let Some(e) = r.poll_event(now) {
                black_box(e);
            }
        });
    });
    // One message in ten is lost; each iteration is one packet slot (a message or a drop).
    group.bench_function("with_gaps_1_in_10", |b| {
        let mut r: Receiver<Payload> = Receiver::new(ReceiverConfig {
            reorder_window: Duration::ZERO,
            min_reorder_window: Duration::ZERO,
            ..ReceiverConfig::default()
        });
        r.listen(SessionNumber(1), 1);
        let mut msgnum = 0;
        let now = Time::from_millis(1);
        b.iter(|| {
            msgnum += 1;
            if msgnum % 10 != 0 {
                let _ = r.on_payload(now, stamped_payload(msgnum));
            }
            while let Some(e) = r.poll_event(now) {
                if let Event::Message { packet, .. } = e {
                    black_box(packet);
                }
            }
        });
    });
    // Pairs arrive swapped and wait for their partner within the reorder window.
    group.bench_function("reordered_pairs", |b| {
        let mut r: Receiver<Payload> = Receiver::new(ReceiverConfig::default());
        r.listen(SessionNumber(1), 1);
        let mut base = 1;
        let now = Time::from_millis(1);
        let mut odd = false;
        b.iter(|| {
            let msgnum = if odd { base } else { base + 1 };
            let _ = r.on_payload(now, stamped_payload(msgnum));
            while let Some(e) = r.poll_event(now) {
                black_box(e);
            }
            if odd {
                base += 2;
            }
            odd = !odd;
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = stamping, receiving
}
criterion_main!(benches);
