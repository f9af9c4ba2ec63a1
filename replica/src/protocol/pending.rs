//! A client's outstanding request and its timers, shared by every protocol's client.

use std::time::Duration;

use super::RequestId;
use crate::time::Time;

/// Client timing: resend after `resend` without a commit, give up after `give_up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    pub resend: Duration,
    pub give_up: Duration,
}

impl ClientTimeouts {
    pub fn from_config(t: &dataplane::config::Timeouts) -> ClientTimeouts {
        ClientTimeouts {
            resend: Duration::from_millis(t.client_resend_ms),
            give_up: Duration::from_millis(t.client_give_up_ms),
        }
    }
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        ClientTimeouts::from_config(&dataplane::config::Timeouts::default())
    }
}

/// The one request a client has outstanding.
#[derive(Debug, Clone)]
pub struct Pending {
    pub request: RequestId,
    pub op: Vec<u8>,
    pub attempts: u32,
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
    pub fn new(now: Time, request: RequestId, op: &[u8], timeouts: ClientTimeouts) -> Pending {
        Pending {
            request,
            op: op.to_vec(),
            attempts: 1,
            next_resend: now + timeouts.resend,
            give_up_at: now + timeouts.give_up,
        }
    }

    pub fn deadline(&self) -> Time {
        self.next_resend.min(self.give_up_at)
    }

    pub fn tick(&mut self, now: Time, timeouts: ClientTimeouts) -> Tick {
        if now >= self.give_up_at {
            Tick::GiveUp
        } else if now >= self.next_resend {
            self.attempts += 1;
            self.next_resend = now + timeouts.resend;
            Tick::Resend
        } else {
            Tick::Nothing
        }
    }
}
