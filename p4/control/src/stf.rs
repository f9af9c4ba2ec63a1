//! The golden vectors as one switch run: p4/tests/nopaxos.stf (`p4-control stf`) and the
//! command list the bmv2 runner executes are rendered from the same [`golden_commands`].
//!
//! Every case of the vectors "starts afresh" with its own configuration, while an STF file is
//! one run of one switch whose table entries can be added but not changed. So the
//! configuration that varies between cases lives where the STF vocabulary can rewrite it:
//! the OUM port and session in the keyless table `oum_config` (`setdefault`), each group
//! address's multicast group in the register `group_mgrp` (0 disables a slot: the address is
//! then an unknown group), and the counters in registers. Each address gets one slot and
//! each member set one multicast group the first time a case uses them; a case then writes
//! every slot's `group_mgrp` (its own groups' multicast groups, 0 for the rest) and its
//! groups' counters (the case's `last_msgnum`, tagged with its session).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dataplane::golden::{
    Case, CaseConfig, CaseGroup, Expect, Step, Vectors, decode_hex, encode_hex,
};

use crate::cmd::{Cmd, INGRESS, Key, Value};
use crate::model::{SwitchOutcome, check_ports, switch_outcome};
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

/// Cases that exist only for the switch: they exercise the two-word counter where the
/// golden vectors do not (the low word wrapping into the high word). Derived from the golden
/// case `first-packet-of-session` by presetting the counter and rewriting the message
/// number in the expected bytes.
pub fn switch_only_cases(vectors: &Vectors) -> Result<Vec<Case>, String> {
    let base = vectors
        .cases
        .iter()
        .find(|c| c.name == "first-packet-of-session")
        .ok_or("golden case first-packet-of-session is missing")?;
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
struct Allocations {
    slots: BTreeMap<Ipv4Addr, u32>,
    mgrps: BTreeMap<Vec<u16>, u16>,
    nodes: u32,
}

fn oum_config(port: u16, session: u16) -> Cmd {
    Cmd::SetDefault {
        control: INGRESS,
        table: "oum_config",
        action: "set_oum_config",
        args: vec![
            ("oum_port", Value::Int(u64::from(port))),
            ("session", Value::Int(u64::from(session))),
        ],
    }
}

fn route_cmd(route: &Route) -> Cmd {
    Cmd::Add {
        control: INGRESS,
        table: "ipv4_routes",
        key_field: "hdr.ipv4.dst_addr",
        key: Key::Lpm(route.prefix, route.len),
        action: "ipv4_forward",
        args: vec![
            ("port", Value::Int(u64::from(route.port))),
            ("dst_mac", Value::Mac(route.dst_mac)),
            ("src_mac", Value::Mac(route.src_mac)),
        ],
    }
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

fn configure(
    cmds: &mut Vec<Cmd>,
    alloc: &mut Allocations,
    config: &CaseConfig,
    ports: &PortMap,
) -> Result<(), String> {
    check_ports(config, ports)?;
    cmds.push(oum_config(config.oum_port, config.session));
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
        cmds.extend(counter_writes(*slot, config.session, *last));
    }
    Ok(())
}

/// Every golden case (then the switch-only cases) as switch commands and expectations.
pub fn golden_commands(vectors: &Vectors) -> Result<Vec<Cmd>, String> {
    let ports = test_ports();
    let routes = test_routes();
    let mut cmds = vec![
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
    ];
    cmds.extend(routes.iter().map(route_cmd));
    let mut alloc = Allocations::default();
    let extra = switch_only_cases(vectors)?;
    for case in vectors.cases.iter().chain(&extra) {
        cmds.push(Cmd::Comment(String::new()));
        cmds.push(Cmd::Comment(format!(
            "case {}: {}",
            case.name, case.description
        )));
        configure(&mut cmds, &mut alloc, &case.config, &ports)
            .map_err(|e| format!("case {}: {e}", case.name))?;
        for (i, step) in case.steps.iter().enumerate() {
            match step {
                Step::NewSession { new_session } => {
                    cmds.push(Cmd::Comment(format!("step {i}: new session {new_session}")));
                    cmds.push(oum_config(case.config.oum_port, *new_session));
                }
                Step::Packet { packet, expect } => {
                    let bytes = decode_hex(packet)?;
                    let outcome = switch_outcome(&bytes, expect, &ports, &routes)
                        .map_err(|e| format!("case {} step {i}: {e}", case.name))?;
                    let golden = match expect {
                        Expect::Multicast {
                            session, msgnum, ..
                        } => format!("stamp session {session} msgnum {msgnum}"),
                        Expect::Drop { reason } => format!("sequencer drop {reason}"),
                    };
                    cmds.push(Cmd::Comment(format!("step {i}: golden {golden}")));
                    cmds.push(Cmd::Packet {
                        port: CLIENT_PORT,
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
                }
            }
        }
    }
    Ok(cmds)
}

/// The checked-in STF file's path.
pub fn stf_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/nopaxos.stf")
}

/// The STF text for the repository's golden vectors.
pub fn render_golden_stf(vectors: &Vectors) -> Result<String, String> {
    Ok(crate::cmd::render_stf(&golden_commands(vectors)?))
}
