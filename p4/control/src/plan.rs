//! The switch configuration of a deployment, from the cluster TOML every binary reads plus
//! the switch-only facts given on the command line (ports, routes, session).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

use dataplane::config::ClusterConfig;

use crate::cmd::{Cmd, EGRESS, INGRESS, Key, Value};
use crate::ports::{HostPorts, PortMap, Route, mac_text, mac_u64};
use crate::stf::{counter_writes, reg};

/// One OUM group on the switch: table entry `address -> slot`, multicast group `mgrp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchGroup {
    pub name: String,
    pub address: Ipv4Addr,
    pub slot: u32,
    pub mgrp: u16,
    /// Member replicas, in configured order, and their ports.
    pub replicas: Vec<u16>,
    pub ports: Vec<u16>,
}

/// Per-port rewrite of a stamped copy, so that a replica listening on kernel UDP at its own
/// address gets it (egress table `member_rewrite`, both builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRewrite {
    pub port: u16,
    pub replica: u16,
    pub mac: [u8; 6],
    pub addr: SocketAddrV4,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchPlan {
    pub oum_port: u16,
    pub session: u16,
    pub groups: Vec<SwitchGroup>,
    pub routes: Vec<Route>,
    pub rewrites: Vec<MemberRewrite>,
    /// Host-facing ports (table `host_ports`): stamps entering there are dropped.
    pub host_ports: Vec<u16>,
}

impl SwitchPlan {
    /// Group `i` of the config gets slot `i` and multicast group `i + 1`.
    pub fn new(
        config: &ClusterConfig,
        ports: &PortMap,
        session: u16,
        routes: Vec<Route>,
        member_rewrite: bool,
    ) -> Result<SwitchPlan, String> {
        if config.groups.len() > 1024 {
            return Err(format!(
                "{} groups; the program has 1024 slots",
                config.groups.len()
            ));
        }
        let mut groups = Vec::new();
        for (i, g) in config.groups.iter().enumerate() {
            let replicas = config.members(g);
            let mut member_ports = Vec::new();
            for r in &replicas {
                let port = ports.port(*r).ok_or_else(|| {
                    format!(
                        "group {}: replica {r} has no port (add {r}=PORT to --ports)",
                        g.name
                    )
                })?;
                if member_ports.contains(&port) {
                    return Err(format!(
                        "group {}: two members behind port {port}; a multicast group sends one \
                         copy per port",
                        g.name
                    ));
                }
                member_ports.push(port);
            }
            groups.push(SwitchGroup {
                name: g.name.clone(),
                address: g.address,
                slot: u32::try_from(i).map_err(|_| "too many groups")?,
                mgrp: u16::try_from(i + 1).map_err(|_| "too many groups")?,
                replicas,
                ports: member_ports,
            });
        }
        let mut rewrites = Vec::new();
        if member_rewrite {
            for (&replica, &port) in &ports.0 {
                let index = usize::from(replica);
                let addr = config.replica_address(index).ok_or_else(|| {
                    format!(
                        "--ports names replica {replica}, the config has {}",
                        config.n()
                    )
                })?;
                if let Some(other) = rewrites.iter().find(|w: &&MemberRewrite| w.port == port) {
                    return Err(format!(
                        "replicas {} and {replica} share port {port}: member rewrite needs one \
                         replica per port (or pass --no-member-rewrite)",
                        other.replica
                    ));
                }
                let mac = config.replica_mac(index).map_or([0xff; 6], |m| m.0);
                rewrites.push(MemberRewrite {
                    port,
                    replica,
                    mac,
                    addr,
                });
            }
        }
        Ok(SwitchPlan {
            oum_port: config.oum.port,
            session,
            groups,
            routes,
            rewrites,
            host_ports: Vec::new(),
        })
    }

    /// The plan with these host-facing ports (`--host-ports`). A replica's port may be one
    /// too (a replica never sends stamps); a port is listed once.
    pub fn with_host_ports(mut self, ports: &HostPorts) -> SwitchPlan {
        self.host_ports = ports.0.clone();
        self
    }

    /// The `host_ports` entry of one port, as bmv2 commands and STF lines.
    pub fn host_port_cmd(port: u16) -> Cmd {
        Cmd::Add {
            control: INGRESS,
            table: "host_ports",
            key_field: "standard_metadata.ingress_port",
            key: Key::Exact(Value::Int(u64::from(port))),
            action: "from_host",
            args: vec![],
        }
    }

