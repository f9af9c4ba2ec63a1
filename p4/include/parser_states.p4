/* nopaxos-rs: parser states shared by the v1model and TNA parsers. Included inside a
 * parser body that declares `packet_in pkt`, `headers_t hdr` and `nopaxos_meta_t meta`, and
 * whose start state transitions to parse_ethernet.
 *
 * What is parsed: Ethernet; IPv4 (version 4, IHL 5..15 with its options as 32-bit words);
 * UDP when the packet is not a fragment (MF clear, offset 0) and the protocol is 17; the OUM
 * header when the UDP length leaves room for it (>= 24), whatever the port: the ingress
 * decides whether the port is the OUM port, and a header that is parsed but not stamped is
 * deparsed unchanged. What is not parsed (see docs/p4.md, "What the parser does not handle"):
 * 802.1Q tags, IPv6, any other EtherType, IPv4 with version != 4 or IHL < 5, fragments, and
 * non-UDP protocols (their payload is carried as opaque bytes). */

state parse_ethernet {
    pkt.extract(hdr.ethernet);
    transition select(hdr.ethernet.ether_type) {
        ETHERTYPE_IPV4: parse_ipv4;
        default: accept;
    }
}

state parse_ipv4 {
    pkt.extract(hdr.ipv4);
    transition select(hdr.ipv4.version, hdr.ipv4.ihl) {
        (4, 5): parse_ipv4_l4;
        (4, 6): parse_ipv4_opt1;
        (4, 7): parse_ipv4_opt2;
        (4, 8): parse_ipv4_opt3;
        (4, 9): parse_ipv4_opt4;
        (4, 10): parse_ipv4_opt5;
        (4, 11): parse_ipv4_opt6;
        (4, 12): parse_ipv4_opt7;
        (4, 13): parse_ipv4_opt8;
        (4, 14): parse_ipv4_opt9;
        (4, 15): parse_ipv4_opt10;
        /* Version != 4 or IHL < 5: the ingress drops it as malformed. */
        default: accept;
    }
}

/* One state per remaining option word: portable to targets without parser loops. */
state parse_ipv4_opt10 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt9; }
state parse_ipv4_opt9 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt8; }
state parse_ipv4_opt8 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt7; }
state parse_ipv4_opt7 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt6; }
state parse_ipv4_opt6 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt5; }
state parse_ipv4_opt5 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt4; }
state parse_ipv4_opt4 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt3; }
state parse_ipv4_opt3 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt2; }
state parse_ipv4_opt2 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_opt1; }
state parse_ipv4_opt1 { pkt.extract(hdr.ipv4_opts.next); transition parse_ipv4_l4; }

state parse_ipv4_l4 {
    meta.ipv4_complete = true;
    /* flags = reserved, DF, MF: only unfragmented packets (MF clear, offset 0) carry a UDP
     * header we may look at. */
    transition select(hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
        (3w0 &&& 3w1, 13w0, IP_PROTO_UDP): parse_udp;
        default: accept;
    }
}

state parse_udp {
    pkt.extract(hdr.udp);
    /* A UDP length below 24 leaves no room for the 16-byte OUM header (0..15, 16..23). */
    transition select(hdr.udp.len) {
        16w0 &&& 16w0xfff0: accept;
        16w16 &&& 16w0xfff8: accept;
        default: parse_oum;
    }
}

state parse_oum {
    pkt.extract(hdr.oum);
    transition accept;
}
