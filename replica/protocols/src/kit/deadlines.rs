//! A replica's next deadline: the earliest of the timers armed in its current state. Each
//! replica's `poll_timeout` lists its timers once through [`Earliest`]; which timers it
//! lists stays the protocol's own logic.

use crate::time::Time;

/// The earliest of the times offered so far (none offered: no deadline). Drivers ask for it
/// after every input, so it is a plain value: no allocation, no table to keep in step.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Earliest(Option<Time>);

impl Earliest {
    /// Offers a timer: a time, or an optional one (`None`: not armed).
    #[inline]
    pub(crate) fn consider(&mut self, at: impl Into<Option<Time>>) {
        if let Some(t) = at.into() {
            self.0 = Some(self.0.map_or(t, |e| e.min(t)));
        }
    }

    /// The earliest time offered, if any.
    #[inline]
    pub(crate) fn get(self) -> Option<Time> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_armed_timer_wins() {
        let mut next = Earliest::default();
        assert_eq!(next.get(), None);
        next.consider(None);
        assert_eq!(next.get(), None);
        next.consider(Time::from_millis(30));
        next.consider(Some(Time::from_millis(10)));
        next.consider(Time::from_millis(20));
        assert_eq!(next.get(), Some(Time::from_millis(10)));
    }
}
