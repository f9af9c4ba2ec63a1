//! Issue 13 with the real binaries on loopback: a sequencer and three NOPaxos replicas under
//! a busy client; one follower is stopped with SIGSTOP for ten leader timeouts and then
//! continued with SIGCONT. Its socket buffer fills with stale requests meanwhile, so on
//! resuming it times out on the leader before it reads anything from it. The leader must
//! stay the leader: no replica may count a view change beyond the first session's.

mod support;
use support::{Proc, loopback_cluster, nopaxos_replica, spawn, start_sequencer};

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Stdio;
use std::time::{Duration, Instant};

use dataplane::io::PacketIo;
use dataplane::io::udp::{UdpConfig, UdpIo};
use protocols::Client;
use protocols::app::kv::KvOp;
use protocols::kit::pending::ClientTimeouts;
use protocols::nopaxos::NopaxosClient;
use replica::driver::Addresses;
use replica::driver::udp::{LoopOptions, UdpLoop};

/// The value of `key=` in a replica's final stats line.
fn stat<'a>(out: &'a str, key: &str) -> &'a str {
    let line = out
        .lines()
        .find(|l| l.starts_with("stats replica="))
        .unwrap_or_else(|| panic!("no stats line in {out:?}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn a_follower_stopped_with_sigstop_does_not_depose_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let (config, path) = loopback_cluster(dir.path(), Ipv4Addr::new(127, 0, 0, 72), |c| {
        // Short timeouts keep the pause (ten leader timeouts) to a few seconds.
        c.timeouts.sync_period_ms = 50;
        c.timeouts.leader_timeout_ms = 200;
        c.timeouts.client_give_up_ms = 30_000;
    });

    let _sequencer = start_sequencer(&path, 1, Stdio::inherit());
    let replicas: Vec<Proc> = (0..3)
        .map(|i| spawn(&mut nopaxos_replica(&path, i), "serving"))
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
    let leader_timeout = Duration::from_millis(config.timeouts.leader_timeout_ms);
    let mut run_for = |phase: Duration| {
        let until = Instant::now() + phase;
        let mut i = 0u64;
        while Instant::now() < until {
            i += 1;
            let key = [b'k', b'0' + (i % 4) as u8];
            // Puts, not appends: an appended value (and the result that returns it) would
            // outgrow a datagram after some 32,000 requests, and its replies could no
            // longer be sent.
            let bytes = KvOp::Put {
                key: &key,
                value: b"x",
            }
            .to_bytes();
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
            completion.result.unwrap_or_else(|e| panic!("{e}"));
        }
    };

    // Warm up: the first session's view change, then a busy steady state.
    run_for(5 * leader_timeout);
    let follower = &replicas[1];
    follower.signal(libc::SIGSTOP);
    run_for(10 * leader_timeout);
    follower.signal(libc::SIGCONT);
    run_for(10 * leader_timeout);

    let outs: Vec<String> = replicas
        .into_iter()
        .map(|r| r.stop(libc::SIGTERM).0)
        .collect();
    assert_eq!(stat(&outs[0], "leader"), "true", "{outs:#?}");
    for out in &outs {
        // One view change each: (0, 0) to (0, 1), for the first session.
        assert_eq!(stat(out, "view_changes"), "1", "{outs:#?}");
    }
}
