//! The replica's log: slots numbered from 1, kept from `start` on (older slots are
//! truncated once synchronization has made them stable everywhere), with an index of its
//! NO-OPs so a synchronization round lists them without scanning the log.

use std::collections::VecDeque;

use super::types::Entry;

#[derive(Debug, Clone, Default)]
pub struct Log {
    /// Slot of `entries[0]`.
    start: u64,
    entries: VecDeque<Entry>,
    /// The slots holding a NO-OP, ascending.
    noops: VecDeque<u64>,
}

impl Log {
    /// An empty log whose next slot is `next`.
    pub fn starting_at(next: u64) -> Log {
        Log {
            start: next.max(1),
            entries: VecDeque::new(),
            noops: VecDeque::new(),
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

    /// Makes `slot` a NO-OP (gap agreement decided so); false if the log does not hold it.
    pub fn set_noop(&mut self, slot: u64) -> bool {
        let Some(i) = slot
            .checked_sub(self.start)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return false;
        };
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        if !e.is_noop() {
            *e = Entry::NoOp;
            let at = self.noops.partition_point(|&s| s < slot);
            self.noops.insert(at, slot);
        }
        true
    }

    /// The slots from `from` on that hold a NO-OP, ascending.
    pub fn noops_from(&self, from: u64) -> impl Iterator<Item = u64> + '_ {
        let at = self.noops.partition_point(|&s| s < from);
        self.noops.range(at..).copied()
    }

    /// Appends at `end() + 1`; returns that slot.
    #[inline]
    pub fn append(&mut self, entry: Entry) -> u64 {
        let noop = entry.is_noop();
        self.entries.push_back(entry);
        let slot = self.end();
        if noop {
            self.noops.push_back(slot);
        }
        slot
    }

    /// Appends `count` NO-OPs at `end() + 1` on (a run gap agreement decided at once).
    pub fn append_noops(&mut self, count: u64) {
        let first = self.end() + 1;
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        self.entries.extend(std::iter::repeat_n(Entry::NoOp, n));
        self.noops.extend(first..first + n as u64);
    }

    /// Drops slots before `slot` (keeps `slot` and later).
    pub fn truncate_before(&mut self, slot: u64) {
        self.truncate_before_with(slot, |_| {});
    }

    /// Like [`Log::truncate_before`], handing each dropped entry to `recycle`.
    pub fn truncate_before_with(&mut self, slot: u64, recycle: impl FnMut(Entry)) {
        let dropped = slot
            .saturating_sub(self.start)
            .min(self.entries.len() as u64);
        self.entries.drain(..dropped as usize).for_each(recycle);
        self.start += dropped;
        if self.entries.is_empty() && self.start < slot {
            self.start = slot;
        }
        while self.noops.front().is_some_and(|&s| s < self.start) {
            self.noops.pop_front();
        }
    }

    /// Drops slots after `slot`.
    pub fn truncate_after(&mut self, slot: u64) {
        while self.end() > slot && !self.entries.is_empty() {
            self.entries.pop_back();
        }
        while self.noops.back().is_some_and(|&s| s > slot) {
            self.noops.pop_back();
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

    #[test]
    fn a_run_of_noops_is_appended_and_indexed_at_once() {
        let mut log = Log::starting_at(5);
        log.append(request(1));
        log.append_noops(3);
        log.append(request(2));
        assert_eq!((log.start(), log.end()), (5, 9));
        assert_eq!(log.noops_from(0).collect::<Vec<_>>(), vec![6, 7, 8]);
        assert!((6..=8).all(|s| log.get(s).unwrap().is_noop()));
        log.append_noops(0);
        assert_eq!(log.end(), 9);
    }

    #[test]
    fn a_noop_slot_costs_an_entry_and_an_index_word() {
        // What a run of NO-OPs costs in the log (docs/protocols.md, gap agreement): one
        // entry each, plus its slot in the NO-OP index; 65,536 of them (`max_gap`) about
        // 3.5 MiB.
        assert!(
            std::mem::size_of::<Entry>() <= 48,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }

    fn request(id: u64) -> Entry {
        Entry::Request(crate::nopaxos::types::Request {
            client: 1,
            request: id,
            reply_to: "127.0.0.1:1".parse().unwrap(),
            op: vec![1, 2],
        })
    }

    #[test]
    fn the_noop_index_follows_appends_gap_decisions_and_truncation() {
        let mut log = Log::starting_at(1);
        for s in 1..=10 {
            log.append(if s % 4 == 0 { Entry::NoOp } else { request(s) });
        }
        assert_eq!(log.noops_from(1).collect::<Vec<_>>(), vec![4, 8]);
        assert!(log.set_noop(6));
        assert!(log.set_noop(8), "already a NO-OP: still held");
        assert!(!log.set_noop(11) && !log.set_noop(0));
        assert_eq!(log.noops_from(5).collect::<Vec<_>>(), vec![6, 8]);
        assert!(log.get(6).unwrap().is_noop());
        log.truncate_before(5);
        assert_eq!(log.noops_from(0).collect::<Vec<_>>(), vec![6, 8]);
        log.truncate_after(7);
        assert_eq!(log.noops_from(0).collect::<Vec<_>>(), vec![6]);
        let scanned: Vec<u64> = log
            .iter_from(0)
            .filter(|(_, e)| e.is_noop())
            .map(|(s, _)| s)
            .collect();
        assert_eq!(scanned, vec![6]);
        log.truncate_before(100);
        assert_eq!(log.noops_from(0).count(), 0);
    }
}
