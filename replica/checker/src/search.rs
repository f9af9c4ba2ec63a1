//! The Wing–Gong/Lowe search over one key's operations, with memoization as in Porcupine.
//!
//! Events (calls and returns, ordered by time) sit in a doubly linked list. The operations
//! that may be linearized next are the calls before the first remaining return: linearizing
//! one removes its call and return ("lift"), backtracking puts them back in reverse order.
//! A (set of linearized operations, value) pair that was already explored is not explored
//! again: the search from it failed, because sets only grow along a path.
//!
//! Operations that never returned have no return event, so nothing waits for them, and the
//! search ends once every completed operation is linearized. To keep them from multiplying
//! the search, one is only linearized when it changes the value into a prefix of a value
//! that a candidate operation needs to find (a read's result, an append's prior value, a
//! compare-and-swap's found or expected value). That loses nothing: in a linearization with
//! the fewest such operations, each one's effect is read, through appends only, by an
//! operation that is already a candidate at that point (real time cannot order anything
//! between them), so its value is a prefix of what that reader needs.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::model::{ABSENT, Effect, StateId, Step, Values};

/// One operation of a key, in invoke order.
#[derive(Debug)]
pub(super) struct KeyOp {
    pub(super) invoke: u64,
    pub(super) ret: Option<u64>,
    pub(super) step: Step,
}

impl KeyOp {
    fn pending(&self) -> bool {
        self.ret.is_none()
    }
}

/// How a key's search ended.
#[derive(Debug)]
pub(super) enum Outcome {
    Linearizable,
    Violation(Stuck),
    /// The budget ran out after exploring this many states.
    Exhausted {
        explored: u64,
    },
}

/// The furthest the search got, for the report: the deepest partial linearization (by
/// completed operations) and the candidates none of which led anywhere from it.
#[derive(Debug)]
pub(super) struct Stuck {
    /// Completed operations linearized, and how many there are.
    pub(super) linearized: usize,
    pub(super) completed: usize,
    /// The last operations of that linearization with the value after each, oldest first.
    pub(super) tail: Vec<(usize, StateId)>,
    /// The value at that point.
    pub(super) state: StateId,
    /// The completed operations that could have come next, none of which led to a full
    /// linearization.
    pub(super) candidates: Vec<usize>,
}

/// How many operations of the stuck path the report shows.
const TAIL: usize = 8;

const NONE: u32 = u32::MAX;
const HEAD: u32 = 0;
const END: u32 = 1;

#[derive(Debug, Clone, Copy)]
struct Event {
    op: u32,
    call: bool,
    prev: u32,
    next: u32,
    /// For a call, its return event (NONE for an operation that never returned).
    ret: u32,
}

/// What linearizing an operation changed, to put back.
#[derive(Debug, Clone, Copy)]
struct Saved {
    state: StateId,
    prefix: usize,
    hi: usize,
}

#[derive(Debug)]
struct Frame {
    /// The operation linearized to get here (NONE at the root).
    op: u32,
    saved: Saved,
    /// This node's candidates are `cands[start..]` while it is on top.
    start: usize,
    next: usize,
}

pub(super) fn search(ops: &[KeyOp], values: &mut Values, budget: u64) -> Outcome {
    Search::new(ops, values).run(budget)
}

struct Search<'a> {
    ops: &'a [KeyOp],
    values: &'a mut Values,
    /// Per operation: its index among the completed or among the pending operations.
    slot: Vec<usize>,
    /// Per operation: its call event (NONE for operations the search ignores).
    call_of: Vec<u32>,
    events: Vec<Event>,
    completed: usize,
    /// Linearized completed operations; all below `prefix` are, none at or above `hi`.
    done: Vec<u64>,
    /// Linearized pending operations.
    pend: Vec<u64>,
    prefix: usize,
    hi: usize,
    ndone: usize,
    state: StateId,
    memo: HashSet<Box<[u64]>, BuildHasherDefault<FxHasher>>,
    key: Vec<u64>,
    cands: Vec<u32>,
    frames: Vec<Frame>,
    best: Option<Stuck>,
}

