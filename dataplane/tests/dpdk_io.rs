//! `DpdkIo` (the PacketIo backend on DPDK) between two ring ports wired back to back, in
//! a process of its own (EAL initialises once per process). Needs root; skipped otherwise.
#![cfg(feature = "dpdk")]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

use dataplane::io::dpdk::{
    DpdkIo, DpdkIoConfig, Eal, FrameDrop, Mbuf, Mempool, Port, PortConfig, Ring, RingPort,
};
use dataplane::io::{Endpoint, Packet, PacketIo};
use dataplane::wire::build::UdpFrameSpec;

const SCENARIO: &str = "NOPAXOS_DPDK_SCENARIO";

fn in_own_process(name: &str, body: fn()) {
    if std::env::var(SCENARIO).as_deref() == Ok(name) {
        body();
        return;
    }
    if !dataplane::io::dpdk::eal::running_as_root() {
        println!("skipped: needs root");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "scenario {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn recv_all(io: &mut DpdkIo) -> Vec<dataplane::io::dpdk::DpdkBuf> {
    let mut batch = Vec::new();
    io.recv_burst(&mut batch, 64).unwrap();
    batch
}

fn round_trip_scenario() {
    let eal = Eal::init(dataplane::io::dpdk::eal::NO_HARDWARE_ARGS).unwrap();
    assert!(matches!(
        Eal::init(&["--no-huge"]),
        Err(dataplane::io::dpdk::DpdkError::EalAlready)
    ));
    let pool = Mempool::create(&eal, "io_pool", 2047, 32, Mempool::DEFAULT_DATA_ROOM).unwrap();
    // a -> b on ring ab, b -> a on ring ba.
    let ab = Ring::create(&eal, "ab", 1024).unwrap();
    let ba = Ring::create(&eal, "ba", 1024).unwrap();
    let port_a = RingPort::from_rings(&eal, "a", ba, ab).unwrap();
    let port_b = RingPort::from_rings(&eal, "b", ab, ba).unwrap();
    let port_a = Port::start(
        &eal,
        port_a,
        pool,
        PortConfig {
            workers: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let port_b = Port::start(&eal, port_b, pool, PortConfig::default()).unwrap();
    assert_eq!(port_a.queues(), 1, "net_ring has no RSS: one queue");
    assert!(port_a.link().up);
    let a_addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000);
    let b_addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6000);
    let b_other = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6001);
    let mut a = DpdkIo::new(
        &port_a,
        0,
        pool,
        DpdkIoConfig {
            local_addrs: vec![a_addr],
            ..Default::default()
        },
    )
    .unwrap();
    let mut b = DpdkIo::new(
        &port_b,
        0,
        pool,
        DpdkIoConfig {
            local_addrs: vec![b_addr, b_other],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        DpdkIo::new(
            &port_b,
            1,
            pool,
            DpdkIoConfig {
                local_addrs: vec![b_addr],
                ..Default::default()
            }
        )
        .is_err()
    );

    // No MAC for b yet: the datagram is dropped and an ARP request goes out instead.
    let mut out = a.alloc();
    assert!(out.fill(b"first"));
    out.set_peer(b_addr);
    assert_eq!(a.send_burst(&mut vec![out]).unwrap(), 0);
    assert_eq!(a.dpdk_stats().drops.get(FrameDrop::NoArpEntry), 1);
    assert_eq!(a.dpdk_stats().arp_requests_sent, 1);
    assert!(recv_all(&mut b).is_empty(), "b answers the request");
    assert_eq!(b.dpdk_stats().arp_replies_sent, 1);
    assert_eq!(b.arp_lookup(*a_addr.ip()), Some(port_a.mac()));
    assert!(recv_all(&mut a).is_empty());
    assert_eq!(a.dpdk_stats().arp_learned, 1);
    assert_eq!(a.arp_lookup(*b_addr.ip()), Some(port_b.mac()));

    // Now datagrams flow; the received buffer's bytes are exactly the payload.
    let mut batch = Vec::new();
    for (i, to) in [b_addr, b_other, b_addr].into_iter().enumerate() {
        let mut buf = a.alloc();
        assert!(buf.fill(format!("datagram {i}").as_bytes()));
        buf.set_peer(to);
        batch.push(buf);
    }
    assert_eq!(a.send_burst(&mut batch).unwrap(), 3);
    let got = recv_all(&mut b);
    assert_eq!(got.len(), 3);
    for (i, buf) in got.iter().enumerate() {
        assert_eq!(buf.as_ref(), format!("datagram {i}").as_bytes());
        assert_eq!(buf.peer(), a_addr);
    }
    assert_eq!(got[1].endpoint(), Endpoint(1));
    // Reply in place: the same mbuf goes back with new headers in its headroom.
    let mut replies: Vec<_> = got
        .into_iter()
        .map(|mut buf| {
            buf.as_mut()[0] = b'D';
            let peer = buf.peer();
            buf.set_peer(peer);
            buf
        })
        .collect();
    let copy = b.duplicate(&replies[0]);
    replies.push(copy);
    assert_eq!(b.send_burst(&mut replies).unwrap(), 4);
    let back = recv_all(&mut a);
    assert_eq!(back.len(), 4);
    assert_eq!(back[3].as_ref(), b"Datagram 0");
    assert_eq!(back[1].as_ref(), b"Datagram 1");
    drop(back);

    // Garbage into b: each kind counted under its reason, every mbuf freed.
    let spec = UdpFrameSpec {
        src_ip: *a_addr.ip(),
        dst_ip: *b_addr.ip(),
        dst_port: 6000,
        ..Default::default()
    };
    let good = spec.build(b"ok").unwrap();
    let mut padded = good.clone();
    padded.extend_from_slice(&[0xee; 20]); // Ethernet padding after the datagram
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x4f;
    let mut ipv6 = good.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut tcp = good.clone();
    tcp[23] = 6;
    let mut fragment = good.clone();
    fragment[20] = 0x20;
    let mut bad_udp_len = good.clone();
    bad_udp_len[38..40].copy_from_slice(&200u16.to_be_bytes());
    let wrong_port = UdpFrameSpec {
        dst_port: 9,
        ..spec.clone()
    }
    .build(b"x")
    .unwrap();
    let not_ours = UdpFrameSpec {
        dst_ip: Ipv4Addr::new(10, 0, 0, 3),
        ..spec.clone()
    }
    .build(b"x")
    .unwrap();
    let with_options = UdpFrameSpec {
        ip_options: vec![1, 1, 1, 1, 1, 1, 1, 1],
        ..spec.clone()
    }
    .build(b"opts")
    .unwrap();
    let kinds: Vec<Vec<u8>> = vec![
        good.clone(),
        padded,
        with_options,
        vec![1; 9],
        good[..30].to_vec(),
        bad_ihl,
        ipv6,
        tcp,
        fragment,
        bad_udp_len,
        wrong_port,
        not_ours,
    ];
    let rounds = 50;
    let mut delivered = Vec::new();
    for _ in 0..rounds {
        for k in &kinds {
            let mut m = Mbuf::alloc(pool).unwrap();
            m.append(k.len()).unwrap().copy_from_slice(k);
            ab.enqueue(m).unwrap();
        }
        let mut jumbo = Mbuf::alloc(pool).unwrap();
        jumbo.append(1000).unwrap().fill(0);
        let mut tail = Mbuf::alloc(pool).unwrap();
        tail.append(1000).unwrap().fill(0);
        jumbo.chain(tail).unwrap();
        ab.enqueue(jumbo).unwrap();
        for buf in recv_all(&mut b) {
            delivered.push(buf.as_ref().to_vec());
        }
    }
    assert_eq!(delivered.len(), 3 * rounds);
    assert!(
        delivered
            .chunks(3)
            .all(|c| c == [b"ok".to_vec(), b"ok".to_vec(), b"opts".to_vec()])
    );
    let s = b.dpdk_stats();
    let r = rounds as u64;
    for (reason, n) in [
        (FrameDrop::Runt, r),
        (FrameDrop::MalformedIpv4, 2 * r),
        (FrameDrop::NotIpv4, r),
        (FrameDrop::NotUdp, r),
        (FrameDrop::Ipv4Fragment, r),
        (FrameDrop::MalformedUdp, r),
        (FrameDrop::WrongPort, r),
        (FrameDrop::NotOurAddress, r),
        (FrameDrop::MultiSegment, r),
    ] {
        assert_eq!(s.drops.get(reason), n, "{reason}");
    }
    assert_eq!(s.io.rx_truncated, r);
    let dev = port_b.device_stats().unwrap();
    assert!(dev.rx_packets >= 13 * r, "{dev:?}");
    assert_eq!(ab.count() + ba.count(), 0);
    assert_eq!(
        pool.available(),
        pool.size(),
        "every mbuf is back in the pool"
    );
}

#[test]
fn datagrams_arp_and_garbage_between_two_ring_ports() {
    in_own_process(
        "datagrams_arp_and_garbage_between_two_ring_ports",
        round_trip_scenario,
    );
}
