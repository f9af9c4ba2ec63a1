/* nopaxos-rs: the checks that decide whether a packet is well-formed IPv4 (routable) and
 * whether it is an unsequenced OUM request (stampable), shared by both targets. The order
 * and meaning follow docs/wire-format.md "What a sequencer checks"; the outcome for each
 * drop reason of the Rust sequencer is listed in docs/p4.md.
 *
 * `ipv4_in_frame`: the frame holds the whole IPv4 total length. v1model knows the frame
 * length in ingress; Tofino's ingress does not, so the TNA build passes true (documented
 * divergence: a frame cut short inside the UDP payload is not detected there).
 *
 * `stamp_claim`: routable IPv4 carrying an OUM header (right preamble) to the OUM port with
 * a header size other than 0: a stamp (10), an authenticated stamp (18) or anything else a
 * sequencer would not take as a request. Only a sequencer writes such a header, so one
 * entering on a host-facing port is dropped (both targets' ingress, table host_ports). */
control Classify(in headers_t hdr, in bool ipv4_in_frame, inout nopaxos_meta_t meta) {
    apply {
        meta.ipv4_ok = false;
        meta.oum_candidate = false;
        meta.stamp_claim = false;
        if (hdr.ipv4.isValid() && meta.ipv4_complete) {
            /* The parser only completes IPv4 for version 4 and IHL 5..15. */
            bit<16> header_len = ((bit<16>)hdr.ipv4.ihl) << 2;
            if (hdr.ipv4.total_len >= header_len && ipv4_in_frame) {
                meta.ipv4_ok = true;
                /* UDP is parsed only for unfragmented packets with protocol 17. */
                if (hdr.udp.isValid() && hdr.oum.isValid()
                        && hdr.udp.len <= hdr.ipv4.total_len - header_len
                        && hdr.udp.dst_port == meta.oum_port
                        && hdr.oum.preamble == OUM_PREAMBLE
                        && hdr.oum.header_size == OUM_UNSEQUENCED_HEADER_SIZE) {
                    /* hdr.oum valid implies udp.len >= 24 (parser), so 8 <= len holds. */
                    meta.oum_candidate = true;
                }
                if (hdr.udp.isValid() && hdr.oum.isValid()
                        && hdr.udp.dst_port == meta.oum_port
                        && hdr.oum.preamble == OUM_PREAMBLE
                        && hdr.oum.header_size != OUM_UNSEQUENCED_HEADER_SIZE) {
                    meta.stamp_claim = true;
                }
            }
        }
    }
}

/* Decrement the TTL and patch the header checksum incrementally (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m')). Only the TTL/protocol word changes, by -0x0100, so
 * ~m + m' = 0xfeff. Works with IPv4 options, which a recompute over the fixed header would
 * get wrong. */
#define DECREMENT_TTL_AND_PATCH_CHECKSUM(hdr)                                     \
    {                                                                            \
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;                                         \
        bit<32> csum_sum = (bit<32>)(~hdr.ipv4.hdr_checksum) + 32w0xfeff;        \
        csum_sum = (csum_sum & 32w0xffff) + (csum_sum >> 16);                    \
        csum_sum = (csum_sum & 32w0xffff) + (csum_sum >> 16);                    \
        hdr.ipv4.hdr_checksum = ~(csum_sum[15:0]);                               \
    }

/* Readdress a stamped copy to one member (MAC, IPv4 address, UDP port), so that a replica
 * listening on kernel UDP at its own address gets it, as the DPDK sequencer does. The IPv4
 * checksum is patched incrementally (RFC 1624) for the two changed address words, which
 * stays right with IPv4 options; the UDP checksum is already 0. Shared by both targets'
 * egress table `member_rewrite`. */
#define MEMBER_REWRITE_ACTION(hdr)                                                      \
    action to_member(bit<48> dst_mac, bit<32> dst_addr, bit<16> dst_port) {              \
        bit<32> rw_sum = (bit<32>)(~hdr.ipv4.hdr_checksum)                               \
            + (bit<32>)(~hdr.ipv4.dst_addr[31:16]) + (bit<32>)(~hdr.ipv4.dst_addr[15:0]) \
            + (bit<32>)dst_addr[31:16] + (bit<32>)dst_addr[15:0];                        \
        rw_sum = (rw_sum & 32w0xffff) + (rw_sum >> 16);                                  \
        rw_sum = (rw_sum & 32w0xffff) + (rw_sum >> 16);                                  \
        hdr.ipv4.hdr_checksum = ~(rw_sum[15:0]);                                         \
        hdr.ipv4.dst_addr = dst_addr;                                                    \
        hdr.ethernet.dst_addr = dst_mac;                                                 \
        hdr.udp.dst_port = dst_port;                                                     \
    }
