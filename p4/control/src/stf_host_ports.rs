//! The switch-only STF test of host-facing ports (table `host_ports`, docs/p4.md "Forged
//! stamps"): with port 0 (where the golden frames enter, the clients' port) marked
//! host-facing, a stamped frame entering there is dropped, and so is one with header size 18
//! (an authenticated stamp), while the same frames entering on port 1 (a replica's port,
//! standing for any port that is not host-facing) are routed as in the golden case
//! `already-sequenced`, and a client's unsequenced request on port 0 is still stamped.
//!
//! Built from golden frames and checked against the model (`model::stamp_claim`), so the
//! test follows the vectors. Not part of the live run (`golden_commands`): its table entry
//! would change the later golden cases' outcomes on the one switch that run uses.

use dataplane::golden::{Expect, Step, Vectors, decode_hex};

use crate::cmd::Cmd;
use crate::model::stamp_claim;
use crate::plan::{SwitchPlan, route_cmd};
use crate::stf::{
    Allocations, CLIENT_PORT, StfTest, configure, drop_sentinel, golden_case, header_comments,
    push_frame_step, push_sentinels, test_ports, test_routes,
};

/// The host-facing port of the test: the clients' port.
pub const HOST_PORT: u16 = CLIENT_PORT;
/// A port that is not host-facing: replica 0's.
pub const NOT_HOST_PORT: u16 = 1;

/// The first frame step of a golden case: its bytes and expected verdict.
fn first_frame(vectors: &Vectors, case: &str) -> Result<(Vec<u8>, Expect), String> {
    match golden_case(vectors, case)?.steps.first() {
        Some(Step::Packet { packet, expect }) => Ok((decode_hex(packet)?, expect.clone())),
        _ => Err(format!("golden case {case} does not start with a frame")),
    }
}

/// The test (one file), numbered `n` in the STF folder.
pub fn host_port_stf_tests(vectors: &Vectors, n: usize) -> Result<Vec<StfTest>, String> {
    let ports = test_ports();
    let routes = test_routes();
    let base = golden_case(vectors, "first-packet-of-session")?;
    let config = &base.config;
    let (request, request_expect) = first_frame(vectors, "first-packet-of-session")?;
    let (stamped, stamped_expect) = first_frame(vectors, "already-sequenced")?;
    if !matches!(&stamped_expect, Expect::Drop { reason } if reason == "already-sequenced") {
        return Err("already-sequenced is not a drop as already-sequenced".to_string());
    }
    // The same stamp as an authenticated one would carry it: header size 18 (the golden
    // verdict of that header size is bad-header-size, which a switch routes).
    let mut sealed = stamped.clone();
    let ihl = usize::from(sealed.get(14).ok_or("short frame")? & 0x0f);
    let size_at = 14 + ihl * 4 + 8 + 4;
    sealed
        .get_mut(size_at..size_at + 2)
        .ok_or("short frame")?
        .copy_from_slice(&18u16.to_be_bytes());
    let sealed_expect = Expect::Drop {
        reason: "bad-header-size".to_string(),
    };
    for (what, frame) in [("the stamped frame", &stamped), ("header size 18", &sealed)] {
        if !stamp_claim(frame, config.oum_port) {
            return Err(format!("{what} is not a stamp claim to the OUM port"));
        }
    }
    if stamp_claim(&request, config.oum_port) {
        return Err("the client's request counts as a stamp claim".to_string());
    }

    let mut cmds = header_comments();
    cmds.push(Cmd::Comment(format!(
        "Switch-only test of host-facing ports (table host_ports): port {HOST_PORT} is \
         host-facing, port {NOT_HOST_PORT} (a replica's) is not."
    )));
    cmds.extend(routes.iter().map(route_cmd));
    cmds.push(Cmd::Comment(String::new()));
    cmds.push(Cmd::Comment(
        "case switch-stamp-from-host-port: (switch only) stamps from a host-facing port are \
         forged and dropped; from other ports they are routed as before."
            .to_string(),
    ));
    configure(
        &mut cmds,
        &mut Allocations::default(),
        config,
        config.session,
        &ports,
    )?;
    cmds.push(SwitchPlan::host_port_cmd(HOST_PORT));
    push_frame_step(
        &mut cmds,
        0,
        HOST_PORT,
        &request,
        &request_expect,
        &ports,
        &routes,
    )?;
    let claims = [
        (&stamped, &stamped_expect, "header size 10"),
        (&sealed, &sealed_expect, "header size 18"),
    ];
    for (k, (frame, expect, what)) in claims.into_iter().enumerate() {
        let i = 1 + 2 * k;
        cmds.push(Cmd::Comment(format!(
            "step {i}: a stamp ({what}) from host-facing port {HOST_PORT}"
        )));
        cmds.push(Cmd::Packet {
            port: HOST_PORT,
            bytes: frame.clone(),
        });
        cmds.push(Cmd::Comment(
            "switch: dropped, nothing out of any port (forged stamp: verdict 6)".to_string(),
        ));
        push_frame_step(
            &mut cmds,
            i + 1,
            NOT_HOST_PORT,
            frame,
            expect,
            &ports,
            &routes,
        )?;
    }
    push_sentinels(&mut cmds, &drop_sentinel(vectors)?);
    Ok(vec![StfTest {
        file_name: format!("{n:02}-switch-stamp-from-host-port.stf"),
        cmds,
    }])
}
