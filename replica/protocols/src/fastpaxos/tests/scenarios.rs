//! Focused scenarios on the in-memory cluster: the fast path, a forced collision and its
//! classic round, re-proposal of a request that lost its slot, leader changes (with a value
//! a fast quorum chose unknown to everyone, and with a dead next leader), recovery after
//! memory loss, state transfer from any replica, bounded logs, and hostile input.

use super::harness::{Cluster, Fate, Hosts, Packet};
use crate::app::kv::KvResult;
use crate::fastpaxos::Status;
use crate::fastpaxos::messages::{ChunkKind, Message};
use crate::{EntryId, Node, Replica};

fn appended(result: &[u8]) -> String {
    match KvResult::decode(result).unwrap() {
        KvResult::Appended(v) => String::from_utf8(v).unwrap(),
        other => panic!("not an append result: {other:?}"),
    }
}

fn ok(c: &Cluster, client: usize, k: usize) -> String {
    appended(c.done[client][k].result.as_ref().expect("completed"))
}

fn req(client: usize, request: u64) -> EntryId {
    EntryId::Request {
        client: 100 + client as u64,
        request,
    }
}

fn is_request_from(c: &Hosts, p: &Packet, client: usize) -> bool {
    c.client(p.from) == Some(client) && matches!(p.message(), Some(Message::Request { .. }))
}

#[test]
fn a_request_is_chosen_by_a_fast_quorum_and_answered_by_the_leader() {
    let mut c = Cluster::new(3, 1);
    c.append(0, "a;");
    assert!(c.run_until_done(0, 1, 1000));
    assert_eq!(ok(&c, 0, 0), "a;");
    let leader = c.replicas[0].counters();
    assert_eq!((leader.fast_chosen, leader.classic_chosen), (1, 0));
    c.run_for(1);
    for i in 0..3 {
        assert_eq!(c.committed(i), vec![req(0, 1)], "replica {i}");
    }
    c.assert_fp_agreement();
}

#[test]
fn concurrent_clients_all_complete_in_one_order() {
    let mut c = Cluster::new(3, 3);
    for round in 0..20 {
        for client in 0..3 {
            c.append(client, &format!("{client}.{round};"));
        }
        for client in 0..3 {
            assert!(
                c.run_until_done(client, round + 1, 5000),
                "{}",
                c.describe()
            );
        }
    }
    // Each result is a prefix of the final value: one order of all 60 appends.
    let last = (0..3)
        .map(|cl| ok(&c, cl, 19))
        .max_by_key(String::len)
        .unwrap();
    assert_eq!(last.matches(';').count(), 60);
    for cl in 0..3 {
        for k in 0..20 {
            assert!(last.starts_with(&ok(&c, cl, k)));
        }
    }
    c.run_for(100);
    c.assert_fp_agreement();
}

/// Replicas 0 and 1 get x before y; replica 2 gets y (and x only later). No value has a
/// fast quorum (all three) in slot 1 or 2: the leader decides both by classic rounds.
#[test]
fn a_collision_is_resolved_by_a_classic_round() {
    let mut c = Cluster::new(3, 2);
    let mut held = false;
    c.set_host_filter(move |a, p| {
        if !held && is_request_from(a, p, 0) && a.replica(p.to) == Some(2) {
            held = true;
            return Fate::Hold;
        }
        Fate::Deliver
    });
    c.append(0, "x;");
    c.append(1, "y;");
    c.settle();
    c.release();
    c.clear_filter();
    assert!(c.run_until_done(0, 1, 1000));
    assert!(c.run_until_done(1, 1, 1000));
    assert_eq!(ok(&c, 0, 0), "x;");
    assert_eq!(ok(&c, 1, 0), "x;y;");
    let leader = c.replicas[0].counters();
    assert_eq!(leader.fast_chosen, 0);
    assert_eq!(leader.classic_chosen, 2);
    // Slot 1 held x, x, y. By the time replica 2 gets x, the leader's ACCEPT put x in its
    // slot 1, so it does not vote x again: slot 2 is decided from y, y after the fast timeout.
    assert_eq!(leader.collisions, 1);
    c.run_for(1);
    for i in 0..3 {
        assert_eq!(c.committed(i), vec![req(0, 1), req(1, 1)], "replica {i}");
    }
    c.assert_fp_agreement();
}