impl<'a> Search<'a> {
    fn new(ops: &'a [KeyOp], values: &'a mut Values) -> Search<'a> {
        let mut slot = Vec::with_capacity(ops.len());
        let (mut completed, mut pending) = (0, 0);
        let mut times = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            let i = i as u32;
            if op.pending() {
                slot.push(pending);
                pending += 1;
                if !matches!(op.step, Step::Nothing) {
                    times.push((op.invoke, 0u8, i));
                }
            } else {
                slot.push(completed);
                completed += 1;
                times.push((op.invoke, 0, i));
                // A return at the same time as a call sorts after it: the two count as
                // concurrent.
                times.push((op.ret.unwrap_or(u64::MAX), 1, i));
            }
        }
        times.sort_unstable();
        let mut events = vec![
            Event {
                op: NONE,
                call: false,
                prev: NONE,
                next: END,
                ret: NONE,
            },
            Event {
                op: NONE,
                call: false,
                prev: HEAD,
                next: NONE,
                ret: NONE,
            },
        ];
        let mut call_of = vec![NONE; ops.len()];
        for &(_, kind, op) in &times {
            let e = events.len() as u32;
            let prev = events[END as usize].prev;
            events.push(Event {
                op,
                call: kind == 0,
                prev,
                next: END,
                ret: NONE,
            });
            events[prev as usize].next = e;
            events[END as usize].prev = e;
            if kind == 0 {
                call_of[op as usize] = e;
            } else {
                let call = call_of[op as usize];
                events[call as usize].ret = e;
            }
        }
        Search {
            ops,
            values,
            slot,
            call_of,
            events,
            completed,
            done: vec![0; completed.div_ceil(64)],
            pend: vec![0; pending.div_ceil(64)],
            prefix: 0,
            hi: 0,
            ndone: 0,
            state: ABSENT,
            memo: HashSet::default(),
            key: Vec::new(),
            cands: Vec::new(),
            frames: Vec::new(),
            best: None,
        }
    }

    fn run(mut self, budget: u64) -> Outcome {
        if self.completed == 0 {
            return Outcome::Linearizable;
        }
        let saved = self.save();
        self.enter(NONE, saved);
        let mut explored = 0u64;
        loop {
            let Some(top) = self.frames.last_mut() else {
                let stuck = self.best.take();
                return match stuck {
                    Some(stuck) => Outcome::Violation(stuck),
                    None => Outcome::Exhausted { explored },
                };
            };
            let (start, at) = (top.start, top.start + top.next);
            if at >= self.cands.len() {
                if let Some(frame) = self.frames.pop() {
                    self.cands.truncate(frame.start);
                    if frame.op != NONE {
                        self.undo(frame.op, frame.saved);
                    }
                }
                continue;
            }
            top.next += 1;
            let op = self.cands[at];
            let Some(next) = self.try_step(op, start) else {
                continue;
            };
            let saved = self.apply(op, next);
            if !self.remember() {
                self.undo(op, saved);
                continue;
            }
            explored += 1;
            if explored > budget {
                return Outcome::Exhausted { explored };
            }
            if self.ndone == self.completed {
                return Outcome::Linearizable;
            }
            self.enter(op, saved);
        }
    }

    fn save(&self) -> Saved {
        Saved {
            state: self.state,
            prefix: self.prefix,
            hi: self.hi,
        }
    }

    /// Pushes a node for the current state, with its candidates: completed operations
    /// first, so that a linearizable history rarely needs the pending ones.
    fn enter(&mut self, op: u32, saved: Saved) {
        let start = self.cands.len();
        for want_pending in [false, true] {
            let mut e = self.events[HEAD as usize].next;
            while e != END && self.events[e as usize].call {
                let o = self.events[e as usize].op;
                if self.ops[o as usize].pending() == want_pending {
                    self.cands.push(o);
                }
                e = self.events[e as usize].next;
            }
        }
        self.frames.push(Frame {
            op,
            saved,
            start,
            next: 0,
        });
        if self.best.as_ref().is_none_or(|b| self.ndone > b.linearized) {
            self.best = Some(self.stuck_here(start));
        }
    }

    fn stuck_here(&self, start: usize) -> Stuck {
        let path = &self.frames[1..];
        let from = path.len().saturating_sub(TAIL);
        let tail = (from..path.len())
            .map(|i| {
                let after = path.get(i + 1).map_or(self.state, |f| f.saved.state);
                (path[i].op as usize, after)
            })
            .collect();
        Stuck {
            linearized: self.ndone,
            completed: self.completed,
            tail,
            state: self.state,
            candidates: self.cands[start..]
                .iter()
                .filter(|&&o| !self.ops[o as usize].pending())
                .map(|&o| o as usize)
                .collect(),
        }
    }

    /// The value after linearizing `op` now, if that is allowed and worth exploring.
    fn try_step(&mut self, op: u32, start: usize) -> Option<StateId> {
        let ops = self.ops;
        let step = &ops[op as usize].step;
        if !ops[op as usize].pending() {
            return step.completed(self.state);
        }
        let effect = step.pending_effect(self.state)?;
        let current = self.values.get(self.state).unwrap_or(&[]);
        let useful = self.cands[start..].iter().any(|&c| {
            c != op
                && ops[c as usize]
                    .step
                    .target()
                    .and_then(|t| self.values.get(t))
                    .is_some_and(|target| match effect {
                        Effect::Set(id) => {
                            self.values.get(id).is_some_and(|v| target.starts_with(v))
                        }
                        Effect::Extend(v) => target
                            .strip_prefix(current)
                            .is_some_and(|rest| rest.starts_with(v)),
                    })
        });
        if !useful {
            return None;
        }
        Some(match effect {
            Effect::Set(id) => id,
            Effect::Extend(v) => {
                let mut value = current.to_vec();
                value.extend_from_slice(v);
                self.values.intern(&value)
            }
        })
    }

    fn apply(&mut self, op: u32, next: StateId) -> Saved {
        let saved = self.save();
        let call = self.call_of[op as usize];
        self.lift(call);
        let slot = self.slot[op as usize];
        if self.ops[op as usize].pending() {
            self.pend[slot / 64] |= 1 << (slot % 64);
        } else {
            self.done[slot / 64] |= 1 << (slot % 64);
            self.ndone += 1;
            self.hi = self.hi.max(slot + 1);
            while self.prefix < self.completed
                && self.done[self.prefix / 64] & (1 << (self.prefix % 64)) != 0
            {
                self.prefix += 1;
            }
        }
        self.state = next;
        saved
    }

    fn undo(&mut self, op: u32, saved: Saved) {
        let call = self.call_of[op as usize];
        self.unlift(call);
        let slot = self.slot[op as usize];
        if self.ops[op as usize].pending() {
            self.pend[slot / 64] &= !(1 << (slot % 64));
        } else {
            self.done[slot / 64] &= !(1 << (slot % 64));
            self.ndone -= 1;
        }
        self.state = saved.state;
        self.prefix = saved.prefix;
        self.hi = saved.hi;
    }

    /// Records the current (linearized set, value); false if it was explored before.
    fn remember(&mut self) -> bool {
        // The completed set is stored as its dense prefix plus the words holding the rest,
        // so keys stay short however long the history.
        self.key.clear();
        self.key.push(self.prefix as u64);
        self.key.push(u64::from(self.state));
        self.key.extend_from_slice(&self.pend);
        if self.hi > self.prefix {
            self.key
                .extend_from_slice(&self.done[self.prefix / 64..=(self.hi - 1) / 64]);
        }
        if self.memo.contains(&self.key[..]) {
            return false;
        }
        self.memo.insert(self.key.clone().into_boxed_slice());
        true
    }

    fn unlink(&mut self, e: u32) {
        let Event { prev, next, .. } = self.events[e as usize];
        self.events[prev as usize].next = next;
        self.events[next as usize].prev = prev;
    }

    fn relink(&mut self, e: u32) {
        let Event { prev, next, .. } = self.events[e as usize];
        self.events[prev as usize].next = e;
        self.events[next as usize].prev = e;
    }

    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.events[call as usize].ret;
        if ret != NONE {
            self.unlink(ret);
        }
    }

    fn unlift(&mut self, call: u32) {
        let ret = self.events[call as usize].ret;
        if ret != NONE {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// FxHash with a final mix: memo keys are already well spread words, so SipHash's cost
/// buys nothing here.
#[derive(Debug, Default)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // murmur3's fmix64, so the low bits the table indexes by depend on every input bit.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}
