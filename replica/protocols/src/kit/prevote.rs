//! The pre-vote (issue 13: no needless leader change), shared by every protocol with a
//! leader timeout. A follower whose leader timer fires does not move to the next view on
//! its own word: it asks the other replicas (PRE-VOTE, naming its current view) whether they
//! lost the leader too, and starts the view change only once a majority, itself included,
//! agrees. A replica grants only when it has not heard from that view's leader within the
//! leader timeout itself (or has no normal leader at all); the leader never grants.
//!
//! Why: a follower that was stopped or cut off times out on a leader that is fine, and
//! before this its view change won, since every replica joins any higher view it sees. Now
//! it keeps its view while it asks, so as soon as it hears the leader again it simply
//! carries on. Safety is untouched: the pre-vote only decides *when* a replica starts a view
//! change; the view change itself is unchanged. Liveness: when the leader really fails,
//! every follower stops hearing it at about the same time, so the first to time out is
//! refused for at most the spread of their last contact with the leader (a sync or
//! heartbeat period) and retries every resend period until a majority grants.
//!
//! Only the leader timeout goes through here: view changes for a session change (NOPaxos,
//! Speculative Paxos), for a higher view seen in a message, and moving on from a stalled
//! view change are started directly, as before.

use std::time::Duration;

use crate::codec::{CodecError, invalid};
use crate::time::Time;
use crate::{Destination, Replica};

/// What a PRE-VOTE message says: one message type per protocol carries the ask and both
/// answers (Fast Paxos has a single message number left in its range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ballot {
    /// Have you lost the leader of this view too?
    Ask,
    /// Yes (the answer names the responder's view: a newer one tells the asker to join it).
    Grant,
    /// No: the responder hears the leader, is the leader, or is in another view.
    Refuse,
}

impl Ballot {
    pub fn code(self) -> u8 {
        match self {
            Ballot::Ask => 0,
            Ballot::Grant => 1,
            Ballot::Refuse => 2,
        }
    }

    pub fn from_code(code: u8) -> Result<Ballot, CodecError> {
        match code {
            0 => Ok(Ballot::Ask),
            1 => Ok(Ballot::Grant),
            2 => Ok(Ballot::Refuse),
            v => Err(invalid("pre-vote ballot", u64::from(v))),
        }
    }
}

/// One replica's pre-vote: its rounds, and the settings they run with (fixed by the
/// replica's config). `V` is the protocol's view number.
#[derive(Debug, Clone)]
pub(crate) struct PreVote<V> {
    round: Option<Round<V>>,
    /// Numbers rounds and resends, so a late answer to an earlier ask is not counted.
    attempts: u64,
    leader_timeout: Duration,
    /// How often an unanswered round asks again.
    resend: Duration,
    /// Replicas that must agree the leader is gone, this one included.
    quorum: usize,
}

#[derive(Debug, Clone)]
struct Round<V> {
    /// The view whose leader is suspected.
    view: V,
    started: Time,
    attempt: u64,
    resend_at: Time,
    /// Replicas that granted this attempt (never this replica itself).
    granted: Vec<usize>,
}

impl<V: Copy + PartialEq> PreVote<V> {
    /// No round open: a follower suspects its leader after `leader_timeout` without word
    /// from it, asks again every `resend`, and deposes it once `quorum` replicas (itself
    /// included) agree.
    pub(crate) fn new(leader_timeout: Duration, resend: Duration, quorum: usize) -> PreVote<V> {
        PreVote {
            round: None,
            attempts: 0,
            leader_timeout,
            resend,
            quorum,
        }
    }

    /// The round suspecting `view`'s leader, if one is open and the leader has not been
    /// heard since it started (a message from the leader ends a round without a call here).
    fn open(&self, view: V, leader_heard: Time) -> Option<&Round<V>> {
        self.round
            .as_ref()
            .filter(|r| r.view == view && r.started >= leader_heard)
    }

