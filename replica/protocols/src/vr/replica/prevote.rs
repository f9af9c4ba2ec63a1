//! The pre-vote before a primary-timeout view change (`protocol::prevote`): what it needs
//! of a VR replica. A higher view seen in a message, and a stalled view change moving on,
//! start view changes directly, as before.

use super::{Status, VrReplica};
use crate::Destination;
use crate::app::App;
use crate::kit::prevote::{Ballot, PreVote, PreVoteHost, Standing};
use crate::time::Time;
use crate::vr::messages::Message;

impl<A: App> PreVoteHost for VrReplica<A> {
    type View = u64;

    fn pre_vote(&mut self) -> &mut PreVote<u64> {
        &mut self.pre_vote
    }

    fn pre_vote_ref(&self) -> &PreVote<u64> {
        &self.pre_vote
    }

    fn standing(&self) -> Standing<u64> {
        Standing {
            view: self.view,
            leader_heard: self.leader_heard,
            leader_timeout: self.cfg.timeouts.leader_timeout,
            resend: self.cfg.timeouts.view_change,
            quorum: self.f() + 1,
            normal: self.status == Status::Normal,
            leader: self.am_primary(),
        }
    }

    fn same_view(&mut self, now: Time, view: u64) -> bool {
        if view > self.view {
            // Behind: join the newer view, as for any message of one.
            self.start_view_change(now, view);
        }
        view == self.view
    }

    fn send_pre_vote(&mut self, to: Option<usize>, view: u64, attempt: u64, ballot: Ballot) {
        let to = to.map_or(Destination::OtherReplicas, Destination::Replica);
        let message = Message::PreVote {
            view,
            attempt,
            ballot,
        };
        self.send(to, message);
    }

    fn depose_leader(&mut self, now: Time) {
        self.start_view_change(now, self.view + 1);
    }
}
