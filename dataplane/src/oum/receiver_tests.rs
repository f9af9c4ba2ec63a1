use std::time::Duration;

use super::*;
use crate::wire::OumRepr;
use crate::wire::build::oum_payload;

const WINDOW: Duration = Duration::from_micros(100);

fn receiver(capacity: usize) -> Receiver<Vec<u8>> {
    Receiver::new(ReceiverConfig {
        reorder_window: WINDOW,
        min_reorder_window: WINDOW,
        pending_capacity: capacity,
        max_gap: 1000,
    })
}

fn stamped(session: u16, msgnum: u64) -> Vec<u8> {
    oum_payload(
        OumRepr::Sequenced(Stamp::new(session, msgnum)),
        &msgnum.to_be_bytes(),
    )
}

fn t(micros: u64) -> Time {
    Time::from_micros(micros)
}

/// Events as short strings: "m5" message 5, "d5" drop 5, "end:1->2" session end.
fn drain(r: &mut Receiver<Vec<u8>>, now: Time) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = r.poll_event(now) {
        out.push(match e {
            Event::Message { stamp, packet } => {
                assert_eq!(&packet[16..], &stamp.msgnum.to_be_bytes(), "right packet");
                format!("m{}", stamp.msgnum)
            }
            Event::Drop(stamp) => format!("d{}", stamp.msgnum),
            Event::SessionTerminated { old, new } => match old {
                Some(old) => format!("end:{old}->{new}"),
                None => format!("end:none->{new}"),
            },
        });
    }
    out
}

fn feed(r: &mut Receiver<Vec<u8>>, now: Time, session: u16, msgnum: u64) -> Result<(), Discard> {
    r.on_payload(now, stamped(session, msgnum))
        .map_err(|rejected| rejected.reason)
}

#[test]
fn the_first_session_confirmed_ends_the_unbound_state_and_its_stamps_are_held() {
    let mut r = receiver(16);
    // Alone, the first stamp may be a stray: it is set aside until a second confirms it
    // (unless it is a session's first message, below).
    feed(&mut r, t(0), 4, 3).unwrap();
    assert!(drain(&mut r, t(0)).is_empty());
    feed(&mut r, t(0), 4, 2).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["end:none->4"]);
    assert_eq!(r.session(), None);
    r.listen(SessionNumber(4), 2);
    assert_eq!(drain(&mut r, t(0)), ["m2", "m3"]);
    assert_eq!(r.next_msgnum(), Some(4));
}

#[test]
fn in_order_messages_are_delivered_at_once() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    for n in 1..=5 {
        feed(&mut r, t(n), 1, n).unwrap();
        assert_eq!(drain(&mut r, t(n)), [format!("m{n}")]);
    }
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.stats().delivered, 5);
}

#[test]
fn reordering_inside_the_window_is_absorbed() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 2).unwrap();
    feed(&mut r, t(10), 1, 3).unwrap();
    assert!(drain(&mut r, t(10)).is_empty());
    assert_eq!(r.next_deadline(), Some(t(0) + WINDOW));
    feed(&mut r, t(50), 1, 1).unwrap();
    assert_eq!(drain(&mut r, t(50)), ["m1", "m2", "m3"]);
    assert_eq!(r.stats().drops_notified, 0);
}

#[test]
fn a_gap_becomes_one_drop_per_missing_number_after_the_window() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 1).unwrap();
    feed(&mut r, t(1), 1, 4).unwrap();
    assert_eq!(drain(&mut r, t(1)), ["m1"]);
    assert!(drain(&mut r, t(100)).is_empty(), "window not over yet");
    assert_eq!(drain(&mut r, t(101)), ["d2", "d3", "m4"]);
    // A late copy of a dropped message is a duplicate now.
    assert_eq!(feed(&mut r, t(102), 1, 2), Err(Discard::Duplicate));
    assert_eq!(r.stats().drops_notified, 2);
}