    /// When a normal follower of `view`, which last heard its leader at `leader_heard`,
    /// next wants its leader timer: the leader timeout, or while a round is open after it,
    /// the round's next resend.
    pub(crate) fn deadline(&self, view: V, leader_heard: Time) -> Time {
        let expiry = leader_heard + self.leader_timeout;
        match self.open(view, leader_heard) {
            Some(r) => r.resend_at.max(expiry),
            None => expiry,
        }
    }

    /// A follower's timer fired. Returns the attempt number to send in a PRE-VOTE now: when
    /// the leader of `view` timed out and no round is open (a new round), or the open
    /// round's resend is due (a new attempt; earlier grants no longer count).
    fn on_timer(&mut self, now: Time, view: V, leader_heard: Time) -> Option<u64> {
        if now < leader_heard + self.leader_timeout {
            return None;
        }
        let started = match self.open(view, leader_heard) {
            Some(r) if now < r.resend_at => return None,
            Some(r) => r.started,
            None => now,
        };
        self.attempts += 1;
        self.round = Some(Round {
            view,
            started,
            attempt: self.attempts,
            resend_at: now + self.resend,
            granted: Vec::new(),
        });
        Some(self.attempts)
    }

    /// `sender` granted `attempt` for `view`. True when, with this replica's own vote, a
    /// quorum agrees the leader is gone: the caller starts the view change (the round is
    /// over). False for an answer to another view or attempt, or a round that the leader's
    /// messages have ended.
    fn on_grant(&mut self, view: V, attempt: u64, sender: usize, leader_heard: Time) -> bool {
        if self.open(view, leader_heard).is_none() {
            return false;
        }
        let quorum = self.quorum;
        let Some(r) = self.round.as_mut() else {
            return false;
        };
        if r.attempt != attempt {
            return false;
        }
        if !r.granted.contains(&sender) {
            r.granted.push(sender);
        }
        if r.granted.len() + 1 >= quorum {
            self.round = None;
            return true;
        }
        false
    }

    /// Whether a replica grants a PRE-VOTE for the view it is in: not when it is that view's
    /// normal leader, nor when it is a normal follower that heard from the leader within
    /// the leader timeout; yes otherwise (a follower that lost the leader too, or a replica
    /// with no normal leader at all, in the middle of a view change).
    fn grants(&self, now: Time, normal: bool, leader: bool, leader_heard: Time) -> bool {
        if !normal {
            return true;
        }
        !leader && now >= leader_heard + self.leader_timeout
    }

    /// Whether a round is open for `view`.
    #[cfg(test)]
    fn asking(&self, view: V, leader_heard: Time) -> bool {
        self.open(view, leader_heard).is_some()
    }
}

/// What the pre-vote needs of a protocol's replica beyond [`Replica`] (whether it is normal,
/// whether it leads): how it names its view, how it joins a newer one, how it sends a
/// PRE-VOTE and how it deposes its leader. The functions below run the pre-vote on any
/// replica that provides it.
pub(crate) trait PreVoteHost: Replica {
    type View: Copy + PartialEq;

    /// The replica's pre-vote, its view, and when it last heard from that view's leader.
    fn pre_vote(&mut self) -> (&mut PreVote<Self::View>, Self::View, Time);
    /// Starts the view change to the next leader's view.
    fn depose_leader(&mut self, now: Time);
    /// Joins `view` if it is newer, as for any message of a newer view; true if `view` is
    /// (still) this replica's view.
    fn same_view(&mut self, now: Time, view: Self::View) -> bool;
    /// Sends a PRE-VOTE.
    fn send_pre_vote(&mut self, to: Destination, view: Self::View, attempt: u64, ballot: Ballot);
}

/// A normal follower's leader timer: past the leader timeout, ask (or ask again) whether the
/// others lost the leader too.
pub(crate) fn on_leader_timer<H: PreVoteHost>(h: &mut H, now: Time) {
    let (pre_vote, view, leader_heard) = h.pre_vote();
    let Some(attempt) = pre_vote.on_timer(now, view, leader_heard) else {
        return;
    };
    if pre_vote.quorum <= 1 {
        // Alone, this replica is the majority.
        h.depose_leader(now);
        return;
    }
    h.send_pre_vote(Destination::OtherReplicas, view, attempt, Ballot::Ask);
}

