//! The real `sequencer` binary on loopback, and `sequencer replay` over pcap files.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::oum::SessionQuery;
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{OumRepr, Stamp};

const BIN: &str = env!("CARGO_BIN_EXE_sequencer");

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Cluster {
    dir: tempfile::TempDir,
    config: PathBuf,
    group: SocketAddrV4,
    members: Vec<UdpSocket>,
}

/// A config with three member sockets bound by the test itself and a group on `group_ip`.
fn cluster(group_ip: Ipv4Addr) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<UdpSocket> = (0..3)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    let mut config = ClusterConfig::local(3, 1, group_ip);
    for (r, s) in config.replicas.iter_mut().zip(&members) {
        let SocketAddr::V4(a) = s.local_addr().unwrap() else {
            unreachable!()
        };
        r.address = a;
    }
    config.oum.port = free_port();
    config.sequencer.state_file = Some("session-state".into());
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    Cluster {
        group: SocketAddrV4::new(group_ip, config.oum.port),
        config: path,
        dir,
        members,
    }
}

/// Starts the sequencer and waits for its "sequencer: session" line.
fn start(config: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first)
}

/// SIGINT, then everything it printed after the first line.
fn stop(mut child: Child) -> String {
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn request(body: &[u8]) -> Vec<u8> {
    oum_payload(OumRepr::Unsequenced, body)
}

/// The next datagram that is not the sequencer's session query (these members never
/// answer it, as replicas that are down would not).
fn recv_data(socket: &UdpSocket, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        let (n, _) = socket.recv_from(buf)?;
        if !SessionQuery::looks_like(&buf[..n]) {
            return Ok(n);
        }
    }
}

fn recv_stamp(socket: &UdpSocket) -> (Stamp, Vec<u8>) {
    let mut buf = [0u8; 2048];
    let n = recv_data(socket, &mut buf).expect("a stamped copy");
    match OumRepr::parse_bytes(&buf[..n]).unwrap() {
        OumRepr::Sequenced(stamp) => (stamp, buf[16..n].to_vec()),
        OumRepr::Unsequenced => panic!("member got an unsequenced packet"),
    }
}

#[test]
fn stamps_requests_and_sends_each_member_a_copy_in_order() {
    let c = cluster(Ipv4Addr::new(127, 0, 0, 61));
    let (child, first) = start(&c.config, &["--session", "5"]);
    assert!(first.contains("session 5"), "{first}");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Garbage first: none of it may reach a member.
    client
        .send_to(b"not an OUM packet at all", c.group)
        .unwrap();
    client
        .send_to(
            &oum_payload(OumRepr::Sequenced(Stamp::new(9, 9)), b"forged"),
            c.group,
        )
        .unwrap();
    for i in 0..20u32 {
        client.send_to(&request(&i.to_be_bytes()), c.group).unwrap();
    }
    for member in &c.members {
        for i in 0..20u32 {
            let (stamp, body) = recv_stamp(member);
            assert_eq!(stamp, Stamp::new(5, u64::from(i) + 1));
            assert_eq!(body, i.to_be_bytes());
        }
    }
    let report = stop(child);
    assert!(report.contains("20 stamped, 2 dropped"), "{report}");
    assert!(report.contains("dropped bad-preamble: 1"), "{report}");
    assert!(report.contains("dropped already-sequenced: 1"), "{report}");
}

#[test]
fn a_multicast_group_gets_one_stamped_copy_per_request_for_every_member() {
    let c = cluster(Ipv4Addr::new(127, 0, 0, 62));
    let mut config = ClusterConfig::load(&c.config).unwrap();
    let group = Ipv4Addr::new(239, 255, 62, 1);
    config.groups[0].multicast = Some(group);
    std::fs::write(&c.config, config.to_toml()).unwrap();
    // Members as a replica process sets them up: the group address and port shared, joined
    // on loopback.
    let joined: Vec<UdpSocket> = (0..3)
        .map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
            s.set_reuse_address(true).unwrap();
            s.bind(&SocketAddr::V4(SocketAddrV4::new(group, config.oum.port)).into())
                .unwrap();
            s.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST).unwrap();
            let s = UdpSocket::from(s);
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    let (child, first) = start(&c.config, &["--session", "3"]);
    assert!(first.contains("session 3"), "{first}");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..20u32 {
        client.send_to(&request(&i.to_be_bytes()), c.group).unwrap();
    }
    for member in &joined {
        for i in 0..20u32 {
            let (stamp, body) = recv_stamp(member);
            assert_eq!(stamp, Stamp::new(3, u64::from(i) + 1));
            assert_eq!(body, i.to_be_bytes());
        }
    }
    // The members' unicast addresses get nothing: one multicast send replaced the copies.
    c.members[0]
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(recv_data(&c.members[0], &mut [0u8; 64]).is_err());
    let report = stop(child);
    assert!(report.contains("20 stamped"), "{report}");
    assert!(
        report.contains("io: 20 received, 20 sent"),
        "one datagram per request: {report}"
    );
    assert!(report.contains("multicast 239.255.62.1"), "{report}");
}