/// Replicas 0 and 1 never get y; replica 2 never gets x. Slot 1 is decided for x; the
/// leader proposes y again, and it is chosen in slot 2 before its client resends.
#[test]
fn a_request_that_lost_its_slot_is_proposed_again() {
    let mut c = Cluster::new(3, 2);
    c.set_host_filter(|a, p| {
        let to = a.replica(p.to);
        let lose = (is_request_from(a, p, 1) && matches!(to, Some(0 | 1)))
            || (is_request_from(a, p, 0) && to == Some(2));
        if lose { Fate::Lose } else { Fate::Deliver }
    });
    c.append(0, "x;");
    c.append(1, "y;");
    assert!(c.run_until_done(1, 1, 50));
    assert!(c.run_until_done(0, 1, 50));
    assert_eq!(ok(&c, 1, 0), "x;y;");
    assert_eq!(c.replicas[0].counters().reproposals, 1);
    assert!(c.now < crate::time::Time::from_millis(c.config.timeouts.client_resend_ms));
    c.run_for(1);
    assert_eq!(c.committed(2), vec![req(0, 1), req(1, 1)]);
    c.assert_fp_agreement();
}

#[test]
fn a_silent_acceptor_costs_a_classic_round_per_slot_then_is_passed_over() {
    let mut c = Cluster::new(3, 1);
    c.up[2] = false;
    c.appends(0, 10, "a");
    let leader = c.replicas[0].counters();
    assert_eq!(
        leader.fast_chosen, 0,
        "n = 3 needs all three for a fast quorum"
    );
    assert_eq!(leader.classic_chosen, 10);
    c.assert_fp_agreement();
}

#[test]
fn a_crashed_leader_is_replaced_and_chosen_slots_survive() {
    let mut c = Cluster::new(3, 2);
    c.appends(0, 5, "a");
    c.run_for(10);
    let before = c.committed(1);
    c.up[0] = false;
    c.appends(1, 5, "b");
    assert_eq!(c.leader(), Some(1));
    assert_eq!(c.replicas[1].view(), 1);
    assert!(c.committed(1).starts_with(&before));
    let value = ok(&c, 1, 4);
    assert!(value.starts_with("a0;a1;a2;a3;a4;b0;"), "{value}");
    c.assert_fp_agreement();
}

#[test]
fn a_dead_next_leader_is_passed_over() {
    let mut c = Cluster::new(5, 1);
    c.appends(0, 3, "a");
    c.up[0] = false;
    c.up[1] = false;
    c.appends(0, 3, "b");
    assert_eq!(c.leader(), Some(2));
    assert_eq!(c.replicas[2].view(), 2);
    assert!(c.replicas[3].stats().view_changes >= 2);
    c.assert_fp_agreement();
}

/// n = 5 (fast quorum 4). Acceptors 1-4 vote x in slot 1, which a fast quorum thereby
/// chose, but their votes never reach the leader; the leader (0) voted y there. A leader
/// change whose phase 1 hears from 0, 1 and 2 only must keep x (two of the three voted x, and
/// the two silent acceptors could complete a fast quorum), and y goes to a later slot.
#[test]
fn a_value_a_fast_quorum_chose_unknown_to_all_survives_a_leader_change() {
    let mut c = Cluster::new(5, 2);
    c.set_host_filter(|a, p| {
        let to = a.replica(p.to);
        let from = a.replica(p.from);
        let lose = (is_request_from(a, p, 0) && to == Some(0))
            || (is_request_from(a, p, 1) && to != Some(0))
            || (to == Some(0) && matches!(p.message(), Some(Message::FastAccepted { .. })))
            || (matches!(from, Some(3 | 4))
                && matches!(
                    p.message(),
                    Some(Message::Chunk {
                        kind: ChunkKind::ViewChange,
                        ..
                    })
                ));
        if lose { Fate::Lose } else { Fate::Deliver }
    });
    c.append(0, "x;");
    c.append(1, "y;");
    c.settle();
    assert!(
        c.replicas[0]
            .slot(1)
            .is_some_and(|s| s.entry.id() == req(1, 1))
    );
    for i in 1..5 {
        assert!(
            c.replicas[i]
                .slot(1)
                .is_some_and(|s| s.entry.id() == req(0, 1))
        );
    }
    let now = c.now;
    c.replicas[1].start_view_change(now, 1);
    c.settle();
    assert_eq!(c.leader(), Some(1));
    c.clear_filter();
    assert!(c.run_until_done(0, 1, 2000));
    assert!(c.run_until_done(1, 1, 2000));
    assert_eq!(ok(&c, 0, 0), "x;");
    assert_eq!(ok(&c, 1, 0), "x;y;");
    c.run_for(200);
    for i in 0..5 {
        assert_eq!(c.committed(i)[..2], [req(0, 1), req(1, 1)], "replica {i}");
    }
    c.assert_fp_agreement();
}

