//! Command-line vocabulary that the cluster TOML does not (yet) carry: which switch port each
//! replica sits behind (`--ports 0=1,1=2,2=3`), the ports clients and other hosts sit on
//! (`--host-ports 10,11`) and the ordinary IPv4 routes
//! (`--route 10.0.0.0/8,9,02:00:00:00:00:09,02:00:00:00:00:fe`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use dataplane::config::parse_mac;

/// Replica index -> switch port (bmv2 port number or Tofino device port).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortMap(pub BTreeMap<u16, u16>);

impl PortMap {
    pub fn port(&self, replica: u16) -> Option<u16> {
        self.0.get(&replica).copied()
    }

    /// Replica `r` behind port `r + offset`: the map the STF file and the bmv2 tests use.
    pub fn offset(replicas: impl IntoIterator<Item = u16>, offset: u16) -> PortMap {
        PortMap(replicas.into_iter().map(|r| (r, r + offset)).collect())
    }
}

impl FromStr for PortMap {
    type Err = String;

    /// `0=1,1=2,2=3`: replica index `=` port, comma separated; each replica at most once.
    fn from_str(text: &str) -> Result<PortMap, String> {
        let mut map = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (replica, port) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected REPLICA=PORT"))?;
            let replica: u16 = replica
                .trim()
                .parse()
                .map_err(|_| format!("`{item}`: bad replica index `{replica}`"))?;
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| format!("`{item}`: bad port `{port}`"))?;
            if port > 511 {
                return Err(format!("`{item}`: port {port} does not fit 9 bits"));
            }
            if map.insert(replica, port).is_some() {
                return Err(format!("replica {replica} given twice"));
            }
        }
        if map.is_empty() {
            return Err("no REPLICA=PORT pairs".to_string());
        }
        Ok(PortMap(map))
    }
}

/// Host-facing switch ports (`--host-ports 10,11`): clients and any other hosts, as opposed to
/// replicas and links to other switches. A stamped OUM packet entering on one is forged and
/// dropped (table `host_ports`, docs/p4.md "Forged stamps").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPorts(pub Vec<u16>);

impl FromStr for HostPorts {
    type Err = String;

    /// `10,11,12`: port numbers, comma separated, each at most once.
    fn from_str(text: &str) -> Result<HostPorts, String> {
        let mut ports = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let port: u16 = item
                .parse()
                .map_err(|_| format!("`{item}`: bad port number"))?;
            if port > 511 {
                return Err(format!("`{item}`: port {port} does not fit 9 bits"));
            }
            if ports.contains(&port) {
                return Err(format!("port {port} given twice"));
            }
            ports.push(port);
        }
        if ports.is_empty() {
            return Err("no port numbers".to_string());
        }
        Ok(HostPorts(ports))
    }
}

/// One entry of the ordinary IPv4 table (`ipv4_routes`, longest prefix match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub prefix: Ipv4Addr,
    pub len: u8,
    pub port: u16,
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
}

impl Route {
    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        let mask = if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        };
        u32::from(addr) & mask == u32::from(self.prefix) & mask
    }

    /// The longest matching route, as the LPM table picks it.
    pub fn lookup(routes: &[Route], addr: Ipv4Addr) -> Option<&Route> {
        routes
            .iter()
            .filter(|r| r.matches(addr))
            .max_by_key(|r| r.len)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{},{},{},{}",
            self.prefix,
            self.len,
            self.port,
            mac_text(self.dst_mac),
            mac_text(self.src_mac)
        )
    }
}

impl FromStr for Route {
    type Err = String;

    /// `PREFIX/LEN,PORT,DST_MAC,SRC_MAC`, e.g. `10.0.0.0/8,9,02:00:00:00:00:09,02:00:00:00:00:fe`.
    fn from_str(text: &str) -> Result<Route, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let [net, port, dst, src] = parts.as_slice() else {
            return Err(format!(
                "`{text}`: expected PREFIX/LEN,PORT,DST_MAC,SRC_MAC"
            ));
        };
        let (prefix, len) = net
            .split_once('/')
            .ok_or_else(|| format!("`{net}`: expected PREFIX/LEN"))?;
        let prefix: Ipv4Addr = prefix
            .parse()
            .map_err(|_| format!("`{prefix}`: not an IPv4 address"))?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("`{len}`: prefix length must be 0..=32"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p <= 511)
            .ok_or_else(|| format!("`{port}`: bad port"))?;
        let dst_mac = parse_mac(dst).ok_or_else(|| format!("`{dst}`: bad MAC"))?.0;
        let src_mac = parse_mac(src).ok_or_else(|| format!("`{src}`: bad MAC"))?.0;
        Ok(Route {
            prefix,
            len,
            port,
            dst_mac,
            src_mac,
        })
    }
}

pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn mac_u64(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_map_parses_and_rejects() {
        let map: PortMap = "0=1, 1=2,2=3".parse().unwrap();
        assert_eq!(map.port(0), Some(1));
        assert_eq!(map.port(2), Some(3));
        assert_eq!(map.port(3), None);
        assert!("0=1,0=2".parse::<PortMap>().is_err());
        assert!("0:1".parse::<PortMap>().is_err());
        assert!("0=600".parse::<PortMap>().is_err());
        assert!("".parse::<PortMap>().is_err());
    }

    #[test]
    fn routes_parse_and_pick_the_longest_prefix() {
        let wide: Route = "10.0.0.0/8,9,02:00:00:00:00:09,02:00:00:00:00:fe"
            .parse()
            .unwrap();
        let narrow: Route = "10.0.1.0/24,4,02:00:00:00:00:04,02:00:00:00:00:fe"
            .parse()
            .unwrap();
        let routes = [wide, narrow];
        assert_eq!(
            Route::lookup(&routes, "10.0.1.7".parse().unwrap())
                .unwrap()
                .port,
            4
        );
        assert_eq!(
            Route::lookup(&routes, "10.9.1.7".parse().unwrap())
                .unwrap()
                .port,
            9
        );
        assert!(Route::lookup(&routes, "11.0.0.1".parse().unwrap()).is_none());
        assert_eq!(wide.to_string().parse::<Route>().unwrap(), wide);
        assert!(
            "10.0.0.0/33,1,02:00:00:00:00:09,02:00:00:00:00:fe"
                .parse::<Route>()
                .is_err()
        );
        assert!(
            "10.0.0.0/8,1,zz,02:00:00:00:00:fe"
                .parse::<Route>()
                .is_err()
        );
    }
}