#[test]
fn a_restart_takes_the_next_session_and_never_reuses_one() {
    let c = cluster(Ipv4Addr::new(127, 0, 0, 62));
    // First start without a session: refused, with the fix in the message.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&c.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--session N"), "{err}");

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (child, _) = start(&c.config, &["--session", "65535"]);
    client.send_to(&request(b"a"), c.group).unwrap();
    assert_eq!(recv_stamp(&c.members[0]).0, Stamp::new(65535, 1));
    stop(child);

    let (child, first) = start(&c.config, &[]);
    assert!(first.contains("session 0"), "wraps to 0: {first}");
    client.send_to(&request(b"b"), c.group).unwrap();
    assert_eq!(recv_stamp(&c.members[0]).0, Stamp::new(0, 1));
    stop(child);

    // Going back by flag is refused.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&c.config)
        .args(["--session", "65535"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not newer"));
    let state = std::fs::read_to_string(c.dir.path().join("session-state")).unwrap();
    assert!(state.trim_end().ends_with('0'), "{state}");
}

#[test]
fn stats_lines_appear_with_the_flag() {
    let c = cluster(Ipv4Addr::new(127, 0, 0, 63));
    let (mut child, _) = start(
        &c.config,
        &["--session", "1", "--stats", "--stats-interval", "0.05"],
    );
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("session 1 stamped 0"), "{line}");
    stop(child);
}

/// A config that says the sequencer is a DPDK one turns the replicas' source check off; the
/// kernel-UDP sequencer says so at start (and stays quiet when the config matches).
#[test]
fn a_sequencer_of_another_kind_than_the_config_says_warns() {
    let c = cluster(Ipv4Addr::new(127, 0, 0, 64));
    let text = std::fs::read_to_string(&c.config).unwrap();
    assert!(text.contains("kind = \"udp\""), "{text}");
    let quiet = stop_err_of(&c.config, &text, "1");
    assert!(!quiet.contains("WARN"), "{quiet}");
    let dpdk = text.replace("kind = \"udp\"", "kind = \"dpdk\"");
    let err = stop_err_of(&c.config, &dpdk, "2");
    assert!(
        err.contains("WARN the config says [sequencer] kind = \"dpdk\" but this is a udp")
            && err.contains("Set kind = \"udp\""),
        "{err}"
    );
}

/// Writes `text` as the config, runs the sequencer until it is up, and returns its stderr.
fn stop_err_of(config: &Path, text: &str, session: &str) -> String {
    std::fs::write(config, text).unwrap();
    let (child, first) = start(config, &["--session", session]);
    assert!(first.contains("sequencer: session"), "{first}");
    stop_with_stderr(child)
}

fn stop_with_stderr(mut child: Child) -> String {
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn a_bad_config_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "f = 1\n[[replica]]\naddress = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`f`") && err.contains("`group`"), "{err}");
    let out = Command::new(BIN).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w =
        dataplane::pcap::PcapWriter::new(file, dataplane::pcap::LINKTYPE_ETHERNET, 65535).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let header = dataplane::pcap::RecordHeader {
            ts_sec: 1_700_000_000 + i as u32,
            ts_nanos: 5,
            orig_len: f.len() as u32,
        };
        w.write_record(header, f).unwrap();
    }
    w.flush().unwrap();
}

fn read_pcap(path: &Path) -> Vec<(dataplane::pcap::RecordHeader, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut r = dataplane::pcap::PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(h) = r.next_record(&mut buf).unwrap() {
        out.push((h, buf.clone()));
    }
    out
}

#[test]
fn replay_sequences_a_capture_offline() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("cluster.toml");
    let config = ClusterConfig::local(3, 51000, Ipv4Addr::new(10, 0, 0, 100));
    std::fs::write(&config_path, config.to_toml()).unwrap();
    let to_group = UdpFrameSpec {
        dst_ip: Ipv4Addr::new(10, 0, 0, 100),
        ..UdpFrameSpec::default()
    };
    let elsewhere = UdpFrameSpec {
        dst_ip: Ipv4Addr::new(10, 0, 0, 7),
        ..UdpFrameSpec::default()
    };
    let frames = vec![
        to_group.build(&request(b"one")).unwrap(),
        elsewhere.build(&request(b"stray")).unwrap(),
        to_group.build(&request(b"two")).unwrap(),
        vec![0xff; 10],
    ];
    let input = dir.path().join("in.pcap");
    let output = dir.path().join("out.pcap");
    write_pcap(&input, &frames);
    let out = Command::new(BIN)
        .args(["replay", "--config"])
        .arg(&config_path)
        .arg("--in")
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .args(["--session", "42"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("4 frames read, 2 stamped and written, 2 dropped"),
        "{stdout}"
    );
    assert!(stdout.contains("dropped unknown-group: 1"), "{stdout}");
    assert!(stdout.contains("dropped truncated-ethernet: 1"), "{stdout}");
    let records = read_pcap(&output);
    assert_eq!(records.len(), 2);
    for (i, (header, frame)) in records.iter().enumerate() {
        let payload = &frame[42..];
        assert_eq!(
            OumRepr::parse_bytes(payload).unwrap(),
            OumRepr::Sequenced(Stamp::new(42, i as u64 + 1))
        );
        assert_eq!(&frame[40..42], &[0, 0], "UDP checksum cleared");
        assert_eq!(
            header.ts_sec,
            1_700_000_000 + 2 * i as u32,
            "timestamps kept"
        );
    }
}

#[test]
fn replay_refuses_a_file_that_is_not_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("cluster.toml");
    std::fs::write(
        &config_path,
        ClusterConfig::local(3, 51000, Ipv4Addr::new(10, 0, 0, 100)).to_toml(),
    )
    .unwrap();
    let input = dir.path().join("in.pcap");
    std::fs::write(&input, b"\x0a\x0d\x0d\x0a pcapng, not pcap").unwrap();
    let out = Command::new(BIN)
        .args(["replay", "--config"])
        .arg(&config_path)
        .arg("--in")
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("out.pcap"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in.pcap"), "{err}");
}
