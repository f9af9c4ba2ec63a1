//! Fast Paxos (being written).
