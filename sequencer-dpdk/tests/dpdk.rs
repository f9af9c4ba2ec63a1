//! The DPDK sequencer on virtual devices. DPDK's EAL initialises once per process, so
//! every scenario runs in a process of its own: each test re-runs this test binary with
//! `NOPAXOS_DPDK_SCENARIO` set to its name, or runs the `sequencer` binary. They need root
//! (and DPDK); without root they print "skipped: needs root" and pass.
#![cfg(feature = "dpdk")]

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use dataplane::golden::{self, CaseConfig, Outcome, SequencerUnderTest};
use dataplane::io::dpdk::eal::{NO_HARDWARE_ARGS as EAL, running_as_root as is_root};
use dataplane::io::dpdk::{FrameDrop, Mbuf};
use dataplane::oum::{DropCounts, DropReason, GroupId, GroupSpec, Sequencer, SessionNumber};
use dataplane::wire::build::{UdpFrameSpec, oum_payload};
use dataplane::wire::{Ipv4Packet, MacAddr, OumRepr};
use sequencer_dpdk::dpdk_engine::{DpdkSequencer, Forwarding};

mod support;
use support::{Rig, in_own_process, member_addr, rig};

const BIN: &str = env!("CARGO_BIN_EXE_sequencer");
/// The DPDK engine as a golden-vector implementation: each frame goes in through the ring
/// port's receive ring and the copies come out of its transmit ring.
struct DpdkSut<'a> {
    rig: &'a Rig,
    copy_threshold: usize,
    engine: Option<DpdkSequencer>,
    config: Option<CaseConfig>,
}

fn drops(engine: &DpdkSequencer) -> DropCounts {
    engine.sequencer().stats().drops
}

impl SequencerUnderTest for DpdkSut<'_> {
    fn configure(&mut self, config: &CaseConfig) -> Result<(), String> {
        let specs: Vec<GroupSpec> = config
            .groups
            .iter()
            .map(|g| GroupSpec {
                address: g.address,
                members: g.members.clone(),
            })
            .collect();
        let mut sequencer = Sequencer::new(SessionNumber(config.session), config.oum_port, &specs)
            .map_err(|e| e.to_string())?;
        for (i, g) in config.groups.iter().enumerate() {
            sequencer.set_last_msgnum(GroupId(i as u16), g.last_msgnum);
        }
        let members = config
            .groups
            .iter()
            .map(|g| g.members.iter().map(|&m| member_addr(m)).collect())
            .collect();
        self.engine = Some(self.rig.engine(sequencer, members, self.copy_threshold));
        self.config = Some(config.clone());
        Ok(())
    }

    fn new_session(&mut self, session: u16) -> Result<(), String> {
        let engine = self.engine.as_mut().ok_or("not configured")?;
        engine.sequencer_mut().start_session(SessionNumber(session));
        Ok(())
    }

    fn process(&mut self, frame: &mut Vec<u8>) -> Result<Outcome, String> {
        let engine = self.engine.as_mut().ok_or("not configured")?;
        let before = drops(engine);
        self.rig.inject(frame);
        if engine.poll() != 1 {
            return Err("the frame did not arrive on the port".into());
        }
        let outputs = self.rig.collect();
        if outputs.is_empty() {
            let after = drops(engine);
            let reasons: Vec<DropReason> = DropReason::ALL
                .into_iter()
                .filter(|&r| after.get(r) != before.get(r))
                .collect();
            return match reasons.as_slice() {
                [r] if after.get(*r) == before.get(*r) + 1 => Ok(Outcome::Drop {
                    reason: r.name().into(),
                }),
                _ => Err(format!(
                    "no output and drop counters changed by {reasons:?}"
                )),
            };
        }
        // Each copy must carry its member's destination; with those fields put back as
        // the input had them, every copy must be the same stamped frame.
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let udp = 14 + ihl;
        let mut members = Vec::new();
        let mut restored: Option<Vec<u8>> = None;
        for mut out in outputs {
            let ip = Ipv4Packet::new_checked(&out[14..]).map_err(|e| e.to_string())?;
            if !ip.verify_checksum() {
                return Err("a copy's IPv4 header checksum is wrong".into());
            }
            let o = ip.dst_addr().octets();
            let m = u16::from_be_bytes([o[2], o[3]]);
            let want = member_addr(m);
            let port = u16::from_be_bytes([out[udp + 2], out[udp + 3]]);
            if out[0..6] != want.mac.0
                || out[6..12] != self.rig.port.mac().0
                || port != want.addr.port()
                || ip.dst_addr() != *want.addr.ip()
            {
                return Err(format!("copy for member {m} is misaddressed"));
            }
            members.push(m);
            out[0..12].copy_from_slice(&frame[0..12]);
            out[14 + 10..14 + 12].copy_from_slice(&frame[14 + 10..14 + 12]);
            out[14 + 16..14 + 20].copy_from_slice(&frame[14 + 16..14 + 20]);
            out[udp + 2..udp + 4].copy_from_slice(&frame[udp + 2..udp + 4]);
            match &restored {
                Some(r) if *r != out => return Err("copies differ beyond their destination".into()),
                Some(_) => {}
                None => restored = Some(out),
            }
        }
        let out = restored.unwrap_or_default();
        let oum = udp + 8;
        let session = u16::from_be_bytes([out[oum + 6], out[oum + 7]]);
        let mut msgnum = [0u8; 8];
        msgnum.copy_from_slice(&out[oum + 8..oum + 16]);
        let dst = Ipv4Addr::new(frame[30], frame[31], frame[32], frame[33]);
        let group = engine
            .sequencer()
            .group_by_address(dst)
            .ok_or("a copy for an unknown group")?;
        *frame = out;
        Ok(Outcome::Multicast {
            group: group.0,
            members,
            session,
            msgnum: u64::from_be_bytes(msgnum),
        })
    }
}

