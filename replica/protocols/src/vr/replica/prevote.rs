//! The pre-vote before a primary-timeout view change (`kit::prevote`): how a VR replica
//! names its view, sends and deposes its primary. A higher view seen in a message, and a
//! stalled view change moving on, start view changes directly, as before.

use super::VrReplica;
use crate::Destination;
use crate::app::App;
use crate::kit::prevote::{Ballot, PreVote, PreVoteHost};
use crate::time::Time;
use crate::vr::messages::Message;

impl<A: App> PreVoteHost for VrReplica<A> {
    type View = u64;

    fn pre_vote(&mut self) -> (&mut PreVote<u64>, u64, Time) {
        (&mut self.pre_vote, self.view, self.leader_heard)
    }

    fn same_view(&mut self, now: Time, view: u64) -> bool {
        if view > self.view {
            // Behind: join the newer view, as for any message of one.
            self.start_view_change(now, view);
        }
        view == self.view
    }

    fn depose_leader(&mut self, now: Time) {
        self.start_view_change(now, self.view + 1);
    }

    fn send_pre_vote(&mut self, to: Destination, view: u64, attempt: u64, ballot: Ballot) {
        let message = Message::PreVote {
            view,
            attempt,
            ballot,
        };
        self.send(to, message);
    }
}
