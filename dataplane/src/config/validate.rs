use std::collections::BTreeSet;

use super::{ClusterConfig, Problem};

fn problem(field: impl Into<String>, problem: impl Into<String>, example: &str) -> Problem {
    Problem {
        field: field.into(),
        problem: problem.into(),
        example: example.to_string(),
    }
}

/// A setting named `section.name` with its value.
struct Bound {
    section: &'static str,
    name: &'static str,
    value: u64,
}

impl Bound {
    fn new(section: &'static str, name: &'static str, value: u64) -> Bound {
        Bound {
            section,
            name,
            value,
        }
    }
}

/// An adaptive wait's floor must not exceed its ceiling (`what` says what the ceiling is).
fn floor_above_ceiling(
    out: &mut Vec<Problem>,
    floor: Bound,
    ceiling: Bound,
    unit: &str,
    what: &str,
    example: &str,
) {
    if floor.value > ceiling.value {
        out.push(problem(
            format!("{}.{}", floor.section, floor.name),
            format!(
                "{} {unit} is longer than {} ({} {unit}), {what}",
                floor.value, ceiling.name, ceiling.value
            ),
            example,
        ));
    }
}

/// The first group is the one the replication protocols order (replicas, clients and the
/// simulator all take `groups[0]`): every replica must receive its stamps. A replica left
/// out would see none of the requests, fall behind at each one and fetch every slot from a
/// peer, and with f of them left out no quorum of up-to-date replicas is left. Later groups
/// are OUM-level only (sequencer and `--mode listen` tests), so they may be subsets.
fn missing_from_the_replicated_group(
    out: &mut Vec<Problem>,
    field: &str,
    listed: &BTreeSet<u16>,
    n: usize,
) {
    let missing: Vec<String> = (0..n)
        .filter(|r| u16::try_from(*r).is_ok_and(|r| !listed.contains(&r)))
        .map(|r| r.to_string())
        .collect();
    if missing.is_empty() {
        return;
    }
    let all: Vec<String> = (0..n).map(|r| r.to_string()).collect();
    out.push(problem(
        field,
        format!(
            "leaves out replica(s) {}: the first group is the one the replication protocols \
             order, so every one of the {n} replicas must be a member; list them all or drop \
             `members` (a subset is allowed only in later, OUM-only groups)",
            missing.join(", ")
        ),
        &format!("members = [{}]", all.join(", ")),
    ));
}

