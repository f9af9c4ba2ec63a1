//! The speculative log and the state machine that executes it, with rollback.
//!
//! Every replica executes each request as it appends it, so the state always reflects the
//! whole log, committed and speculative. The [`App`] trait can snapshot and restore but not
//! undo, so rollback works from checkpoints: the ledger keeps the state machine's snapshot
//! at its *base* (a committed slot; the log keeps only the entries after it) and a few
//! speculative checkpoints taken at later slots. Rolling back to slot `d` restores the
//! newest checkpoint at or before `d` and re-executes the entries between it and `d`.
//!
//! Cost: one snapshot of the whole state per synchronization round (a checkpoint), one
//! restore plus the re-execution of at most about a synchronization period of entries per
//! rollback, and memory for the base snapshot, up to [`MAX_CHECKPOINTS`] checkpoints and the
//! log since the base. When a commit covers a checkpoint it becomes the new base and the
//! log before it is dropped, so memory stays bounded by the sync period, not by history.
//!
//! The client positions (the slot of each client's latest executed request, for answering
//! retries) are undone entry by entry: each entry remembers the position it replaced.

use std::collections::{BTreeMap, VecDeque};

use super::images::LogSegment;
use super::types::{LogHash, Request};
use crate::app::{App, Execution, StateMachine};
use crate::{ClientId, EntryId, RequestId};

/// Speculative checkpoints kept at most; older ones are dropped first.
pub const MAX_CHECKPOINTS: usize = 4;

/// Where a client's latest executed request sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClientPos {
    request: RequestId,
    slot: u64,
}

#[derive(Debug, Clone)]
struct LogEntry {
    request: Request,
    hash: LogHash,
    /// `Some(previous position of this client)` when executing this entry was the request's
    /// first execution (it moved the client's position); `None` for a retry or a stale one.
    undo: Option<Option<ClientPos>>,
}

#[derive(Debug, Clone)]
struct Checkpoint {
    slot: u64,
    snapshot: Vec<u8>,
}

/// Where a request stands in this replica's log and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not executed yet: append it.
    New,
    /// Executed at this slot of the log.
    InLog(u64),
    /// Executed at or before the base: committed, answered from the client table.
    BeforeBase,
    /// Older than the client's latest request: ignored.
    Stale,
}

/// Why a log segment could not be adopted in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdoptError {
    /// This log does not reach the segment's first slot.
    Short,
    /// This log differs from the segment where it continues from (or holds no hash there).
    Mismatch,
    /// Adopting would change a committed entry: the source contradicts what this replica
    /// knows is committed (a safety alarm, never expected).
    Conflict,
}

/// What committing up to a slot found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The log does not reach the slot yet.
    Beyond,
    /// The log holds a different prefix there: it must be repaired.
    Mismatch,
    /// The slot is at or before the commit point but the hash differs (a safety alarm).
    Conflict,
}

/// Counters of the rollback machinery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerStats {
    /// Rollbacks of speculative execution.
    pub rollbacks: u64,
    /// Entries whose speculative execution was undone.
    pub undone: u64,
    /// Entries re-executed after restoring a checkpoint.
    pub replayed: u64,
    /// Checkpoints taken (whole-state snapshots).
    pub checkpoints: u64,
    /// Snapshots that failed to restore (never expected: they are this replica's own).
    pub restore_errors: u64,
}

/// The log (from its base) and the state machine that has executed all of it.
#[derive(Debug)]
pub struct Ledger<A> {
    base: u64,
    base_hash: LogHash,
    base_snapshot: Vec<u8>,
    entries: VecDeque<LogEntry>,
    machine: StateMachine<A>,
    checkpoints: VecDeque<Checkpoint>,
    commit: u64,
    /// The commit point before its last advance: checkpoints are promoted only up to here,
    /// so the log keeps about one synchronization period behind the commit point, from
    /// which a follower that missed the last commit can still be repaired in place.
    prior_commit: u64,
    clients: BTreeMap<ClientId, ClientPos>,
    pub stats: LedgerStats,
}

impl<A: App> Ledger<A> {
    pub fn new(app: A) -> Ledger<A> {
        let machine = StateMachine::new(app);
        let mut base_snapshot = Vec::new();
        machine.snapshot(&mut base_snapshot);
        Ledger {
            base: 0,
            base_hash: LogHash::ZERO,
            base_snapshot,
            entries: VecDeque::new(),
            machine,
            checkpoints: VecDeque::new(),
            commit: 0,
            prior_commit: 0,
            clients: BTreeMap::new(),
            stats: LedgerStats::default(),
        }
    }