fn golden_scenario() {
    let rig = rig();
    let vectors = golden::load(&golden::default_path()).unwrap();
    // Copies by memcpy, then by header mbuf + clone of the payload.
    for copy_threshold in [4096, 0] {
        let mut sut = DpdkSut {
            rig: &rig,
            copy_threshold,
            engine: None,
            config: None,
        };
        let failures = golden::run_vectors(&vectors, &mut sut);
        let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert!(
            failures.is_empty(),
            "copy threshold {copy_threshold}:\n{}",
            report.join("\n")
        );
        let stats = sut.engine.as_ref().unwrap().stats();
        println!("threshold {copy_threshold}: last case {stats:?}");
        drop(sut);
        rig.assert_all_mbufs_back();
    }
}

#[test]
fn golden_vectors_through_a_ring_port() {
    in_own_process("golden_vectors_through_a_ring_port", golden_scenario);
}

fn garbage_scenario() {
    let rig = rig();
    let group = Ipv4Addr::new(10, 0, 0, 100);
    let sequencer = Sequencer::new(
        SessionNumber(7),
        dataplane::wire::OUM_DEFAULT_PORT,
        &[GroupSpec {
            address: group,
            members: vec![0, 1, 2],
        }],
    )
    .unwrap();
    let members = vec![(0..3).map(member_addr).collect()];
    let mut engine = rig.engine(sequencer, members, 100);
    let spec = UdpFrameSpec {
        dst_ip: group,
        udp_checksum: false,
        ..Default::default()
    };
    let good = spec
        .build(&oum_payload(OumRepr::Unsequenced, b"hello"))
        .unwrap();
    let big = spec
        .build(&oum_payload(OumRepr::Unsequenced, &[7; 400]))
        .unwrap();
    let wrong_port = UdpFrameSpec {
        dst_port: 9,
        ..spec.clone()
    }
    .build(&oum_payload(OumRepr::Unsequenced, b"x"))
    .unwrap();
    let mut ipv6 = good.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x44;
    let mut arp = vec![0u8; 60];
    dataplane::io::dpdk::arp::write_request(
        &mut arp,
        MacAddr([2, 9, 9, 9, 9, 9]),
        Ipv4Addr::new(10, 0, 0, 5),
        Ipv4Addr::new(10, 0, 0, 77),
    )
    .unwrap();
    let mut arp_for_group = vec![0u8; 60];
    dataplane::io::dpdk::arp::write_request(
        &mut arp_for_group,
        MacAddr([2, 9, 9, 9, 9, 9]),
        Ipv4Addr::new(10, 0, 0, 5),
        group,
    )
    .unwrap();
    let frames: Vec<Vec<u8>> = vec![
        good.clone(),
        big.clone(),
        vec![0xab; 10],      // runt
        Vec::new(),          // empty
        ipv6,                // not IPv4
        arp,                 // ARP for someone else
        arp_for_group,       // ARP for the group: answered
        good[..30].to_vec(), // truncated IPv4
        bad_ihl,
        wrong_port,
    ];
    let rounds = 200;
    let mut sent = 0;
    let mut arp_replies = 0;
    for _ in 0..rounds {
        for f in &frames {
            rig.inject(f);
        }
        // A jumbo frame: two 1500-byte segments.
        let mut head = Mbuf::alloc(rig.pool).unwrap();
        head.append(1500).unwrap().copy_from_slice(&[0u8; 1500]);
        let mut tail = Mbuf::alloc(rig.pool).unwrap();
        tail.append(1500).unwrap().fill(1);
        head.chain(tail).unwrap();
        rig.ring.rx.enqueue(head).unwrap();
        let mut got = 0;
        while got < frames.len() + 1 {
            got += engine.poll();
        }
        for out in rig.collect() {
            if out[12..14] == [0x08, 0x06] {
                arp_replies += 1;
                assert_eq!(out[21], 2, "an ARP reply");
            } else {
                sent += 1;
            }
        }
    }
    let d = engine.sequencer().stats().drops;
    let e = engine.stats();
    println!(
        "sequencer drops {:?}\nengine {e:?}",
        d.nonzero().collect::<Vec<_>>()
    );
    assert_eq!(engine.sequencer().stats().stamped(), 2 * rounds);
    assert_eq!(sent, 3 * 2 * rounds, "three copies of each good request");
    assert_eq!(arp_replies, rounds);
    assert_eq!(e.arp_replies, rounds);
    assert_eq!(d.get(DropReason::TruncatedEthernet), 2 * rounds);
    assert_eq!(
        d.get(DropReason::NotIpv4),
        2 * rounds,
        "IPv6 and the ARP request for another host"
    );
    assert_eq!(d.get(DropReason::MalformedIpv4), 2 * rounds);
    assert_eq!(d.get(DropReason::NotOumPort), rounds);
    assert_eq!(d.total(), 7 * rounds);
    assert_eq!(e.drops.get(FrameDrop::MultiSegment), rounds);
    assert_eq!(e.drops.total(), rounds);
    // The big request's extra copies were header + clone, the small one's memcpy.
    assert_eq!((e.copies, e.clones), (2 * rounds, 2 * rounds));
    drop(engine);
    rig.assert_all_mbufs_back();
}

