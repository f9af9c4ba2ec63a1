//! Issue 13 item 1 with the real binaries on loopback: a stamped datagram sent straight to
//! the replicas by someone who is not the sequencer (right session, next message number)
//! is counted and never executed. Before the fix a forged put was read back, and forged
//! appends (A to the leader, B to the followers) made the replicas' states diverge.

mod support;
use support::{
    client_socket, contains, counter, forged, leader_result, loopback_cluster, nopaxos_replicas_up,
    sequenced_request, start_sequencer,
};

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Stdio;

use protocols::app::kv::KvOp;

/// A NOPaxos request carrying `op`, with an unsequenced OUM header.
fn request(client: u64, n: u64, reply_to: SocketAddrV4, op: KvOp<'_>) -> Vec<u8> {
    sequenced_request(client, n, reply_to, &op.to_bytes())
}

#[test]
fn stamps_from_a_stranger_are_counted_and_never_executed() {
    let dir = tempfile::tempdir().unwrap();
    let (config, path) = loopback_cluster(dir.path(), Ipv4Addr::new(127, 0, 0, 83), |_| {});
    let replicas = nopaxos_replicas_up(&config, &path);
    let sequencer = start_sequencer(&path, 5, Stdio::inherit());
    let group = config.group_socket(&config.groups[0]);

    let (client, me) = client_socket();
    let put = |value| KvOp::Put { key: b"k", value };
    // Message number 1, through the sequencer.
    client
        .send_to(&request(1, 1, me, put(b"honest-value")), group)
        .unwrap();
    leader_result(&client, 1, 1);

    // The forger: its own socket, the current session, the next message numbers.
    let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let forged_put = forged(&request(9, 1, me, put(b"FORGED-VALUE")), 5, 2);
    for r in &config.replicas {
        forger.send_to(&forged_put, r.address).unwrap();
    }
    let append = |value| KvOp::Append { key: b"k", value };
    let to_leader = forged(&request(9, 2, me, append(b"-A")), 5, 3);
    let to_followers = forged(&request(9, 2, me, append(b"-B")), 5, 3);
    forger
        .send_to(&to_leader, config.replicas[0].address)
        .unwrap();
    for r in &config.replicas[1..] {
        forger.send_to(&to_followers, r.address).unwrap();
    }

    // The next real request takes message number 2 and reads what the cluster agreed on.
    // (Before the fix the replicas took it for a duplicate of the forged number 2 and never
    // answered; the forged put was what a later read returned.)
    client
        .send_to(&request(1, 2, me, KvOp::Get { key: b"k" }), group)
        .unwrap();
    let value = leader_result(&client, 1, 2);
    assert!(contains(&value, b"honest-value"), "{value:?}");
    assert!(!contains(&value, b"FORGED"), "the forged put was executed");
    assert!(!contains(&value, b"-A"), "a forged append was executed");
    drop(sequencer);

    for (i, r) in replicas.into_iter().enumerate() {
        let (out, _) = r.stop(libc::SIGINT);
        // The leader answered, so it saw everything: the put and one append, both refused.
        // A follower may be stopped before it has read the last datagrams (the client waits
        // for the leader only), but never delivers a forged stamp: at most the two real
        // requests, and the real read is not taken for a duplicate of a forged number.
        let strangers = counter(&out, "stranger_stamp");
        if i == 0 {
            assert_eq!(strangers, 2, "replica {i}: {out}");
        } else {
            assert!(strangers <= 2, "replica {i}: {out}");
        }
        assert_eq!(counter(&out, "duplicate"), 0, "replica {i}: {out}");
        assert!(counter(&out, "requests") <= 2, "replica {i}: {out}");
    }
}
