//! What the switch program does with a golden-vector packet, stated explicitly.
//!
//! The golden vectors (testdata/oum-vectors.json) give the Rust sequencer's verdict: stamp and
//! multicast, or drop with a reason. A switch has a third outcome, routing the packet as
//! ordinary IPv4 traffic, and it never leaves a packet half-handled. [`switch_outcome`] maps
//! each golden verdict to the switch's outcome: stamps stay stamps (same bytes, the group's
//! member ports); each drop reason maps to "dropped" or "routed" by the table in
//! [`reason_class`], which docs/p4.md reproduces. Nothing is skipped: an unknown reason is an
//! error.

use dataplane::golden::{CaseConfig, Expect};

use crate::ports::{PortMap, Route};

/// How the switch treats a packet the Rust sequencer drops with a given reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    /// No well-formed IPv4 header: an IPv4 router cannot route it either; dropped.
    Dropped,
    /// Well-formed IPv4 that is not an unsequenced OUM request of a known group: routed by
    /// the ordinary IPv4 table (`ipv4_routes`), never stamped.
    Routed,
}

/// The switch's treatment of each drop reason of docs/wire-format.md.
pub fn reason_class(reason: &str) -> Result<ReasonClass, String> {
    Ok(match reason {
        "truncated-ethernet" | "not-ipv4" | "malformed-ipv4" => ReasonClass::Dropped,
        // The group's counter is used up: its requests are dropped, not routed.
        "counter-exhausted" => ReasonClass::Dropped,
        "ipv4-fragment" | "not-udp" | "malformed-udp" | "not-oum-port" | "truncated-oum"
        | "bad-preamble" | "already-sequenced" | "bad-header-size" | "unknown-group" => {
            ReasonClass::Routed
        }
        other => return Err(format!("drop reason `{other}` has no switch mapping")),
    })
}

/// What comes out of the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchOutcome {
    /// The same stamped frame on each port.
    Multicast { ports: Vec<u16>, bytes: Vec<u8> },
    /// Routed: MACs rewritten, TTL decremented, IPv4 checksum patched.
    Routed { port: u16, bytes: Vec<u8> },
    /// Nothing comes out; `why` is for people.
    Dropped { why: String },
}

/// The frame lengths at which the P4 parser (p4/include/parser_states.p4) would run out of
/// bytes: `Some(needed)` when `frame` is shorter than the headers the parser extracts.
/// Such frames set a parser error and are dropped (both targets).
pub fn parser_shortfall(frame: &[u8]) -> Option<usize> {
    let mut need = 14;
    if frame.len() < need {
        return Some(need);
    }
    if frame[12..14] != [0x08, 0x00] {
        return None;
    }
    need += 20;
    if frame.len() < need {
        return Some(need);
    }
    let ip = &frame[14..];
    let (version, ihl) = (ip[0] >> 4, usize::from(ip[0] & 0x0f));
    if version != 4 || ihl < 5 {
        return None;
    }
    need += (ihl - 5) * 4;
    if frame.len() < need {
        return Some(need);
    }
    let more_fragments = ip[6] & 0x20 != 0;
    let offset = u16::from_be_bytes([ip[6] & 0x1f, ip[7]]);
    if more_fragments || offset != 0 || ip[9] != 17 {
        return None;
    }
    let udp = need;
    need += 8;
    if frame.len() < need {
        return Some(need);
    }
    let udp_len = u16::from_be_bytes([frame[udp + 4], frame[udp + 5]]);
    if udp_len < 24 {
        return None;
    }
    need += 16;
    (frame.len() < need).then_some(need)
}

/// True when `frame` is what the program's `stamp_claim` (p4/include/classify.p4) finds:
/// routable IPv4 (complete, not a fragment, UDP) carrying an OUM header with the preamble, to
/// `oum_port`, with a header size other than 0. On a host-facing port the switch drops it
/// (verdict `VERDICT_DROP_HOST_STAMP`).
pub fn stamp_claim(frame: &[u8], oum_port: u16) -> bool {
    if parser_shortfall(frame).is_some() || frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
        return false;
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let fragment = ip[6] & 0x20 != 0 || u16::from_be_bytes([ip[6] & 0x1f, ip[7]]) != 0;
    if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || 14 + total > frame.len() {
        return false;
    }
    if fragment || ip[9] != 17 {
        return false;
    }
    let udp = 14 + ihl;
    let udp_len = u16::from_be_bytes([frame[udp + 4], frame[udp + 5]]);
    let oum = udp + 8;
    // No parser shortfall and a UDP length of 24 or more: the OUM header was extracted.
    udp_len >= 24
        && u16::from_be_bytes([frame[udp + 2], frame[udp + 3]]) == oum_port
        && frame[oum..oum + 4] == [0x18, 0x03, 0x05, 0x20]
        && frame[oum + 4..oum + 6] != [0, 0]
}

/// The routed copy of `frame`: MACs from the route, TTL - 1, header checksum patched as
/// RFC 1624 eqn. 3 (what the P4 program computes, options included).
pub fn routed_bytes(frame: &[u8], route: &Route) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[0..6].copy_from_slice(&route.dst_mac);
    out[6..12].copy_from_slice(&route.src_mac);
    out[22] -= 1;
    let old = u16::from_be_bytes([out[24], out[25]]);
    // HC' = ~(~HC + ~m + m'); the TTL/protocol word drops by 0x0100, so ~m + m' = 0xfeff.
    let mut sum = u32::from(!old) + 0xfeff;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let new = !(sum as u16);
    out[24..26].copy_from_slice(&new.to_be_bytes());
    out
}

