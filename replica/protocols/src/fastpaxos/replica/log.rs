//! The replica's log: slot → [`Slot`], ordered by slot, kept in a ring of slots so that the
//! steady state (append a vote, learn it chosen, truncate executed slots) allocates nothing.
//!
//! Slots from `base` to `base + RING - 1` live in the ring (a `VecDeque` that grows to the
//! span in use and keeps its capacity); the rare slot further ahead (a START-VIEW adopted by
//! a replica far behind its leader) goes to an ordered map, so a sparse log never costs
//! memory for the slots between.

use std::collections::{BTreeMap, VecDeque};

use super::Slot;

/// Most slots the ring spans.
const RING: u64 = 1 << 15;

#[derive(Debug, Default)]
pub(crate) struct SlotLog {
    /// Slot of `ring[0]`.
    base: u64,
    ring: VecDeque<Option<Slot>>,
    /// Slots at or above `base + RING`.
    far: BTreeMap<u64, Slot>,
    /// Slots held (ring and far).
    len: usize,
}

impl SlotLog {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn index(&self, slot: u64) -> Option<usize> {
        let i = slot.checked_sub(self.base)?;
        (i < self.ring.len() as u64).then_some(i as usize)
    }

    pub(crate) fn get(&self, slot: u64) -> Option<&Slot> {
        match self.index(slot) {
            Some(i) => self.ring[i].as_ref(),
            None => self.far.get(&slot),
        }
    }

    pub(crate) fn contains_key(&self, slot: u64) -> bool {
        self.get(slot).is_some()
    }

