//! The cluster configuration: one TOML file that every binary (sequencer, replica,
//! client-gen) reads, one parser, one set of defaults. deploy/cluster.toml is an example.

mod auth_key;
mod error;
mod sequencer_macs;
mod validate;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use auth_key::{KEY_HEX_DIGITS, KeyText, parse_key, read_key_file};
pub use error::{ConfigError, Problem};

use crate::oum::{GroupId, GroupSpec, ReceiverConfig, Sequencer, SessionNumber, StampKey};
use crate::wire::MacAddr;

/// Parses a MAC address written as six hex pairs separated by `:` or `-`.
pub fn parse_mac(text: &str) -> Option<MacAddr> {
    let mut bytes = [0u8; 6];
    let mut parts = text.trim().split([':', '-']);
    for b in &mut bytes {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddr(bytes))
}

/// The whole cluster: replicas, OUM groups, the sequencer and protocol timeouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Failures tolerated; the cluster has exactly 2f+1 replicas.
    pub f: usize,
    #[serde(default)]
    pub oum: OumConfig,
    #[serde(default)]
    pub sequencer: SequencerConfig,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(rename = "group", default)]
    pub groups: Vec<GroupConfig>,
    #[serde(rename = "replica", default)]
    pub replicas: Vec<ReplicaConfig>,
}

/// Ordered Unreliable Multicast settings shared by sequencers and receivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OumConfig {
    /// UDP destination port of group traffic (requests to a group address).
    pub port: u16,
    /// The longest a receiver waits for a missing message, while later ones wait, before it
    /// reports the missing one dropped (microseconds; 0 reports at once). The wait adapts
    /// between `reorder_window_min_us` and this to the reordering actually seen.
    pub reorder_window_us: u64,
    /// Where the adaptive wait starts and the least it shrinks to (microseconds).
    pub reorder_window_min_us: u64,
    /// Out-of-order packets a receiver holds.
    pub pending_capacity: usize,
    /// A receiver refuses a stamp further ahead than this instead of reporting that many
    /// drops; a replica so far behind catches up by state transfer.
    pub max_gap: u64,
}

impl Default for OumConfig {
    fn default() -> Self {
        OumConfig {
            port: crate::wire::OUM_DEFAULT_PORT,
            reorder_window_us: 1000,
            reorder_window_min_us: 0,
            pending_capacity: 1024,
            max_gap: 1 << 16,
        }
    }
}

impl OumConfig {
    pub fn receiver(&self) -> ReceiverConfig {
        ReceiverConfig {
            reorder_window: Duration::from_micros(self.reorder_window_us),
            min_reorder_window: Duration::from_micros(self.reorder_window_min_us),
            pending_capacity: self.pending_capacity,
            max_gap: self.max_gap,
        }
    }
}

/// The end-host sequencer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequencerConfig {
    /// Where the sequencer keeps the last session number it used, so a restart never reuses
    /// one. Relative paths are relative to the config file's folder.
    pub state_file: Option<PathBuf>,
    /// What stamps the requests, which decides whether replicas can judge a stamp by its
    /// source address (docs/operations.md, "Who may stamp").
    pub kind: SequencerKind,
    /// With `kind = "dpdk"`: the port MACs of the DPDK sequencers (the active one and any
    /// standby), which they write as the Ethernet source of every stamped copy. A replica
    /// on DPDK then takes stamps only from these MACs. A list, so a failover to a standby
    /// needs no config change on the replicas. Empty: no MAC check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macs: Vec<String>,
}

impl SequencerConfig {
    /// The parsed `macs` (the config was validated, so every entry parses).
    pub fn stamp_macs(&self) -> Vec<MacAddr> {
        self.macs.iter().filter_map(|m| parse_mac(m)).collect()
    }
}

/// Where the stamps come from. Only the kernel-UDP end host sends stamped copies from an
/// address of its own (the group socket); a DPDK sequencer or a switch forwards the
/// client's frame with the client's source address, so there a replica cannot tell a
/// sequencer's stamp from a forged one by where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SequencerKind {
    /// `sequencer --udp`: replicas accept stamped datagrams only from a group socket.
    #[default]
    Udp,
    /// `sequencer` on DPDK: the source address is the client's, but the source MAC is the
    /// sequencer port's, checked by replicas on DPDK when `[sequencer] macs` lists it.
    Dpdk,
    /// A P4 switch (or the Cavium sequencer): source address and MAC are the client's (our
    /// P4 program rewrites only the destination of a stamped copy); no source check.
    Switch,
}

impl SequencerKind {
    /// Whether a stamped datagram's source address says who stamped it.
    pub fn stamps_from_group_socket(self) -> bool {
        self == SequencerKind::Udp
    }
}

