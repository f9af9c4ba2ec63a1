use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::*;
use crate::io::{Endpoint, Packet, PacketBuf, PacketIo};
use crate::time::Time;

fn addr(host: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, host), port)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn network(seed: u64, link: LinkConfig) -> SimNetwork {
    SimNetwork::new(seed, link).expect("valid link")
}

/// `n` hosts with one address each, 10.0.0.(i+1):5000.
fn hosts(net: &SimNetwork, n: u8) -> Vec<SimIo> {
    (1..=n)
        .map(|i| net.add_host(&[addr(i, 5000)]).expect("fresh address"))
        .collect()
}

fn send_from(io: &mut SimIo, endpoint: u16, to: SocketAddrV4, payload: &[u8]) -> usize {
    let mut buf = io.alloc();
    assert!(buf.fill(payload));
    buf.set_peer(to);
    buf.set_endpoint(Endpoint(endpoint));
    let mut batch = vec![buf];
    let handed = io.send_burst(&mut batch).expect("sim send never fails");
    assert!(batch.is_empty(), "send_burst empties the batch");
    handed
}

fn send(io: &mut SimIo, to: SocketAddrV4, payload: &[u8]) {
    assert_eq!(send_from(io, 0, to, payload), 1);
}

fn recv(io: &mut SimIo) -> Vec<PacketBuf> {
    let mut batch = Vec::new();
    io.recv_burst(&mut batch, usize::MAX)
        .expect("sim recv never fails");
    batch
}

/// One delivery as a driver sees it: when, to which host, from where, on which endpoint, what.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivery {
    at: Time,
    host: usize,
    from: SocketAddrV4,
    endpoint: u16,
    bytes: Vec<u8>,
}

/// Runs the network until nothing is in flight, jumping from delivery to delivery (hosts
/// polled in order at each instant).
fn run(net: &SimNetwork, ios: &mut [SimIo]) -> Vec<Delivery> {
    let mut trace = Vec::new();
    while let Some(t) = net.next_delivery() {
        net.advance_to(t);
        drain_now(net, ios, &mut trace);
    }
    trace
}

fn drain_now(net: &SimNetwork, ios: &mut [SimIo], trace: &mut Vec<Delivery>) {
    for io in ios.iter_mut() {
        let host = io.host().index();
        for buf in recv(io) {
            trace.push(Delivery {
                at: net.now(),
                host,
                from: buf.peer(),
                endpoint: buf.endpoint().0,
                bytes: buf.as_ref().to_vec(),
            });
            io.free(buf);
        }
    }
}

fn payload_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(bytes.get(..4).expect("4-byte payload"));
    u32::from_be_bytes(b)
}

fn assert_accounted(net: &SimNetwork) {
    let stats = net.stats();
    assert_eq!(
        stats.unaccounted(),
        Some(net.in_flight() as u64),
        "every copy is delivered, dropped for one reason, or in flight: {stats:?}"
    );
}

fn faulty() -> LinkConfig {
    LinkConfig {
        loss: 0.2,
        duplicate: 0.2,
        delay: us(10),
        jitter: us(50),
        reorder: 0.2,
        reorder_delay: us(200),
    }
}

/// A run with every kind of fault; returns the full delivery trace and the counters.
fn scenario(seed: u64) -> (Vec<Delivery>, SimStats) {
    let net = network(seed, faulty());
    let mut ios = hosts(&net, 4);
    let ids: Vec<HostId> = ios.iter().map(SimIo::host).collect();
    net.set_link(
        ids[0],
        ids[1],
        LinkConfig {
            loss: 0.5,
            ..faulty()
        },
    )
    .expect("valid");
    let mut trace = Vec::new();
    for round in 0u32..300 {
        for (i, io) in (0u8..).zip(ios.iter_mut()) {
            let to = addr((i + 1) % 4 + 1, 5000);
            let mut payload = round.to_be_bytes().to_vec();
            payload.push(i);
            send(io, to, &payload);
        }
        if round == 100 {
            net.partition(&ids[..2], &ids[2..]).expect("known hosts");
        }
        if round == 150 {
            net.set_host_up(ids[3], false).expect("known host");
        }
        if round == 200 {
            net.heal();
            net.set_host_up(ids[3], true).expect("known host");
        }
        net.advance_to(net.now() + us(3));
        drain_now(&net, &mut ios, &mut trace);
    }
    trace.extend(run(&net, &mut ios));
    (trace, net.stats())
}

