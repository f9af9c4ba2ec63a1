//! What can go wrong when building or reconfiguring a simulated network.

use std::net::SocketAddrV4;

use super::HostId;

/// A rejected call on [`SimNetwork`](super::SimNetwork). Configuration mistakes are errors,
/// not panics, so a simulator sweep reports the bad setting instead of aborting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// Two hosts (or one host twice) claim the same address; deliveries would be ambiguous.
    #[error("address {0} already belongs to a host")]
    AddressInUse(SocketAddrV4),
    /// A host with no address can neither send nor receive.
    #[error("a host needs at least one address")]
    NoAddresses,
    /// More addresses than an [`Endpoint`](crate::io::Endpoint) can index.
    #[error("{0} addresses for one host; at most 65536")]
    TooManyAddresses(usize),
    /// A [`LinkConfig`](super::LinkConfig) probability outside `0..=1` (or NaN).
    #[error("link config: {field} = {value} is not a probability in 0..=1")]
    InvalidProbability { field: &'static str, value: f64 },
    /// A [`HostId`] this network did not hand out.
    #[error("unknown host {0}")]
    UnknownHost(HostId),
}