/// One OUM group: clients send its requests to `address`:`oum.port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: String,
    /// IPv4 group address. On raw frames (DPDK, a switch) the sequencer picks the group by
    /// the packet's destination address; on kernel UDP the sequencer binds this address, so
    /// it must be one of the sequencer host's own (any 127.x.y.z on loopback).
    pub address: Ipv4Addr,
    /// Replica indexes that receive the group's stamped requests; every replica if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<u16>>,
    /// An IPv4 multicast address (224.0.0.0/4) for the stamped copies on kernel UDP: the
    /// sequencer sends each stamped request once, to `multicast`:`oum.port`, and the kernel
    /// copies it to every member, which joins the address on the interface of its own
    /// `address`. Without it the sequencer sends one unicast copy per member. Raw-frame
    /// sequencers (DPDK, a switch) address members one by one and ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multicast: Option<Ipv4Addr>,
    /// The group's stamp key, 32 hex digits: with a key the sequencer appends a tag to
    /// every stamp and replicas take only stamps with a valid one (docs/operations.md,
    /// "Authenticated stamps"). Never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<KeyText>,
    /// A file holding the key instead (relative to the config file), so the config need
    /// not be a secret. At most one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key_file: Option<PathBuf>,
    /// The key read from `auth_key_file` when the config was read.
    #[serde(skip)]
    file_key: Option<StampKey>,
}

impl GroupConfig {
    /// A group with every optional setting absent.
    pub fn new(name: impl Into<String>, address: Ipv4Addr) -> GroupConfig {
        GroupConfig {
            name: name.into(),
            address,
            members: None,
            multicast: None,
            auth_key: None,
            auth_key_file: None,
            file_key: None,
        }
    }

    /// The group's stamp key, if it has one. An error only for a key set after the config
    /// was read that is not 32 hex digits.
    pub fn stamp_key(&self) -> Result<Option<StampKey>, String> {
        auth_key::group_key(
            self.auth_key.as_ref(),
            self.auth_key_file.as_deref(),
            self.file_key.as_ref(),
        )
        .map_err(|e| format!("group {}: {e}", self.name))
    }
}

/// One replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaConfig {
    /// Where the replica receives stamped requests and its peers' messages.
    pub address: SocketAddrV4,
    /// The replica's Ethernet address ("02:00:00:00:00:0b"), for senders on raw frames:
    /// the DPDK sequencer addresses each member's copy to it. Optional; kernel-UDP
    /// processes never need it (the kernel resolves addresses by ARP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Protocol timeouts in milliseconds; the defaults are the original implementation's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Resend of a follower's request for a message it missed, and the leader's search for
    /// a message it missed; once replica round trips are measured, gap retries follow them
    /// (RFC 6298, doubling on each retry) and this is the longest wait.
    pub gap_request_ms: u64,
    /// The shortest wait before a replica retries a gap message (NOPaxos) or a PREPARE (VR),
    /// however short the measured round trip.
    pub gap_request_min_ms: u64,
    /// Resend of the leader's gap commit (NO-OP) until f replicas acknowledge (NOPaxos), of
    /// an unacknowledged PREPARE (VR); the longest wait once round trips are measured.
    pub gap_commit_ms: u64,
    /// Resend of view-change messages.
    pub view_change_ms: u64,
    /// Resend of a state-transfer request.
    pub state_transfer_ms: u64,
    /// Resend of START-VIEW until acknowledged.
    pub start_view_ms: u64,
    /// How often the leader runs synchronization.
    pub sync_period_ms: u64,
    /// A follower that hears nothing from the leader for this long starts a view change.
    pub leader_timeout_ms: u64,
    /// A client resends a request (same id) after this long without a commit before it has
    /// measured the round trip, and never waits longer than this between resends: once
    /// measured, the wait follows the round trip (RFC 6298, doubling on each resend).
    pub client_resend_ms: u64,
    /// The shortest wait before a client resends, however short the measured round trip.
    pub client_resend_min_ms: u64,
    /// A client gives up on a request, reporting an error, after this long.
    pub client_give_up_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            gap_request_ms: 10,
            gap_request_min_ms: 1,
            gap_commit_ms: 50,
            view_change_ms: 100,
            state_transfer_ms: 100,
            start_view_ms: 100,
            sync_period_ms: 1000,
            leader_timeout_ms: 2000,
            client_resend_ms: 100,
            client_resend_min_ms: 1,
            client_give_up_ms: 5000,
        }
    }
}

impl Timeouts {
    /// Every timeout with its field name, for validation and printing.
    pub fn all(&self) -> [(&'static str, u64); 11] {
        [
            ("gap_request_ms", self.gap_request_ms),
            ("gap_request_min_ms", self.gap_request_min_ms),
            ("gap_commit_ms", self.gap_commit_ms),
            ("view_change_ms", self.view_change_ms),
            ("state_transfer_ms", self.state_transfer_ms),
            ("start_view_ms", self.start_view_ms),
            ("sync_period_ms", self.sync_period_ms),
            ("leader_timeout_ms", self.leader_timeout_ms),
            ("client_resend_ms", self.client_resend_ms),
            ("client_resend_min_ms", self.client_resend_min_ms),
            ("client_give_up_ms", self.client_give_up_ms),
        ]
    }

    pub fn get(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }
}

impl ClusterConfig {
    /// Reads, parses and validates a config file; relative paths inside it are taken
    /// relative to the file's folder.
    pub fn load(path: &Path) -> Result<ClusterConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = ClusterConfig::parse_in(&text, Some(base)).map_err(|e| e.in_file(path))?;
        if let Some(state) = config.sequencer.state_file.as_mut() {
            if state.is_relative() {
                *state = base.join(&*state);
            }
        }
        Ok(config)
    }

