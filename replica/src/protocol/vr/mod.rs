//! Viewstamped Replication (being written).
