//! Handing a host's datagrams and timer ticks to its core.

use std::mem;

use dataplane::io::sim::SimIo;
use dataplane::io::{Packet, PacketIo};

use crate::routes::{Routes, Scratch, flush};
use crate::time::Time;
use crate::trace::{Trace, show_datagram};
use protocols::Node;

/// Datagrams taken from a host's inbox per receive call.
const BURST: usize = 64;

/// Who a trace line is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Label {
    Replica(usize),
    Client(usize),
}

/// Hands the datagrams due at `host` to its core, draining the core's transmits after each:
/// all of them, or with `one_burst` only the first receive call's worth (what a process's
/// event loop reads before it checks its timers). Returns the transmits that named no host.
#[allow(clippy::too_many_arguments)]
pub(super) fn deliver<N: Node>(
    core: &mut N,
    io: &mut SimIo,
    now: Time,
    routes: &Routes,
    sender: Option<usize>,
    scratch: &mut Scratch,
    trace: &mut Trace<'_>,
    label: Label,
    one_burst: bool,
) -> u64 {
    let mut misrouted = 0;
    let mut bursts = 0;
    while !(one_burst && bursts == 1) {
        bursts += 1;
        let got = io.recv_burst(&mut scratch.rx, BURST).unwrap_or(0);
        if got == 0 {
            break;
        }
        let mut batch = mem::take(&mut scratch.rx);
        for buf in batch.drain(..) {
            if trace.on(2) {
                let who = match label {
                    Label::Replica(i) => format!("replica {i}"),
                    Label::Client(i) => format!("client {}", i + 1),
                };
                trace.line(
                    now,
                    format_args!("{who} <- {} {}", buf.peer(), show_datagram(buf.as_ref())),
                );
            }
            core.handle_datagram(now, buf.peer(), buf.as_ref());
            io.free(buf);
            misrouted += flush(core, io, routes, sender, scratch).misrouted;
        }
        scratch.rx = batch;
    }
    misrouted
}

/// Fires the core's timer if it is due, then drains its transmits.
pub(super) fn fire_timer<N: Node>(
    core: &mut N,
    io: &mut SimIo,
    now: Time,
    routes: &Routes,
    sender: Option<usize>,
    scratch: &mut Scratch,
) -> u64 {
    if core.poll_timeout().is_some_and(|t| t <= now) {
        core.handle_timeout(now);
        flush(core, io, routes, sender, scratch).misrouted
    } else {
        0
    }
}