#[test]
fn a_follower_that_lost_its_memory_recovers_in_a_new_view_and_votes_nothing_before() {
    let mut c = Cluster::new(3, 1);
    c.appends(0, 20, "a");
    c.run_for(10);
    c.lose_memory(2, 7);
    assert_eq!(c.replicas[2].status(), Status::Recovering);
    // A request reaching it before it has recovered gets no vote.
    let now = c.now;
    let client = c.client_addrs[0];
    let mut buf = vec![0u8; 512];
    let mut w = crate::codec::Writer::new(&mut buf);
    Message::Request {
        client: 555,
        request: 1,
        reply_to: client,
        op: b"op",
    }
    .encode(&mut w)
    .unwrap();
    let n = w.len();
    c.replicas[2].handle_datagram(now, client, &buf[..n]);
    assert_eq!(c.replicas[2].log_len(), 0);
    c.run_for(100);
    let r = &c.replicas[2];
    assert_eq!(r.status(), Status::Normal, "{}", r.describe());
    assert!(
        r.view() >= 1,
        "it takes part only in a view begun after it lost its memory"
    );
    assert_eq!(r.counters().recoveries, 1);
    assert_eq!(
        r.commit_point(),
        c.replicas[0]
            .commit_point()
            .max(c.replicas[1].commit_point())
    );
    c.appends(0, 5, "b");
    c.run_for(10);
    c.assert_fp_agreement();
    assert_eq!(c.replicas[2].execution(), c.replicas[1].execution());
}

#[test]
fn a_leader_that_lost_its_memory_recovers_after_the_others_moved_on() {
    let mut c = Cluster::new(3, 1);
    c.appends(0, 10, "a");
    c.lose_memory(0, 9);
    c.appends(0, 10, "b");
    c.run_for(3000);
    assert_eq!(c.replicas[0].status(), Status::Normal);
    assert!(c.replicas[0].view() >= 1);
    assert_ne!(c.leader(), None);
    c.appends(0, 3, "c");
    c.run_for(10);
    c.assert_fp_agreement();
    let value = ok(&c, 0, 22);
    assert!(value.starts_with("a0;a1;"), "{value}");
    assert_eq!(value.matches(';').count(), 23);
}

