//! The C programs of cavium/ built with its Makefile: the test program under AddressSanitizer
//! and UBSan (golden vectors, every truncation, random frames, threads), and the host pcap
//! driver against the Rust core on the same capture. The MIPS64 (qemu) run is `make -C cavium
//! test` in scripts/test.sh.

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Rng, request, with_ipv4_trailer};
use dataplane::oum::{
    AUTH_TAG_LEN, GroupId, GroupSpec, Sequencer, SessionNumber, StampKey, Verdict,
};
use dataplane::pcap::{LINKTYPE_ETHERNET, PcapReader, PcapWriter, RecordHeader};

fn cavium_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `make -C cavium BUILD=<tmp>/<name> targets...`; panics with its output on failure.
fn make(name: &str, targets: &[&str]) -> (PathBuf, String) {
    let build = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cavium")
        .join(name);
    let out = Command::new("make")
        .arg("-C")
        .arg(cavium_dir())
        .arg(format!("BUILD={}", build.display()))
        .args(targets)
        .output()
        .expect("cannot run make (install build-essential)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "make {targets:?} failed:\n{text}");
    (build, text)
}

#[test]
fn c_test_program_passes_under_asan_and_ubsan() {
    let (_, text) = make("asan", &["asan-test"]);
    let summary = text
        .lines()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    assert!(summary.ends_with(" 0 failed"), "{summary}");
    let passed: u32 = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 200, "only {passed} checks ran:\n{text}");
    assert!(text.contains("golden vectors: 33 cases"), "{text}");
}

fn write_be_micros_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    header.extend_from_slice(&2u16.to_be_bytes());
    header.extend_from_slice(&4u16.to_be_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65535u32.to_be_bytes());
    header.extend_from_slice(&LINKTYPE_ETHERNET.to_be_bytes());
    f.write_all(&header).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let mut rec = Vec::new();
        rec.extend_from_slice(&(1_700_000_000u32 + i as u32).to_be_bytes());
        rec.extend_from_slice(&(i as u32 * 7).to_be_bytes()); // microseconds
        rec.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        rec.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        f.write_all(&rec).unwrap();
        f.write_all(frame).unwrap();
    }
}

fn read_pcap(path: &Path) -> Vec<(RecordHeader, Vec<u8>)> {
    let mut reader = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    assert_eq!(reader.link_type(), LINKTYPE_ETHERNET);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(h) = reader.next_record(&mut buf).unwrap() {
        out.push((h, buf.clone()));
    }
    out
}

#[test]
fn pcap_driver_matches_the_rust_core() {
    let (build, _) = make("driver", &["host"]);
    let driver = build.join("host/oum-pcap-seq");
    let specs = vec![
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100),
            members: vec![0, 1, 2],
        },
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 101),
            members: vec![3],
        },
    ];
    // Requests to both groups, other traffic and damaged frames, in a seeded mix.
    let mut rng = Rng(common::seed(99));
    let frames: Vec<Vec<u8>> = (0..500)
        .map(|_| {
            let dst = Ipv4Addr::new(10, 0, 0, 100 + rng.below(3) as u8);
            let port = if rng.below(6) == 0 { 53 } else { 22222 };
            let mut f = request(dst, port, 5 + rng.below(3) as u8, &[rng.byte(); 20]);
            if rng.below(8) == 0 {
                let at = rng.below(f.len() as u64) as usize;
                f[at] ^= 0x40;
            }
            f
        })
        .collect();
    let mut rust = Sequencer::new(SessionNumber(42), 22222, &specs).unwrap();
    let mut stamped = Vec::new();
    let mut forwarded_or_stamped = Vec::new();
    for f in &frames {
        let mut copy = f.clone();
        match rust.stamp_frame(&mut copy) {
            Verdict::Multicast { .. } => {
                stamped.push(copy.clone());
                forwarded_or_stamped.push(copy);
            }
            Verdict::Drop(reason) => {
                if matches!(
                    reason.name(),
                    "not-ipv4" | "ipv4-fragment" | "not-udp" | "not-oum-port"
                ) {
                    forwarded_or_stamped.push(copy);
                }
            }
        }
    }
    assert!(stamped.len() > 200 && forwarded_or_stamped.len() > stamped.len());

    let dir = build.join("pcap");
    std::fs::create_dir_all(&dir).unwrap();
    // Input 1: little-endian, nanoseconds (dataplane's writer).
    let le = dir.join("in-le.pcap");
    let mut w = PcapWriter::new(
        std::fs::File::create(&le).unwrap(),
        LINKTYPE_ETHERNET,
        65535,
    )
    .unwrap();
    for (i, f) in frames.iter().enumerate() {
        let h = RecordHeader {
            ts_sec: 1_700_000_000 + i as u32,
            ts_nanos: i as u32 * 7000,
            orig_len: f.len() as u32,
        };
        w.write_record(h, f).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    // Input 2: big-endian, microseconds (written by hand).
    let be = dir.join("in-be.pcap");
    write_be_micros_pcap(&be, &frames);

    for (input, forward, want) in [
        (&le, false, &stamped),
        (&be, false, &stamped),
        (&le, true, &forwarded_or_stamped),
    ] {
        let out = dir.join("out.pcap");
        let mut cmd = Command::new(&driver);
        cmd.args([
            "--session",
            "42",
            "--group",
            "10.0.0.100=0,1,2",
            "--group",
            "10.0.0.101=3",
        ]);
        if forward {
            cmd.arg("--forward-other");
        }
        let res = cmd.arg(input).arg(&out).output().unwrap();
        let stdout = String::from_utf8_lossy(&res.stdout).into_owned();
        assert!(
            res.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "{} frames read, {} written",
                frames.len(),
                want.len()
            )),
            "{stdout}"
        );
        let got = read_pcap(&out);
        assert_eq!(got.len(), want.len());
        for (i, ((h, bytes), w)) in got.iter().zip(want.iter()).enumerate() {
            assert_eq!(bytes, w, "record {i} of {}", input.display());
            assert_eq!(h.orig_len as usize, w.len());
        }
        // Timestamps survive either input resolution.
        assert_eq!(got[0].0.ts_sec / 1000, 1_700_000);
    }

    // Bad arguments and files are refused with the documented exit codes.
    let status = |args: &[&str]| {
        Command::new(&driver)
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        status(&["--group", "10.0.0.1=1", "a", "b"]),
        Some(2),
        "no --session"
    );
    assert_eq!(
        status(&[
            "--session",
            "1",
            "--group",
            "10.0.0.1=1",
            "--group",
            "10.0.0.1=2",
            le.to_str().unwrap(),
            "x"
        ]),
        Some(2)
    );
    let not_pcap = dir.join("not.pcap");
    std::fs::write(&not_pcap, b"definitely not a capture file").unwrap();
    let out = dir.join("o.pcap");
    assert_eq!(
        status(&[
            "--session",
            "1",
            "--group",
            "10.0.0.1=1",
            not_pcap.to_str().unwrap(),
            out.to_str().unwrap()
        ]),
        Some(1)
    );
}

