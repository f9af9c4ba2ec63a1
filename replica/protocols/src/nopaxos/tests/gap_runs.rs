//! Gap agreement over runs of slots (issue 13, item 2): a run of lost messages costs a
//! constant number of gap messages however long it is, and a follower far behind catches up
//! a datagram at a time. Before, each slot was a GAP-FIND and GAP-COMMIT round of its own at
//! the leader and a GAP-REQUEST round trip at each follower.

use std::cell::RefCell;
use std::rc::Rc;

use dataplane::oum::GroupId;

use super::harness::{Cluster, Packet};
use crate::app::kv::{KvOp, KvResult};
use crate::nopaxos::Entry;
use crate::nopaxos::messages::Message;
use crate::test_harness::Fate;
use crate::{Client, Replica};

/// Gap messages seen on the wire (delivered or lost), by kind.
#[derive(Debug, Default, Clone, Copy)]
struct GapCounts {
    find: u64,
    find_reply: u64,
    commit: u64,
    commit_reply: u64,
    request: u64,
    reply: u64,
}

impl GapCounts {
    fn count(&mut self, p: &Packet) {
        match p.message() {
            Some(Message::GapFind { .. }) => self.find += 1,
            Some(Message::GapFindReply { .. }) => self.find_reply += 1,
            Some(Message::GapCommit { .. }) => self.commit += 1,
            Some(Message::GapCommitReply { .. }) => self.commit_reply += 1,
            Some(Message::GapRequest { .. }) => self.request += 1,
            Some(Message::GapReply { .. }) => self.reply += 1,
            _ => {}
        }
    }
}

/// Counts gap messages and lets `lose` decide what is lost.
fn count_and_filter(
    c: &mut Cluster,
    counts: &Rc<RefCell<GapCounts>>,
    mut lose: impl FnMut(&Packet) -> bool + 'static,
) {
    let counts = Rc::clone(counts);
    c.set_filter(move |p| {
        counts.borrow_mut().count(p);
        if lose(p) { Fate::Lose } else { Fate::Deliver }
    });
}

fn append(c: &mut Cluster, client: usize, value: &[u8]) {
    c.invoke(client, KvOp::Append { key: b"k", value });
}

/// A 3-replica cluster that served one request (message 1, slot 1), whose sequencer then
/// skips `run` message numbers (as after lost messages or a confirmed jump): the next two
/// requests, sent together, are messages `run + 2` and `run + 3`.
fn cluster_before_a_run(run: u64) -> Cluster {
    let mut c = Cluster::new(3, 2);
    append(&mut c, 0, b"a");
    assert!(wait_all_of(&mut c, &[0], 1_000));
    let sequencer = c.sequencer.as_mut().unwrap();
    assert!(sequencer.set_last_msgnum(GroupId(0), 1 + run));
    c
}

#[test]
fn a_run_of_10000_lost_slots_costs_one_find_and_one_commit_round() {
    const RUN: u64 = 10_000;
    let mut c = cluster_before_a_run(RUN);
    let counts = Rc::new(RefCell::new(GapCounts::default()));
    count_and_filter(&mut c, &counts, |_| false);
    // Two stamps far ahead confirm the jump at every replica: slots 2..=RUN+1 are lost
    // everywhere.
    append(&mut c, 0, b"b");
    append(&mut c, 1, b"c");
    assert!(wait_all_of(&mut c, &[0, 1], 1_000), "{}", c.describe());
    c.run_for(20);
    let counts = *counts.borrow();
    for r in &c.replicas {
        let log = r.log();
        assert!(log.end() >= RUN + 3, "{}", r.describe());
        assert!(
            (2..=RUN + 1).all(|s| log.get(s).is_some_and(Entry::is_noop)),
            "{}",
            r.describe()
        );
        assert!(matches!(log.get(RUN + 2), Some(Entry::Request(_))));
    }
    // One round each, to the two followers (10,000 rounds each before).
    assert_eq!((counts.find, counts.find_reply), (2, 2), "{counts:?}");
    assert_eq!((counts.commit, counts.commit_reply), (2, 2), "{counts:?}");
    // The followers asked the leader while it was still agreeing; a few asks at most.
    assert!(counts.request + counts.reply <= 8, "{counts:?}");
    c.assert_agreement();
    // One synchronization round makes the whole run stable (its NO-OPs are one range in
    // the SYNC-PREPARE; 800 NO-OP slots a round before), and the next truncates the logs
    // behind it.
    let end = c.replicas[0].log().end();
    c.run_for(1_100);
    for r in &c.replicas {
        assert!(r.commit_point() >= end, "{}", r.describe());
    }
    append(&mut c, 0, b"d");
    assert!(wait_all_of(&mut c, &[0], 1_000));
    c.run_for(1_100);
    for r in &c.replicas {
        assert!(r.log().len() < 10, "{}", r.describe());
    }
    c.assert_agreement();
}

