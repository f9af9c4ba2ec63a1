//! The real binaries on loopback: a sequencer and three NOPaxos replicas, a client running
//! 10,000 operations, the leader killed with SIGKILL midway; the client finishes after the
//! view change and its history is linearizable.

mod support;
use support::{Proc, loopback_cluster, nopaxos_replica, spawn, start_sequencer};

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Stdio;
use std::time::{Duration, Instant};

use checker::{CheckBudget, CheckOutcome, HistoryOp, check_kv};
use dataplane::io::PacketIo;
use dataplane::io::udp::{UdpConfig, UdpIo};
use protocols::Client;
use protocols::app::kv::KvOp;
use protocols::kit::pending::ClientTimeouts;
use protocols::nopaxos::NopaxosClient;
use replica::driver::Addresses;
use replica::driver::udp::{LoopOptions, UdpLoop};

/// A small workload over four keys whose values stay short.
fn op(i: u64) -> Vec<u8> {
    let key = [b'k', b'0' + (i % 4) as u8];
    let v = [b'a' + (i % 26) as u8];
    match i % 10 {
        0..=2 => KvOp::Get { key: &key }.to_bytes(),
        3 | 4 => KvOp::Put {
            key: &key,
            value: &v,
        }
        .to_bytes(),
        5..=7 => KvOp::Append {
            key: &key,
            value: &v,
        }
        .to_bytes(),
        _ => KvOp::Cas {
            key: &key,
            expected: Some(&v),
            new: b"z",
        }
        .to_bytes(),
    }
}

#[test]
fn nopaxos_survives_a_killed_leader_and_stays_linearizable() {
    let dir = tempfile::tempdir().unwrap();
    let (config, path) = loopback_cluster(dir.path(), Ipv4Addr::new(127, 0, 0, 71), |c| {
        c.timeouts.client_give_up_ms = 30_000;
    });

    let _sequencer = start_sequencer(&path, 1, Stdio::inherit());
    let mut replicas: Vec<Option<Proc>> = (0..3)
        .map(|i| Some(spawn(&mut nopaxos_replica(&path, i), "serving")))
        .collect();

    let mut io = UdpIo::bind(
        &[SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)],
        UdpConfig::default(),
    )
    .unwrap();
    let me = io.local_addrs()[0];
    let mut client = NopaxosClient::new(7, me, 3, 1, ClientTimeouts::from_config(&config.timeouts));
    let addresses = Addresses::new(&config, None).unwrap();
    let mut driver = UdpLoop::new(&mut client, &mut io, &addresses, LoopOptions::default());
    let mut history = Vec::new();
    let started = Instant::now();
    for i in 0..10_000u64 {
        if i == 5_000 {
            // SIGKILL the leader of the initial view.
            drop(replicas[0].take());
        }
        let bytes = op(i);
        let invoke = driver.now();
        let request = driver.node.invoke(invoke, &bytes).unwrap();
        driver.flush().unwrap();
        let completion = loop {
            if let Some(c) = driver.node.poll_completion() {
                break c;
            }
            if driver.round().unwrap() == 0 {
                driver.idle().unwrap();
            }
        };
        assert_eq!(completion.request, request);
        let result = completion
            .result
            .unwrap_or_else(|e| panic!("operation {i}: {e}"));
        history.push(HistoryOp {
            client: 7,
            invoke: invoke.as_nanos(),
            ret: Some(driver.now().as_nanos()),
            op: bytes,
            result: Some(result),
        });
    }
    assert!(started.elapsed() < Duration::from_secs(600));
    match check_kv(&history, &CheckBudget::default()) {
        CheckOutcome::Linearizable => {}
        other => panic!("history not linearizable: {other:?}"),
    }
}
