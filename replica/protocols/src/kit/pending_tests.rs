//! The resend timer on virtual time: samples, Karn's rule, backoff, floor and cap.

use std::time::Duration;

use super::*;

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Floor 1 ms, cap 100 ms, give up after 5 s: the defaults.
fn timeouts() -> ClientTimeouts {
    ClientTimeouts {
        resend: ms(100),
        resend_min: ms(1),
        give_up: ms(5000),
    }
}

/// Runs one request that is answered `rtt` after it was sent, first time.
fn clean(timer: &mut ResendTimer, at: Time, rtt: Duration) {
    let p = timer.start(at, 1, b"op");
    timer.completed(&p, at + rtt);
}

#[test]
fn the_defaults_come_from_the_config() {
    assert_eq!(ClientTimeouts::default(), timeouts());
}

#[test]
fn before_any_sample_the_configured_resend_time_is_used() {
    let timer = ResendTimer::new(timeouts());
    assert_eq!(timer.srtt(), None);
    assert_eq!(timer.rto(), ms(100));
    let p = timer.start(Time::from_millis(7), 1, b"op");
    assert_eq!(p.deadline(), Time::from_millis(107));
}

#[test]
fn samples_follow_rfc_6298() {
    let mut timer = ResendTimer::new(timeouts());
    clean(&mut timer, Time::ZERO, ms(10));
    // SRTT = R, RTTVAR = R/2.
    assert_eq!(timer.srtt(), Some(ms(10)));
    assert_eq!(timer.rto(), ms(10) + 4 * ms(5));
    clean(&mut timer, Time::from_millis(50), ms(2));
    // RTTVAR = 3/4 * 5 + 1/4 * |10 - 2| = 5.75; SRTT = 7/8 * 10 + 1/8 * 2 = 9.
    assert_eq!(timer.srtt(), Some(ms(9)));
    assert_eq!(timer.rto(), ms(9) + 4 * us(5750));
}

#[test]
fn a_short_round_trip_is_held_at_the_floor() {
    let mut timer = ResendTimer::new(timeouts());
    for i in 0..20 {
        clean(&mut timer, Time::from_millis(i), us(150));
    }
    assert_eq!(timer.srtt(), Some(us(150)));
    assert_eq!(
        timer.rto(),
        ms(1),
        "150 us + 4 * variation is below the 1 ms floor"
    );
    let p = timer.start(Time::from_millis(100), 2, b"op");
    assert_eq!(p.deadline(), Time::from_millis(101));
}

#[test]
fn a_long_round_trip_is_held_at_the_cap() {
    let mut timer = ResendTimer::new(timeouts());
    clean(&mut timer, Time::ZERO, ms(80));
    assert_eq!(
        timer.rto(),
        ms(100),
        "80 + 4 * 40 ms is above the 100 ms cap"
    );
}

#[test]
fn a_resent_request_is_not_a_sample() {
    let mut timer = ResendTimer::new(timeouts());
    clean(&mut timer, Time::ZERO, us(200));
    let srtt = timer.srtt();
    let mut p = timer.start(Time::from_millis(10), 2, b"op");
    assert_eq!(timer.tick(&mut p, Time::from_millis(11)), Tick::Resend);
    assert_eq!(p.attempts, 2);
    // Answered 50 ms after the first send: maybe the first copy's slow answer, maybe the
    // second's fast one; Karn's rule ignores it.
    timer.completed(&p, Time::from_millis(60));
    assert_eq!(timer.srtt(), srtt);
}

#[test]
fn each_resend_doubles_the_timeout_up_to_the_cap() {
    let mut timer = ResendTimer::new(timeouts());
    clean(&mut timer, Time::ZERO, us(100));
    assert_eq!(timer.rto(), ms(1));
    let mut now = Time::from_millis(10);
    let mut p = timer.start(now, 2, b"op");
    let mut waits = Vec::new();
    for _ in 0..9 {
        let due = p.deadline();
        assert_eq!(
            timer.tick(&mut p, Time::from_nanos(due.as_nanos() - 1_000)),
            Tick::Nothing,
            "not before it is due"
        );
        assert_eq!(timer.tick(&mut p, due), Tick::Resend);
        waits.push((due - now).as_millis());
        now = due;
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 100, 100]);
    assert_eq!(timer.resends(), 9);
    assert_eq!(p.attempts, 10);
}

#[test]
fn the_backoff_lasts_until_a_clean_sample() {
    let mut timer = ResendTimer::new(timeouts());
    clean(&mut timer, Time::ZERO, us(100));
    let mut p = timer.start(Time::from_millis(10), 2, b"op");
    assert_eq!(timer.tick(&mut p, Time::from_millis(11)), Tick::Resend);
    assert_eq!(timer.tick(&mut p, Time::from_millis(13)), Tick::Resend);
    timer.completed(&p, Time::from_millis(14));
    // The next request starts with the doubled-twice timeout: if the round trip really grew
    // to several milliseconds, starting again at 1 ms would resend every request forever.
    assert_eq!(timer.rto(), ms(4));
    clean(&mut timer, Time::from_millis(20), us(100));
    assert_eq!(timer.rto(), ms(1), "a clean sample ends the backoff");
}

#[test]
fn give_up_wins_over_resend() {
    let t = ClientTimeouts {
        resend: ms(100),
        resend_min: ms(1),
        give_up: ms(30),
    };
    let mut timer = ResendTimer::new(t);
    clean(&mut timer, Time::ZERO, us(100));
    let mut p = timer.start(Time::from_millis(1), 2, b"op");
    let mut resends = 0;
    loop {
        let due = p.deadline();
        match timer.tick(&mut p, due) {
            Tick::Resend => resends += 1,
            Tick::GiveUp => break,
            Tick::Nothing => panic!("ticked at the deadline"),
        }
    }
    // Resends after 1, 2, 4, 8 ms (at 2, 4, 8, 16 ms); the next (at 32) is past giving up.
    assert_eq!(resends, 4);
    assert_eq!(p.deadline(), Time::from_millis(31));
}

#[test]
fn fixed_timeouts_never_adapt() {
    let mut timer = ResendTimer::new(ClientTimeouts::fixed(ms(10), ms(100)));
    clean(&mut timer, Time::ZERO, us(100));
    assert_eq!(timer.rto(), ms(10));
    let mut p = timer.start(Time::from_millis(1), 2, b"op");
    assert_eq!(timer.tick(&mut p, Time::from_millis(11)), Tick::Resend);
    assert_eq!(p.deadline(), Time::from_millis(21));
}