    /// Parses and validates config text; a relative `auth_key_file` is taken relative to
    /// the working directory.
    pub fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        ClusterConfig::parse_in(text, None)
    }

    /// Parses and validates config text whose relative key files lie in `base`.
    fn parse_in(text: &str, base: Option<&Path>) -> Result<ClusterConfig, ConfigError> {
        let mut config: ClusterConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: None,
            message: error::with_hint(e.to_string()),
        })?;
        let mut problems = validate::problems(&config);
        problems.extend(sequencer_macs::problems(&config.sequencer));
        problems.extend(auth_key::resolve(&mut config, base));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: None,
                problems,
            })
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Replicas in the cluster (2f+1).
    pub fn n(&self) -> usize {
        self.replicas.len()
    }

    /// The group's members, every replica when the group does not list them.
    pub fn members(&self, group: &GroupConfig) -> Vec<u16> {
        match &group.members {
            Some(m) => m.clone(),
            None => (0..self.replicas.len() as u16).collect(),
        }
    }

    /// The groups as the sequencer core wants them.
    pub fn group_specs(&self) -> Vec<GroupSpec> {
        self.groups
            .iter()
            .map(|g| GroupSpec {
                address: g.address,
                members: self.members(g),
            })
            .collect()
    }

    /// The stamping core for this cluster in `session`: its groups, each keyed group with
    /// its key (so its stamps carry a tag).
    pub fn sequencer(&self, session: SessionNumber) -> Result<Sequencer, String> {
        let mut sequencer = Sequencer::new(session, self.oum.port, &self.group_specs())
            .map_err(|e| e.to_string())?;
        for (i, key) in self.stamp_keys()?.into_iter().enumerate() {
            sequencer.set_key(GroupId(i as u16), key);
        }
        Ok(sequencer)
    }

    /// The names of the groups whose stamps carry a tag, for start-up lines.
    pub fn keyed_groups(&self) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|g| g.auth_key.is_some() || g.auth_key_file.is_some())
            .map(|g| g.name.as_str())
            .collect()
    }

    /// Every group's stamp key, in group order (None: that group's stamps carry no tag).
    pub fn stamp_keys(&self) -> Result<Vec<Option<StampKey>>, String> {
        self.groups.iter().map(GroupConfig::stamp_key).collect()
    }

    /// Where the kernel-UDP sequencer sends a group's stamped copies when the group has a
    /// multicast address, and where its members listen for them.
    pub fn multicast_socket(&self, group: &GroupConfig) -> Option<SocketAddrV4> {
        group.multicast.map(|m| SocketAddrV4::new(m, self.oum.port))
    }

    /// The groups replica `index` is a member of.
    pub fn groups_of(&self, index: usize) -> impl Iterator<Item = &GroupConfig> + '_ {
        self.groups
            .iter()
            .filter(move |g| self.members(g).contains(&(index as u16)))
    }

    /// Where clients send a group's requests.
    pub fn group_socket(&self, group: &GroupConfig) -> SocketAddrV4 {
        SocketAddrV4::new(group.address, self.oum.port)
    }

    /// The replica's `mac`, if given (validated when the config was read).
    pub fn replica_mac(&self, index: usize) -> Option<MacAddr> {
        self.replicas
            .get(index)
            .and_then(|r| r.mac.as_deref())
            .and_then(parse_mac)
    }

    pub fn replica_address(&self, index: usize) -> Option<SocketAddrV4> {
        self.replicas.get(index).map(|r| r.address)
    }

    /// A config for `n` replicas on loopback starting at `base_port`, one group at
    /// `group_address`, every other setting at its default; for tests and local runs.
    pub fn local(n: usize, base_port: u16, group_address: Ipv4Addr) -> ClusterConfig {
        ClusterConfig {
            f: n.saturating_sub(1) / 2,
            oum: OumConfig::default(),
            sequencer: SequencerConfig::default(),
            timeouts: Timeouts::default(),
            groups: vec![GroupConfig::new("replicas", group_address)],
            replicas: (0..n)
                .map(|i| ReplicaConfig {
                    address: SocketAddrV4::new(
                        Ipv4Addr::LOCALHOST,
                        base_port.wrapping_add(i as u16),
                    ),
                    mac: None,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod auth_key_tests;
#[cfg(test)]
mod sequencer_macs_tests;
#[cfg(test)]
mod tests;
