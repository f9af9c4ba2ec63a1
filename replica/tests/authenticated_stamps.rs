//! Authenticated stamps (issue 13 item 1) with the real binaries on loopback. The config
//! says `[sequencer] kind = "dpdk"`, so the replicas make no source check: the deployment
//! where a stamp's source cannot say who stamped it (a DPDK or switch sequencer keeps the
//! client's), which is exactly where tags are needed. The kernel-UDP sequencer binary
//! stands in for the stamping device, with the group's key. The cluster serves normally
//! with tags; a forged stamp without a tag is counted as `missing_tag` and one with a wrong
//! tag as `bad_tag`, and neither is executed; a request too long to take its tag is
//! refused by the sequencer and counted. Without tags (before this change) the forged
//! put was executed, since nothing else stops it in this configuration.

mod support;
use support::{
    client_socket, contains, counter, forged, leader_result, loopback_cluster, nopaxos_replicas_up,
    sequenced_request, start_sequencer,
};

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Stdio;
use std::time::Duration;

use dataplane::config::{KeyText, SequencerKind};
use dataplane::oum::{AUTH_TAG_LEN, StampKey};
use dataplane::wire::OumRepr;
use dataplane::wire::build::oum_payload;
use protocols::app::kv::KvOp;

const KEY_HEX: &str = "5e9f3a0c11d2e4b7a8c6f0e1d2c3b4a5";

fn request(client: u64, n: u64, reply_to: SocketAddrV4, op: KvOp<'_>) -> Vec<u8> {
    sequenced_request(client, n, reply_to, &op.to_bytes())
}

/// `stamped` with a tag made by `key` for group 0: header size 18 and 8 more bytes.
fn sealed_with(key: [u8; 16], stamped: &[u8]) -> Vec<u8> {
    let mut bytes = stamped.to_vec();
    bytes.extend_from_slice(&[0; AUTH_TAG_LEN]);
    StampKey::new(key).seal(0, &mut bytes).unwrap();
    bytes
}

#[test]
fn a_keyed_group_serves_with_tags_and_refuses_forged_stamps_without_a_valid_one() {
    let dir = tempfile::tempdir().unwrap();
    let (config, path) = loopback_cluster(dir.path(), Ipv4Addr::new(127, 0, 0, 84), |c| {
        c.sequencer.kind = SequencerKind::Dpdk;
        c.groups[0].auth_key = Some(KeyText::new(KEY_HEX));
    });
    let replicas = nopaxos_replicas_up(&config, &path);
    // The config's kind is "dpdk", so this sequencer warns that it is another kind; what
    // matters here is that it seals with the group's key.
    let sequencer = start_sequencer(&path, 5, Stdio::null());
    let group = config.group_socket(&config.groups[0]);
    let (client, me) = client_socket();
    let put = |value| KvOp::Put { key: b"k", value };
    // Message number 1, through the sequencer, which seals it: served as usual.
    client
        .send_to(&request(1, 1, me, put(b"honest-value")), group)
        .unwrap();
    leader_result(&client, 1, 1);

    // A forger who knows the session and the next number but not the key.
    let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let untagged = forged(&request(9, 1, me, put(b"FORGED-UNTAGGED")), 5, 2);
    let mut wrong_key: [u8; 16] = [0; 16];
    wrong_key[0] = 1;
    let badly_tagged = sealed_with(
        wrong_key,
        &forged(&request(9, 2, me, put(b"FORGED-TAGGED")), 5, 2),
    );
    for r in &config.replicas {
        forger.send_to(&untagged, r.address).unwrap();
        forger.send_to(&badly_tagged, r.address).unwrap();
    }

    // The next real request takes message number 2 and reads the honest value.
    client
        .send_to(&request(1, 2, me, KvOp::Get { key: b"k" }), group)
        .unwrap();
    let value = leader_result(&client, 1, 2);
    assert!(contains(&value, b"honest-value"), "{value:?}");
    assert!(!contains(&value, b"FORGED"), "a forged put was executed");
    // A request within 8 bytes of the sequencer's 9216-byte receive buffer cannot take
    // its tag: refused unstamped (no number used) and counted, never sent truncated.
    let huge = oum_payload(OumRepr::Unsequenced, &vec![0u8; 9212 - 16]);
    client.send_to(&huge, group).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (seq_out, _) = sequencer.stop(libc::SIGINT);
    assert!(seq_out.contains("2 stamped, 1 dropped"), "{seq_out}");
    assert!(seq_out.contains("dropped too-big-for-tag: 1"), "{seq_out}");

    for (i, r) in replicas.into_iter().enumerate() {
        let (out, _) = r.stop(libc::SIGINT);
        let (missing, bad) = (counter(&out, "missing_tag"), counter(&out, "bad_tag"));
        // The leader answered the read, so it had read both forgeries before it; a
        // follower may be stopped before it read them, but never takes one.
        if i == 0 {
            assert_eq!((missing, bad), (1, 1), "replica {i}: {out}");
            assert_eq!(counter(&out, "requests"), 2, "replica {i}: {out}");
        } else {
            assert!(missing <= 1 && bad <= 1, "replica {i}: {out}");
            assert!(counter(&out, "requests") <= 2, "replica {i}: {out}");
        }
        assert_eq!(counter(&out, "stranger_stamp"), 0, "replica {i}: {out}");
        assert_eq!(counter(&out, "duplicate"), 0, "replica {i}: {out}");
        assert_eq!(counter(&out, "malformed"), 0, "replica {i}: {out}");
    }
}
