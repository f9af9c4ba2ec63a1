//! How fast a NOPaxos follower catches up on slots it lost (issue 13, item 2): one GAP-REPLY
//! from its leader carrying a run of 65,536 NO-OP slots (`max_gap`: the longest jump a
//! receiver accepts) and a request, decoded and applied by a follower whose log ends before
//! the run. Before GAP-REPLY carried runs, each of those slots was a GAP-REQUEST round trip
//! (about 800 slots a second). Run: cargo bench -p replica --bench catch_up

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dataplane::config::ClusterConfig;
use dataplane::time::Time;
use protocols::app::kv::{KvOp, KvStore};
use protocols::codec::Writer;
use protocols::nopaxos::messages::{GapAnswer, GapRun, Message};
use protocols::nopaxos::types::Request;
use protocols::nopaxos::{NopaxosConfig, NopaxosReplica, ViewId};
use protocols::{MAX_DATAGRAM, Node};

const RUN: u32 = 1 << 16;

/// The view a cluster's first session runs in (the first view change agreed on it).
const FIRST_SESSION_VIEW: ViewId = ViewId {
    leader_num: 0,
    session_num: 1,
};

fn gap_reply() -> Vec<u8> {
    let op = KvOp::Put {
        key: b"key-0001",
        value: &[0x5a; 32],
    }
    .to_bytes();
    let m = Message::GapReply {
        view: FIRST_SESSION_VIEW,
        slot: 1,
        answer: GapAnswer::Entries(vec![
            GapRun::NoOps(RUN - 1),
            GapRun::Request(Request {
                client: 1,
                request: 1,
                reply_to: "127.0.0.1:50000".parse().unwrap(),
                op,
            }),
        ]),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    m.encode(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

fn bench(c: &mut Criterion) {
    let config = ClusterConfig::local(3, 41000, "127.0.0.10".parse().unwrap());
    let leader = config.replicas[0].address;
    let reply = gap_reply();
    let mut out = vec![0u8; MAX_DATAGRAM];
    let mut group = c.benchmark_group("catch_up");
    group.throughput(Throughput::Elements(u64::from(RUN)));
    group.bench_function("gap_reply_of_65536_slots", |b| {
        b.iter_batched(
            || {
                NopaxosReplica::serving_first_session(
                    NopaxosConfig::from_cluster(&config, 1),
                    KvStore::default(),
                    1,
                )
            },
            |mut follower| {
                follower.handle_datagram(Time::ZERO, leader, black_box(&reply));
                while let Some(t) = follower.poll_transmit(&mut out) {
                    black_box(t);
                }
                assert_eq!(follower.log().end(), u64::from(RUN));
                follower
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
