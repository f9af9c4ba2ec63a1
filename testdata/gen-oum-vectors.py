#!/usr/bin/env python3
"""Writes testdata/oum-vectors.json: the golden vectors every OUM sequencer (Rust, P4, C)
is tested against.

The packets and the expected outputs are computed here from docs/wire-format.md alone,
independently of the Rust code, so the vectors check the Rust sequencer rather than echo it.
Run it from anywhere: python3 testdata/gen-oum-vectors.py [--check]
"""

import json
import os
import struct
import sys

PREAMBLE = bytes([0x18, 0x03, 0x05, 0x20])
OUM_PORT = 22222
MAX64 = (1 << 64) - 1

CLIENT_MAC = bytes.fromhex("020000000001")
SEQ_MAC = bytes.fromhex("0200000000fe")
CLIENT_IP = bytes([10, 0, 0, 1])
GROUP_A = bytes([10, 0, 0, 100])
GROUP_B = bytes([10, 0, 0, 101])
OTHER_IP = bytes([10, 0, 0, 200])


def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def oum_header(size=0, session=0, msgnum=0, preamble=PREAMBLE):
    return preamble + struct.pack("!HHQ", size, session, msgnum)


def frame(payload, dst=GROUP_A, dport=OUM_PORT, sport=40000, proto=17, options=b"",
          udp_checksum=True, ethertype=0x0800, frag=0x4000, version=4, ihl=None,
          total_len=None, udp_len=None, pad_to=0, vlan=None):
    """An Ethernet/IPv4/UDP frame; the keyword arguments break it in the ways the cases need."""
    udp_length = 8 + len(payload) if udp_len is None else udp_len
    udp = bytearray(struct.pack("!HHHH", sport, dport, udp_length, 0) + payload)
    if udp_checksum and proto == 17:
        pseudo = CLIENT_IP + dst + struct.pack("!BBH", 0, 17, len(udp))
        c = csum(pseudo + bytes(udp)) or 0xFFFF
        udp[6:8] = struct.pack("!H", c)
    hl = 20 + len(options)
    ihl_field = hl // 4 if ihl is None else ihl
    total = hl + len(udp) if total_len is None else total_len
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl_field, 0, total, 0x0BAD,
                               frag, 64, proto, 0, CLIENT_IP, dst) + options)
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    eth = SEQ_MAC + CLIENT_MAC
    if vlan is not None:
        eth += struct.pack("!HH", 0x8100, vlan)
    eth += struct.pack("!H", ethertype)
    out = eth + bytes(ip) + bytes(udp)
    if len(out) < pad_to:
        out += b"\0" * (pad_to - len(out))
    return out


def request(body=b"req", **kw):
    return frame(oum_header() + body, **kw)


def stamp(packet, session, msgnum, oum_offset=42):
    """What a sequencer must send: the 12 bytes after the preamble rewritten, UDP checksum 0."""
    out = bytearray(packet)
    out[oum_offset + 4:oum_offset + 16] = struct.pack("!HHQ", 10, session, msgnum)
    udp_offset = oum_offset - 8
    out[udp_offset + 6:udp_offset + 8] = b"\0\0"
    return bytes(out)


def ip_str(b):
    return ".".join(str(x) for x in b)


def group(addr, members, last=0):
    g = {"address": ip_str(addr), "members": members}
    if last:
        g["last_msgnum"] = last
    return g


TWO_GROUPS = [group(GROUP_A, [0, 1, 2]), group(GROUP_B, [3, 4, 5])]


def config(session=1, groups=None, oum_port=OUM_PORT):
    return {"oum_port": oum_port, "session": session,
            "groups": groups if groups is not None else [group(GROUP_A, [0, 1, 2])]}


def out(packet, session, msgnum, group_index=0, members=(0, 1, 2), oum_offset=42):
    return {"packet": packet.hex(), "expect": {
        "verdict": "multicast", "group": group_index, "members": list(members),
        "session": session, "msgnum": msgnum,
        "packet": stamp(packet, session, msgnum, oum_offset).hex()}}


