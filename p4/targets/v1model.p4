/* nopaxos-rs: the OUM sequencer for v1model (bmv2 simple_switch). Included by
 * p4/nopaxos.p4 when __TARGET_TOFINO__ is not defined. Table, action and register names are
 * the control plane's vocabulary (p4/control generates simple_switch_CLI commands for them).
 *
 * The 64-bit message number is built exactly as on Tofino (targets/tna.p4): three "paired"
 * 32-bit registers per group, each pair = (value, session tag), so the golden vectors run on
 * bmv2 check the Tofino algorithm too:
 *   lo:  tag != session ? (lo = 1, tag = session) : lo = lo + 1          -> new_lo
 *   hi:  tag != session ? (hi = 0, tag = session)
 *                       : (new_lo == 0 && hi != 0xffffffff) ? hi = hi + 1 -> new_hi
 *   ex:  tag != session ? (ex = 0, tag = session)
 *                       : (new_lo == 0 && new_hi == 0xffffffff) ? ex = 1  -> exhausted
 * A new session (the control plane rewrites oum_config) therefore restarts every group at 1
 * on the group's next packet, atomically per packet. The message number is new_hi ++ new_lo;
 * after 2^64 - 1 the high word saturates, the low word wraps to 0, `ex` latches and every
 * later packet of the group is dropped until the session changes (wire-format.md). */


parser NopaxosParser(packet_in pkt, out headers_t hdr, inout nopaxos_meta_t meta,
                     inout standard_metadata_t standard_metadata) {
    state start {
        meta.ipv4_complete = false;
        transition parse_ethernet;
    }
#include "../include/parser_states.p4"
}

control NopaxosVerifyChecksum(inout headers_t hdr, inout nopaxos_meta_t meta) {
    apply { }
}

