//! Recovery fences: what keeps a replica that lost its memory from being confused with what
//! it was before. Two pieces, shared by the protocols that recover the same way:
//!
//! * [`Nonces`]: the names a replica gives its requests (state transfers, RECOVERY, blobs),
//!   so an answer is taken only for the request in flight, and not for one an earlier
//!   incarnation of this replica sent;
//! * [`Epochs`]: the highest recovery epoch known of each replica. A replica that recovers
//!   takes an epoch above every one the others knew of it, so what it sent before its crash
//!   (tagged with an older epoch) no longer counts.

use std::ops::Deref;

use crate::time::Time;

/// Fresh nonces of one replica: a count of those issued, mixed with the replica's index
/// (no two replicas share one) and the time (a restarted replica, its count back at zero,
/// does not repeat its earlier incarnation's).
#[derive(Debug, Clone, Default)]
pub(crate) struct Nonces {
    issued: u64,
}

impl Nonces {
    /// A nonce not issued before, for replica `me` at `now`.
    pub(crate) fn next(&mut self, me: usize, now: Time) -> u64 {
        self.issued += 1;
        ((me as u64) << 48) ^ self.issued ^ now.as_nanos().rotate_left(20)
    }
}

/// The highest recovery epoch this replica knows of each replica, its own included (0:
/// never recovered). Epochs only grow; reads see the table as a slice, by replica index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Epochs(Vec<u64>);

impl Epochs {
    /// A cluster of `n` replicas none of which has recovered yet.
    pub(crate) fn new(n: usize) -> Epochs {
        Epochs(vec![0; n])
    }

    /// Replica `i` recovered under `epoch` (a replica outside the cluster is ignored).
    pub(crate) fn learn(&mut self, i: usize, epoch: u64) {
        if let Some(e) = self.0.get_mut(i) {
            *e = (*e).max(epoch);
        }
    }

    /// Takes on every epoch `epochs` (another replica's table) knows above this one's.
    pub(crate) fn learn_all(&mut self, epochs: &[u64]) {
        for (mine, theirs) in self.0.iter_mut().zip(epochs) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The epoch replica `me` recovers under: one above every epoch known of it.
    pub(crate) fn next_own(&mut self, me: usize) -> u64 {
        let epoch = self.0[me] + 1;
        self.0[me] = epoch;
        epoch
    }
}

impl Deref for Epochs {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_only_grow() {
        let mut e = Epochs::new(3);
        e.learn(1, 4);
        e.learn(1, 2);
        e.learn(7, 9);
        assert_eq!(&*e, &[0, 4, 0]);
        e.learn_all(&[1, 3, 5, 8]);
        assert_eq!(&*e, &[1, 4, 5]);
        assert_eq!(e.next_own(1), 5);
        assert_eq!(&*e, &[1, 5, 5]);
    }

    #[test]
    fn nonces_differ_by_count_replica_and_time() {
        let mut a = Nonces::default();
        let now = Time::from_millis(5);
        let first = a.next(0, now);
        assert_ne!(first, a.next(0, now));
        assert_ne!(first, Nonces::default().next(1, now));
        assert_ne!(first, Nonces::default().next(0, Time::from_millis(6)));
    }
}
