//! The golden vectors as switch runs, rendered from one set of commands:
//!
//! * [`golden_stf_tests`]: one p4c STF test file per case (p4/tests/stf/, `p4-control stf`),
//!   each a fresh switch that is configured and then sent the case's frames. p4c's harness
//!   (backends/bmv2/bmv2stf.py) gives bmv2 one pcap FIFO per port named in the file, and
//!   bmv2 reads its inputs in timestamp order across all of them, so it reads no frame until
//!   every FIFO is closed, after the last command: a file can hold one configuration only.
//!   A case that moves to a new session midway is therefore split at that step; the later
//!   part starts in the new session with every counter fresh, which is the state the switch
//!   is in after the session moved (its counters are tagged with their session).
//! * [`golden_commands`]: every case on one live switch, reconfigured between cases (and at
//!   a new session, as the failover procedure does), for the bmv2 runner, which waits for
//!   each frame before the next command.
//!
//! Every case "starts afresh" with its own configuration, while a switch's table entries can
//! be added but not changed. So the configuration that varies between cases lives where a
//! command can rewrite it: the OUM port and session in the keyless table `oum_config`
//! (`setdefault`), each group address's multicast group in the register `group_mgrp` (0
//! disables a slot: the address is then an unknown group), and the counters in registers.
//! Each address gets one slot and each member set one multicast group the first time a run
//! uses them; a case then writes every slot's `group_mgrp` (its own groups' multicast
//! groups, 0 for the rest) and its groups' counters (the case's `last_msgnum`, tagged with
//! its session).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dataplane::golden::{
    Case, CaseConfig, CaseGroup, Expect, Step, Vectors, decode_hex, encode_hex,
};

use crate::cmd::{Cmd, INGRESS, Key, Value};
use crate::model::{SwitchOutcome, check_ports, switch_outcome};
use crate::plan::{failover_bmv2, route_cmd};
use crate::ports::{PortMap, Route};

/// The port the golden frames enter on.
pub const CLIENT_PORT: u16 = 0;
/// Replica `r` sits behind port `r + REPLICA_PORT_OFFSET`.
pub const REPLICA_PORT_OFFSET: u16 = 1;
/// The port of the test's only route (10.0.0.0/8): where routed traffic shows up.
pub const ROUTE_PORT: u16 = 9;
/// Every port the run uses, for the runner's interfaces.
pub const ALL_PORTS: std::ops::RangeInclusive<u16> = 0..=9;

/// The ordinary IPv4 table of the test run.
pub fn test_routes() -> Vec<Route> {
    vec![Route {
        prefix: Ipv4Addr::new(10, 0, 0, 0),
        len: 8,
        port: ROUTE_PORT,
        dst_mac: [0x02, 0, 0, 0, 0, 0x09],
        src_mac: [0x02, 0, 0, 0, 0, 0xfe],
    }]
}

pub fn test_ports() -> PortMap {
    PortMap::offset(0..8, REPLICA_PORT_OFFSET)
}

pub(crate) fn golden_case<'a>(vectors: &'a Vectors, name: &str) -> Result<&'a Case, String> {
    vectors
        .cases
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("golden case {name} is missing"))
}