control NopaxosIngress(inout headers_t hdr, inout nopaxos_meta_t meta,
                       inout standard_metadata_t standard_metadata) {
    /* Session (tag) of each pair and the values. */
    register<bit<32>>(OUM_MAX_GROUPS) counter_lo;
    register<bit<32>>(OUM_MAX_GROUPS) counter_lo_tag;
    register<bit<32>>(OUM_MAX_GROUPS) counter_hi;
    register<bit<32>>(OUM_MAX_GROUPS) counter_hi_tag;
    register<bit<32>>(OUM_MAX_GROUPS) exhausted;
    register<bit<32>>(OUM_MAX_GROUPS) exhausted_tag;
    /* The multicast group of each slot; 0 = slot disabled (treated as an unknown group). */
    register<bit<32>>(OUM_MAX_GROUPS) group_mgrp;
    counter(VERDICT_COUNT, CounterType.packets) verdicts;

    action oum_disabled() {
        meta.oum_enabled = false;
        meta.oum_port = 0;
        meta.session = 0;
    }
    action set_oum_config(bit<16> oum_port, bit<16> session) {
        meta.oum_enabled = true;
        meta.oum_port = oum_port;
        meta.session = session;
    }
    /* Keyless: its default action is the sequencer's configuration. A sequencer failover
     * is one table_set_default with a new session number. */
    table oum_config {
        actions = { oum_disabled; set_oum_config; }
        default_action = oum_disabled();
        size = 1;
    }

    action set_oum_group(bit<32> slot) {
        meta.slot = slot;
    }
    table oum_groups {
        key = { hdr.ipv4.dst_addr: exact; }
        actions = { set_oum_group; NoAction; }
        default_action = NoAction();
        size = OUM_MAX_GROUPS;
    }

    /* Ports that clients and other hosts sit on (not replicas, not links to other
     * switches): a stamp entering there is forged and dropped. Keyed by the ingress port;
     * p4-control --host-ports fills it. */
    action from_host() {
        meta.from_host_port = true;
    }
    table host_ports {
        key = { standard_metadata.ingress_port: exact; }
        actions = { from_host; NoAction; }
        default_action = NoAction();
        size = 512;
    }

    action ipv4_forward(bit<9> port, bit<48> dst_mac, bit<48> src_mac) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.dst_addr = dst_mac;
        hdr.ethernet.src_addr = src_mac;
        DECREMENT_TTL_AND_PATCH_CHECKSUM(hdr)
        meta.verdict = VERDICT_FORWARDED;
    }
    action ipv4_drop() {
        mark_to_drop(standard_metadata);
        meta.verdict = VERDICT_DROP_NO_ROUTE;
    }
    table ipv4_routes {
        key = { hdr.ipv4.dst_addr: lpm; }
        actions = { ipv4_forward; ipv4_drop; }
        default_action = ipv4_drop();
        size = 1024;
    }

    apply {
        meta.verdict = VERDICT_DROP_NOT_IPV4;
        meta.from_host_port = false;
        oum_config.apply();
        host_ports.apply();
        bool ipv4_in_frame = hdr.ipv4.isValid()
            && standard_metadata.packet_length >= 14 + (bit<32>)hdr.ipv4.total_len;
        Classify.apply(hdr, ipv4_in_frame, meta);

        bool handled = false;
        if (standard_metadata.parser_error != error.NoError) {
            /* The frame ends inside a header the parser extracts: never stamped, never
             * routed. */
            mark_to_drop(standard_metadata);
            meta.verdict = VERDICT_DROP_PARSER;
            handled = true;
        } else if (meta.oum_enabled && meta.stamp_claim && meta.from_host_port) {
            /* A host sent a stamp: forged (only a sequencer stamps). Neither stamped nor
             * routed. */
            mark_to_drop(standard_metadata);
            meta.verdict = VERDICT_DROP_HOST_STAMP;
            handled = true;
        } else if (meta.oum_enabled && meta.oum_candidate) {
            if (oum_groups.apply().hit) {
                bit<32> mgrp;
                group_mgrp.read(mgrp, meta.slot);
                if (mgrp != 0) {
                    handled = true;
                    bit<32> session = (bit<32>)meta.session;
                    bit<32> lo;
                    bit<32> lo_tag;
                    bit<32> hi;
                    bit<32> hi_tag;
                    bit<32> ex;
                    bit<32> ex_tag;
                    @atomic {
                        /* lo pair */
                        counter_lo.read(lo, meta.slot);
                        counter_lo_tag.read(lo_tag, meta.slot);
                        if (lo_tag != session) {
                            lo = 1;
                            lo_tag = session;
                        } else {
                            lo = lo + 1;
                        }
                        counter_lo.write(meta.slot, lo);
                        counter_lo_tag.write(meta.slot, lo_tag);
                        /* hi pair: moves when the low word wraps, saturates at the top */
                        counter_hi.read(hi, meta.slot);
                        counter_hi_tag.read(hi_tag, meta.slot);
                        if (hi_tag != session) {
                            hi = 0;
                            hi_tag = session;
                        } else if (lo == 0 && hi != 32w0xffffffff) {
                            hi = hi + 1;
                        }
                        counter_hi.write(meta.slot, hi);
                        counter_hi_tag.write(meta.slot, hi_tag);
                        /* exhausted latch */
                        exhausted.read(ex, meta.slot);
                        exhausted_tag.read(ex_tag, meta.slot);
                        if (ex_tag != session) {
                            ex = 0;
                            ex_tag = session;
                        } else if (lo == 0 && hi == 32w0xffffffff) {
                            ex = 1;
                        }
                        exhausted.write(meta.slot, ex);
                        exhausted_tag.write(meta.slot, ex_tag);
                    }
                    if (ex != 0) {
                        mark_to_drop(standard_metadata);
                        meta.verdict = VERDICT_DROP_EXHAUSTED;
                    } else {
                        hdr.oum.header_size = OUM_SEQUENCED_HEADER_SIZE;
                        hdr.oum.session = meta.session;
                        hdr.oum.msgnum = hi ++ lo;
                        hdr.udp.checksum = 0;
                        standard_metadata.mcast_grp = mgrp[15:0];
                        meta.verdict = VERDICT_STAMPED;
                    }
                }
            }
        }
        if (!handled) {
            if (meta.ipv4_ok && hdr.ipv4.ttl > 1) {
                ipv4_routes.apply();
            } else {
                mark_to_drop(standard_metadata);
                if (meta.ipv4_ok) {
                    meta.verdict = VERDICT_DROP_NO_ROUTE;
                }
            }
        }
        verdicts.count(meta.verdict);
    }
}

control NopaxosEgress(inout headers_t hdr, inout nopaxos_meta_t meta,
                      inout standard_metadata_t standard_metadata) {
    /* Optional per-member readdressing of stamped copies (include/classify.p4). Without an
     * entry for the port, the copy leaves unchanged (group address and OUM port), which is
     * what the golden vectors expect. */
    MEMBER_REWRITE_ACTION(hdr)
    table member_rewrite {
        key = { standard_metadata.egress_port: exact; }
        actions = { to_member; NoAction; }
        default_action = NoAction();
        size = 512;
    }
    apply {
        if (meta.verdict == VERDICT_STAMPED) {
            member_rewrite.apply();
        }
    }
}

control NopaxosComputeChecksum(inout headers_t hdr, inout nopaxos_meta_t meta) {
    /* The IPv4 checksum is patched incrementally when routing (options included); a stamp
     * leaves the IPv4 header alone and sets the UDP checksum to 0. */
    apply { }
}

control NopaxosDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr);
    }
}

V1Switch(NopaxosParser(), NopaxosVerifyChecksum(), NopaxosIngress(), NopaxosEgress(),
         NopaxosComputeChecksum(), NopaxosDeparser()) main;
