//! Helpers shared by the tests that run the real binaries on loopback.
//! (Each test uses a part of this kit.)
#![allow(dead_code)]

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::oum::SessionQuery;
use dataplane::wire::{OumPacket, Stamp};
use protocols::codec::Writer;
use protocols::nopaxos::messages::Message;

/// The folder with the workspace's binaries. The sequencer belongs to another package, so
/// `cargo test -p replica` alone does not build it: build it here if it is missing. (Not
/// when it is merely older: the workspace's test run builds it with its own features,
/// DPDK included, and a rebuild here without them would replace that binary.)
pub(crate) fn bin_dir() -> PathBuf {
    let replica = Path::new(env!("CARGO_BIN_EXE_replica"));
    let dir = replica.parent().unwrap().to_path_buf();
    if !dir.join("sequencer").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "sequencer-dpdk"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success());
    }
    dir
}

/// `n` UDP ports free on 127.0.0.1 a moment ago.
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}

/// A child process, killed when dropped (a failed assertion must not leave it running).
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub(crate) fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.0.id()).unwrap();
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Sends `signal` (a replica prints its counters on SIGINT or SIGTERM), waits for the
    /// exit, and returns what it printed on stdout after its first line and on stderr
    /// (each empty unless piped). The output is small, so the pipes never fill first.
    pub(crate) fn stop(mut self, signal: libc::c_int) -> (String, String) {
        self.signal(signal);
        let _ = self.0.wait();
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut out).unwrap();
        }
        if let Some(mut stderr) = self.0.stderr.take() {
            stderr.read_to_string(&mut err).unwrap();
        }
        (out, err)
    }
}

/// Starts `cmd` (stdout piped, stderr inherited unless the caller set it) and waits for its
/// first line, which must contain `ready`. Reads the line byte by byte so nothing printed
/// later is buffered away from [`Proc::stop`].
pub(crate) fn spawn(cmd: &mut Command, ready: &str) -> Proc {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = Vec::new();
    let stdout = child.stdout.as_mut().unwrap();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line);
    assert!(line.contains(ready), "{line}");
    Proc(child)
}

/// A client's socket on loopback (answers awaited for 5 s at most) and its address.
pub(crate) fn client_socket() -> (UdpSocket, SocketAddrV4) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let std::net::SocketAddr::V4(me) = client.local_addr().unwrap() else {
        unreachable!("bound to an IPv4 address")
    };
    (client, me)
}

/// The value of `name=` in the last stats line of a replica's `stdout`.
pub(crate) fn counter(stdout: &str, name: &str) -> u64 {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("stats "))
        .unwrap_or_else(|| panic!("no stats line in {stdout}"));
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

/// A NOPaxos REQUEST for `op` with an unsequenced OUM header, as a client sends it.
pub(crate) fn sequenced_request(client: u64, n: u64, reply_to: SocketAddrV4, op: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut w = Writer::new(&mut buf);
    Message::Request {
        client,
        request: n,
        reply_to,
        op,
    }
    .encode_sequenced(&mut w)
    .unwrap();
    let len = w.len();
    buf.truncate(len);
    buf
}

/// A three-replica cluster file on loopback, written to `dir/cluster.toml`: replicas and the
/// OUM port on free ports, the group address `group`, the session state in `dir`; `adjust`
/// changes the configuration before it is written.
pub(crate) fn loopback_cluster(
    dir: &Path,
    group: Ipv4Addr,
    adjust: impl FnOnce(&mut ClusterConfig),
) -> (ClusterConfig, PathBuf) {
    let ports = free_ports(4);
    let mut config = ClusterConfig::local(3, 0, group);
    for (r, p) in config.replicas.iter_mut().zip(&ports) {
        r.address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, *p);
    }
    config.oum.port = ports[3];
    config.sequencer.state_file = Some(dir.join("session"));
    adjust(&mut config);
    let path = dir.join("cluster.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    (config, path)
}

/// The command that runs replica `index` of the cluster file at `path` as a NOPaxos replica.
pub(crate) fn nopaxos_replica(path: &Path, index: usize) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_replica"));
    cmd.arg("--config")
        .arg(path)
        .args(["--index", &index.to_string(), "--mode", "nopaxos"]);
    cmd
}

/// The `sequencer` binary serving the cluster of the config at `path` from `session`,
/// running once its first line says so.
pub(crate) fn start_sequencer(path: &Path, session: u16, stderr: Stdio) -> Proc {
    spawn(
        Command::new(bin_dir().join("sequencer"))
            .arg("--config")
            .arg(path)
            .args(["--session", &session.to_string()])
            .stderr(stderr),
        &format!("sequencer: session {session}"),
    )
}

/// NOPaxos replicas 0, 1 and 2 of the config at `path`, each answering a session query
/// before this returns; their stdout is piped for the stats lines they print as they exit.
pub(crate) fn nopaxos_replicas_up(config: &ClusterConfig, path: &Path) -> Vec<Proc> {
    let replicas = (0..config.replicas.len())
        .map(|i| {
            let child = nopaxos_replica(path, i)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            Proc(child)
        })
        .collect();
    for r in &config.replicas {
        wait_until_up(r.address);
    }
    replicas
}

/// `request` as a sequencer would leave it: what a forger needs is only the session and the
/// next message number, both easy to learn or guess.
pub(crate) fn forged(request: &[u8], session: u16, msgnum: u64) -> Vec<u8> {
    let mut bytes = request.to_vec();
    OumPacket::new_checked(&mut bytes[..])
        .unwrap()
        .header_mut()
        .stamp(Stamp::new(session, msgnum));
    bytes
}

/// The leader's result for request `n` of `client` (followers reply without one).
pub(crate) fn leader_result(socket: &UdpSocket, client: u64, n: u64) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    loop {
        let (len, _) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no reply from the leader to request {n}: {e}"));
        if let Ok(Message::Reply {
            client: c,
            request,
            result: Some(result),
            ..
        }) = Message::decode(&buf[..len])
        {
            if c == client && request == n {
                return result.to_vec();
            }
        }
    }
}

/// Waits until the replica at `address` answers a session query (its socket is bound and
/// its loop runs), so nothing this test sends is lost to a replica still starting.
pub(crate) fn wait_until_up(address: SocketAddrV4) {
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let query = SessionQuery::Query { nonce: 1 }.to_bytes();
    let mut buf = [0u8; 256];
    for _ in 0..200 {
        probe.send_to(&query, address).unwrap();
        if let Ok(len) = probe.recv(&mut buf) {
            if matches!(
                SessionQuery::parse(&buf[..len]),
                Some(SessionQuery::Answer { .. })
            ) {
                return;
            }
        }
    }
    panic!("replica at {address} never answered a session query");
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
