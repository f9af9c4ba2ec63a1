//! The recovery fence scenario (docs/protocols.md, Fast Paxos "The recovery fence"): a
//! VIEW-CHANGE a replica sent for a high view before it lost its memory is delayed in the
//! network; the replica recovers into a lower view, helps complete a request there that a
//! third replica lacks, and then the stale VIEW-CHANGE reaches that third replica, the
//! leader of the high view. The completed request must survive the view change.

use super::harness::{Cluster, Fate, Hosts, Packet};
use crate::app::kv::{KvOp, KvResult};
use crate::nopaxos::messages::{ChunkKind, Message};
use crate::nopaxos::{Entry, Status, ViewId};

fn append(c: &mut Cluster, key: &[u8], v: &[u8]) -> Option<KvResult> {
    c.call(0, KvOp::Append { key, value: v }, 10_000)
}

fn is_view_change_from(a: &Hosts, p: &Packet, r: usize) -> bool {
    a.replica(p.from) == Some(r)
        && matches!(
            p.message(),
            Some(Message::Chunk {
                kind: ChunkKind::ViewChange,
                ..
            })
        )
}

fn holds_request(c: &Cluster, i: usize, slot: u64) -> bool {
    matches!(c.replicas[i].log().get(slot), Some(Entry::Request(_)))
}

