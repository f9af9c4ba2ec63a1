//! `replica --mode listen` over real UDP, fed by the test acting as the sequencer.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::wire::build::oum_payload;
use dataplane::wire::{OumRepr, Stamp};

struct Listener {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Listener {
    fn next_line(&mut self) -> String {
        self.lines.next().expect("a line").expect("readable")
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(reorder_window_us: u64) -> (Listener, SocketAddr) {
    start_with(reorder_window_us, |_| {})
}

fn start_with(
    reorder_window_us: u64,
    adjust: impl FnOnce(&mut ClusterConfig),
) -> (Listener, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClusterConfig::local(3, port, Ipv4Addr::new(127, 0, 0, 10));
    config.oum.reorder_window_us = reorder_window_us;
    // A fixed window (floor = ceiling): these tests are about the wait itself, not its
    // adaptation (dataplane's receiver tests cover that).
    config.oum.reorder_window_min_us = reorder_window_us;
    adjust(&mut config);
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_replica"))
        .arg("--config")
        .arg(&path)
        .args(["--index", "1", "--mode", "listen", "--events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut listener = Listener {
        child,
        lines,
        _dir: dir,
    };
    let first = listener.next_line();
    assert!(first.starts_with("listening replica=1"), "{first}");
    (listener, SocketAddr::from((Ipv4Addr::LOCALHOST, port + 1)))
}

fn stamped(session: u16, msgnum: u64) -> Vec<u8> {
    oum_payload(
        OumRepr::Sequenced(Stamp::new(session, msgnum)),
        &[msgnum as u8],
    )
}

#[test]
fn listen_mode_reports_the_ordered_stream_drops_and_session_changes() {
    let (mut listener, address) = start(0);
    let sequencer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |bytes: &[u8]| {
        sequencer.send_to(bytes, address).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    };
    send(&stamped(3, 1));
    send(&oum_payload(OumRepr::Unsequenced, b"client leftovers"));
    send(&stamped(3, 2));
    send(&stamped(3, 2)); // duplicate
    send(&stamped(3, 5)); // 3 and 4 lost
    send(&stamped(2, 6)); // stale session
    send(&stamped(4, 1)); // sequencer failover...
    send(&stamped(4, 2)); // ...confirmed by a second stamp of the new session
    let expected = [
        "session-terminated old=none new=3",
        "message session=3 msgnum=1 bytes=1 body=01",
        "message session=3 msgnum=2 bytes=1 body=02",
        "drop session=3 msgnum=3",
        "drop session=3 msgnum=4",
        "message session=3 msgnum=5 bytes=1 body=05",
        "session-terminated old=3 new=4",
        "message session=4 msgnum=1 bytes=1 body=01",
        "message session=4 msgnum=2 bytes=1 body=02",
    ];
    for want in expected {
        assert_eq!(listener.next_line(), want);
    }
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(listener.child.id() as i32, libc::SIGINT) };
    let summary = listener.next_line();
    for part in [
        "delivered=5",
        "drops=2",
        "sessions_terminated=2",
        "session=4",
        "duplicate=1",
        "stale_session=1",
        "unsequenced=1",
    ] {
        assert!(summary.contains(part), "{part} in {summary}");
    }
    assert!(listener.child.wait().unwrap().success());
}

#[test]
fn listen_mode_waits_out_reordering_within_the_window() {
    let (mut listener, address) = start(200_000);
    let sequencer = UdpSocket::bind("127.0.0.1:0").unwrap();
    for msgnum in [1, 3, 2] {
        sequencer.send_to(&stamped(1, msgnum), address).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let expected = [
        "session-terminated old=none new=1",
        "message session=1 msgnum=1 bytes=1 body=01",
        "message session=1 msgnum=2 bytes=1 body=02",
        "message session=1 msgnum=3 bytes=1 body=03",
    ];
    for want in expected {
        assert_eq!(listener.next_line(), want);
    }
}

#[test]
fn an_index_outside_the_cluster_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    std::fs::write(
        &path,
        ClusterConfig::local(3, 47000, Ipv4Addr::new(127, 0, 0, 10)).to_toml(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_replica"))
        .arg("--config")
        .arg(&path)
        .args(["--index", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--index 3 is not a replica"), "{err}");
}

/// A listening member answers a starting sequencer's session query too (issue 13), with
/// the newest session it has seen, and a malformed query changes nothing.
#[test]
fn listen_mode_answers_session_queries() {
    use dataplane::oum::{SessionNumber, SessionQuery};
    let (mut listener, address) = start(0);
    let asker = UdpSocket::bind("127.0.0.1:0").unwrap();
    asker
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let ask = |nonce: u64| {
        asker
            .send_to(&SessionQuery::Query { nonce }.to_bytes(), address)
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = asker.recv_from(&mut buf).expect("an answer");
        SessionQuery::parse(&buf[..n]).expect("a well-formed answer")
    };
    assert_eq!(
        ask(1),
        SessionQuery::Answer {
            nonce: 1,
            replica: 1,
            newest: None
        }
    );
    asker.send_to(&stamped(7, 1), address).unwrap();
    assert_eq!(listener.next_line(), "session-terminated old=none new=7");
    let mut bad = SessionQuery::Query { nonce: 3 }.to_bytes();
    bad[5] = 9;
    asker.send_to(&bad, address).unwrap();
    assert_eq!(
        ask(2),
        SessionQuery::Answer {
            nonce: 2,
            replica: 1,
            newest: Some(SessionNumber(7))
        }
    );
}

/// With a key for its group, a listening member delivers only stamps with a valid tag
/// (opened to the plain stamp: the message bytes carry no trailer) and counts the others.
#[test]
fn listen_mode_takes_only_validly_tagged_stamps_of_a_keyed_group() {
    use dataplane::config::KeyText;
    use dataplane::oum::{AUTH_TAG_LEN, StampKey};
    let key = [0x3c; 16];
    let (mut listener, address) = start_with(0, |c| {
        c.groups[0].auth_key = Some(KeyText::new("3c".repeat(16)));
    });
    let sealed = |session, msgnum, with: [u8; 16]| {
        let mut d = stamped(session, msgnum);
        d.extend_from_slice(&[0; AUTH_TAG_LEN]);
        StampKey::new(with).seal(0, &mut d).unwrap();
        d
    };
    let sequencer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |bytes: &[u8]| {
        sequencer.send_to(bytes, address).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    };
    send(&sealed(3, 1, key));
    send(&stamped(3, 2)); // no tag
    send(&sealed(3, 2, [0x3d; 16])); // another key
    send(&sealed(3, 2, key));
    let expected = [
        "session-terminated old=none new=3",
        "message session=3 msgnum=1 bytes=1 body=01",
        "message session=3 msgnum=2 bytes=1 body=02",
    ];
    for want in expected {
        assert_eq!(listener.next_line(), want);
    }
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(listener.child.id() as i32, libc::SIGINT) };
    let summary = listener.next_line();
    for part in ["delivered=2", "drops=0", "missing_tag=1", "bad_tag=1"] {
        assert!(summary.contains(part), "{part} in {summary}");
    }
    assert!(listener.child.wait().unwrap().success());
}