#[test]
fn same_seed_same_trace_different_seed_differs() {
    let (a, stats_a) = scenario(7);
    let (b, stats_b) = scenario(7);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(stats_a, stats_b);
    let (c, _) = scenario(8);
    assert_ne!(a, c, "another seed gives other faults");
}

#[test]
fn rng_is_reproducible_and_in_range() {
    // SplitMix64 reference output for seed 0, the first word of our state.
    let mut sm = 0u64;
    assert_eq!(super::rng::splitmix64(&mut sm), 0xe220_a839_7b1d_cdaf);

    let mut a = SimRng::new(42);
    let mut b = SimRng::new(42);
    let mut c = SimRng::new(43);
    let xs: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
    let ys: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
    let zs: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, zs);

    let mut seen = [false; 4];
    for _ in 0..1000 {
        let v = a.up_to(3);
        assert!(v <= 3);
        seen[v as usize] = true;
        let f = a.next_f64();
        assert!((0.0..1.0).contains(&f));
    }
    assert_eq!(seen, [true; 4], "every value of 0..=3 comes up");
    assert_eq!(a.up_to(0), 0);
    let _ = a.up_to(u64::MAX);

    let before = a.clone();
    assert!(!a.chance(0.0));
    assert!(a.chance(1.0));
    assert!(!a.chance(f64::NAN));
    assert_eq!(a, before, "certain outcomes draw nothing");
}

#[test]
fn nothing_arrives_before_its_time() {
    let net = network(1, LinkConfig::default());
    let mut ios = hosts(&net, 2);
    send(&mut ios[0], addr(2, 5000), b"hello");
    assert_eq!(net.next_delivery(), Some(Time::from_micros(10)));
    net.advance_to(Time::from_nanos(9_999));
    assert!(recv(&mut ios[1]).is_empty(), "not due yet");
    assert_eq!(net.in_flight(), 1);
    net.advance_to(Time::from_micros(10));
    let got = recv(&mut ios[1]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref(), b"hello");
    assert_eq!(got[0].peer(), addr(1, 5000));
    assert_eq!(net.next_delivery(), None);
    assert_accounted(&net);
}

#[test]
fn latency_stays_within_delay_plus_jitter_and_order_follows_time() {
    let link = LinkConfig {
        jitter: us(40),
        ..LinkConfig::default()
    };
    let net = network(3, link);
    let mut ios = hosts(&net, 2);
    let mut sent_at = BTreeMap::new();
    let mut trace = Vec::new();
    for i in 0u32..500 {
        sent_at.insert(i, net.now());
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
        net.advance_to(net.now() + Duration::from_nanos(700));
        // Receive at arbitrary moments, not only at delivery times.
        if i % 7 == 0 {
            drain_now(&net, &mut ios, &mut trace);
        }
    }
    trace.extend(run(&net, &mut ios));
    assert_eq!(trace.len(), 500);
    let mut inversions = 0;
    for pair in trace.windows(2) {
        assert!(pair[0].at <= pair[1].at, "delivery order follows time");
        if payload_u32(&pair[0].bytes) > payload_u32(&pair[1].bytes) {
            inversions += 1;
        }
    }
    for d in &trace {
        let sent = sent_at[&payload_u32(&d.bytes)];
        let latency = d.at - sent;
        // Received no earlier than due; received late only by the polling granularity.
        assert!(latency >= us(10), "{latency:?}");
        assert!(
            latency <= us(50) + Duration::from_nanos(7 * 700),
            "{latency:?}"
        );
    }
    assert!(
        inversions > 0,
        "jitter larger than the send spacing reorders"
    );
}

