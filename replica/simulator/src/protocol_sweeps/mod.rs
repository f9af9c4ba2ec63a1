//! Each replicated protocol's bounded simulator sweeps (run by `cargo test`) and its long
//! sweeps (`#[ignore]`d, run by hand in release; each file's header gives the commands).

mod fastpaxos;
mod fastpaxos_long;
mod spec;
mod spec_long;
mod vr;
mod vr_long;
