//! The simulated cluster and its driver loop: every host on one [`SimNetwork`], every core
//! driven by the datagrams its host receives and by its timers, virtual time jumping from
//! one event to the next, faults applied from the schedule, checks after every instant.

mod deliver;
mod experiment;
mod finish;
mod inject;
mod stray;

use std::collections::BTreeMap;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::io::sim::{HostId, LinkConfig, SimIo, SimNetwork, SimRng};

use super::checks::{Agreement, Failure};
use super::faults::{Cut, FaultSchedule, ScheduleParams};
use super::hold::Holder;
use super::options::SimOptions;
use super::report::{Check, Outcome, RunReport};
use super::routes::{Routes, Scratch, flush};
use super::sequencer::SequencerHost;
use super::trace::Trace;
use super::workload::{ClientHost, Workload};
use crate::protocol::{ReplicaOf, new_replica, supported_faults};
use crate::time::Time;
use deliver::{Label, deliver, fire_timer};
use protocols::Protocol;
use protocols::{Node, Replica};

/// Driver iterations at one virtual instant before the run is declared a livelock.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 100_000;

/// A replica core and its host.
#[derive(Debug)]
struct ReplicaHost<R> {
    core: R,
    io: SimIo,
    up: bool,
    /// Stopped (the pause fault): handles no datagram and no timer until resumed.
    paused: bool,
    /// Just resumed: its next step reads one burst of the queued datagrams and then fires
    /// its overdue timer, as the replica's event loop does (`driver::udp`: receive a burst,
    /// handle it, fire due timers), so a full buffer of stale datagrams does not hide the
    /// timeout the way draining it all first would.
    resumed: bool,
    /// Restarted without its memory and not yet back to normal.
    recovering: bool,
    /// For the trace: the role last reported.
    role: (bool, bool),
}

/// A whole simulated cluster in the middle of a run.
pub(crate) struct World<'t, P: Protocol> {
    options: SimOptions,
    seed: u64,
    config: ClusterConfig,
    net: SimNetwork,
    routes: Routes,
    sequencer: Option<SequencerHost>,
    replicas: Vec<ReplicaHost<ReplicaOf<P>>>,
    clients: Vec<ClientHost<P::Client>>,
    workload: Workload,
    schedule: FaultSchedule,
    next_action: usize,
    /// Partitions in force, by id; re-applied whenever one starts or ends.
    partitions: BTreeMap<u32, Cut>,
    /// Crash slots in force: slot -> (replica, memory loss).
    crashed: BTreeMap<u32, (usize, bool)>,
    /// Pause slots in force: slot -> replica.
    paused: BTreeMap<u32, usize>,
    /// Links given their own model by a storm on one host.
    link_overrides: Vec<(HostId, HostId)>,
    heal_at: Time,
    end: Time,
    max_down: usize,
    agreement: Agreement,
    scratch: Scratch,
    /// Draws the recovery nonces.
    rng: SimRng,
    restarts: u64,
    trace: Trace<'t>,
    misrouted: u64,
}

impl<P: Protocol> std::fmt::Debug for World<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("protocol", &P::NAME)
            .field("seed", &self.seed)
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

