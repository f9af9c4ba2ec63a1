//! State transfer's exchange, the same in every protocol. A replica that needs a peer's
//! state asks one peer at a time, naming the request with a fresh nonce; with no answer
//! within the `state_transfer` timeout it asks the next peer (never itself), since any
//! replica far enough along can serve; it takes an image only if it answers the request in
//! flight. The peer answers with a chunked state blob named by that nonce and keeps it, so
//! a request asked again (its answer lost) gets the same bytes rather than a fresh image.
//! A replica that lost its memory first polls the others (RECOVERY) to learn whose state
//! it may copy.
//!
//! What an image holds, whose image a replica may take and how it installs it stay with
//! each protocol (its `images.rs` and `replica/transfer.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::ReplicaStats;
use crate::codec::CodecError;
use crate::kit::blob::{Blob, ChunkKind, OutgoingBlob};
use crate::kit::image_codec::decode_or_count;
use crate::time::Time;

/// What a protocol's state request needs of the image (which decides whose image it may
/// take), as far as the exchange cares.
pub trait Need {
    /// Whether the request is a recovering replica's, which only the leader of the latest
    /// view may answer: when that leader does not answer, no other peer will do.
    fn for_recovery(&self) -> bool;
}

/// What a state request's timer calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its source still has time to answer.
    Wait,
    /// It moved on to the next peer: send it there.
    AskAgain,
    /// A recovery's request went unanswered and is dropped: the recovery starts over.
    Abandoned,
}

/// A state request in flight. `N` is what the protocol needs of the image.
#[derive(Debug, Clone)]
pub struct Transfer<N> {
    /// Names the request; the answer's blob carries it as its id.
    pub nonce: u64,
    /// The peer asked last.
    pub source: usize,
    /// When the request goes to the next peer.
    pub resend_at: Time,
    pub need: N,
}

impl<N> Transfer<N> {
    /// A request to `source`, passed on to the next peer after `resend`.
    pub fn new(now: Time, resend: Duration, nonce: u64, source: usize, need: N) -> Self {
        Transfer {
            nonce,
            source,
            resend_at: now + resend,
            need,
        }
    }

    /// Whether `source` has had its time to answer.
    pub fn due(&self, now: Time) -> bool {
        now >= self.resend_at
    }

    /// Whether `blob` answers this request (rather than an earlier one).
    pub fn answered_by<V>(&self, blob: &Blob<ChunkKind, V>) -> bool {
        blob.id == self.nonce
    }

    /// The image `blob` holds if it answers this request: an answer to another request is
    /// counted as stale, one that does not decode as malformed.
    pub fn answer<V, I>(
        &self,
        blob: &Blob<ChunkKind, V>,
        stats: &mut ReplicaStats,
        decode: impl FnOnce(&[u8]) -> Result<I, CodecError>,
    ) -> Option<I> {
        if !self.answered_by(blob) {
            stats.stale += 1;
            return None;
        }
        decode_or_count(&blob.data, stats, decode)
    }
}

impl<N: Need> Transfer<N> {
    /// The timer of the request in `transfer`, if any: once its source has had its time,
    /// any up-to-date replica can serve, so it moves on to the next of `n` replicas other
    /// than `me` (with a fresh `resend` to answer), unless it is a recovery's.
    pub fn on_timer(
        transfer: &mut Option<Self>,
        now: Time,
        resend: Duration,
        n: usize,
        me: usize,
    ) -> Step {
        let Some(t) = transfer.as_mut().filter(|t| t.due(now)) else {
            return Step::Wait;
        };
        if t.need.for_recovery() {
            *transfer = None;
            return Step::Abandoned;
        }
        t.source = other_than(me, (t.source + 1) % n, n);
        t.resend_at = now + resend;
        Step::AskAgain
    }
}

/// `source`, or the replica after it (of `n`) if `source` is `me`: a replica never asks
/// itself.
pub fn other_than(me: usize, source: usize, n: usize) -> usize {
    if source == me {
        (source + 1) % n
    } else {
        source
    }
}

