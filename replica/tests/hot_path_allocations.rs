//! The hot path allocates nothing: a NOPaxos leader and follower, the Fast Paxos leader and
//! the unreplicated server, warmed up, handle thousands of requests (datagram in, reply out,
//! the periodic synchronization included) with the heap allocator counting every call; so
//! do authenticated stamps: the sequencer core stamping and sealing datagrams and frames,
//! and a replica's driver checking and opening them (`Addresses::admit`, with the DPDK
//! sequencer's MAC checked too).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dataplane::config::{ClusterConfig, KeyText, SequencerKind};
use dataplane::oum::{AUTH_TAG_LEN, GroupId, SessionNumber, Verdict};
use dataplane::time::Time;
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{MacAddr, OUM_DEFAULT_PORT};
use dataplane::wire::{OumRepr, Stamp};
use protocols::app::kv::{KvOp, KvStore};
use protocols::codec::Writer;
use protocols::fastpaxos::messages::{EntryRef, Message as FpMessage};
use protocols::fastpaxos::{FastPaxosConfig, FastPaxosReplica, FastPaxosTimeouts};
use protocols::nopaxos::messages::Message;
use protocols::nopaxos::{NopaxosConfig, NopaxosReplica, ViewId};
use protocols::unreplicated::{self, UnreplicatedServer};
use protocols::{Destination, MAX_DATAGRAM, Node, Replica};
use replica::driver::Addresses;

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted: only the test's own, never the test
    /// harness reporting another test's end meanwhile.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
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
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread. Tests in this file also run one at a time (a
/// lock), so the shared count is theirs alone.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
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
    config: &ClusterConfig,
    requests: &[Vec<u8>],
    from: u64,
    now: &mut Time,
    sync: &[Vec<u8>],
    out: &mut [u8],
) {
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

/// Brings the three replicas of a fresh cluster into the view that agreed on the
/// sequencer's first session (every session, the first included, starts with a view
/// change): all hear the session's first request, then their messages are exchanged (and
/// timers fired) until all are normal in it and nothing is left to send. Returns that view.
fn start_first_session(
    nodes: &mut [NopaxosReplica<KvStore>],
    config: &ClusterConfig,
    first: &[u8],
    now: &mut Time,
) -> ViewId {
    let addrs: Vec<SocketAddrV4> = config.replicas.iter().map(|r| r.address).collect();
    for (i, node) in nodes.iter_mut().enumerate() {
        node.handle_datagram(*now, addrs[i], first);
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    for _ in 0..10_000 {
        let mut moved = false;
        for from in 0..nodes.len() {
            while let Some(t) = nodes[from].poll_transmit(&mut buf) {
                moved = true;
                let targets: Vec<usize> = match t.destination {
                    Destination::Replica(i) => vec![i],
                    Destination::OtherReplicas => (0..nodes.len()).filter(|&i| i != from).collect(),
                    _ => continue,
                };
                for to in targets {
                    nodes[to].handle_datagram(*now, addrs[from], &buf[..t.len]);
                }
            }
        }
        let view = nodes[0].view();
        if !moved && view.session_num > 0 && nodes.iter().all(|n| n.is_normal() && n.view() == view)
        {
            return view;
        }
        if !moved {
            *now += Duration::from_millis(1);
            for node in nodes.iter_mut() {
                node.handle_timeout(*now);
            }
        }
    }
    panic!("the first session's view did not start");
}

#[test]
fn a_nopaxos_leader_handles_requests_without_allocating() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let config = cluster();
    let mut nodes: Vec<NopaxosReplica<KvStore>> = (0..3)
        .map(|i| NopaxosReplica::new(NopaxosConfig::from_cluster(&config, i), KvStore::default()))
        .collect();
    let mut out = vec![0u8; MAX_DATAGRAM];
    let warm = stamped_requests(0, 8192, 16);
    let measured = stamped_requests(8192, 8192, 16);
    let mut now = Time::ZERO;
    let view = start_first_session(&mut nodes, &config, &warm[0], &mut now);
    let mut leader = nodes.swap_remove(0);
    let sync: Vec<Vec<u8>> = (0..=16u64)
        .map(|k| {
            encode(
                &Message::SyncReply {
                    view,
                    slot: k * 1024,
                },
                false,
            )
        })
        .collect();
    feed_nopaxos(&mut leader, &config, &warm, 0, &mut now, &sync, &mut out);
    let n = allocations(|| {
        feed_nopaxos(
            &mut leader,
            &config,
            &measured,
            8192,
            &mut now,
            &sync,
            &mut out,
        )
    });
    eprintln!("nopaxos leader: {n} allocations for 8192 requests and 8 synchronizations");
    // Requests allocate nothing, and neither does a synchronization round (its
    // acknowledgement flags and the retired log segments are reused).
    assert_eq!(
        n, 0,
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

/// Fast Paxos, steady state: each request arrives from its client at the leader and at both
/// followers; the leader gets the followers' FAST-ACCEPTED votes (pre-encoded here, in the
/// slots the followers voted it into), learns the slot chosen from the fast quorum, sends
/// CHOSEN, executes and replies. Every 1024 requests the heartbeat timer fires and both
/// followers answer with SYNC-REPLY.
struct FastPaxosFeed {
    client: SocketAddrV4,
    followers: [SocketAddrV4; 2],
    period: Duration,
    /// Per request: the client's datagram, then each follower's FAST-ACCEPTED.
    requests: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// SYNC-REPLYs with growing commit points.
    sync: Vec<Vec<u8>>,
}

fn fp_encode(m: &FpMessage<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    m.encode(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

fn fastpaxos_feed(count: u64, clients: u64) -> FastPaxosFeed {
    let reply_to: SocketAddrV4 = CLIENT.parse().unwrap();
    let requests = (0..count)
        .map(|n| {
            let op = op(n);
            let (client, request, slot) = (1 + n % clients, 1 + n / clients, n + 1);
            let entry = EntryRef::Request {
                client,
                request,
                reply_to,
                op: &op,
            };
            let vote = fp_encode(&FpMessage::FastAccepted {
                view: 0,
                slot,
                entry,
            });
            (
                fp_encode(&FpMessage::Request {
                    client,
                    request,
                    reply_to,
                    op: &op,
                }),
                vote.clone(),
                vote,
            )
        })
        .collect();
    let sync = (0..=count / 1024 + 1)
        .map(|k| {
            fp_encode(&FpMessage::SyncReply {
                view: 0,
                commit: k * 1024,
            })
        })
        .collect();
    let config = cluster();
    FastPaxosFeed {
        client: reply_to,
        followers: [config.replicas[1].address, config.replicas[2].address],
        period: FastPaxosTimeouts::from_config(&config.timeouts).heartbeat,
        requests,
        sync,
    }
}

fn feed_fastpaxos(
    leader: &mut FastPaxosReplica<KvStore>,
    feed: &FastPaxosFeed,
    range: std::ops::Range<usize>,
    now: &mut Time,
    out: &mut [u8],
) {
    let (client, [f1, f2], period) = (feed.client, feed.followers, feed.period);
    for i in range {
        let (request, v1, v2) = &feed.requests[i];
        leader.handle_datagram(*now, client, request);
        drain(leader, out);
        leader.handle_datagram(*now, f1, v1);
        drain(leader, out);
        leader.handle_datagram(*now, f2, v2);
        drain(leader, out);
        let n = i as u64 + 1;
        if n % 1024 == 0 {
            *now += period;
            leader.handle_timeout(*now);
            drain(leader, out);
            let reply = &feed.sync[(n / 1024) as usize];
            leader.handle_datagram(*now, f1, reply);
            drain(leader, out);
            leader.handle_datagram(*now, f2, reply);
            drain(leader, out);
        }
    }
}

#[test]
fn a_fast_paxos_leader_handles_requests_without_allocating() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let config = cluster();
    // The production window of executed slots (1024): truncation runs during the count.
    let mut leader = FastPaxosReplica::new(
        FastPaxosConfig::from_cluster(&config, 0),
        KvStore::default(),
    );
    let mut out = vec![0u8; MAX_DATAGRAM];
    let feed = fastpaxos_feed(16384, 16);
    let mut now = Time::ZERO;
    feed_fastpaxos(&mut leader, &feed, 0..8192, &mut now, &mut out);
    let n = allocations(|| feed_fastpaxos(&mut leader, &feed, 8192..16384, &mut now, &mut out));
    let counters = leader.counters();
    eprintln!(
        "fastpaxos leader: {n} allocations for 8192 requests and 8 synchronizations \
         ({counters:?})"
    );
    assert_eq!(
        counters.fast_chosen, 16384,
        "every slot chosen on the fast path"
    );
    assert_eq!(leader.commit_point(), 16384);
    assert_eq!(
        n, 0,
        "the leader allocated {n} times in 8192 requests and 8 syncs"
    );
}

#[test]
fn sealing_and_opening_stamps_allocate_nothing() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut config = ClusterConfig::local(3, 51000, Ipv4Addr::new(10, 0, 0, 100));
    config.oum.port = OUM_DEFAULT_PORT;
    config.sequencer.kind = SequencerKind::Dpdk;
    let sequencer_mac = MacAddr([2, 0, 0, 0, 0, 0x64]);
    config.sequencer.macs = vec!["02:00:00:00:00:65".into(), sequencer_mac.to_string()];
    config.groups[0].auth_key = Some(KeyText::new("00112233445566778899aabbccddeeff"));
    let mut sequencer = config.sequencer(SessionNumber(1)).unwrap();
    let addresses = Addresses::new(&config, Some(1)).unwrap();
    let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
    let frame = UdpFrameSpec::default()
        .build(&oum_payload(OumRepr::Unsequenced, &[0x42; 100]))
        .unwrap();
    let len = frame.len();
    let (mut frame_buf, mut datagram_buf) = (vec![0u8; 2048], vec![0u8; 2048]);
    let datagram_len = len - 42;
    let (mut stamped, mut admitted) = (0u64, 0u64);
    let n = allocations(|| {
        for _ in 0..4096 {
            // Kernel UDP: stamp in the buffer, seal into the room after it, then what a
            // replica's driver does with the copy.
            datagram_buf[..datagram_len].copy_from_slice(&frame[42..]);
            let verdict =
                sequencer.stamp_datagram_in(GroupId(0), &mut datagram_buf[..datagram_len], 8);
            if let Some(Verdict::Multicast { group, .. }) = verdict {
                let sealed = datagram_len + AUTH_TAG_LEN;
                if sequencer.seal_datagram(group, &mut datagram_buf[..sealed]) {
                    stamped += 1;
                    if addresses.admit(from, Some(sequencer_mac), &mut datagram_buf[..sealed])
                        == Ok(datagram_len)
                    {
                        admitted += 1;
                    }
                }
            }
            // Raw frames (DPDK): the fast path, then the seal into the tailroom.
            frame_buf[..len].copy_from_slice(&frame);
            if let Some(group) = sequencer.stamp_plain_in(&mut frame_buf[..len], 2048 - len) {
                if sequencer.seal_frame(group, &mut frame_buf) == Some(len + AUTH_TAG_LEN) {
                    stamped += 1;
                }
            }
        }
    });
    assert_eq!((stamped, admitted), (8192, 4096));
    assert_eq!(n, 0, "{n} allocations for 8192 seals and 4096 opens");
}