#[test]
fn a_follower_60000_noops_behind_catches_up_in_one_gap_reply() {
    const RUN: u64 = 60_000;
    let mut c = cluster_before_a_run(RUN);
    let r2 = c.replica_addr(2);
    let counts = Rc::new(RefCell::new(GapCounts::default()));
    // Replica 2 hears nothing while the others agree on the run.
    count_and_filter(&mut c, &counts, move |p| p.to == r2);
    append(&mut c, 0, b"b");
    append(&mut c, 1, b"c");
    assert!(wait_all_of(&mut c, &[0, 1], 1_000), "{}", c.describe());
    assert_eq!(c.replicas[2].log().end(), 1);
    let leader_end = c.replicas[0].log().end();
    assert!(leader_end >= RUN + 3);
    // Replica 2 hears again; the next two requests reveal its gap of RUN + 2 slots.
    *counts.borrow_mut() = GapCounts::default();
    count_and_filter(&mut c, &counts, |_| false);
    append(&mut c, 0, b"d");
    append(&mut c, 1, b"e");
    assert!(wait_all_of(&mut c, &[0, 1], 1_000), "{}", c.describe());
    c.run_for(20);
    let counts = *counts.borrow();
    let log = c.replicas[2].log();
    assert_eq!(log.end(), c.replicas[0].log().end(), "{}", c.describe());
    assert!((2..=RUN + 1).all(|s| log.get(s).is_some_and(Entry::is_noop)));
    assert!(matches!(log.get(RUN + 2), Some(Entry::Request(_))));
    // One GAP-REQUEST, one GAP-REPLY (60,002 before), a few bytes of NO-OP run in it.
    assert_eq!((counts.request, counts.reply), (1, 1), "{counts:?}");
    assert_eq!(counts.find + counts.commit, 0, "{counts:?}");
    c.assert_agreement();
    // The cluster goes on serving.
    append(&mut c, 0, b"f");
    assert!(wait_all_of(&mut c, &[0], 1_000));
    assert_eq!(
        c.call(1, KvOp::Get { key: b"k" }, 1_000),
        Some(KvResult::Value(Some(b"abcdef".to_vec())))
    );
}

#[test]
fn a_follower_far_behind_fetches_requests_and_noops_a_datagram_at_a_time() {
    // Requests do not compress: a follower behind by 300 requests with large operations
    // still catches up a datagram (not a slot) per round trip.
    let mut c = Cluster::new(3, 1);
    let r2 = c.replica_addr(2);
    let counts = Rc::new(RefCell::new(GapCounts::default()));
    count_and_filter(&mut c, &counts, move |p| p.to == r2 && p.msgnum().is_some());
    let value = vec![b'x'; 500];
    for i in 0..300u32 {
        // Puts to distinct keys: an append's result (the whole value) would outgrow a
        // datagram.
        c.invoke(
            0,
            KvOp::Put {
                key: &i.to_be_bytes(),
                value: &value,
            },
        );
        assert!(wait_all_of(&mut c, &[0], 1_000), "{i}: {}", c.describe());
    }
    assert_eq!(c.replicas[2].log().end(), 0);
    count_and_filter(&mut c, &counts, |_| false);
    *counts.borrow_mut() = GapCounts::default();
    append(&mut c, 0, b"y");
    assert!(wait_all_of(&mut c, &[0], 1_000), "{}", c.describe());
    c.run_for(50);
    let counts = *counts.borrow();
    assert_eq!(c.replicas[2].log().end(), 301, "{}", c.describe());
    // About 550 bytes a request, 8 KiB a datagram: 14 requests a reply, 22 replies (one
    // per request, 300, before).
    assert!((18..=26).contains(&counts.reply), "{counts:?}");
    c.assert_agreement();
}

#[test]
fn a_request_found_inside_a_run_is_filled_and_the_slots_around_it_become_noops() {
    let mut c = Cluster::new(3, 7);
    append(&mut c, 0, b"a");
    assert!(wait_all_of(&mut c, &[0], 1_000));
    // Client 6's request, message 7, reveals the run 2..=6 (lost at the leader).
    let (r0, r1, r2) = (c.replica_addr(0), c.replica_addr(1), c.replica_addr(2));
    let counts = Rc::new(RefCell::new(GapCounts::default()));
    // Messages 2..=6 are lost at every replica, except message 4 at replica 1.
    count_and_filter(&mut c, &counts, move |p| {
        p.msgnum().is_some_and(|m| {
            (2..=6).contains(&m) && (p.to == r0 || p.to == r2 || (p.to == r1 && m != 4))
        })
    });
    for client in 1..=6 {
        append(&mut c, client, &[b'0' + client as u8]);
    }
    assert!(
        wait_all_of(&mut c, &[1, 2, 3, 4, 5, 6], 5_000),
        "{}",
        c.describe()
    );
    let leader = c.replicas[0].log();
    let kinds: Vec<bool> = (2..=7).map(|s| leader.get(s).unwrap().is_noop()).collect();
    assert_eq!(
        kinds,
        [true, true, false, true, true, false],
        "{}",
        c.describe()
    );
    let counts = *counts.borrow();
    // Searches for 2..=6, then 4..=6 (replica 1 had not reached 4 when first asked: it
    // waited at 2 for 2..=3), then 5..=6; commits of 2..=3 and 5..=6; two followers each.
    assert_eq!((counts.find, counts.commit), (6, 4), "{counts:?}");
    c.assert_agreement();
}

