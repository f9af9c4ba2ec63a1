//! Hooks for measurements rather than fault sweeps (the paper's Table 1): set the link model,
//! put the sequencer "in the network", cut replicas off, and read message counts and
//! latencies.

use std::time::Duration;

use dataplane::io::PacketIo;
use dataplane::io::sim::{HostId, LinkConfig};

use super::World;
use crate::protocol::ReplicaOf;
use crate::time::Time;
use protocols::Protocol;

/// Per-request figures of a measurement window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    /// Operations invoked in the window that completed.
    pub(crate) completed: u64,
    /// Operations invoked in the window that did not complete.
    pub(crate) unfinished: u64,
    pub(crate) mean_latency: Duration,
    /// Datagrams received plus sent by the busiest replica, per completed operation.
    pub(crate) busiest_messages_per_op: f64,
}

impl<P: Protocol> World<'_, P> {
    /// Drops the fault schedule, healing included: a measurement sets its own links.
    pub(crate) fn without_schedule(&mut self) {
        self.schedule.actions.clear();
        self.next_action = 0;
    }

    /// Every link gets `link` (faults are off in measurements).
    pub(crate) fn set_default_link(&mut self, link: LinkConfig) -> Result<(), String> {
        self.net.set_default_link(link).map_err(|e| e.to_string())
    }

    /// Links into the sequencer cost nothing, as when the sequencer is the switch a request
    /// crosses anyway (the paper's in-network sequencer).
    pub(crate) fn sequencer_in_network(&mut self, link: LinkConfig) -> Result<(), String> {
        let Some(seq) = self.sequencer.as_ref().map(|s| s.io.host()) else {
            return Ok(());
        };
        let free = LinkConfig {
            delay: Duration::ZERO,
            ..link
        };
        let clients: Vec<HostId> = self.clients.iter().map(|c| c.io.host()).collect();
        for c in clients {
            self.net.set_link(c, seq, free).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Cuts replicas off from everyone, for good.
    pub(crate) fn isolate(&mut self, which: &[usize]) -> Result<(), String> {
        for &i in which {
            let host = self
                .replicas
                .get(i)
                .map(|r| r.io.host())
                .ok_or_else(|| format!("no replica {i}"))?;
            self.net.isolate(host).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Runs until `until`; a failure of the safety checks is returned.
    pub(crate) fn run_until(&mut self, until: Time) -> Result<(), String> {
        self.drive(until)
            .map_err(|(_, f)| format!("{:?}: {}", f.check, f.detail))
    }

    /// Datagrams each replica has received plus sent so far.
    pub(crate) fn replica_messages(&self) -> Vec<u64> {
        self.replicas
            .iter()
            .map(|r| {
                let s = r.io.stats();
                s.rx_packets + s.tx_packets
            })
            .collect()
    }

    /// Figures for operations invoked in `[from, to)`; `before` is `replica_messages()` at
    /// `from`.
    pub(crate) fn window(&self, from: Time, to: Time, before: &[u64]) -> Window {
        let mut completed = 0u64;
        let mut unfinished = 0u64;
        let mut total = Duration::ZERO;
        for call in &self.workload.history {
            if call.invoke < from || call.invoke >= to {
                continue;
            }
            match call.ret {
                Some(ret) => {
                    completed += 1;
                    total += ret.saturating_since(call.invoke);
                }
                None => unfinished += 1,
            }
        }
        let busiest = self
            .replica_messages()
            .iter()
            .zip(before)
            .map(|(now, then)| now - then)
            .max()
            .unwrap_or(0);
        Window {
            completed,
            unfinished,
            mean_latency: if completed == 0 {
                Duration::ZERO
            } else {
                total / completed as u32
            },
            busiest_messages_per_op: if completed == 0 {
                0.0
            } else {
                busiest as f64 / completed as f64
            },
        }
    }

    /// The replica cores, in index order.
    pub(crate) fn replica_cores(&self) -> impl Iterator<Item = &ReplicaOf<P>> {
        self.replicas.iter().map(|r| &r.core)
    }

    pub(crate) fn config(&self) -> &dataplane::config::ClusterConfig {
        &self.config
    }

    /// Operations completed so far.
    pub(crate) fn completed(&self) -> u64 {
        self.workload.completed()
    }
}
