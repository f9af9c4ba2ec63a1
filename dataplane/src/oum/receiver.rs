//! The OUM receiver: the paper's libOUM `getMessage` / `listen` API, sans-IO.

use std::cmp::Ordering;
use std::time::Duration;

use super::{SessionNumber, Stamp};
use crate::time::Time;
use crate::wire::OumRepr;

/// How long a gap may stay open before it becomes drop notifications, and how many
/// out-of-order packets may wait meanwhile.
///
/// The wait adapts to the reordering the receiver actually sees, as TCP's RACK reordering
/// window does (RFC 8985): it starts at `min_reorder_window`, and each time a message
/// reported dropped arrives after all (the wait was too short: a false drop, which costs the
/// protocol a needless gap agreement) it grows to at least twice itself and to a little more
/// than that message's lateness, never beyond `reorder_window`; after [`CALM_EVENTS`]
/// messages without a false drop it halves back towards the floor. On a network that does
/// not reorder, a gap is then a drop at once, as in the paper, instead of costing every
/// replica a fixed wait that holds up every later request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// The longest a missing message is waited for once a later one has arrived. Zero gives
    /// the paper's behaviour (a gap is a drop at once); waiting absorbs reordering, which
    /// made the original report false gaps (it waited 5 ms before asking).
    pub reorder_window: Duration,
    /// The shortest wait, where the adaptive window starts (at most `reorder_window`).
    pub min_reorder_window: Duration,
    /// Packets held out of order, rounded up to a power of two. A packet further ahead than
    /// this forces the messages before its window to be reported dropped.
    pub pending_capacity: usize,
    /// A packet more than this many message numbers ahead of the next expected one is
    /// refused ([`Discard::TooFarAhead`]) instead of becoming that many drop notifications:
    /// a receiver so far behind must catch up by state transfer, not message by message.
    pub max_gap: u64,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            reorder_window: Duration::from_micros(1000),
            min_reorder_window: Duration::ZERO,
            pending_capacity: 1024,
            max_gap: 1 << 16,
        }
    }
}

/// What the receiver hands to its user, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<P> {
    /// The next message of the session.
    Message { stamp: Stamp, packet: P },
    /// The message with this stamp was lost: one notification per missing message number.
    Drop(Stamp),
    /// A packet of a newer session arrived: the current session is over (`old` is `None`
    /// when the receiver had not yet listened to any session). Nothing more is delivered
    /// until [`Receiver::listen`] names where to resume; packets of the new session that
    /// arrive meanwhile are held.
    SessionTerminated {
        old: Option<SessionNumber>,
        new: SessionNumber,
    },
}

/// Why a packet was discarded instead of being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Not an OUM header (truncated, wrong preamble, bad header size).
    Malformed,
    /// Never stamped by a sequencer.
    Unsequenced,
    /// Already delivered, reported dropped, or already waiting.
    Duplicate,
    /// From a session older than the current one.
    StaleSession,
    /// Too far ahead to hold: its place in the window was taken.
    BeyondWindow,
    /// Further ahead than `max_gap`: the receiver has fallen too far behind (or the stamp is
    /// bogus); the protocol above should catch up by state transfer.
    TooFarAhead,
    /// A stamp that would, on its own, end the session (a newer one) or force a run of drop
    /// notifications (beyond the reorder ring), set aside and displaced by another before a
    /// second such stamp confirmed it ([`Receiver::on_stamped`]).
    Unconfirmed,
}

/// A discarded packet, handed back so its buffer can be reused.
#[derive(Debug)]
pub struct Rejected<P> {
    pub reason: Discard,
    pub packet: P,
}

/// Messages delivered or reported dropped without a false drop before the reorder window
/// halves (about 0.1 s at 40k requests a second).
pub const CALM_EVENTS: u32 = 4096;

/// The least a false drop widens the window to: from zero, doubling alone never grows.
pub const WIDEN_STEP: Duration = Duration::from_micros(20);

/// Recently reported drops remembered, to recognise a message that arrives after its drop.
const REPORTED: usize = 64;