    /// `simple_switch_CLI` commands for a freshly started switch.
    pub fn bmv2_commands(&self) -> Vec<Cmd> {
        let mut cmds = vec![Cmd::Comment(format!(
            "nopaxos.p4 (v1model) configuration generated by p4-control: OUM port {}, \
             session {}. Load into a freshly started simple_switch (node handles count from 0).",
            self.oum_port, self.session
        ))];
        for g in &self.groups {
            cmds.push(Cmd::Comment(format!(
                "group {}: {} -> slot {}, multicast group {}, replicas {:?} on ports {:?}",
                g.name, g.address, g.slot, g.mgrp, g.replicas, g.ports
            )));
            cmds.push(Cmd::Add {
                control: INGRESS,
                table: "oum_groups",
                key_field: "hdr.ipv4.dst_addr",
                key: Key::Exact(Value::Addr(g.address)),
                action: "set_oum_group",
                args: vec![("slot", Value::Int(u64::from(g.slot)))],
            });
            cmds.push(Cmd::McMgrpCreate(g.mgrp));
            cmds.push(Cmd::McNodeCreate {
                rid: g.mgrp,
                ports: g.ports.clone(),
            });
            cmds.push(Cmd::McNodeAssociate {
                mgrp: g.mgrp,
                node: g.slot,
            });
            cmds.extend(counter_writes(g.slot, self.session, 0));
            cmds.push(reg("group_mgrp", g.slot, u64::from(g.mgrp)));
        }
        for w in &self.rewrites {
            cmds.push(Cmd::Add {
                control: EGRESS,
                table: "member_rewrite",
                key_field: "standard_metadata.egress_port",
                key: Key::Exact(Value::Int(u64::from(w.port))),
                action: "to_member",
                args: vec![
                    ("dst_mac", Value::Mac(w.mac)),
                    ("dst_addr", Value::Addr(*w.addr.ip())),
                    ("dst_port", Value::Int(u64::from(w.addr.port()))),
                ],
            });
        }
        if !self.host_ports.is_empty() {
            cmds.push(Cmd::Comment(format!(
                "host-facing ports {:?}: stamps entering there are forged and dropped",
                self.host_ports
            )));
        }
        cmds.extend(
            self.host_ports
                .iter()
                .map(|&p| SwitchPlan::host_port_cmd(p)),
        );
        cmds.extend(self.routes.iter().map(route_cmd));
        // Last: the sequencer starts stamping only once its groups are in place.
        cmds.push(failover_bmv2(self.oum_port, self.session));
        cmds
    }

    /// A bfrt_python script (run with `bfshell -b FILE`) for the TNA build.
    pub fn bfrt_script(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# nopaxos.p4 (TNA) configuration generated by p4-control: OUM port {}, session {}.\n\
             # Run with: bfshell -b <this file>. Not exercised on Tofino hardware in this repo.\n\
             p4 = bfrt.nopaxos.pipe\n\
             ig = p4.NopaxosIngress",
            self.oum_port, self.session
        );
        for g in &self.groups {
            let ports: Vec<String> = g.ports.iter().map(u16::to_string).collect();
            let _ = writeln!(
                s,
                "\n# group {name}: {addr} -> slot {slot}, multicast group {mgrp}, replicas {reps:?}\n\
                 ig.oum_groups.add_with_set_oum_group(dst_addr=0x{addr_hex:08x}, slot={slot})\n\
                 bfrt.pre.node.add(MULTICAST_NODE_ID={mgrp}, MULTICAST_RID={mgrp}, \
                 MULTICAST_LAG_ID=[], DEV_PORT=[{ports}])\n\
                 bfrt.pre.mgid.add(MGID={mgrp}, MULTICAST_NODE_ID=[{mgrp}], \
                 MULTICAST_NODE_L1_XID_VALID=[False], MULTICAST_NODE_L1_XID=[0])\n\
                 ig.group_mgrp.mod(REGISTER_INDEX={slot}, f1={mgrp})",
                name = g.name,
                addr = g.address,
                addr_hex = u32::from(g.address),
                slot = g.slot,
                mgrp = g.mgrp,
                reps = g.replicas,
                ports = ports.join(", "),
            );
        }
        for r in &self.routes {
            let _ = writeln!(
                s,
                "ig.ipv4_routes.add_with_ipv4_forward(dst_addr=0x{:08x}, dst_addr_p_length={}, \
                 port={}, dst_mac=0x{:012x}, src_mac=0x{:012x})",
                u32::from(r.prefix),
                r.len,
                r.port,
                mac_u64(r.dst_mac),
                mac_u64(r.src_mac)
            );
        }
        if !self.host_ports.is_empty() {
            s.push_str("\n# Host-facing ports: stamps entering there are forged and dropped.\n");
        }
        for p in &self.host_ports {
            let _ = writeln!(s, "ig.host_ports.add_with_from_host(ingress_port={p})");
        }
        if !self.rewrites.is_empty() {
            s.push_str(
                "\n# Each stamped copy readdressed to its replica.\neg = p4.NopaxosEgress\n",
            );
        }
        for w in &self.rewrites {
            let _ = writeln!(
                s,
                "eg.member_rewrite.add_with_to_member(egress_port={}, dst_mac=0x{:012x}, \
                 dst_addr=0x{:08x}, dst_port={})  # replica {}",
                w.port,
                mac_u64(w.mac),
                u32::from(*w.addr.ip()),
                w.addr.port(),
                w.replica
            );
        }
        s.push_str("\n# Last: start stamping.\n");
        s.push_str(&failover_bfrt(self.oum_port, self.session));
        s.push_str("bfrt.complete_operations()\n");
        s
    }

    /// One line per group for people.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for g in &self.groups {
            let _ = writeln!(
                s,
                "group {} {} slot {} mgrp {} replicas {:?} ports {:?}",
                g.name, g.address, g.slot, g.mgrp, g.replicas, g.ports
            );
        }
        if !self.host_ports.is_empty() {
            let _ = writeln!(s, "host-facing ports {:?}", self.host_ports);
        }
        for w in &self.rewrites {
            let _ = writeln!(
                s,
                "port {} -> replica {} at {} ({})",
                w.port,
                w.replica,
                w.addr,
                mac_text(w.mac)
            );
        }
        s
    }
}