#[test]
fn exact_delivery_times_under_jitter() {
    // Driving by next_delivery, each datagram is received exactly at its due time.
    let link = LinkConfig {
        jitter: us(5),
        ..LinkConfig::default()
    };
    let net = network(11, link);
    let mut ios = hosts(&net, 2);
    for i in 0u32..200 {
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
    }
    let trace = run(&net, &mut ios);
    assert_eq!(trace.len(), 200);
    let times: Vec<Time> = trace.iter().map(|d| d.at).collect();
    assert!(times.iter().all(|&t| t >= Time::from_micros(10)));
    assert!(times.iter().all(|&t| t <= Time::from_micros(15)));
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times.first() < times.last(), "jitter spreads deliveries");
}

#[test]
fn without_jitter_delivery_is_fifo_and_ties_follow_send_order() {
    let net = network(5, LinkConfig::default());
    let mut ios = hosts(&net, 3);
    // Host 1 and host 3 send to host 2 at the same instant, interleaved.
    for i in 0u32..50 {
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
        send(&mut ios[2], addr(2, 5000), &(1000 + i).to_be_bytes());
    }
    let trace = run(&net, &mut ios);
    let got: Vec<u32> = trace.iter().map(|d| payload_u32(&d.bytes)).collect();
    let want: Vec<u32> = (0..50).flat_map(|i| [i, 1000 + i]).collect();
    assert_eq!(got, want);
    assert!(trace.iter().all(|d| d.at == Time::from_micros(10)));
}

#[test]
fn recv_burst_respects_max() {
    let net = network(5, LinkConfig::default());
    let mut ios = hosts(&net, 2);
    for i in 0u32..10 {
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
    }
    net.advance_to(Time::from_millis(1));
    let mut batch = Vec::new();
    assert_eq!(ios[1].recv_burst(&mut batch, 0).ok(), Some(0));
    assert_eq!(ios[1].recv_burst(&mut batch, 4).ok(), Some(4));
    assert_eq!(ios[1].recv_burst(&mut batch, 4).ok(), Some(4));
    assert_eq!(ios[1].recv_burst(&mut batch, 4).ok(), Some(2));
    let got: Vec<u32> = batch.iter().map(|b| payload_u32(b.as_ref())).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    assert_eq!(ios[1].stats().rx_packets, 10);
    assert_eq!(ios[0].stats().tx_packets, 10);
}

#[test]
fn time_never_runs_backwards() {
    let net = network(5, LinkConfig::default());
    net.advance_to(Time::from_millis(5));
    net.advance_to(Time::from_millis(1));
    assert_eq!(net.now(), Time::from_millis(5));
    net.advance_to(Time::MAX);
    let mut ios = hosts(&net, 2);
    // Delivery time saturates instead of overflowing.
    send(&mut ios[0], addr(2, 5000), b"late");
    assert_eq!(net.next_delivery(), Some(Time::MAX));
    assert_eq!(recv(&mut ios[1]).len(), 1);
}

#[test]
fn loss_rate_is_near_configured() {
    let link = LinkConfig {
        loss: 0.1,
        ..LinkConfig::default()
    };
    let net = network(9, link);
    let mut ios = hosts(&net, 2);
    for i in 0u32..10_000 {
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
    }
    let trace = run(&net, &mut ios);
    let stats = net.stats();
    assert_eq!(stats.sent, 10_000);
    assert_eq!(stats.lost + trace.len() as u64, 10_000);
    assert!((800..=1200).contains(&stats.lost), "{}", stats.lost);
    assert_accounted(&net);
}

#[test]
fn duplication_makes_extra_copies() {
    let link = LinkConfig {
        duplicate: 0.3,
        jitter: us(20),
        ..LinkConfig::default()
    };
    let net = network(10, link);
    let mut ios = hosts(&net, 2);
    for i in 0u32..2000 {
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
    }
    let trace = run(&net, &mut ios);
    let stats = net.stats();
    assert_eq!(trace.len() as u64, 2000 + stats.duplicated);
    assert!(
        (450..=750).contains(&stats.duplicated),
        "{}",
        stats.duplicated
    );
    let mut count = BTreeMap::new();
    for d in &trace {
        *count.entry(payload_u32(&d.bytes)).or_insert(0) += 1;
    }
    assert_eq!(count.len(), 2000, "nothing lost");
    assert!(count.values().all(|&n| n == 1 || n == 2));
    let twice = count.values().filter(|&&n| n == 2).count() as u64;
    assert_eq!(twice, stats.duplicated);
    assert_accounted(&net);
}