/// A state image for the request named `nonce`, of view `view`.
fn image_blob<V: Copy>(view: V, nonce: u64, image: Vec<u8>) -> OutgoingBlob<ChunkKind, V> {
    OutgoingBlob::new(ChunkKind::State, view, nonce, image)
}

/// The state image a replica served last, sent again as it is to a peer that asks again
/// with the same key (its nonce, and whatever else must not have changed).
#[derive(Debug, Clone)]
pub struct Served<K, V> {
    to: usize,
    key: K,
    blob: OutgoingBlob<ChunkKind, V>,
}

impl<K: PartialEq, V: Copy> Served<K, V> {
    pub fn new(to: usize, key: K, blob: OutgoingBlob<ChunkKind, V>) -> Self {
        Served { to, key, blob }
    }

    /// The blob to send again if replica `to` asks again with `key`.
    pub fn again(&self, to: usize, key: &K) -> Option<OutgoingBlob<ChunkKind, V>> {
        (self.to == to && self.key == *key).then(|| self.blob.clone())
    }

    /// The answer to replica `to`'s request named `nonce` (`key` adds what must not have
    /// changed for an answer to stand): the image `served` last if it answered the same,
    /// else a fresh one of view `view`, encoded by `image`, kept in `served`.
    pub fn answer(
        served: &mut Option<Self>,
        to: usize,
        key: K,
        view: V,
        nonce: u64,
        image: impl FnOnce() -> Vec<u8>,
    ) -> OutgoingBlob<ChunkKind, V> {
        if let Some(blob) = served.as_ref().and_then(|s| s.again(to, &key)) {
            return blob;
        }
        let blob = image_blob(view, nonce, image());
        *served = Some(Served::new(to, key, blob.clone()));
        blob
    }
}

/// A recovering replica's poll of the others: the nonce of its RECOVERY, the answers of the
/// current round (the view each responder was normal in), and when it asks again.
#[derive(Debug, Clone)]
pub struct RecoveryPoll<V> {
    pub nonce: u64,
    pub responses: BTreeMap<usize, V>,
    pub resend_at: Time,
}

impl<V: Copy> RecoveryPoll<V> {
    /// A poll whose first (or next) RECOVERY goes out at `ask_at`.
    pub fn new(nonce: u64, ask_at: Time) -> Self {
        RecoveryPoll {
            nonce,
            responses: BTreeMap::new(),
            resend_at: ask_at,
        }
    }

    /// Asks everyone again at once, forgetting the answers: the replica it was to copy
    /// from did not answer and may be gone.
    pub fn restart(&mut self, now: Time) {
        self.responses.clear();
        self.resend_at = now;
    }

    /// Whether RECOVERY is due now; if so the next one is due `resend` later.
    pub fn resend_due(&mut self, now: Time, resend: Duration) -> bool {
        if now < self.resend_at {
            return false;
        }
        self.resend_at = now + resend;
        true
    }

    /// Takes `sender`'s answer if it answers this poll; counts another as stale.
    pub fn record(&mut self, sender: usize, nonce: u64, view: V, stats: &mut ReplicaStats) -> bool {
        if nonce != self.nonce {
            stats.stale += 1;
            return false;
        }
        self.responses.insert(sender, view);
        true
    }

