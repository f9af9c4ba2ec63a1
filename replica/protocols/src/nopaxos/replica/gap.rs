//! Gap agreement at the leader (NOPaxos section 5.2.2), over a run of slots at once: for
//! the slots whose OUM messages it lost, the leader asks the others for the requests
//! (GAP-FIND), commits NO-OPs in the slots nobody holds a request for (GAP-COMMIT), fills the
//! first requests found, and goes on with the rest of the run. A run where nobody holds
//! anything costs one GAP-FIND and one GAP-COMMIT round however long it is. The follower's
//! side is in `catch_up`.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{NopaxosReplica, NopaxosTimeouts};
use crate::Destination;
use crate::app::App;
use crate::kit::pending::RttEstimator;
use crate::nopaxos::messages::Message;
use crate::nopaxos::types::{Entry, Request, ViewId};
use crate::time::Time;

/// When gap messages are retried. Every replica that waits on a gap holds up every later
/// request (the leader does not run ahead of an undecided slot; a follower does not skip
/// one), so a lost gap message must be retried after about a round trip between replicas,
/// not after a fixed `gap_request_ms` (10 ms, the original's) that under a few percent of
/// loss kept some replica stalled most of the time. The retry wait is an RFC 6298 estimate
/// over replica round trips (GAP-FIND to its reply, GAP-REQUEST to GAP-REPLY, GAP-COMMIT to
/// its acknowledgement; Karn's rule: never a retried one), at least `gap_request_min_ms`,
/// at most the configured wait, doubling on each retry.
#[derive(Debug, Clone)]
pub(crate) struct GapTimer {
    pub(super) rtt: RttEstimator,
    /// The follower's outstanding GAP-REQUEST: slot, when first sent, whether retried.
    pub(super) probe: Option<(u64, Time, bool)>,
    /// Gap messages sent again after their wait ran out.
    pub(crate) retries: u64,
}

impl GapTimer {
    pub(crate) fn new(t: &NopaxosTimeouts) -> GapTimer {
        GapTimer {
            rtt: RttEstimator::new(t.gap_request_min, t.gap_request),
            probe: None,
            retries: 0,
        }
    }

    /// The wait before retrying a gap message whose configured wait is `cap`.
    pub(crate) fn wait(&self, cap: Duration) -> Duration {
        self.rtt.rto_within(cap)
    }

    pub(super) fn retried(&mut self) {
        self.retries += 1;
        self.rtt.back_off();
    }
}

/// The leader's agreement on the run of slots `first..=last` it lost.
#[derive(Debug, Clone)]
pub(crate) struct LeaderGap {
    /// The first slot of the run not yet final here (synchronization stops before it).
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) phase: GapPhase,
    /// When to retry (the search or the commit) or, for the search, give up on it.
    pub(crate) deadline: Time,
    /// When this phase's first message went out, and whether it was sent again since.
    started: Time,
    resent: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum GapPhase {
    /// Asking the other replicas whether they received requests in `first..=last`.
    Finding {
        /// By replica: its slots `first..=clear` hold no request (None: no answer yet).
        clear: Vec<Option<u64>>,
        /// The requests a peer reported from the lowest slot any peer did, with that slot.
        found: Option<Found>,
    },
    /// NO-OPs in `first..=upto` are in the leader's log; waiting for f replicas to
    /// acknowledge them. `found` are requests from slot `upto + 1` on, if reported.
    Committing {
        upto: u64,
        acks: BTreeSet<usize>,
        found: Option<Found>,
    },
}

/// Consecutive requests a peer holds, from slot `slot` on.
pub(crate) type Found = (u64, Vec<Request>);

impl<A: App> NopaxosReplica<A> {
    /// Starts agreeing on the slots `first..=last`, lost here; `first` is the log's next.
    pub(super) fn start_leader_gap(&mut self, now: Time, first: u64, last: u64) {
        self.send(
            Destination::OtherReplicas,
            Message::GapFind {
                view: self.view,
                first,
                last,
            },
        );
        self.gap = Some(LeaderGap {
            first,
            last,
            phase: GapPhase::Finding {
                clear: vec![None; self.n()],
                found: None,
            },
            deadline: now + self.gap_timer.wait(self.cfg.timeouts.gap_request),
            started: now,
            resent: false,
        });
        // Alone (f = 0) there is nobody to ask.
        self.decide_gap(now, false);
    }

