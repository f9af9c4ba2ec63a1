//! The recovery fence: a VIEW-CHANGE a replica sent before it lost its memory, delivered
//! after it recovered, is not counted by the new leader (its epoch is older than the one
//! the replica announced when it recovered), so the replica cannot be counted on a promise
//! it forgot. Without the fence both scenarios below start a view from the stale report;
//! in the first that loses a chosen, answered request.

use super::harness::{Cluster, Fate, Hosts, Packet};
use crate::app::kv::KvResult;
use crate::fastpaxos::Status;
use crate::fastpaxos::messages::{ChunkKind, Message};
use crate::{EntryId, Replica};

fn is_report(p: &Packet) -> bool {
    matches!(
        p.message(),
        Some(Message::Chunk {
            kind: ChunkKind::ViewChange,
            ..
        })
    )
}

fn is_report_from(a: &Hosts, p: &Packet, r: usize) -> bool {
    a.replica(p.from) == Some(r) && is_report(p)
}

/// Replica 1, cut off, joins `view` on its own: its VIEW-CHANGE-REQUEST is lost and its
/// report to the view's leader is held by the network. Then it loses its memory.
fn report_then_crash(c: &mut Cluster, view: u64) {
    c.set_host_filter(|a, p| {
        let from_1 = a.replica(p.from) == Some(1);
        if from_1 && is_report(p) {
            Fate::Hold
        } else if from_1 && matches!(p.message(), Some(Message::ViewChangeRequest { .. })) {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    let now = c.now;
    c.replicas[1].start_view_change(now, view);
    c.settle();
    assert!(!c.held.is_empty(), "the pre-crash report is held");
    c.lose_memory(1, 77);
}

fn appended(c: &Cluster, k: usize) -> String {
    let result = c.done[0][k].result.as_ref().expect("completed");
    match KvResult::decode(result).unwrap() {
        KvResult::Appended(v) => String::from_utf8(v).unwrap(),
        other => panic!("not an append result: {other:?}"),
    }
}

/// n = 3. Replica 1 reported for view 3 (led by 0) before it lost its memory; the report is
/// delayed. It recovers into view 2 (led by 2), where x is chosen in slot 3 by the classic
/// round with 2's and 1's acceptances while 0 is down (0 never voted x). Then 0 joins view
/// 3 and the pre-crash report arrives: counted, it would complete a classic quorum {0, 1}
/// that knows nothing of x, and 0 would decide slot 3 anew. 0 heard replica 1's new epoch
/// (its RECOVERY), so it waits for another report: 2's, which carries x.
#[test]
fn a_pre_crash_report_for_a_later_view_is_not_counted() {
    let mut c = Cluster::new(3, 1);
    c.appends(0, 2, "a");
    report_then_crash(&mut c, 3);
    c.clear_filter();
    for _ in 0..100 {
        if c.replicas[1].status() == Status::Normal {
            break;
        }
        c.run_for(20);
    }
    let r = &c.replicas[1];
    assert_eq!(r.status(), Status::Normal, "{}", c.describe());
    assert_eq!(r.view(), 2, "the first view after its own, fenced for it");
    assert_eq!(c.leader(), Some(2));

    // x, chosen by 2 and 1 in view 2's classic round, answered; 0 is down.
    c.up[0] = false;
    c.append(0, "x;");
    assert!(c.run_until_done(0, 3, 5000), "{}", c.describe());
    assert_eq!(appended(&c, 2), "a0;a1;x;");
    assert!(c.replicas[2].counters().classic_chosen >= 1);
    let x = c.replicas[2].committed_entry(3);
    assert!(matches!(x, Some(EntryId::Request { .. })));

    // 0 comes back cut off from the others and joins view 3; the stale report arrives.
    c.up[0] = true;
    c.set_host_filter(|a, p| {
        let stale = is_report_from(a, p, 1);
        let touches_0 = a.replica(p.from) == Some(0) || a.replica(p.to) == Some(0);
        if touches_0 && !stale {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    let now = c.now;
    c.replicas[0].start_view_change(now, 3);
    c.release();
    c.settle();
    let r0 = &c.replicas[0];
    assert_eq!(r0.view(), 3);
    assert_eq!(
        r0.status(),
        Status::ViewChange,
        "view 3 must not start from a report sent before its sender lost its memory: {}",
        c.describe()
    );

    // Healed: view 3 starts from a current quorum, and x stays in slot 3 everywhere.
    c.clear_filter();
    c.run_for(3000);
    c.appends(0, 2, "b");
    c.run_for(300);
    assert_eq!(appended(&c, 4), "a0;a1;x;b0;b1;");
    for i in 0..3 {
        // (A replica that copied a state image past slot 3 holds no log there.)
        if c.replicas[i].log_start() <= 3 {
            assert_eq!(c.replicas[i].committed_entry(3), x, "{}", c.describe());
        }
    }
    c.assert_fp_agreement();
}

/// n = 3. Replica 1 reported for view 2 (led by 2) before it lost its memory; recovering, it
/// asks for view 2 itself. The held pre-crash report reaches 2 while 0's report is lost: 2
/// must not start view 2 with it (and the recovering replica must not join a view formed
/// from it). With 0's report, view 2 starts and 1 recovers into it.
#[test]
fn a_pre_crash_report_for_the_view_it_rejoins_is_not_counted() {
    let mut c = Cluster::new(3, 1);
    c.appends(0, 2, "a");
    report_then_crash(&mut c, 2);
    c.set_host_filter(|a, p| {
        if is_report_from(a, p, 0) {
            Fate::Lose
        } else {
            Fate::Deliver
        }
    });
    c.settle();
    assert_eq!(c.replicas[1].status(), Status::Recovering);
    assert_eq!(c.replicas[2].view(), 2, "{}", c.describe());
    assert_eq!(c.replicas[2].status(), Status::ViewChange);
    c.release();
    c.settle();
    assert_eq!(
        c.replicas[2].status(),
        Status::ViewChange,
        "view 2 must not start from a report sent before its sender lost its memory: {}",
        c.describe()
    );
    assert_eq!(c.replicas[1].status(), Status::Recovering);

    c.clear_filter();
    for _ in 0..100 {
        if c.replicas[1].status() == Status::Normal {
            break;
        }
        c.run_for(20);
    }
    assert_eq!(c.replicas[1].status(), Status::Normal, "{}", c.describe());
    assert_eq!(c.replicas[1].counters().recoveries, 1);
    c.appends(0, 2, "b");
    c.run_for(300);
    assert_eq!(appended(&c, 3), "a0;a1;b0;b1;");
    c.assert_fp_agreement();
    assert_eq!(c.replicas[1].execution(), c.replicas[2].execution());
}