#[test]
fn reordered_datagrams_are_overtaken() {
    let link = LinkConfig {
        reorder: 0.2,
        reorder_delay: us(1000),
        ..LinkConfig::default()
    };
    let net = network(12, link);
    let mut ios = hosts(&net, 2);
    let mut sent_at = BTreeMap::new();
    let mut trace = Vec::new();
    for i in 0u32..500 {
        sent_at.insert(i, net.now());
        send(&mut ios[0], addr(2, 5000), &i.to_be_bytes());
        net.advance_to(net.now() + us(1));
        // Due times fall on whole microseconds: polling each one sees them exactly.
        drain_now(&net, &mut ios, &mut trace);
    }
    trace.extend(run(&net, &mut ios));
    assert_eq!(trace.len(), 500);
    let (late, on_time): (Vec<&Delivery>, Vec<&Delivery>) = trace
        .iter()
        .partition(|d| d.at - sent_at[&payload_u32(&d.bytes)] > us(10));
    assert!((60..=140).contains(&late.len()), "{}", late.len());
    for d in &late {
        assert_eq!(d.at - sent_at[&payload_u32(&d.bytes)], us(1010));
    }
    let on_time: Vec<u32> = on_time.iter().map(|d| payload_u32(&d.bytes)).collect();
    assert!(
        on_time.windows(2).all(|w| w[0] < w[1]),
        "the others keep their order"
    );
    let order: Vec<u32> = trace.iter().map(|d| payload_u32(&d.bytes)).collect();
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "something was overtaken"
    );
}

#[test]
fn links_are_directed_and_overridable() {
    let net = network(13, LinkConfig::default());
    let mut ios = hosts(&net, 2);
    let (a, b) = (ios[0].host(), ios[1].host());
    let dead = LinkConfig {
        loss: 1.0,
        ..LinkConfig::default()
    };
    net.set_link(a, b, dead).expect("valid");
    send(&mut ios[0], addr(2, 5000), b"a->b");
    send(&mut ios[1], addr(1, 5000), b"b->a");
    let trace = run(&net, &mut ios);
    assert_eq!(trace.len(), 1);
    assert_eq!(trace[0].bytes, b"b->a");
    assert_eq!(net.stats().lost, 1);

    net.reset_link(a, b);
    send(&mut ios[0], addr(2, 5000), b"a->b");
    assert_eq!(run(&net, &mut ios).len(), 1);

    net.set_default_link(dead).expect("valid");
    send(&mut ios[0], addr(2, 5000), b"a->b");
    assert!(run(&net, &mut ios).is_empty());
    assert_accounted(&net);
}

#[test]
fn partition_blocks_both_ways_and_heal_restores() {
    let net = network(14, LinkConfig::default());
    let mut ios = hosts(&net, 3);
    let ids: Vec<HostId> = ios.iter().map(SimIo::host).collect();
    // Already in flight when the partition starts: still arrives.
    send(&mut ios[0], addr(2, 5000), b"early");
    net.partition(&ids[..1], &ids[1..]).expect("known hosts");
    send(&mut ios[0], addr(2, 5000), b"a->b");
    send(&mut ios[1], addr(1, 5000), b"b->a");
    send(&mut ios[2], addr(1, 5000), b"c->a");
    send(&mut ios[1], addr(3, 5000), b"b->c");
    send(&mut ios[0], addr(1, 5000), b"a->a");
    let trace = run(&net, &mut ios);
    let got: Vec<&[u8]> = trace.iter().map(|d| d.bytes.as_slice()).collect();
    assert_eq!(got, [&b"a->a"[..], b"early", b"b->c"]);
    assert_eq!(net.stats().blocked_by_partition, 3);

    net.heal();
    send(&mut ios[0], addr(2, 5000), b"a->b");
    send(&mut ios[2], addr(1, 5000), b"c->a");
    assert_eq!(run(&net, &mut ios).len(), 2);
    assert_accounted(&net);
}