impl<'t, P: Protocol> World<'t, P> {
    /// Builds the cluster of one seed: hosts, cores, clients and the fault schedule. Every
    /// random choice comes from `seed`, drawn in a fixed order.
    pub(crate) fn new(options: &SimOptions, seed: u64, trace: Trace<'t>) -> Result<Self, String> {
        let mut master = SimRng::new(seed);
        let net_seed = master.next_u64();
        let fault_seed = master.next_u64();
        let workload_seed = master.next_u64();
        let misc_seed = master.next_u64();
        let drawn_clients = 3 + master.up_to(2) as usize;
        let hold_seed = master.next_u64();
        let clients = options.clients.unwrap_or(drawn_clients);
        if clients == 0 {
            return Err("a run needs at least one client".into());
        }
        if options.replicas == 0 || options.replicas % 2 == 0 {
            return Err(format!(
                "--replicas {}: a cluster has an odd number of replicas (2f+1)",
                options.replicas
            ));
        }

        let mut config = options.cluster_config(options.replicas);
        let n = P::replicas(&config);
        if n != config.n() {
            config = options.cluster_config(n);
        }
        let mut options = options.clone();
        options.faults = options.faults.intersection(supported_faults::<P>(&config));

        let net = SimNetwork::new(net_seed, LinkConfig::default()).map_err(|e| e.to_string())?;
        let routes = Routes::new(&config, n, clients);
        let mut replicas = Vec::with_capacity(n);
        for (i, &addr) in routes.replicas().iter().enumerate() {
            let io = net.add_host(&[addr]).map_err(|e| e.to_string())?;
            let core = new_replica::<P>(&config, i);
            let role = (core.is_leader(), core.is_normal());
            replicas.push(ReplicaHost {
                core,
                io,
                up: true,
                paused: false,
                resumed: false,
                recovering: false,
                role,
            });
        }
        let sequencer = if P::uses_sequencer() {
            let io = net.add_host(&[routes.group]).map_err(|e| e.to_string())?;
            Some(SequencerHost::new(
                &config,
                dataplane::oum::SessionNumber(0),
                io,
                &routes,
            )?)
        } else {
            None
        };
        let workload = Workload::new(options.keys, options.think);
        let mut client_seeds = SimRng::new(workload_seed);
        let mut client_hosts = Vec::with_capacity(clients);
        for (i, &addr) in routes.clients.iter().enumerate() {
            let io = net.add_host(&[addr]).map_err(|e| e.to_string())?;
            let core = P::new_client(&config, i as u64 + 1, addr);
            client_hosts.push(ClientHost::new(
                core,
                io,
                client_seeds.next_u64(),
                &workload,
            ));
        }

        let heal_at = Time::ZERO + options.heal_at(&config);
        let max_down = P::max_down(&config).min(n);
        let params = ScheduleParams {
            replicas: n,
            clients,
            sequencer: P::uses_sequencer(),
            max_down,
            faults: options.faults,
            heal_at,
            recovery_allowance: recovery_allowance(&config),
        };
        let schedule = FaultSchedule::generate(&params, &mut SimRng::new(fault_seed));
        let mut scratch = Scratch::default();
        scratch.hold = Holder::new(hold_seed, recovery_allowance(&config), n);
        let end = Time::ZERO + options.duration;
        let mut world = World {
            seed,
            config,
            net,
            routes,
            sequencer,
            replicas,
            clients: client_hosts,
            workload,
            schedule,
            next_action: 0,
            partitions: BTreeMap::new(),
            crashed: BTreeMap::new(),
            paused: BTreeMap::new(),
            link_overrides: Vec::new(),
            heal_at,
            end,
            max_down,
            agreement: Agreement::new(n),
            scratch,
            rng: SimRng::new(misc_seed),
            restarts: 0,
            trace,
            misrouted: 0,
            options,
        };
        if world.trace.on(1) {
            let (faults, duration) = (world.options.faults, world.options.duration);
            world.trace.line(
                Time::ZERO,
                format_args!(
                    "start protocol={} seed={seed} replicas={n} clients={clients} faults={faults} \
                     duration={duration:?} heal_at={heal_at} actions={}",
                    P::NAME,
                    world.schedule.actions.len()
                ),
            );
        }
        Ok(world)
    }

    /// Runs to the end and checks everything.
    pub(crate) fn run(mut self) -> RunReport {
        let outcome = match self.drive(self.end) {
            Ok(()) => self.final_checks(),
            Err((stall, failure)) => to_outcome(stall, failure),
        };
        self.report(outcome)
    }

    /// The driver loop, up to `until` (at most the end of the run). `Err((true, _))` is a
    /// stall, `Err((false, _))` a violation.
    pub(crate) fn drive(&mut self, until: Time) -> Result<(), (bool, Failure)> {
        let until = until.min(self.end);
        let mut steps_here = 0u32;
        loop {
            let now = self.net.now();
            self.scratch.hold.now = now;
            self.apply_faults(now);
            self.step(now);
            self.observe(now).map_err(|f| (false, f))?;
            self.release_held(now);
            if now >= until {
                return Ok(());
            }
            let next = self.next_event().min(until);
            if next <= now {
                steps_here += 1;
                if steps_here > MAX_STEPS_AT_ONE_INSTANT {
                    return Err((
                        true,
                        Failure {
                            check: Check::Livelock,
                            detail: format!(
                                "virtual time stuck at {now}: {} driver steps without \
                                 advancing ({})",
                                steps_here,
                                self.due_now(now)
                            ),
                        },
                    ));
                }
            } else {
                steps_here = 0;
                self.net.advance_to(next);
            }
        }
    }

