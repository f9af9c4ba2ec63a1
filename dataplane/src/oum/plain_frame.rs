//! Recognising the common request frame with a handful of wide loads, for the sequencer's
//! fast path: Ethernet II, IPv4 without options and not a fragment, UDP to the OUM port,
//! an OUM header with the preamble and "not yet sequenced", and lengths that fill the
//! frame exactly (IPv4 total length = frame - 14, UDP length = total - 20). Anything else
//! (Ethernet padding and IPv4 trailers included, which the parser accepts) is left to the
//! parser (`Sequencer::try_stamp_parsed`), which decides and counts.
//!
//! Why masks over 16-byte words instead of field-by-field compares: on the DPDK path the
//! sequencer has a budget of a few nanoseconds per frame on top of plain forwarding
//! (docs/benchmarks.md), and every field compare is a load, a byte swap and a branch. Two
//! masked 16-byte compares cover every fixed field at once, and the two length fields too,
//! against values computed from the frame's length alone: the frame's bytes then feed
//! one compare and nothing else, so the core need not wait for them to go on.

use crate::wire::{
    ETHERNET_HEADER_LEN, EtherType, IPV4_MIN_HEADER_LEN, IpProtocol, OUM_HEADER_LEN, OUM_PREAMBLE,
    OUM_UNSEQUENCED_HEADER_SIZE, UDP_HEADER_LEN,
};

/// Offsets of a frame without IPv4 options.
const IP: usize = ETHERNET_HEADER_LEN;
pub(super) const UDP: usize = IP + IPV4_MIN_HEADER_LEN;
pub(super) const OUM: usize = UDP + UDP_HEADER_LEN;
/// Bytes a plain request has at least; the fast path reads and writes none beyond.
pub(super) const END: usize = OUM + OUM_HEADER_LEN;

/// First byte of the two compared words: [12, 28) holds the EtherType, version and header
/// length, the fragment field and the protocol; [32, 48) the UDP destination port, the
/// OUM preamble and the header size. The IPv4 destination (30..34) is the group's key.
const HEAD: usize = 12;
const TAIL: usize = 32;
const DST: usize = IP + 16;
const WORD: usize = 16;

/// Where the length fields lie: the IPv4 total length in the first word, the UDP length in
/// the second, each at an even offset into its word (a 16-bit lane).
const TOTAL_AT: usize = IP + 2;
const UDP_LEN_AT: usize = UDP + 4;

/// The fixed bytes of a plain request to one OUM port, as value and mask per word (the
/// length fields masked in, their values zero until `destination` fills them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PlainFrame {
    head: [u8; WORD],
    head_mask: [u8; WORD],
    tail: [u8; WORD],
    tail_mask: [u8; WORD],
}

impl PlainFrame {
    pub(super) fn new(oum_port: u16) -> PlainFrame {
        let mut value = [0u8; END];
        let mut mask = [0u8; END];
        let mut expect = |at: usize, bytes: &[u8], bits: &[u8]| {
            value[at..at + bytes.len()].copy_from_slice(bytes);
            mask[at..at + bits.len()].copy_from_slice(bits);
        };
        expect(12, &EtherType::IPV4.0.to_be_bytes(), &[0xff; 2]);
        expect(IP, &[0x45], &[0xff]);
        expect(TOTAL_AT, &[0, 0], &[0xff; 2]);
        expect(UDP_LEN_AT, &[0, 0], &[0xff; 2]);
        // Flags and fragment offset: only the more-fragments bit and the offset matter
        // (a set DF bit is normal).
        expect(IP + 6, &[0, 0], &0x3fffu16.to_be_bytes());
        expect(IP + 9, &[IpProtocol::UDP.0], &[0xff]);
        expect(UDP + 2, &oum_port.to_be_bytes(), &[0xff; 2]);
        expect(OUM, &OUM_PREAMBLE, &[0xff; 4]);
        expect(
            OUM + 4,
            &OUM_UNSEQUENCED_HEADER_SIZE.to_be_bytes(),
            &[0xff; 2],
        );
        PlainFrame {
            head: word(&value, HEAD),
            head_mask: word(&mask, HEAD),
            tail: word(&value, TAIL),
            tail_mask: word(&mask, TAIL),
        }
    }