    /// With `quorum` answers, the latest view among them: at least every view this replica
    /// took part in before it lost its memory.
    pub fn latest(&self, quorum: usize) -> Option<V>
    where
        V: Ord,
    {
        if self.responses.len() < quorum {
            return None;
        }
        self.responses.values().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    struct Recovering(bool);

    impl Need for Recovering {
        fn for_recovery(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn requests_move_on_to_the_next_peer_never_to_the_asker() {
        let t0 = Time::ZERO;
        let resend = Duration::from_millis(10);
        let mut t = Some(Transfer::new(t0, resend, 7, 2, Recovering(false)));
        assert!(t.as_ref().is_some_and(|t| !t.due(t0)));
        assert_eq!(Transfer::on_timer(&mut t, t0, resend, 3, 0), Step::Wait);
        let later = t0 + resend;
        assert_eq!(
            Transfer::on_timer(&mut t, later, resend, 3, 0),
            Step::AskAgain
        );
        let t1 = t.clone().unwrap();
        assert_eq!((t1.source, t1.resend_at), (1, later + resend));
        assert_eq!(
            Transfer::on_timer(&mut t, later + resend, resend, 3, 2),
            Step::AskAgain
        );
        assert_eq!(t.as_ref().map(|t| t.source), Some(0));
        let mut r = Some(Transfer::new(t0, resend, 7, 2, Recovering(true)));
        assert_eq!(
            Transfer::on_timer(&mut r, later, resend, 3, 0),
            Step::Abandoned
        );
        assert!(r.is_none());
        assert_eq!(other_than(1, 1, 3), 2);
        assert_eq!(other_than(2, 2, 3), 0);
        assert_eq!(other_than(0, 1, 3), 1);
    }

    #[test]
    fn only_the_answer_to_the_request_in_flight_is_taken() {
        let t = Transfer::new(Time::ZERO, Duration::from_millis(1), 7, 1, ());
        let blob = |id, data: Vec<u8>| Blob {
            sender: 1,
            kind: ChunkKind::State,
            view: 0u64,
            id,
            data,
        };
        let decode = |b: &[u8]| crate::codec::Reader::new(b).u64();
        let mut stats = ReplicaStats::default();
        assert_eq!(t.answer(&blob(6, vec![0; 8]), &mut stats, decode), None);
        assert_eq!(t.answer(&blob(7, vec![0; 3]), &mut stats, decode), None);
        assert_eq!((stats.stale, stats.malformed), (1, 1));
        assert_eq!(t.answer(&blob(7, vec![0; 8]), &mut stats, decode), Some(0));
    }

    #[test]
    fn a_served_image_is_sent_again_only_for_the_same_asker_and_key() {
        let served = Served::new(2, 9u64, image_blob(4u64, 9, vec![1, 2, 3]));
        let again = served.again(2, &9).unwrap();
        assert_eq!((again.kind, again.view, again.id), (ChunkKind::State, 4, 9));
        assert!(served.again(1, &9).is_none());
        assert!(served.again(2, &8).is_none());
        let mut served = Some(served);
        let same = Served::answer(&mut served, 2, 9, 5, 9, || unreachable!());
        assert_eq!((same.view, same.data.as_slice()), (4, &[1u8, 2, 3][..]));
        let fresh = Served::answer(&mut served, 1, 9, 5, 9, || vec![7]);
        assert_eq!(
            (fresh.view, fresh.id, fresh.data.as_slice()),
            (5, 9, &[7u8][..])
        );
        assert!(served.as_ref().is_some_and(|s| s.again(1, &9).is_some()));
    }

    #[test]
    fn a_recovery_poll_counts_its_own_answers_and_starts_over() {
        let resend = Duration::from_millis(5);
        let mut poll = RecoveryPoll::new(3, Time::ZERO + resend);
        let mut stats = ReplicaStats::default();
        assert!(!poll.resend_due(Time::ZERO, resend));
        assert!(poll.resend_due(Time::ZERO + resend, resend));
        assert_eq!(poll.resend_at, Time::ZERO + resend + resend);
        assert!(poll.record(1, 3, 4u64, &mut stats));
        assert!(!poll.record(2, 2, 9u64, &mut stats));
        assert_eq!(stats.stale, 1);
        assert_eq!(poll.latest(2), None);
        assert!(poll.record(2, 3, 6u64, &mut stats));
        assert_eq!(poll.latest(2), Some(6));
        poll.restart(Time::ZERO);
        assert!(poll.responses.is_empty());
        assert_eq!(poll.resend_at, Time::ZERO);
    }
}
