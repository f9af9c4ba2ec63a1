//! Raw bindings to the system DPDK (>= 22.11): bindgen output for the EAL, ethdev, mbuf and
//! mempool APIs, and `shim_*` wrappers for DPDK's static-inline fast-path functions (rx/tx
//! bursts, mbuf allocation and data access), compiled from shim.c. Safe wrappers live in
//! `dataplane::io::dpdk`.
//!
//! Why our own crate: the crates.io `dpdk-sys` (0.1.5) targets DPDK 18.05 with a vendored
//! musl build, and `capsule` (0.1.5) targets DPDK 19.11 with hard-coded include paths and
//! symbols removed in 22.11; neither builds against Debian 12's DPDK 22.11.

#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    clippy::all
)]
#![allow(unreachable_pub, missing_debug_implementations, rust_2018_idioms)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