/// The `ipv4_routes` entry of one route.
pub(crate) fn route_cmd(route: &Route) -> Cmd {
    Cmd::Add {
        control: INGRESS,
        table: "ipv4_routes",
        key_field: "hdr.ipv4.dst_addr",
        key: Key::Lpm(route.prefix, route.len),
        action: "ipv4_forward",
        args: vec![
            ("port", Value::Int(u64::from(route.port))),
            ("dst_mac", Value::Mac(route.dst_mac)),
            ("src_mac", Value::Mac(route.src_mac)),
        ],
    }
}

/// The one command that moves a running bmv2 switch to a new session (sequencer failover).
pub fn failover_bmv2(oum_port: u16, session: u16) -> Cmd {
    Cmd::SetDefault {
        control: INGRESS,
        table: "oum_config",
        action: "set_oum_config",
        args: vec![
            ("oum_port", Value::Int(u64::from(oum_port))),
            ("session", Value::Int(u64::from(session))),
        ],
    }
}

/// The same for the TNA build, as bfrt_python.
pub fn failover_bfrt(oum_port: u16, session: u16) -> String {
    format!(
        "bfrt.nopaxos.pipe.NopaxosIngress.oum_config.set_default_with_set_oum_config(\
         oum_port={oum_port}, session={session})\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::render_cli;

    fn config() -> ClusterConfig {
        ClusterConfig::parse(
            r#"
f = 1
[[group]]
name = "kv"
address = "10.0.0.100"
[[group]]
name = "pair"
address = "10.0.0.101"
members = [2, 0]
[[replica]]
address = "10.0.1.1:51000"
mac = "02:00:00:00:01:01"
[[replica]]
address = "10.0.1.2:51000"
[[replica]]
address = "10.0.1.3:51000"
"#,
        )
        .unwrap()
    }

    #[test]
    fn bmv2_commands_follow_the_config() {
        let ports: PortMap = "0=1,1=2,2=3".parse().unwrap();
        let routes = vec![
            "10.0.0.0/8,9,02:00:00:00:00:09,02:00:00:00:00:fe"
                .parse()
                .unwrap(),
        ];
        let plan = SwitchPlan::new(&config(), &ports, 7, routes, true).unwrap();
        let cli = render_cli(&plan.bmv2_commands());
        for line in [
            "table_add NopaxosIngress.oum_groups NopaxosIngress.set_oum_group 10.0.0.100 => 0",
            "table_add NopaxosIngress.oum_groups NopaxosIngress.set_oum_group 10.0.0.101 => 1",
            "mc_mgrp_create 1",
            "mc_node_create 1 1 2 3",
            "mc_node_associate 1 0",
            "mc_node_create 2 3 1",
            "mc_node_associate 2 1",
            "register_write NopaxosIngress.group_mgrp 1 2",
            "register_write NopaxosIngress.counter_lo_tag 0 7",
            "table_add NopaxosEgress.member_rewrite NopaxosEgress.to_member 1 => 02:00:00:00:01:01 10.0.1.1 51000",
            "table_add NopaxosEgress.member_rewrite NopaxosEgress.to_member 2 => ff:ff:ff:ff:ff:ff 10.0.1.2 51000",
            "table_add NopaxosIngress.ipv4_routes NopaxosIngress.ipv4_forward 10.0.0.0/8 => 9 02:00:00:00:00:09 02:00:00:00:00:fe",
        ] {
            assert!(cli.contains(line), "missing `{line}` in\n{cli}");
        }
        // The session is switched on last, after the groups exist.
        assert!(cli.trim_end().ends_with(
            "table_set_default NopaxosIngress.oum_config NopaxosIngress.set_oum_config 22222 7"
        ));
        let bfrt = plan.bfrt_script();
        assert!(bfrt.contains("ig.oum_groups.add_with_set_oum_group(dst_addr=0x0a000065, slot=1)"));
        assert!(bfrt.contains("DEV_PORT=[3, 1]"));
        assert!(bfrt.contains("set_default_with_set_oum_config(oum_port=22222, session=7)"));
        assert!(bfrt.contains(
            "eg.member_rewrite.add_with_to_member(egress_port=1, dst_mac=0x020000000101, \
             dst_addr=0x0a000101, dst_port=51000)"
        ));
        assert!(bfrt.contains("egress_port=2, dst_mac=0xffffffffffff, dst_addr=0x0a000102"));
        // The session is switched on last here too.
        let stamping = bfrt.find("set_default_with_set_oum_config").unwrap();
        assert!(bfrt.find("member_rewrite").unwrap() < stamping);
    }

    #[test]
    fn host_ports_become_table_entries_before_stamping_starts() {
        let ports: PortMap = "0=1,1=2,2=3".parse().unwrap();
        let host: HostPorts = "10, 11".parse().unwrap();
        let plan = SwitchPlan::new(&config(), &ports, 7, vec![], true)
            .unwrap()
            .with_host_ports(&host);
        let cli = render_cli(&plan.bmv2_commands());
        for port in [10, 11] {
            let line =
                format!("table_add NopaxosIngress.host_ports NopaxosIngress.from_host {port} =>\n");
            let at = cli
                .find(&line)
                .unwrap_or_else(|| panic!("no `{line}` in\n{cli}"));
            assert!(at < cli.find("table_set_default").unwrap());
        }
        assert_eq!(
            SwitchPlan::host_port_cmd(10).stf(),
            "add host_ports standard_metadata.ingress_port:10 from_host()"
        );
        let bfrt = plan.bfrt_script();
        let entry = bfrt
            .find("ig.host_ports.add_with_from_host(ingress_port=11)")
            .unwrap();
        assert!(entry < bfrt.find("set_default_with_set_oum_config").unwrap());
        assert!(plan.summary().contains("host-facing ports [10, 11]"));
        // Without --host-ports: no entries, as before.
        let plain = SwitchPlan::new(&config(), &ports, 7, vec![], true).unwrap();
        assert!(!render_cli(&plain.bmv2_commands()).contains("host_ports"));
        assert!(!plain.bfrt_script().contains("host_ports"));
    }

    #[test]
    fn bad_host_port_lists_are_refused() {
        for (text, why) in [
            ("", "no port"),
            ("1,x", "bad port"),
            ("512", "9 bits"),
            ("3,4,3", "twice"),
            ("-1", "bad port"),
        ] {
            let err = text.parse::<HostPorts>().unwrap_err();
            assert!(err.contains(why), "`{text}`: {err}");
        }
        assert_eq!(
            "0,511".parse::<HostPorts>().unwrap(),
            HostPorts(vec![0, 511])
        );
    }

    #[test]
    fn missing_or_shared_ports_are_refused() {
        let ports: PortMap = "0=1,1=2".parse().unwrap();
        let err = SwitchPlan::new(&config(), &ports, 1, vec![], false).unwrap_err();
        assert!(err.contains("replica 2 has no port"), "{err}");
        let shared: PortMap = "0=1,1=1,2=3".parse().unwrap();
        let err = SwitchPlan::new(&config(), &shared, 1, vec![], false).unwrap_err();
        assert!(err.contains("port 1"), "{err}");
        let extra: PortMap = "0=1,1=2,2=3,5=6".parse().unwrap();
        let err = SwitchPlan::new(&config(), &extra, 1, vec![], true).unwrap_err();
        assert!(err.contains("replica 5"), "{err}");
    }
}