    /// Lets every host handle what is due at `now`: datagrams, timers, client invocations.
    fn step(&mut self, now: Time) {
        let World {
            net: _,
            routes,
            sequencer,
            replicas,
            clients,
            workload,
            scratch,
            trace,
            misrouted,
            heal_at,
            end,
            ..
        } = self;
        if let Some(s) = sequencer.as_mut() {
            s.step(scratch);
        }
        for (i, host) in replicas.iter_mut().enumerate() {
            if !host.up || host.paused {
                continue;
            }
            let label = Label::Replica(i);
            let one_burst = std::mem::take(&mut host.resumed);
            *misrouted += deliver(
                &mut host.core,
                &mut host.io,
                now,
                routes,
                Some(i),
                scratch,
                trace,
                label,
                one_burst,
            );
            *misrouted += fire_timer(&mut host.core, &mut host.io, now, routes, Some(i), scratch);
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let label = Label::Client(i);
            *misrouted += deliver(
                &mut c.core,
                &mut c.io,
                now,
                routes,
                None,
                scratch,
                trace,
                label,
                false,
            );
            *misrouted += fire_timer(&mut c.core, &mut c.io, now, routes, None, scratch);
            c.collect(now, workload, *heal_at, trace);
            if now < *end && c.maybe_invoke(now, workload, trace) {
                *misrouted += flush(&mut c.core, &mut c.io, routes, None, scratch).misrouted;
            }
        }
    }

    /// Runs the agreement checks on every replica that is up, and notes recoveries and
    /// role changes.
    fn observe(&mut self, now: Time) -> Result<(), Failure> {
        for (i, host) in self.replicas.iter_mut().enumerate() {
            if !host.up {
                continue;
            }
            self.agreement.observe(i, &host.core)?;
            if host.recovering && host.core.is_normal() {
                host.recovering = false;
            }
            if self.trace.on(1) {
                let role = (host.core.is_leader(), host.core.is_normal());
                if role != host.role {
                    host.role = role;
                    self.trace.line(
                        now,
                        format_args!("replica {i} role: {}", host.core.describe()),
                    );
                }
            }
        }
        Ok(())
    }

    /// The earliest time anything happens next: a datagram due, a timer, a client's think
    /// time ending, a scheduled fault.
    fn next_event(&self) -> Time {
        let mut next = Time::MAX;
        let mut consider = |t: Option<Time>| {
            if let Some(t) = t {
                next = next.min(t);
            }
        };
        consider(self.net.next_delivery());
        consider(self.scratch.hold.next_time(self.net.now()));
        consider(self.schedule.actions.get(self.next_action).map(|a| a.at));
        for r in self.replicas.iter().filter(|r| r.up && !r.paused) {
            consider(r.core.poll_timeout());
        }
        for c in &self.clients {
            consider(c.next_wakeup());
        }
        next
    }

    /// What keeps time from advancing, for a livelock report.
    fn due_now(&self, now: Time) -> String {
        let mut due = Vec::new();
        if self.net.next_delivery().is_some_and(|t| t <= now) {
            due.push("a datagram".to_string());
        }
        for (i, r) in self.replicas.iter().enumerate() {
            if r.up && !r.paused && r.core.poll_timeout().is_some_and(|t| t <= now) {
                due.push(format!("replica {i}'s timer"));
            }
        }
        for c in &self.clients {
            if c.next_wakeup().is_some_and(|t| t <= now) {
                due.push(format!("client {}'s timer", c.id));
            }
        }
        if due.is_empty() {
            "nothing due".into()
        } else {
            format!("due: {}", due.join(", "))
        }
    }
}

fn to_outcome(stall: bool, f: Failure) -> Outcome {
    if stall {
        Outcome::Stall {
            check: f.check,
            detail: f.detail,
        }
    } else {
        Outcome::Violation {
            check: f.check,
            detail: f.detail,
        }
    }
}

/// How long a replica restarted without memory still counts as unavailable when the
/// schedule is drawn: a couple of leader timeouts for it to recover.
fn recovery_allowance(config: &ClusterConfig) -> Duration {
    Duration::from_millis(2 * config.timeouts.leader_timeout_ms)
}
