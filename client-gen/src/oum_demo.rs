//! `client-gen oum-demo`: a sequencer and a replica group (listen mode) as child processes
//! on loopback; a client sends requests through the sequencer, the sequencer is restarted
//! midway (so it must take a new session), and the replicas' ordered streams are compared.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dataplane::config::ClusterConfig;
use dataplane::io::udp::{UdpConfig, UdpIo};
use dataplane::io::{Packet, PacketIo};
use dataplane::wire::{OUM_HEADER_LEN, OumRepr};

use crate::children::ChildProc;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub replicas: usize,
    /// Requests sent in each session.
    pub requests: u64,
    /// Requests per second the client sends.
    pub rate: u64,
    /// Sequencer lifetimes: each restart takes a new session.
    pub sessions: u32,
    /// Where the `sequencer` and `replica` binaries are.
    pub bin_dir: PathBuf,
    /// Keep the working folder (config, session state) instead of removing it.
    pub keep: bool,
}

/// One replica's view of the run, parsed from its output.
#[derive(Debug, Default, Clone)]
struct ReplicaView {
    /// (session, msgnum) -> request index carried in the body.
    messages: BTreeMap<(u16, u64), u64>,
    drops: u64,
    terminations: Vec<String>,
    summary: String,
    out_of_order: Vec<String>,
}

const STARTUP: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(5);

