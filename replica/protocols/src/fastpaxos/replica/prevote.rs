//! The pre-vote before a leader-timeout view change (`protocol::prevote`): what it needs of
//! a Fast Paxos replica (a classic quorum must agree the leader is gone). A higher view seen
//! in a message, and a stalled view change moving on, start view changes directly.

use super::{FastPaxosReplica, Status};
use crate::Destination;
use crate::app::App;
use crate::fastpaxos::messages::Message;
use crate::kit::prevote::{Ballot, PreVote, PreVoteHost, Standing};
use crate::time::Time;

impl<A: App> PreVoteHost for FastPaxosReplica<A> {
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
            quorum: self.q.classic,
            normal: self.status == Status::Normal,
            leader: self.am_leader(),
        }
    }

    fn same_view(&mut self, now: Time, view: u64) -> bool {
        self.check_view(now, view)
    }

    fn send_pre_vote(&mut self, to: Option<usize>, view: u64, attempt: u64, ballot: Ballot) {
        let to = to.map_or(Destination::OtherReplicas, Destination::Replica);
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
