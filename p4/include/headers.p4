/* nopaxos-rs: header layouts and constants shared by the v1model (bmv2) and TNA (Tofino)
 * builds of p4/nopaxos.p4. The layout is docs/wire-format.md's; the Rust constants of the
 * same bytes are in dataplane/src/wire/, and p4/control/tests/headers_match_wire.rs reads this
 * file to check that the two never drift apart (field order, widths, constants). */
#ifndef NOPAXOS_HEADERS_P4
#define NOPAXOS_HEADERS_P4

/* --- constants ------------------------------------------------------------------------ */
const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<8>  IP_PROTO_UDP = 17;
/* The OUM preamble: bytes 18 03 05 20 on the wire (dsnet writes the u32 0x20050318
 * little-endian); as a big-endian bit<32> field that is 0x18030520. */
const bit<32> OUM_PREAMBLE = 0x18030520;
/* Header size 0: written by clients, not yet sequenced. */
const bit<16> OUM_UNSEQUENCED_HEADER_SIZE = 0;
/* Header size 10: stamped (2-byte session + 8-byte message number follow). */
const bit<16> OUM_SEQUENCED_HEADER_SIZE = 10;
/* The OUM UDP port unless the control plane configures another. */
const bit<16> OUM_DEFAULT_PORT = 22222;
/* Bytes of UDP header + OUM header: a UDP length below this leaves no room for OUM. */
const bit<16> UDP_OUM_MIN_LENGTH = 24;
/* Group slots (one register cell per group and counter word). */
#define OUM_MAX_GROUPS 1024
/* IPv4 options: at most 10 32-bit words (IHL 15). */
#define IPV4_MAX_OPTION_WORDS 10

/* Outcome codes, the index of the `verdicts` packet counter. */
const bit<32> VERDICT_STAMPED = 0;           /* stamped and multicast */
const bit<32> VERDICT_FORWARDED = 1;         /* ordinary IPv4 traffic, routed */
const bit<32> VERDICT_DROP_NOT_IPV4 = 2;     /* no (well-formed, complete) IPv4 header */
const bit<32> VERDICT_DROP_NO_ROUTE = 3;     /* not stampable and no route, or TTL <= 1 */
const bit<32> VERDICT_DROP_EXHAUSTED = 4;    /* the group's 64-bit counter is used up */
const bit<32> VERDICT_DROP_PARSER = 5;       /* the frame ends inside a parsed header */
/* An OUM packet to the OUM port with a header size other than 0 (a stamp, or a claim of one)
 * that entered on a host-facing port (table host_ports): only a sequencer stamps, so a host
 * sending one is forging it (docs/p4.md, "Forged stamps"). */
const bit<32> VERDICT_DROP_HOST_STAMP = 6;
#define VERDICT_COUNT 7

/* --- headers -------------------------------------------------------------------------- */
header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdr_checksum;
    bit<32> src_addr;
    bit<32> dst_addr;
}

/* One 32-bit word of IPv4 options; IHL - 5 of them follow the fixed header. */
header ipv4_option_word_t {
    bit<32> word;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> len;
    bit<16> checksum;
}

/* The OUM header, 16 bytes right after the UDP header. */
header oum_t {
    bit<32> preamble;
    bit<16> header_size;
    bit<16> session;
    bit<64> msgnum;
}

struct headers_t {
    ethernet_t ethernet;
    ipv4_t ipv4;
    ipv4_option_word_t[IPV4_MAX_OPTION_WORDS] ipv4_opts;
    udp_t udp;
    oum_t oum;
}

/* What the shared classification (include/classify.p4) finds out about a packet. */
struct nopaxos_meta_t {
    bool    ipv4_complete;   /* the parser got through the IPv4 header and all its options */
    bool    ipv4_ok;         /* well-formed IPv4, fully present: may be routed */
    bool    oum_candidate;   /* an unsequenced OUM request to the OUM port: may be stamped */
    bool    oum_enabled;     /* the control plane has configured the sequencer */
    bit<16> oum_port;        /* from the control plane */
    bit<16> session;         /* from the control plane */
    bool    stamp_claim;     /* an OUM packet to the OUM port whose header size is not 0 */
    bool    from_host_port;  /* it entered on a host-facing port (table host_ports) */
    bit<32> slot;            /* the group's register index */
    bit<32> verdict;
}

#endif /* NOPAXOS_HEADERS_P4 */
