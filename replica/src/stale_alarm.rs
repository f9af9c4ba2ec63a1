//! Says loudly when a replica keeps dropping stamps of an old OUM session. A sequencer
//! started with an old session (its state file lost, a wrong `--session`) has every request
//! dropped by every replica as stale, and before this only the `stale_session` counter
//! hinted why the group had stalled (issue 13).

use std::time::Duration;

use dataplane::oum::SessionNumber;

use dataplane::time::Time;

/// How often the counter is looked at; also the most often the warning is printed.
pub const PERIOD: Duration = Duration::from_secs(1);
/// Stale stamps within one period that make a flood. A sequencer failover leaves at most the
/// requests in flight behind; a sequencer stamping with an old session goes on and on.
pub const THRESHOLD: u64 = 5;

/// The warning's state: when the counter was last looked at, and its value then.
#[derive(Debug, Clone, Copy)]
pub struct StaleSessionAlarm {
    index: usize,
    since: Time,
    count: u64,
}

impl StaleSessionAlarm {
    pub fn new(index: usize, now: Time, count: u64) -> StaleSessionAlarm {
        StaleSessionAlarm {
            index,
            since: now,
            count,
        }
    }

    /// At most once per [`PERIOD`]: the warning line if at least [`THRESHOLD`] stale-session
    /// stamps arrived since the last look. `stale_session` is the replica's counter,
    /// `current` the newest session it knows.
    pub fn check(
        &mut self,
        now: Time,
        stale_session: u64,
        current: Option<SessionNumber>,
    ) -> Option<String> {
        let elapsed = now.saturating_since(self.since);
        if elapsed < PERIOD {
            return None;
        }
        let new = stale_session.saturating_sub(self.count);
        self.since = now;
        self.count = stale_session;
        if new < THRESHOLD {
            return None;
        }
        let (older_than, fix) = match current {
            Some(s) => (
                format!("older than session {s}"),
                format!("or with --session {} or newer", s.next()),
            ),
            None => ("older than this replica's".to_string(), String::new()),
        };
        Some(format!(
            "replica {}: WARN {new} requests stamped with an OUM session {older_than} dropped in \
             the last {:.1} s (stale_session={stale_session}): a sequencer is stamping with an \
             old session and nothing it sends can commit. Restart it without --session (it asks \
             the replicas and takes the next session) {fix}",
            self.index,
            elapsed.as_secs_f64(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Time {
        Time::from_micros(ms * 1000)
    }

    #[test]
    fn a_flood_is_reported_once_a_period_and_stragglers_are_not() {
        let mut a = StaleSessionAlarm::new(2, at(0), 0);
        // A few stragglers after a failover: quiet.
        assert_eq!(a.check(at(1000), 3, Some(SessionNumber(7))), None);
        // Within the period nothing is looked at, however many arrive.
        assert_eq!(a.check(at(1500), 500, Some(SessionNumber(7))), None);
        let line = a.check(at(2000), 503, Some(SessionNumber(7))).unwrap();
        assert!(
            line.starts_with(
                "replica 2: WARN 500 requests stamped with an OUM session older \
                              than session 7"
            ),
            "{line}"
        );
        assert!(line.contains("--session 8 or newer"), "{line}");
        assert!(line.contains("stale_session=503"), "{line}");
        // It stops once the flood does.
        assert_eq!(a.check(at(3000), 503, Some(SessionNumber(7))), None);
    }
}