#[test]
fn zero_window_reports_gaps_immediately_as_the_paper_does() {
    let mut r: Receiver<Vec<u8>> = Receiver::new(ReceiverConfig {
        reorder_window: Duration::ZERO,
        min_reorder_window: Duration::ZERO,
        pending_capacity: 8,
        max_gap: 1000,
    });
    r.listen(SessionNumber(9), 10);
    feed(&mut r, t(0), 9, 12).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["d10", "d11", "m12"]);
}

#[test]
fn duplicates_stale_sessions_and_unsequenced_packets_are_discarded_and_counted() {
    let mut r = receiver(16);
    r.listen(SessionNumber(5), 1);
    feed(&mut r, t(0), 5, 1).unwrap();
    feed(&mut r, t(0), 5, 3).unwrap();
    assert_eq!(
        feed(&mut r, t(0), 5, 3),
        Err(Discard::Duplicate),
        "held twice"
    );
    assert_eq!(drain(&mut r, t(0)), ["m1"]);
    assert_eq!(
        feed(&mut r, t(0), 5, 1),
        Err(Discard::Duplicate),
        "delivered twice"
    );
    assert_eq!(feed(&mut r, t(0), 4, 2), Err(Discard::StaleSession));
    let unsequenced = oum_payload(OumRepr::Unsequenced, b"x");
    assert_eq!(
        r.on_payload(t(0), unsequenced).map_err(|e| e.reason),
        Err(Discard::Unsequenced)
    );
    assert_eq!(
        r.on_payload(t(0), vec![1, 2, 3]).map_err(|e| e.reason),
        Err(Discard::Malformed)
    );
    let s = r.stats();
    assert_eq!(
        (s.duplicate, s.stale_session, s.unsequenced, s.malformed),
        (2, 1, 1, 1)
    );
    assert_eq!(s.delivered, 1);
}

#[test]
fn rejected_packets_are_handed_back() {
    let mut r = receiver(16);
    r.listen(SessionNumber(5), 3);
    let packet = stamped(5, 2);
    let rejected = r.on_payload(t(0), packet.clone()).unwrap_err();
    assert_eq!(rejected.packet, packet);
}

#[test]
fn newer_session_terminates_and_its_packets_wait_for_listen() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 1).unwrap();
    feed(&mut r, t(0), 1, 3).unwrap(); // held behind a gap, lost with the session
    assert_eq!(drain(&mut r, t(0)), ["m1"]);
    feed(&mut r, t(1), 2, 2).unwrap();
    feed(&mut r, t(1), 2, 1).unwrap();
    assert_eq!(drain(&mut r, t(1)), ["end:1->2"]);
    assert_eq!(feed(&mut r, t(2), 1, 4), Err(Discard::StaleSession));
    assert!(drain(&mut r, t(1000)).is_empty(), "nothing until listen");
    r.listen(SessionNumber(2), 1);
    assert_eq!(drain(&mut r, t(1000)), ["m1", "m2"]);
    assert_eq!(r.stats().superseded, 1);
    assert_eq!(r.stats().sessions_terminated, 1);
}

#[test]
fn a_yet_newer_session_while_terminated_is_reported_again() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 2, 1).unwrap();
    feed(&mut r, t(0), 2, 2).unwrap();
    // While terminated, a yet newer session needs confirming too.
    feed(&mut r, t(0), 3, 1).unwrap();
    feed(&mut r, t(0), 3, 2).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["end:1->3"]);
    assert_eq!(feed(&mut r, t(0), 2, 3), Err(Discard::StaleSession));
    r.listen(SessionNumber(3), 1);
    assert_eq!(drain(&mut r, t(0)), ["m1", "m2"]);
}

#[test]
fn session_numbers_wrap() {
    let mut r = receiver(16);
    r.listen(SessionNumber(65535), 1);
    feed(&mut r, t(0), 0, 1).unwrap();
    feed(&mut r, t(0), 0, 2).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["end:65535->0"]);
}

