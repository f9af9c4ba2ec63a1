//! The replica's log: slots numbered from 1, kept from `start` on (older slots are
//! truncated once synchronization has made them stable everywhere).

use std::collections::VecDeque;

use super::types::Entry;

#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Slot of `entries[0]`.
    start: u64,
    entries: VecDeque<Entry>,
}

impl Log {
    /// An empty log whose next slot is `next`.
    pub fn starting_at(next: u64) -> Log {
        Log {
            start: next.max(1),
            entries: VecDeque::new(),
        }
    }

    /// First slot still kept.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Last slot (start - 1 when empty).
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64 - 1
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, slot: u64) -> Option<&Entry> {
        let i = slot.checked_sub(self.start)?;
        self.entries.get(usize::try_from(i).ok()?)
    }

    pub fn get_mut(&mut self, slot: u64) -> Option<&mut Entry> {
        let i = slot.checked_sub(self.start)?;
        self.entries.get_mut(usize::try_from(i).ok()?)
    }

    /// Appends at `end() + 1`; returns that slot.
    pub fn append(&mut self, entry: Entry) -> u64 {
        self.entries.push_back(entry);
        self.end()
    }

    /// Drops slots before `slot` (keeps `slot` and later).
    pub fn truncate_before(&mut self, slot: u64) {
        self.truncate_before_with(slot, |_| {});
    }

    /// Like [`Log::truncate_before`], handing each dropped entry to `recycle`.
    pub fn truncate_before_with(&mut self, slot: u64, mut recycle: impl FnMut(Entry)) {
        while self.start < slot {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            recycle(e);
            self.start += 1;
        }
        if self.entries.is_empty() && self.start < slot {
            self.start = slot;
        }
    }

    /// Drops slots after `slot`.
    pub fn truncate_after(&mut self, slot: u64) {
        while self.end() > slot && !self.entries.is_empty() {
            self.entries.pop_back();
        }
    }

    /// Slots and entries from `from` (or the start) to the end.
    pub fn iter_from(&self, from: u64) -> impl Iterator<Item = (u64, &Entry)> + '_ {
        let skip = from.saturating_sub(self.start) as usize;
        self.entries
            .iter()
            .enumerate()
            .skip(skip)
            .map(move |(i, e)| (self.start + i as u64, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_truncation_and_lookup() {
        let mut log = Log::starting_at(1);
        assert_eq!(log.end(), 0);
        for _ in 0..5 {
            log.append(Entry::NoOp);
        }
        assert_eq!((log.start(), log.end()), (1, 5));
        log.truncate_before(3);
        assert_eq!((log.start(), log.end()), (3, 5));
        assert!(log.get(2).is_none());
        assert!(log.get(3).is_some());
        assert_eq!(
            log.iter_from(4).map(|(s, _)| s).collect::<Vec<_>>(),
            vec![4, 5]
        );
        log.truncate_after(3);
        assert_eq!(log.end(), 3);
        log.truncate_before(10);
        assert_eq!((log.start(), log.end(), log.len()), (10, 9, 0));
        assert_eq!(log.append(Entry::NoOp), 10);
    }
}