    /// Acts on what the search learned so far: commits NO-OPs in the slots from `first` on
    /// that every peer says hold no request (once the search `timed_out`, that every peer
    /// that answered says so of), or fills `first` if a peer has its request.
    fn decide_gap(&mut self, now: Time, timed_out: bool) {
        let me = self.cfg.index;
        let Some(gap) = self.gap.as_mut() else { return };
        let (first, last) = (gap.first, gap.last);
        let GapPhase::Finding { clear, found } = &mut gap.phase else {
            return;
        };
        let before_found = found
            .as_ref()
            .map_or(last, |(slot, _)| slot.saturating_sub(1));
        let peers = clear.iter().enumerate().filter(|(i, _)| *i != me);
        let everyone = peers.clone().all(|(_, c)| c.is_some());
        let answered = peers.filter_map(|(_, c)| *c).min();
        // A slot becomes a NO-OP when every peer said it holds no request there. Once the
        // search ran out of time, the slots every peer that answered said so of become
        // NO-OPs, and the first slot at least (the paper's rule for one slot): a silent
        // peer is down or has not reached the run, and waiting on it would stall the group.
        // Never past a request found.
        let agreed = if everyone {
            answered.unwrap_or(before_found).min(before_found)
        } else if timed_out {
            answered.unwrap_or(first).max(first).min(before_found)
        } else {
            first.saturating_sub(1)
        };
        if agreed >= first {
            let found = found.take();
            self.commit_noops(now, first, agreed, last, found);
        } else if found.as_ref().is_some_and(|(slot, _)| *slot == first) {
            // A peer has them: the slots hold the requests, as if they had arrived.
            let requests = found.take().map(|(_, r)| r).unwrap_or_default();
            self.gap = None;
            self.fill_and_continue(now, first, requests, last);
        }
    }

    /// Fills the slots from `first` on with `requests` (found at a peer), then goes on with
    /// the rest of the run.
    fn fill_and_continue(&mut self, now: Time, first: u64, requests: Vec<Request>, last: u64) {
        let next = first + requests.len() as u64;
        for r in requests {
            self.append_and_apply(now, Entry::Request(r));
        }
        self.continue_gap(now, next, last);
    }

    /// Goes on with the slots `first..=last` of a run, if any are left.
    fn continue_gap(&mut self, now: Time, first: u64, last: u64) {
        if first <= last {
            self.start_leader_gap(now, first, last);
        }
    }

    /// Appends NO-OPs in `first..=upto` and commits them with one GAP-COMMIT. The leader
    /// processes nothing further until f followers acknowledge: a view change that merged
    /// logs without the NO-OPs would contradict replies it sent for later slots.
    fn commit_noops(&mut self, now: Time, first: u64, upto: u64, last: u64, found: Option<Found>) {
        tracing::debug!(
            replica = self.cfg.index,
            first,
            upto,
            "gap: committing NO-OPs"
        );
        if first != self.log.end() + 1 {
            // The run no longer starts at the log's end (cannot happen while the leader
            // takes no OUM events during a gap): drop it rather than misplace NO-OPs.
            self.gap = None;
            return;
        }
        self.log.append_noops(upto - first + 1);
        self.execute_through(upto, true);
        self.send(
            Destination::OtherReplicas,
            Message::GapCommit {
                view: self.view,
                first,
                last: upto,
            },
        );
        self.gap = Some(LeaderGap {
            first,
            last,
            phase: GapPhase::Committing {
                upto,
                acks: BTreeSet::new(),
                found,
            },
            deadline: now + self.gap_timer.wait(self.cfg.timeouts.gap_commit),
            started: now,
            resent: false,
        });
        if self.f() == 0 {
            self.finish_commit(now);
        }
    }

