//! In-memory network (being written).
