//! The clients of a run: each invokes random key-value operations over a few keys, one at a
//! time with a think time between them, and every invocation is recorded in the history
//! the linearizability checker reads.

use std::collections::BTreeMap;
use std::time::Duration;

use dataplane::io::sim::{SimIo, SimRng};

use super::trace::{Trace, show_op, show_result};
use crate::time::Time;
use protocols::app::kv::{KvOp, KvResult};
use protocols::{Client, RequestId};

/// One client operation as the run saw it: what the linearizability checker gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub client: u64,
    pub invoke: Time,
    /// When the result arrived; `None` if it never did (the client gave up, or the run
    /// ended first), so the operation may or may not have taken effect.
    pub ret: Option<Time>,
    pub op: Vec<u8>,
    pub result: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Idle until the time given, then invokes the next operation.
    Thinking(Time),
    /// Waiting for `request`, recorded at `call` in the history.
    Waiting { request: RequestId, call: usize },
}

/// A client core with its host and its workload state.
#[derive(Debug)]
pub(crate) struct ClientHost<C> {
    pub(crate) core: C,
    pub(crate) io: SimIo,
    pub(crate) id: u64,
    rng: SimRng,
    state: State,
    /// Operations drawn so far; makes every written value unique.
    drawn: u64,
    /// The last value this client saw per key, for compare-and-swaps likely to succeed.
    seen: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Whether an operation invoked after the faults healed has completed.
    pub(crate) progressed: bool,
    /// Completions that matched no outstanding request (a core bug if ever non-zero).
    pub(crate) unexpected: u64,
}

/// The workload shared by the clients: keys, think time and the history.
#[derive(Debug)]
pub(crate) struct Workload {
    keys: Vec<Vec<u8>>,
    think: Duration,
    pub(crate) history: Vec<Call>,
}

impl Workload {
    pub(crate) fn new(keys: usize, think: Duration) -> Workload {
        Workload {
            keys: (0..keys.max(1))
                .map(|i| format!("k{i}").into_bytes())
                .collect(),
            think,
            history: Vec::new(),
        }
    }

    /// Operations that returned a result.
    pub(crate) fn completed(&self) -> u64 {
        self.history.iter().filter(|c| c.ret.is_some()).count() as u64
    }
}

impl<C: Client> ClientHost<C> {
    /// A client that invokes its first operation at a random time in the first think time.
    pub(crate) fn new(core: C, io: SimIo, rng_seed: u64, workload: &Workload) -> ClientHost<C> {
        let mut rng = SimRng::new(rng_seed);
        let first = Time::ZERO + Duration::from_nanos(rng.up_to(nanos(workload.think)));
        let id = core.id();
        ClientHost {
            core,
            io,
            id,
            rng,
            state: State::Thinking(first),
            drawn: 0,
            seen: BTreeMap::new(),
            progressed: false,
            unexpected: 0,
        }
    }