#[test]
fn listen_starts_mid_stream_and_discards_what_it_skips() {
    let mut r = receiver(16);
    feed(&mut r, t(0), 7, 5).unwrap();
    feed(&mut r, t(0), 7, 6).unwrap();
    feed(&mut r, t(0), 7, 8).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["end:none->7"]);
    r.listen(SessionNumber(7), 6);
    assert_eq!(drain(&mut r, t(0)), ["m6"]);
    // 7 is missing; its deadline counts from when 8 arrived.
    assert_eq!(r.next_deadline(), Some(t(0) + WINDOW));
    assert_eq!(drain(&mut r, t(100)), ["d7", "m8"]);
    assert_eq!(r.stats().superseded, 1);
}

#[test]
fn a_packet_beyond_the_window_forces_the_window_forward() {
    let mut r = receiver(4);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 2).unwrap();
    // 9 is 8 ahead of 1 in a 4-slot window: set aside until 8 confirms it, then 1..=5
    // must go without waiting.
    feed(&mut r, t(0), 1, 9).unwrap();
    assert!(drain(&mut r, t(0)).is_empty());
    feed(&mut r, t(0), 1, 8).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["d1", "m2", "d3", "d4", "d5"]);
    assert_eq!(drain(&mut r, t(100)), ["d6", "d7", "m8", "m9"]);
}

#[test]
fn window_conflicts_keep_the_lower_number() {
    let mut r = receiver(4);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 5).unwrap(); // set aside: beyond the window
    feed(&mut r, t(0), 1, 6).unwrap(); // slot 2, confirms 5 (slot 1)
    assert_eq!(feed(&mut r, t(0), 1, 2), Err(Discard::BeyondWindow)); // displaces 6
    assert_eq!(drain(&mut r, t(0)), ["d1", "m2"]);
    assert_eq!(r.stats().beyond_window, 1);
}

#[test]
fn random_streams_deliver_every_number_once_in_order() {
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let capacity = 1 << (rand() % 5);
        let mut r = receiver(capacity);
        r.listen(SessionNumber(1), 1);
        let total = 1 + rand() % 60;
        // Each message is lost, duplicated or delayed at random.
        let mut arrivals: Vec<(u64, u64)> = Vec::new();
        for n in 1..=total {
            let copies = match rand() % 10 {
                0 => 0,
                1 => 2,
                _ => 1,
            };
            for _ in 0..copies {
                arrivals.push((n * 10 + rand() % 300, n));
            }
        }
        arrivals.sort();
        let mut seen = Vec::new();
        let mut delivered = std::collections::BTreeSet::new();
        let mut accepted = 0;
        for &(at, n) in &arrivals {
            // Beyond the ring, a stamp is set aside and may never be confirmed.
            let within = r
                .next_msgnum()
                .is_some_and(|next| n < next + capacity as u64);
            if feed(&mut r, t(at), 1, n).is_ok() && within {
                accepted = accepted.max(n);
            }
            for e in drain(&mut r, t(at)) {
                seen.push(e);
            }
        }
        seen.extend(drain(&mut r, t(1_000_000)));
        let mut expect = 1;
        for e in &seen {
            let n: u64 = e[1..].parse().unwrap();
            assert_eq!(n, expect, "in order: {seen:?}");
            expect += 1;
            if e.starts_with('m') {
                delivered.insert(n);
            }
        }
        // Everything up to the last accepted arrival is accounted for; nothing invented. (A
        // packet refused for want of room is lost like any other, and noticed only once a
        // later one arrives.)
        assert!(expect > accepted, "{seen:?}");
        for n in &delivered {
            assert!(arrivals.iter().any(|&(_, m)| m == *n));
        }
    }
}

#[test]
fn a_stamp_implausibly_far_ahead_is_refused_not_turned_into_drops() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 1002).unwrap(); // set aside
    assert_eq!(feed(&mut r, t(0), 1, 1003), Err(Discard::TooFarAhead));
    feed(&mut r, t(0), 1, u64::MAX).unwrap();
    assert_eq!(
        feed(&mut r, t(0), 1, u64::MAX - 1),
        Err(Discard::TooFarAhead)
    );
    assert!(drain(&mut r, t(1_000_000)).is_empty());
    // Each confirmed pair: the confirming stamp and the one set aside.
    assert_eq!(r.stats().too_far_ahead, 4);
    // Exactly max_gap ahead is still a gap to report.
    feed(&mut r, t(0), 1, 1000).unwrap();
    feed(&mut r, t(0), 1, 1001).unwrap();
    assert_eq!(drain(&mut r, t(1_000_000)).len(), 1001);
}

