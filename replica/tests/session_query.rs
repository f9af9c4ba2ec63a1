//! Every replica process answers a sequencer's session query from its I/O loop, whatever
//! protocol it runs, and the query never reaches the protocol core (issue 13).

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dataplane::config::ClusterConfig;
use dataplane::oum::SessionQuery;

#[test]
fn a_vr_replica_answers_none_and_its_core_never_sees_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ClusterConfig::local(3, port, Ipv4Addr::new(127, 0, 0, 10));
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_replica"))
        .arg("--config")
        .arg(&path)
        .args(["--index", "2", "--mode", "vr"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let replica = SocketAddr::V4(config.replicas[2].address);
    let asker = UdpSocket::bind("127.0.0.1:0").unwrap();
    asker
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // Ask until the process is up (it binds after start-up).
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        assert!(Instant::now() < deadline, "no answer");
        asker
            .send_to(&SessionQuery::Query { nonce: 42 }.to_bytes(), replica)
            .unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = asker.recv_from(&mut buf) {
            break SessionQuery::parse(&buf[..n]);
        }
    };
    assert_eq!(
        answer,
        Some(SessionQuery::Answer {
            nonce: 42,
            replica: 2,
            newest: None
        })
    );
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(child.wait().unwrap().success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let stats = out
        .lines()
        .find(|l| l.starts_with("stats "))
        .unwrap_or_else(|| panic!("no stats line: {out}"));
    for zero in ["malformed=0", "stranger=0", "unexpected=0"] {
        assert!(stats.contains(zero), "{zero} in {stats}");
    }
}
