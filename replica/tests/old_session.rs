//! Issue 13 with the real binaries on loopback: a sequencer whose state file is gone may not
//! start with an old session (the replicas are asked), a sequencer that stamps with one
//! anyway (the check skipped) makes every replica say so loudly, and the replicas' counters
//! name each reason a datagram was ignored.

mod support;
use support::{Proc, bin_dir, counter, loopback_cluster, nopaxos_replica, sequenced_request};

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use dataplane::config::ClusterConfig;
use protocols::app::kv::KvOp;

struct Cluster {
    dir: tempfile::TempDir,
    config: ClusterConfig,
    path: PathBuf,
    replicas: Vec<Proc>,
}

impl Cluster {
    /// Three NOPaxos replicas, running; no sequencer yet.
    fn start(group: Ipv4Addr) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let (config, path) = loopback_cluster(dir.path(), group, |_| {});
        let replicas = (0..3)
            .map(|i| {
                let child = nopaxos_replica(&path, i)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                Proc(child)
            })
            .collect();
        // Bound once they answer a session query; until then, give them a moment.
        sleep(Duration::from_millis(300));
        Cluster {
            dir,
            config,
            path,
            replicas,
        }
    }

    fn sequencer(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin_dir().join("sequencer"));
        cmd.arg("--config").arg(&self.path).args(args);
        cmd
    }

    /// Starts a sequencer and waits for its first stdout line.
    fn serve(&self, args: &[&str], ready: &str) -> Proc {
        use std::io::{BufRead, BufReader};
        let mut child = self
            .sequencer(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains(ready), "{line}");
        Proc(child)
    }

    fn state_file(&self) -> PathBuf {
        self.dir.path().join("session")
    }

    fn group(&self) -> SocketAddrV4 {
        self.config.group_socket(&self.config.groups[0])
    }
}

/// A client request with an unsequenced OUM header, as a client sends it to the group.
fn request(client: u64, n: u64, reply_to: SocketAddrV4) -> Vec<u8> {
    let op = KvOp::Put {
        key: b"k",
        value: &n.to_be_bytes(),
    }
    .to_bytes();
    sequenced_request(client, n, reply_to, &op)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_sequencer_without_its_state_file_may_not_go_back_and_a_flood_is_loud() {
    let c = Cluster::start(Ipv4Addr::new(127, 0, 0, 81));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let std::net::SocketAddr::V4(me) = client.local_addr().unwrap() else {
        unreachable!()
    };

    // Session 5, and a request through it so every replica has seen session 5.
    let first = c.serve(&["--session", "5"], "sequencer: session 5");
    client.send_to(&request(1, 1, me), c.group()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 2048];
    client.recv_from(&mut buf).expect("a reply in session 5");
    drop(first); // SIGKILL: the sequencer's host is gone...
    std::fs::remove_file(c.state_file()).unwrap(); // ...and its state file with it.

    // What a switch failover asks before it writes a session.
    let out = Command::new(bin_dir().join("sequencer"))
        .arg("sessions")
        .arg("--config")
        .arg(&c.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("next session: 6"), "{text}");

    // Older, equal, and half a turn away (which serial order cannot call newer): refused,
    // naming what the replicas said, and no session recorded.
    for old in ["1", "5", "32773"] {
        let out = c.sequencer(&["--session", old]).output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "--session {old} accepted: {err}");
        assert!(
            err.contains(&format!("--session {old} is not newer than session 5"))
                && err.contains("seen by replica")
                && err.contains("Omit --session to take 6"),
            "{err}"
        );
        assert!(!c.state_file().exists());
    }

    // Without --session the replicas' newest decides.
    let mut next = c.sequencer(&[]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(next.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = next.kill();
    let _ = next.wait();
    assert!(line.starts_with("sequencer: session 6 "), "{line}");

    // An operator who skips the question (and lost the file again) gets the old behaviour:
    // every replica drops the stamps, and now says so at once.
    std::fs::remove_file(c.state_file()).unwrap();
    let stale = c.serve(
        &["--session", "2", "--session-query-ms", "0"],
        "sequencer: session 2",
    );
    let until = Instant::now() + Duration::from_millis(2500);
    let mut n = 100;
    while Instant::now() < until {
        n += 1;
        client.send_to(&request(2, n, me), c.group()).unwrap();
        sleep(Duration::from_millis(20));
    }
    drop(stale);
    // Counters by reason: one request straight to replica 1 (never stamped) and garbage.
    let r1 = c.config.replicas[1].address;
    client.send_to(&request(3, 1, me), r1).unwrap();
    client.send_to(b"not a message", r1).unwrap();
    sleep(Duration::from_millis(200));

    let mut replicas = c.replicas;
    let (out1, err1) = replicas.remove(1).stop(libc::SIGINT);
    assert!(
        err1.contains("replica 1: WARN")
            && err1.contains("older than session 5")
            && err1.contains("--session 6 or newer"),
        "no warning: {err1}"
    );
    assert!(counter(&out1, "stale_session") >= 50, "{out1}");
    assert_eq!(counter(&out1, "unstamped"), 1, "{out1}");
    assert_eq!(counter(&out1, "malformed"), 1, "{out1}");
    assert_eq!(counter(&out1, "stranger"), 0, "{out1}");
    assert_eq!(counter(&out1, "duplicate"), 0, "{out1}");
    for r in replicas {
        let (out, err) = r.stop(libc::SIGINT);
        assert!(err.contains(": WARN "), "{err}");
        assert!(counter(&out, "stale_session") >= 50, "{out}");
    }
}
