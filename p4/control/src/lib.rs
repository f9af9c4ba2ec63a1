//! Control plane and tests of the P4 switch sequencer (p4/nopaxos.p4): switch configuration
//! from the cluster TOML (bmv2 `simple_switch_CLI` commands, Tofino bfrt_python), the STF
//! file from the golden vectors, the switch's expected outcome per golden verdict, and a
//! bmv2 runner. See docs/p4.md.

pub mod bmv2;
pub mod cmd;
pub mod model;
pub mod plan;
pub mod ports;
pub mod stf;
pub mod stf_host_ports;