#[test]
fn listen_drops_held_packets_too_far_ahead_of_its_position() {
    let mut r = receiver(16);
    feed(&mut r, t(0), 2, 4).unwrap();
    feed(&mut r, t(0), 2, 3).unwrap();
    feed(&mut r, t(0), 2, 5000).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["end:none->2"]);
    r.listen(SessionNumber(2), 1);
    assert_eq!(drain(&mut r, t(1_000_000)), ["d1", "d2", "m3", "m4"]);
    assert_eq!(r.stats().superseded, 1);
}

/// A receiver whose window adapts between 0 and 1 ms (the configuration's defaults).
fn adaptive() -> Receiver<Vec<u8>> {
    let mut r = Receiver::new(ReceiverConfig::default());
    r.listen(SessionNumber(1), 1);
    r
}

#[test]
fn an_adaptive_window_starts_at_its_floor() {
    let mut r = adaptive();
    assert_eq!(r.reorder_window(), Duration::ZERO);
    feed(&mut r, t(0), 1, 2).unwrap();
    assert_eq!(
        drain(&mut r, t(0)),
        ["d1", "m2"],
        "no reordering seen: a gap is a drop"
    );
}

#[test]
fn a_message_arriving_after_its_drop_widens_the_window_past_its_lateness() {
    let mut r = adaptive();
    feed(&mut r, t(0), 1, 2).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["d1", "m2"]);
    // Message 1 turns up 80 us after the gap opened: a false drop.
    assert_eq!(feed(&mut r, t(80), 1, 1), Err(Discard::Duplicate));
    assert_eq!(r.stats().late_after_drop, 1);
    assert_eq!(
        r.reorder_window(),
        Duration::from_micros(100),
        "80 us and a quarter"
    );
    // The same reordering now is absorbed.
    feed(&mut r, t(1000), 1, 4).unwrap();
    assert!(drain(&mut r, t(1099)).is_empty());
    feed(&mut r, t(1080), 1, 3).unwrap();
    assert_eq!(drain(&mut r, t(1080)), ["m3", "m4"]);
    // A second copy of a delivered message is a plain duplicate, not a false drop.
    assert_eq!(feed(&mut r, t(1090), 1, 3), Err(Discard::Duplicate));
    assert_eq!(r.stats().late_after_drop, 1);
    assert_eq!(r.reorder_window(), Duration::from_micros(100));
}

#[test]
fn false_drops_double_the_window_up_to_its_ceiling() {
    let mut r = adaptive();
    let mut widths = Vec::new();
    let mut now = 0;
    for msgnum in (1..40).step_by(2) {
        // msgnum + 1 arrives first; msgnum comes 1 us after it was reported dropped.
        feed(&mut r, t(now), 1, msgnum + 1).unwrap();
        let window = r.reorder_window().as_micros() as u64;
        assert!(drain(&mut r, t(now + window)).contains(&format!("d{msgnum}")));
        now += window + 1;
        assert_eq!(feed(&mut r, t(now), 1, msgnum), Err(Discard::Duplicate));
        widths.push(r.reorder_window().as_micros());
        now += 10;
    }
    assert_eq!(&widths[..8], [20, 40, 80, 160, 320, 640, 1000, 1000]);
    assert!(widths.iter().all(|&w| w <= 1000));
}

#[test]
fn a_calm_stream_halves_the_window_back_to_its_floor() {
    let mut r = adaptive();
    feed(&mut r, t(0), 1, 2).unwrap();
    drain(&mut r, t(0));
    feed(&mut r, t(500), 1, 1).unwrap_err();
    assert_eq!(r.reorder_window(), Duration::from_micros(625));
    let mut widths = Vec::new();
    let mut msgnum = 3;
    for _ in 0..7 {
        for _ in 0..CALM_EVENTS {
            feed(&mut r, t(1000), 1, msgnum).unwrap();
            assert_eq!(drain(&mut r, t(1000)).len(), 1);
            msgnum += 1;
        }
        widths.push(r.reorder_window().as_nanos());
    }
    // Halving ends at the floor once half would be below the least step (20 us).
    assert_eq!(widths, [312_500, 156_250, 78_125, 39_062, 0, 0, 0]);
}