/// Counters of a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverStats {
    pub delivered: u64,
    pub drops_notified: u64,
    pub sessions_terminated: u64,
    pub malformed: u64,
    pub unsequenced: u64,
    pub duplicate: u64,
    pub stale_session: u64,
    pub beyond_window: u64,
    pub too_far_ahead: u64,
    /// Lone stamps of a newer session or far ahead, set aside and never confirmed (see
    /// [`Discard::Unconfirmed`]).
    pub unconfirmed: u64,
    /// Held packets thrown away because a session ended or `listen` moved past them.
    pub superseded: u64,
    /// Messages that arrived after they were reported dropped (false drops: each widened
    /// the reorder window). Also counted in `duplicate`, as they are discarded.
    pub late_after_drop: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No session yet: the first stamped packet ends the "no session" state.
    Unbound,
    Listening {
        session: SessionNumber,
        next: u64,
    },
    /// Waiting for `listen` after a session ended; `newest` is the newest session seen.
    Terminated {
        old: Option<SessionNumber>,
        newest: SessionNumber,
    },
}

#[derive(Debug)]
struct Held<P> {
    stamp: Stamp,
    arrived: Time,
    packet: P,
}

/// Delivers stamped packets in message-number order, one session at a time.
///
/// Drive it with [`Receiver::on_payload`] (or [`Receiver::on_stamped`]) for every packet and
/// drain [`Receiver::poll_event`] until it returns `None`; call `poll_event` again by
/// [`Receiver::next_deadline`]. Out-of-order packets wait in a fixed ring, so the receive
/// path never allocates.
#[derive(Debug)]
pub struct Receiver<P> {
    /// The current reorder window, between `min_window` and `max_window`.
    window: Duration,
    min_window: Duration,
    max_window: Duration,
    /// Messages since the window last changed size or saw a false drop.
    calm: u32,
    /// Recently reported drops at `msgnum % REPORTED`: (msgnum + 1, when its gap opened);
    /// msgnum + 1 is 0 for an empty entry.
    reported: [(u64, Time); REPORTED],
    max_gap: u64,
    state: State,
    /// Held packets, at index `msgnum & mask`; an entry may belong to a later lap.
    ring: Box<[Option<Held<P>>]>,
    mask: u64,
    held: usize,
    /// Earliest arrival among the held packets once `next` is known missing; computed
    /// lazily and forgotten when a delivery may have removed the earliest one.
    gap_clock: Option<Time>,
    /// Missing numbers below this are reported dropped without waiting.
    forced_until: u64,
    notice: Option<(Option<SessionNumber>, SessionNumber)>,
    /// The last stamp (and its packet) that would have ended the session or jumped beyond
    /// the ring, with the count of events when it came: a second one of the same session,
    /// within a ring of it, with no event in between, confirms the jump.
    suspect: Option<(Held<P>, u64)>,
    stats: ReceiverStats,
}

impl<P> Receiver<P> {
    /// A receiver that has not listened to any session yet.
    pub fn new(config: ReceiverConfig) -> Receiver<P> {
        let capacity = config
            .pending_capacity
            .clamp(1, 1 << 20)
            .next_power_of_two();
        let min_window = config.min_reorder_window.min(config.reorder_window);
        Receiver {
            window: min_window,
            min_window,
            max_window: config.reorder_window,
            calm: 0,
            reported: [(0, Time::ZERO); REPORTED],
            max_gap: config.max_gap,
            state: State::Unbound,
            ring: (0..capacity).map(|_| None).collect(),
            mask: capacity as u64 - 1,
            held: 0,
            gap_clock: None,
            forced_until: 0,
            notice: None,
            suspect: None,
            stats: ReceiverStats::default(),
        }
    }

    /// Starts (or restarts) delivery at message `msgnum` of `session`. Held packets of that
    /// session from `msgnum` on (and at most `max_gap` ahead) are kept; everything else held
    /// is thrown away.
    pub fn listen(&mut self, session: SessionNumber, msgnum: u64) {
        for slot in self.ring.iter_mut() {
            let keep = slot.as_ref().is_some_and(|h| {
                h.stamp.session == session
                    && h.stamp.msgnum >= msgnum
                    && h.stamp.msgnum - msgnum <= self.max_gap
            });
            if !keep && slot.take().is_some() {
                self.held -= 1;
                self.stats.superseded += 1;
            }
        }
        self.state = State::Listening {
            session,
            next: msgnum,
        };
        self.gap_clock = None;
        self.forced_until = 0;
        self.notice = None;
        if self.suspect.take().is_some() {
            self.stats.superseded += 1;
        }
        self.reported = [(0, Time::ZERO); REPORTED];
    }

