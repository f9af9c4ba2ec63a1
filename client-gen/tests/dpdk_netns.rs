//! The whole system on DPDK across network namespaces: a sequencer and three NOPaxos
//! replicas, each a DPDK process on `net_af_packet` over its own veth end, joined by a
//! Linux bridge in a namespace of its own. Three runs, each on a fresh cluster (so each
//! client history is checked against an empty store):
//! 1. `client-gen run --dpdk`, closed loop, in a namespace of its own;
//! 2. the same, open loop (Poisson arrivals);
//! 3. a kernel-UDP `client-gen` with an address in its namespace; 3 s in, the leader is
//!    killed (SIGKILL by PID); the client must finish with requests answered after the
//!    view change.
//!
//! Every history must be linearizable. Needs root (and DPDK); without root it prints
//! "skipped: needs root". Only namespaces, links and processes this test creates are
//! touched, by name and by PID, and they are removed at the end even when the test fails
//! (drop guards). About 16 s.
#![cfg(feature = "dpdk")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use client_gen::report::RunSummary;
use dataplane::io::dpdk::eal::running_as_root as is_root;

/// The workspace's binaries, built with DPDK (a narrower `cargo test` may have left the
/// sequencer and the replica out, or built them without the feature).
fn bin_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_client-gen"));
    let dir = exe.parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "sequencer-dpdk",
        "-p",
        "replica",
        "--features",
        "sequencer-dpdk/dpdk,replica/dpdk",
    ]);
    if dir.ends_with("release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().unwrap().success(), "building the binaries");
    dir
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Network namespaces this test created; deleting them deletes their veths and bridge.
struct Namespaces(Vec<String>);

impl Namespaces {
    fn add(&mut self, name: String) -> String {
        sh(&["ip", "netns", "add", &name]);
        self.0.push(name.clone());
        // No IPv6 chatter (router solicitations, DAD) on the links.
        sh(&[
            "ip",
            "netns",
            "exec",
            &name,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        name
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.0.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Processes this test started; whatever is still running at the end is killed by PID.
#[derive(Default)]
struct Children(Vec<Proc>);

struct Proc {
    name: String,
    child: Child,
    /// Waited for (or killed) on purpose: its exit is no surprise.
    done: bool,
}

impl Children {
    fn spawn(&mut self, name: &str, mut cmd: Command, log: &Path) -> u32 {
        let out = fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        let pid = child.id();
        self.0.push(Proc {
            name: name.to_string(),
            child,
            done: false,
        });
        pid
    }

    fn find(&mut self, name: &str) -> Option<&mut Proc> {
        self.0.iter_mut().find(|p| p.name == name)
    }

    fn running(&mut self, name: &str) -> bool {
        self.find(name)
            .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)))
    }

    /// The name of a child that exited without being waited for or killed, if any.
    fn exited(&mut self) -> Option<String> {
        self.0.iter_mut().find_map(|p| {
            (!p.done && matches!(p.child.try_wait(), Ok(Some(_)))).then(|| p.name.clone())
        })
    }

    /// Sends `signal` to the child's PID (SIGKILL marks it as expected to end).
    fn signal(&mut self, name: &str, signal: i32) {
        if let Some(p) = self.find(name) {
            if let Ok(None) = p.child.try_wait() {
                // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
                unsafe { libc::kill(p.child.id() as i32, signal) };
            }
            p.done |= signal == libc::SIGKILL;
        }
    }

    /// Waits up to `timeout` for `name` to exit; kills it if it did not.
    fn wait(&mut self, name: &str, timeout: Duration) -> Option<std::process::ExitStatus> {
        let p = self.find(name)?;
        p.done = true;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = p.child.kill();
        let _ = p.child.wait();
        None
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for p in &mut self.0 {
            if let Ok(None) = p.child.try_wait() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

/// Waits until `log` contains `text`; panics with the logs after `timeout` or as soon as
/// one of the children has exited.
fn wait_for(children: &mut Children, log: &Path, text: &str, timeout: Duration, logs: &[PathBuf]) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if fs::read_to_string(log).is_ok_and(|s| s.contains(text)) {
            return;
        }
        if let Some(name) = children.exited() {
            panic!("{name} exited early\n{}", dump(logs));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never said {text:?}\n{}", log.display(), dump(logs));
}

fn dump(logs: &[PathBuf]) -> String {
    logs.iter()
        .map(|p| {
            format!(
                "---- {}\n{}",
                p.display(),
                fs::read_to_string(p).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const SUBNET: &str = "10.77.0";
const GROUP: &str = "10.77.0.100";
const CLIENT: &str = "10.77.0.50";
const DPDK_CLIENT: &str = "10.77.0.60:40000";

/// The sequencer's veth MAC, which net_af_packet takes as the port's: the config lists it
/// in `[sequencer] macs`, so every stamp the replicas execute passed their MAC check.
const SEQUENCER_MAC: &str = "02:77:00:00:00:01";

fn replica_mac(i: usize) -> String {
    format!("02:77:00:00:00:{:02x}", 0x11 + i)
}

#[test]
fn nopaxos_on_dpdk_across_namespaces_serves_dpdk_and_kernel_clients_and_survives_a_leader_kill() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        println!("skipped: needs the ip command (iproute2)");
        return;
    }
    let bins = bin_dir();
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();

    // Namespaces: one for the bridge, one per node. Declared before the children so the
    // processes are gone before their links are.
    let mut spaces = Namespaces(Vec::new());
    let bridge = spaces.add(format!("npdk{pid}br"));
    sh(&["ip", "-n", &bridge, "link", "add", "br0", "type", "bridge"]);
    sh(&[
        "ip", "-n", &bridge, "link", "set", "br0", "mtu", "9000", "up",
    ]);
    let nodes = ["seq", "r0", "r1", "r2", "cl", "dc"];
    let macs = [
        SEQUENCER_MAC.to_string(),
        replica_mac(0),
        replica_mac(1),
        replica_mac(2),
        "02:77:00:00:00:50".to_string(),
        "02:77:00:00:00:60".to_string(),
    ];
    let mut ns = Vec::new();
    for (node, mac) in nodes.iter().zip(&macs) {
        let name = spaces.add(format!("npdk{pid}{node}"));
        let port = format!("p{node}");
        sh(&[
            "ip", "-n", &bridge, "link", "add", &port, "mtu", "9000", "type", "veth", "peer",
            "name", "eth0", "netns", &name,
        ]);
        sh(&[
            "ip", "-n", &bridge, "link", "set", &port, "master", "br0", "up",
        ]);
        sh(&[
            "ip", "-n", &name, "link", "set", "eth0", "address", mac, "mtu", "9000", "up",
        ]);
        ns.push(name);
    }
    // Only the client's end has a kernel address; the DPDK processes own theirs.
    sh(&[
        "ip",
        "-n",
        &ns[4],
        "addr",
        "add",
        &format!("{CLIENT}/24"),
        "dev",
        "eth0",
    ]);

    let config = dir.path().join("cluster.toml");
    let mut text = format!(
        "f = 1\n[sequencer]\nstate_file = \"session\"\nkind = \"dpdk\"\nmacs = [\"{SEQUENCER_MAC}\"]\n[timeouts]\nsync_period_ms = 300\nleader_timeout_ms = 1000\n\
         [[group]]\nname = \"kv\"\naddress = \"{GROUP}\"\n"
    );
    for i in 0..3 {
        text.push_str(&format!(
            "[[replica]]\naddress = \"{SUBNET}.{}:51000\"\nmac = \"{}\"\n",
            11 + i,
            replica_mac(i)
        ));
    }
    fs::write(&config, text).unwrap();

    // Two cores on CI: the sequencer (which always spins) gets lcore 0, the replicas
    // lcore 1 and sleep when idle.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let replica_core = if cores > 1 { "1" } else { "0" };
    // net_af_packet copies each frame into one mbuf, so its frame size must fit the
    // pool's: the sequencer's 2048-byte mbufs take the default frames (requests are small),
    // the replicas' 12 KiB ones jumbo frames (chunked view-change and state-transfer
    // messages). The PMD expects frames back to back: blocksz a multiple of framesz.
    let eal = |core: &str, jumbo: bool| -> Vec<String> {
        let vdev = if jumbo {
            "--vdev=net_af_packet0,iface=eth0,blocksz=12288,framesz=12288,framecnt=256"
        } else {
            "--vdev=net_af_packet0,iface=eth0"
        };
        [
            "--no-huge",
            "-m",
            "256",
            "--no-pci",
            "--no-shconf",
            "--no-telemetry",
            "-l",
            core,
            vdev,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let in_ns = |space: &str, bin: &str| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", space]).arg(bins.join(bin));
        c
    };
    let mut children = Children::default();
    let log = |name: &str| dir.path().join(format!("{name}.log"));

    // A fresh cluster per client run (each run's history is checked against an empty
    // store): the sequencer takes the next session from its state file each time.
    let start_cluster = |children: &mut Children, generation: usize| -> Vec<PathBuf> {
        let logs: Vec<PathBuf> = nodes[..4]
            .iter()
            .map(|n| log(&format!("{n}-{generation}")))
            .collect();
        let mut seq = in_ns(&ns[0], "sequencer");
        seq.arg("--dpdk")
            .arg("--config")
            .arg(&config)
            .args(["--session", &(generation + 1).to_string(), "--"])
            .args(eal("0", false));
        children.spawn(&format!("seq-{generation}"), seq, &logs[0]);
        for i in 0..3 {
            let mut r = in_ns(&ns[1 + i], "replica");
            r.arg("--dpdk")
                .arg("--config")
                .arg(&config)
                .args([
                    "--index",
                    &i.to_string(),
                    "--mode",
                    "nopaxos",
                    "--idle-sleep",
                ])
                .arg("--")
                .args(eal(replica_core, true));
            children.spawn(&format!("r{i}-{generation}"), r, &logs[1 + i]);
        }
        wait_for(
            children,
            &logs[0],
            &format!(
                "sequencer: session {} on DPDK port 0 (net_af_packet",
                generation + 1
            ),
            Duration::from_secs(20),
            &logs,
        );
        for i in 0..3 {
            wait_for(
                children,
                &logs[1 + i],
                &format!(
                    "replica {i} serving Nopaxos on {SUBNET}.{}:51000 over DPDK port 0 \
                     (net_af_packet",
                    11 + i
                ),
                Duration::from_secs(20),
                &logs,
            );
            wait_for(
                children,
                &logs[1 + i],
                &format!("stamps only from MAC {SEQUENCER_MAC}"),
                Duration::from_secs(1),
                &logs,
            );
        }
        logs
    };
    // SIGTERM to the cluster's live processes; true if all stopped cleanly.
    let stop_cluster = |children: &mut Children, generation: usize| -> bool {
        let names: Vec<String> = ["r0", "r1", "r2", "seq"]
            .iter()
            .map(|n| format!("{n}-{generation}"))
            .filter(|n| children.running(n))
            .collect();
        for name in &names {
            children.signal(name, libc::SIGTERM);
        }
        let mut clean = true;
        for name in &names {
            clean &= children
                .wait(name, Duration::from_secs(10))
                .is_some_and(|s| s.success());
        }
        clean
    };

    // 1, 2. client-gen on DPDK in its own namespace (no kernel address there): a
    // closed-loop run, then an open-loop one (Poisson arrivals, issued in bursts), each its
    // own process and EAL, each history checked.
    for (generation, (run, load)) in [
        ("closed", &["--clients", "4"][..]),
        ("open", &["--clients", "16", "--rate", "poisson:2000"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let logs = start_cluster(&mut children, generation);
        let mut dc = in_ns(&ns[5], "client-gen");
        dc.arg("run")
            .arg("--config")
            .arg(&config)
            .args(["--protocol", "nopaxos", "--dpdk", "--bind", DPDK_CLIENT])
            .args(load)
            .args([
                "--duration",
                "2.5",
                "--warmup",
                "0.5",
                "--cooldown",
                "0.5",
                "--check",
                "--quiet",
                "--",
            ])
            .args(eal(replica_core, false));
        let name = format!("dc-{run}");
        let out_path = log(&name);
        children.spawn(&name, dc, &out_path);
        let status = children.wait(&name, Duration::from_secs(30));
        let clean = stop_cluster(&mut children, generation);
        let out = fs::read_to_string(&out_path).unwrap();
        assert!(
            status.is_some_and(|s| s.success()),
            "client-gen on DPDK ({run} loop) failed:\n{out}\n{}",
            dump(&logs)
        );
        assert!(clean, "the cluster did not stop cleanly:\n{}", dump(&logs));
        assert!(out.contains(": linearizable"), "{out}");
        assert!(out.contains("DPDK: dpdk: rx="), "{out}");
        let ops: u64 = out
            .split_once("nopaxos: ")
            .and_then(|(_, rest)| rest.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(0);
        assert!(ops > 100, "{run} loop: {ops} operations:\n{out}");
        println!("---- {run}-loop client-gen on DPDK\n{out}");
    }

    // 3. A kernel-UDP client-gen; the leader is killed 3 s in.
    let generation = 2;
    let logs = start_cluster(&mut children, generation);
    let json = dir.path().join("summary.json");
    let client_log = log("cl");
    let mut client = in_ns(&ns[4], "client-gen");
    client
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args([
            "--protocol",
            "nopaxos",
            "--bind",
            &format!("{CLIENT}:40000"),
            "--clients",
            "4",
            "--duration",
            "8",
            "--warmup",
            "0.5",
            "--cooldown",
            "0.5",
            "--interval-ms",
            "500",
            "--check",
            "--quiet",
            "--json",
        ])
        .arg(&json);
    let started = Instant::now();
    children.spawn("cl", client, &client_log);
    let kill_at = Duration::from_secs(3);
    std::thread::sleep(kill_at);
    children.signal(&format!("r0-{generation}"), libc::SIGKILL);
    let status = children.wait("cl", Duration::from_secs(40));
    let client_secs = started.elapsed().as_secs_f64();
    // Stop the rest gracefully so they print their counters.
    let clean = stop_cluster(&mut children, generation);
    let mut all_logs = logs.clone();
    all_logs.push(client_log.clone());
    let all = dump(&all_logs);
    println!("{all}");
    assert!(
        status.is_some_and(|s| s.success()),
        "the client failed or hung ({client_secs:.1} s):\n{all}"
    );
    assert!(clean, "a survivor did not stop cleanly on SIGTERM");
    let client_out = fs::read_to_string(&client_log).unwrap();
    assert!(
        client_out.contains(": linearizable"),
        "no linearizable verdict:\n{client_out}"
    );
    let summary: RunSummary = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert!(summary.ops > 50, "too few operations: {}", summary.ops);
    // Requests were answered before the kill and again after the view change.
    let answered_after = |t: f64| {
        summary
            .timeline
            .iter()
            .any(|p| p.t_s >= t && p.ops_per_s > 0.0)
    };
    assert!(answered_after(0.5), "{:?}", summary.timeline);
    assert!(
        answered_after(kill_at.as_secs_f64() + 1.0),
        "nothing answered after the leader was killed: {:?}",
        summary.timeline
    );
    // The survivors changed view and one of them leads; the sequencer answered ARP.
    let r1 = fs::read_to_string(&logs[2]).unwrap();
    let r2 = fs::read_to_string(&logs[3]).unwrap();
    assert!(
        r1.contains("leader=true") || r2.contains("leader=true"),
        "no new leader:\n{all}"
    );
    assert!(!r1.contains("view_changes=0 "), "{r1}");
    assert!(r1.contains(" dpdk: rx="), "{r1}");
    let seq_out = fs::read_to_string(&logs[0]).unwrap();
    assert!(seq_out.contains("arp-replies"), "{seq_out}");
}