/// Cases that exist only for the switch: they exercise the two-word counter where the
/// golden vectors do not (the low word wrapping into the high word). Derived from the golden
/// case `first-packet-of-session` by presetting the counter and rewriting the message
/// number in the expected bytes.
pub fn switch_only_cases(vectors: &Vectors) -> Result<Vec<Case>, String> {
    let base = golden_case(vectors, "first-packet-of-session")?;
    let Some(Step::Packet {
        packet,
        expect:
            Expect::Multicast {
                group,
                members,
                session,
                packet: stamped,
                ..
            },
    }) = base.steps.first()
    else {
        return Err("first-packet-of-session does not start with a stamp".to_string());
    };
    let stamped = decode_hex(stamped)?;
    let ihl = usize::from(stamped.get(14).ok_or("short frame")? & 0x0f);
    let at = 14 + ihl * 4 + 8 + 8;
    let with_msgnum = |n: u64| -> Result<String, String> {
        let mut bytes = stamped.clone();
        bytes
            .get_mut(at..at + 8)
            .ok_or("short frame")?
            .copy_from_slice(&n.to_be_bytes());
        Ok(encode_hex(&bytes))
    };
    let step = |n: u64| -> Result<Step, String> {
        Ok(Step::Packet {
            packet: packet.clone(),
            expect: Expect::Multicast {
                group: *group,
                members: members.clone(),
                session: *session,
                msgnum: n,
                packet: with_msgnum(n)?,
            },
        })
    };
    let mut config = base.config.clone();
    let first: &mut CaseGroup = config.groups.first_mut().ok_or("no group")?;
    first.last_msgnum = 0xffff_ffff;
    Ok(vec![Case {
        name: "switch-low-word-wrap".to_string(),
        description: "(switch only) The low 32-bit word wraps and the high word moves: \
                      2^32 - 1 is followed by 2^32 and 2^32 + 1."
            .to_string(),
        config,
        steps: vec![step(1 << 32)?, step((1 << 32) + 1)?],
    }])
}

#[derive(Debug, Default)]
pub(crate) struct Allocations {
    slots: BTreeMap<Ipv4Addr, u32>,
    mgrps: BTreeMap<Vec<u16>, u16>,
    nodes: u32,
}

pub(crate) fn reg(register: &'static str, index: u32, value: u64) -> Cmd {
    Cmd::RegisterWrite {
        register,
        index,
        value,
    }
}

/// The writes that give a slot the counter state "last number used = `last`" in `session`.
pub(crate) fn counter_writes(slot: u32, session: u16, last: u64) -> Vec<Cmd> {
    let s = u64::from(session);
    vec![
        reg("counter_lo", slot, last & 0xffff_ffff),
        reg("counter_lo_tag", slot, s),
        reg("counter_hi", slot, last >> 32),
        reg("counter_hi_tag", slot, s),
        reg("exhausted", slot, 0),
        reg("exhausted_tag", slot, s),
    ]
}

/// Configures `config`; the groups' counters are written as left by `counter_session` (the
/// case's own session, or the one before a new session started).
pub(crate) fn configure(
    cmds: &mut Vec<Cmd>,
    alloc: &mut Allocations,
    config: &CaseConfig,
    counter_session: u16,
    ports: &PortMap,
) -> Result<(), String> {
    check_ports(config, ports)?;
    cmds.push(failover_bmv2(config.oum_port, config.session));
    let mut active = BTreeMap::new();
    for g in &config.groups {
        let next_slot = u32::try_from(alloc.slots.len()).map_err(|_| "too many slots")?;
        let slot = *alloc.slots.entry(g.address).or_insert_with(|| {
            cmds.push(Cmd::Add {
                control: INGRESS,
                table: "oum_groups",
                key_field: "hdr.ipv4.dst_addr",
                key: Key::Exact(Value::Addr(g.address)),
                action: "set_oum_group",
                args: vec![("slot", Value::Int(u64::from(next_slot)))],
            });
            next_slot
        });
        let mut member_ports: Vec<u16> = g.members.iter().filter_map(|m| ports.port(*m)).collect();
        member_ports.sort_unstable();
        member_ports.dedup();
        let next_mgrp = u16::try_from(alloc.mgrps.len() + 1).map_err(|_| "too many groups")?;
        let mgrp = match alloc.mgrps.get(&member_ports) {
            Some(m) => *m,
            None => {
                cmds.push(Cmd::McMgrpCreate(next_mgrp));
                cmds.push(Cmd::McNodeCreate {
                    rid: next_mgrp,
                    ports: member_ports.clone(),
                });
                cmds.push(Cmd::McNodeAssociate {
                    mgrp: next_mgrp,
                    node: alloc.nodes,
                });
                alloc.nodes += 1;
                alloc.mgrps.insert(member_ports, next_mgrp);
                next_mgrp
            }
        };
        active.insert(slot, (mgrp, g.last_msgnum));
    }
    for slot in alloc.slots.values() {
        let mgrp = active.get(slot).map_or(0, |(m, _)| *m);
        cmds.push(reg("group_mgrp", *slot, u64::from(mgrp)));
    }
    for (slot, (_, last)) in &active {
        cmds.extend(counter_writes(*slot, counter_session, *last));
    }
    Ok(())
}

