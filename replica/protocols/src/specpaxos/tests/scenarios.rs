//! Focused scenarios on the in-memory harness.

use std::net::SocketAddrV4;

use super::harness::{Cluster, Fate, append, appended};
use crate::app::kv::KvOp;
use crate::codec::Writer;
use crate::specpaxos::messages::Message;
use crate::specpaxos::types::{LogHash, SpecViewId};
use crate::specpaxos::{SpecClient, Status};
use crate::time::Time;
use crate::{Client, Destination, MAX_DATAGRAM, Node, Replica};

fn encode(m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    m.encode(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

#[test]
fn one_request_completes_in_the_fast_path() {
    let mut c = Cluster::new(3, 1);
    assert_eq!(appended(c.call(0, append(b"k", b"a"), 100)), b"a");
    assert_eq!(c.clients[0].stats().fast, 1);
    for r in &c.replicas {
        assert_eq!(r.ledger().end(), 1);
        assert_eq!(r.commit_point(), 0, "speculative until synchronized");
        assert_eq!(r.execution(), (0, 0), "speculative state is not reported");
    }
    // The leader's next synchronization commits it everywhere.
    c.run_for(1100);
    for r in &c.replicas {
        assert_eq!(r.commit_point(), 1, "{}", r.describe());
        assert_ne!(r.execution(), (0, 0));
    }
    c.assert_agreement();
}

#[test]
fn many_requests_from_several_clients_commit_and_the_log_stays_bounded() {
    let mut c = Cluster::new(5, 3);
    for round in 0..40u8 {
        for client in 0..3 {
            c.invoke(client, append(b"k", &[b'a' + client as u8, round]));
        }
        for client in 0..3 {
            assert!(c.wait(client, 1000).is_some(), "{}", c.describe());
        }
        if round % 10 == 9 {
            c.run_for(1100);
        }
    }
    c.run_for(2200);
    let fast: u64 = c.clients.iter().map(|x| x.stats().fast).sum();
    assert_eq!(fast, 120, "no divergence on a perfect network");
    for r in &c.replicas {
        assert_eq!(r.commit_point(), 120, "{}", r.describe());
        assert!(
            r.ledger().len() <= 30,
            "log truncated behind sync points: {}",
            r.describe()
        );
        assert_eq!(r.status(), Status::Normal);
    }
    c.assert_agreement();
    assert_eq!(c.value(0, b"k").unwrap().len(), 240);
}

/// Replica 2 receives B before A, the others A before B: the clients cannot complete in the
/// fast path, ask for reconciliation, and replica 2 undoes its speculative execution.
#[test]
fn a_divergent_order_is_reconciled_and_rolled_back() {
    let mut c = Cluster::new(3, 2);
    let to2 = c.replica_addr(2);
    let clients = c.client_addrs.clone();
    let holding = std::rc::Rc::new(std::cell::Cell::new(true));
    let h = holding.clone();
    let mut held_first = false;
    c.set_filter(move |p| {
        if !h.get() {
            return Fate::Deliver;
        }
        // The first stamped request to replica 2 is held until the second has passed, and
        // the replies wait so that the clients see both orders.
        if (p.to == to2 && p.stamped_request().is_some() && !held_first) || clients.contains(&p.to)
        {
            held_first |= p.to == to2;
            return Fate::Hold;
        }
        Fate::Deliver
    });
    c.invoke(0, append(b"k", b"A"));
    c.settle();
    c.invoke(1, append(b"k", b"B"));
    c.settle();
    holding.set(false);
    // Replica 2 gets A last; then the replies go out.
    let (to_replica, to_clients): (Vec<_>, Vec<_>) = c.held.drain(..).partition(|p| p.to == to2);
    c.held = to_replica;
    c.release();
    c.settle();
    c.held = to_clients;
    assert_eq!(c.value(2, b"k").unwrap(), b"BA");
    c.release();
    c.settle();
    let a = appended(c.wait(0, 1000));
    let b = appended(c.wait(1, 1000));
    assert_eq!((a.as_slice(), b.as_slice()), (&b"A"[..], &b"AB"[..]));
    // Replica 2 rolled back its order and adopted the merged one.
    assert_eq!(c.value(2, b"k").unwrap(), b"AB");
    let rolled = c.replicas[2].spec_stats().ledger;
    assert!(rolled.rollbacks >= 1 && rolled.undone >= 2, "{rolled:?}");
    assert!(c.replicas[0].spec_stats().reconciliations >= 1);
    assert!(c.clients.iter().all(|x| x.stats().reconcile_requests >= 1));
    assert_eq!(
        c.replicas[0].view(),
        SpecViewId {
            leader_num: 0,
            epoch: 1
        }
    );
    c.run_for(1100);
    c.assert_agreement();
    for r in &c.replicas {
        assert_eq!(r.commit_point(), 2, "{}", r.describe());
    }
}

/// With n = 5, a follower that missed a request does not stop the fast path (4 of 5 is a
/// superquorum); the leader's synchronization commits, and the follower repairs its log
/// from the leader, rolling back what it executed in the wrong slots.
#[test]
fn a_follower_that_missed_a_request_is_repaired_in_place() {
    let mut c = Cluster::new(5, 1);
    let to4 = c.replica_addr(4);
    c.set_filter(move |p| {
        if p.to == to4 && p.stamped_request() == Some((100, 2)) {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    for v in [b"1", b"2", b"3", b"4"] {
        assert!(c.call(0, append(b"k", v), 100).is_some());
    }
    assert_eq!(c.clients[0].stats().fast, 4);
    assert_eq!(c.value(4, b"k").unwrap(), b"134");
    c.clear_filter();
    c.run_for(1100);
    assert_eq!(c.value(4, b"k").unwrap(), b"1234", "{}", c.describe());
    assert_eq!(c.replicas[4].commit_point(), 4);
    assert!(c.replicas[4].spec_stats().repairs >= 1);
    assert!(c.replicas[4].spec_stats().ledger.undone >= 2);
    assert_eq!(c.replicas[0].spec_stats().reconciliations, 0);
    c.assert_agreement();
}

#[test]
fn a_dead_leader_is_replaced_and_requests_complete_again() {
    let mut c = Cluster::new(3, 1);
    assert!(c.call(0, append(b"k", b"a"), 100).is_some());
    c.crash(0);
    // Two replicas are not a superquorum of 3: the request completes once a new leader has
    // merged the logs and the merged log is committed.
    let r = c.call(0, append(b"k", b"b"), 5000);
    assert_eq!(appended(r), b"ab", "{}", c.describe());
    assert_eq!(c.replicas[1].view().leader_num, 1);
    assert!(c.replicas[1].is_leader());
    assert_eq!(c.clients[0].stats().committed, 1);
    c.restart(0);
    c.run_for(3000);
    assert_eq!(c.replicas[0].status(), Status::Normal, "{}", c.describe());
    assert_eq!(c.replicas[0].view(), c.replicas[1].view());
    assert_eq!(appended(c.call(0, append(b"k", b"c"), 1000)), b"abc");
    c.assert_agreement();
}

/// A replica loses its memory after helping a request complete in the fast path while the
/// leader did not hold it: it must recover that request (from a view formed after its
/// recovery began), not the leader's log of the moment.
#[test]
fn a_recovering_replica_does_not_forget_a_fast_path_request_the_leader_lacked() {
    let mut c = Cluster::new(5, 2);
    let to0 = c.replica_addr(0);
    c.set_filter(move |p| {
        if p.to == to0 && p.stamped_request() == Some((100, 1)) {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(appended(c.call(0, append(b"k", b"X"), 100)), b"X");
    assert_eq!(
        c.clients[0].stats().fast,
        1,
        "replicas 1-4 are a superquorum"
    );
    assert_eq!(c.value(0, b"k"), None, "the leader lacks X");
    c.clear_filter();
    c.lose_memory(1, 7);
    c.run_until(2000, |c| c.replicas[1].status() == Status::Normal);
    assert_eq!(c.replicas[1].status(), Status::Normal, "{}", c.describe());
    assert_eq!(c.value(1, b"k").unwrap(), b"X", "{}", c.describe());
    assert_eq!(
        c.value(0, b"k").unwrap(),
        b"X",
        "the reconciliation repaired the leader"
    );
    assert!(c.replicas[0].spec_stats().reconciliations >= 1);
    // Now the others can forget nothing either: a view change among {0, 1, 2} keeps X.
    c.crash(3);
    c.crash(4);
    assert_eq!(
        appended(c.call(1, append(b"k", b"Y"), 5000)),
        b"XY",
        "{}",
        c.describe()
    );
    c.assert_agreement();
}

#[test]
fn a_recovering_leader_is_replaced_at_once_and_catches_up() {
    let mut c = Cluster::new(3, 1);
    for v in [b"a", b"b"] {
        assert!(c.call(0, append(b"k", v), 100).is_some());
    }
    c.lose_memory(0, 9);
    // Replica 0 led view (0, 0); its RECOVERY makes the others move to the next leader
    // without waiting for the leader timeout.
    let done = c.run_until(150, |c| c.replicas[0].status() == Status::Normal);
    assert!(done, "{}", c.describe());
    assert_eq!(c.value(0, b"k").unwrap(), b"ab");
    assert_eq!(c.replicas[1].view().leader_num, 1);
    assert_eq!(appended(c.call(0, append(b"k", b"c"), 1000)), b"abc");
    c.assert_agreement();
}

#[test]
fn a_replica_far_behind_catches_up_by_state_transfer_after_truncation() {
    let mut c = Cluster::new(3, 1);
    c.crash(2);
    // Without replica 2 nothing is a superquorum: every request goes through a
    // reconciliation, and the logs of 0 and 1 are truncated behind their commits.
    for i in 0..6u8 {
        assert!(
            c.call(0, append(b"k", &[b'a' + i]), 5000).is_some(),
            "{}",
            c.describe()
        );
        c.run_for(1100);
    }
    assert!(c.replicas[0].ledger().base() > 0, "{}", c.describe());
    c.restart(2);
    c.run_for(5000);
    assert_eq!(c.value(2, b"k").unwrap(), b"abcdef", "{}", c.describe());
    assert_eq!(c.replicas[2].status(), Status::Normal);
    assert!(c.replicas[2].stats().state_transfers >= 1);
    assert_eq!(appended(c.call(0, append(b"k", b"g"), 100)), b"abcdefg");
    assert_eq!(c.clients[0].stats().fast, 1, "the fast path works again");
    c.assert_agreement();
}

#[test]
fn a_retry_is_answered_from_the_log_not_executed_again() {
    let mut c = Cluster::new(3, 1);
    // Every reply to the client is lost the first time: it resends with the same id.
    let client = c.client_addrs[0];
    let mut lost = 0;
    c.set_filter(move |p| {
        if p.to == client && lost < 3 {
            lost += 1;
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    assert_eq!(appended(c.call(0, append(b"k", b"a"), 1000)), b"a");
    for r in &c.replicas {
        assert_eq!(r.ledger().end(), 1);
        assert_eq!(r.stats().executed, 1);
        assert_eq!(r.stats().requests, 2);
    }
}

#[test]
fn unsequenced_garbage_and_foreign_messages_are_counted_not_trusted() {
    let mut c = Cluster::new(3, 1);
    let client = c.client_addrs[0];
    let leader = c.replica_addr(0);
    let outsider: SocketAddrV4 = "10.9.9.9:9".parse().unwrap();
    // An unsequenced request straight to a replica.
    let mut buf = vec![0u8; 256];
    let mut w = Writer::new(&mut buf);
    Message::Request {
        client: 1,
        request: 1,
        reply_to: client,
        op: b"x",
    }
    .encode_sequenced(&mut w)
    .unwrap();
    let n = w.len();
    c.replicas[1].handle_datagram(Time::ZERO, client, &buf[..n]);
    // Garbage, and a SYNC of a newer view from a non-member.
    c.replicas[1].handle_datagram(Time::ZERO, client, b"garbage");
    let sync = encode(&Message::Sync {
        view: SpecViewId {
            leader_num: 5,
            epoch: 0,
        },
        slot: 1,
        hash: LogHash::ZERO,
        commit: 1,
        commit_hash: LogHash(3),
    });
    c.replicas[1].handle_datagram(Time::ZERO, outsider, &sync);
    // A reply sent to a replica, and a stale SYNC from the right leader.
    let reply = encode(&Message::SpecReply {
        view: SpecViewId::INITIAL,
        slot: 1,
        hash: LogHash::ZERO,
        client: 1,
        request: 1,
        replica: 0,
        committed: true,
        result: b"",
    });
    c.replicas[1].handle_datagram(Time::ZERO, leader, &reply);
    // A client naming a view the cluster is not in is ignored too.
    let rr = encode(&Message::ReconcileRequest {
        view: SpecViewId {
            leader_num: 9,
            epoch: 9,
        },
    });
    c.replicas[0].handle_datagram(Time::ZERO, client, &rr);
    let s = c.replicas[1].stats();
    assert_eq!(
        (s.unstamped, s.stranger, s.unexpected, s.malformed),
        (1, 1, 1, 1),
        "{s:?}"
    );
    assert_eq!(c.replicas[0].stats().stale, 1);
    assert_eq!(c.replicas[1].ledger().end(), 0);
    assert_eq!(c.replicas[1].view(), SpecViewId::INITIAL);
    assert_eq!(c.replicas[0].view(), SpecViewId::INITIAL);
    // Truncations of a real message at every length are malformed, never a panic.
    for len in 0..sync.len() {
        c.replicas[1].handle_datagram(Time::ZERO, leader, &sync[..len]);
    }
    assert_eq!(c.replicas[1].stats().malformed, 1 + sync.len() as u64);
}

#[test]
fn messages_of_an_older_view_are_ignored_and_counted() {
    let mut c = Cluster::new(3, 1);
    c.crash(0);
    c.run_for(2500);
    c.restart(0);
    c.run_for(500);
    assert!(c.replicas[1].view().leader_num >= 1, "{}", c.describe());
    let before = c.replicas[1].stats().stale;
    let old = encode(&Message::SyncCommit {
        view: SpecViewId::INITIAL,
        slot: 1,
        hash: LogHash::ZERO,
    });
    let from = c.replica_addr(0);
    c.replicas[1].handle_datagram(c.now, from, &old);
    assert_eq!(c.replicas[1].stats().stale, before + 1);
}

#[test]
fn the_client_asks_for_reconciliation_when_no_superquorum_can_form() {
    let me: SocketAddrV4 = "127.0.0.1:5".parse().unwrap();
    let mut client = SpecClient::new(1, me, 3, 1, Default::default());
    let id = client.invoke(Time::ZERO, b"op").unwrap();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let t = client.poll_transmit(&mut buf).unwrap();
    assert_eq!(t.destination, Destination::Group);
    assert!(client.poll_transmit(&mut buf).is_none());
    let view = SpecViewId {
        leader_num: 4,
        epoch: 1,
    };
    let reply = |replica: u16, hash: u128| {
        encode(&Message::SpecReply {
            view,
            slot: 7,
            hash: LogHash(hash),
            client: 1,
            request: id,
            replica,
            committed: false,
            result: b"r",
        })
    };
    client.handle_datagram(Time::ZERO, me, &reply(0, 1));
    assert!(
        client.poll_transmit(&mut buf).is_none(),
        "a superquorum may still form"
    );
    client.handle_datagram(Time::ZERO, me, &reply(1, 2));
    let t = client.poll_transmit(&mut buf).unwrap();
    assert_eq!(
        t.destination,
        Destination::Replica(1),
        "the leader of view (4, 1)"
    );
    assert_eq!(
        Message::decode(&buf[..t.len]).unwrap(),
        Message::ReconcileRequest { view }
    );
    // A committed reply completes it alone.
    let committed = encode(&Message::SpecReply {
        view,
        slot: 7,
        hash: LogHash(1),
        client: 1,
        request: id,
        replica: 2,
        committed: true,
        result: b"done",
    });
    client.handle_datagram(Time::ZERO, me, &committed);
    let done = client.poll_completion().unwrap();
    assert_eq!(done.result, Ok(b"done".to_vec()));
    assert_eq!(client.stats().committed, 1);
}

#[test]
fn a_client_completes_on_a_superquorum_only() {
    let me: SocketAddrV4 = "127.0.0.1:5".parse().unwrap();
    let mut client = SpecClient::new(1, me, 5, 2, Default::default());
    let id = client.invoke(Time::ZERO, b"op").unwrap();
    for replica in 0..4u16 {
        assert!(client.poll_completion().is_none());
        // Same slot and hash, but replica 3 answers from another view.
        let view = SpecViewId {
            leader_num: 0,
            epoch: u64::from(replica == 3),
        };
        let m = encode(&Message::SpecReply {
            view,
            slot: 1,
            hash: LogHash(5),
            client: 1,
            request: id,
            replica,
            committed: false,
            result: b"r",
        });
        client.handle_datagram(Time::ZERO, me, &m);
    }
    assert!(client.poll_completion().is_none(), "3 in one view is not 4");
    let m = encode(&Message::SpecReply {
        view: SpecViewId::INITIAL,
        slot: 1,
        hash: LogHash(5),
        client: 1,
        request: id,
        replica: 4,
        committed: false,
        result: b"r",
    });
    client.handle_datagram(Time::ZERO, me, &m);
    assert_eq!(client.poll_completion().unwrap().result, Ok(b"r".to_vec()));
    assert_eq!(client.stats().fast, 1);
}

#[test]
fn sequencer_failover_does_not_matter_to_replicas() {
    let mut c = Cluster::new(3, 1);
    assert!(c.call(0, append(b"k", b"a"), 100).is_some());
    c.fail_over_sequencer();
    assert_eq!(appended(c.call(0, append(b"k", b"b"), 100)), b"ab");
    assert_eq!(c.clients[0].stats().fast, 2);
    assert_eq!(c.replicas[0].stats().view_changes, 0);
}

#[test]
fn a_get_sees_every_completed_write() {
    let mut c = Cluster::new(3, 2);
    assert!(
        c.call(
            0,
            KvOp::Put {
                key: b"x",
                value: b"1"
            },
            100
        )
        .is_some()
    );
    match c.call(1, KvOp::Get { key: b"x" }, 100) {
        Some(crate::app::kv::KvResult::Value(Some(v))) => assert_eq!(v, b"1"),
        other => panic!("{other:?}"),
    }
}

/// Regression (simulator, 5 replicas, seeds 546, 678 and 3860 of the first long sweep): a
/// follower that missed START-VIEW asked the leader for its state, then adopted a resent
/// START-VIEW and answered a request in the new view; the late state image then replaced
/// its log, dropping that answer, and a later merge lost a request that had completed in
/// the fast path. An image the replica no longer needs is now ignored.
#[test]
fn a_late_state_image_does_not_replace_a_log_that_has_moved_on() {
    use crate::specpaxos::messages::ChunkKind;
    let mut c = Cluster::new(5, 1);
    assert!(c.call(0, append(b"k", b"a"), 100).is_some());
    let to4 = c.replica_addr(4);
    let early = std::rc::Rc::new(std::cell::Cell::new(true));
    let holding = std::rc::Rc::new(std::cell::Cell::new(true));
    let (e, h) = (early.clone(), holding.clone());
    c.set_filter(move |p| {
        if p.to != to4 {
            return Fate::Deliver;
        }
        match p.message() {
            Some(Message::Chunk {
                kind: ChunkKind::StartView,
                ..
            }) if e.get() => Fate::Lose,
            Some(Message::Chunk {
                kind: ChunkKind::State,
                ..
            }) if h.get() => Fate::Hold,
            _ => Fate::Deliver,
        }
    });
    let now = c.now;
    c.replicas[0].reconcile(now);
    c.settle();
    let view = SpecViewId {
        leader_num: 0,
        epoch: 1,
    };
    assert_eq!(c.replicas[4].status(), Status::ViewChange);
    assert!(
        c.replicas[..4]
            .iter()
            .all(|r| r.is_normal() && r.view() == view)
    );
    // A client's RECONCILE-REQUEST makes the leader synchronize: replica 4 learns that the
    // view started without it and asks for the leader's state.
    let from = c.client_addrs[0];
    c.replicas[0].handle_datagram(now, from, &encode(&Message::ReconcileRequest { view }));
    c.settle();
    assert!(c.replicas[4].transfer.is_some());
    assert!(!c.held.is_empty(), "the state image is held back");
    early.set(false);
    // START-VIEW is resent; replica 4 adopts it and answers the next request.
    assert!(
        c.run_until(500, |c| c.replicas[4].is_normal()),
        "{}",
        c.describe()
    );
    assert_eq!(appended(c.call(0, append(b"k", b"b"), 100)), b"ab");
    assert_eq!(c.clients[0].stats().fast, 2);
    let end = c.replicas[4].ledger().end();
    holding.set(false);
    c.release();
    c.settle();
    assert_eq!(c.replicas[4].ledger().end(), end, "{}", c.describe());
    assert_eq!(c.value(4, b"k").unwrap(), b"ab");
    c.assert_agreement();
}