/// n = 3. Replica 1, cut off, moves up to view (3, 1) (led by 0) on its own: its
/// VIEW-CHANGE-REQUEST is lost and its VIEW-CHANGE to 0 (last normal view (0, 0), log
/// without x) is held by the network. It loses its memory and recovers into view (2, 1)
/// (led by 2; formed for its recovery). There x completes with the replies of the leader 2
/// and of the recovered 1; replica 0 never receives x. Then the stale VIEW-CHANGE reaches
/// 0: counted with 0's own, it would form view (3, 1) from 0's log alone (the latest normal
/// view among the two reports), without x, and the view would lose a request a client saw
/// complete. Replica 0 answered the recovery, so it knows replica 1's new epoch, which the
/// stale report predates: it waits for a current report (2's or 1's, both holding x).
#[test]
fn a_stale_pre_crash_view_change_does_not_lose_a_completed_request() {
    let mut c = Cluster::new(3, 1);
    assert_eq!(
        append(&mut c, b"k", b"a"),
        Some(KvResult::Appended(b"a".to_vec()))
    );
    c.run_for(100);
    let high = ViewId {
        leader_num: 3,
        session_num: 1,
    };

    // Replica 1 joins (3, 1) alone; its report to 0 is delayed.
    c.set_host_filter(|a, p| {
        let from_1 = a.replica(p.from) == Some(1);
        if is_view_change_from(a, p, 1) {
            Fate::Hold
        } else if from_1 && matches!(p.message(), Some(Message::ViewChangeRequest { .. })) {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    let now = c.now;
    c.replicas[1].start_view_change(now, high);
    c.settle();
    assert_eq!(c.held.len(), 1, "the pre-crash VIEW-CHANGE is held");
    assert_eq!(c.replicas[1].view(), high);

    // It loses its memory and recovers into a view below (3, 1).
    c.lose_memory(1, 77);
    c.clear_filter();
    let recovered = c.run_until(3_000, |cl| cl.replicas[1].status() == Status::Normal);
    assert!(recovered, "{}", c.describe());
    let low = ViewId {
        leader_num: 2,
        session_num: 1,
    };
    for i in 0..3 {
        assert_eq!(c.replicas[i].view(), low, "{}", c.describe());
    }

    // x completes with the replies of 2 (the leader) and 1; 0 never receives it.
    let r0 = c.replica_addr(0);
    c.set_filter(move |p| !(p.to == r0 && p.msgnum().is_some()));
    assert_eq!(
        append(&mut c, b"k", b"x"),
        Some(KvResult::Appended(b"ax".to_vec())),
        "{}",
        c.describe()
    );
    let x_slot = c.replicas[2].log().end();
    assert!(holds_request(&c, 2, x_slot));
    assert!(holds_request(&c, 1, x_slot), "{}", c.describe());
    assert!(c.replicas[0].log().end() < x_slot, "{}", c.describe());

    // The stale VIEW-CHANGE reaches 0, which joins (3, 1) and leads it; nothing else
    // reaches 0 for now.
    let stale = c.held[0].bytes.clone();
    c.set_host_filter(move |a, p| {
        if a.replica(p.to) == Some(0) && p.bytes != stale {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    c.release();
    c.settle();
    assert_eq!(c.replicas[0].view(), high, "{}", c.describe());
    assert_eq!(
        c.replicas[0].status(),
        Status::ViewChange,
        "(3, 1) must not start from a report sent before its sender lost its memory: {}",
        c.describe()
    );

    // Healed: whatever view forms, x is in it, in its slot, and executed.
    c.clear_filter();
    c.run_for(3_000);
    let leader = c.leader();
    assert!(c.replicas[leader].view().covers(&high), "{}", c.describe());
    assert_eq!(c.replicas[leader].status(), Status::Normal);
    assert!(
        holds_request(&c, leader, x_slot),
        "the completed request was lost: {}",
        c.describe()
    );
    assert_eq!(
        c.call(0, KvOp::Get { key: b"k" }, 10_000),
        Some(KvResult::Value(Some(b"ax".to_vec()))),
        "{}",
        c.describe()
    );
    c.run_for(1_000);
    c.assert_agreement();
}

/// n = 3. Replica 1 logs x (message 2) from the OUM and replies before the leader 0 has
/// it (2 never gets it); then 1 loses its memory. Copying the leader's state does not give
/// it x back: x is still on its way to 0. If 1 rejoined view (0, 0), x reaching 0 would
/// complete it with 1's pre-crash reply and 0's, and a view change from 1 and 2 (neither
/// holding x) would then lose it. 1 rejoins only a view formed without it, (2, 1).
#[test]
fn a_request_acknowledged_before_the_crash_survives_recovery() {
    let mut c = Cluster::new(3, 1);
    assert_eq!(
        append(&mut c, b"k", b"a"),
        Some(KvResult::Appended(b"a".to_vec()))
    );
    c.run_for(100);
    let (r0, r2) = (c.replica_addr(0), c.replica_addr(2));
    c.set_filter(move |p| {
        if p.msgnum().is_some() && p.to == r0 {
            Fate::Hold
        } else if p.msgnum().is_some() && p.to == r2 {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    c.invoke(
        0,
        KvOp::Append {
            key: b"k",
            value: b"x",
        },
    );
    c.settle();
    assert!(holds_request(&c, 1, 2), "{}", c.describe());
    assert_eq!(c.held.len(), 1);

    // 1 loses its memory and recovers while x is still on its way to the leader.
    c.lose_memory(1, 77);
    c.settle();
    let recovered = c.run_until(3_000, |cl| cl.replicas[1].status() == Status::Normal);
    assert!(recovered, "{}", c.describe());

    assert_eq!(
        c.replicas[1].view(),
        ViewId {
            leader_num: 2,
            session_num: 1
        },
        "{}",
        c.describe()
    );

    // x reaches 0; the client completes it (in (0, 0) it would with 0's reply and 1's old
    // one).
    c.clear_filter();
    c.release();
    let done = c.wait(0, 10_000);
    assert_eq!(
        done,
        Some(KvResult::Appended(b"ax".to_vec())),
        "{}",
        c.describe()
    );

    // The leader crashes; the other two form the next view.
    let leader = c.leader();
    c.crash(leader);
    c.run_for(3_000);
    assert_eq!(
        c.call(0, KvOp::Get { key: b"k" }, 10_000),
        Some(KvResult::Value(Some(b"ax".to_vec()))),
        "a completed request was lost: {}",
        c.describe()
    );
    c.assert_agreement();
}