    /// Puts `value` at `slot`, returning what was there.
    pub(crate) fn insert(&mut self, slot: u64, value: Slot) -> Option<Slot> {
        if self.len == 0 {
            // Empty: the ring starts here (it keeps its capacity).
            self.ring.clear();
            self.base = slot;
        }
        if slot < self.base {
            self.rebase(slot);
        }
        let old = if slot - self.base < RING {
            let i = (slot - self.base) as usize;
            if i >= self.ring.len() {
                self.ring.resize_with(i + 1, || None);
            }
            self.ring[i].replace(value)
        } else {
            self.far.insert(slot, value)
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, slot: u64) -> Option<Slot> {
        let old = match self.index(slot) {
            Some(i) => self.ring[i].take(),
            None => self.far.remove(&slot),
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Moves the ring's start down to `slot`, sending what no longer fits to `far`.
    fn rebase(&mut self, slot: u64) {
        let shift = self.base - slot;
        let keep = RING.saturating_sub(shift).min(self.ring.len() as u64) as usize;
        let first = self.base + keep as u64;
        for (at, s) in (first..).zip(self.ring.drain(keep..)) {
            if let Some(s) = s {
                self.far.insert(at, s);
            }
        }
        for _ in 0..shift.min(RING) {
            self.ring.push_front(None);
        }
        self.base = slot;
        self.trim_back();
    }

    /// Moves slots of `far` that now fall inside the ring's span into it.
    fn absorb_far(&mut self) {
        while let Some(entry) = self.far.first_entry() {
            let slot = *entry.key();
            if slot >= self.base + RING {
                break;
            }
            let value = entry.remove();
            let i = (slot - self.base) as usize;
            if i >= self.ring.len() {
                self.ring.resize_with(i + 1, || None);
            }
            self.ring[i] = Some(value);
        }
    }

    /// Drops empty slots at the ring's end.
    fn trim_back(&mut self) {
        while matches!(self.ring.back(), Some(None)) {
            self.ring.pop_back();
        }
    }

    /// Removes and returns the lowest slot below `end`, if any.
    pub(crate) fn pop_below(&mut self, end: u64) -> Option<(u64, Slot)> {
        loop {
            if self.ring.is_empty() {
                // The ring is empty: move on to the slots of `far`.
                let entry = self.far.first_entry()?;
                if *entry.key() >= end {
                    return None;
                }
                self.len -= 1;
                return Some(entry.remove_entry());
            }
            if self.base >= end {
                return None;
            }
            let front = self.ring.pop_front().flatten();
            let slot = self.base;
            self.base += 1;
            if self.ring.is_empty() {
                if let Some((&next, _)) = self.far.first_key_value() {
                    self.base = next;
                }
            }
            self.absorb_far();
            if let Some(s) = front {
                self.len -= 1;
                return Some((slot, s));
            }
        }
    }

    /// Drops every slot below `slot`.
    pub(crate) fn truncate_before(&mut self, slot: u64) {
        while self.pop_below(slot).is_some() {}
    }

    /// Slots from `from` to `to` (inclusive), in order.
    pub(crate) fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &Slot)> {
        let start = from.saturating_sub(self.base).min(self.ring.len() as u64) as usize;
        let end = to
            .saturating_add(1)
            .saturating_sub(self.base)
            .min(self.ring.len() as u64) as usize;
        let base = self.base;
        let ring = self
            .ring
            .range(start..end.max(start))
            .enumerate()
            .filter_map(move |(i, s)| s.as_ref().map(|s| (base + (start + i) as u64, s)));
        let far = (from <= to)
            .then(|| self.far.range(from..=to).map(|(&k, s)| (k, s)))
            .into_iter()
            .flatten();
        ring.chain(far)
    }

    /// Slots from `from` on, in order.
    pub(crate) fn range_from(&self, from: u64) -> impl Iterator<Item = (u64, &Slot)> {
        self.range(from, u64::MAX)
    }

    /// Every slot, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Slot)> {
        self.range(0, u64::MAX)
    }

    /// The highest slot held.
    pub(crate) fn last_slot(&self) -> Option<u64> {
        if let Some((&k, _)) = self.far.last_key_value() {
            return Some(k);
        }
        self.ring
            .iter()
            .rposition(Option::is_some)
            .map(|i| self.base + i as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastpaxos::types::{Entry, Round};

    fn slot(v: u64) -> Slot {
        Slot {
            entry: Entry::NoOp,
            round: Round::fast(v),
            chosen: false,
        }
    }

    /// The log behaves as an ordered map, however sparse, against a `BTreeMap` model.
    #[test]
    fn behaves_as_an_ordered_map() {
        let mut log = SlotLog::default();
        let mut model: BTreeMap<u64, Slot> = BTreeMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..200_000u64 {
            let r = next();
            let near = 1_000_000 + (step / 4) + r % 64;
            let key = match r % 23 {
                0 => 1_000_000 + (r >> 8) % (RING * 4),
                1 => 1_000_000u64.saturating_sub((r >> 8) % (RING * 3)),
                _ => near,
            };
            match (r >> 40) % 10 {
                0..=5 => assert_eq!(log.insert(key, slot(step)), model.insert(key, slot(step))),
                6 | 7 => assert_eq!(log.remove(key), model.remove(&key)),
                8 => {
                    let end = near.saturating_sub(200);
                    let got: Vec<(u64, Slot)> = std::iter::from_fn(|| log.pop_below(end)).collect();
                    let mut want = Vec::new();
                    while let Some(e) = model.first_entry() {
                        if *e.key() >= end {
                            break;
                        }
                        want.push(e.remove_entry());
                    }
                    assert_eq!(got, want);
                }
                _ => {
                    let (a, b) = (key.saturating_sub(r % 5000), key + (r >> 20) % 5000);
                    let got: Vec<u64> = log.range(a, b).map(|(k, _)| k).collect();
                    let want: Vec<u64> = model.range(a..=b).map(|(&k, _)| k).collect();
                    assert_eq!(got, want);
                }
            }
            assert_eq!(log.len(), model.len());
            assert_eq!(log.get(key), model.get(&key));
            assert_eq!(log.last_slot(), model.keys().next_back().copied());
            if step % 10_000 == 0 {
                let got: Vec<u64> = log.iter().map(|(k, _)| k).collect();
                let want: Vec<u64> = model.keys().copied().collect();
                assert_eq!(got, want);
            }
        }
    }
}
