//! Switch commands in one vocabulary, rendered three ways: p4c's STF test format, the
//! `simple_switch_CLI` command language (bmv2), and driven directly by the bmv2 runner.
//! Table, action and register names are those of p4/targets/v1model.p4.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The ingress control's name in the v1model build.
pub const INGRESS: &str = "NopaxosIngress";
/// The egress control's name in the v1model build.
pub const EGRESS: &str = "NopaxosEgress";

/// A value handed to a table key or an action parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(u64),
    Addr(Ipv4Addr),
    Mac([u8; 6]),
}

impl Value {
    fn stf(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Addr(a) => format!("0x{:08x}", u32::from(*a)),
            Value::Mac(m) => format!("0x{:012x}", crate::ports::mac_u64(*m)),
        }
    }

    fn cli(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Addr(a) => a.to_string(),
            Value::Mac(m) => crate::ports::mac_text(*m),
        }
    }
}

/// A table key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Exact(Value),
    Lpm(Ipv4Addr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// `# text` in STF and CLI scripts.
    Comment(String),
    /// Set a keyless (or any) table's default action.
    SetDefault {
        control: &'static str,
        table: &'static str,
        action: &'static str,
        args: Vec<(&'static str, Value)>,
    },
    /// Add a table entry.
    Add {
        control: &'static str,
        table: &'static str,
        key_field: &'static str,
        key: Key,
        action: &'static str,
        args: Vec<(&'static str, Value)>,
    },
    McMgrpCreate(u16),
    /// Creates a multicast node (bmv2 hands out node handles 0, 1, 2, ... in order).
    McNodeCreate {
        rid: u16,
        ports: Vec<u16>,
    },
    McNodeAssociate {
        mgrp: u16,
        node: u32,
    },
    RegisterWrite {
        register: &'static str,
        index: u32,
        value: u64,
    },
    /// A frame into the switch.
    Packet {
        port: u16,
        bytes: Vec<u8>,
    },
    /// A frame expected out of a port (in order, per port).
    Expect {
        port: u16,
        bytes: Vec<u8>,
    },
}

impl Cmd {
    pub fn is_cli(&self) -> bool {
        !matches!(
            self,
            Cmd::Comment(_) | Cmd::Packet { .. } | Cmd::Expect { .. }
        )
    }

    /// The command as one line of a `simple_switch_CLI` script, if it is one.
    pub fn cli(&self) -> Option<String> {
        Some(match self {
            Cmd::Comment(text) => format!("# {text}").trim_end().to_string(),
            Cmd::SetDefault {
                control,
                table,
                action,
                args,
            } => {
                let mut line = format!("table_set_default {control}.{table} {control}.{action}");
                for (_, v) in args {
                    let _ = write!(line, " {}", v.cli());
                }
                line
            }
            Cmd::Add {
                control,
                table,
                key,
                action,
                args,
                ..
            } => {
                let key = match key {
                    Key::Exact(v) => v.cli(),
                    Key::Lpm(a, len) => format!("{a}/{len}"),
                };
                let args: Vec<String> = args.iter().map(|(_, v)| v.cli()).collect();
                format!(
                    "table_add {control}.{table} {control}.{action} {key} => {}",
                    args.join(" ")
                )
                .trim_end()
                .to_string()
            }
            Cmd::McMgrpCreate(mgrp) => format!("mc_mgrp_create {mgrp}"),
            Cmd::McNodeCreate { rid, ports } => format!("mc_node_create {rid} {}", join(ports)),
            Cmd::McNodeAssociate { mgrp, node } => format!("mc_node_associate {mgrp} {node}"),
            Cmd::RegisterWrite {
                register,
                index,
                value,
            } => format!("register_write {INGRESS}.{register} {index} {value}"),
            Cmd::Packet { .. } | Cmd::Expect { .. } => return None,
        })
    }

    /// The command as one line of p4c's STF format (backends/bmv2/bmv2stf.py).
    pub fn stf(&self) -> String {
        match self {
            Cmd::Comment(text) => format!("# {text}").trim_end().to_string(),
            Cmd::SetDefault {
                table,
                action,
                args,
                ..
            } => format!("setdefault {table} {action}({})", stf_args(args)),
            Cmd::Add {
                table,
                key_field,
                key,
                action,
                args,
                ..
            } => {
                let key = match key {
                    Key::Exact(v) => v.stf(),
                    Key::Lpm(a, len) => stf_lpm(*a, *len),
                };
                format!("add {table} {key_field}:{key} {action}({})", stf_args(args))
            }
            Cmd::Packet { port, bytes } if bytes.is_empty() => format!(
                "# packet {port} <0 bytes>: STF cannot express an empty frame (its grammar \
                 needs at least one byte); the bmv2 runner sends it"
            ),
            Cmd::Packet { port, bytes } => format!("packet {port} {}", spaced_hex(bytes)),
            Cmd::Expect { port, bytes } => format!("expect {port} {}", spaced_hex(bytes)),
            other => other.cli().unwrap_or_default(),
        }
    }
}

/// An LPM key as p4c's STF harness reads it: the prefix's hex digits followed by `*` per
/// masked nibble (`0x0a******` is 10.0.0.0/8); the harness mis-parses the `VALUE/LEN`
/// form. Lengths that are not a multiple of 4 fall back to `VALUE/LEN`.
fn stf_lpm(addr: Ipv4Addr, len: u8) -> String {
    let hex = format!("{:08x}", u32::from(addr));
    if len % 4 != 0 {
        return format!("0x{hex}/{len}");
    }
    let digits = usize::from(len / 4);
    format!("0x{}{}", &hex[..digits], "*".repeat(8 - digits))
}

fn join(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn stf_args(args: &[(&'static str, Value)]) -> String {
    args.iter()
        .map(|(name, v)| format!("{name}:{}", v.stf()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hex in groups of 4 bytes, as p4c's STF files usually write frames.
fn spaced_hex(bytes: &[u8]) -> String {
    bytes
        .chunks(4)
        .map(dataplane::golden::encode_hex)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole CLI script.
pub fn render_cli(cmds: &[Cmd]) -> String {
    let mut out = String::new();
    for cmd in cmds {
        if let Some(line) = cmd.cli() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// A whole STF file.
pub fn render_stf(cmds: &[Cmd]) -> String {
    let mut out = String::new();
    for cmd in cmds {
        out.push_str(&cmd.stf());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cli_and_stf() {
        let add = Cmd::Add {
            control: INGRESS,
            table: "oum_groups",
            key_field: "hdr.ipv4.dst_addr",
            key: Key::Exact(Value::Addr(Ipv4Addr::new(10, 0, 0, 100))),
            action: "set_oum_group",
            args: vec![("slot", Value::Int(3))],
        };
        assert_eq!(
            add.cli().unwrap(),
            "table_add NopaxosIngress.oum_groups NopaxosIngress.set_oum_group 10.0.0.100 => 3"
        );
        assert_eq!(
            add.stf(),
            "add oum_groups hdr.ipv4.dst_addr:0x0a000064 set_oum_group(slot:3)"
        );
        let route = Cmd::Add {
            control: INGRESS,
            table: "ipv4_routes",
            key_field: "hdr.ipv4.dst_addr",
            key: Key::Lpm(Ipv4Addr::new(10, 0, 0, 0), 8),
            action: "ipv4_forward",
            args: vec![
                ("port", Value::Int(9)),
                ("dst_mac", Value::Mac([2, 0, 0, 0, 0, 9])),
            ],
        };
        assert_eq!(
            route.cli().unwrap(),
            "table_add NopaxosIngress.ipv4_routes NopaxosIngress.ipv4_forward 10.0.0.0/8 => 9 02:00:00:00:00:09"
        );
        assert_eq!(
            route.stf(),
            "add ipv4_routes hdr.ipv4.dst_addr:0x0a****** ipv4_forward(port:9, dst_mac:0x020000000009)"
        );
        assert_eq!(stf_lpm(Ipv4Addr::new(10, 1, 2, 0), 24), "0x0a0102**");
        assert_eq!(stf_lpm(Ipv4Addr::new(0, 0, 0, 0), 0), "0x********");
        assert_eq!(stf_lpm(Ipv4Addr::new(10, 1, 2, 3), 32), "0x0a010203");
        assert_eq!(stf_lpm(Ipv4Addr::new(10, 0, 0, 0), 9), "0x0a000000/9");
        let packet = Cmd::Packet {
            port: 0,
            bytes: vec![1, 2, 3, 4, 5],
        };
        assert_eq!(packet.stf(), "packet 0 01020304 05");
        assert!(packet.cli().is_none());
        assert!(
            Cmd::Packet {
                port: 0,
                bytes: vec![]
            }
            .stf()
            .starts_with("# ")
        );
        assert_eq!(
            Cmd::RegisterWrite {
                register: "group_mgrp",
                index: 2,
                value: 5
            }
            .stf(),
            "register_write NopaxosIngress.group_mgrp 2 5"
        );
    }
}