pub(crate) fn header_comments() -> Vec<Cmd> {
    vec![
        Cmd::Comment(
            "Generated by `p4-control stf` from testdata/oum-vectors.json; do not edit."
                .to_string(),
        ),
        Cmd::Comment(
            "Program: p4/nopaxos.p4 (v1model). Frames enter on port 0; replica r sits behind \
             port r + 1; routed traffic (10.0.0.0/8) leaves on port 9."
                .to_string(),
        ),
        Cmd::Comment(
            "How golden drop reasons map to the switch's outcome: docs/p4.md.".to_string(),
        ),
    ]
}

fn case_comment(case: &Case) -> Cmd {
    Cmd::Comment(format!("case {}: {}", case.name, case.description))
}

/// A golden frame: the frame into the client port and what the switch sends out for it.
fn push_packet_step(
    cmds: &mut Vec<Cmd>,
    i: usize,
    packet: &str,
    expect: &Expect,
    ports: &PortMap,
    routes: &[Route],
) -> Result<(), String> {
    push_frame_step(
        cmds,
        i,
        CLIENT_PORT,
        &decode_hex(packet)?,
        expect,
        ports,
        routes,
    )
}

/// A frame into `in_port` and what the switch sends out for it, as the golden verdict
/// `expect` maps to the switch (model::switch_outcome).
pub(crate) fn push_frame_step(
    cmds: &mut Vec<Cmd>,
    i: usize,
    in_port: u16,
    bytes: &[u8],
    expect: &Expect,
    ports: &PortMap,
    routes: &[Route],
) -> Result<(), String> {
    let bytes = bytes.to_vec();
    let outcome =
        switch_outcome(&bytes, expect, ports, routes).map_err(|e| format!("step {i}: {e}"))?;
    let golden = match expect {
        Expect::Multicast {
            session, msgnum, ..
        } => format!("stamp session {session} msgnum {msgnum}"),
        Expect::Drop { reason } => format!("sequencer drop {reason}"),
    };
    cmds.push(Cmd::Comment(format!("step {i}: golden {golden}")));
    cmds.push(Cmd::Packet {
        port: in_port,
        bytes,
    });
    match outcome {
        SwitchOutcome::Multicast { ports, bytes } => {
            for port in ports {
                cmds.push(Cmd::Expect {
                    port,
                    bytes: bytes.clone(),
                });
            }
        }
        SwitchOutcome::Routed { port, bytes } => {
            cmds.push(Cmd::Comment(format!(
                "switch: routed as ordinary IPv4 traffic to port {port}"
            )));
            cmds.push(Cmd::Expect { port, bytes });
        }
        SwitchOutcome::Dropped { why } => {
            cmds.push(Cmd::Comment(format!(
                "switch: dropped, nothing out of any port ({why})"
            )));
        }
    }
    Ok(())
}

/// Every golden case, then the switch-only cases.
fn all_cases(vectors: &Vectors) -> Result<Vec<Case>, String> {
    let mut cases = vectors.cases.clone();
    cases.extend(switch_only_cases(vectors)?);
    Ok(cases)
}

/// Every golden case (then the switch-only cases) on one live switch, as switch commands and
/// expectations: for the bmv2 runner, which applies each command before the next frame.
pub fn golden_commands(vectors: &Vectors) -> Result<Vec<Cmd>, String> {
    let ports = test_ports();
    let routes = test_routes();
    let mut cmds = header_comments();
    cmds.extend(routes.iter().map(route_cmd));
    let mut alloc = Allocations::default();
    for case in &all_cases(vectors)? {
        let in_case = |e: String| format!("case {}: {e}", case.name);
        cmds.push(Cmd::Comment(String::new()));
        cmds.push(case_comment(case));
        configure(
            &mut cmds,
            &mut alloc,
            &case.config,
            case.config.session,
            &ports,
        )
        .map_err(in_case)?;
        for (i, step) in case.steps.iter().enumerate() {
            match step {
                Step::NewSession { new_session } => {
                    cmds.push(Cmd::Comment(format!("step {i}: new session {new_session}")));
                    cmds.push(failover_bmv2(case.config.oum_port, *new_session));
                }
                Step::Packet { packet, expect } => {
                    push_packet_step(&mut cmds, i, packet, expect, &ports, &routes)
                        .map_err(in_case)?;
                }
            }
        }
    }
    Ok(cmds)
}

