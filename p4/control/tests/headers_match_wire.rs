//! The P4 header definitions (p4/include/headers.p4) against the Rust wire types
//! (dataplane::wire): same fields in the same order with the same widths, and the same
//! constants. Reads the .p4 source, so an edit on either side that breaks the byte layout
//! fails here.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};

use dataplane::wire::{
    ETHERNET_HEADER_LEN, EtherType, EthernetHeader, IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Header,
    OUM_DEFAULT_PORT, OUM_HEADER_LEN, OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE,
    OUM_UNSEQUENCED_HEADER_SIZE, OumHeader, UDP_HEADER_LEN, UdpHeader,
};

fn source() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/headers.p4");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Strips /* */ and // comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `header NAME { bit<W> field; ... }` blocks: name -> [(field, width)].
fn headers(text: &str) -> BTreeMap<String, Vec<(String, u32)>> {
    let text = strip_comments(text);
    let mut out = BTreeMap::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("header ") {
        let after = &rest[i + "header ".len()..];
        let open = after.find('{').expect("header without body");
        let close = after.find('}').expect("unterminated header");
        let name = after[..open].trim().to_string();
        let mut fields = Vec::new();
        for decl in after[open + 1..close]
            .split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            let (ty, field) = decl.split_once(char::is_whitespace).expect("field");
            let width: u32 = ty
                .strip_prefix("bit<")
                .and_then(|t| t.strip_suffix('>'))
                .unwrap_or_else(|| panic!("{name}: field type `{ty}` is not bit<N>"))
                .parse()
                .unwrap();
            fields.push((field.trim().to_string(), width));
        }
        out.insert(name, fields);
        rest = &after[close + 1..];
    }
    out
}

/// `const bit<W> NAME = VALUE;` -> (W, VALUE).
fn constants(text: &str) -> BTreeMap<String, (u32, u64)> {
    let text = strip_comments(text);
    let mut out = BTreeMap::new();
    for stmt in text.split(';') {
        let Some(start) = stmt.find("const bit<") else {
            continue;
        };
        let rest = &stmt[start + "const bit<".len()..];
        let (width, rest) = rest.split_once('>').unwrap();
        let (name, value) = rest.split_once('=').unwrap();
        let value = value.trim();
        let value = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
            None => value.parse().unwrap(),
        };
        out.insert(name.trim().to_string(), (width.parse().unwrap(), value));
    }
    out
}

/// Checks a P4 header against a Rust struct: `rust` lists the struct's fields as (name,
/// byte offset) in declaration order, and for each the P4 fields that make it up.
fn compare(
    p4: &[(String, u32)],
    rust: &[(&str, usize, &[&str])],
    rust_size: usize,
    what: &str,
) -> Result<(), String> {
    let p4_bits: u32 = p4.iter().map(|(_, w)| w).sum();
    if p4_bits as usize != rust_size * 8 {
        return Err(format!(
            "{what}: P4 header is {p4_bits} bits, Rust struct {rust_size} bytes"
        ));
    }
    let mut p4_iter = p4.iter();
    let mut bit = 0usize;
    for (i, (rust_field, offset, parts)) in rust.iter().enumerate() {
        if bit != offset * 8 {
            return Err(format!(
                "{what}.{rust_field}: P4 fields before it end at bit {bit}"
            ));
        }
        let end = rust.get(i + 1).map_or(rust_size, |next| next.1);
        for part in *parts {
            let (name, width) = p4_iter
                .next()
                .ok_or_else(|| format!("{what}: P4 header ends before `{part}`"))?;
            if name != part {
                return Err(format!(
                    "{what}: P4 field order differs at `{rust_field}`: `{name}`, want `{part}`"
                ));
            }
            bit += *width as usize;
        }
        if bit != end * 8 {
            return Err(format!(
                "{what}.{rust_field}: P4 fields {parts:?} cover {} bits, Rust field {} bits",
                bit - offset * 8,
                (end - offset) * 8
            ));
        }
    }
    match p4_iter.next() {
        Some((name, _)) => Err(format!("{what}: extra P4 field `{name}`")),
        None => Ok(()),
    }
}

fn check(p4: &[(String, u32)], rust: &[(&str, usize, &[&str])], rust_size: usize, what: &str) {
    if let Err(e) = compare(p4, rust, rust_size, what) {
        panic!("{e}");
    }
}