#[test]
fn isolate_cuts_a_host_from_everyone() {
    let net = network(15, LinkConfig::default());
    let mut ios = hosts(&net, 3);
    net.isolate(ios[1].host()).expect("known host");
    let late = net.add_host(&[addr(4, 5000)]).expect("fresh");
    ios.push(late);
    send(&mut ios[0], addr(2, 5000), b"a->b");
    send(&mut ios[1], addr(3, 5000), b"b->c");
    send(&mut ios[3], addr(2, 5000), b"d->b");
    send(&mut ios[0], addr(3, 5000), b"a->c");
    let trace = run(&net, &mut ios);
    assert_eq!(trace.len(), 1);
    assert_eq!(trace[0].bytes, b"a->c");
    assert_eq!(net.stats().blocked_by_partition, 3);
    net.heal();
    send(&mut ios[1], addr(3, 5000), b"b->c");
    assert_eq!(run(&net, &mut ios).len(), 1);
    assert_accounted(&net);
}

#[test]
fn paused_host_buffers_a_bounded_burst_and_delivers_it_on_resume() {
    let net = network(23, LinkConfig::default());
    let mut ios = hosts(&net, 2);
    let b = ios[1].host();
    send(&mut ios[0], addr(2, 5000), b"in flight");
    net.set_host_paused(b, true).expect("known host");
    assert!(net.is_host_paused(b));
    for i in 0..PAUSED_SOCKET_BUFFER + 10 {
        send(&mut ios[0], addr(2, 5000), format!("{i}").as_bytes());
    }
    // Nothing is due while paused: a driver must not spin on the queued datagrams.
    assert_eq!(net.next_delivery(), None);
    net.advance_to(Time::from_millis(10));
    assert!(
        recv(&mut ios[1]).is_empty(),
        "a stopped process reads nothing"
    );
    assert_eq!(net.in_flight(), PAUSED_SOCKET_BUFFER);
    assert_eq!(net.stats().socket_buffer_full, 11);
    assert_accounted(&net);

    net.set_host_paused(b, false).expect("known host");
    let burst = recv(&mut ios[1]);
    assert_eq!(
        burst.len(),
        PAUSED_SOCKET_BUFFER,
        "the whole buffer, at once"
    );
    assert_eq!(burst[0].as_ref(), b"in flight", "oldest first");
    assert_eq!(net.in_flight(), 0);
    assert_accounted(&net);
}

#[test]
fn crashed_host_loses_in_flight_and_receives_nothing() {
    let net = network(16, LinkConfig::default());
    let mut ios = hosts(&net, 2);
    let b = ios[1].host();
    send(&mut ios[0], addr(2, 5000), b"in flight");
    send(&mut ios[0], addr(2, 5000), b"in flight too");
    net.set_host_up(b, false).expect("known host");
    assert!(!net.is_host_up(b));
    assert_eq!(net.in_flight(), 0);
    assert_eq!(net.stats().discarded_by_crash, 2);

    send(&mut ios[0], addr(2, 5000), b"while down");
    send(&mut ios[1], addr(1, 5000), b"from the dead");
    assert_eq!(net.next_delivery(), None);
    net.advance_to(Time::from_millis(10));
    assert!(recv(&mut ios[1]).is_empty());
    assert!(recv(&mut ios[0]).is_empty());
    let stats = net.stats();
    assert_eq!(stats.to_down_host, 1);
    assert_eq!(stats.from_down_host, 1);

    net.set_host_up(b, true).expect("known host");
    send(&mut ios[0], addr(2, 5000), b"after restart");
    let trace = run(&net, &mut ios);
    assert_eq!(trace.len(), 1);
    assert_eq!(trace[0].bytes, b"after restart");
    assert_accounted(&net);
}