/// A frame the switch drops on any port, whatever its configuration: the golden ARP request
/// (case `non-ipv4-arp`; not IPv4, so neither stamped nor routed).
pub fn drop_sentinel(vectors: &Vectors) -> Result<Vec<u8>, String> {
    let case = golden_case(vectors, "non-ipv4-arp")?;
    let Some(Step::Packet { packet, expect }) = case.steps.first() else {
        return Err("non-ipv4-arp does not start with a frame".to_string());
    };
    let bytes = decode_hex(packet)?;
    match switch_outcome(&bytes, expect, &test_ports(), &test_routes())? {
        SwitchOutcome::Dropped { .. } => Ok(bytes),
        other => Err(format!(
            "the ARP request is not dropped by the switch: {other:?}"
        )),
    }
}

/// p4c's harness opens only the ports a file names and checks only those for unexpected
/// frames (a frame sent to any other port is lost unseen). So every file sends one frame
/// the switch drops into each port it names nowhere else: then every port is open, and
/// every frame out of any port must be one the file expects.
pub(crate) fn push_sentinels(cmds: &mut Vec<Cmd>, sentinel: &[u8]) {
    let named: std::collections::BTreeSet<u16> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::Packet { port, bytes } if !bytes.is_empty() => Some(*port),
            Cmd::Expect { port, .. } => Some(*port),
            _ => None,
        })
        .collect();
    let missing: Vec<u16> = ALL_PORTS.filter(|p| !named.contains(p)).collect();
    if missing.is_empty() {
        return;
    }
    cmds.push(Cmd::Comment(String::new()));
    cmds.push(Cmd::Comment(
        "One dropped frame (an ARP request) into every port named nowhere above, so that \
         p4c's harness opens every port and checks that no unexpected frame leaves any."
            .to_string(),
    ));
    for port in missing {
        cmds.push(Cmd::Packet {
            port,
            bytes: sentinel.to_vec(),
        });
    }
}

/// One p4c STF test: a file name and its commands (a fresh switch's whole run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StfTest {
    pub file_name: String,
    pub cmds: Vec<Cmd>,
}

