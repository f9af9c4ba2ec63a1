//! The shared network state: hosts, addresses, links, partitions, virtual time and the
//! datagrams in flight.

use std::cell::{RefCell, RefMut};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddrV4;
use std::rc::Rc;

use super::inbox::Inbox;
use super::link::{Copies, LinkConfig};
use super::rng::SimRng;
use super::{SimError, SimIo, SimStats};
use crate::io::{BufferPool, DEFAULT_BUFFER_SIZE, Endpoint, Packet, PacketBuf};
use crate::time::Time;

/// Buffers the shared pool starts with (it keeps up to twice as many returned ones).
const POOL_BUFFERS: usize = 256;

/// Datagrams a paused host's socket buffer holds: Linux's default receive buffer
/// (`net.core.rmem_default`, 208 KiB) charges each small datagram about 768 bytes of
/// `skb` truesize, so roughly 270 fit; later arrivals are dropped, as the kernel drops them.
pub const PAUSED_SOCKET_BUFFER: usize = 256;

/// A host of one [`SimNetwork`], as handed out by [`SimNetwork::add_host`]. Links,
/// partitions and crashes are set per host, not per address, as a machine fails as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(usize);

impl HostId {
    /// Position in the order hosts were added (0, 1, ...), for the driver's own tables.
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}

/// An in-memory network for the deterministic simulator: all hosts of a cluster in one
/// process, one seeded PRNG for every fault, virtual time that only the driver advances.
///
/// Cloning gives another handle to the same network (single-threaded, shared by reference
/// counting), so the driver and every [`SimIo`] see one state. The same seed and the same
/// sequence of calls give the same deliveries, byte for byte.
#[derive(Clone)]
pub struct SimNetwork {
    state: Rc<RefCell<State>>,
}

struct Host {
    addrs: Vec<SocketAddrV4>,
    up: bool,
    /// Stopped (SIGSTOP): receives into a bounded socket buffer, delivers nothing.
    paused: bool,
    isolated: bool,
    inbox: Inbox,
}

pub(super) struct State {
    now: Time,
    rng: SimRng,
    default_link: LinkConfig,
    links: BTreeMap<(HostId, HostId), LinkConfig>,
    /// Directed pairs separated by [`SimNetwork::partition`].
    blocked: BTreeSet<(HostId, HostId)>,
    hosts: Vec<Host>,
    owners: BTreeMap<SocketAddrV4, (HostId, Endpoint)>,
    /// One pool for all hosts: a buffer travels from its sender's `send_burst` to its
    /// receiver, who frees it, so per-host pools would drain at senders and overflow at
    /// receivers, allocating per datagram.
    pub(super) pool: BufferPool,
    next_seq: u64,
    stats: SimStats,
}

impl fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SimNetwork");
        if let Ok(state) = self.state.try_borrow() {
            d.field("now", &state.now)
                .field("hosts", &state.hosts.len())
                .field("in_flight", &state.in_flight())
                .field("stats", &state.stats);
        }
        d.finish_non_exhaustive()
    }
}

impl SimNetwork {
    /// An empty network at time zero. Every random decision comes from `seed`; `default_link`
    /// applies to every pair of hosts without an override.
    pub fn new(seed: u64, default_link: LinkConfig) -> Result<SimNetwork, SimError> {
        default_link.validate()?;
        Ok(SimNetwork {
            state: Rc::new(RefCell::new(State {
                now: Time::ZERO,
                rng: SimRng::new(seed),
                default_link,
                links: BTreeMap::new(),
                blocked: BTreeSet::new(),
                hosts: Vec::new(),
                owners: BTreeMap::new(),
                pool: BufferPool::new(POOL_BUFFERS, DEFAULT_BUFFER_SIZE),
                next_seq: 0,
                stats: SimStats::default(),
            })),
        })
    }