/// The switch's outcome for one golden packet step.
///
/// * `config`: the case's configuration (groups and their members);
/// * `ports`: where each replica sits;
/// * `routes`: the ordinary IPv4 table.
pub fn switch_outcome(
    input: &[u8],
    expect: &Expect,
    ports: &PortMap,
    routes: &[Route],
) -> Result<SwitchOutcome, String> {
    match expect {
        Expect::Multicast {
            members, packet, ..
        } => {
            let mut out = Vec::with_capacity(members.len());
            for m in members {
                out.push(
                    ports
                        .port(*m)
                        .ok_or_else(|| format!("replica {m} has no switch port"))?,
                );
            }
            Ok(SwitchOutcome::Multicast {
                ports: out,
                bytes: dataplane::golden::decode_hex(packet)?,
            })
        }
        Expect::Drop { reason } => {
            let class = reason_class(reason)?;
            if let Some(need) = parser_shortfall(input) {
                return Ok(SwitchOutcome::Dropped {
                    why: format!(
                        "{reason}: the frame ({} bytes) ends inside a parsed header ({need} \
                         needed): parser error",
                        input.len()
                    ),
                });
            }
            match class {
                ReasonClass::Dropped => Ok(SwitchOutcome::Dropped {
                    why: format!("{reason}: no well-formed IPv4 header, or counter exhausted"),
                }),
                ReasonClass::Routed => {
                    let dst = std::net::Ipv4Addr::new(input[30], input[31], input[32], input[33]);
                    if input[22] <= 1 {
                        return Ok(SwitchOutcome::Dropped {
                            why: format!("{reason}: routed, but TTL {} <= 1", input[22]),
                        });
                    }
                    match Route::lookup(routes, dst) {
                        Some(route) => Ok(SwitchOutcome::Routed {
                            port: route.port,
                            bytes: routed_bytes(input, route),
                        }),
                        None => Ok(SwitchOutcome::Dropped {
                            why: format!("{reason}: routed, but no route to {dst}"),
                        }),
                    }
                }
            }
        }
    }
}

/// The golden case configuration's member lists must all have ports.
pub fn check_ports(config: &CaseConfig, ports: &PortMap) -> Result<(), String> {
    for g in &config.groups {
        for m in &g.members {
            if ports.port(*m).is_none() {
                return Err(format!("replica {m} of group {} has no port", g.address));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::ipv4_header_checksum;

    #[test]
    fn incremental_checksum_equals_a_full_recompute_on_valid_headers() {
        let route: Route = "0.0.0.0/0,1,02:00:00:00:00:01,02:00:00:00:00:02"
            .parse()
            .unwrap();
        for ttl in [2u8, 3, 64, 128, 255] {
            for ident in [0u16, 1, 0x1234, 0xfffe, 0xffff] {
                let mut frame = vec![0u8; 34];
                frame[12] = 0x08;
                frame[14] = 0x45;
                frame[16..18].copy_from_slice(&20u16.to_be_bytes());
                frame[18..20].copy_from_slice(&ident.to_be_bytes());
                frame[22] = ttl;
                frame[23] = 17;
                frame[26..30].copy_from_slice(&[10, 0, 0, 1]);
                frame[30..34].copy_from_slice(&[10, 0, 0, 100]);
                let c = ipv4_header_checksum(&frame[14..34]);
                frame[24..26].copy_from_slice(&c.to_be_bytes());
                let routed = routed_bytes(&frame, &route);
                let mut check = routed[14..34].to_vec();
                check[10] = 0;
                check[11] = 0;
                let want = ipv4_header_checksum(&check);
                assert_eq!(
                    u16::from_be_bytes([routed[24], routed[25]]),
                    want,
                    "ttl {ttl} ident {ident:#x}"
                );
                assert_eq!(routed[22], ttl - 1);
            }
        }
    }

    #[test]
    fn every_reason_of_the_wire_format_has_a_mapping() {
        for reason in [
            "truncated-ethernet",
            "not-ipv4",
            "malformed-ipv4",
            "ipv4-fragment",
            "not-udp",
            "malformed-udp",
            "not-oum-port",
            "truncated-oum",
            "bad-preamble",
            "already-sequenced",
            "bad-header-size",
            "unknown-group",
            "counter-exhausted",
        ] {
            reason_class(reason).unwrap();
        }
        assert!(reason_class("something-new").is_err());
    }

    #[test]
    fn parser_shortfall_follows_the_parser() {
        assert_eq!(parser_shortfall(&[0; 13]), Some(14));
        assert_eq!(parser_shortfall(&[]), Some(14));
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(parser_shortfall(&arp), None);
        let mut ip = vec![0u8; 33];
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(parser_shortfall(&ip), Some(34));
        // UDP length 24 asks for an OUM header the frame does not have.
        let mut udp = vec![0u8; 50];
        udp[12..14].copy_from_slice(&[0x08, 0x00]);
        udp[14] = 0x45;
        udp[23] = 17;
        udp[38..40].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(parser_shortfall(&udp), Some(58));
        udp[38..40].copy_from_slice(&23u16.to_be_bytes());
        assert_eq!(parser_shortfall(&udp), None);
    }
}