    /// How long a gap is waited for now (the adaptive reorder window).
    pub fn reorder_window(&self) -> Duration {
        self.window
    }

    /// The session being delivered, if any.
    pub fn session(&self) -> Option<SessionNumber> {
        match self.state {
            State::Listening { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The newest session seen: the one being delivered, or the one that ended it and
    /// awaits `listen`; `None` before the first stamp. A starting sequencer asks for this
    /// ([`super::SessionQuery`]) so that it never picks an older one.
    pub fn newest_session(&self) -> Option<SessionNumber> {
        match self.state {
            State::Unbound => None,
            State::Listening { session, .. } => Some(session),
            State::Terminated { newest, .. } => Some(newest),
        }
    }

    /// The message number the next `Message` or `Drop` event will carry, while listening.
    pub fn next_msgnum(&self) -> Option<u64> {
        match self.state {
            State::Listening { next, .. } => Some(next),
            _ => None,
        }
    }

    pub fn stats(&self) -> &ReceiverStats {
        &self.stats
    }

    /// Takes a UDP payload that starts with an OUM header.
    pub fn on_payload(&mut self, now: Time, packet: P) -> Result<(), Rejected<P>>
    where
        P: AsRef<[u8]>,
    {
        match OumRepr::parse_bytes(packet.as_ref()) {
            Ok(OumRepr::Sequenced(stamp)) => self.on_stamped(now, stamp, packet),
            Ok(OumRepr::Unsequenced) => Err(self.reject(Discard::Unsequenced, packet)),
            Err(_) => Err(self.reject(Discard::Malformed, packet)),
        }
    }

    /// Delivers `stamp` at once if it is exactly the next message of the current session
    /// and nothing else waits (no held packet, no pending session notice): the outcome of
    /// [`Receiver::on_stamped`] followed by [`Receiver::poll_event`], without the packet
    /// passing through the reorder ring. Returns false, changing nothing, otherwise; the
    /// caller then hands the packet to `on_stamped`.
    pub fn deliver_in_order(&mut self, stamp: Stamp) -> bool {
        match self.state {
            State::Listening { session, next }
                if self.held == 0
                    && self.notice.is_none()
                    && stamp.session == session
                    && stamp.msgnum == next =>
            {
                self.advance(session, next);
                self.gap_clock = None;
                self.stats.delivered += 1;
                true
            }
            _ => false,
        }
    }

    /// Takes a packet whose stamp the caller already parsed.
    ///
    /// A stamp of a newer session (or the first one ever, unless it is message 1), or of the
    /// current session beyond
    /// the reorder ring, is acted on (the session ends; the messages before its window are
    /// reported dropped, or it is [`Discard::TooFarAhead`]) only when it is *confirmed*: by a
    /// second such stamp of the same session, a different message number at most a ring
    /// away, with no message delivered in between. Until then it is set aside (one at a time;
    /// the one it displaces is handed back as [`Discard::Unconfirmed`]). One stray or forged
    /// datagram therefore cannot end a session (which made every replica change view to a
    /// session no sequencer serves) nor make the protocol agree on tens of thousands of
    /// missing slots. A real failover, or a receiver really left behind, brings a stream of
    /// such stamps, so the second comes at once, and then both are kept: the first costs
    /// nothing. (Keeping it adds no exposure: a forged stamp that a genuine one can confirm
    /// lies within a ring of the real stream, where no receiver can tell forged from real
    /// without authenticated stamps.)
    pub fn on_stamped(&mut self, now: Time, stamp: Stamp, packet: P) -> Result<(), Rejected<P>> {
        // The common case (a message of the current session within the ring) first, with
        // the rest out of line so this stays as small as it was before jumps were checked.
        match self.state {
            State::Listening { session, next }
                if stamp.session == session
                    && stamp.msgnum >= next
                    && stamp.msgnum - next <= self.mask =>
            {
                self.hold(now, stamp, packet)
            }
            _ => self.on_stamped_otherwise(now, stamp, packet),
        }
    }

    /// [`Receiver::on_stamped`] for everything but a message within the ring.
    #[cold]
    #[inline(never)]
    fn on_stamped_otherwise(
        &mut self,
        now: Time,
        stamp: Stamp,
        packet: P,
    ) -> Result<(), Rejected<P>> {
        match self.state {
            // The first session too: a replica that starts on a stray stamp would change view
            // to a session no sequencer serves (found by the simulator's stray fault). Except
            // a session's first message, where a cluster that has heard nothing yet starts:
            // its first request then needs no resend.
            State::Unbound if stamp.msgnum == 1 => {
                self.terminate(None, stamp.session);
                self.hold(now, stamp, packet)
            }
            State::Unbound => {
                let (packet, earlier) = match self.confirm(now, stamp, packet) {
                    Ok(confirmed) => confirmed,
                    Err(set_aside) => return set_aside,
                };
                self.terminate(None, stamp.session);
                self.hold_both(now, stamp, packet, earlier)
            }
            State::Listening { session, next } => match stamp.session.serial_cmp(session) {
                Ordering::Less => Err(self.reject(Discard::StaleSession, packet)),
                Ordering::Greater => {
                    let (packet, earlier) = match self.confirm(now, stamp, packet) {
                        Ok(confirmed) => confirmed,
                        Err(set_aside) => return set_aside,
                    };
                    self.terminate(Some(session), stamp.session);
                    self.hold_both(now, stamp, packet, earlier)
                }
                Ordering::Equal if stamp.msgnum < next => {
                    self.late_check(now, stamp.msgnum);
                    Err(self.reject(Discard::Duplicate, packet))
                }
                Ordering::Equal if stamp.msgnum - next <= self.mask => {
                    self.hold(now, stamp, packet)
                }
                Ordering::Equal => {
                    let (packet, earlier) = match self.confirm(now, stamp, packet) {
                        Ok(confirmed) => confirmed,
                        Err(set_aside) => return set_aside,
                    };
                    if stamp.msgnum - next > self.max_gap {
                        // The earlier stamp, set aside, goes with it.
                        if let Some(e) = earlier {
                            let _ = self.reject(Discard::TooFarAhead, e.packet);
                        }
                        return Err(self.reject(Discard::TooFarAhead, packet));
                    }
                    let top = earlier
                        .as_ref()
                        .map_or(stamp.msgnum, |e| e.stamp.msgnum.max(stamp.msgnum));
                    self.forced_until = self.forced_until.max(top - self.mask);
                    self.hold_both(now, stamp, packet, earlier)
                }
            },
            State::Terminated { old, newest } => match stamp.session.serial_cmp(newest) {
                Ordering::Less => Err(self.reject(Discard::StaleSession, packet)),
                Ordering::Greater => {
                    let (packet, earlier) = match self.confirm(now, stamp, packet) {
                        Ok(confirmed) => confirmed,
                        Err(set_aside) => return set_aside,
                    };
                    self.terminate(old, stamp.session);
                    self.hold_both(now, stamp, packet, earlier)
                }
                Ordering::Equal => self.hold(now, stamp, packet),
            },
        }
    }

    /// The next event, if one is due at `now`.
    pub fn poll_event(&mut self, now: Time) -> Option<Event<P>> {
        if let Some((old, new)) = self.notice.take() {
            self.stats.sessions_terminated += 1;
            return Some(Event::SessionTerminated { old, new });
        }
        let State::Listening { session, next } = self.state else {
            return None;
        };
        if self.held == 0 {
            return None;
        }
        let index = (next & self.mask) as usize;
        let slot = self.ring.get_mut(index)?;
        if slot.as_ref().is_some_and(|h| h.stamp.msgnum == next) {
            let held = slot.take()?;
            self.held -= 1;
            self.advance(session, next);
            self.gap_clock = None;
            self.stats.delivered += 1;
            return Some(Event::Message {
                stamp: held.stamp,
                packet: held.packet,
            });
        }
        // `next` is missing while something later waits: a gap, open since the earliest of
        // those later packets arrived.
        let gap_clock = match self.gap_clock {
            Some(clock) => clock,
            None => *self.gap_clock.insert(self.earliest_arrival()),
        };
        if next < self.forced_until || now >= gap_clock + self.window {
            self.advance(session, next);
            self.stats.drops_notified += 1;
            if let Some(entry) = self.reported.get_mut(next as usize % REPORTED) {
                *entry = (next.saturating_add(1), gap_clock);
            }
            return Some(Event::Drop(Stamp {
                session,
                msgnum: next,
            }));
        }
        None
    }

    /// Takes, after [`Receiver::poll_event`] returned `Event::Drop(s)`, up to `max` of the
    /// drop notifications that would follow it at once (for `s + 1`, `s + 2`, ...: missing
    /// numbers whose wait is over), and returns how many it took. The same as calling
    /// `poll_event` that many more times and getting a `Drop` each time, without building
    /// the events: a protocol can then agree on the whole run of missing messages at once
    /// instead of one at a time. Stops at the first held message or at a number still
    /// waited for.
    pub fn poll_drops(&mut self, now: Time, max: u64) -> u64 {
        let mut taken = 0;
        while taken < max && self.notice.is_none() && self.held > 0 {
            let State::Listening { session, next } = self.state else {
                break;
            };
            let index = (next & self.mask) as usize;
            if self
                .ring
                .get(index)
                .and_then(Option::as_ref)
                .is_some_and(|h| h.stamp.msgnum == next)
            {
                break;
            }
            let gap_clock = match self.gap_clock {
                Some(clock) => clock,
                None => *self.gap_clock.insert(self.earliest_arrival()),
            };
            if next >= self.forced_until && now < gap_clock + self.window {
                break;
            }
            self.advance(session, next);
            self.stats.drops_notified += 1;
            if let Some(entry) = self.reported.get_mut(next as usize % REPORTED) {
                *entry = (next.saturating_add(1), gap_clock);
            }
            taken += 1;
        }
        taken
    }

    /// When `poll_event` will next have something without new input, if ever.
    pub fn next_deadline(&self) -> Option<Time> {
        if self.notice.is_some() {
            return Some(Time::ZERO);
        }
        match self.state {
            State::Listening { next, .. } if self.held > 0 => {
                let index = (next & self.mask) as usize;
                let ready = self
                    .ring
                    .get(index)
                    .and_then(Option::as_ref)
                    .is_some_and(|h| h.stamp.msgnum == next);
                if ready || next < self.forced_until {
                    Some(Time::ZERO)
                } else {
                    let clock = self.gap_clock.unwrap_or_else(|| self.earliest_arrival());
                    Some(clock + self.window)
                }
            }
            _ => None,
        }
    }

    /// If `stamp` confirms the stamp set aside, hands back its packet and the earlier one;
    /// otherwise sets it aside in the earlier one's place, and the outcome to return is
    /// `Err`: nothing displaced, or the displaced packet as [`Discard::Unconfirmed`]. The
    /// delivery count is compared rather than the suspect cleared on each delivery, so the
    /// in-order path pays nothing for this.
    #[allow(clippy::type_complexity)]
    fn confirm(
        &mut self,
        now: Time,
        stamp: Stamp,
        packet: P,
    ) -> Result<(P, Option<Held<P>>), Result<(), Rejected<P>>> {
        let events = self.events();
        let confirms = self.suspect.as_ref().is_some_and(|(s, at)| {
            *at == events
                && s.stamp.session == stamp.session
                && s.stamp.msgnum != stamp.msgnum
                && s.stamp.msgnum.abs_diff(stamp.msgnum) <= self.mask
        });
        if confirms {
            return Ok((packet, self.suspect.take().map(|(s, _)| s)));
        }
        let held = Held {
            stamp,
            arrived: now,
            packet,
        };
        match self.suspect.replace((held, events)) {
            Some((displaced, _)) => Err(Err(self.reject(Discard::Unconfirmed, displaced.packet))),
            None => Err(Ok(())),
        }
    }

    /// Messages delivered so far: a suspect is confirmed only if the current session
    /// delivered nothing between it and its confirmation (drop notifications do not count:
    /// they come from the receiver's own clock, and the old session's last gaps are
    /// reported while a real failover's first stamps arrive).
    fn events(&self) -> u64 {
        self.stats.delivered
    }

    /// Holds a confirmed stamp's packet and the earlier one it confirmed.
    fn hold_both(
        &mut self,
        now: Time,
        stamp: Stamp,
        packet: P,
        earlier: Option<Held<P>>,
    ) -> Result<(), Rejected<P>> {
        let result = self.hold(now, stamp, packet);
        let Some(e) = earlier else {
            return result;
        };
        // Drops may have moved delivery past it meanwhile: a stamp behind the delivery point
        // must not sit in the ring, where it would keep the slot from its ring-mate.
        if let State::Listening { next, .. } = self.state
            && e.stamp.msgnum < next
        {
            let _ = self.reject(Discard::Duplicate, e.packet);
            return result;
        }
        // Within a ring of `stamp` and distinct from it, so it has a slot of its own.
        match self.hold(e.arrived, e.stamp, e.packet) {
            Err(rejected) if result.is_ok() => Err(rejected),
            _ => result,
        }
    }

    /// Scans the ring, stopping once every held packet was seen; only gaps pay for this.
    fn earliest_arrival(&self) -> Time {
        self.ring
            .iter()
            .flatten()
            .take(self.held)
            .map(|h| h.arrived)
            .min()
            .unwrap_or(Time::ZERO)
    }

    fn advance(&mut self, session: SessionNumber, next: u64) {
        // Message numbers stop at 2^64-1 (the sequencer ends the session there), so the
        // saturation is never reached by real traffic.
        self.state = State::Listening {
            session,
            next: next.saturating_add(1),
        };
        self.calm += 1;
        if self.calm >= CALM_EVENTS {
            self.calm = 0;
            let half = self.window / 2;
            self.window = if half < WIDEN_STEP {
                self.min_window
            } else {
                half.max(self.min_window)
            };
        }
    }

    /// A packet of the current session behind the delivery point: if its drop was reported,
    /// the window was too short for this network's reordering, so it grows.
    fn late_check(&mut self, now: Time, msgnum: u64) {
        let Some(entry) = self.reported.get_mut(msgnum as usize % REPORTED) else {
            return;
        };
        if entry.0 != msgnum.saturating_add(1) {
            return;
        }
        let lateness = now.saturating_since(entry.1);
        *entry = (0, Time::ZERO);
        self.stats.late_after_drop += 1;
        self.calm = 0;
        self.window = (self.window * 2)
            .max(lateness + lateness / 4)
            .max(WIDEN_STEP)
            .max(self.min_window)
            .min(self.max_window);
    }

    fn terminate(&mut self, old: Option<SessionNumber>, new: SessionNumber) {
        for slot in self.ring.iter_mut() {
            if slot.take().is_some() {
                self.stats.superseded += 1;
            }
        }
        self.held = 0;
        self.forced_until = 0;
        self.gap_clock = None;
        if self.suspect.take().is_some() {
            self.stats.superseded += 1;
        }
        self.reported = [(0, Time::ZERO); REPORTED];
        self.state = State::Terminated { old, newest: new };
        self.notice = Some((old, new));
    }

    fn hold(&mut self, now: Time, stamp: Stamp, packet: P) -> Result<(), Rejected<P>> {
        let index = (stamp.msgnum & self.mask) as usize;
        let Some(slot) = self.ring.get_mut(index) else {
            return Err(self.reject(Discard::BeyondWindow, packet));
        };
        match slot {
            None => {
                *slot = Some(Held {
                    stamp,
                    arrived: now,
                    packet,
                });
                self.held += 1;
                Ok(())
            }
            Some(h) if h.stamp.msgnum == stamp.msgnum => {
                Err(self.reject(Discard::Duplicate, packet))
            }
            Some(h) if stamp.msgnum < h.stamp.msgnum => {
                // Keep the lower number: it is delivered first.
                let displaced = std::mem::replace(
                    h,
                    Held {
                        stamp,
                        arrived: now,
                        packet,
                    },
                );
                Err(self.reject(Discard::BeyondWindow, displaced.packet))
            }
            Some(_) => Err(self.reject(Discard::BeyondWindow, packet)),
        }
    }

    fn reject(&mut self, reason: Discard, packet: P) -> Rejected<P> {
        let counter = match reason {
            Discard::Malformed => &mut self.stats.malformed,
            Discard::Unsequenced => &mut self.stats.unsequenced,
            Discard::Duplicate => &mut self.stats.duplicate,
            Discard::StaleSession => &mut self.stats.stale_session,
            Discard::BeyondWindow => &mut self.stats.beyond_window,
            Discard::TooFarAhead => &mut self.stats.too_far_ahead,
            Discard::Unconfirmed => &mut self.stats.unconfirmed,
        };
        *counter += 1;
        Rejected { reason, packet }
    }
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
