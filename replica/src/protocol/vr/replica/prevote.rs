//! The pre-vote before a primary-timeout view change (`protocol::prevote`): a backup that
//! stops hearing its primary asks the others before it moves to the next view, so a backup
//! that was stopped or cut off does not depose a healthy primary. A higher view seen in a
//! message, and a stalled view change moving on, start view changes directly, as before.

use super::{Status, VrReplica};
use crate::app::App;
use crate::protocol::Destination;
use crate::protocol::prevote::{Ballot, grants};
use crate::protocol::vr::messages::Message;
use crate::time::Time;

impl<A: App> VrReplica<A> {
    /// When a normal backup's primary timer next wants attention.
    pub(super) fn primary_deadline(&self) -> Time {
        self.pre_vote.deadline(
            self.view,
            self.leader_heard,
            self.cfg.timeouts.leader_timeout,
        )
    }

    /// A normal backup's primary timer: past the timeout, ask (or ask again) whether the
    /// others lost the primary too.
    pub(super) fn primary_timer(&mut self, now: Time) {
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
            self.start_view_change(now, self.view + 1);
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

    pub(super) fn on_pre_vote(&mut self, now: Time, sender: usize, view: u64, attempt: u64) {
        if view > self.view {
            // Behind: join the asker's view, as for any message of a newer view.
            self.start_view_change(now, view);
        }
        let granted = view == self.view
            && grants(
                now,
                self.status == Status::Normal,
                self.am_primary(),
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
        view: u64,
        attempt: u64,
        granted: bool,
    ) {
        if view > self.view {
            self.start_view_change(now, view);
            return;
        }
        if view < self.view || !granted || self.status != Status::Normal || self.am_primary() {
            return;
        }
        let quorum = self.f() + 1;
        if self
            .pre_vote
            .on_grant(view, attempt, sender, self.leader_heard, quorum)
        {
            self.start_view_change(now, self.view + 1);
        }
    }
}
