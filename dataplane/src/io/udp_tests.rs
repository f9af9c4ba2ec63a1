use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::*;

fn loopback() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
}

/// Receives until `count` datagrams arrived or a few seconds passed.
fn recv_n(io: &mut UdpIo, count: usize) -> Vec<PacketBuf> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < count && Instant::now() < deadline {
        let want = count - got.len();
        io.recv_burst(&mut got, want).unwrap();
        if got.len() < count {
            io.wait(Duration::from_millis(50)).unwrap();
        }
    }
    got
}

#[test]
fn a_burst_arrives_whole_and_in_order() {
    let mut a = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let mut b = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let to = b.local_addrs()[0];
    let mut batch = Vec::new();
    for i in 0..100u32 {
        let mut buf = a.alloc();
        assert!(buf.fill(&i.to_be_bytes()));
        buf.set_peer(to);
        batch.push(buf);
    }
    assert_eq!(a.send_burst(&mut batch).unwrap(), 100);
    assert!(batch.is_empty());
    let got = recv_n(&mut b, 100);
    assert_eq!(got.len(), 100);
    for (i, buf) in got.iter().enumerate() {
        assert_eq!(buf.as_ref(), &(i as u32).to_be_bytes());
        assert_eq!(buf.peer(), a.local_addrs()[0]);
        assert_eq!(buf.endpoint(), Endpoint(0));
    }
    assert_eq!(a.stats().tx_packets, 100);
    assert_eq!(b.stats().rx_packets, 100);
}

#[test]
fn each_endpoint_sends_from_and_receives_on_its_own_address() {
    let mut multi = UdpIo::bind(&[loopback(), loopback()], UdpConfig::default()).unwrap();
    let mut peer = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let [first, second] = [multi.local_addrs()[0], multi.local_addrs()[1]];
    let mut batch = Vec::new();
    for (endpoint, byte) in [(0u16, 1u8), (1, 2), (0, 3)] {
        let mut buf = multi.alloc();
        buf.fill(&[byte]);
        buf.set_peer(peer.local_addrs()[0]);
        buf.set_endpoint(Endpoint(endpoint));
        batch.push(buf);
    }
    multi.send_burst(&mut batch).unwrap();
    let got = recv_n(&mut peer, 3);
    let mut seen: Vec<(u8, SocketAddrV4)> = got.iter().map(|b| (b.as_ref()[0], b.peer())).collect();
    seen.sort();
    assert_eq!(seen, vec![(1, first), (2, second), (3, first)]);

    // And replies come back on the endpoint they were sent to.
    let mut replies = Vec::new();
    for (to, byte) in [(second, 9u8), (first, 8)] {
        let mut buf = peer.alloc();
        buf.fill(&[byte]);
        buf.set_peer(to);
        replies.push(buf);
    }
    peer.send_burst(&mut replies).unwrap();
    let mut got: Vec<(u8, Endpoint)> = recv_n(&mut multi, 2)
        .iter()
        .map(|b| (b.as_ref()[0], b.endpoint()))
        .collect();
    got.sort();
    assert_eq!(got, vec![(8, Endpoint(0)), (9, Endpoint(1))]);
}

#[test]
fn oversized_datagrams_are_counted_not_delivered() {
    let small = UdpConfig {
        buffer_size: 64,
        ..UdpConfig::default()
    };
    let mut rx = UdpIo::bind(&[loopback()], small).unwrap();
    let tx = std::net::UdpSocket::bind(loopback()).unwrap();
    tx.send_to(&[0u8; 200], rx.local_addrs()[0]).unwrap();
    tx.send_to(&[7u8; 10], rx.local_addrs()[0]).unwrap();
    let got = recv_n(&mut rx, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref(), &[7u8; 10]);
    assert_eq!(rx.stats().rx_truncated, 1);
}

#[test]
fn recv_never_blocks_and_respects_max() {
    let mut rx = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let mut batch = Vec::new();
    assert_eq!(rx.recv_burst(&mut batch, 32).unwrap(), 0);
    let tx = std::net::UdpSocket::bind(loopback()).unwrap();
    for i in 0..10u8 {
        tx.send_to(&[i], rx.local_addrs()[0]).unwrap();
    }
    rx.wait(Duration::from_secs(1)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rx.recv_burst(&mut batch, 4).unwrap(), 4);
    assert_eq!(recv_n(&mut rx, 6).len(), 6);
}