def drop(packet, reason):
    return {"packet": packet.hex(), "expect": {"verdict": "drop", "reason": reason}}


def case(name, description, cfg, steps):
    return {"name": name, "description": description, "config": cfg, "steps": steps}


def cases():
    a1, a2, a3 = (request(b"a%d" % i) for i in (1, 2, 3))
    b1, b2 = (request(b"b%d" % i, dst=GROUP_B) for i in (1, 2))
    opts = bytes([0x94, 0x04, 0x00, 0x00])  # router alert
    long_opts = bytes([0x01] * 11 + [0x00])  # NOPs then end of options: IHL 8
    garbage_header = frame(oum_header(0, 0xDEAD, 0x0123456789ABCDEF) + b"g")
    yield case("first-packet-of-session",
               "The first request of a session gets message number 1 and the session.",
               config(session=7), [out(a1, 7, 1)])
    yield case("consecutive-packets", "Message numbers increase by exactly one.",
               config(session=7), [out(a1, 7, 1), out(a2, 7, 2), out(a3, 7, 3)])
    yield case("two-groups-interleaved", "Each group has its own counter.",
               config(session=3, groups=TWO_GROUPS),
               [out(a1, 3, 1), out(b1, 3, 1, 1, (3, 4, 5)), out(a2, 3, 2),
                out(b2, 3, 2, 1, (3, 4, 5)), out(a3, 3, 3)])
    yield case("unknown-group", "A destination that is not a group address is not stamped.",
               config(), [drop(request(dst=OTHER_IP), "unknown-group")])
    yield case("drops-do-not-consume-numbers", "A dropped packet leaves the counter alone.",
               config(), [out(a1, 1, 1), drop(request(dst=OTHER_IP), "unknown-group"),
                          out(a2, 1, 2)])
    yield case("non-oum-udp", "UDP to another port (DNS here) is not OUM traffic.",
               config(), [drop(request(dport=53), "not-oum-port")])
    yield case("configured-port", "The OUM port is configurable; 22222 is then just a port.",
               config(oum_port=5000),
               [out(request(dport=5000), 1, 1), drop(request(), "not-oum-port")])
    yield case("non-ipv4-arp", "An ARP frame is not IPv4.",
               config(), [drop(SEQ_MAC + CLIENT_MAC + bytes.fromhex("0806") +
                               bytes.fromhex("0001080006040001") + bytes(20), "not-ipv4")])
    yield case("non-ipv4-ipv6", "An IPv6 frame is not IPv4.",
               config(), [drop(request(ethertype=0x86DD), "not-ipv4")])
    yield case("vlan-tagged", "802.1Q-tagged frames are not parsed (documented limitation).",
               config(), [drop(request(vlan=5, ethertype=0x0800), "not-ipv4")])
    yield case("truncated-ethernet", "Shorter than an Ethernet header.",
               config(), [drop(a1[:13], "truncated-ethernet"), drop(b"", "truncated-ethernet")])
    yield case("truncated-ipv4-header", "Frame ends inside the IPv4 header.",
               config(), [drop(a1[:14 + 19], "malformed-ipv4")])
    yield case("truncated-ipv4-packet", "Frame ends before the IPv4 total length.",
               config(), [drop(a1[:-1], "malformed-ipv4")])
    yield case("ipv4-bad-version", "EtherType IPv4 but version 6 in the header.",
               config(), [drop(request(version=6), "malformed-ipv4")])
    yield case("ipv4-bad-ihl", "IHL below 5.",
               config(), [drop(request(ihl=4), "malformed-ipv4")])
    yield case("ipv4-total-length-below-header", "Total length shorter than the header.",
               config(), [drop(request(total_len=19), "malformed-ipv4")])
    yield case("ipv4-fragment", "Fragments are never stamped.",
               config(), [drop(request(frag=0x2000), "ipv4-fragment"),
                          drop(request(frag=0x0010), "ipv4-fragment")])
    yield case("not-udp", "IPv4 carrying TCP.",
               config(), [drop(request(proto=6), "not-udp")])
    yield case("truncated-udp", "UDP length claims more than the IPv4 packet holds.",
               config(), [drop(request(udp_len=8 + 16 + 3 + 1), "malformed-udp"),
                          drop(request(udp_len=7), "malformed-udp")])
    yield case("truncated-oum", "A UDP payload shorter than the 16-byte OUM header.",
               config(), [drop(frame(oum_header()[:15]), "truncated-oum"),
                          drop(frame(b""), "truncated-oum")])
    yield case("empty-body", "A request with nothing after the OUM header is still stamped.",
               config(), [out(frame(oum_header()), 1, 1)])
    yield case("ipv4-with-options", "IHL is honoured: the OUM header moves with the options.",
               config(session=2),
               [out(request(options=opts), 2, 1, oum_offset=46),
                out(request(options=long_opts), 2, 2, oum_offset=54)])
    yield case("ethernet-padding", "A short frame padded to 60 bytes; padding is left alone.",
               config(), [out(frame(oum_header()[:16], pad_to=60), 1, 1)])
    yield case("udp-shorter-than-ip-payload",
               "Bytes after the UDP length are outside the datagram and left alone.",
               config(), [out(request(b"abcdef", udp_len=8 + 16 + 2), 1, 1)])
    yield case("udp-checksum-zero-on-input", "A request without a UDP checksum.",
               config(), [out(request(udp_checksum=False), 1, 1)])
    yield case("already-sequenced", "A stamped packet is never stamped again.",
               config(), [drop(frame(oum_header(10, 1, 5) + b"x"), "already-sequenced"),
                          out(a1, 1, 1)])
    yield case("wrong-preamble", "Anything but 18 03 05 20 is not an OUM header.",
               config(), [drop(frame(oum_header(preamble=bytes([0x20, 0x05, 0x03, 0x18]))),
                               "bad-preamble")])
    yield case("bad-header-size", "Header size neither 0 nor 10.",
               config(), [drop(frame(oum_header(16)), "bad-header-size")])
    yield case("unsequenced-garbage-in-stamp-fields",
               "A client's leftovers in the session and number fields are overwritten, never "
               "trusted (the original's defect 2).",
               config(session=4), [out(garbage_header, 4, 1)])
    yield case("session-change", "A new session restarts every group's numbers at 1.",
               config(session=5, groups=TWO_GROUPS),
               [out(a1, 5, 1), out(a2, 5, 2), out(b1, 5, 1, 1, (3, 4, 5)),
                {"new_session": 6},
                out(a3, 6, 1), out(b2, 6, 1, 1, (3, 4, 5))])
    yield case("session-wrap", "Session numbers are 16 bits and wrap from 65535 to 0.",
               config(session=65535), [out(a1, 65535, 1), {"new_session": 0}, out(a2, 0, 1)])
    yield case("counter-at-wrap",
               "The last number of a session is 2^64-1; after it the group's packets are "
               "dropped until a new session starts.",
               config(groups=[group(GROUP_A, [0, 1, 2], last=MAX64 - 1)]),
               [out(a1, 1, MAX64), drop(a2, "counter-exhausted"), {"new_session": 2},
                out(a3, 2, 1)])
    yield case("member-lists", "Copies go to the group's own members, in configured order.",
               config(groups=[group(GROUP_A, [4, 0, 2]), group(GROUP_B, [7])]),
               [out(a1, 1, 1, 0, (4, 0, 2)), out(b1, 1, 1, 1, (7,))])


def document():
    return {
        "format": 1,
        "description": "OUM sequencer golden vectors (docs/wire-format.md). Each case gives a "
                       "sequencer configuration and steps; a step is a packet (hex, an Ethernet "
                       "frame) with the expected verdict, or a control-plane action. A dropped "
                       "packet must be left unchanged. Generated by testdata/gen-oum-vectors.py.",
        "cases": list(cases()),
    }


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oum-vectors.json")
    text = json.dumps(document(), indent=1) + "\n"
    if "--check" in sys.argv:
        with open(path) as f:
            if f.read() != text:
                sys.exit(f"{path} is out of date: run python3 testdata/gen-oum-vectors.py")
        print(f"{path} is up to date")
        return
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