#[test]
fn multi_address_hosts_use_endpoint_indices() {
    let net = network(17, LinkConfig::default());
    let mut a = net.add_host(&[addr(1, 5000)]).expect("fresh");
    let mut b = net
        .add_host(&[addr(2, 5000), addr(2, 5001), addr(3, 7000)])
        .expect("fresh");
    assert_eq!(
        b.local_addrs(),
        [addr(2, 5000), addr(2, 5001), addr(3, 7000)]
    );
    assert_eq!(net.host_of(addr(3, 7000)), Some(b.host()));
    assert_eq!(net.host_addrs(b.host()), b.local_addrs());

    send(&mut a, addr(3, 7000), b"to ep2");
    send(&mut a, addr(2, 5001), b"to ep1");
    assert_eq!(send_from(&mut b, 1, addr(1, 5000), b"from ep1"), 1);
    let mut ios = [a, b];
    let trace = run(&net, &mut ios);
    let seen: Vec<(usize, SocketAddrV4, u16, &[u8])> = trace
        .iter()
        .map(|d| (d.host, d.from, d.endpoint, d.bytes.as_slice()))
        .collect();
    assert_eq!(
        seen,
        [
            (0, addr(2, 5001), 0, &b"from ep1"[..]),
            (1, addr(1, 5000), 2, b"to ep2"),
            (1, addr(1, 5000), 1, b"to ep1"),
        ]
    );

    // An endpoint the host does not have never reaches the network.
    let [_, b] = &mut ios;
    let sent_before = net.stats().sent;
    assert_eq!(send_from(b, 3, addr(1, 5000), b"bad endpoint"), 0);
    assert_eq!(b.stats().tx_errors, 1);
    assert_eq!(net.stats().sent, sent_before);
    assert_accounted(&net);
}

#[test]
fn unknown_destination_is_undeliverable() {
    let net = network(18, LinkConfig::default());
    let mut ios = hosts(&net, 1);
    send(&mut ios[0], addr(99, 5000), b"nobody");
    send(&mut ios[0], addr(1, 5001), b"wrong port");
    assert_eq!(net.stats().undeliverable, 2);
    assert_eq!(net.in_flight(), 0);
    assert_accounted(&net);
}

#[test]
fn invalid_link_config_is_rejected_naming_the_field() {
    let bad = [
        (
            "loss",
            LinkConfig {
                loss: 1.5,
                ..LinkConfig::default()
            },
        ),
        (
            "duplicate",
            LinkConfig {
                duplicate: f64::NAN,
                ..LinkConfig::default()
            },
        ),
        (
            "reorder",
            LinkConfig {
                reorder: -0.1,
                ..LinkConfig::default()
            },
        ),
    ];
    let net = network(19, LinkConfig::default());
    let ios = hosts(&net, 2);
    for (field, link) in bad {
        let err = SimNetwork::new(1, link).expect_err("invalid");
        assert!(
            matches!(err, SimError::InvalidProbability { field: f, .. } if f == field),
            "{err:?}"
        );
        assert!(err.to_string().contains(field), "{err}");
        assert!(net.set_default_link(link).is_err());
        assert!(net.set_link(ios[0].host(), ios[1].host(), link).is_err());
    }
    let extremes = LinkConfig {
        loss: 1.0,
        duplicate: 0.0,
        reorder: 1.0,
        ..LinkConfig::default()
    };
    assert_eq!(extremes.validate(), Ok(()));
}