    /// f followers hold the NO-OPs: fill the requests found right after them, if any, and go
    /// on with the rest of the run.
    fn finish_commit(&mut self, now: Time) {
        let Some(LeaderGap {
            last,
            phase: GapPhase::Committing { upto, found, .. },
            ..
        }) = self.gap.take()
        else {
            return;
        };
        match found {
            Some((slot, requests)) if slot == upto + 1 => {
                self.fill_and_continue(now, slot, requests, last);
            }
            _ => self.continue_gap(now, upto + 1, last),
        }
    }

    pub(super) fn leader_gap_timer(&mut self, now: Time) {
        let Some(gap) = &self.gap else { return };
        if now < gap.deadline {
            return;
        }
        let (first, last, started) = (gap.first, gap.last, gap.started);
        match gap.phase {
            // The search is bounded by `gap_request` in all, as before; within it, peers
            // whose answer went missing are asked again after a round trip or so.
            GapPhase::Finding { .. } => {
                let give_up = started + self.cfg.timeouts.gap_request;
                if now >= give_up {
                    self.decide_gap(now, true);
                    return;
                }
                self.send(
                    Destination::OtherReplicas,
                    Message::GapFind {
                        view: self.view,
                        first,
                        last,
                    },
                );
                self.gap_timer.retried();
                let next = now + self.gap_timer.wait(self.cfg.timeouts.gap_request);
                if let Some(g) = self.gap.as_mut() {
                    g.deadline = next.min(give_up);
                    g.resent = true;
                }
            }
            GapPhase::Committing { upto, .. } => {
                self.send(
                    Destination::OtherReplicas,
                    Message::GapCommit {
                        view: self.view,
                        first,
                        last: upto,
                    },
                );
                self.gap_timer.retried();
                let next = now + self.gap_timer.wait(self.cfg.timeouts.gap_commit);
                if let Some(g) = self.gap.as_mut() {
                    g.deadline = next;
                    g.resent = true;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_gap_find_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        first: u64,
        last: u64,
        clear: u64,
        found: Vec<Request>,
    ) {
        if !self.check_view(now, view) || !self.am_leader() {
            return;
        }
        let Some(gap) = self.gap.as_mut() else { return };
        if gap.first != first || gap.last != last {
            return;
        }
        // An answer speaks for `first..=clear` and, with requests, for the slots they fill.
        let speaks_to = clear.saturating_add(found.len() as u64);
        if clear.saturating_add(1) < first || speaks_to > last || speaks_to < first {
            self.stats.malformed += 1;
            return;
        }
        let GapPhase::Finding {
            clear: clears,
            found: best,
        } = &mut gap.phase
        else {
            return;
        };
        if !gap.resent {
            self.gap_timer.rtt.sample(now.saturating_since(gap.started));
        }
        if let Some(c) = clears.get_mut(sender) {
            *c = Some(c.map_or(clear, |c| c.max(clear)));
        }
        if !found.is_empty() {
            let slot = clear.saturating_add(1);
            // The lowest slot wins; from the same slot, the longer list.
            if best
                .as_ref()
                .is_none_or(|(s, r)| slot < *s || (slot == *s && found.len() > r.len()))
            {
                *best = Some((slot, found));
            }
        }
        self.decide_gap(now, false);
    }

    pub(super) fn on_gap_commit_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: ViewId,
        first: u64,
        last: u64,
    ) {
        if !self.check_view(now, view) || !self.am_leader() {
            return;
        }
        let f = self.f();
        let Some(gap) = self.gap.as_mut() else { return };
        if gap.first != first {
            return;
        }
        if let GapPhase::Committing { upto, acks, .. } = &mut gap.phase {
            if *upto != last {
                return;
            }
            if !gap.resent {
                self.gap_timer.rtt.sample(now.saturating_since(gap.started));
            }
            acks.insert(sender);
            if acks.len() >= f {
                self.finish_commit(now);
            }
        }
    }
}
