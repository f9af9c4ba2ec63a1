//! The pre-vote before a leader-timeout view change (`protocol::prevote`): a follower that
//! stops hearing its leader asks the others before it moves to the next leader's view, so a
//! follower that was stopped or cut off does not depose a healthy leader. Session changes
//! and higher views seen in messages start view changes directly, as before.

use super::{NopaxosReplica, Status};
use crate::app::App;
use crate::protocol::Destination;
use crate::protocol::nopaxos::messages::Message;
use crate::protocol::nopaxos::types::ViewId;
use crate::protocol::prevote::{Ballot, grants};
use crate::time::Time;

impl<A: App> NopaxosReplica<A> {
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
        if self.f() == 0 {
            // Alone, this replica is the majority.
            self.depose_leader(now);
            return;
        }
        let view = self.view;
        self.send(
            Destination::OtherReplicas,
            Message::PreVote {
                view,
                attempt,
                ballot: Ballot::Ask,
            },
        );
    }

    fn depose_leader(&mut self, now: Time) {
        let next = ViewId {
            leader_num: self.view.leader_num + 1,
            session_num: self.view.session_num,
        };
        self.start_view_change(now, next);
    }

    pub(super) fn on_pre_vote(&mut self, now: Time, sender: usize, view: ViewId, attempt: u64) {
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
        self.send(
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
        view: ViewId,
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
        let quorum = self.f() + 1;
        if self
            .pre_vote
            .on_grant(view, attempt, sender, self.leader_heard, quorum)
        {
            self.depose_leader(now);
        }
    }
}
