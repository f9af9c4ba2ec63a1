//! Applying the fault schedule's actions to the running cluster.

use std::mem;

use dataplane::io::sim::{HostId, LinkConfig};
use dataplane::io::{Packet, PacketIo};

use super::{ReplicaHost, World};
use crate::faults::{Action, CrashTarget, Cut, LinkScope, SimHost};
use crate::protocol::{ReplicaOf, recovering_replica};
use crate::time::Time;
use protocols::Protocol;
use protocols::Replica;

impl<P: Protocol> World<'_, P> {
    /// Applies every scheduled action due by `now`.
    pub(super) fn apply_faults(&mut self, now: Time) {
        while let Some(timed) = self.schedule.actions.get(self.next_action) {
            if timed.at > now {
                break;
            }
            let action = timed.action.clone();
            self.next_action += 1;
            if self.trace.on(1) {
                self.trace.line(now, format_args!("fault {action:?}"));
            }
            self.apply(now, action);
        }
    }

    /// Applies one fault action now (the schedule's, or a test's).
    pub(crate) fn apply(&mut self, now: Time, action: Action) {
        match action {
            Action::Links { scope, link } => self.set_links(scope, link),
            Action::ClearLinks => self.clear_links(),
            Action::Partition { id, cut } => {
                self.partitions.insert(id, cut);
                self.apply_partitions();
            }
            Action::Unpartition { id } => {
                self.partitions.remove(&id);
                self.apply_partitions();
            }
            Action::Crash {
                slot,
                target,
                memory_loss,
            } => self.crash(now, slot, target, memory_loss),
            Action::Restart { slot } => {
                if let Some((index, memory_loss)) = self.crashed.remove(&slot) {
                    self.restart(now, index, memory_loss);
                }
            }
            Action::SequencerDown => {
                if let Some(s) = self.sequencer.as_mut() {
                    s.fail(&self.net);
                }
            }
            Action::SequencerUp => self.sequencer_up(now),
            Action::Pause { slot, target } => self.pause(now, slot, target),
            Action::Resume { slot } => {
                if let Some(index) = self.paused.remove(&slot) {
                    self.resume(now, index);
                }
            }
            Action::Stray {
                to,
                session_delta,
                ahead,
            } => self.stray(now, to, session_delta, ahead),
            Action::Hold { chance } => self.scratch.hold.chance = chance,
            Action::Unhold => self.scratch.hold.chance = 0.0,
            Action::HealAll => {
                self.scratch.hold.chance = 0.0;
                self.clear_links();
                self.partitions.clear();
                self.apply_partitions();
                let crashed = mem::take(&mut self.crashed);
                for (_, (index, memory_loss)) in crashed {
                    self.restart(now, index, memory_loss);
                }
                let paused = mem::take(&mut self.paused);
                for (_, index) in paused {
                    self.resume(now, index);
                }
                self.sequencer_up(now);
            }
        }
    }

    fn host_id(&self, host: SimHost) -> Option<HostId> {
        match host {
            SimHost::Sequencer => self.sequencer.as_ref().map(|s| s.io.host()),
            SimHost::Replica(i) => self.replicas.get(i).map(|r| r.io.host()),
            SimHost::Client(i) => self.clients.get(i).map(|c| c.io.host()),
        }
    }

    fn all_host_ids(&self) -> Vec<HostId> {
        let mut ids: Vec<HostId> = self.replicas.iter().map(|r| r.io.host()).collect();
        ids.extend(self.sequencer.as_ref().map(|s| s.io.host()));
        ids.extend(self.clients.iter().map(|c| c.io.host()));
        ids
    }

    fn set_links(&mut self, scope: LinkScope, link: LinkConfig) {
        match scope {
            LinkScope::All => {
                let _ = self.net.set_default_link(link);
            }
            LinkScope::Host(h) => {
                let Some(target) = self.host_id(h) else {
                    return;
                };
                for other in self.all_host_ids() {
                    if other == target {
                        continue;
                    }
                    for pair in [(other, target), (target, other)] {
                        if self.net.set_link(pair.0, pair.1, link).is_ok() {
                            self.link_overrides.push(pair);
                        }
                    }
                }
            }
        }
    }

    fn clear_links(&mut self) {
        let _ = self.net.set_default_link(LinkConfig::default());
        for (from, to) in self.link_overrides.drain(..) {
            self.net.reset_link(from, to);
        }
    }

    /// The network keeps one set of cut pairs; rebuild it from the partitions in force.
    fn apply_partitions(&mut self) {
        self.net.heal();
        let replica_ids: Vec<HostId> = self.replicas.iter().map(|r| r.io.host()).collect();
        let sequencer_id = self.sequencer.as_ref().map(|s| s.io.host());
        for cut in self.partitions.values() {
            let (a, b): (Vec<HostId>, Vec<HostId>) = match cut {
                Cut::Replicas(set) => {
                    let (inside, outside): (Vec<usize>, Vec<usize>) =
                        (0..replica_ids.len()).partition(|i| set.contains(i));
                    (
                        inside.iter().map(|&i| replica_ids[i]).collect(),
                        outside.iter().map(|&i| replica_ids[i]).collect(),
                    )
                }
                Cut::SequencerFrom(set) => (
                    sequencer_id.into_iter().collect(),
                    set.iter()
                        .filter_map(|&i| replica_ids.get(i).copied())
                        .collect(),
                ),
                Cut::Client(c) => {
                    let client = self.clients.get(*c).map(|h| h.io.host());
                    let mut servers = replica_ids.clone();
                    servers.extend(sequencer_id);
                    (client.into_iter().collect(), servers)
                }
            };
            let _ = self.net.partition(&a, &b);
        }
    }

    /// Replicas down, paused, or restarted empty and not yet recovered.
    fn unavailable(&self) -> usize {
        self.replicas
            .iter()
            .filter(|r| !r.up || r.paused || r.recovering)
            .count()
    }

    /// The replica a crash or pause aimed at `target` hits: the target if it is available,
    /// else the next available one.
    fn pick(&self, target: CrashTarget) -> Option<usize> {
        let n = self.replicas.len();
        let available = |r: &ReplicaHost<ReplicaOf<P>>| r.up && !r.paused && !r.recovering;
        let preferred = match target {
            CrashTarget::Leader => self
                .replicas
                .iter()
                .position(|r| available(r) && r.core.is_leader())
                .unwrap_or(0),
            CrashTarget::Replica(i) => i % n.max(1),
        };
        (0..n)
            .map(|k| (preferred + k) % n)
            .find(|&i| available(&self.replicas[i]))
    }

    fn pause(&mut self, now: Time, slot: u32, target: CrashTarget) {
        // Pauses and crashes share the at-most-max_down budget: a stopped replica is as
        // unavailable as a crashed one while it lasts.
        if self.unavailable() >= self.max_down {
            if self.trace.on(1) {
                self.trace.line(
                    now,
                    format_args!(
                        "pause slot {slot} skipped: {} replicas unavailable",
                        self.max_down
                    ),
                );
            }
            return;
        }
        let Some(index) = self.pick(target) else {
            return;
        };
        let host = &mut self.replicas[index];
        host.paused = true;
        let _ = self.net.set_host_paused(host.io.host(), true);
        self.paused.insert(slot, index);
        if self.trace.on(1) {
            self.trace.line(
                now,
                format_args!("replica {index} pauses: {}", host.core.describe()),
            );
        }
    }

    /// Continues a paused replica; the driver's next step hands it the queued datagrams
    /// and fires its overdue timer, as a continued process finds them.
    fn resume(&mut self, now: Time, index: usize) {
        let Some(host) = self.replicas.get_mut(index) else {
            return;
        };
        if !host.paused {
            return;
        }
        host.paused = false;
        host.resumed = true;
        let _ = self.net.set_host_paused(host.io.host(), false);
        if self.trace.on(1) {
            self.trace.line(
                now,
                format_args!("replica {index} resumes: {}", host.core.describe()),
            );
        }
    }

    fn crash(&mut self, now: Time, slot: u32, target: CrashTarget, memory_loss: bool) {
        // The schedule keeps at most max_down slots open; a replica still recovering from
        // an earlier memory loss counts too, which only the run can know.
        if self.unavailable() >= self.max_down {
            if self.trace.on(1) {
                self.trace.line(
                    now,
                    format_args!(
                        "crash slot {slot} skipped: {} replicas unavailable",
                        self.max_down
                    ),
                );
            }
            return;
        }
        let Some(index) = self.pick(target) else {
            return;
        };
        let host = &mut self.replicas[index];
        host.up = false;
        let _ = self.net.set_host_up(host.io.host(), false);
        self.crashed.insert(slot, (index, memory_loss));
        if self.trace.on(1) {
            let what = if memory_loss { " with memory loss" } else { "" };
            self.trace.line(
                now,
                format_args!("replica {index} crashes{what}: {}", host.core.describe()),
            );
        }
    }

    fn restart(&mut self, now: Time, index: usize, memory_loss: bool) {
        // Distinct within the run (the count of restarts), unpredictable below that.
        self.restarts += 1;
        self.scratch.hold.restarted(index);
        let nonce = (self.restarts << 32) | (self.rng.next_u64() >> 32);
        let Some(host) = self.replicas.get_mut(index) else {
            return;
        };
        if memory_loss {
            if let Some(core) = recovering_replica::<P>(&self.config, index, nonce, now) {
                host.core = core;
                host.recovering = true;
                self.agreement.forget(index);
            }
        }
        host.up = true;
        let _ = self.net.set_host_up(host.io.host(), true);
        if self.trace.on(1) {
            self.trace.line(
                now,
                format_args!("replica {index} restarts: {}", host.core.describe()),
            );
        }
    }

    /// Sends the held datagrams (long-hold fault) that fall due at `now`, each from its
    /// sender's host, under the links and partitions in force now.
    pub(super) fn release_held(&mut self, now: Time) {
        let replicas = &self.replicas;
        let due = self.scratch.hold.due(now, |i| {
            replicas.get(i).is_some_and(|r| r.up && !r.recovering)
        });
        for held in due {
            let Some(host) = self.replicas.get_mut(held.from) else {
                continue;
            };
            if self.trace.on(1) {
                self.trace.line(
                    now,
                    format_args!(
                        "replica {} -> {}: datagram held since {} released",
                        held.from, held.to, held.held_at
                    ),
                );
            }
            let mut buf = host.io.alloc();
            let len = held.bytes.len().min(buf.capacity());
            buf.buffer_mut()[..len].copy_from_slice(&held.bytes[..len]);
            buf.set_len(len);
            buf.set_peer(held.to);
            let mut batch = vec![buf];
            let _ = host.io.send_burst(&mut batch);
        }
    }

    fn sequencer_up(&mut self, now: Time) {
        if let Some(s) = self.sequencer.as_mut() {
            if s.take_over(&self.net) && self.trace.on(1) {
                self.trace.line(
                    now,
                    format_args!("sequencer fails over to session {}", s.session()),
                );
            }
        }
    }
}
