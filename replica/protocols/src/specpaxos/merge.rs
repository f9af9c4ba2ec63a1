//! The log merge of a view change (the paper's reconciliation), as a pure function.
//!
//! The new leader reads f + 1 logs (its own among them). Only those from the latest normal
//! view count: an older log's committed entries are all in that view's starting log. Of
//! those, the one with the highest commit point `C` gives the committed prefix; logs that
//! hold a different prefix at `C` (a follower that diverged and was not yet repaired) are
//! left out. After `C`, a slot is kept when ⌈f/2⌉ + 1 of the remaining logs (all of them,
//! if fewer remain) hold the same prefix hash there: a request that completed in the fast
//! path was in the logs of f + ⌈f/2⌉ + 1 replicas, so at least ⌈f/2⌉ + 1 of any f + 1
//! hold it, and no other prefix can reach that count among f + 1. Requests committed by a
//! previous view's START-VIEW are in every log of that view. The merge stops at the first
//! slot without such agreement; the other requests these logs hold after `C` follow, in
//! a fixed order and without repeats, so that their clients need not resend them (a request
//! the state already executed is answered from the client table, not executed again).

use std::collections::BTreeSet;

use super::images::{LogSegment, ViewChangeImage};
use super::types::merge_threshold;
use crate::{ClientId, RequestId};

/// The new view's starting log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// A replica whose log is committed up to `segment.prev_slot` (where the new leader can
    /// copy that prefix from if its own log lacks it).
    pub source: usize,
    /// The log after the committed point.
    pub segment: LogSegment,
    /// Entries kept because enough logs agreed on them (the rest are leftovers).
    pub agreed: usize,
}