/// n = 5 (fast quorum 4). Replicas 0-3 vote x in slot 1 and the leader (0) learns it
/// chosen, executes it and answers; nobody else hears that. Replica 4 voted y there. Then
/// the leader crashes and replica 3, one of x's fast quorum, loses its memory. A phase 1
/// that counted replica 3's empty report with 4's and 1's (one vote each for x and y, so no
/// value forced) could pick y and undo an answered request. The recovering replica sends no
/// report: view 1 cannot start without replica 2's report (lost), the next view counts it
/// (x), and x is kept.
#[test]
fn a_replica_that_lost_its_memory_cannot_undo_a_fast_quorum() {
    let mut c = Cluster::new(5, 2);
    let chunk_from = |a: &Hosts, p: &Packet, r: usize| {
        a.replica(p.from) == Some(r)
            && matches!(
                p.message(),
                Some(Message::Chunk {
                    kind: ChunkKind::ViewChange,
                    ..
                })
            )
    };
    c.set_host_filter(move |a, p| {
        let to = a.replica(p.to);
        let leader_says = a.replica(p.from) == Some(0)
            && matches!(
                p.message(),
                Some(Message::Chosen { .. } | Message::Sync { .. } | Message::Request { .. })
            );
        let lose = (is_request_from(a, p, 0) && to != Some(4))
            || (is_request_from(a, p, 1) && to == Some(4))
            || leader_says
            || chunk_from(a, p, 2);
        if lose { Fate::Lose } else { Fate::Deliver }
    });
    c.append(1, "x;");
    c.settle();
    c.append(0, "y;");
    c.settle();
    assert_eq!(c.done[1].len(), 1, "the leader answered x");
    assert_eq!(ok(&c, 1, 0), "x;");
    assert!(
        c.replicas[4]
            .slot(1)
            .is_some_and(|s| s.entry.id() == req(0, 1))
    );
    assert_eq!(
        c.replicas[1].commit_point(),
        0,
        "only the leader knows x chosen"
    );
    c.up[0] = false;
    c.lose_memory(3, 11);
    c.settle();
    let now = c.now;
    c.replicas[1].start_view_change(now, 1);
    c.run_for(5000);
    // View 1 needed a third report besides 1's and 4's, and 2's are lost: it is passed
    // over for view 2, which 2 leads with its own report.
    assert_eq!(c.leader(), Some(2), "{}", c.describe());
    assert_eq!(c.replicas[3].status(), Status::Normal);
    assert!(c.replicas[3].view() >= 2);
    c.clear_filter();
    c.up[0] = true;
    assert!(c.run_until_done(0, 1, 5000), "{}", c.describe());
    c.run_for(300);
    for i in 0..5 {
        assert_eq!(
            c.committed(i).first(),
            Some(&req(1, 1)),
            "replica {i}: {}",
            c.describe()
        );
    }
    assert_eq!(ok(&c, 0, 0), "x;y;");
    c.assert_fp_agreement();
}

