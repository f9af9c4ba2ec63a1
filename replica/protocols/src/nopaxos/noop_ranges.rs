//! Sets of NO-OP slots kept as ranges: the NO-OPs a follower acknowledged for slots it has
//! not reached yet (the skip rule). Gap agreement commits a run of missing slots in one
//! GAP-COMMIT, so one entry per slot would cost a replica memory in proportion to a jump it
//! has not even seen yet; a range costs the same for one slot or 60,000.

use std::collections::BTreeMap;

/// Disjoint slot ranges, merged when they overlap or touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoopRanges {
    /// First slot of each range → its last slot. Ranges neither overlap nor touch, so
    /// both ends grow with the key.
    ranges: BTreeMap<u64, u64>,
}

impl NoopRanges {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Ranges held (not slots).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Adds the slots `first..=last` (nothing if `last < first`).
    pub fn insert(&mut self, first: u64, last: u64) {
        if last < first {
            return;
        }
        let (mut lo, mut hi) = (first, last);
        // Every range that overlaps or touches `first..=last` starts at most at `last + 1`
        // and ends at least at `first - 1`; walking down from `last + 1`, they come first.
        while let Some((&s, &e)) = self.ranges.range(..=last.saturating_add(1)).next_back() {
            if e.saturating_add(1) < first {
                break;
            }
            self.ranges.remove(&s);
            lo = lo.min(s);
            hi = hi.max(e);
        }
        self.ranges.insert(lo, hi);
    }

    /// If `slot` is held, the last slot of the range holding it.
    pub fn run_from(&self, slot: u64) -> Option<u64> {
        let (_, &last) = self.ranges.range(..=slot).next_back()?;
        (last >= slot).then_some(last)
    }

    pub fn contains(&self, slot: u64) -> bool {
        self.run_from(slot).is_some()
    }

    /// Forgets every slot up to `slot`.
    pub fn remove_through(&mut self, slot: u64) {
        let Some(after) = slot.checked_add(1) else {
            self.ranges.clear();
            return;
        };
        let rest = self.ranges.split_off(&after);
        let straddling = self.ranges.last_key_value().map(|(_, &e)| e);
        self.ranges = rest;
        if let Some(last) = straddling.filter(|&e| e > slot) {
            self.ranges.insert(after, last);
        }
    }

    /// The ranges, ascending, as `(first, last)`.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&s, &e)| (s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(r: &NoopRanges) -> Vec<(u64, u64)> {
        r.iter().collect()
    }

    #[test]
    fn inserts_merge_overlapping_and_touching_ranges() {
        let mut r = NoopRanges::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(5, 3);
        assert_eq!(ranges(&r), [(10, 20), (30, 40)]);
        r.insert(21, 21);
        assert_eq!(ranges(&r), [(10, 21), (30, 40)]);
        r.insert(25, 26);
        r.insert(15, 31);
        assert_eq!(ranges(&r), [(10, 40)]);
        r.insert(1, 8);
        r.insert(u64::MAX - 1, u64::MAX);
        r.insert(u64::MAX, u64::MAX);
        assert_eq!(ranges(&r), [(1, 8), (10, 40), (u64::MAX - 1, u64::MAX)]);
        r.insert(0, u64::MAX);
        assert_eq!(ranges(&r), [(0, u64::MAX)]);
    }

    #[test]
    fn lookups_and_removal_from_the_front() {
        let mut r = NoopRanges::default();
        r.insert(10, 60_009);
        r.insert(70_000, 70_000);
        assert_eq!(r.run_from(9), None);
        assert_eq!(r.run_from(10), Some(60_009));
        assert_eq!(r.run_from(60_009), Some(60_009));
        assert!(!r.contains(60_010) && r.contains(70_000));
        r.remove_through(100);
        assert_eq!(ranges(&r), [(101, 60_009), (70_000, 70_000)]);
        r.remove_through(60_009);
        assert_eq!(ranges(&r), [(70_000, 70_000)]);
        assert_eq!(r.len(), 1);
        r.remove_through(u64::MAX);
        assert!(r.is_empty());
    }
}
