//! The pre-vote before a leader-timeout view change (`kit::prevote`): how a Fast Paxos
//! replica names its view, sends and deposes its leader (a classic quorum must agree the
//! leader is gone). A higher view seen in a message, and a stalled view change moving on,
//! start view changes directly.

use super::FastPaxosReplica;
use crate::Destination;
use crate::app::App;
use crate::fastpaxos::messages::Message;
use crate::kit::prevote::{Ballot, PreVote, PreVoteHost};
use crate::time::Time;

impl<A: App> PreVoteHost for FastPaxosReplica<A> {
    type View = u64;

    fn pre_vote(&mut self) -> (&mut PreVote<u64>, u64, Time) {
        (&mut self.pre_vote, self.view, self.leader_heard)
    }

    fn same_view(&mut self, now: Time, view: u64) -> bool {
        self.check_view(now, view)
    }

    fn send_pre_vote(&mut self, to: Destination, view: u64, attempt: u64, ballot: Ballot) {
        let message = Message::PreVote {
            view,
            attempt,
            ballot,
        };
        self.send_plain(to, message);
    }

    fn depose_leader(&mut self, now: Time) {
        self.start_view_change(now, self.view + 1);
    }
}
