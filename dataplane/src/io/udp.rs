//! Kernel UDP backend (being written).