#[test]
fn p4_headers_have_the_rust_layout() {
    let text = source();
    let h = headers(&text);

    assert_eq!(size_of::<EthernetHeader>(), ETHERNET_HEADER_LEN);
    check(
        &h["ethernet_t"],
        &[
            ("dst", offset_of!(EthernetHeader, dst), &["dst_addr"]),
            ("src", offset_of!(EthernetHeader, src), &["src_addr"]),
            (
                "ethertype",
                offset_of!(EthernetHeader, ethertype),
                &["ether_type"],
            ),
        ],
        size_of::<EthernetHeader>(),
        "ethernet",
    );

    assert_eq!(size_of::<Ipv4Header>(), IPV4_MIN_HEADER_LEN);
    check(
        &h["ipv4_t"],
        &[
            (
                "version_ihl",
                offset_of!(Ipv4Header, version_ihl),
                &["version", "ihl"],
            ),
            ("dscp_ecn", offset_of!(Ipv4Header, dscp_ecn), &["diffserv"]),
            (
                "total_len",
                offset_of!(Ipv4Header, total_len),
                &["total_len"],
            ),
            ("ident", offset_of!(Ipv4Header, ident), &["identification"]),
            (
                "flags_fragment",
                offset_of!(Ipv4Header, flags_fragment),
                &["flags", "frag_offset"],
            ),
            ("ttl", offset_of!(Ipv4Header, ttl), &["ttl"]),
            ("protocol", offset_of!(Ipv4Header, protocol), &["protocol"]),
            (
                "checksum",
                offset_of!(Ipv4Header, checksum),
                &["hdr_checksum"],
            ),
            ("src", offset_of!(Ipv4Header, src), &["src_addr"]),
            ("dst", offset_of!(Ipv4Header, dst), &["dst_addr"]),
        ],
        size_of::<Ipv4Header>(),
        "ipv4",
    );
    // The nibble split inside version_ihl and the 3/13 split of flags_fragment: the P4
    // widths, and the Rust accessors' reading of a header with known bits.
    let ipv4 = &h["ipv4_t"];
    assert_eq!(ipv4[0], ("version".to_string(), 4));
    assert_eq!(ipv4[1], ("ihl".to_string(), 4));
    assert_eq!(ipv4[5], ("flags".to_string(), 3));
    assert_eq!(ipv4[6], ("frag_offset".to_string(), 13));
    assert_eq!(h["ipv4_option_word_t"], vec![("word".to_string(), 32)]);

    assert_eq!(size_of::<UdpHeader>(), UDP_HEADER_LEN);
    check(
        &h["udp_t"],
        &[
            ("src_port", offset_of!(UdpHeader, src_port), &["src_port"]),
            ("dst_port", offset_of!(UdpHeader, dst_port), &["dst_port"]),
            ("length", offset_of!(UdpHeader, length), &["len"]),
            ("checksum", offset_of!(UdpHeader, checksum), &["checksum"]),
        ],
        size_of::<UdpHeader>(),
        "udp",
    );

    assert_eq!(size_of::<OumHeader>(), OUM_HEADER_LEN);
    check(
        &h["oum_t"],
        &[
            ("preamble", offset_of!(OumHeader, preamble), &["preamble"]),
            (
                "header_size",
                offset_of!(OumHeader, header_size),
                &["header_size"],
            ),
            ("session", offset_of!(OumHeader, session), &["session"]),
            ("msgnum", offset_of!(OumHeader, msgnum), &["msgnum"]),
        ],
        size_of::<OumHeader>(),
        "oum",
    );
}

#[test]
fn p4_constants_match_the_rust_constants() {
    let c = constants(&source());
    assert_eq!(
        c["OUM_PREAMBLE"],
        (32, u64::from(u32::from_be_bytes(OUM_PREAMBLE))),
        "the preamble as a big-endian bit<32> field"
    );
    assert_eq!(
        c["OUM_UNSEQUENCED_HEADER_SIZE"],
        (16, u64::from(OUM_UNSEQUENCED_HEADER_SIZE))
    );
    assert_eq!(
        c["OUM_SEQUENCED_HEADER_SIZE"],
        (16, u64::from(OUM_SEQUENCED_HEADER_SIZE))
    );
    assert_eq!(c["OUM_DEFAULT_PORT"], (16, u64::from(OUM_DEFAULT_PORT)));
    assert_eq!(c["ETHERTYPE_IPV4"], (16, u64::from(EtherType::IPV4.0)));
    assert_eq!(c["IP_PROTO_UDP"], (8, u64::from(IpProtocol::UDP.0)));
    assert_eq!(
        c["UDP_OUM_MIN_LENGTH"],
        (16, (UDP_HEADER_LEN + OUM_HEADER_LEN) as u64)
    );
}

#[test]
fn headers_struct_keeps_the_wire_order() {
    let text = strip_comments(&source());
    let body = text
        .split("struct headers_t {")
        .nth(1)
        .and_then(|b| b.split('}').next())
        .expect("struct headers_t");
    let order: Vec<&str> = body
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.split_whitespace().last().unwrap_or_default())
        .collect();
    assert_eq!(order, ["ethernet", "ipv4", "ipv4_opts", "udp", "oum"]);
}

#[test]
fn the_parser_reads_the_layout_it_should() {
    // Self-check of the test's own parser on a header with a deliberate mistake.
    let h = headers("header x_t { bit<16> a; /* c */ bit<8> b; // d\n }");
    assert_eq!(h["x_t"], vec![("a".to_string(), 16), ("b".to_string(), 8)]);
    let result = compare(
        &[("a".to_string(), 8), ("b".to_string(), 8)],
        &[("a", 0, &["a"]), ("b", 1, &["b"])],
        3,
        "x",
    );
    assert!(result.is_err(), "a width mismatch must fail");
    let swapped = compare(
        &[("b".to_string(), 8), ("a".to_string(), 8)],
        &[("a", 0, &["a"]), ("b", 1, &["b"])],
        2,
        "x",
    );
    assert!(
        swapped.unwrap_err().contains("order"),
        "a swapped field must fail"
    );
}
