//! The clock of a view-change attempt, the same in every protocol: a replica changing
//! views announces the view to the others and sends its report (its log, as a chunked
//! blob) to the new leader, and sends both again every `view_change` until the view
//! starts; an attempt that has not started its view by its deadline (a leader timeout after
//! it began) is abandoned for the next view, whose leader is another replica (this one's may
//! be dead too). What a report holds and how the new leader merges reports stay with each
//! protocol.

use std::time::Duration;

use crate::time::Time;

/// What a view-change attempt's timer calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStep {
    /// Nothing is due.
    Wait,
    /// Announce the view and send the report again.
    Resend,
    /// The deadline passed: move on to the next view.
    MoveOn,
}

/// The timer of an attempt that resends at `resend_at` (which moves `resend` on when a
/// resend is due) and is abandoned at `give_up_at`.
pub fn on_timer(
    now: Time,
    resend_at: &mut Time,
    give_up_at: Time,
    resend: Duration,
) -> AttemptStep {
    if now >= give_up_at {
        return AttemptStep::MoveOn;
    }
    if now < *resend_at {
        return AttemptStep::Wait;
    }
    *resend_at = now + resend;
    AttemptStep::Resend
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_resends_until_its_deadline_then_moves_on() {
        let ms = Duration::from_millis;
        let t0 = Time::ZERO;
        let mut resend_at = t0 + ms(10);
        let give_up = t0 + ms(25);
        let mut at = |now| on_timer(now, &mut resend_at, give_up, ms(10));
        assert_eq!(at(t0), AttemptStep::Wait);
        assert_eq!(at(t0 + ms(12)), AttemptStep::Resend);
        assert_eq!(at(t0 + ms(20)), AttemptStep::Wait);
        assert_eq!(at(t0 + ms(22)), AttemptStep::Resend);
        assert_eq!(at(t0 + ms(25)), AttemptStep::MoveOn);
        assert_eq!(resend_at, t0 + ms(32));
    }
}