#[test]
fn a_lagging_replica_copies_state_from_any_replica_and_logs_stay_bounded() {
    let retain = 16;
    let mut c = Cluster::with(3, 1, |p| p.retain = retain);
    c.set_host_filter(|a, p| {
        if a.replica(p.to) == Some(2) || a.replica(p.from) == Some(2) {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    c.appends(0, 100, "a");
    assert_eq!(c.replicas[2].commit_point(), 0);
    // Replica 2 is back, but its state requests to the leader are lost: it asks replica 1.
    c.set_host_filter(|a, p| {
        let lose = a.replica(p.from) == Some(2)
            && a.replica(p.to) == Some(0)
            && matches!(p.message(), Some(Message::StateRequest { .. }));
        if lose { Fate::Lose } else { Fate::Deliver }
    });
    c.run_for(1000);
    let r = &c.replicas[2];
    assert!(r.stats().state_transfers >= 1, "{}", r.describe());
    assert_eq!(r.commit_point(), c.replicas[0].commit_point());
    c.appends(0, 200, "b");
    c.run_for(500);
    c.assert_fp_agreement();
    for r in &c.replicas {
        assert!(
            r.log_len() as u64 <= retain + retain / 4 + 2,
            "log of {} slots: {}",
            r.log_len(),
            r.describe()
        );
        assert!(r.log_start() > 200);
    }
}

/// Found in review: a leader cut off from every replica kept taking client requests into
/// its log and, every resend period, sent SLOT-PREPARE for each of them (thousands per
/// tick). It now steps down once it has not heard from a classic quorum for the leader
/// timeout, and handles at most a bounded number of slots per tick.
#[test]
fn a_leader_cut_off_from_the_others_steps_down() {
    let mut c = Cluster::new(3, 1);
    c.appends(0, 2, "a");
    c.set_host_filter(|a, p| {
        let between_replicas = a.replica(p.from).is_some() && a.replica(p.to).is_some();
        let involves_0 = a.replica(p.from) == Some(0) || a.replica(p.to) == Some(0);
        if between_replicas && involves_0 {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    c.append(0, "b;");
    let timeout = c.config.timeouts.leader_timeout_ms;
    c.run_for(timeout / 2);
    assert!(c.replicas[0].is_leader(), "still leads within the timeout");
    c.run_for(timeout);
    let old = &c.replicas[0];
    assert_eq!(old.status(), Status::ViewChange, "{}", old.describe());
    assert!(!old.is_leader());
    // The others elected a leader and answered the client meanwhile.
    assert!(c.run_until_done(0, 3, 10_000), "{}", c.describe());
    assert!(c.leader().is_some_and(|l| l != 0));
}

#[test]
fn garbage_foreign_and_stale_messages_are_counted_not_obeyed() {
    let mut c = Cluster::new(3, 1);
    c.appends(0, 2, "a");
    let stranger = "10.9.9.9:9".parse().unwrap();
    let peer = c.replica_addr(1);
    let itself = c.replica_addr(0);
    let now = c.now;
    let r = &mut c.replicas[0];
    let before = r.stats();
    r.handle_datagram(now, peer, b"garbage");
    let encode = |m: Message<'_>| {
        let mut buf = vec![0u8; 256];
        let mut w = crate::codec::Writer::new(&mut buf);
        m.encode(&mut w).unwrap();
        let n = w.len();
        buf.truncate(n);
        buf
    };
    // A vote from a non-member, a reply sent to a replica, a stale view, a message to a
    // replica from itself.
    let vote = encode(Message::AcceptOk { view: 0, slot: 1 });
    r.handle_datagram(now, stranger, &vote);
    r.handle_datagram(
        now,
        peer,
        &encode(Message::Reply {
            view: 0,
            slot: 1,
            client: 1,
            request: 1,
            replica: 1,
            result: b"",
        }),
    );
    r.handle_datagram(now, itself, &vote);
    let after = r.stats();
    assert_eq!(after.malformed, before.malformed + 1);
    // The non-member and the replica itself are strangers; a reply is unexpected.
    assert_eq!(after.stranger, before.stranger + 2);
    assert_eq!(after.unexpected, before.unexpected + 1);
    // Move the cluster to view 1, then replay an old-view message.
    c.up[0] = false;
    c.appends(0, 1, "b");
    let now = c.now;
    let peer = c.replica_addr(2);
    let r = &mut c.replicas[1];
    let stale = r.stats().stale;
    r.handle_datagram(
        now,
        peer,
        &encode(Message::SyncReply { view: 0, commit: 0 }),
    );
    assert_eq!(r.stats().stale, stale + 1);
    assert!(c.replicas[1].is_leader());
}

/// Defect 1 of the original (a message a role did not expect crashed the leader): every
/// message kind, from a peer and from a stranger, to a leader, a follower, a replica in a
/// view change and a recovering one.
#[test]
fn every_message_kind_to_every_role_is_handled() {
    let samples: Vec<Vec<u8>> = crate::fastpaxos::messages::tests::samples()
        .iter()
        .map(|m| {
            let mut buf = vec![0u8; crate::MAX_DATAGRAM];
            let mut w = crate::codec::Writer::new(&mut buf);
            m.encode(&mut w).unwrap();
            let n = w.len();
            buf.truncate(n);
            buf
        })
        .collect();
    let mut c = Cluster::new(3, 1);
    c.appends(0, 3, "a");
    let now = c.now;
    c.replicas[2].start_view_change(now, 5);
    c.lose_memory(1, 3);
    let stranger = "10.9.9.9:9".parse().unwrap();
    for i in 0..3 {
        for from in [c.replica_addr((i + 1) % 3), stranger, c.client_addrs[0]] {
            for bytes in &samples {
                c.replicas[i].handle_datagram(now, from, bytes);
                let mut buf = vec![0u8; crate::MAX_DATAGRAM];
                while c.replicas[i].poll_transmit(&mut buf).is_some() {}
                if let Some(t) = c.replicas[i].poll_timeout() {
                    c.replicas[i].handle_timeout(t.max(now));
                }
            }
        }
    }
    // The cluster still works afterwards.
    c.queue.clear();
    c.run_for(3000);
    c.appends(0, 2, "b");
    c.assert_fp_agreement();
}
