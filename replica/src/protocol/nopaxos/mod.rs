//! NOPaxos (being written).
