//! Per-request processing cost at a NOPaxos leader, a NOPaxos follower and the unreplicated
//! server, in one run so their ratio is measured under the same conditions. Each iteration
//! takes one request datagram in and encodes the reply out; the periodic synchronization
//! (and the log truncation it allows) is included, amortised. Run:
//! cargo bench -p replica --bench protocols

use std::hint::black_box;
use std::net::SocketAddrV4;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dataplane::config::ClusterConfig;
use dataplane::time::Time;
use dataplane::wire::{OumRepr, Stamp};
use protocols::app::kv::{KvOp, KvStore};
use protocols::codec::Writer;
use protocols::nopaxos::messages::Message;
use protocols::nopaxos::{NopaxosConfig, NopaxosReplica, ViewId};
use protocols::unreplicated::{self, UnreplicatedServer};
use protocols::{MAX_DATAGRAM, Node, Replica};

const CLIENT: &str = "127.0.0.1:50000";
const SYNC_EVERY: u64 = 4096;

fn op() -> Vec<u8> {
    KvOp::Put {
        key: b"key-0001",
        value: &[0x5a; 32],
    }
    .to_bytes()
}

fn encode(m: &Message<'_>, sequenced: bool) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    if sequenced {
        m.encode_sequenced(&mut w).unwrap();
    } else {
        m.encode(&mut w).unwrap();
    }
    let n = w.len();
    buf.truncate(n);
    buf
}

/// A stamped NOPaxos request whose message number and request id are rewritten in place.
struct StampedRequest {
    bytes: Vec<u8>,
    request_at: usize,
}

impl StampedRequest {
    fn new() -> StampedRequest {
        let op = op();
        let bytes = encode(
            &Message::Request {
                client: 1,
                request: 0,
                reply_to: CLIENT.parse().unwrap(),
                op: &op,
            },
            true,
        );
        let mut bytes = bytes;
        OumRepr::Sequenced(Stamp::new(1, 0))
            .emit(&mut bytes)
            .unwrap();
        // OUM header 16, envelope 12, client id 8: the request id follows.
        StampedRequest {
            bytes,
            request_at: 16 + 12 + 8,
        }
    }

    /// Rewrites message number and request id in place, as the unreplicated bench rewrites
    /// its request id, so the harness costs both sides the same.
    fn set(&mut self, msgnum: u64) -> &[u8] {
        // The message number is the OUM header's last 8 bytes (preamble 4, size 2, session 2).
        self.bytes[8..16].copy_from_slice(&msgnum.to_be_bytes());
        self.bytes[self.request_at..self.request_at + 8].copy_from_slice(&msgnum.to_be_bytes());
        &self.bytes
    }
}

fn cluster() -> ClusterConfig {
    ClusterConfig::local(3, 41000, "127.0.0.10".parse().unwrap())
}

/// The view a cluster's first session runs in (the first view change agreed on it).
const FIRST_SESSION_VIEW: ViewId = ViewId {
    leader_num: 0,
    session_num: 1,
};

fn drain(node: &mut impl Node, buf: &mut [u8]) {
    while let Some(t) = node.poll_transmit(buf) {
        black_box(t);
    }
}

fn unreplicated_request(op: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut w = Writer::new(&mut buf);
    unreplicated::Message::Request {
        client: 1,
        request: 0,
        op,
    }
    .encode(&mut w)
    .unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

/// Each node is built once, outside the closure criterion calls for every sample batch,
/// so the figures are the steady state: buffer pools warm, the log at its truncated size.
fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_request");
    group.throughput(Throughput::Elements(1));
    let config = cluster();
    let client: SocketAddrV4 = CLIENT.parse().unwrap();
    let replica = |i: usize| config.replicas[i].address;
    let sync_period = Duration::from_millis(config.timeouts.sync_period_ms);
    let mut out = vec![0u8; MAX_DATAGRAM];

    let mut server = UnreplicatedServer::new(KvStore::default());
    let mut request = unreplicated_request(&op());
    let mut id = 0u64;
    group.bench_function("unreplicated_server", |b| {
        b.iter(|| {
            id += 1;
            request[12 + 8..12 + 16].copy_from_slice(&id.to_be_bytes());
            server.handle_datagram(Time::ZERO, client, black_box(&request));
            drain(&mut server, &mut out);
        });
    });

    let mut leader = NopaxosReplica::serving_first_session(
        NopaxosConfig::from_cluster(&config, 0),
        KvStore::default(),
        1,
    );
    let mut request = StampedRequest::new();
    let mut msgnum = 0u64;
    let mut now = Time::ZERO;
    group.bench_function("nopaxos_leader", |b| {
        b.iter(|| {
            msgnum += 1;
            leader.handle_datagram(now, replica(0), black_box(request.set(msgnum)));
            drain(&mut leader, &mut out);
            if msgnum % SYNC_EVERY == 0 {
                // Synchronize: the leader's timer sends SYNC-PREPARE, a follower answers.
                now += sync_period;
                leader.handle_timeout(now);
                drain(&mut leader, &mut out);
                let reply = encode(
                    &Message::SyncReply {
                        view: FIRST_SESSION_VIEW,
                        slot: msgnum,
                    },
                    false,
                );
                leader.handle_datagram(now, replica(1), &reply);
                drain(&mut leader, &mut out);
            }
        });
    });
    assert!(
        leader.log().len() < 3 * SYNC_EVERY as usize,
        "log truncated"
    );
    assert!(leader.is_leader());

    let mut follower = NopaxosReplica::serving_first_session(
        NopaxosConfig::from_cluster(&config, 1),
        KvStore::default(),
        1,
    );
    let mut request = StampedRequest::new();
    let mut msgnum = 0u64;
    let mut now = Time::ZERO;
    group.bench_function("nopaxos_follower", |b| {
        b.iter(|| {
            msgnum += 1;
            follower.handle_datagram(now, replica(0), black_box(request.set(msgnum)));
            drain(&mut follower, &mut out);
            if msgnum % SYNC_EVERY == 0 {
                // The leader synchronizes: the follower executes the batch and truncates.
                now += sync_period / 2;
                for m in [
                    Message::SyncPrepare {
                        view: FIRST_SESSION_VIEW,
                        prev: msgnum - SYNC_EVERY,
                        slot: msgnum,
                        noops: Vec::new(),
                    },
                    Message::SyncCommit {
                        view: FIRST_SESSION_VIEW,
                        slot: msgnum,
                    },
                ] {
                    follower.handle_datagram(now, replica(0), &encode(&m, false));
                    drain(&mut follower, &mut out);
                }
            }
        });
    });
    assert!(
        follower.log().len() < 3 * SYNC_EVERY as usize,
        "log truncated"
    );
    assert!(follower.is_normal() && !follower.is_leader());
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
