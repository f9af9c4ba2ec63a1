//! Focused tests of the core on the in-memory harness: the normal case, batching, lost
//! messages, view changes, state transfer, checkpointing and recovery.

use std::cell::Cell;
use std::rc::Rc;

use super::harness::{Cluster, append};
use crate::app::kv::{KvOp, KvResult};
use crate::codec::Writer;
use crate::vr::Status;
use crate::vr::images::DoViewChange;
use crate::vr::messages::{ChunkIn, ChunkKind, Message, StateMode, encode_prepare};
use crate::vr::types::Entry;
use crate::{Client, MAX_DATAGRAM, Node, Replica};

fn appended(v: &str) -> Option<KvResult> {
    Some(KvResult::Appended(v.as_bytes().to_vec()))
}

fn encode(m: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut buf);
    m.encode(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

#[test]
fn one_op_commits_executes_everywhere_and_replies() {
    let mut c = Cluster::new(3, 1);
    assert_eq!(c.call(0, append(b"k", b"x"), 100), appended("x"));
    assert_eq!(c.primary(), Some(0));
    // The idle primary announces the commit number; backups execute.
    c.run_for(50);
    for r in &c.replicas {
        assert_eq!(
            (r.commit_point(), r.execution().0),
            (1, 1),
            "{}",
            r.describe()
        );
    }
    c.assert_agreement();
    assert_eq!(c.replicas[0].vr_stats().batches, 1);
}

#[test]
fn many_ops_from_several_clients_agree() {
    let mut c = Cluster::new(5, 4);
    for round in 0..30 {
        for client in 0..4 {
            let v = format!("{client}.{round};");
            assert!(c.call(client, append(b"k", v.as_bytes()), 200).is_some());
        }
    }
    c.run_for(100);
    let digest = c.replicas[0].execution();
    assert_eq!(digest.0, 120);
    for r in &c.replicas {
        assert_eq!(r.execution(), digest, "{}", r.describe());
    }
    c.assert_agreement();
}

#[test]
fn a_lost_prepare_is_fetched_by_state_transfer() {
    let mut c = Cluster::new(3, 1);
    let to2 = c.replica_addr(2);
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    c.set_filter(move |p| {
        if p.to == to2 && p.is_prepare() && !d.get() {
            d.set(true);
            return false;
        }
        true
    });
    assert_eq!(c.call(0, append(b"k", b"a"), 100), appended("a"));
    assert!(dropped.get());
    // The next PREPARE shows replica 2 a gap: it fetches op 1 from the primary.
    assert_eq!(c.call(0, append(b"k", b"b"), 100), appended("ab"));
    c.run_for(50);
    assert_eq!(c.replicas[2].execution(), c.replicas[0].execution());
    assert!(c.replicas[2].stats().state_transfers >= 1);
    assert!(c.replicas[0].vr_stats().images_served >= 1);
    c.assert_agreement();
}

#[test]
fn lost_prepare_oks_are_recovered_by_resending_the_prepare() {
    let mut c = Cluster::new(3, 1);
    let lost = Rc::new(Cell::new(0));
    let l = lost.clone();
    c.set_filter(move |p| {
        if matches!(p.message(), Some(Message::PrepareOk { .. })) && l.get() < 4 {
            l.set(l.get() + 1);
            return false;
        }
        true
    });
    assert_eq!(c.call(0, append(b"k", b"a"), 200), appended("a"));
    assert_eq!(lost.get(), 4);
    assert_eq!(c.replicas[0].stats().executed, 1);
    c.assert_agreement();
}

#[test]
fn a_lost_batch_is_resent_after_the_measured_round_trip() {
    let mut c = Cluster::new(3, 1);
    // A first batch commits at once (this harness has no link delay): a round-trip sample.
    assert_eq!(c.call(0, append(b"k", b"a"), 200), appended("a"));
    let lost = Rc::new(Cell::new(0));
    let l = lost.clone();
    c.set_filter(move |p| {
        if p.is_prepare() && l.get() < 2 {
            l.set(l.get() + 1);
            return false;
        }
        true
    });
    // Both backups miss the next batch; the primary resends it after the 1 ms floor, not
    // after gap_commit_ms (50 ms).
    assert_eq!(c.call(0, append(b"k", b"b"), 5), appended("ab"));
    assert_eq!(lost.get(), 2);
    assert_eq!(c.replicas[0].prepare_timer.resends, 1);
    c.assert_agreement();
}

#[test]
fn a_duplicate_request_gets_the_cached_reply() {
    let mut c = Cluster::new(3, 1);
    let client = c.client_addrs[0];
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    c.set_filter(move |p| {
        if p.to == client && d.get() == 0 {
            d.set(1);
            return false;
        }
        true
    });
    // The first reply is lost; the client resends to every replica; the backups drop it,
    // the primary answers from its client table.
    assert_eq!(c.call(0, append(b"k", b"x"), 1000), appended("x"));
    assert_eq!(dropped.get(), 1);
    assert_eq!(c.replicas[0].stats().executed, 1);
    assert!(c.replicas[1].vr_stats().not_primary >= 1);
    c.run_for(50);
    for r in &c.replicas {
        assert_eq!(r.stats().executed, 1);
    }
}

#[test]
fn the_primary_crashing_leads_to_a_view_change_that_keeps_committed_ops() {
    let mut c = Cluster::new(3, 1);
    assert_eq!(c.call(0, append(b"k", b"a"), 100), appended("a"));
    c.crash(0);
    assert_eq!(c.call(0, append(b"k", b"b"), 10_000), appended("ab"));
    assert_eq!(c.primary(), Some(1));
    assert_eq!(c.replicas[1].view(), 1);
    assert_eq!(c.clients[0].view(), 1);
    // The old primary comes back and joins the new view.
    c.restart(0);
    assert_eq!(c.call(0, append(b"k", b"c"), 1000), appended("abc"));
    c.run_for(1000);
    assert_eq!(c.replicas[0].status(), Status::Normal);
    assert_eq!(c.replicas[0].view(), 1);
    assert_eq!(c.replicas[0].execution(), c.replicas[1].execution());
    c.assert_agreement();
}

/// An operation prepared by the old primary and acknowledged by one backup, whose reply was
/// lost with the primary, is kept by the view change and executed once.
#[test]
fn an_acknowledged_op_survives_its_primary() {
    let mut c = Cluster::new(3, 1);
    let client = c.client_addrs[0];
    let to2 = c.replica_addr(2);
    c.set_filter(move |p| p.to != client && !(p.to == to2 && p.is_prepare()));
    let op = append(b"k", b"x").to_bytes();
    let now = c.now;
    c.clients[0].invoke(now, &op).unwrap();
    c.run_until(5, |c| c.replicas[0].commit_point() == 1);
    assert_eq!(c.replicas[1].log().end(), 1);
    c.crash(0);
    // The old primary's reply may still be in flight: it is lost with it.
    let from0 = c.replica_addr(0);
    c.set_filter(move |p| p.from != from0);
    let mut result = None;
    c.run_until(10_000, |c| {
        result = c.clients[0].poll_completion();
        result.is_some()
    });
    let bytes = result.unwrap().result.unwrap();
    assert_eq!(
        KvResult::decode(&bytes).unwrap(),
        KvResult::Appended(b"x".to_vec())
    );
    assert_eq!(c.primary(), Some(1), "{}", c.describe());
    assert_eq!(c.replicas[1].stats().executed, 1);
    c.assert_agreement();
}

/// VR Revisited: if the new view's primary is dead too, the view change moves on to the
/// next view (NOPaxos's original code retried the same view forever).
#[test]
fn a_view_change_whose_primary_is_dead_moves_on() {
    let mut c = Cluster::new(5, 1);
    assert_eq!(c.call(0, append(b"k", b"a"), 100), appended("a"));
    c.crash(0);
    c.crash(1);
    assert_eq!(c.call(0, append(b"k", b"b"), 20_000), appended("ab"));
    assert_eq!(c.primary(), Some(2));
    assert_eq!(c.replicas[2].view(), 2);
    c.assert_agreement();
}

#[test]
fn the_log_stays_within_its_checkpoint_window() {
    let keep = 16;
    let mut c = Cluster::with(3, 4, |vr| {
        vr.log_keep = keep;
        vr.max_batch = 8;
    });
    for i in 0..100 {
        for client in 0..4 {
            let v = format!("{i}");
            assert!(c.call(client, append(b"k", v.as_bytes()), 200).is_some());
        }
        for r in &c.replicas {
            assert!(r.log().len() as u64 <= keep + 8, "{}", r.describe());
        }
    }
    c.run_for(100);
    for r in &c.replicas {
        assert_eq!(r.execution().0, 400);
        assert_eq!(r.log().start(), 400 - keep + 1, "{}", r.describe());
    }
    c.assert_agreement();
}

#[test]
fn a_backup_behind_the_window_catches_up_from_a_snapshot() {
    let mut c = Cluster::with(3, 1, |vr| vr.log_keep = 8);
    assert!(c.call(0, append(b"k", b"a"), 100).is_some());
    c.crash(2);
    for i in 0..40 {
        assert!(
            c.call(0, append(b"k", format!("{i}").as_bytes()), 100)
                .is_some()
        );
    }
    c.restart(2);
    assert!(c.call(0, append(b"k", b"z"), 1000).is_some());
    c.run_until(2000, |c| {
        c.replicas[2].execution() == c.replicas[0].execution()
    });
    assert_eq!(c.replicas[2].execution(), c.replicas[0].execution());
    assert_eq!(c.replicas[2].execution().0, 42);
    assert!(c.replicas[2].stats().state_transfers >= 1);
    assert!(
        c.replicas[2].log().start() > 1,
        "{}",
        c.replicas[2].describe()
    );
    c.assert_agreement();
}

/// A new primary whose state is behind the best DO-VIEW-CHANGE's log window copies a
/// snapshot before starting the view.
#[test]
fn a_new_primary_behind_the_window_fetches_a_snapshot() {
    let mut c = Cluster::with(3, 1, |vr| vr.log_keep = 4);
    c.crash(1);
    for i in 0..30 {
        assert!(
            c.call(0, append(b"k", format!("{i},").as_bytes()), 100)
                .is_some()
        );
    }
    c.crash(0);
    c.restart(1);
    assert!(c.call(0, append(b"k", b"end"), 10_000).is_some());
    assert_eq!(c.primary(), Some(1), "{}", c.describe());
    assert!(c.replicas[1].stats().state_transfers >= 1);
    assert_eq!(c.replicas[1].execution().0, 31);
    c.run_for(100);
    assert_eq!(c.replicas[2].execution(), c.replicas[1].execution());
    c.assert_agreement();
}

#[test]
fn a_backup_recovers_after_losing_its_memory() {
    let mut c = Cluster::new(3, 2);
    for i in 0..10 {
        assert!(
            c.call(i % 2, append(b"k", format!("{i}").as_bytes()), 100)
                .is_some()
        );
    }
    c.lose_memory(2, 0xabc);
    assert_eq!(c.replicas[2].status(), Status::Recovering);
    assert!(!c.replicas[2].is_normal());
    c.run_until(5000, |c| c.replicas[2].is_normal());
    assert_eq!(c.replicas[2].execution(), c.replicas[0].execution());
    assert!(c.call(0, append(b"k", b"after"), 100).is_some());
    c.run_for(100);
    assert_eq!(c.replicas[2].execution(), c.replicas[0].execution());
    c.assert_agreement();
}

/// A primary that lost its memory cannot take its state from itself: the others move to a
/// new view first, and it copies that view's primary.
#[test]
fn the_primary_recovers_after_losing_its_memory() {
    let mut c = Cluster::new(3, 1);
    for i in 0..5 {
        assert!(
            c.call(0, append(b"k", format!("{i}").as_bytes()), 100)
                .is_some()
        );
    }
    c.lose_memory(0, 0xdef);
    assert_eq!(c.call(0, append(b"k", b"x"), 20_000), appended("01234x"));
    c.run_until(10_000, |c| c.replicas[0].is_normal());
    assert!(c.replicas[0].is_normal());
    assert!(c.replicas[0].view() >= 1);
    assert!(!c.replicas[0].is_leader());
    c.run_for(500);
    assert_eq!(c.replicas[0].execution(), c.replicas[1].execution());
    c.assert_agreement();
}

/// A recovering replica takes state only from the primary of the latest view, never from a
/// backup: here the backup with the lower index lags, the recovering replica's forgotten
/// acknowledgement was what committed "c", and the primary fails right after the recovery.
/// Copying the lagging backup would lose "c" in the next view change.
#[test]
fn recovery_copies_the_primary_never_a_lagging_backup() {
    let mut c = Cluster::new(3, 1);
    assert_eq!(c.call(0, append(b"k", b"a"), 100), appended("a"));
    // Move to view 1, so the primary (1) is not the lowest-numbered replica.
    c.crash(0);
    assert_eq!(c.call(0, append(b"k", b"b"), 10_000), appended("ab"));
    assert_eq!(c.primary(), Some(1));
    // Replica 0 comes back but receives no log: it joins view 1 and lags.
    let to0 = c.replica_addr(0);
    let lagging = Rc::new(Cell::new(true));
    let l = lagging.clone();
    c.set_filter(move |p| {
        let log_bearing =
            p.is_prepare() || p.is_chunk(ChunkKind::State) || p.is_chunk(ChunkKind::StartView);
        !(l.get() && p.to == to0 && log_bearing)
    });
    c.restart(0);
    c.run_for(1000);
    assert!(c.replicas[0].is_normal());
    assert_eq!(c.replicas[0].view(), 1);
    // "c" commits with replica 2's acknowledgement.
    assert_eq!(c.call(0, append(b"k", b"c"), 1000), appended("abc"));
    assert!(c.replicas[0].log().end() < c.replicas[1].log().end());
    // Replica 2 forgets everything and recovers, asking the primary (never replica 0).
    let from2 = c.replica_addr(2);
    let primary = c.replica_addr(1);
    let asked = Rc::new(Cell::new(0));
    let a = asked.clone();
    let l = lagging.clone();
    c.set_filter(move |p| {
        if p.from == from2 {
            if let Some(Message::StateRequest { mode, .. }) = p.message() {
                assert_eq!(mode, StateMode::Recovery);
                assert_eq!(p.to, primary, "recovery asked a backup");
                a.set(a.get() + 1);
            }
        }
        let log_bearing =
            p.is_prepare() || p.is_chunk(ChunkKind::State) || p.is_chunk(ChunkKind::StartView);
        !(l.get() && p.to == to0 && log_bearing)
    });
    c.lose_memory(2, 7);
    c.run_until(10_000, |c| c.replicas[2].is_normal());
    assert!(c.replicas[2].is_normal());
    assert!(asked.get() >= 1);
    assert_eq!(c.replicas[2].log().end(), c.replicas[1].log().end());
    // The primary fails at once; the view change between 0 and 2 must keep "c".
    c.crash(1);
    lagging.set(false);
    assert_eq!(c.call(0, append(b"k", b"d"), 30_000), appended("abcd"));
    c.assert_agreement();
}

#[test]
fn batches_grow_under_concurrent_load() {
    let mut c = Cluster::new(3, 20);
    for _ in 0..5 {
        assert_eq!(c.call_all(b"k", 1000), 20);
    }
    let s = c.replicas[0].vr_stats();
    assert_eq!(s.batched_requests, 100);
    // All 20 arrive at once: the first goes alone, the other 19 queue behind it.
    assert_eq!(s.largest_batch, 19, "{s:?}");
    assert!(s.batches <= 10, "{s:?}");
    c.run_for(50);
    c.assert_agreement();
}

#[test]
fn a_single_client_gets_batches_of_one() {
    let mut c = Cluster::new(3, 1);
    for i in 0..30 {
        assert!(
            c.call(0, append(b"k", format!("{i}").as_bytes()), 100)
                .is_some()
        );
    }
    let s = c.replicas[0].vr_stats();
    assert_eq!((s.batches, s.single_batches, s.largest_batch), (30, 30, 1));
}

#[test]
fn the_batch_size_is_capped() {
    let mut c = Cluster::with(3, 20, |vr| vr.max_batch = 4);
    for _ in 0..3 {
        assert_eq!(c.call_all(b"k", 1000), 20);
    }
    let s = c.replicas[0].vr_stats();
    assert_eq!(s.largest_batch, 4, "{s:?}");
    assert_eq!(s.batched_requests, 60);
    c.run_for(50);
    c.assert_agreement();
}

#[test]
fn a_batch_never_exceeds_a_datagram() {
    let mut c = Cluster::new(3, 8);
    let big = vec![b'v'; 3000];
    let now = c.now;
    for client in 0..8 {
        let key = format!("k{client}");
        let op = KvOp::Put {
            key: key.as_bytes(),
            value: &big,
        }
        .to_bytes();
        c.clients[client].invoke(now, &op).unwrap();
    }
    c.run_for(200);
    for client in 0..8 {
        assert!(c.clients[client].poll_completion().is_some());
    }
    let s = c.replicas[0].vr_stats();
    assert_eq!(s.batched_requests, 8);
    assert!(s.largest_batch <= 2, "{s:?}");
    assert_eq!(s.encode_errors, 0);
    c.assert_agreement();
}

#[test]
fn strangers_stale_views_and_garbage_are_counted() {
    let mut c = Cluster::new(3, 1);
    assert!(c.call(0, append(b"k", b"a"), 100).is_some());
    let stranger = c.client_addrs[0];
    let backup = c.replica_addr(1);
    let primary = c.replica_addr(0);
    let now = c.now;
    let r = &mut c.replicas[1];
    let before = r.stats();
    // A COMMIT from a client address: not a member.
    r.handle_datagram(
        now,
        stranger,
        &encode(&Message::Commit { view: 0, commit: 9 }),
    );
    // A COMMIT from a replica that is not the view's primary.
    r.handle_datagram(
        now,
        c.config.replicas[2].address,
        &encode(&Message::Commit { view: 0, commit: 9 }),
    );
    // Garbage, and a reply sent to a replica.
    r.handle_datagram(now, primary, b"garbage");
    r.handle_datagram(
        now,
        primary,
        &encode(&Message::Reply {
            view: 0,
            client: 1,
            request: 1,
            result: b"",
        }),
    );
    let after = r.stats();
    assert_eq!(after.stranger, before.stranger + 1);
    assert_eq!(after.unexpected, before.unexpected + 2);
    assert_eq!(after.malformed, before.malformed + 1);
    // A PREPARE-OK of an older view at the primary of a newer one.
    c.crash(0);
    assert!(c.call(0, append(b"k", b"b"), 10_000).is_some());
    let now = c.now;
    let p = &mut c.replicas[1];
    assert!(p.is_leader());
    let before = p.stats();
    p.handle_datagram(
        now,
        c.config.replicas[2].address,
        &encode(&Message::PrepareOk { view: 0, op: 5 }),
    );
    assert_eq!(p.stats().stale, before.stale + 1);
    let _ = backup;
}

/// Every message kind, well-formed or not, from every sender, to replicas in every state:
/// nothing panics (the original NOPaxos crashed on one message it did not dispatch).
#[test]
fn every_message_to_every_role_is_handled() {
    let mut c = Cluster::with(3, 2, |vr| vr.log_keep = 4);
    for i in 0..10 {
        assert!(
            c.call(i % 2, append(b"k", format!("{i}").as_bytes()), 100)
                .is_some()
        );
    }
    c.lose_memory(2, 5);
    let entries = [Entry {
        client: 9,
        request: 1,
        reply_to: c.client_addrs[0],
        op: b"junk".to_vec(),
    }];
    let mut prepare = vec![0u8; MAX_DATAGRAM];
    let mut w = Writer::new(&mut prepare);
    encode_prepare(&mut w, 0, 1, 0, entries.iter()).unwrap();
    let n = w.len();
    prepare.truncate(n);
    let mut messages = vec![prepare];
    for view in [0u64, 1, 7] {
        messages.extend([
            encode(&Message::Request {
                client: 9,
                request: 1,
                op: b"x",
            }),
            encode(&Message::Reply {
                view,
                client: 9,
                request: 1,
                result: b"x",
            }),
            encode(&Message::PrepareOk { view, op: 3 }),
            encode(&Message::Commit { view, commit: 100 }),
            encode(&Message::StartViewChange { view }),
            encode(&Message::StateRequest {
                view,
                op: 0,
                commit: 0,
                nonce: 3,
                mode: StateMode::CatchUp,
            }),
            encode(&Message::StateRequest {
                view,
                op: 0,
                commit: 0,
                nonce: 3,
                mode: StateMode::Snapshot,
            }),
            encode(&Message::StateRequest {
                view,
                op: 0,
                commit: 0,
                nonce: 3,
                mode: StateMode::Recovery,
            }),
            encode(&Message::Recovery { nonce: 5 }),
            encode(&Message::RecoveryResponse { view, nonce: 5 }),
        ]);
        for kind in [
            ChunkKind::ViewChange,
            ChunkKind::StartView,
            ChunkKind::State,
        ] {
            messages.push(encode(&Message::Chunk(ChunkIn {
                kind,
                view,
                id: 5,
                index: 0,
                count: 1,
                total: 3,
                data: b"abc",
            })));
        }
    }
    let senders: Vec<_> = (0..3)
        .map(|i| c.replica_addr(i))
        .chain([c.client_addrs[0]])
        .collect();
    for m in &messages {
        for &from in &senders {
            for i in 0..3 {
                let now = c.now;
                c.replicas[i].handle_datagram(now, from, m);
                for len in [0, m.len() / 2, m.len() - 1] {
                    c.replicas[i].handle_datagram(now, from, &m[..len]);
                }
            }
            c.step();
        }
    }
    // The cluster still works afterwards.
    c.run_for(3000);
    assert!(
        c.call(0, append(b"k", b"end"), 10_000).is_some(),
        "{}",
        c.describe()
    );
    c.run_for(3000);
    c.assert_agreement();
}

/// A recovering replica asks nothing for a leader timeout: every view-change attempt that
/// may hold a DO-VIEW-CHANGE it sent before crashing has by then started its view or been
/// abandoned.
#[test]
fn recovery_waits_out_view_changes_the_replica_may_have_joined() {
    let mut c = Cluster::new(3, 1);
    assert!(c.call(0, append(b"k", b"a"), 100).is_some());
    let from2 = c.replica_addr(2);
    let first_ask = Rc::new(Cell::new(None));
    let f = first_ask.clone();
    c.set_filter(move |p| {
        if p.from == from2 && matches!(p.message(), Some(Message::Recovery { .. })) {
            f.set(Some(()));
        }
        true
    });
    let lost_at = c.now;
    c.lose_memory(2, 99);
    let leader_timeout = c.vr_config(0).timeouts.leader_timeout;
    c.run_until(1999, |_| first_ask.get().is_some());
    assert!(first_ask.get().is_none(), "asked before a leader timeout");
    assert!(c.now < lost_at + leader_timeout);
    c.run_until(5000, |c| c.replicas[2].is_normal());
    assert!(first_ask.get().is_some());
    assert!(c.replicas[2].is_normal());
    assert_eq!(c.replicas[2].execution(), c.replicas[0].execution());
}

/// A view-change attempt never completes after its deadline, even if the last
/// DO-VIEW-CHANGE arrives before the timer that moves on has fired.
#[test]
fn a_view_change_attempt_past_its_deadline_does_not_complete() {
    for (late, expect) in [(false, Status::Normal), (true, Status::ViewChange)] {
        let mut c = Cluster::new(3, 1);
        assert!(c.call(0, append(b"k", b"a"), 100).is_some());
        c.crash(0);
        // Replicas 1 and 2 time out, agree in a pre-vote that the primary is gone, and
        // replica 1 joins view 1, which it would lead; replica 2 crashes before its
        // DO-VIEW-CHANGE can complete it.
        c.run_until(5000, |c| c.replicas[1].status() == Status::ViewChange);
        c.crash(2);
        let started = c.replicas[1].vc.as_ref().unwrap().started;
        let deadline = started + c.vr_config(0).timeouts.leader_timeout;
        let dvc = DoViewChange {
            last_normal: 0,
            commit: 1,
            first: 1,
            entries: vec![c.replicas[1].log().get(1).unwrap().clone()],
        }
        .encode();
        let chunk = encode(&Message::Chunk(ChunkIn {
            kind: ChunkKind::ViewChange,
            view: 1,
            id: 1,
            index: 0,
            count: 1,
            total: dvc.len() as u32,
            data: &dvc,
        }));
        let at = if late {
            deadline
        } else {
            crate::time::Time::from_nanos(deadline.as_nanos() - 1)
        };
        let from2 = c.replica_addr(2);
        c.replicas[1].handle_datagram(at, from2, &chunk);
        assert_eq!(c.replicas[1].status(), expect, "late={late}");
    }
}

/// With one replica (f = 0) the primary commits on its own and sends nothing to peers.
#[test]
fn a_single_replica_commits_alone() {
    let mut c = Cluster::new(1, 3);
    assert_eq!(c.config.f, 0);
    assert_eq!(c.call(0, append(b"k", b"a"), 100), appended("a"));
    assert_eq!(c.call_all(b"k", 1000), 3);
    c.run_for(5000);
    assert!(c.replicas[0].is_leader());
    assert_eq!(c.replicas[0].execution().0, 4);
    assert_eq!(c.replicas[0].vr_stats().encode_errors, 0);
}
