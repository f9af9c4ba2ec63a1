//! Where a replica stands in its protocol: one type for every protocol, whose replicas all
//! move between the same three states.

/// Where a replica stands in its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Takes part in the protocol as its role in the current view says.
    Normal,
    /// A view change is under way (in Speculative Paxos also a reconciliation, in Fast
    /// Paxos a view joined whose START-VIEW is not yet adopted): no requests are executed
    /// and nothing is voted on until it ends.
    ViewChange,
    /// Lost its memory: takes no part until it has caught up from the others (VR
    /// Revisited's recovery; the protocols differ in what catching up takes).
    Recovering,
}