/// Every mistake in `config`, in file order; empty when it is usable.
pub(super) fn problems(config: &ClusterConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let n = config.replicas.len();
    if n == 0 {
        out.push(problem(
            "replica",
            "no replicas are configured",
            "[[replica]] address = \"127.0.0.1:51000\"",
        ));
    } else if n != 2 * config.f + 1 {
        out.push(problem(
            "f",
            format!(
                "f = {} needs 2f+1 = {} replicas, but {} [[replica]] entries are given; NOPaxos \
                 quorums (f+1) only intersect with exactly 2f+1 replicas",
                config.f,
                2 * config.f + 1,
                n
            ),
            &if n % 2 == 1 {
                format!("f = {}", (n - 1) / 2)
            } else {
                format!(
                    "f = {} with {} replicas, or add a replica and set f = {}",
                    (n - 1) / 2,
                    n - 1,
                    n / 2
                )
            },
        ));
    }
    if config.oum.port == 0 {
        out.push(problem("oum.port", "port 0 is not a port", "port = 22222"));
    }
    if config.oum.pending_capacity == 0 || config.oum.pending_capacity > 1 << 20 {
        out.push(problem(
            "oum.pending_capacity",
            format!("{} is outside 1..=1048576", config.oum.pending_capacity),
            "pending_capacity = 1024",
        ));
    }
    if config.oum.max_gap == 0 {
        out.push(problem(
            "oum.max_gap",
            "0 would refuse every out-of-order packet",
            "max_gap = 65536",
        ));
    }
    if config.oum.reorder_window_us > 10_000_000 {
        out.push(problem(
            "oum.reorder_window_us",
            format!(
                "{} us is over 10 s; gaps would stall delivery",
                config.oum.reorder_window_us
            ),
            "reorder_window_us = 1000",
        ));
    }
    floor_above_ceiling(
        &mut out,
        Bound::new(
            "oum",
            "reorder_window_min_us",
            config.oum.reorder_window_min_us,
        ),
        Bound::new("oum", "reorder_window_us", config.oum.reorder_window_us),
        "us",
        "the longest wait for a missing message",
        "reorder_window_min_us = 0",
    );

    let mut seen = BTreeSet::new();
    for (i, r) in config.replicas.iter().enumerate() {
        let field = format!("replica[{i}].address");
        if r.address.port() == 0 {
            out.push(problem(
                &field,
                "port 0 is not a port",
                "address = \"127.0.0.1:51000\"",
            ));
        }
        if r.address.ip().is_unspecified() {
            out.push(problem(
                &field,
                "0.0.0.0 cannot be sent to; give the replica's own address",
                "address = \"10.0.0.11:51000\"",
            ));
        }
        if let Some(mac) = &r.mac {
            if super::parse_mac(mac).is_none() {
                out.push(problem(
                    format!("replica[{i}].mac"),
                    format!("{mac:?} is not a MAC address (six hex pairs)"),
                    "mac = \"02:00:00:00:00:0b\"",
                ));
            }
        }
        if !seen.insert(r.address) {
            out.push(problem(
                &field,
                format!("{} is used by an earlier replica", r.address),
                "address = \"127.0.0.1:51001\"",
            ));
        }
    }

    if config.groups.is_empty() {
        out.push(problem(
            "group",
            "no OUM groups are configured",
            "[[group]] name = \"kv\" address = \"127.0.0.10\"",
        ));
    }
    let mut names = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    let mut multicasts = BTreeSet::new();
    for (i, g) in config.groups.iter().enumerate() {
        if g.name.trim().is_empty() {
            out.push(problem(
                format!("group[{i}].name"),
                "is empty",
                "name = \"kv\"",
            ));
        } else if !names.insert(g.name.as_str()) {
            out.push(problem(
                format!("group[{i}].name"),
                format!("\"{}\" is used by an earlier group", g.name),
                "name = \"kv2\"",
            ));
        }
        let field = format!("group[{i}].address");
        if g.address.is_unspecified() || g.address.is_broadcast() {
            out.push(problem(
                &field,
                format!("{} cannot identify a group", g.address),
                "address = \"127.0.0.10\"",
            ));
        } else if !addresses.insert(g.address) {
            out.push(problem(
                &field,
                format!(
                    "{} is used by an earlier group; the address identifies the group",
                    g.address
                ),
                "address = \"127.0.0.11\"",
            ));
        }
        if let Some(r) = config
            .replicas
            .iter()
            .position(|r| *r.address.ip() == g.address && r.address.port() == config.oum.port)
        {
            out.push(problem(
                &field,
                format!(
                    "{}:{} is also replica {r}'s address",
                    g.address, config.oum.port
                ),
                "address = \"127.0.0.10\"",
            ));
        }
        if let Some(m) = g.multicast {
            let field = format!("group[{i}].multicast");
            if !m.is_multicast() {
                out.push(problem(
                    &field,
                    format!("{m} is not an IPv4 multicast address (224.0.0.0/4)"),
                    "multicast = \"239.255.0.10\"",
                ));
            } else if !multicasts.insert(m) {
                out.push(problem(
                    &field,
                    format!(
                        "{m} is used by an earlier group; members would receive both groups' \
                         stamps"
                    ),
                    "multicast = \"239.255.0.11\"",
                ));
            }
        }
        if let Some(members) = &g.members {
            let field = format!("group[{i}].members");
            if members.is_empty() {
                out.push(problem(
                    &field,
                    "a group needs at least one member",
                    "members = [0, 1, 2]",
                ));
            }
            let mut unique = BTreeSet::new();
            for &m in members {
                if usize::from(m) >= n {
                    out.push(problem(
                        &field,
                        format!(
                            "replica {m} does not exist; replicas are numbered 0..{n} in file order"
                        ),
                        "members = [0, 1, 2]",
                    ));
                } else if !unique.insert(m) {
                    out.push(problem(
                        &field,
                        format!("replica {m} is listed twice"),
                        "members = [0, 1, 2]",
                    ));
                }
            }
            if i == 0 && !members.is_empty() {
                missing_from_the_replicated_group(&mut out, &field, &unique, n);
            }
        }
    }

    for (name, ms) in config.timeouts.all() {
        if ms == 0 {
            out.push(problem(
                format!("timeouts.{name}"),
                "must be at least 1 ms",
                &format!("{name} = {}", ms.max(1)),
            ));
        }
    }
    let t = &config.timeouts;
    if t.leader_timeout_ms <= t.sync_period_ms {
        out.push(problem(
            "timeouts.leader_timeout_ms",
            format!(
                "{} ms is not longer than sync_period_ms ({} ms): followers would suspect a \
                 healthy leader between two synchronizations",
                t.leader_timeout_ms, t.sync_period_ms
            ),
            "leader_timeout_ms = 2000 with sync_period_ms = 1000",
        ));
    }
    floor_above_ceiling(
        &mut out,
        Bound::new("timeouts", "gap_request_min_ms", t.gap_request_min_ms),
        Bound::new("timeouts", "gap_request_ms", t.gap_request_ms),
        "ms",
        "the longest a replica waits before retrying a gap message",
        "gap_request_min_ms = 1",
    );
    floor_above_ceiling(
        &mut out,
        Bound::new("timeouts", "client_resend_min_ms", t.client_resend_min_ms),
        Bound::new("timeouts", "client_resend_ms", t.client_resend_ms),
        "ms",
        "the longest a client waits before resending",
        "client_resend_min_ms = 1",
    );
    if t.client_give_up_ms < t.client_resend_ms {
        out.push(problem(
            "timeouts.client_give_up_ms",
            format!(
                "{} ms is shorter than client_resend_ms ({} ms): a client would give up before \
                 its first resend",
                t.client_give_up_ms, t.client_resend_ms
            ),
            "client_give_up_ms = 5000",
        ));
    }
    out
}