#[test]
fn the_floor_is_where_the_window_starts_and_stays() {
    let mut r: Receiver<Vec<u8>> = Receiver::new(ReceiverConfig {
        min_reorder_window: Duration::from_micros(300),
        ..ReceiverConfig::default()
    });
    r.listen(SessionNumber(1), 1);
    assert_eq!(r.reorder_window(), Duration::from_micros(300));
    for msgnum in 1..=(3 * u64::from(CALM_EVENTS)) {
        feed(&mut r, t(0), 1, msgnum).unwrap();
        drain(&mut r, t(0));
    }
    assert_eq!(r.reorder_window(), Duration::from_micros(300));
}

#[test]
fn delivering_in_order_directly_matches_holding_then_polling() {
    // A fixed window, and one that adapts (late arrivals widen it, calm narrows it).
    let adaptive = ReceiverConfig {
        reorder_window: WINDOW * 4,
        min_reorder_window: Duration::ZERO,
        pending_capacity: 64,
        max_gap: 1000,
    };
    direct_path_matches_holding(|| receiver(64));
    direct_path_matches_holding(|| Receiver::new(adaptive));
}

/// Two receivers fed the same seeded stream (in order, reordered, duplicated, dropped,
/// session changes): one holds every packet, the other takes the direct path whenever it
/// is offered. Events, states, windows and counters must be the same throughout.
fn direct_path_matches_holding(make: impl Fn() -> Receiver<Vec<u8>>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut held = make();
    let mut direct = make();
    let (mut session, mut next) = (1u16, 1u64);
    let mut taken = 0;
    for step in 0..20_000u64 {
        let now = t(step * 10);
        let msgnum = match rand(20) {
            0 => next + 1 + rand(5),                  // ahead: a gap
            1 => next.saturating_sub(rand(3)).max(1), // a duplicate or stale
            2 => {
                // A new session starts at 1; its first stamp is set aside until the second
                // confirms it.
                session += 1;
                let first = Stamp::new(session, 1);
                assert!(held.on_stamped(now, first, stamped(session, 1)).is_ok());
                assert!(direct.on_stamped(now, first, stamped(session, 1)).is_ok());
                next = 2;
                2
            }
            _ => next,
        };
        next = next.max(msgnum + 1);
        let stamp = Stamp::new(session, msgnum);
        let a = held
            .on_stamped(now, stamp, stamped(session, msgnum))
            .is_ok();
        let b = if direct.deliver_in_order(stamp) {
            taken += 1;
            true
        } else {
            direct
                .on_stamped(now, stamp, stamped(session, msgnum))
                .is_ok()
        };
        assert_eq!(a, b, "accepted at step {step}");
        // What the held receiver delivers first is the directly delivered message.
        let mut from_held = drain(&mut held, now);
        let from_direct = drain(&mut direct, now);
        if b && from_held.len() == from_direct.len() + 1 {
            assert_eq!(from_held.remove(0), format!("m{msgnum}"), "step {step}");
        }
        assert_eq!(from_held, from_direct, "events at step {step}");
        // A session change ends delivery until the owner listens again, as a replica does.
        if let Some(new) = from_held.iter().rev().find_map(|e| e.split("->").nth(1)) {
            let new = SessionNumber(new.parse().unwrap());
            held.listen(new, 1);
            direct.listen(new, 1);
        }
        assert_eq!(held.session(), direct.session());
        assert_eq!(held.next_msgnum(), direct.next_msgnum());
        assert_eq!(held.stats(), direct.stats(), "counters at step {step}");
        assert_eq!(
            held.reorder_window(),
            direct.reorder_window(),
            "step {step}"
        );
        if let Some(n) = held.next_msgnum() {
            next = next.max(n);
        }
    }
    assert!(taken > 10_000, "the direct path was offered {taken} times");
}