    pub(super) fn state(&self) -> RefMut<'_, State> {
        self.state.borrow_mut()
    }

    /// Registers a machine owning `addrs` (endpoint `i` is `addrs[i]`), up and connected,
    /// and returns its I/O backend.
    pub fn add_host(&self, addrs: &[SocketAddrV4]) -> Result<SimIo, SimError> {
        if addrs.is_empty() {
            return Err(SimError::NoAddresses);
        }
        let mut endpoints = Vec::with_capacity(addrs.len());
        for (i, &addr) in addrs.iter().enumerate() {
            let ep = u16::try_from(i).map_err(|_| SimError::TooManyAddresses(addrs.len()))?;
            endpoints.push((addr, Endpoint(ep)));
        }
        let mut state = self.state();
        let mut seen = BTreeSet::new();
        for &addr in addrs {
            if state.owners.contains_key(&addr) || !seen.insert(addr) {
                return Err(SimError::AddressInUse(addr));
            }
        }
        let id = HostId(state.hosts.len());
        for (addr, ep) in endpoints {
            state.owners.insert(addr, (id, ep));
        }
        state.hosts.push(Host {
            addrs: addrs.to_vec(),
            up: true,
            paused: false,
            isolated: false,
            inbox: Inbox::default(),
        });
        drop(state);
        Ok(SimIo::new(self.clone(), id, addrs.to_vec()))
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.state().now
    }

    /// Moves virtual time forward to `t`; an earlier `t` is ignored, as time never runs
    /// backwards.
    pub fn advance_to(&self, t: Time) {
        let mut state = self.state();
        state.now = state.now.max(t);
    }

    /// When the earliest datagram in flight to any host is due, so a driver can jump time
    /// straight there; `None` when nothing is in flight. At or before [`SimNetwork::now`]
    /// when a datagram is already due but not yet received. A paused host's datagrams wait
    /// for it to resume, so they do not count.
    pub fn next_delivery(&self) -> Option<Time> {
        let state = self.state();
        state
            .hosts
            .iter()
            .filter(|h| !h.paused)
            .filter_map(|h| h.inbox.next_at())
            .min()
    }

    /// Copies sent but not yet received (including those already due).
    pub fn in_flight(&self) -> usize {
        self.state().in_flight()
    }

    /// Counters so far; see [`SimStats`] for how they add up.
    pub fn stats(&self) -> SimStats {
        self.state().stats
    }

    /// Which host owns `addr`, to map protocol addresses back to hosts for faults.
    pub fn host_of(&self, addr: SocketAddrV4) -> Option<HostId> {
        self.state().owners.get(&addr).map(|&(id, _)| id)
    }

    /// The link model for every pair without its own override.
    pub fn set_default_link(&self, link: LinkConfig) -> Result<(), SimError> {
        link.validate()?;
        self.state().default_link = link;
        Ok(())
    }

    /// Overrides the link model from `from` to `to` (one direction only, so asymmetric
    /// faults can be modelled).
    pub fn set_link(&self, from: HostId, to: HostId, link: LinkConfig) -> Result<(), SimError> {
        link.validate()?;
        let mut state = self.state();
        state.check(from)?;
        state.check(to)?;
        state.links.insert((from, to), link);
        Ok(())
    }

    /// Removes the override from `from` to `to`; the default link applies again.
    pub fn reset_link(&self, from: HostId, to: HostId) {
        self.state().links.remove(&(from, to));
    }

    /// Cuts every host of `a` off from every host of `b`, both directions. Adds to existing
    /// partitions. Datagrams already in flight still arrive (they are past the cut).
    pub fn partition(&self, a: &[HostId], b: &[HostId]) -> Result<(), SimError> {
        let mut state = self.state();
        for &h in a.iter().chain(b) {
            state.check(h)?;
        }
        for &x in a {
            for &y in b {
                if x != y {
                    state.blocked.insert((x, y));
                    state.blocked.insert((y, x));
                }
            }
        }
        Ok(())
    }

    /// Cuts `host` off from every other host, including hosts added later.
    pub fn isolate(&self, host: HostId) -> Result<(), SimError> {
        let mut state = self.state();
        state.host_mut(host)?.isolated = true;
        Ok(())
    }

    /// Removes every partition and isolation.
    pub fn heal(&self) {
        let mut state = self.state();
        state.blocked.clear();
        for h in &mut state.hosts {
            h.isolated = false;
        }
    }

    /// Crashes (`false`) or restarts (`true`) a host. A crash discards everything in flight
    /// to it; while down it receives nothing and its sends are dropped.
    pub fn set_host_up(&self, host: HostId, up: bool) -> Result<(), SimError> {
        let mut state = self.state();
        let state = &mut *state;
        let h = state
            .hosts
            .get_mut(host.0)
            .ok_or(SimError::UnknownHost(host))?;
        h.up = up;
        if !up {
            for buf in h.inbox.drain() {
                state.stats.discarded_by_crash += 1;
                state.pool.put(buf);
            }
        }
        Ok(())
    }

    /// Pauses (`true`) or resumes a host, as SIGSTOP and SIGCONT do to a process: while
    /// paused it receives nothing, but its kernel still does. Datagrams arriving for it queue
    /// up to [`PAUSED_SOCKET_BUFFER`] in all (those already queued count), later ones are
    /// dropped (counted as `socket_buffer_full`); on resume the queue is delivered in a
    /// burst, stale as it is. Datagrams already in flight keep their delivery times.
    pub fn set_host_paused(&self, host: HostId, paused: bool) -> Result<(), SimError> {
        self.state().host_mut(host)?.paused = paused;
        Ok(())
    }

    /// Whether `host` is paused; `false` for an unknown host.
    pub fn is_host_paused(&self, host: HostId) -> bool {
        self.state().hosts.get(host.0).is_some_and(|h| h.paused)
    }

    /// Whether `host` is up; `false` for an unknown host.
    pub fn is_host_up(&self, host: HostId) -> bool {
        self.state().hosts.get(host.0).is_some_and(|h| h.up)
    }

    /// The addresses of `host`, indexed by endpoint (empty for an unknown host).
    pub fn host_addrs(&self, host: HostId) -> Vec<SocketAddrV4> {
        self.state()
            .hosts
            .get(host.0)
            .map(|h| h.addrs.clone())
            .unwrap_or_default()
    }
}

