//! Runs switch commands through bmv2's `simple_switch` in pcap-file mode (`--use-files`,
//! no root, no interfaces), as p4c's STF harness does, and compares what comes out of every
//! port with what the commands expect.
//!
//! Every port that frames enter on is a FIFO; the other ports get empty input files. bmv2
//! reads its inputs in timestamp order across all ports, so with one input port each frame
//! is read as it is written and table writes (`simple_switch_CLI`) and frames happen in the
//! commands' order (the live run); with several, bmv2 reads nothing until every input is
//! closed, so all table writes must come first (an STF test file). Output is read from the
//! `*_out.pcap` files after the switch is stopped with SIGTERM.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dataplane::pcap::{LINKTYPE_ETHERNET, MAX_RECORD_LEN, PcapWriter, RecordHeader};

use crate::cmd::Cmd;

/// An executable named by `env_var`, else found on PATH as `name`.
pub fn find_tool(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The bmv2 tools: `P4C_BM2_SS`, `SIMPLE_SWITCH` (and `SIMPLE_SWITCH_CLI`, else the CLI next
/// to simple_switch, else on PATH).
#[derive(Debug, Clone)]
pub struct Bmv2Tools {
    pub p4c: PathBuf,
    pub simple_switch: PathBuf,
    pub cli: PathBuf,
}

impl Bmv2Tools {
    pub fn find() -> Option<Bmv2Tools> {
        let p4c = find_tool("P4C_BM2_SS", "p4c-bm2-ss")?;
        let simple_switch = find_tool("SIMPLE_SWITCH", "simple_switch")?;
        let sibling = simple_switch.with_file_name("simple_switch_CLI");
        let cli = if std::env::var_os("SIMPLE_SWITCH_CLI").is_none() && sibling.is_file() {
            sibling
        } else {
            find_tool("SIMPLE_SWITCH_CLI", "simple_switch_CLI")?
        };
        Some(Bmv2Tools {
            p4c,
            simple_switch,
            cli,
        })
    }
}

/// The repository's p4/ folder.
pub fn p4_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compiles p4/nopaxos.p4 with p4c-bm2-ss into `out_dir/nopaxos.json`.
pub fn compile(p4c: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let json = out_dir.join("nopaxos.json");
    let output = Command::new(p4c)
        .arg(p4_dir().join("nopaxos.p4"))
        .arg("-o")
        .arg(&json)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", p4c.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}{}",
            p4c.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(json)
}

/// Frames per port, in order, each with a label saying which command expected it.
pub type PortFrames = BTreeMap<u16, Vec<(String, Vec<u8>)>>;

/// What the commands expect out of each port (the label is the latest comment).
pub fn expected_outputs(cmds: &[Cmd]) -> PortFrames {
    let mut out = PortFrames::new();
    let mut label = String::new();
    for cmd in cmds {
        match cmd {
            Cmd::Comment(text) if text.starts_with("case ") || text.starts_with("step ") => {
                if text.starts_with("case ") {
                    label = text.split(':').next().unwrap_or_default().to_string();
                } else {
                    let case = label.split(" / ").next().unwrap_or_default().to_string();
                    label = format!("{case} / {text}");
                }
            }
            Cmd::Expect { port, bytes } => {
                out.entry(*port)
                    .or_default()
                    .push((label.clone(), bytes.clone()));
            }
            _ => {}
        }
    }
    out
}

/// Every difference between expected and actual output, one line each.
pub fn compare(expected: &PortFrames, got: &BTreeMap<u16, Vec<Vec<u8>>>) -> Vec<String> {
    let mut problems = Vec::new();
    let ports: std::collections::BTreeSet<u16> =
        expected.keys().chain(got.keys()).copied().collect();
    let none = Vec::new();
    let none_got = Vec::new();
    for port in ports {
        let want = expected.get(&port).unwrap_or(&none);
        let have = got.get(&port).unwrap_or(&none_got);
        for i in 0..want.len().max(have.len()) {
            match (want.get(i), have.get(i)) {
                (Some((label, w)), Some(h)) if w != h => problems.push(format!(
                    "port {port} frame {i} ({label}): bytes differ\n  expected {}\n  got      {}",
                    dataplane::golden::encode_hex(w),
                    dataplane::golden::encode_hex(h)
                )),
                (Some((label, _)), None) => {
                    problems.push(format!("port {port} frame {i} ({label}): missing"));
                }
                (None, Some(h)) => problems.push(format!(
                    "port {port} frame {i}: unexpected frame {}",
                    dataplane::golden::encode_hex(h)
                )),
                _ => {}
            }
        }
    }
    problems
}

struct Switch {
    child: Child,
}

impl Drop for Switch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free TCP port: {e}"))
}

fn empty_pcap(path: &Path) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = PcapWriter::new(file, LINKTYPE_ETHERNET, MAX_RECORD_LEN)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    w.flush().map_err(|e| format!("{}: {e}", path.display()))
}

