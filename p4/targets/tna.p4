/* nopaxos-rs: the OUM sequencer for Tofino (TNA). Included by p4/nopaxos.p4 when the Tofino
 * compiler defines __TARGET_TOFINO__. Same parser states, checks and control-plane names as
 * the v1model build (targets/v1model.p4), with Tofino's registers: at most 32 bits per
 * stateful ALU, so each group has three paired registers (value, session tag), each with
 * one RegisterAction:
 *   counter_lo    next_lo:  tag != session ? (1, session) : value + 1              -> new_lo
 *   counter_hi    next_hi:  tag != session ? (0, session)
 *                         : (new_lo == 0 && value != 0xffffffff) ? value + 1       -> new_hi
 *   exhausted     latch_ex: tag != session ? (0, session) : at_top ? 1 : value     -> ex
 * where at_top = (new_lo == 0 && new_hi == 0xffffffff), computed between the second and
 * third stage. The message number is new_hi ++ new_lo. The session comes from the keyless
 * table oum_config (control plane); a new session restarts each group at 1 on its next
 * packet, with no control-plane write to the counters.
 *
 * Only stamped copies go through the egress pipeline (every other packet bypasses it): the
 * egress re-parses them and applies the same per-member readdressing as the v1model build
 * (table member_rewrite on the egress port, include/classify.p4).
 *
 * Checked here only with p4test (type checks against the TNA includes); Tofino resource
 * fitting (stateful ALU condition limits, stages) is for bf-p4c, not run in this repo. */

struct pair_t {
    bit<32> value;
    bit<32> tag;
}

parser NopaxosIngressParser(packet_in pkt, out headers_t hdr, out nopaxos_meta_t meta,
                            out ingress_intrinsic_metadata_t ig_intr_md) {
    state start {
        meta.ipv4_complete = false;
        meta.ipv4_ok = false;
        meta.oum_candidate = false;
        meta.stamp_claim = false;
        meta.from_host_port = false;
        meta.oum_enabled = false;
        meta.oum_port = 0;
        meta.session = 0;
        meta.slot = 0;
        meta.verdict = VERDICT_DROP_NOT_IPV4;
        pkt.extract(ig_intr_md);
        pkt.advance(PORT_METADATA_SIZE);
        transition parse_ethernet;
    }
#include "../include/parser_states.p4"
}