    pub fn machine(&self) -> &StateMachine<A> {
        &self.machine
    }

    /// The last slot the log no longer holds; the state there is committed and snapshotted.
    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub fn commit(&self) -> u64 {
        self.commit
    }

    /// Slots in the log (after the base).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    fn index(&self, slot: u64) -> Option<usize> {
        let i = slot.checked_sub(self.base + 1)?;
        (i < self.entries.len() as u64).then_some(i as usize)
    }

    /// The prefix hash at `slot`, from the base to the end.
    pub fn hash_at(&self, slot: u64) -> Option<LogHash> {
        if slot == self.base {
            return Some(self.base_hash);
        }
        self.index(slot).map(|i| self.entries[i].hash)
    }

    pub fn request(&self, slot: u64) -> Option<&Request> {
        self.index(slot).map(|i| &self.entries[i].request)
    }

    /// The entry at a committed slot still in the log.
    pub fn committed_entry(&self, slot: u64) -> Option<EntryId> {
        if slot > self.commit {
            return None;
        }
        self.request(slot).map(Request::id)
    }

    /// Where `(client, request)` stands here.
    pub fn standing(&self, client: ClientId, request: RequestId) -> Standing {
        let pos = self.clients.get(&client);
        if self.machine.cached_result(client, request).is_some() {
            return match pos {
                Some(p) if p.request == request && p.slot > self.base => Standing::InLog(p.slot),
                _ => Standing::BeforeBase,
            };
        }
        match pos {
            // Positions are only ever known exactly: a stale verdict is never wrong.
            Some(p) if request < p.request => Standing::Stale,
            _ => Standing::New,
        }
    }

    /// The recorded result of `(client, request)` if it is the client's latest.
    pub fn cached_result(&self, client: ClientId, request: RequestId) -> Option<&[u8]> {
        self.machine.cached_result(client, request)
    }

    /// Executes the entry at `index` and records the client's new position.
    fn execute_index(&mut self, index: usize, record: bool) -> Option<&[u8]> {
        let slot = self.base + 1 + index as u64;
        let e = &mut self.entries[index];
        let execution = self
            .machine
            .execute(e.request.client, e.request.request, &e.request.op);
        if record {
            e.undo = None;
            if let Execution::Executed(_) = execution {
                let prev = self.clients.insert(
                    e.request.client,
                    ClientPos {
                        request: e.request.request,
                        slot,
                    },
                );
                e.undo = Some(prev);
            }
        }
        match execution {
            Execution::Executed(r) | Execution::Duplicate(r) => Some(r),
            Execution::Stale => None,
        }
    }

    /// Appends `request` and executes it. Returns its slot and prefix hash, and copies the
    /// result into `result` (false if the request was stale and produced none).
    pub fn append(&mut self, request: Request, result: &mut Vec<u8>) -> (u64, LogHash, bool) {
        let hash = request.chain(self.hash_at(self.end()).unwrap_or(self.base_hash));
        self.entries.push_back(LogEntry {
            request,
            hash,
            undo: None,
        });
        let index = self.entries.len() - 1;
        let slot = self.end();
        result.clear();
        let answered = match self.execute_index(index, true) {
            Some(r) => {
                result.extend_from_slice(r);
                true
            }
            None => false,
        };
        (slot, hash, answered)
    }

    /// Undoes the speculative execution of every entry after `slot` and drops them. `slot`
    /// must be at or after the commit point (and the base).
    pub fn rollback_to(&mut self, slot: u64) {
        let end = self.end();
        if slot >= end || slot < self.base.max(self.commit) {
            return;
        }
        let keep = (slot - self.base) as usize;
        for e in self.entries.iter().skip(keep).rev() {
            if let Some(prev) = e.undo {
                match prev {
                    Some(p) => self.clients.insert(e.request.client, p),
                    None => self.clients.remove(&e.request.client),
                };
            }
        }
        self.stats.rollbacks += 1;
        self.stats.undone += end - slot;
        self.entries.truncate(keep);
        self.checkpoints.retain(|c| c.slot <= slot);
        let (from, restored) = match self.checkpoints.back() {
            Some(c) => (c.slot, self.machine.restore(&c.snapshot)),
            None => (self.base, self.machine.restore(&self.base_snapshot)),
        };
        if restored.is_err() {
            self.stats.restore_errors += 1;
        }
        for slot in from + 1..=slot {
            if let Some(i) = self.index(slot) {
                self.execute_index(i, false);
                self.stats.replayed += 1;
            }
        }
    }

    /// Takes a checkpoint of the state at the end of the log, unless one is there already.
    pub fn checkpoint(&mut self) {
        let end = self.end();
        if end == self.base || self.checkpoints.back().is_some_and(|c| c.slot >= end) {
            return;
        }
        let mut snapshot = Vec::new();
        self.machine.snapshot(&mut snapshot);
        self.checkpoints.push_back(Checkpoint {
            slot: end,
            snapshot,
        });
        self.stats.checkpoints += 1;
        while self.checkpoints.len() > MAX_CHECKPOINTS {
            self.checkpoints.pop_front();
        }
    }

    /// Moves the commit point forward and promotes what the previous one covers.
    fn advance_commit(&mut self, slot: u64) {
        if slot > self.commit {
            self.prior_commit = self.commit;
            self.commit = slot;
            self.promote();
        }
    }

    /// The newest checkpoint covered by the previous commit point becomes the base; the log
    /// before it is dropped.
    fn promote(&mut self) {
        let upto = self.prior_commit;
        let Some(pos) = self.checkpoints.iter().rposition(|c| c.slot <= upto) else {
            return;
        };
        let Some(cp) = self.checkpoints.remove(pos) else {
            return;
        };
        let Some(hash) = self.hash_at(cp.slot) else {
            return;
        };
        let drop = (cp.slot - self.base) as usize;
        self.entries.drain(..drop);
        self.base = cp.slot;
        self.base_hash = hash;
        self.base_snapshot = cp.snapshot;
        self.checkpoints.retain(|c| c.slot > self.base);
    }

    /// Marks the log committed up to `slot` if it holds the prefix hashed `hash` there.
    pub fn commit_to(&mut self, slot: u64, hash: LogHash) -> CommitOutcome {
        if slot <= self.commit {
            return match self.hash_at(slot) {
                Some(h) if h != hash => CommitOutcome::Conflict,
                _ => CommitOutcome::Committed,
            };
        }
        match self.hash_at(slot) {
            Some(h) if h == hash => {
                self.advance_commit(slot);
                CommitOutcome::Committed
            }
            Some(_) => CommitOutcome::Mismatch,
            None => CommitOutcome::Beyond,
        }
    }

    /// Makes this log equal to `segment` from where the segment starts (its part of the log
    /// before that stays): rolls back the speculative entries that differ, executes the
    /// segment's, and drops anything after the segment's end. `commit` is the source's
    /// commit point (its log, now ours, is committed up to there).
    pub fn adopt(&mut self, segment: &LogSegment, commit: u64) -> Result<(), AdoptError> {
        let k = segment.prev_slot.max(self.base);
        if k > self.end() {
            return Err(AdoptError::Short);
        }
        if k > segment.end() {
            // The whole segment lies behind this log's base: it cannot hold this log's
            // committed entries.
            return Err(AdoptError::Conflict);
        }
        let hashes = segment.hashes();
        let at = |slot: u64| hashes.get((slot - segment.prev_slot) as usize).copied();
        if self.hash_at(k) != at(k) {
            return Err(if k <= self.commit {
                AdoptError::Conflict
            } else {
                AdoptError::Mismatch
            });
        }
        // First slot where this log and the segment differ (or one of them ends).
        let mut d = k + 1;
        while d <= segment.end() && self.hash_at(d).is_some() && self.hash_at(d) == at(d) {
            d += 1;
        }
        let keep = d - 1;
        if keep < self.commit && keep < self.end() {
            return Err(AdoptError::Conflict);
        }
        self.rollback_to(keep);
        let skip = (keep - segment.prev_slot) as usize;
        let mut scratch = Vec::new();
        for request in segment.entries.iter().skip(skip) {
            self.append(request.clone(), &mut scratch);
        }
        let top = commit.min(self.end()).min(segment.end());
        self.advance_commit(top);
        Ok(())
    }

    /// Replaces everything with a snapshot at `segment.prev_slot` and the log after it,
    /// committed up to `commit`.
    pub fn install(
        &mut self,
        snapshot: &[u8],
        segment: &LogSegment,
        commit: u64,
    ) -> Result<(), crate::codec::CodecError> {
        self.machine.restore(snapshot)?;
        self.base = segment.prev_slot;
        self.base_hash = segment.prev_hash;
        self.base_snapshot = snapshot.to_vec();
        self.entries.clear();
        self.checkpoints.clear();
        self.clients.clear();
        self.commit = self.base;
        let mut scratch = Vec::new();
        for request in &segment.entries {
            self.append(request.clone(), &mut scratch);
        }
        self.commit = commit.clamp(self.base, self.end());
        self.prior_commit = self.base;
        Ok(())
    }

    /// The log after `slot`, if the log holds `slot`.
    pub fn segment_from(&self, slot: u64) -> Option<LogSegment> {
        let prev_hash = self.hash_at(slot)?;
        let skip = (slot - self.base) as usize;
        Some(LogSegment {
            prev_slot: slot,
            prev_hash,
            entries: self
                .entries
                .iter()
                .skip(skip)
                .map(|e| e.request.clone())
                .collect(),
        })
    }

    /// The base snapshot and the whole log after it.
    pub fn full_image(&self) -> (Vec<u8>, LogSegment) {
        let segment = self
            .segment_from(self.base)
            .unwrap_or_else(|| LogSegment::empty(self.base, self.base_hash));
        (self.base_snapshot.clone(), segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::kv::{KvOp, KvResult, KvStore};

    fn req(client: u64, request: u64, value: &str) -> Request {
        Request {
            client,
            request,
            reply_to: "127.0.0.1:1".parse().unwrap(),
            op: KvOp::Append {
                key: b"k",
                value: value.as_bytes(),
            }
            .to_bytes(),
        }
    }

    fn appended(result: &[u8]) -> Vec<u8> {
        match KvResult::decode(result).unwrap() {
            KvResult::Appended(v) => v,
            r => panic!("{r:?}"),
        }
    }

    fn value(l: &Ledger<KvStore>) -> Vec<u8> {
        l.machine().app().get(b"k").unwrap_or_default().to_vec()
    }

    #[test]
    fn append_executes_and_hashes_the_prefix() {
        let mut l = Ledger::new(KvStore::default());
        let mut out = Vec::new();
        let (s1, h1, ok) = l.append(req(1, 1, "a"), &mut out);
        assert!(ok);
        assert_eq!((s1, appended(&out)), (1, b"a".to_vec()));
        let (s2, h2, _) = l.append(req(2, 1, "b"), &mut out);
        assert_eq!((s2, appended(&out)), (2, b"ab".to_vec()));
        assert_eq!(h1, LogHash::ZERO.chain(1, 1, &req(1, 1, "a").op));
        assert_eq!(h2, req(2, 1, "b").chain(h1));
        assert_eq!(l.standing(1, 1), Standing::InLog(1));
        assert_eq!(l.standing(2, 2), Standing::New);
        assert_eq!(l.standing(3, 1), Standing::New);
        l.append(req(1, 2, "c"), &mut out);
        assert_eq!(l.standing(1, 1), Standing::Stale);
    }

    #[test]
    fn rollback_restores_state_and_client_positions() {
        let mut l = Ledger::new(KvStore::default());
        let mut out = Vec::new();
        l.append(req(1, 1, "a"), &mut out);
        l.checkpoint();
        l.append(req(2, 1, "b"), &mut out);
        l.append(req(1, 2, "c"), &mut out);
        l.append(req(3, 1, "d"), &mut out);
        assert_eq!(value(&l), b"abcd");
        l.rollback_to(2);
        assert_eq!(l.end(), 2);
        assert_eq!(value(&l), b"ab");
        assert_eq!(l.standing(1, 1), Standing::InLog(1));
        assert_eq!(l.standing(1, 2), Standing::New);
        assert_eq!(l.standing(3, 1), Standing::New);
        assert_eq!(l.stats.undone, 2);
        // Below the checkpoint: restores the base snapshot.
        l.rollback_to(0);
        assert_eq!(value(&l), b"");
        assert_eq!(l.standing(1, 1), Standing::New);
        assert_eq!(l.machine().executed(), 0);
    }

    #[test]
    fn commits_promote_checkpoints_and_truncate() {
        let mut l = Ledger::new(KvStore::default());
        let mut out = Vec::new();
        for i in 1..=5 {
            l.append(req(i, 1, "x"), &mut out);
        }
        l.checkpoint();
        for i in 6..=8 {
            l.append(req(i, 1, "y"), &mut out);
        }
        let h3 = l.hash_at(3).unwrap();
        assert_eq!(l.commit_to(3, h3), CommitOutcome::Committed);
        assert_eq!(l.base(), 0, "no checkpoint at or before 3");
        assert_eq!(l.commit_to(6, LogHash(1)), CommitOutcome::Mismatch);
        assert_eq!(l.commit_to(9, LogHash(1)), CommitOutcome::Beyond);
        assert_eq!(l.commit_to(2, LogHash(1)), CommitOutcome::Conflict);
        let h6 = l.hash_at(6).unwrap();
        assert_eq!(l.commit_to(6, h6), CommitOutcome::Committed);
        assert_eq!(
            l.base(),
            0,
            "the log keeps one commit's worth behind the commit point"
        );
        let h7 = l.hash_at(7).unwrap();
        assert_eq!(l.commit_to(7, h7), CommitOutcome::Committed);
        assert_eq!(l.base(), 5);
        assert_eq!(l.len(), 3);
        assert_eq!(l.committed_entry(6), Some(req(6, 1, "y").id()));
        assert_eq!(l.committed_entry(8), None);
        assert_eq!(l.standing(1, 1), Standing::BeforeBase);
        // Rolling back never goes below the commit point.
        l.rollback_to(4);
        assert_eq!(l.end(), 8);
        l.rollback_to(7);
        assert_eq!(l.end(), 7);
        assert_eq!(value(&l), b"xxxxxyy");
    }

    #[test]
    fn adopting_a_divergent_segment_rolls_back_only_the_difference() {
        let mut a = Ledger::new(KvStore::default());
        let mut b = Ledger::new(KvStore::default());
        let mut out = Vec::new();
        for l in [&mut a, &mut b] {
            l.append(req(1, 1, "a"), &mut out);
            l.append(req(2, 1, "b"), &mut out);
        }
        // a got c then d; b got d then c.
        a.append(req(3, 1, "c"), &mut out);
        a.append(req(4, 1, "d"), &mut out);
        b.append(req(4, 1, "d"), &mut out);
        b.append(req(3, 1, "c"), &mut out);
        b.append(req(5, 1, "e"), &mut out);
        let seg = a.segment_from(1).unwrap();
        b.adopt(&seg, 2).unwrap();
        assert_eq!(b.end(), 4);
        assert_eq!(b.hash_at(4), a.hash_at(4));
        assert_eq!(value(&b), b"abcd");
        assert_eq!(b.commit(), 2);
        assert_eq!(b.stats.undone, 3);
        assert_eq!(b.standing(5, 1), Standing::New);
        assert_eq!(b.standing(3, 1), Standing::InLog(3));
        // Adopting a segment that starts where this log differs is refused.
        let mut c = Ledger::new(KvStore::default());
        c.append(req(9, 1, "z"), &mut out);
        assert_eq!(
            c.adopt(&a.segment_from(1).unwrap(), 0),
            Err(AdoptError::Mismatch)
        );
        assert_eq!(
            c.adopt(&a.segment_from(4).unwrap(), 0),
            Err(AdoptError::Short)
        );
        // ... and one that would change a committed entry raises the alarm.
        let h = c.hash_at(1).unwrap();
        c.commit_to(1, h);
        assert_eq!(
            c.adopt(&a.segment_from(0).unwrap(), 0),
            Err(AdoptError::Conflict)
        );
        assert_eq!(value(&c), b"z");
    }

    #[test]
    fn install_replaces_everything() {
        let mut a = Ledger::new(KvStore::default());
        let mut out = Vec::new();
        for i in 1..=4 {
            a.append(req(i, 1, "q"), &mut out);
        }
        a.checkpoint();
        let h = a.hash_at(4).unwrap();
        a.commit_to(4, h);
        a.append(req(5, 1, "r"), &mut out);
        let h = a.hash_at(5).unwrap();
        a.commit_to(5, h);
        a.append(req(6, 1, "s"), &mut out);
        a.rollback_to(5);
        let (snapshot, seg) = a.full_image();
        assert_eq!(seg.prev_slot, 4);
        let mut b = Ledger::new(KvStore::default());
        b.append(req(8, 1, "zz"), &mut out);
        b.install(&snapshot, &seg, 4).unwrap();
        assert_eq!((b.base(), b.end(), b.commit()), (4, 5, 4));
        assert_eq!(b.hash_at(5), a.hash_at(5));
        assert_eq!(value(&b), b"qqqqr");
        assert_eq!(b.machine().digest(), a.machine().digest());
        assert_eq!(b.standing(5, 1), Standing::InLog(5));
        assert_eq!(b.standing(1, 1), Standing::BeforeBase);
        assert!(b.install(b"junk", &seg, 4).is_err());
    }
}
