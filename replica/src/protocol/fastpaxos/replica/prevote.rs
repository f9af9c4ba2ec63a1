//! The pre-vote before a leader-timeout view change (`protocol::prevote`): a follower that
//! stops hearing its leader asks the others before it moves to the next view, so a
//! follower that was stopped or cut off does not depose a healthy leader. A higher view
//! seen in a message, and a stalled view change moving on, start view changes directly.

use super::{FastPaxosReplica, Status};
use crate::app::App;
use crate::protocol::Destination;
use crate::protocol::fastpaxos::messages::Message;
use crate::protocol::prevote::{Ballot, grants};
use crate::time::Time;

impl<A: App> FastPaxosReplica<A> {
    /// When a normal follower's leader timer next wants attention.
    pub(super) fn leader_deadline(&self) -> Time {
        self.pre_vote.deadline(
            self.view,
            self.leader_heard,
            self.cfg.timeouts.leader_timeout,
        )
    }

    /// A normal follower's leader timer: past the leader timeout, ask (or ask again)
    /// whether the others lost the leader too.
    pub(super) fn leader_timer(&mut self, now: Time) {
        let Some(attempt) = self.pre_vote.on_timer(
            now,
            self.view,
            self.leader_heard,
            self.cfg.timeouts.leader_timeout,
            self.cfg.timeouts.view_change,
        ) else {
            return;
        };
        if self.q.classic <= 1 {
            self.start_view_change(now, self.view + 1);
            return;
        }
        let view = self.view;
        self.send_plain(
            Destination::OtherReplicas,
            Message::PreVote {
                view,
                attempt,
                ballot: Ballot::Ask,
            },
        );
    }

    pub(super) fn on_pre_vote(&mut self, now: Time, sender: usize, view: u64, attempt: u64) {
        // A newer view is joined, as any message of one is (the asker is normal in it).
        self.check_view(now, view);
        let granted = view == self.view
            && grants(
                now,
                self.status == Status::Normal,
                self.am_leader(),
                self.leader_heard,
                self.cfg.timeouts.leader_timeout,
            );
        // The answer carries this replica's view: a newer one tells the asker to join it.
        let view = self.view;
        self.send_plain(
            Destination::Replica(sender),
            Message::PreVote {
                view,
                attempt,
                ballot: if granted {
                    Ballot::Grant
                } else {
                    Ballot::Refuse
                },
            },
        );
    }

    pub(super) fn on_pre_vote_reply(
        &mut self,
        now: Time,
        sender: usize,
        view: u64,
        attempt: u64,
        granted: bool,
    ) {
        if !self.check_view(now, view)
            || !granted
            || self.status != Status::Normal
            || self.am_leader()
        {
            return;
        }
        // A classic quorum (a majority) must agree the leader is gone.
        let quorum = self.q.classic;
        if self
            .pre_vote
            .on_grant(view, attempt, sender, self.leader_heard, quorum)
        {
            self.start_view_change(now, self.view + 1);
        }
    }
}
