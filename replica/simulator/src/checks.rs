//! The checks of a run, apart from the driver: agreement of committed entries and execution
//! digests across replicas, and the call into the linearizability checker.

use std::collections::BTreeMap;

use super::report::Check;
use super::workload::Call;
use crate::time::Time;
use checker::{CheckBudget, CheckOutcome, HistoryOp, check_kv};
use protocols::{EntryId, Replica};

/// A failed check, with what the report should say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) check: Check,
    pub(crate) detail: String,
}

/// Everything replicas have reported as committed or executed, so that any two reports of
/// the same slot can be compared, whenever each was made. Replicas may truncate their logs,
/// so the driver observes them often (after every instant it simulates), and each replica
/// is asked about each slot once (again after it lost its memory, or on a [`rescan`]).
///
/// [`rescan`]: Agreement::rescan
#[derive(Debug, Default)]
pub(crate) struct Agreement {
    /// slot -> (entry, the replica that first reported it).
    committed: BTreeMap<u64, (EntryId, usize)>,
    /// executed slot -> (digest, the replica that first reported it).
    executed: BTreeMap<u64, (u64, usize)>,
    /// Per replica: slots up to this one have been asked about.
    cursors: Vec<u64>,
}

impl Agreement {
    pub(crate) fn new(replicas: usize) -> Agreement {
        Agreement {
            cursors: vec![0; replicas],
            ..Agreement::default()
        }
    }

    /// Entries committed by any replica so far.
    pub(crate) fn committed_slots(&self) -> usize {
        self.committed.len()
    }

    /// Replica `index` restarted without its memory: ask it about every slot again.
    pub(crate) fn forget(&mut self, index: usize) {
        if let Some(c) = self.cursors.get_mut(index) {
            *c = 0;
        }
    }

    /// Compares what replica `index` reports now (new committed slots, its execution point)
    /// with every earlier report.
    pub(crate) fn observe<R: Replica + ?Sized>(
        &mut self,
        index: usize,
        replica: &R,
    ) -> Result<(), Failure> {
        let commit = replica.commit_point();
        let from = self.cursors.get(index).copied().unwrap_or(0).min(commit);
        for slot in from + 1..=commit {
            self.check_slot(index, slot, replica)?;
        }
        if let Some(c) = self.cursors.get_mut(index) {
            *c = commit;
        }
        self.check_execution(index, replica)
    }

    /// Asks replica `index` about every slot up to its commit point again, catching a
    /// committed entry that changed after it was first observed.
    pub(crate) fn rescan<R: Replica + ?Sized>(
        &mut self,
        index: usize,
        replica: &R,
    ) -> Result<(), Failure> {
        self.forget(index);
        self.observe(index, replica)
    }

    fn check_slot<R: Replica + ?Sized>(
        &mut self,
        index: usize,
        slot: u64,
        replica: &R,
    ) -> Result<(), Failure> {
        let Some(entry) = replica.committed_entry(slot) else {
            return Ok(());
        };
        match self.committed.get(&slot) {
            Some(&(first, by)) if first != entry => Err(Failure {
                check: Check::Agreement,
                detail: format!(
                    "slot {slot}: replica {index} committed {entry:?}, but replica {by} \
                     committed {first:?}"
                ),
            }),
            Some(_) => Ok(()),
            None => {
                self.committed.insert(slot, (entry, index));
                Ok(())
            }
        }
    }

    fn check_execution<R: Replica + ?Sized>(
        &mut self,
        index: usize,
        replica: &R,
    ) -> Result<(), Failure> {
        let (slot, digest) = replica.execution();
        if slot == 0 {
            return Ok(());
        }
        match self.executed.get(&slot) {
            Some(&(first, by)) if first != digest => Err(Failure {
                check: Check::ExecutionDigest,
                detail: format!(
                    "executed up to slot {slot}: replica {index} has state digest \
                     {digest:016x}, but replica {by} had {first:016x}"
                ),
            }),
            Some(_) => Ok(()),
            None => {
                self.executed.insert(slot, (digest, index));
                Ok(())
            }
        }
    }
}

/// The linearizability verdict on a run's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Linearity {
    Linearizable,
    Violation(String),
    /// The checker ran out of budget.
    Inconclusive(String),
}

/// Checks the history with the linearizability checker ([`checker`]), with its
/// default budget.
pub(crate) fn linearizability(history: &[Call]) -> Linearity {
    let ops: Vec<HistoryOp> = history
        .iter()
        .map(|c| HistoryOp {
            client: c.client,
            invoke: c.invoke.as_nanos(),
            ret: c.ret.map(Time::as_nanos),
            op: c.op.clone(),
            result: c.result.clone(),
        })
        .collect();
    match check_kv(&ops, &CheckBudget::default()) {
        CheckOutcome::Linearizable => Linearity::Linearizable,
        CheckOutcome::Violation(v) => Linearity::Violation(v.explanation),
        outcome @ CheckOutcome::Inconclusive { .. } => Linearity::Inconclusive(outcome.to_string()),
    }
}
