//! A client's outstanding request and its timers, shared by every protocol's client.
//!
//! The resend timer follows the measured round trip the way TCP's retransmission timer does
//! (RFC 6298): a smoothed round trip and its variation are learned from requests that
//! completed on their first attempt only (Karn's rule: the answer to a resent request could
//! be the answer to any of its copies, so its time says nothing), the timeout is
//! `SRTT + 4 * RTTVAR` held between a floor and the configured `client_resend_ms`, and each
//! resend doubles it until a clean sample arrives. A request lost on a network whose round
//! trip is 0.1 ms is then resent after about a millisecond instead of after the fixed
//! 100 ms the original implementation waits, which is most of what loss used to cost.

use std::time::Duration;

use crate::RequestId;
use crate::time::Time;

/// Client timing from the configuration: the resend timeout starts at `resend` (before any
/// round trip is measured) and never exceeds it, never goes below `resend_min`; a request
/// is given up after `give_up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    pub resend: Duration,
    pub resend_min: Duration,
    pub give_up: Duration,
}

impl ClientTimeouts {
    pub fn from_config(t: &dataplane::config::Timeouts) -> ClientTimeouts {
        ClientTimeouts {
            resend: Duration::from_millis(t.client_resend_ms),
            resend_min: Duration::from_millis(t.client_resend_min_ms),
            give_up: Duration::from_millis(t.client_give_up_ms),
        }
    }

    /// Timeouts that never adapt: every resend after exactly `resend` (floor = cap).
    pub fn fixed(resend: Duration, give_up: Duration) -> ClientTimeouts {
        ClientTimeouts {
            resend,
            resend_min: resend,
            give_up,
        }
    }
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        ClientTimeouts::from_config(&dataplane::config::Timeouts::default())
    }
}

/// Doublings of the timeout after which more resends keep the same (capped) timeout; the
/// cap is reached long before this with any sensible floor, so it only bounds the shift.
const MAX_BACKOFF: u32 = 16;

/// A retransmission timeout learned from round-trip samples (RFC 6298): SRTT and RTTVAR,
/// `SRTT + 4 * RTTVAR` held between a floor and a cap (the cap is also the value before any
/// sample), doubled per [`RttEstimator::back_off`] until the next sample. Callers feed it
/// only unambiguous samples (Karn's rule). Clients use it through [`ResendTimer`]; NOPaxos
/// replicas time their gap retries with one.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    min: Duration,
    max: Duration,
    /// Smoothed round trip; `None` until the first clean sample.
    srtt: Option<Duration>,
    rttvar: Duration,
    /// Doublings applied since the last clean sample (kept across requests, as TCP keeps a
    /// backed-off timeout until an unambiguous sample: if the round trip really grew, every
    /// first attempt would otherwise time out and no sample would ever correct it).
    backoff: u32,
}

impl RttEstimator {
    /// An estimator whose timeout stays within `min..=max` and is `max` until measured.
    pub fn new(min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            min,
            max,
            srtt: None,
            rttvar: Duration::ZERO,
            backoff: 0,
        }
    }

    /// The smoothed round trip, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// How long the next attempt waits before it is retried.
    pub fn rto(&self) -> Duration {
        self.rto_within(self.max)
    }

    /// The timeout for a wait whose own configured value is `cap`: `cap` until measured,
    /// never more than `cap` (one estimator can time several kinds of retry).
    pub fn rto_within(&self, cap: Duration) -> Duration {
        let base = match self.srtt {
            None => cap,
            Some(srtt) => (srtt + 4 * self.rttvar).max(self.min),
        };
        base.saturating_mul(1 << self.backoff.min(MAX_BACKOFF))
            .min(cap)
    }

    /// A retry went out: the timeout doubles until the next sample.
    pub fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(MAX_BACKOFF);
    }

    /// RFC 6298 section 2: the first sample sets SRTT = R, RTTVAR = R/2; later ones move
    /// RTTVAR by a quarter towards |SRTT - R| and SRTT by an eighth towards R. A sample ends
    /// any backoff.
    pub fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let err = srtt.abs_diff(rtt);
                self.rttvar = (3 * self.rttvar + err) / 4;
                self.srtt = Some((7 * srtt + rtt) / 8);
            }
        }
        self.backoff = 0;
    }
}

/// The resend timer of one client: an [`RttEstimator`] fed by requests answered on their
/// first attempt (Karn's rule), and the resend count.
#[derive(Debug, Clone)]
pub struct ResendTimer {
    timeouts: ClientTimeouts,
    rtt: RttEstimator,
    resends: u64,
}

impl ResendTimer {
    pub fn new(timeouts: ClientTimeouts) -> ResendTimer {
        ResendTimer {
            timeouts,
            rtt: RttEstimator::new(timeouts.resend_min, timeouts.resend),
            resends: 0,
        }
    }

    pub fn timeouts(&self) -> ClientTimeouts {
        self.timeouts
    }

    /// The smoothed round trip, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    /// Resends so far (every protocol's client counts them here).
    pub fn resends(&self) -> u64 {
        self.resends
    }

    /// How long the next attempt waits before it is resent.
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The first attempt of a request, sent at `now`.
    pub fn start(&self, now: Time, request: RequestId, op: &[u8]) -> Pending {
        Pending {
            request,
            op: op.to_vec(),
            attempts: 1,
            sent: now,
            next_resend: now + self.rto(),
            give_up_at: now + self.timeouts.give_up,
        }
    }

    /// What a timer tick at `now` means for `pending`; a resend doubles the timeout.
    pub fn tick(&mut self, pending: &mut Pending, now: Time) -> Tick {
        if now >= pending.give_up_at {
            Tick::GiveUp
        } else if now >= pending.next_resend {
            pending.attempts += 1;
            self.resends += 1;
            self.rtt.back_off();
            pending.next_resend = now + self.rto();
            Tick::Resend
        } else {
            Tick::Nothing
        }
    }

    /// `pending` completed at `now`: its round trip is a sample only if it was never resent.
    pub fn completed(&mut self, pending: &Pending, now: Time) {
        if pending.attempts == 1 {
            self.rtt.sample(now.saturating_since(pending.sent));
        }
    }
}

/// The one request a client has outstanding.
#[derive(Debug, Clone)]
pub struct Pending {
    pub request: RequestId,
    pub op: Vec<u8>,
    pub attempts: u32,
    /// When the first attempt went out.
    sent: Time,
    next_resend: Time,
    give_up_at: Time,
}

/// What a timer tick means for the outstanding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    Nothing,
    Resend,
    GiveUp,
}

impl Pending {
    pub fn deadline(&self) -> Time {
        self.next_resend.min(self.give_up_at)
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