#[test]
fn garbage_is_counted_by_reason_and_every_mbuf_comes_back() {
    in_own_process(
        "garbage_is_counted_by_reason_and_every_mbuf_comes_back",
        garbage_scenario,
    );
}

fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("cluster.toml");
    std::fs::write(
        &path,
        "f = 0\n[sequencer]\nstate_file = \"session\"\n[[group]]\nname = \"g\"\naddress = \"10.0.0.100\"\n\
         [[replica]]\naddress = \"10.0.0.11:51000\"\nmac = \"02:00:00:00:00:0b\"\n",
    )
    .unwrap();
    path
}

fn sequencer(config: &std::path::Path, extra: &[&str], eal: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--dpdk")
        .arg("--config")
        .arg(config)
        .args(extra)
        .arg("--")
        .args(EAL)
        .args(eal);
    c
}

#[test]
fn bad_eal_arguments_and_missing_ports_are_clear_errors() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let out = sequencer(&config, &["--session", "1"], &["--bogus-opt=3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("sequencer: rte_eal_init failed: Invalid argument"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Unknown EAL option \"--bogus-opt=3\""),
        "{stderr}"
    );

    let out = sequencer(&config, &["--session", "1"], &["--vdev=net_nosuch0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rte_eal_init failed") && stderr.contains("net_nosuch0"),
        "{stderr}"
    );

    let out = sequencer(
        &config,
        &["--session", "1", "--port", "5"],
        &["--vdev=net_ring0"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("DPDK port 5 does not exist: 1 port(s) are available"),
        "{stderr}"
    );
    // No failed start used up a session.
    assert!(!dir.path().join("session").exists());
}