pub fn run(options: &DemoOptions, stop: &AtomicBool) -> Result<String, String> {
    for bin in ["sequencer", "replica"] {
        if !options.bin_dir.join(bin).is_file() {
            return Err(format!(
                "{} not found: build every binary first with `cargo build --release`",
                options.bin_dir.join(bin).display()
            ));
        }
    }
    let work = std::env::temp_dir().join(format!("nopaxos-oum-demo-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = run_in(options, &work, stop);
    if options.keep {
        eprintln!("kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn run_in(options: &DemoOptions, work: &Path, stop: &AtomicBool) -> Result<String, String> {
    let ports = crate::local::free_ports(options.replicas + 1)?;
    let mut config = ClusterConfig::local(options.replicas, 0, Ipv4Addr::new(127, 0, 0, 10));
    for (replica, port) in config.replicas.iter_mut().zip(&ports) {
        replica.address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, *port);
    }
    config.oum.port = ports[options.replicas];
    config.sequencer.state_file = Some(work.join("sequencer-session"));
    let config_path = work.join("cluster.toml");
    std::fs::write(&config_path, config.to_toml())
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    let group = config.group_socket(&config.groups[0]);

    let mut report = String::new();
    let _ = writeln!(
        report,
        "OUM demo: 1 sequencer + {} replicas (listen mode) on loopback, group {group}",
        options.replicas
    );

    let mut replicas = Vec::new();
    for i in 0..options.replicas {
        let mut cmd = Command::new(options.bin_dir.join("replica"));
        cmd.arg("--config").arg(&config_path).args([
            "--index",
            &i.to_string(),
            "--mode",
            "listen",
            "--events",
        ]);
        let mut child = ChildProc::spawn(&format!("replica {i}"), cmd)?;
        child.wait_for_line(|l| l.starts_with("listening"), STARTUP)?;
        replicas.push(child);
    }

    let mut client = UdpIo::bind(
        &[SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)],
        UdpConfig::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut views = vec![ReplicaView::default(); options.replicas];
    let mut next_request = 0u64;
    for round in 0..options.sessions {
        let mut cmd = Command::new(options.bin_dir.join("sequencer"));
        cmd.arg("--config").arg(&config_path);
        if round == 0 {
            cmd.args(["--session", "1"]);
        }
        let mut sequencer = ChildProc::spawn("sequencer", cmd)?;
        let line = sequencer.wait_for_line(|l| l.starts_with("sequencer: session"), STARTUP)?;
        let session: u16 = line
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("unexpected sequencer output: {line}"))?;
        let started = Instant::now();
        let sent = send_requests(&mut client, group, next_request, options, stop)?;
        let elapsed = started.elapsed();
        next_request += sent;
        let _ = writeln!(
            report,
            "session {session}: sent {sent} requests in {:.2} s ({:.0}/s){}",
            elapsed.as_secs_f64(),
            sent as f64 / elapsed.as_secs_f64().max(1e-9),
            if round > 0 {
                " after a sequencer restart"
            } else {
                ""
            }
        );
        settle(&mut replicas, &mut views, (session, sent), stop)?;
        if let Some(death) = replicas.iter_mut().find_map(ChildProc::death) {
            return Err(death);
        }
        let (lines, status) = sequencer.stop(GRACE);
        status?;
        for line in lines {
            let _ = writeln!(report, "  | {line}");
        }
    }

    for (i, child) in replicas.into_iter().enumerate() {
        let (lines, status) = child.stop(GRACE);
        status?;
        absorb(&mut views[i], lines);
    }
    let _ = write!(report, "{}", compare(&views, next_request));
    Ok(report)
}

/// Sends `options.requests` requests, paced to `options.rate`, each carrying its index.
fn send_requests(
    client: &mut UdpIo,
    group: SocketAddrV4,
    first: u64,
    options: &DemoOptions,
    stop: &AtomicBool,
) -> Result<u64, String> {
    const BURST: u64 = 16;
    let interval = Duration::from_secs_f64(BURST as f64 / options.rate.max(1) as f64);
    let start = Instant::now();
    let mut batch = Vec::with_capacity(BURST as usize);
    let mut sent = 0;
    while sent < options.requests {
        if stop.load(Ordering::Relaxed) {
            return Err("interrupted".into());
        }
        for _ in 0..BURST.min(options.requests - sent) {
            let mut buf = client.alloc();
            let area = buf.buffer_mut();
            let _ = OumRepr::Unsequenced.emit(area);
            area[OUM_HEADER_LEN..OUM_HEADER_LEN + 8].copy_from_slice(&(first + sent).to_be_bytes());
            buf.set_len(OUM_HEADER_LEN + 8);
            buf.set_peer(group);
            batch.push(buf);
            sent += 1;
        }
        client
            .send_burst(&mut batch)
            .map_err(|e| format!("client send: {e}"))?;
        let due = start + interval.mul_f64((sent / BURST) as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok(sent)
}

/// Reads the replicas' output until each has accounted for message `last.1` of session
/// `last.0` (delivered or dropped), or nothing new arrived for a second.
fn settle(
    replicas: &mut [ChildProc],
    views: &mut [ReplicaView],
    last: (u16, u64),
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut quiet_since = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err("interrupted".into());
        }
        let mut progress = false;
        for (child, view) in replicas.iter_mut().zip(views.iter_mut()) {
            let lines = child.take_lines();
            progress |= !lines.is_empty();
            absorb(view, lines);
        }
        let done = views
            .iter()
            .all(|v| v.messages.keys().next_back().is_some_and(|&k| k >= last));
        if done {
            return Ok(());
        }
        if progress {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > Duration::from_secs(1) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn absorb(view: &mut ReplicaView, lines: Vec<String>) {
    for line in lines {
        if line.starts_with("message ") {
            let session = field(&line, "session").and_then(|s| s.parse().ok());
            let msgnum = field(&line, "msgnum").and_then(|s| s.parse().ok());
            let body = field(&line, "body").and_then(|s| u64::from_str_radix(s, 16).ok());
            if let (Some(session), Some(msgnum), Some(body)) = (session, msgnum, body) {
                if let Some((&last, _)) = view.messages.iter().next_back() {
                    if (session, msgnum) <= last && session >= last.0 {
                        view.out_of_order.push(line.clone());
                    }
                }
                view.messages.insert((session, msgnum), body);
            }
        } else if line.starts_with("drop ") {
            view.drops += 1;
        } else if line.starts_with("session-terminated") {
            view.terminations.push(line);
        } else if line.starts_with("summary ") {
            view.summary = line;
        }
    }
}

/// The table and the verdicts: same request at the same position everywhere, and the
/// client's send order kept.
fn compare(views: &[ReplicaView], sent: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nreplica  delivered  drops  session changes  digest of the ordered stream"
    );
    for (i, v) in views.iter().enumerate() {
        let digest = field(&v.summary, "digest").unwrap_or("?");
        let _ = writeln!(
            out,
            "{i:<8} {:<10} {:<6} {:<16} {digest}",
            v.messages.len(),
            v.drops,
            v.terminations.len()
        );
    }
    let mut conflicts = 0;
    let mut positions: BTreeMap<(u16, u64), u64> = BTreeMap::new();
    for v in views {
        for (&pos, &body) in &v.messages {
            if *positions.entry(pos).or_insert(body) != body {
                conflicts += 1;
            }
        }
    }
    let order_kept = positions
        .values()
        .zip(positions.values().skip(1))
        .all(|(a, b)| a < b);
    let out_of_order: usize = views.iter().map(|v| v.out_of_order.len()).sum();
    let all_delivered = views.iter().all(|v| v.messages.len() as u64 == sent);
    // Each session's highest message number is how many requests the sequencer stamped in it.
    let mut stamped: BTreeMap<u16, u64> = BTreeMap::new();
    for &(session, msgnum) in positions.keys() {
        let top = stamped.entry(session).or_default();
        *top = (*top).max(msgnum);
    }
    let lost_before_stamping = sent.saturating_sub(stamped.values().sum());
    let drops: u64 = views.iter().map(|v| v.drops).sum();
    let _ = writeln!(
        out,
        "\nsame request at the same (session, message number) on every replica: {}",
        if conflicts == 0 {
            "yes".to_string()
        } else {
            format!("NO ({conflicts} conflicts)")
        }
    );
    let _ = writeln!(
        out,
        "delivered in message-number order, client's send order kept: {}",
        if order_kept && out_of_order == 0 {
            "yes"
        } else {
            "NO"
        }
    );
    let _ = writeln!(
        out,
        "every request reached every replica: {}",
        if all_delivered {
            "yes".to_string()
        } else {
            format!(
                "no ({lost_before_stamping} lost before the sequencer stamped them, {drops} drop \
                 notifications); OUM is unreliable, NOPaxos's clients and gap agreement recover both"
            )
        }
    );
    out
}

/// Whether the comparison found the streams consistent; the demo fails otherwise.
pub fn consistent(report: &str) -> bool {
    !report.contains(": NO")
}