/// Runs until each of `clients` completed its outstanding request; returns whether they did.
fn wait_all_of(c: &mut Cluster, clients: &[usize], limit_ms: u64) -> bool {
    let mut done = vec![false; clients.len()];
    let clients = clients.to_vec();
    c.run_until(limit_ms, |cl| {
        for (d, &i) in done.iter_mut().zip(&clients) {
            if let Some(completion) = cl.clients[i].poll_completion() {
                assert!(completion.result.is_ok(), "client {i} gave up");
                *d = true;
            }
        }
        done.iter().all(|d| *d)
    })
}

#[test]
fn a_burst_the_leader_lost_is_filled_from_a_follower_in_one_round() {
    // The commonest gap: the leader's receive queue overflowed and it lost 50 requests its
    // followers hold. One GAP-FIND answer carries them all (a round each before).
    const BURST: u64 = 50;
    let mut c = Cluster::new(3, BURST as usize + 2);
    append(&mut c, 0, b"a");
    assert!(wait_all_of(&mut c, &[0], 1_000));
    let r0 = c.replica_addr(0);
    let counts = Rc::new(RefCell::new(GapCounts::default()));
    count_and_filter(&mut c, &counts, move |p| {
        p.to == r0 && p.msgnum().is_some_and(|m| (2..=BURST + 1).contains(&m))
    });
    let clients: Vec<usize> = (1..=BURST as usize + 1).collect();
    for &client in &clients {
        append(&mut c, client, &[b'0' + (client % 10) as u8]);
    }
    assert!(wait_all_of(&mut c, &clients, 1_000), "{}", c.describe());
    let leader = c.replicas[0].log();
    assert!((2..=BURST + 2).all(|s| matches!(leader.get(s), Some(Entry::Request(_)))));
    let counts = *counts.borrow();
    assert_eq!((counts.find, counts.commit), (2, 0), "{counts:?}");
    c.assert_agreement();
}

#[test]
fn a_follower_behind_a_synchronized_run_of_noops_fetches_it_instead_of_copying_state() {
    // Replica 2 misses a run of 60,000 and the synchronization that made it stable. The
    // next SYNC-PREPARE shows it 60,000 slots behind, more than the 4096 after which a
    // follower copies the leader's state; but they are NO-OPs, a few bytes in a GAP-REPLY.
    // (A follower that missed a whole round, as here, asks for the NO-OPs since its last
    // one; the leader keeps its log back to the previous sync point, so a round made slot
    // 1 stable everywhere first.)
    const RUN: u64 = 60_000;
    let mut c = cluster_before_a_run(RUN);
    c.run_for(1_100);
    let r2 = c.replica_addr(2);
    let counts = Rc::new(RefCell::new(GapCounts::default()));
    count_and_filter(&mut c, &counts, move |p| p.to == r2);
    append(&mut c, 0, b"b");
    append(&mut c, 1, b"c");
    assert!(wait_all_of(&mut c, &[0, 1], 1_000), "{}", c.describe());
    c.run_for(1_100);
    assert!(c.replicas[0].commit_point() >= RUN + 3, "{}", c.describe());
    *counts.borrow_mut() = GapCounts::default();
    count_and_filter(&mut c, &counts, |_| false);
    // The next round reaches replica 2, which learns how far behind it is, and of what.
    c.run_for(1_100);
    assert_eq!(c.replicas[2].stats().state_transfers, 0, "{}", c.describe());
    append(&mut c, 0, b"d");
    append(&mut c, 1, b"e");
    assert!(wait_all_of(&mut c, &[0, 1], 1_000), "{}", c.describe());
    c.run_for(20);
    let log = c.replicas[2].log();
    assert_eq!(log.end(), c.replicas[0].log().end(), "{}", c.describe());
    assert_eq!(c.replicas[2].stats().state_transfers, 0, "{}", c.describe());
    assert!((2..=RUN + 1).all(|s| log.get(s).is_some_and(Entry::is_noop)));
    let counts = *counts.borrow();
    assert!(counts.reply <= 2, "{counts:?}");
    c.assert_agreement();
}
