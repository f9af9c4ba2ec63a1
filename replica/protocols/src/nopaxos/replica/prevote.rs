//! The pre-vote before a leader-timeout view change (`protocol::prevote`): what it needs of
//! a NOPaxos replica. Session changes and higher views seen in messages start view changes
//! directly, as before.

use super::{NopaxosReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::kit::prevote::{Ballot, PreVote, PreVoteHost, Standing};
use crate::nopaxos::messages::Message;
use crate::nopaxos::types::ViewId;
use crate::time::Time;

impl<A: App> PreVoteHost for NopaxosReplica<A> {
    type View = ViewId;

    fn pre_vote(&mut self) -> &mut PreVote<ViewId> {
        &mut self.pre_vote
    }

    fn pre_vote_ref(&self) -> &PreVote<ViewId> {
        &self.pre_vote
    }

    fn standing(&self) -> Standing<ViewId> {
        Standing {
            view: self.view,
            leader_heard: self.leader_heard,
            leader_timeout: self.cfg.timeouts.leader_timeout,
            resend: self.cfg.timeouts.view_change,
            quorum: self.f() + 1,
            normal: self.status == Status::Normal,
            leader: self.am_leader(),
        }
    }

    fn same_view(&mut self, now: Time, view: ViewId) -> bool {
        self.check_view(now, view)
    }

    fn send_pre_vote(&mut self, to: Option<usize>, view: ViewId, attempt: u64, ballot: Ballot) {
        let to = to.map_or(Destination::OtherReplicas, Destination::Replica);
        let message = Message::PreVote {
            view,
            attempt,
            ballot,
        };
        self.send(to, message);
    }

    fn depose_leader(&mut self, now: Time) {
        let next = ViewId {
            leader_num: self.view.leader_num + 1,
            session_num: self.view.session_num,
        };
        self.start_view_change(now, next);
    }
}