#[test]
fn the_direct_path_refuses_what_is_not_next_and_alone() {
    let mut r = receiver(16);
    assert!(!r.deliver_in_order(Stamp::new(1, 1)), "unbound");
    r.listen(SessionNumber(1), 1);
    assert!(!r.deliver_in_order(Stamp::new(1, 2)), "ahead");
    assert!(!r.deliver_in_order(Stamp::new(2, 1)), "another session");
    assert!(r.deliver_in_order(Stamp::new(1, 1)));
    assert!(!r.deliver_in_order(Stamp::new(1, 1)), "a duplicate");
    feed(&mut r, t(0), 1, 3).unwrap();
    assert!(
        !r.deliver_in_order(Stamp::new(1, 2)),
        "another packet is held"
    );
    assert_eq!(r.next_msgnum(), Some(2));
}

#[test]
fn the_newest_session_seen_is_known_before_and_after_listen() {
    let mut r = receiver(16);
    assert_eq!(r.newest_session(), None);
    feed(&mut r, t(0), 4, 2).unwrap();
    assert_eq!(r.newest_session(), None, "a lone stamp");
    feed(&mut r, t(0), 4, 3).unwrap();
    assert_eq!(r.newest_session(), Some(SessionNumber(4)));
    r.listen(SessionNumber(4), 1);
    feed(&mut r, t(0), 6, 1).unwrap();
    assert_eq!(r.newest_session(), Some(SessionNumber(4)), "a lone stamp");
    feed(&mut r, t(0), 6, 2).unwrap();
    assert_eq!(
        r.newest_session(),
        Some(SessionNumber(6)),
        "terminated, not listening"
    );
    // An older stamp changes nothing.
    assert_eq!(feed(&mut r, t(0), 5, 1), Err(Discard::StaleSession));
    assert_eq!(r.newest_session(), Some(SessionNumber(6)));
}

/// Issue 13: one forged stamp of a newer session switched every replica to it, and nothing
/// was served until the sequencer restarted.
#[test]
fn a_lone_stamp_of_a_newer_session_does_not_end_the_session() {
    let mut r = receiver(16);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 1).unwrap();
    feed(&mut r, t(0), 9, 7).unwrap(); // set aside
    feed(&mut r, t(0), 1, 2).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["m1", "m2"]);
    // A delivery since: a second stamp of that session does not confirm it, but takes its
    // place (the first is handed back).
    assert_eq!(feed(&mut r, t(0), 9, 8), Err(Discard::Unconfirmed));
    // Nor does one of another session, or one further than a ring away.
    assert_eq!(feed(&mut r, t(0), 10, 9), Err(Discard::Unconfirmed));
    assert_eq!(feed(&mut r, t(0), 10, 9 + 17), Err(Discard::Unconfirmed));
    assert_eq!(
        feed(&mut r, t(0), 10, 9 + 17),
        Err(Discard::Unconfirmed),
        "the same number again"
    );
    feed(&mut r, t(0), 1, 3).unwrap();
    assert_eq!(drain(&mut r, t(1_000_000)), ["m3"]);
    assert_eq!(r.session(), Some(SessionNumber(1)));
    assert_eq!(r.newest_session(), Some(SessionNumber(1)));
    assert_eq!(r.stats().unconfirmed, 4);
    assert_eq!(r.stats().sessions_terminated, 0);
}

/// Issue 13: one forged stamp 60,000 messages ahead (below `max_gap`) turned into 60,000
/// drop notifications, each a gap agreement.
#[test]
fn a_lone_stamp_far_ahead_forces_no_drops() {
    let mut r: Receiver<Vec<u8>> = Receiver::new(ReceiverConfig {
        reorder_window: WINDOW,
        min_reorder_window: WINDOW,
        pending_capacity: 1024,
        max_gap: 1 << 16,
    });
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 60_001).unwrap(); // set aside
    assert_eq!(r.next_deadline(), None);
    feed(&mut r, t(1), 1, 1).unwrap();
    feed(&mut r, t(1), 1, 2).unwrap();
    assert_eq!(drain(&mut r, t(1_000_000)), ["m1", "m2"]);
    // Within the ring, a stamp ahead is an ordinary gap, believed at once.
    feed(&mut r, t(2), 1, 1000).unwrap();
    assert_eq!(drain(&mut r, t(1_000_000)).len(), 998);
    // The stray never confirmed is dropped when the owner listens again.
    r.listen(SessionNumber(1), 1001);
    assert_eq!(r.stats().superseded, 1);
    assert_eq!(r.stats().drops_notified, 997);
}