fn run_cli(cli: &Path, thrift_port: u16, lines: &[String], dir: &Path) -> Result<(), String> {
    let mut child = Command::new(cli)
        .arg("--thrift-port")
        .arg(thrift_port.to_string())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    {
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        for line in lines {
            writeln!(stdin, "{line}").map_err(|e| format!("CLI stdin: {e}"))?;
        }
    }
    let output = child.wait_with_output().map_err(|e| format!("CLI: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let failed = text.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("error") || l.contains("invalid") || l.contains("exception")
    });
    if !output.status.success() || failed {
        return Err(format!(
            "simple_switch_CLI failed on\n{}\n---\n{text}",
            lines.join("\n")
        ));
    }
    Ok(())
}

/// Opens the FIFO at `path` for writing; this blocks until the switch opens it for reading,
/// so it runs on its own thread and the caller watches the switch meanwhile.
fn open_fifo(path: &Path) -> mpsc::Receiver<std::io::Result<File>> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::OpenOptions::new().write(true).open(&path));
    });
    rx
}

/// How many frames the `*_out.pcap` files of `ports` hold so far (a record still being
/// written does not count).
fn frames_out(dir: &Path, ports: &[u16]) -> usize {
    ports
        .iter()
        .filter_map(|p| std::fs::read(dir.join(format!("pcap{p}_out.pcap"))).ok())
        .map(|data| read_pcap_frames(&data).map_or(0, |f| f.len()))
        .sum()
}