/// Merges the logs of a view change; `logs` are (replica, image) pairs, f + 1 of them.
pub fn merge(f: usize, logs: &[(usize, &ViewChangeImage)]) -> Option<Merged> {
    let latest = logs.iter().map(|(_, i)| i.last_normal_view).max()?;
    let current: Vec<(usize, &ViewChangeImage)> = logs
        .iter()
        .filter(|(_, i)| i.last_normal_view == latest)
        .copied()
        .collect();
    // Highest commit point; ties go to the lowest replica index.
    let &(source, best) = current
        .iter()
        .max_by_key(|(r, i)| (i.commit(), std::cmp::Reverse(*r)))?;
    let commit = best.commit();
    let commit_hash = best.segment.prev_hash;
    // Logs holding the committed prefix, with their prefix hash at every slot after it.
    let consistent: Vec<(&ViewChangeImage, Vec<super::types::LogHash>)> = current
        .iter()
        .filter(|(_, i)| i.segment.hash_at(commit) == Some(commit_hash))
        .map(|(_, i)| {
            let all = i.segment.hashes();
            let skip = (commit - i.segment.prev_slot) as usize;
            (*i, all[skip..].to_vec())
        })
        .collect();
    let threshold = merge_threshold(f).min(consistent.len()).max(1);
    let mut entries = Vec::new();
    let mut slot = commit;
    loop {
        slot += 1;
        let offset = (slot - commit) as usize;
        // Count the prefix hashes at `slot`; the order of `consistent` decides nothing
        // (at most one hash can reach the threshold).
        let mut counts: Vec<(super::types::LogHash, usize, &ViewChangeImage)> = Vec::new();
        for (image, hashes) in &consistent {
            let Some(h) = hashes.get(offset) else {
                continue;
            };
            match counts.iter_mut().find(|(x, _, _)| x == h) {
                Some(c) => c.1 += 1,
                None => counts.push((*h, 1, image)),
            }
        }
        let Some(&(_, _, image)) = counts.iter().find(|(_, n, _)| *n >= threshold) else {
            break;
        };
        let index = (slot - image.segment.prev_slot - 1) as usize;
        match image.segment.entries.get(index) {
            Some(e) => entries.push(e.clone()),
            None => break,
        }
    }
    let agreed = entries.len();
    let mut seen: BTreeSet<(ClientId, RequestId)> =
        entries.iter().map(|e| (e.client, e.request)).collect();
    for (_, image) in &current {
        let first = commit.saturating_sub(image.segment.prev_slot) as usize;
        for e in image.segment.entries.iter().skip(first) {
            if seen.insert((e.client, e.request)) {
                entries.push(e.clone());
            }
        }
    }
    Some(Merged {
        source,
        segment: LogSegment {
            prev_slot: commit,
            prev_hash: commit_hash,
            entries,
        },
        agreed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::specpaxos::types::{LogHash, Request, SpecViewId};

    fn req(client: u64, request: u64) -> Request {
        Request {
            client,
            request,
            reply_to: "127.0.0.1:9".parse().unwrap(),
            op: vec![client as u8, request as u8],
        }
    }

    fn view(e: u64) -> SpecViewId {
        SpecViewId {
            leader_num: 0,
            epoch: e,
        }
    }

    /// An image of a log holding `entries` from slot 1, committed up to `commit`.
    fn image(v: u64, commit: usize, entries: &[Request]) -> ViewChangeImage {
        let whole = LogSegment {
            prev_slot: 0,
            prev_hash: LogHash::ZERO,
            entries: entries.to_vec(),
        };
        ViewChangeImage {
            last_normal_view: view(v),
            segment: LogSegment {
                prev_slot: commit as u64,
                prev_hash: whole.hash_at(commit as u64).unwrap(),
                entries: entries[commit..].to_vec(),
            },
        }
    }

    fn ids(m: &Merged) -> Vec<(u64, u64)> {
        m.segment
            .entries
            .iter()
            .map(|e| (e.client, e.request))
            .collect()
    }

    #[test]
    fn a_fast_path_request_survives_any_quorum_of_f_plus_1_logs() {
        // f = 2, n = 5: a request at slot 2 held by a superquorum of 4 (replicas 1-4);
        // replica 0 (the old leader) holds another there.
        let a = req(1, 1);
        let (x, y) = (req(2, 1), req(3, 1));
        let logs: Vec<ViewChangeImage> = (0..5)
            .map(|r| {
                if r == 0 {
                    image(1, 0, &[a.clone(), y.clone()])
                } else {
                    image(1, 0, &[a.clone(), x.clone()])
                }
            })
            .collect();
        for q in [[0, 1, 2], [0, 3, 4], [1, 2, 3], [0, 2, 4]] {
            let chosen: Vec<(usize, &ViewChangeImage)> = q.iter().map(|&r| (r, &logs[r])).collect();
            let m = merge(2, &chosen).unwrap();
            assert_eq!(&ids(&m)[..2], &[(1, 1), (2, 1)], "quorum {q:?}");
            assert_eq!(m.agreed, 2);
        }
    }

    #[test]
    fn older_views_and_inconsistent_logs_are_left_out() {
        let (a, b, c, d) = (req(1, 1), req(2, 1), req(3, 1), req(4, 1));
        // f = 2. Replica 0: committed up to 2 in view 3. Replica 1: same view, diverged
        // before 2 (holds b at 1). Replica 2: older view with a lot of entries.
        let logs = [
            image(3, 2, &[a.clone(), b.clone(), c.clone()]),
            image(3, 0, &[b.clone(), a.clone(), d.clone()]),
            image(2, 0, &[d.clone(), c.clone(), b.clone(), a.clone()]),
        ];
        let chosen: Vec<(usize, &ViewChangeImage)> = logs.iter().enumerate().collect();
        let m = merge(2, &chosen).unwrap();
        assert_eq!(m.source, 0);
        assert_eq!(m.segment.prev_slot, 2);
        assert_eq!(m.segment.prev_hash, logs[0].segment.prev_hash);
        // Only replica 0 is consistent: its speculative entry is kept; replica 1's d follows
        // as a leftover, the old view's log contributes nothing.
        assert_eq!(ids(&m), vec![(3, 1), (4, 1)]);
        assert_eq!(m.agreed, 1);
    }

    #[test]
    fn disagreement_stops_the_agreed_prefix_and_leftovers_are_deduplicated() {
        let (a, b, c) = (req(1, 1), req(2, 1), req(3, 1));
        // f = 1: two logs of the same view that differ at slot 2.
        let logs = [
            image(0, 0, &[a.clone(), b.clone(), c.clone()]),
            image(0, 0, &[a.clone(), c.clone(), b.clone()]),
        ];
        let chosen: Vec<(usize, &ViewChangeImage)> = logs.iter().enumerate().collect();
        let m = merge(1, &chosen).unwrap();
        assert_eq!(m.agreed, 1);
        assert_eq!(ids(&m), vec![(1, 1), (2, 1), (3, 1)]);
        assert!(merge(1, &[]).is_none());
    }
}
