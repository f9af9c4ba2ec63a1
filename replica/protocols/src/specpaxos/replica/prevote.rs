//! The pre-vote before a leader-timeout view change (`kit::prevote`): how a Speculative
//! Paxos replica names its view, sends and deposes its leader. Reconciliation (a new epoch
//! under the same leader), session changes and higher views seen in messages start view
//! changes directly, as before.

use super::SpecReplica;
use crate::Destination;
use crate::app::App;
use crate::kit::prevote::{Ballot, PreVote, PreVoteHost};
use crate::specpaxos::messages::Message;
use crate::specpaxos::types::SpecViewId;
use crate::time::Time;

impl<A: App> PreVoteHost for SpecReplica<A> {
    type View = SpecViewId;

    fn pre_vote(&mut self) -> (&mut PreVote<SpecViewId>, SpecViewId, Time) {
        (&mut self.pre_vote, self.view, self.leader_heard)
    }

    fn depose_leader(&mut self, now: Time) {
        self.start_view_change(now, self.view.next_leader());
    }

    fn same_view(&mut self, now: Time, view: SpecViewId) -> bool {
        self.check_view(now, view)
    }

    fn send_pre_vote(&mut self, to: Destination, view: SpecViewId, attempt: u64, ballot: Ballot) {
        let message = Message::PreVote {
            view,
            attempt,
            ballot,
        };
        self.send(to, message);
    }
}