#[test]
fn host_registration_errors() {
    let net = network(20, LinkConfig::default());
    let a = net.add_host(&[addr(1, 5000)]).expect("fresh");
    let err = net
        .add_host(&[addr(2, 5000), addr(1, 5000)])
        .expect_err("taken");
    assert_eq!(err, SimError::AddressInUse(addr(1, 5000)));
    assert!(err.to_string().contains("10.0.0.1:5000"), "{err}");
    // A failed registration claims nothing.
    assert_eq!(net.host_of(addr(2, 5000)), None);
    assert_eq!(
        net.add_host(&[addr(3, 1), addr(3, 1)]).expect_err("twice"),
        SimError::AddressInUse(addr(3, 1))
    );
    assert_eq!(net.add_host(&[]).expect_err("empty"), SimError::NoAddresses);

    // Hosts of another network are unknown here.
    let other = network(20, LinkConfig::default());
    let _o1 = other.add_host(&[addr(1, 1)]).expect("fresh");
    let o2 = other.add_host(&[addr(1, 2)]).expect("fresh");
    let stranger = o2.host();
    assert_eq!(
        net.set_host_up(stranger, false),
        Err(SimError::UnknownHost(stranger))
    );
    assert!(net.isolate(stranger).is_err());
    assert!(net.partition(&[a.host()], &[stranger]).is_err());
    assert!(
        net.set_link(a.host(), stranger, LinkConfig::default())
            .is_err()
    );
    assert!(!net.is_host_up(stranger));
    assert!(net.host_addrs(stranger).is_empty());
    net.reset_link(a.host(), stranger);
}

#[test]
fn stats_add_up_under_every_fault() {
    let net = network(21, faulty());
    let mut ios = hosts(&net, 4);
    let ids: Vec<HostId> = ios.iter().map(SimIo::host).collect();
    let mut rng = SimRng::new(99);
    let mut trace = Vec::new();
    for step in 0u32..2000 {
        let from = rng.up_to(3) as usize;
        // 0..=4: host 5 does not exist, so some sends are undeliverable.
        let to = rng.up_to(4) as u8 + 1;
        send(&mut ios[from], addr(to, 5000), &step.to_be_bytes());
        match step % 250 {
            50 => net.partition(&ids[..1], &ids[2..]).expect("known"),
            100 => net.set_host_up(ids[2], false).expect("known"),
            120 => net.isolate(ids[3]).expect("known"),
            150 => net.set_host_up(ids[2], true).expect("known"),
            200 => net.heal(),
            _ => {}
        }
        net.advance_to(net.now() + Duration::from_nanos(rng.up_to(20_000)));
        if step % 3 == 0 {
            drain_now(&net, &mut ios, &mut trace);
        }
        assert_accounted(&net);
    }
    trace.extend(run(&net, &mut ios));
    assert_accounted(&net);
    let stats = net.stats();
    assert_eq!(net.in_flight(), 0);
    assert_eq!(stats.sent, 2000);
    assert_eq!(stats.delivered, trace.len() as u64);
    for (name, n) in [
        ("lost", stats.lost),
        ("duplicated", stats.duplicated),
        ("blocked", stats.blocked_by_partition),
        ("to_down", stats.to_down_host),
        ("from_down", stats.from_down_host),
        ("undeliverable", stats.undeliverable),
        ("discarded", stats.discarded_by_crash),
    ] {
        assert!(n > 0, "scenario exercises {name}: {stats:?}");
    }
    let rx: u64 = ios.iter().map(|io| io.stats().rx_packets).sum();
    let tx: u64 = ios.iter().map(|io| io.stats().tx_packets).sum();
    assert_eq!(rx, stats.delivered);
    assert_eq!(tx, stats.sent);
}

#[test]
fn buffers_are_recycled_through_the_shared_pool() {
    let net = network(22, LinkConfig::default());
    let mut ios = hosts(&net, 2);
    // Warm up, then a steady exchange must not grow the number of live buffers: every
    // received buffer freed is reused by the next alloc.
    let mut available = Vec::new();
    for round in 0u32..100 {
        send(&mut ios[0], addr(2, 5000), &round.to_be_bytes());
        let trace = run(&net, &mut ios);
        assert_eq!(trace.len(), 1);
        available.push(net.state().pool.available());
    }
    assert!(available.windows(2).all(|w| w[0] == w[1]), "{available:?}");
    // A dropped datagram's buffer goes back to the pool too.
    send(&mut ios[0], addr(99, 1), b"nowhere");
    assert_eq!(net.state().pool.available(), available[0]);
    let buf = ios[0].alloc();
    assert_eq!(buf.len(), 0, "alloc hands out empty buffers");
    assert_eq!(buf.peer(), SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    assert_eq!(buf.endpoint(), Endpoint(0));
    ios[0].free(buf);
}
