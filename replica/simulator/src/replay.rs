//! Recording a replica's inputs in a simulated run, and replaying them into a fresh core.
//! A sans-IO core's behaviour depends only on its inputs and the times given with them, so a
//! replay repeats the run's work exactly: the benchmarks time the busiest replica's share of
//! a real run, with no network or scheduling in the figure.

use std::marker::PhantomData;
use std::net::SocketAddrV4;
use std::time::Duration;

use dataplane::config::ClusterConfig;
use dataplane::io::sim::LinkConfig;

use super::options::{FaultSet, SimOptions};
use super::trace::Trace;
use super::world::World;
use crate::protocol::{ReplicaOf, new_replica};
use crate::time::Time;
use protocols::app::App;
use protocols::{ClientId, Protocol, Tuning};
use protocols::{EntryId, MAX_DATAGRAM, Node, Replica, ReplicaStats, Transmit};

/// One input a core received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Datagram {
        at: Time,
        from: SocketAddrV4,
        bytes: Vec<u8>,
    },
    Timeout {
        at: Time,
    },
}

/// A replica core that logs every input before handing it on.
#[derive(Debug)]
pub struct Recorder<R> {
    inner: R,
    inputs: Vec<Input>,
}

impl<R> Recorder<R> {
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }
}

impl<R: Node> Node for Recorder<R> {
    fn handle_datagram(&mut self, now: Time, from: SocketAddrV4, datagram: &[u8]) {
        self.inputs.push(Input::Datagram {
            at: now,
            from,
            bytes: datagram.to_vec(),
        });
        self.inner.handle_datagram(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.inputs.push(Input::Timeout { at: now });
        self.inner.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.inner.poll_timeout()
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        self.inner.poll_transmit(buf)
    }
}

impl<R: Replica> Replica for Recorder<R> {
    fn index(&self) -> usize {
        self.inner.index()
    }
    fn is_leader(&self) -> bool {
        self.inner.is_leader()
    }
    fn is_normal(&self) -> bool {
        self.inner.is_normal()
    }
    fn commit_point(&self) -> u64 {
        self.inner.commit_point()
    }
    fn committed_entry(&self, slot: u64) -> Option<EntryId> {
        self.inner.committed_entry(slot)
    }
    fn execution(&self) -> (u64, u64) {
        self.inner.execution()
    }
    fn stats(&self) -> ReplicaStats {
        self.inner.stats()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Protocol `P` with its replicas recorded.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<P>(PhantomData<P>);

impl<P: Protocol> Protocol for Recorded<P> {
    type Replica<A: App> = Recorder<P::Replica<A>>;
    type Client = P::Client;
    const NAME: &'static str = P::NAME;
    const SUMMARY: &'static str = P::SUMMARY;

    fn uses_sequencer() -> bool {
        P::uses_sequencer()
    }

    fn has_leader() -> bool {
        P::has_leader()
    }

    fn batches() -> bool {
        P::batches()
    }

    fn replicas(config: &ClusterConfig) -> usize {
        P::replicas(config)
    }

    fn reply_quorum(config: &ClusterConfig) -> usize {
        P::reply_quorum(config)
    }

    fn new_replica<A: App>(
        config: &ClusterConfig,
        index: usize,
        app: A,
        tuning: &Tuning,
    ) -> Recorder<P::Replica<A>> {
        Recorder {
            inner: P::new_replica(config, index, app, tuning),
            inputs: Vec::new(),
        }
    }

    /// A recording covers one incarnation: a run that records has no memory loss.
    fn recovering_replica<A: App>(
        _: &ClusterConfig,
        _: usize,
        _: A,
        _: &Tuning,
        _: u64,
        _: Time,
    ) -> Option<Recorder<P::Replica<A>>> {
        None
    }

    fn new_client(config: &ClusterConfig, id: u64, address: SocketAddrV4) -> P::Client {
        P::new_client(config, id, address)
    }

    fn reply_client(datagram: &[u8]) -> Option<ClientId> {
        P::reply_client(datagram)
    }

    fn max_down(config: &ClusterConfig) -> usize {
        P::max_down(config)
    }
}

/// A failure-free run's inputs, per replica.
#[derive(Debug, Clone)]
pub struct Recording {
    pub config: ClusterConfig,
    pub inputs: Vec<Vec<Input>>,
    /// Requests completed during the run.
    pub requests: u64,
}

impl Recording {
    /// The replica that received the most inputs (the bottleneck).
    pub fn busiest(&self) -> usize {
        (0..self.inputs.len())
            .max_by_key(|&i| self.inputs[i].len())
            .unwrap_or(0)
    }
}

/// Runs `P` failure-free with `clients` closed-loop clients for `duration` of virtual time and
/// records every replica's inputs.
pub fn record<P: Protocol>(
    replicas: usize,
    clients: usize,
    duration: Duration,
) -> Result<Recording, String> {
    let options = SimOptions {
        replicas,
        clients: Some(clients),
        duration: duration + Duration::from_millis(100),
        faults: FaultSet::NONE,
        think: Duration::ZERO,
        ..SimOptions::default()
    };
    let mut world = World::<Recorded<P>>::new(&options, 1, Trace::new(0, None))?;
    world.without_schedule();
    let link = LinkConfig {
        delay: Duration::from_micros(50),
        ..LinkConfig::default()
    };
    world.set_default_link(link)?;
    world.run_until(Time::ZERO + duration)?;
    let inputs = world.replica_cores().map(|r| r.inputs().to_vec()).collect();
    Ok(Recording {
        config: world.config().clone(),
        inputs,
        requests: world.completed(),
    })
}

/// Feeds `inputs` to a fresh replica `index` of `P`, encoding everything it sends; returns
/// the number of datagrams it sent.
pub fn replay<P: Protocol>(
    config: &ClusterConfig,
    index: usize,
    inputs: &[Input],
    buf: &mut [u8],
) -> u64 {
    let mut core = new_replica::<P>(config, index);
    let mut sent = 0;
    let mut drain = |core: &mut ReplicaOf<P>| {
        while core.poll_transmit(buf).is_some() {
            sent += 1;
        }
    };
    for input in inputs {
        match input {
            Input::Datagram { at, from, bytes } => core.handle_datagram(*at, *from, bytes),
            Input::Timeout { at } => core.handle_timeout(*at),
        }
        drain(&mut core);
    }
    sent
}

/// A buffer big enough for any datagram a core writes.
pub fn transmit_buffer() -> Vec<u8> {
    vec![0u8; MAX_DATAGRAM]
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::nopaxos::Nopaxos;

    fn replays_exactly<P: Protocol>() {
        let rec = record::<P>(3, 4, Duration::from_millis(200)).unwrap();
        assert!(rec.requests > 100, "{}: {}", P::NAME, rec.requests);
        let busiest = rec.busiest();
        let mut buf = transmit_buffer();
        let a = replay::<P>(&rec.config, busiest, &rec.inputs[busiest], &mut buf);
        let b = replay::<P>(&rec.config, busiest, &rec.inputs[busiest], &mut buf);
        assert_eq!(a, b, "{}", P::NAME);
        // The busiest replica answers (or votes on) every request it sees at least once.
        assert!(
            a >= rec.requests,
            "{}: {a} datagrams for {} requests",
            P::NAME,
            rec.requests
        );
    }

    #[test]
    fn a_replay_repeats_the_recorded_work_exactly() {
        replays_exactly::<Nopaxos>();
        replays_exactly::<protocols::vr::Vr>();
        replays_exactly::<protocols::specpaxos::Spec>();
        replays_exactly::<protocols::fastpaxos::FastPaxos>();
    }
}