#[test]
fn pcap_driver_seals_keyed_groups() {
    let (build, _) = make("driver-auth", &["host"]);
    let driver = build.join("host/oum-pcap-seq");
    let specs = vec![
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100),
            members: vec![0, 1, 2],
        },
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 101),
            members: vec![3],
        },
    ];
    let key: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5c);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut rng = Rng(common::seed(0x4a7));
    let frames: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let dst = Ipv4Addr::new(10, 0, 0, 100 + rng.below(2) as u8);
            let body: Vec<u8> = (0..rng.below(200)).map(|_| rng.byte()).collect();
            let mut f = request(dst, 22222, 5 + rng.below(2) as u8, &body);
            // Ethernet padding or an IPv4 trailer now and then: the tag replaces either.
            match rng.below(6) {
                0 => f.extend(std::iter::repeat_n(0, rng.below(12) as usize)),
                1 => {
                    let trailer: Vec<u8> = (0..1 + rng.below(12)).map(|_| rng.byte()).collect();
                    f = with_ipv4_trailer(f, &trailer);
                }
                _ => {}
            }
            f
        })
        .collect();
    // The Rust core with group 0 keyed, as the DPDK sequencer runs it: stamped with the 8
    // bytes of room the pcap driver gives every frame, then sealed.
    let mut rust = Sequencer::new(SessionNumber(5), 22222, &specs).unwrap();
    assert!(rust.set_key(GroupId(0), Some(StampKey::new(key))));
    let want: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut copy = f.clone();
            copy.resize(f.len() + AUTH_TAG_LEN, 0);
            match rust.stamp_frame_in(&mut copy[..f.len()], AUTH_TAG_LEN) {
                Some(Verdict::Multicast { group, .. }) if rust.seals(group) => {
                    let len = rust.seal_frame(group, &mut copy).unwrap();
                    copy.truncate(len);
                    copy
                }
                Some(Verdict::Multicast { .. }) => {
                    copy.truncate(f.len());
                    copy
                }
                other => panic!("not stamped: {other:?}"),
            }
        })
        .collect();

    let dir = build.join("pcap-auth");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.pcap");
    write_be_micros_pcap(&input, &frames);
    let out = dir.join("out.pcap");
    let auth = format!("10.0.0.100={hex}");
    let res = Command::new(&driver)
        .args([
            "--auth-key",
            &auth,
            "--session",
            "5",
            "--group",
            "10.0.0.100=0,1,2",
        ])
        .args(["--group", "10.0.0.101=3"])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout).into_owned();
    assert!(
        res.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let got = read_pcap(&out);
    assert_eq!(got.len(), want.len());
    for (i, ((h, bytes), w)) in got.iter().zip(want.iter()).enumerate() {
        assert_eq!(bytes, w, "record {i}");
        assert_eq!(h.orig_len as usize, w.len(), "record {i}: original length");
    }

    // A bad key is refused (exit 2) with a message that names the option, not the key.
    let short = format!("0={}", &hex[..31]);
    let res = Command::new(&driver)
        .args([
            "--session",
            "5",
            "--group",
            "10.0.0.100=0",
            "--auth-key",
            &short,
        ])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--auth-key") && stderr.contains("32 hex digits"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&hex[..31]),
        "the key was printed: {stderr}"
    );
}