    /// The IPv4 destination of a plain request, as its four bytes read natively (see
    /// [`address_key`]); None if `frame` (whose first END bytes are `f`, `len` bytes in
    /// all) is anything else.
    #[inline(always)]
    pub(super) fn destination(&self, f: &[u8; END], len: usize) -> Option<u32> {
        // len >= END, so neither subtraction wraps; a frame too long for the 16-bit
        // length fields is not plain.
        let total = u16::try_from(len - IP).ok()?;
        let udp_len = total - IPV4_MIN_HEADER_LEN as u16;
        if !self.matches(f, total, udp_len) {
            return None;
        }
        Some(u32::from_ne_bytes([
            f[DST],
            f[DST + 1],
            f[DST + 2],
            f[DST + 3],
        ]))
    }

    /// Whether both words of `f` equal the template under its masks, with `total` and
    /// `udp_len` as the length fields' values. On x86-64 in SSE2 registers (part of the
    /// base instruction set): a 16-byte word is one load and one operation per step, and
    /// the lengths go in with one word insert each.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn matches(&self, f: &[u8; END], total: u16, udp_len: u16) -> bool {
        use std::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_insert_epi16, _mm_loadu_si128,
            _mm_movemask_epi8, _mm_or_si128, _mm_setzero_si128, _mm_xor_si128,
        };
        const TOTAL_WORD: i32 = ((TOTAL_AT - HEAD) / 2) as i32;
        const UDP_LEN_WORD: i32 = ((UDP_LEN_AT - TAIL) / 2) as i32;
        // A 16-bit lane holds its two bytes in memory order, low byte first.
        let lane = |v: u16| i32::from(u16::from_le_bytes(v.to_be_bytes()));
        let (head_bytes, tail_bytes) = (&f[HEAD..HEAD + WORD], &f[TAIL..TAIL + WORD]);
        // SAFETY: SSE2 is part of every x86-64 target; each load reads the 16 bytes of a
        // 16-byte slice, unaligned loads being what `_mm_loadu_si128` is for.
        unsafe {
            let load = |w: &[u8]| _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
            let head = _mm_insert_epi16::<TOTAL_WORD>(load(&self.head), lane(total));
            let tail = _mm_insert_epi16::<UDP_LEN_WORD>(load(&self.tail), lane(udp_len));
            let head = _mm_and_si128(_mm_xor_si128(load(head_bytes), head), load(&self.head_mask));
            let tail = _mm_and_si128(_mm_xor_si128(load(tail_bytes), tail), load(&self.tail_mask));
            let zero = _mm_cmpeq_epi8(_mm_or_si128(head, tail), _mm_setzero_si128());
            _mm_movemask_epi8(zero) == 0xffff
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn matches(&self, f: &[u8; END], total: u16, udp_len: u16) -> bool {
        self.matches_portably(f, total, udp_len)
    }

    /// [`matches`](Self::matches) in plain integers: the other targets' version, and the
    /// reference the SSE2 one is tested against.
    #[cfg(any(not(target_arch = "x86_64"), test))]
    #[inline(always)]
    fn matches_portably(&self, f: &[u8; END], total: u16, udp_len: u16) -> bool {
        let n = u128::from_ne_bytes;
        let mut head = self.head;
        head[TOTAL_AT - HEAD..TOTAL_AT - HEAD + 2].copy_from_slice(&total.to_be_bytes());
        let mut tail = self.tail;
        tail[UDP_LEN_AT - TAIL..UDP_LEN_AT - TAIL + 2].copy_from_slice(&udp_len.to_be_bytes());
        let head = (n(word(f, HEAD)) ^ n(head)) & n(self.head_mask);
        let tail = (n(word(f, TAIL)) ^ n(tail)) & n(self.tail_mask);
        head | tail == 0
    }
}

