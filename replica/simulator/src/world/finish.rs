//! The end of a run: the final checks and the report.

use std::mem;

use super::{World, to_outcome};
use crate::checks::{self, Linearity};
use crate::protocol::supported_faults;
use crate::report::{Check, Outcome, RunReport, replay_command};
use crate::time::Time;
use dataplane::oum::StreamDigest;
use protocols::Protocol;
use protocols::Replica;

impl<P: Protocol> World<'_, P> {
    /// The checks at the end of a run: a last full agreement scan, progress after healing,
    /// linearizability of the history.
    pub(super) fn final_checks(&mut self) -> Outcome {
        for i in 0..self.replicas.len() {
            let host = &self.replicas[i];
            if host.up {
                if let Err(f) = self.agreement.rescan(i, &host.core) {
                    return to_outcome(false, f);
                }
            }
        }
        match checks::linearizability(&self.workload.history) {
            Linearity::Linearizable => {}
            Linearity::Violation(detail) => {
                return Outcome::Violation {
                    check: Check::Linearizability,
                    detail,
                };
            }
            Linearity::Inconclusive(detail) => return Outcome::Inconclusive { detail },
        }
        let stuck: Vec<u64> = self
            .clients
            .iter()
            .filter(|c| !c.progressed)
            .map(|c| c.id)
            .collect();
        if !stuck.is_empty() {
            return Outcome::Stall {
                check: Check::Progress,
                detail: format!(
                    "the faults healed at {}, but by {} clients {stuck:?} had completed no \
                     operation invoked since",
                    self.heal_at,
                    self.net.now()
                ),
            };
        }
        Outcome::Ok
    }

    /// Whether replica `index` is up, and whether it is still recovering from memory loss.
    #[cfg(test)]
    pub(crate) fn replica_flags(&self, index: usize) -> Option<(bool, bool)> {
        self.replicas.get(index).map(|r| (r.up, r.recovering))
    }

    /// The current virtual time.
    #[cfg(test)]
    pub(crate) fn now(&self) -> Time {
        self.net.now()
    }

    /// Each replica's state line (and the sequencer's), marked when down, paused or
    /// recovering.
    pub(crate) fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let state = match (r.up, r.recovering) {
                    (false, _) => " [down]",
                    (true, _) if r.paused => " [paused]",
                    (true, true) => " [recovering]",
                    (true, false) => "",
                };
                format!("replica {i}{state}: {}", r.core.describe())
            })
            .collect();
        if let Some(s) = &self.sequencer {
            lines.push(format!(
                "sequencer{}: session {} stamped {} refused {}",
                if s.is_up() { "" } else { " [down]" },
                s.session(),
                s.stamped,
                s.refused
            ));
        }
        lines
    }

    pub(super) fn report(mut self, outcome: Outcome) -> RunReport {
        let net = self.net.stats();
        let mut digest = StreamDigest::default();
        for c in &self.workload.history {
            digest.add(&c.client.to_be_bytes());
            digest.add(&c.invoke.as_nanos().to_be_bytes());
            digest.add(&c.ret.map_or(u64::MAX, Time::as_nanos).to_be_bytes());
            digest.add(&c.op);
            digest.add(c.result.as_deref().unwrap_or(b"-"));
        }
        for v in [net.sent, net.delivered, net.lost, net.duplicated] {
            digest.add(&v.to_be_bytes());
        }
        let describe = self.describe();
        let now = self.net.now();
        if self.trace.on(1) {
            for line in &describe {
                self.trace.line(now, format_args!("end {line}"));
            }
            self.trace.line(
                now,
                format_args!(
                    "end ops={} completed={} committed_slots={} misrouted={} net={net:?} \
                     fingerprint={:016x}",
                    self.workload.history.len(),
                    self.workload.completed(),
                    self.agreement.committed_slots(),
                    self.misrouted,
                    digest.value()
                ),
            );
        }
        let supported = supported_faults::<P>(&self.config);
        let replay = replay_command(
            P::NAME,
            self.replicas.len(),
            &self.options,
            supported,
            self.seed,
        );
        RunReport {
            protocol: P::NAME,
            seed: self.seed,
            outcome,
            replicas: self.replicas.len(),
            clients: self.clients.len(),
            invoked: self.workload.history.len() as u64,
            completed: self.workload.completed(),
            committed_slots: self.agreement.committed_slots(),
            virtual_time: now,
            describe,
            net,
            fingerprint: digest.value(),
            history: mem::take(&mut self.workload.history),
            replay,
        }
    }
}