/// A confirmed jump beyond the ring keeps both stamps and forces the window forward.
#[test]
fn a_confirmed_jump_keeps_both_stamps() {
    let mut r = receiver(4);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 3).unwrap();
    feed(&mut r, t(0), 1, 8).unwrap(); // set aside
    // 9 confirms 8 (nothing was delivered in between): below 9 - 3 = 6, every missing
    // number is reported at once.
    feed(&mut r, t(0), 1, 9).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["d1", "d2", "m3", "d4", "d5"]);
    assert_eq!(drain(&mut r, t(100)), ["d6", "d7", "m8", "m9"]);
}

#[test]
fn a_sessions_first_message_starts_an_unbound_receiver_at_once() {
    let mut r = receiver(16);
    feed(&mut r, t(0), 3, 1).unwrap();
    assert_eq!(drain(&mut r, t(0)), ["end:none->3"]);
    r.listen(SessionNumber(3), 1);
    assert_eq!(drain(&mut r, t(0)), ["m1"]);
}

/// Events as [`drain`] gives them, taking each run of drops with `poll_drops` (at most
/// `max` more at a time): "d5+3" is drop 5 with 3 more taken at once.
fn drain_runs(r: &mut Receiver<Vec<u8>>, now: Time, max: u64) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = r.poll_event(now) {
        out.push(match e {
            Event::Drop(stamp) => format!("d{}+{}", stamp.msgnum, r.poll_drops(now, max)),
            Event::Message { stamp, .. } => format!("m{}", stamp.msgnum),
            Event::SessionTerminated { new, .. } => format!("end:{new}"),
        });
    }
    out
}

#[test]
fn a_run_of_drops_is_taken_at_once_and_stops_where_polling_would() {
    let mut r = receiver(4);
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 2).unwrap();
    feed(&mut r, t(0), 1, 9).unwrap();
    feed(&mut r, t(0), 1, 8).unwrap();
    // As in the test above: 1 and 3..=5 are forced, 6 and 7 wait for the window; a run
    // stops at a held message (2) and where the wait is not over (6).
    assert_eq!(drain_runs(&mut r, t(0), 100), ["d1+0", "m2", "d3+2"]);
    assert_eq!(r.stats().drops_notified, 4);
    assert_eq!(r.next_msgnum(), Some(6));
    // `max` bounds a run; what is left comes as the next event.
    assert_eq!(drain_runs(&mut r, t(100), 0), ["d6+0", "d7+0", "m8", "m9"]);
    assert_eq!(r.stats().drops_notified, 6);
    // A late copy of a message taken in a run is recognised as a false drop.
    assert_eq!(feed(&mut r, t(150), 1, 4), Err(Discard::Duplicate));
    assert_eq!(r.stats().late_after_drop, 1);
}

#[test]
fn a_long_run_of_drops_is_one_call() {
    let mut r: Receiver<Vec<u8>> = Receiver::new(ReceiverConfig {
        reorder_window: Duration::ZERO,
        min_reorder_window: Duration::ZERO,
        pending_capacity: 1024,
        max_gap: 1 << 16,
    });
    r.listen(SessionNumber(1), 1);
    feed(&mut r, t(0), 1, 60_001).unwrap();
    feed(&mut r, t(0), 1, 60_002).unwrap();
    assert_eq!(
        drain_runs(&mut r, t(0), u64::MAX),
        ["d1+59999", "m60001", "m60002"]
    );
    assert_eq!(r.stats().drops_notified, 60_000);
    // Nothing is due with nothing held.
    assert_eq!(r.poll_drops(t(0), 5), 0);
}