#[test]
fn wait_returns_early_when_a_datagram_arrives_and_times_out_otherwise() {
    let mut rx = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let start = Instant::now();
    rx.wait(Duration::from_millis(30)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(25));
    let tx = std::net::UdpSocket::bind(loopback()).unwrap();
    tx.send_to(b"x", rx.local_addrs()[0]).unwrap();
    let start = Instant::now();
    rx.wait(Duration::from_secs(10)).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn binding_an_address_in_use_names_it() {
    let first = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let taken = first.local_addrs()[0];
    let err = UdpIo::bind(&[taken], UdpConfig::default()).unwrap_err();
    assert!(err.to_string().contains(&taken.to_string()), "{err}");
}

#[test]
fn sends_to_a_closed_port_do_not_fail_the_burst() {
    let mut tx = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let mut rx = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let closed = {
        let s = std::net::UdpSocket::bind(loopback()).unwrap();
        match s.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            _ => unreachable!(),
        }
    };
    for round in 0..3 {
        let mut batch = Vec::new();
        for to in [closed, rx.local_addrs()[0]] {
            let mut buf = tx.alloc();
            buf.fill(&[round]);
            buf.set_peer(to);
            batch.push(buf);
        }
        tx.send_burst(&mut batch).unwrap();
        // ICMP port-unreachable errors surface on later calls; they must not break receive.
        let mut scratch = Vec::new();
        tx.recv_burst(&mut scratch, 8).unwrap();
    }
    assert_eq!(recv_n(&mut rx, 3).len(), 3);
}

#[test]
fn one_multicast_send_reaches_every_member_on_the_host() {
    // A free port for the group (multicast binds share it, so pick one nobody else holds).
    let port = std::net::UdpSocket::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let group = SocketAddrV4::new(Ipv4Addr::new(239, 255, 77, 1), port);
    let mut members: Vec<UdpIo> = (0..3)
        .map(|_| {
            let mut io = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
            assert_eq!(
                io.join_multicast(group, Ipv4Addr::LOCALHOST).unwrap(),
                Endpoint(1)
            );
            io
        })
        .collect();
    let mut sender = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    sender
        .set_multicast_interface(Endpoint(0), Ipv4Addr::LOCALHOST)
        .unwrap();
    let mut batch = Vec::new();
    for i in 0..10u8 {
        let mut buf = sender.alloc();
        buf.fill(&[i]);
        buf.set_peer(group);
        batch.push(buf);
    }
    assert_eq!(sender.send_burst(&mut batch).unwrap(), 10);
    for member in &mut members {
        let got = recv_n(member, 10);
        let bytes: Vec<u8> = got.iter().map(|b| b.as_ref()[0]).collect();
        assert_eq!(bytes, (0..10).collect::<Vec<u8>>());
        assert!(got.iter().all(|b| b.endpoint() == Endpoint(1)));
        assert!(got.iter().all(|b| b.peer() == sender.local_addrs()[0]));
    }
}

#[test]
fn joining_a_unicast_address_names_the_group() {
    let mut io = UdpIo::bind(&[loopback()], UdpConfig::default()).unwrap();
    let err = io
        .join_multicast(
            SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 0),
            Ipv4Addr::LOCALHOST,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("multicast group 127.0.0.1:0"), "{err}");
}

#[test]
fn after_a_wait_only_the_sockets_poll_found_readable_are_read() {
    let mut io = UdpIo::bind(&[loopback(), loopback()], UdpConfig::default()).unwrap();
    let [first, second] = [io.local_addrs()[0], io.local_addrs()[1]];
    let peer = std::net::UdpSocket::bind(loopback()).unwrap();
    peer.send_to(&[2], second).unwrap();
    io.wait(Duration::from_secs(5)).unwrap();
    // Arrives after poll(2) looked: this receive does not ask its socket...
    peer.send_to(&[1], first).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut got = Vec::new();
    assert_eq!(io.recv_burst(&mut got, 32).unwrap(), 1);
    assert_eq!(got[0].as_ref(), &[2]);
    // ...the next one, with no wait in between, reads every socket.
    got.clear();
    assert_eq!(io.recv_burst(&mut got, 32).unwrap(), 1);
    assert_eq!(got[0].as_ref(), &[1]);
    // And a wait that finds it readable leads straight to it.
    peer.send_to(&[3], first).unwrap();
    io.wait(Duration::from_secs(5)).unwrap();
    got.clear();
    assert_eq!(io.recv_burst(&mut got, 32).unwrap(), 1);
    assert_eq!(got[0].as_ref(), &[3]);
}