/// Runs `cmds` through a fresh simple_switch loaded with `json`, in `dir`; returns the frames
/// that left each port in `ports`. Frames enter on the ports their `Packet` commands name.
pub fn run(
    tools: &Bmv2Tools,
    json: &Path,
    cmds: &[Cmd],
    ports: &[u16],
    dir: &Path,
) -> Result<BTreeMap<u16, Vec<Vec<u8>>>, String> {
    let inputs: std::collections::BTreeSet<u16> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::Packet { port, .. } => Some(*port),
            _ => None,
        })
        .collect();
    if let Some(p) = inputs.iter().find(|p| !ports.contains(p)) {
        return Err(format!(
            "a frame enters on port {p}, which is not among {ports:?}"
        ));
    }
    if inputs.len() > 1 {
        let first_packet = cmds.iter().position(|c| matches!(c, Cmd::Packet { .. }));
        let last_cli = cmds.iter().rposition(Cmd::is_cli);
        if let (Some(f), Some(l)) = (first_packet, last_cli)
            && l > f
        {
            return Err(
                "frames enter on several ports, so bmv2 reads none until all are sent: every \
                 table write must come before the first frame"
                    .to_string(),
            );
        }
    }
    for &p in ports {
        let path = dir.join(format!("pcap{p}_in.pcap"));
        if inputs.contains(&p) {
            let status = Command::new("mkfifo")
                .arg(&path)
                .status()
                .map_err(|e| format!("mkfifo: {e}"))?;
            if !status.success() {
                return Err(format!("mkfifo {} failed", path.display()));
            }
        } else {
            empty_pcap(&path)?;
        }
    }
    let thrift_port = free_port()?;
    let mut args = vec![
        "--use-files".to_string(),
        "0".to_string(),
        "--thrift-port".to_string(),
        thrift_port.to_string(),
        "--log-file".to_string(),
        "switch".to_string(),
        "--log-flush".to_string(),
    ];
    for p in ports {
        args.push("-i".to_string());
        args.push(format!("{p}@pcap{p}"));
    }
    args.push(json.display().to_string());
    let child = Command::new(&tools.simple_switch)
        .args(&args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("switch.stderr")).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", tools.simple_switch.display()))?;
    let mut switch = Switch { child };

    // The switch opens its inputs one after another, in port order.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut writers = BTreeMap::new();
    for &p in &inputs {
        let path = dir.join(format!("pcap{p}_in.pcap"));
        let rx = open_fifo(&path);
        let file = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(f) => break f.map_err(|e| format!("{}: {e}", path.display()))?,
                Err(_) => {
                    if let Ok(Some(status)) = switch.child.try_wait() {
                        return Err(format!("simple_switch exited early: {status}"));
                    }
                    if Instant::now() > deadline {
                        return Err("simple_switch did not open its inputs".to_string());
                    }
                }
            }
        };
        let mut writer = PcapWriter::new(file, LINKTYPE_ETHERNET, MAX_RECORD_LEN)
            .map_err(|e| format!("pcap: {e}"))?;
        writer.flush().map_err(|e| format!("pcap: {e}"))?;
        writers.insert(p, writer);
    }
    // The thrift server comes up last.
    while TcpStream::connect(("127.0.0.1", thrift_port)).is_err() {
        if let Ok(Some(status)) = switch.child.try_wait() {
            return Err(format!("simple_switch exited early: {status}"));
        }
        if Instant::now() > deadline {
            return Err("simple_switch's thrift server did not come up".to_string());
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut batch: Vec<String> = Vec::new();
    let mut sent_since_cli = false;
    let mut time = 0u32;
    for cmd in cmds {
        if cmd.is_cli() {
            batch.push(cmd.cli().unwrap_or_default());
            continue;
        }
        if let Cmd::Packet { port, bytes } = cmd {
            if !batch.is_empty() {
                if sent_since_cli {
                    // Let the switch finish the frames already sent before changing tables.
                    std::thread::sleep(Duration::from_millis(300));
                }
                run_cli(&tools.cli, thrift_port, &batch, dir)?;
                batch.clear();
            }
            // bmv2 reads across ports in timestamp order: the commands' order.
            time += 1;
            let header = RecordHeader {
                ts_sec: time,
                ts_nanos: 0,
                orig_len: u32::try_from(bytes.len()).map_err(|_| "frame too long")?,
            };
            let writer = writers.get_mut(port).ok_or("no input for a frame's port")?;
            writer
                .write_record(header, bytes)
                .and_then(|()| writer.flush())
                .map_err(|e| format!("writing a frame: {e}"))?;
            sent_since_cli = true;
        }
    }
    if !batch.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
        run_cli(&tools.cli, thrift_port, &batch, dir)?;
    }
    drop(writers);
    // Wait for the frames the commands expect, then a little longer for any unexpected ones.
    let expected: usize = expected_outputs(cmds).values().map(Vec::len).sum();
    let settle = Instant::now() + Duration::from_secs(3);
    while frames_out(dir, ports) < expected && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(switch.child.id().to_string())
        .status();
    let stop = Instant::now() + Duration::from_secs(10);
    while switch
        .child
        .try_wait()
        .map_err(|e| e.to_string())?
        .is_none()
    {
        if Instant::now() > stop {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut got = BTreeMap::new();
    for &p in ports {
        let path = dir.join(format!("pcap{p}_out.pcap"));
        let frames = if path.exists() {
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            read_pcap_frames(&data).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            Vec::new()
        };
        got.insert(p, frames);
    }
    Ok(got)
}

/// The frames of a pcap file as bmv2 writes it. bmv2 writes a snaplen of 0 in the global
/// header, which dataplane's strict reader refuses, so this reads records by their own
/// lengths (either byte order, micro- or nanosecond magic). An empty file has no frames.
pub fn read_pcap_frames(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let magic = data.get(..4).ok_or("truncated global header")?;
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err(format!("not a pcap file (magic {magic:02x?})")),
    };
    let u32_at = |at: usize| -> Result<u32, String> {
        let b: [u8; 4] = data
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("truncated at byte {at}"))?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut at = 24;
    if data.len() < at {
        return Err("truncated global header".to_string());
    }
    let mut frames = Vec::new();
    while at < data.len() {
        let incl = usize::try_from(u32_at(at + 8)?).map_err(|_| "record too long")?;
        let start = at + 16;
        let frame = data
            .get(start..start + incl)
            .ok_or_else(|| format!("record at byte {at} runs past the end"))?;
        frames.push(frame.to_vec());
        at = start + incl;
    }
    Ok(frames)
}