/// A PRE-VOTE from `sender`: an ask, answered with this replica's view, or an answer.
pub(crate) fn on_message<H: PreVoteHost>(
    h: &mut H,
    now: Time,
    sender: usize,
    view: H::View,
    attempt: u64,
    ballot: Ballot,
) {
    if ballot == Ballot::Ask {
        // A newer view is joined, as any message of one is (the asker is normal in it).
        h.same_view(now, view);
        let (normal, leader) = (h.is_normal(), h.is_leader());
        let (pre_vote, current, leader_heard) = h.pre_vote();
        let granted = view == current && pre_vote.grants(now, normal, leader, leader_heard);
        // The answer carries this replica's view: a newer one tells the asker to join it.
        let answer = if granted {
            Ballot::Grant
        } else {
            Ballot::Refuse
        };
        h.send_pre_vote(Destination::Replica(sender), current, attempt, answer);
        return;
    }
    if !h.same_view(now, view) || ballot == Ballot::Refuse {
        return;
    }
    if !h.is_normal() || h.is_leader() {
        return;
    }
    let (pre_vote, _, leader_heard) = h.pre_vote();
    if pre_vote.on_grant(view, attempt, sender, leader_heard) {
        h.depose_leader(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(200);
    const RESEND: Duration = Duration::from_millis(10);

    fn ms(n: u64) -> Time {
        Time::from_millis(n)
    }

    #[test]
    fn nothing_is_asked_before_the_leader_timeout() {
        let mut p = PreVote::<u64>::new(TIMEOUT, RESEND, 2);
        assert_eq!(p.deadline(1, ms(100)), ms(300));
        assert_eq!(p.on_timer(ms(299), 1, ms(100)), None);
        assert!(!p.asking(1, ms(100)));
    }

    #[test]
    fn a_round_resends_with_a_new_attempt_and_counts_only_that_attempt() {
        let mut p = PreVote::<u64>::new(TIMEOUT, RESEND, 3);
        let first = p.on_timer(ms(300), 1, ms(100)).unwrap();
        assert!(p.asking(1, ms(100)));
        assert_eq!(p.deadline(1, ms(100)), ms(310));
        assert_eq!(p.on_timer(ms(305), 1, ms(100)), None);
        let second = p.on_timer(ms(310), 1, ms(100)).unwrap();
        assert_ne!(first, second);
        // Quorum 3 of 5: a late grant of the first attempt does not count.
        assert!(!p.on_grant(1, first, 2, ms(100)));
        assert!(!p.on_grant(1, second, 3, ms(100)));
        assert!(!p.on_grant(1, second, 3, ms(100)), "one vote per replica");
        assert!(!p.on_grant(2, second, 4, ms(100)), "another view");
        assert!(p.on_grant(1, second, 4, ms(100)));
        assert!(!p.asking(1, ms(100)), "the round is over");
    }

    #[test]
    fn hearing_the_leader_ends_the_round() {
        let mut p = PreVote::<u64>::new(TIMEOUT, RESEND, 2);
        let a = p.on_timer(ms(300), 1, ms(100)).unwrap();
        // The leader is heard at 305: the round no longer counts grants, and the timer
        // waits for the next leader timeout.
        assert!(!p.on_grant(1, a, 2, ms(305)));
        assert_eq!(p.deadline(1, ms(305)), ms(505));
        assert_eq!(p.on_timer(ms(310), 1, ms(305)), None);
        // A later suspicion is a new round.
        let b = p.on_timer(ms(505), 1, ms(305)).unwrap();
        assert!(p.on_grant(1, b, 2, ms(305)));
    }

    #[test]
    fn only_a_follower_that_lost_the_leader_or_a_replica_without_one_grants() {
        let p = PreVote::<u64>::new(TIMEOUT, RESEND, 2);
        let heard = ms(100);
        assert!(!p.grants(ms(250), true, false, heard), "heard recently");
        assert!(p.grants(ms(300), true, false, heard), "lost it too");
        assert!(!p.grants(ms(900), true, true, heard), "the leader itself");
        assert!(p.grants(ms(150), false, false, heard), "in a view change");
    }
}
