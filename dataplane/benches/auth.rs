//! Cost of an authenticated stamp (docs/wire-format.md): sealing a stamped datagram (what a
//! sequencer adds per request of a keyed group) and opening it (what a replica's driver
//! adds), for a 64-byte request payload and a 1 KiB one. Run:
//! cargo bench -p dataplane --bench auth (figures in docs/benchmarks.md)

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dataplane::oum::{AUTH_TAG_LEN, StampKey};
use dataplane::wire::build::oum_payload;
use dataplane::wire::{OumRepr, Stamp};

/// A stamped datagram with `payload` bytes of message and room for the tag.
fn stamped(payload: usize) -> Vec<u8> {
    let mut d = oum_payload(
        OumRepr::Sequenced(Stamp::new(3, 1_000_000)),
        &vec![0x5a; payload],
    );
    d.extend_from_slice(&[0; AUTH_TAG_LEN]);
    d
}

fn auth(c: &mut Criterion) {
    let key = StampKey::new(*b"0123456789abcdef");
    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Elements(1));
    for payload in [64usize, 1024] {
        group.bench_function(format!("seal_{payload}B"), |b| {
            let mut d = stamped(payload);
            b.iter(|| {
                d[4..6].copy_from_slice(&10u16.to_be_bytes()); // stamped again, no tag
                black_box(key.seal(0, black_box(&mut d)))
            });
        });
        group.bench_function(format!("open_{payload}B"), |b| {
            let mut d = stamped(payload);
            key.seal(0, &mut d).unwrap();
            b.iter(|| {
                d[4..6].copy_from_slice(&18u16.to_be_bytes()); // sealed again
                black_box(key.open(0, black_box(&mut d)))
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = auth
}
criterion_main!(benches);