/// Every golden case (then the switch-only cases) as self-contained STF tests, one per case,
/// or one per session where a case moves to a new session midway (see the module docs).
pub fn golden_stf_tests(vectors: &Vectors) -> Result<Vec<StfTest>, String> {
    let ports = test_ports();
    let routes = test_routes();
    let sentinel = drop_sentinel(vectors)?;
    let mut tests = Vec::new();
    for (n, case) in all_cases(vectors)?.iter().enumerate() {
        let in_case = |e: String| format!("case {}: {e}", case.name);
        // Each part: its configuration, the session its counters were left in, the step
        // that started it (a new session) and its steps.
        let mut parts: Vec<(CaseConfig, u16, Option<usize>, &[Step])> = Vec::new();
        let mut config = case.config.clone();
        let mut counter_session = config.session;
        let mut last: Vec<u64> = config.groups.iter().map(|g| g.last_msgnum).collect();
        let mut from = 0;
        let mut started_at = None;
        for (i, step) in case.steps.iter().enumerate() {
            match step {
                Step::Packet {
                    expect: Expect::Multicast { group, msgnum, .. },
                    ..
                } => {
                    if let Some(l) = last.get_mut(usize::from(*group)) {
                        *l = *msgnum;
                    }
                }
                Step::Packet { .. } => {}
                Step::NewSession { new_session } => {
                    // The later part starts with the counters exactly as the earlier part
                    // left them, tagged with the old session: the switch itself must see
                    // the new session and restart every group at 1.
                    let mut next = config.clone();
                    next.session = *new_session;
                    for (g, l) in next.groups.iter_mut().zip(&last) {
                        g.last_msgnum = *l;
                    }
                    let old_session = config.session;
                    parts.push((
                        std::mem::replace(&mut config, next),
                        counter_session,
                        started_at,
                        &case.steps[from..i],
                    ));
                    counter_session = old_session;
                    from = i + 1;
                    started_at = Some(i);
                }
            }
        }
        parts.push((config, counter_session, started_at, &case.steps[from..]));
        let split = parts.len() > 1;
        for (part, (config, counter_session, started_at, steps)) in parts.into_iter().enumerate() {
            let mut cmds = header_comments();
            if split {
                cmds.push(Cmd::Comment(
                    "This case moves to a new session midway; p4c's harness applies every \
                     command before bmv2 reads a frame, so each session is its own file."
                        .to_string(),
                ));
            }
            cmds.extend(routes.iter().map(route_cmd));
            cmds.push(Cmd::Comment(String::new()));
            cmds.push(case_comment(case));
            if let Some(i) = started_at {
                cmds.push(Cmd::Comment(format!(
                    "step {i}: new session {} (this file starts here)",
                    config.session
                )));
            }
            if started_at.is_some() {
                cmds.push(Cmd::Comment(format!(
                    "counters as the earlier part left them, in session {counter_session}"
                )));
            }
            configure(
                &mut cmds,
                &mut Allocations::default(),
                &config,
                counter_session,
                &ports,
            )
            .map_err(in_case)?;
            let first = started_at.map_or(0, |i| i + 1);
            for (offset, step) in steps.iter().enumerate() {
                if let Step::Packet { packet, expect } = step {
                    push_packet_step(&mut cmds, first + offset, packet, expect, &ports, &routes)
                        .map_err(in_case)?;
                }
            }
            push_sentinels(&mut cmds, &sentinel);
            let file_name = if split {
                format!("{n:02}-{}-{}.stf", case.name, part + 1)
            } else {
                format!("{n:02}-{}.stf", case.name)
            };
            tests.push(StfTest { file_name, cmds });
        }
    }
    Ok(tests)
}

/// The folder of the checked-in STF tests.
pub fn stf_dir() -> std::path::PathBuf {
    let control = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    control.parent().unwrap_or(control).join("tests/stf")
}

/// The STF files for the repository's golden vectors (file name, text): the golden cases
/// and the switch-only cases of [`golden_stf_tests`], then the host-facing-port test
/// ([`crate::stf_host_ports`]), numbered after them.
pub fn render_golden_stf(vectors: &Vectors) -> Result<Vec<(String, String)>, String> {
    let next = all_cases(vectors)?.len();
    Ok(golden_stf_tests(vectors)?
        .into_iter()
        .chain(crate::stf_host_ports::host_port_stf_tests(vectors, next)?)
        .map(|t| (t.file_name, crate::cmd::render_stf(&t.cmds)))
        .collect())
}

/// The `.stf` files in `dir` (name, text), sorted by name; none if `dir` does not exist.
pub fn read_stf_dir(dir: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|x| x == "stf") {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((name, text));
        }
    }
    files.sort();
    Ok(files)
}

/// What differs between the STF files in `dir` and `want`, one line each (empty: up to date).
pub fn stf_dir_differences(
    dir: &std::path::Path,
    want: &[(String, String)],
) -> Result<Vec<String>, String> {
    let have = read_stf_dir(dir)?;
    let have: BTreeMap<&str, &str> = have.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let want_map: BTreeMap<&str, &str> =
        want.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let mut out = Vec::new();
    for (name, text) in &want_map {
        match have.get(name) {
            None => out.push(format!("{name}: missing")),
            Some(h) if h != text => out.push(format!("{name}: differs")),
            Some(_) => {}
        }
    }
    for name in have.keys().filter(|n| !want_map.contains_key(*n)) {
        out.push(format!("{name}: not generated any more (stale)"));
    }
    Ok(out)
}