/// The key a group address is looked up by: its four bytes as they lie in a frame, read
/// in native order, so the fast path needs no byte swap.
pub(super) fn address_key(octets: [u8; 4]) -> u32 {
    u32::from_ne_bytes(octets)
}

#[inline(always)]
fn word(f: &[u8; END], at: usize) -> [u8; WORD] {
    let mut word = [0u8; WORD];
    word.copy_from_slice(&f[at..at + WORD]);
    word
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build::{UdpFrameSpec, oum_payload};
    use crate::wire::{OUM_DEFAULT_PORT, OumRepr, Stamp};
    use std::net::Ipv4Addr;

    fn first(frame: &[u8]) -> &[u8; END] {
        frame[..END].try_into().unwrap()
    }

    #[test]
    fn a_plain_request_is_recognised_and_its_neighbours_are_not() {
        let plain = PlainFrame::new(OUM_DEFAULT_PORT);
        let dst = Ipv4Addr::new(10, 0, 0, 100);
        let spec = UdpFrameSpec {
            dst_ip: dst,
            ..UdpFrameSpec::default()
        };
        let frame = spec
            .build(&oum_payload(OumRepr::Unsequenced, b"x"))
            .unwrap();
        assert_eq!(
            plain.destination(first(&frame), frame.len()),
            Some(address_key(dst.octets()))
        );
        // DF set, as most stacks send it.
        let mut df = frame.clone();
        df[IP + 6] = 0x40;
        assert!(plain.destination(first(&df), df.len()).is_some());
        let sequenced = spec
            .build(&oum_payload(OumRepr::Sequenced(Stamp::new(1, 1)), b"x"))
            .unwrap();
        assert_eq!(plain.destination(first(&sequenced), sequenced.len()), None);
        for (at, value) in [
            (12, 0x86),
            (IP, 0x46),
            (IP + 6, 0x20),
            (IP + 7, 1),
            (IP + 9, 6),
        ]
        .into_iter()
        .chain([(UDP + 2, 0), (OUM, 0), (OUM + 3, 0), (OUM + 5, 10)])
        {
            let mut changed = frame.clone();
            changed[at] = value;
            assert_eq!(
                plain.destination(first(&changed), changed.len()),
                None,
                "{at}"
            );
        }
        // A frame shorter or longer (padded) than its IPv4 total length says, and UDP
        // lengths short of the IPv4 payload.
        assert_eq!(plain.destination(first(&frame), frame.len() - 1), None);
        assert_eq!(plain.destination(first(&frame), frame.len() + 1), None);
        for udp_len_low in [0x17, 0x18] {
            let mut short = frame.clone();
            short[UDP + 5] = udp_len_low;
            assert_eq!(plain.destination(first(&short), short.len()), None);
        }
        assert_eq!(
            plain.destination(first(&frame), usize::from(u16::MAX) + IP + 1),
            None
        );
        assert_eq!(
            PlainFrame::new(OUM_DEFAULT_PORT + 1).destination(first(&frame), frame.len()),
            None
        );
    }

    #[test]
    fn the_vector_compare_agrees_with_the_integer_one() {
        let plain = PlainFrame::new(OUM_DEFAULT_PORT);
        let frame = UdpFrameSpec::default()
            .build(&oum_payload(OumRepr::Unsequenced, b"body"))
            .unwrap();
        let total = (frame.len() - IP) as u16;
        let mut seed = 7u64;
        let mut matched = 0;
        for round in 0..20_000 {
            let mut f = *first(&frame);
            // Few changes mostly, so that matching frames and near misses both occur.
            for _ in 0..round % 3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                f[(seed >> 8) as usize % END] ^= 1 << (seed % 8);
            }
            for (t, u) in [
                (total, total - 20),
                (total + 1, total - 19),
                (total, total - 21),
            ] {
                let fast = plain.matches(&f, t, u);
                assert_eq!(fast, plain.matches_portably(&f, t, u), "{f:02x?} {t} {u}");
                matched += usize::from(fast);
            }
        }
        assert!(matched > 1000, "{matched}");
    }
}
