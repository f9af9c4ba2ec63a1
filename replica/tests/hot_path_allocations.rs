//! The hot path allocates nothing: a NOPaxos leader and follower and the unreplicated server,
//! warmed up, handle thousands of requests (stamped datagram in, reply out, the periodic
//! synchronization included) with the heap allocator counting every call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::wire::{OumRepr, Stamp};
use replica::app::kv::{KvOp, KvStore};
use replica::protocol::codec::Writer;
use replica::protocol::nopaxos::messages::Message;
use replica::protocol::nopaxos::{NopaxosConfig, NopaxosReplica, ViewId};
use replica::protocol::unreplicated::{self, UnreplicatedServer};
use replica::protocol::{MAX_DATAGRAM, Node};
use replica::time::Time;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f`. Tests in this file run one at a time (a lock), so the count is
/// theirs alone.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const CLIENT: &str = "127.0.0.1:50000";
const KEYS: u64 = 64;

fn op(i: u64) -> Vec<u8> {
    let key = format!("key-{:04}", i % KEYS);
    KvOp::Put {
        key: key.as_bytes(),
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

/// Stamped requests from `clients` clients over `KEYS` keys, encoded before counting starts.
fn stamped_requests(from: u64, count: u64, clients: u64) -> Vec<Vec<u8>> {
    (from..from + count)
        .map(|n| {
            let op = op(n);
            let client = 1 + n % clients;
            encode(
                &Message::Request {
                    client,
                    request: 1 + n / clients,
                    reply_to: CLIENT.parse().unwrap(),
                    op: &op,
                },
                true,
            )
        })
        .enumerate()
        .map(|(i, mut bytes)| {
            OumRepr::Sequenced(Stamp::new(1, from + i as u64 + 1))
                .emit(&mut bytes)
                .unwrap();
            bytes
        })
        .collect()
}

fn drain(node: &mut impl Node, buf: &mut [u8]) -> usize {
    let mut sent = 0;
    while node.poll_transmit(buf).is_some() {
        sent += 1;
    }
    sent
}

fn cluster() -> ClusterConfig {
    ClusterConfig::local(3, 41000, "127.0.0.10".parse().unwrap())
}

/// Feeds requests `from..from + count` to `node` as replica `me` hears them, synchronizing
/// every `sync_every` (the leader's timer; a follower's SYNC-REPLY).
fn feed_nopaxos(
    node: &mut NopaxosReplica<KvStore>,
    requests: &[Vec<u8>],
    from: u64,
    now: &mut Time,
    sync: &[Vec<u8>],
    out: &mut [u8],
) {
    let config = cluster();
    let me = config.replicas[0].address;
    let peer = config.replicas[1].address;
    let period = Duration::from_millis(config.timeouts.sync_period_ms);
    for (i, r) in requests.iter().enumerate() {
        node.handle_datagram(*now, me, r);
        drain(node, out);
        let n = from + i as u64 + 1;
        if n % 1024 == 0 {
            *now += period;
            node.handle_timeout(*now);
            drain(node, out);
            let reply = &sync[(n / 1024) as usize];
            node.handle_datagram(*now, peer, reply);
            drain(node, out);
        }
    }
}

#[test]
fn a_nopaxos_leader_handles_requests_without_allocating() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let config = cluster();
    let mut leader =
        NopaxosReplica::new(NopaxosConfig::from_cluster(&config, 0), KvStore::default());
    let mut out = vec![0u8; MAX_DATAGRAM];
    let warm = stamped_requests(0, 8192, 16);
    let measured = stamped_requests(8192, 8192, 16);
    let sync: Vec<Vec<u8>> = (0..=16u64)
        .map(|k| {
            encode(
                &Message::SyncReply {
                    view: ViewId::INITIAL,
                    slot: k * 1024,
                },
                false,
            )
        })
        .collect();
    let mut now = Time::ZERO;
    feed_nopaxos(&mut leader, &warm, 0, &mut now, &sync, &mut out);
    let n = allocations(|| feed_nopaxos(&mut leader, &measured, 8192, &mut now, &sync, &mut out));
    eprintln!("nopaxos leader: {n} allocations for 8192 requests and 8 synchronizations");
    // Requests allocate nothing; a synchronization round (once a second in production) may
    // allocate its message and retire log segments.
    assert!(
        n <= 2 * 8,
        "the leader allocated {n} times in 8192 requests and 8 syncs"
    );
}

#[test]
fn the_unreplicated_server_handles_requests_without_allocating() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let client: SocketAddrV4 = CLIENT.parse().unwrap();
    let mut server = UnreplicatedServer::new(KvStore::default());
    let mut out = vec![0u8; MAX_DATAGRAM];
    let requests: Vec<Vec<u8>> = (0..16384u64)
        .map(|n| {
            let op = op(n);
            let mut buf = vec![0u8; 256];
            let mut w = Writer::new(&mut buf);
            unreplicated::Message::Request {
                client: 1 + n % 16,
                request: 1 + n / 16,
                op: &op,
            }
            .encode(&mut w)
            .unwrap();
            let len = w.len();
            buf.truncate(len);
            buf
        })
        .collect();
    let (warm, measured) = requests.split_at(8192);
    for r in warm {
        server.handle_datagram(Time::ZERO, client, r);
        drain(&mut server, &mut out);
    }
    let n = allocations(|| {
        for r in measured {
            server.handle_datagram(Time::ZERO, client, r);
            drain(&mut server, &mut out);
        }
    });
    eprintln!("unreplicated: {n} allocations for 8192 requests");
    assert_eq!(n, 0, "the server allocated {n} times in 8192 requests");
}