    /// When this client next wants to act on its own: its think time ending, or its core's
    /// timer.
    pub(crate) fn next_wakeup(&self) -> Option<Time> {
        let think = match self.state {
            State::Thinking(t) => Some(t),
            State::Waiting { .. } => None,
        };
        match (think, self.core.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Invokes the next operation if the think time is over. True if it did.
    pub(crate) fn maybe_invoke(
        &mut self,
        now: Time,
        workload: &mut Workload,
        trace: &mut Trace<'_>,
    ) -> bool {
        let State::Thinking(at) = self.state else {
            return false;
        };
        if at > now {
            return false;
        }
        let op = self.draw_op(&workload.keys);
        let Some(request) = self.core.invoke(now, &op) else {
            // The core is still busy with an abandoned request; try again shortly.
            self.state = State::Thinking(now + Duration::from_millis(1));
            return false;
        };
        if trace.on(1) {
            trace.line(
                now,
                format_args!("client {} invoke #{request} {}", self.id, show_op(&op)),
            );
        }
        workload.history.push(Call {
            client: self.id,
            invoke: now,
            ret: None,
            op,
            result: None,
        });
        self.state = State::Waiting {
            request,
            call: workload.history.len() - 1,
        };
        true
    }

    /// Records every completion the core has; `heal_at` tells which operations count as
    /// progress after the faults.
    pub(crate) fn collect(
        &mut self,
        now: Time,
        workload: &mut Workload,
        heal_at: Time,
        trace: &mut Trace<'_>,
    ) {
        while let Some(done) = self.core.poll_completion() {
            let State::Waiting { request, call } = self.state else {
                self.unexpected += 1;
                continue;
            };
            if done.request != request {
                self.unexpected += 1;
                continue;
            }
            let Some(entry) = workload.history.get_mut(call) else {
                continue;
            };
            match done.result {
                Ok(result) => {
                    if trace.on(1) {
                        trace.line(
                            now,
                            format_args!(
                                "client {} return #{request} {}",
                                self.id,
                                show_result(&result)
                            ),
                        );
                    }
                    remember(&mut self.seen, &entry.op, &result);
                    entry.ret = Some(now);
                    entry.result = Some(result);
                    if entry.invoke >= heal_at {
                        self.progressed = true;
                    }
                }
                Err(e) => {
                    if trace.on(1) {
                        trace.line(
                            now,
                            format_args!("client {} failed #{request}: {e}", self.id),
                        );
                    }
                }
            }
            let think = self.draw_think(now, workload.think);
            self.state = State::Thinking(now + think);
        }
    }

    /// A quarter of the pauses are zero and a quarter end on the next whole millisecond, when
    /// other clients' aligned pauses end too, so operations of different clients often run
    /// concurrently; the rest are uniform up to `max`.
    fn draw_think(&mut self, now: Time, max: Duration) -> Duration {
        match self.rng.up_to(3) {
            0 => Duration::ZERO,
            1 => {
                let ms = 1_000_000;
                Duration::from_nanos(ms - now.as_nanos() % ms)
            }
            _ => Duration::from_nanos(self.rng.up_to(nanos(max))),
        }
    }

    /// A random operation on a random key; every written value is unique to this client
    /// and operation, so results tell which writes they saw.
    fn draw_op(&mut self, keys: &[Vec<u8>]) -> Vec<u8> {
        self.drawn += 1;
        let key = &keys[self.rng.up_to(keys.len() as u64 - 1) as usize];
        let value = format!("{}.{};", self.id, self.drawn).into_bytes();
        let roll = self.rng.up_to(99);
        let op = match roll {
            0..=29 => KvOp::Get { key },
            30..=54 => KvOp::Put { key, value: &value },
            55..=79 => KvOp::Append { key, value: &value },
            _ => {
                let seen = self.seen.get(key).cloned().flatten();
                let expected = match self.rng.up_to(3) {
                    0 | 1 => seen,
                    2 => None,
                    _ => Some(b"?".to_vec()),
                };
                return KvOp::Cas {
                    key,
                    expected: expected.as_deref(),
                    new: &value,
                }
                .to_bytes();
            }
        };
        op.to_bytes()
    }
}

/// Updates what a client knows of a key's value from one of its results.
fn remember(seen: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>, op: &[u8], result: &[u8]) {
    let (Ok(op), Ok(result)) = (KvOp::decode(op), KvResult::decode(result)) else {
        return;
    };
    let value = match (op, result) {
        (_, KvResult::Value(v)) => v,
        (KvOp::Put { value, .. }, KvResult::Done) => Some(value.to_vec()),
        (_, KvResult::Appended(v)) => Some(v),
        (KvOp::Cas { new, .. }, KvResult::Cas { swapped: true, .. }) => Some(new.to_vec()),
        (_, KvResult::Cas { found, .. }) => found,
        _ => return,
    };
    seen.insert(op.key().to_vec(), value);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
