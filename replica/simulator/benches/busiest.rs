//! Per-request cost at the busiest replica of each protocol, in one run: a failure-free
//! simulated run with 8 closed-loop clients records every replica's inputs; the benchmark
//! replays the busiest replica's inputs into a fresh core (a sans-IO core repeats its work
//! exactly) and reports the time per client request. Run:
//! cargo bench -p replica --bench busiest

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protocols::Protocol;
use protocols::fastpaxos::FastPaxos;
use protocols::nopaxos::Nopaxos;
use protocols::specpaxos::Spec;
use protocols::unreplicated::Unreplicated;
use protocols::vr::Vr;
use simulator::replay::{Recording, record, replay, transmit_buffer};

const RUN: Duration = Duration::from_millis(500);

fn bench_protocol<P: Protocol>(c: &mut Criterion) {
    let rec: Recording = record::<P>(3, 8, RUN).expect("a failure-free run");
    let busiest = rec.busiest();
    let inputs = &rec.inputs[busiest];
    let mut group = c.benchmark_group("busiest_replica");
    group.throughput(Throughput::Elements(rec.requests));
    let mut buf = transmit_buffer();
    group.bench_function(P::NAME, |b| {
        b.iter(|| {
            black_box(replay::<P>(
                &rec.config,
                busiest,
                black_box(inputs),
                &mut buf,
            ))
        });
    });
    group.finish();
    eprintln!(
        "{}: replica {busiest} handles {} inputs for {} requests",
        P::NAME,
        inputs.len(),
        rec.requests
    );
}

fn benches(c: &mut Criterion) {
    bench_protocol::<Unreplicated>(c);
    bench_protocol::<Nopaxos>(c);
    bench_protocol::<Vr>(c);
    bench_protocol::<Spec>(c);
    bench_protocol::<FastPaxos>(c);
}

criterion_group! {
    name = busiest;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = benches
}
criterion_main!(busiest);