#[test]
fn the_binary_serves_on_net_ring_and_stops_on_sigint() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let child = sequencer(
        &config,
        &["--session", "4", "--stats", "--stats-interval", "0.1"],
        &["--vdev=net_ring0"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sequencer: session 4 on DPDK port 0 (net_ring"),
        "{stdout}"
    );
    // The port's MAC, ready to copy into `[sequencer] macs` for the replicas' check.
    assert!(
        stdout.contains("(to have DPDK replicas check: [sequencer] macs = [\""),
        "{stdout}"
    );
    assert!(stdout.contains("session 4 stamped 0"), "{stdout}");
    assert!(stdout.contains("port 0: rx 0 tx 0"), "{stdout}");
    let state = std::fs::read_to_string(dir.path().join("session")).unwrap();
    assert_eq!(state.lines().last(), Some("4"));
    // A restart takes the next session; without `mac` for a member it refuses to start.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("mac = \"02:00:00:00:00:0b\"\n", ""),
    )
    .unwrap();
    let out = sequencer(&config, &[], &["--vdev=net_ring0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("replica[0] has no `mac`"), "{stderr}");
}

/// The bench's baselines: every frame leaves once per member, byte for byte as it came
/// in or with only its member's destination written, through both fan-out paths (memcpy
/// and header + clone), with nothing stamped and every mbuf back in the pools.
fn forwarding_scenario() {
    let rig = rig();
    let group = Ipv4Addr::new(10, 0, 0, 100);
    let frames: Vec<Vec<u8>> = (0..40u8)
        .map(|i| {
            UdpFrameSpec {
                dst_ip: group,
                udp_checksum: false,
                ..UdpFrameSpec::default()
            }
            .build(&oum_payload(
                OumRepr::Unsequenced,
                &vec![i; 20 + usize::from(i)],
            ))
            .unwrap()
        })
        .collect();
    let cases = [
        (512, 3, Forwarding::Unchanged),
        (0, 3, Forwarding::Unchanged),
        (512, 1, Forwarding::Unchanged),
        (512, 3, Forwarding::Addressed),
        (0, 3, Forwarding::Addressed),
    ];
    for (copy_threshold, copies, how) in cases {
        let sequencer = Sequencer::new(
            SessionNumber(1),
            dataplane::wire::OUM_DEFAULT_PORT,
            &[GroupSpec {
                address: group,
                members: (0..copies).collect(),
            }],
        )
        .unwrap();
        let mut engine = rig.engine(
            sequencer,
            vec![(0..copies).map(member_addr).collect()],
            copy_threshold,
        );
        for f in &frames {
            rig.inject(f);
        }
        let mut received = 0;
        while received < frames.len() {
            let n = engine.poll_forward(GroupId(0), how);
            assert!(n > 0, "frames stuck in the ring");
            received += n;
        }
        let out = rig.collect();
        let copies = usize::from(copies);
        assert_eq!(out.len(), frames.len() * copies);
        for (i, got) in out.iter().enumerate() {
            let (frame, member) = (&frames[i / copies], member_addr((i % copies) as u16));
            let mut expected = frame.clone();
            if how == Forwarding::Addressed {
                // The member's destination MAC, the port's MAC as source, the member's
                // address (IPv4 checksum still valid) and port; nothing else changes.
                expected[0..6].copy_from_slice(&member.mac.0);
                expected[6..12].copy_from_slice(&rig.port.mac().0);
                expected[30..34].copy_from_slice(&member.addr.ip().octets());
                expected[36..38].copy_from_slice(&member.addr.port().to_be_bytes());
                expected[24..26].copy_from_slice(&got[24..26]);
                assert!(
                    Ipv4Packet::new_checked(&got[14..])
                        .unwrap()
                        .verify_checksum()
                );
            }
            assert_eq!(
                got, &expected,
                "copy {i}: threshold {copy_threshold}, {copies} copies, {how:?}"
            );
        }
        let stats = engine.stats();
        assert_eq!(stats.rx_frames, frames.len() as u64);
        assert_eq!(stats.tx_frames, (frames.len() * copies) as u64);
        let extra = (frames.len() * (copies - 1)) as u64;
        if copy_threshold == 0 {
            assert_eq!((stats.copies, stats.clones), (0, extra));
        } else {
            assert_eq!((stats.copies, stats.clones), (extra, 0));
        }
        assert_eq!(engine.sequencer().stats().stamped(), 0);
        assert_eq!(drops(&engine).total(), 0);
        drop(out);
        rig.assert_all_mbufs_back();
    }
}

#[test]
fn forwarding_sends_each_frame_to_every_member_unstamped() {
    in_own_process(
        "forwarding_sends_each_frame_to_every_member_unstamped",
        forwarding_scenario,
    );
}

/// `sequencer bench --dpdk` for a moment on net_null: both modes run over the real ports
/// and report how many frames they moved, and the ratio line is printed.
#[test]
fn the_bench_measures_forwarding_and_stamping_on_net_null() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let out = Command::new(BIN)
        .args([
            "bench",
            "--dpdk",
            "--members",
            "2",
            "--packets",
            "20000",
            "--bursts",
            "32",
            "--round",
            "512",
            "--",
        ])
        .args(EAL)
        .arg("--vdev=net_null0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("forwarding") && l.contains("ratio"))
        .unwrap_or_else(|| panic!("no ratio line:\n{stdout}"));
    // "frames in/out: forwarding 20000/40000, stamped 20000/40000;": 20000 requests per
    // mode, each sent to both members.
    let counts: Vec<u64> = line
        .split_once("frames in/out: ")
        .and_then(|(_, rest)| rest.split_once(';'))
        .unwrap_or_else(|| panic!("no frame counts: {line}"))
        .0
        .split([' ', '/', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(counts, [20000, 40000, 20000, 40000], "{line}");
    assert!(
        stdout.contains("summary: stamped/forwarding by burst: 32 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("burst 32: io forwarding (frames sent unchanged) "),
        "{stdout}"
    );
}