impl State {
    fn check(&self, host: HostId) -> Result<(), SimError> {
        match self.hosts.get(host.0) {
            Some(_) => Ok(()),
            None => Err(SimError::UnknownHost(host)),
        }
    }

    fn host_mut(&mut self, host: HostId) -> Result<&mut Host, SimError> {
        self.hosts
            .get_mut(host.0)
            .ok_or(SimError::UnknownHost(host))
    }

    fn in_flight(&self) -> usize {
        self.hosts.iter().map(|h| h.inbox.len()).sum()
    }

    fn is_up(&self, host: HostId) -> bool {
        self.hosts.get(host.0).is_some_and(|h| h.up)
    }

    fn is_blocked(&self, from: HostId, to: HostId) -> bool {
        if from == to {
            return false;
        }
        let isolated = |id: HostId| self.hosts.get(id.0).is_some_and(|h| h.isolated);
        isolated(from) || isolated(to) || self.blocked.contains(&(from, to))
    }

    /// Puts one datagram on the wire from `from`'s address `src` to `buf.peer()`. Checks in
    /// this order, each drop counted once: sender down, no such address, receiver down,
    /// partition, loss. Survivors get one or two copies, each with its own latency.
    pub(super) fn transmit(&mut self, from: HostId, src: SocketAddrV4, mut buf: PacketBuf) {
        self.stats.sent += 1;
        if !self.is_up(from) {
            self.stats.from_down_host += 1;
            self.pool.put(buf);
            return;
        }
        let Some(&(to, endpoint)) = self.owners.get(&buf.peer()) else {
            self.stats.undeliverable += 1;
            self.pool.put(buf);
            return;
        };
        if !self.is_up(to) {
            self.stats.to_down_host += 1;
            self.pool.put(buf);
            return;
        }
        if self.is_blocked(from, to) {
            self.stats.blocked_by_partition += 1;
            self.pool.put(buf);
            return;
        }
        let link = *self.links.get(&(from, to)).unwrap_or(&self.default_link);
        buf.set_peer(src);
        buf.set_endpoint(endpoint);
        match link.copies(&mut self.rng) {
            Copies::Lost => {
                self.stats.lost += 1;
                self.pool.put(buf);
            }
            Copies::One => self.enqueue(to, &link, buf),
            Copies::Two => {
                self.stats.duplicated += 1;
                let copy = self.copy_of(&buf);
                self.enqueue(to, &link, buf);
                self.enqueue(to, &link, copy);
            }
        }
    }

    /// A second copy of `buf`, from the pool when it fits.
    fn copy_of(&mut self, buf: &PacketBuf) -> PacketBuf {
        let mut copy = self.pool.get();
        if copy.fill(buf.as_ref()) {
            copy.set_peer(buf.peer());
            copy.set_endpoint(buf.endpoint());
            copy
        } else {
            self.pool.put(copy);
            buf.clone()
        }
    }

    fn enqueue(&mut self, to: HostId, link: &LinkConfig, buf: PacketBuf) {
        let at = self.now + link.latency(&mut self.rng);
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        match self.hosts.get_mut(to.0) {
            // The count includes copies still on the wire, which a real buffer would not
            // hold yet: a paused host loses a few datagrams early, never late.
            Some(h) if h.paused && h.inbox.len() >= PAUSED_SOCKET_BUFFER => {
                self.stats.socket_buffer_full += 1;
                self.pool.put(buf);
            }
            Some(h) => h.inbox.push(at, seq, buf),
            // Unreachable: `to` came from `owners`, which only names added hosts.
            None => {
                self.stats.undeliverable += 1;
                self.pool.put(buf);
            }
        }
    }

    /// Moves up to `max` due datagrams for `host` into `batch`, earliest first.
    pub(super) fn receive(
        &mut self,
        host: HostId,
        batch: &mut Vec<PacketBuf>,
        max: usize,
    ) -> usize {
        let now = self.now;
        let Some(h) = self.hosts.get_mut(host.0) else {
            return 0;
        };
        if !h.up || h.paused {
            return 0;
        }
        let mut n = 0;
        while n < max {
            let Some(buf) = h.inbox.pop_due(now) else {
                break;
            };
            batch.push(buf);
            n += 1;
            self.stats.delivered += 1;
        }
        n
    }
}