control NopaxosIngress(inout headers_t hdr, inout nopaxos_meta_t meta,
                       in ingress_intrinsic_metadata_t ig_intr_md,
                       in ingress_intrinsic_metadata_from_parser_t ig_prsr_md,
                       inout ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md,
                       inout ingress_intrinsic_metadata_for_tm_t ig_tm_md) {
    bit<32> new_lo = 0;
    bit<32> new_hi = 0;
    bit<32> ex = 0;
    bit<1> at_top = 0;
    bit<16> mgrp = 0;

    Register<pair_t, bit<32>>(OUM_MAX_GROUPS) counter_lo;
    RegisterAction<pair_t, bit<32>, bit<32>>(counter_lo) next_lo = {
        void apply(inout pair_t v, out bit<32> rv) {
            if (v.tag != (bit<32>)meta.session) {
                v.value = 1;
                v.tag = (bit<32>)meta.session;
            } else {
                v.value = v.value + 1;
            }
            rv = v.value;
        }
    };

    Register<pair_t, bit<32>>(OUM_MAX_GROUPS) counter_hi;
    RegisterAction<pair_t, bit<32>, bit<32>>(counter_hi) next_hi = {
        void apply(inout pair_t v, out bit<32> rv) {
            if (v.tag != (bit<32>)meta.session) {
                v.value = 0;
                v.tag = (bit<32>)meta.session;
            } else if (new_lo == 0 && v.value != 32w0xffffffff) {
                v.value = v.value + 1;
            }
            rv = v.value;
        }
    };

    Register<pair_t, bit<32>>(OUM_MAX_GROUPS) exhausted;
    RegisterAction<pair_t, bit<32>, bit<32>>(exhausted) latch_ex = {
        void apply(inout pair_t v, out bit<32> rv) {
            if (v.tag != (bit<32>)meta.session) {
                v.value = 0;
                v.tag = (bit<32>)meta.session;
            } else if (at_top == 1) {
                v.value = 1;
            }
            rv = v.value;
        }
    };

    /* The multicast group of each slot; 0 = slot disabled (treated as an unknown group). */
    Register<bit<16>, bit<32>>(OUM_MAX_GROUPS) group_mgrp;
    RegisterAction<bit<16>, bit<32>, bit<16>>(group_mgrp) read_mgrp = {
        void apply(inout bit<16> v, out bit<16> rv) {
            rv = v;
        }
    };

    Counter<bit<32>, bit<32>>(VERDICT_COUNT, CounterType_t.PACKETS) verdicts;

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

    /* Ports that clients and other hosts sit on: a stamp entering there is forged and
     * dropped (targets/v1model.p4 has the same table). */
    action from_host() {
        meta.from_host_port = true;
    }
    table host_ports {
        key = { ig_intr_md.ingress_port: exact; }
        actions = { from_host; NoAction; }
        default_action = NoAction();
        size = 512;
    }

    action ipv4_forward(PortId_t port, bit<48> dst_mac, bit<48> src_mac) {
        ig_tm_md.ucast_egress_port = port;
        hdr.ethernet.dst_addr = dst_mac;
        hdr.ethernet.src_addr = src_mac;
        DECREMENT_TTL_AND_PATCH_CHECKSUM(hdr)
        meta.verdict = VERDICT_FORWARDED;
    }
    action ipv4_drop() {
        ig_dprsr_md.drop_ctl = 1;
        meta.verdict = VERDICT_DROP_NO_ROUTE;
    }
    table ipv4_routes {
        key = { hdr.ipv4.dst_addr: lpm; }
        actions = { ipv4_forward; ipv4_drop; }
        default_action = ipv4_drop();
        size = 1024;
    }

    apply {
        ig_tm_md.bypass_egress = 1;
        meta.from_host_port = false;
        oum_config.apply();
        host_ports.apply();
        /* Tofino's ingress does not know the frame length: see include/classify.p4. */
        Classify.apply(hdr, true, meta);

        bool handled = false;
        if (ig_prsr_md.parser_err != 0) {
            ig_dprsr_md.drop_ctl = 1;
            meta.verdict = VERDICT_DROP_PARSER;
            handled = true;
        } else if (meta.oum_enabled && meta.stamp_claim && meta.from_host_port) {
            /* A host sent a stamp: forged. Neither stamped nor routed. */
            ig_dprsr_md.drop_ctl = 1;
            meta.verdict = VERDICT_DROP_HOST_STAMP;
            handled = true;
        } else if (meta.oum_enabled && meta.oum_candidate) {
            if (oum_groups.apply().hit) {
                mgrp = read_mgrp.execute(meta.slot);
                if (mgrp != 0) {
                    handled = true;
                    new_lo = next_lo.execute(meta.slot);
                    new_hi = next_hi.execute(meta.slot);
                    if (new_lo == 0 && new_hi == 32w0xffffffff) {
                        at_top = 1;
                    }
                    ex = latch_ex.execute(meta.slot);
                    if (ex != 0) {
                        ig_dprsr_md.drop_ctl = 1;
                        meta.verdict = VERDICT_DROP_EXHAUSTED;
                    } else {
                        hdr.oum.header_size = OUM_SEQUENCED_HEADER_SIZE;
                        hdr.oum.session = meta.session;
                        hdr.oum.msgnum = new_hi ++ new_lo;
                        hdr.udp.checksum = 0;
                        ig_tm_md.mcast_grp_a = mgrp;
                        ig_tm_md.bypass_egress = 0;
                        meta.verdict = VERDICT_STAMPED;
                    }
                }
            }
        }
        if (!handled) {
            if (meta.ipv4_ok && hdr.ipv4.ttl > 1) {
                ipv4_routes.apply();
            } else {
                ig_dprsr_md.drop_ctl = 1;
                if (meta.ipv4_ok) {
                    meta.verdict = VERDICT_DROP_NO_ROUTE;
                }
            }
        }
        verdicts.count(meta.verdict);
    }
}

control NopaxosIngressDeparser(packet_out pkt, inout headers_t hdr, in nopaxos_meta_t meta,
                               in ingress_intrinsic_metadata_for_deparser_t ig_dprsr_md) {
    apply {
        pkt.emit(hdr);
    }
}

parser NopaxosEgressParser(packet_in pkt, out headers_t hdr, out nopaxos_meta_t meta,
                           out egress_intrinsic_metadata_t eg_intr_md) {
    /* Only stamped copies get here, so the parse always reaches the OUM header. */
    state start {
        meta.ipv4_complete = false;
        meta.ipv4_ok = false;
        meta.oum_candidate = false;
        meta.stamp_claim = false;
        meta.from_host_port = false;
        meta.oum_enabled = false;
        meta.oum_port = 0;
        meta.session = 0;
        meta.slot = 0;
        meta.verdict = VERDICT_STAMPED;
        pkt.extract(eg_intr_md);
        transition parse_ethernet;
    }
#include "../include/parser_states.p4"
}

control NopaxosEgress(inout headers_t hdr, inout nopaxos_meta_t meta,
                      in egress_intrinsic_metadata_t eg_intr_md,
                      in egress_intrinsic_metadata_from_parser_t eg_prsr_md,
                      inout egress_intrinsic_metadata_for_deparser_t eg_dprsr_md,
                      inout egress_intrinsic_metadata_for_output_port_t eg_oport_md) {
    MEMBER_REWRITE_ACTION(hdr)
    table member_rewrite {
        key = { eg_intr_md.egress_port: exact; }
        actions = { to_member; NoAction; }
        default_action = NoAction();
        size = 512;
    }
    apply {
        member_rewrite.apply();
    }
}

control NopaxosEgressDeparser(packet_out pkt, inout headers_t hdr, in nopaxos_meta_t meta,
                              in egress_intrinsic_metadata_for_deparser_t eg_dprsr_md) {
    apply {
        pkt.emit(hdr);
    }
}

Pipeline(NopaxosIngressParser(), NopaxosIngress(), NopaxosIngressDeparser(),
         NopaxosEgressParser(), NopaxosEgress(), NopaxosEgressDeparser()) pipe;

Switch(pipe) main;
