//! Load generation and local clusters. Today: `client-gen oum-demo`, which starts a
//! sequencer and a replica group in listen mode on loopback and shows requests being
//! sequenced; the load generator and `client-gen local` build on the same pieces.

pub mod children;
pub mod cli;
pub mod oum_demo;
