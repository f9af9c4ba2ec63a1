//! Speculative Paxos (being written).
