use std::fmt;
use std::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{
    FromBytes, Immutable, IntoBytes, KnownLayout, Ref, SplitByteSlice, SplitByteSliceMut, Unaligned,
};

use super::checksum::ones_complement_sum;
use super::{Layer, WireError, ipv4_header_checksum};

/// Length of an IPv4 header without options (IHL 5).
pub const IPV4_MIN_HEADER_LEN: usize = 20;

const FLAG_DONT_FRAGMENT: u16 = 0x4000;
const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// An IP protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    pub const ICMP: IpProtocol = IpProtocol(1);
    pub const TCP: IpProtocol = IpProtocol(6);
    pub const UDP: IpProtocol = IpProtocol(17);
}

/// The fixed 20-byte part of an IPv4 header as it sits on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Ipv4Header {
    pub version_ihl: u8,
    pub dscp_ecn: u8,
    pub total_len: U16,
    pub ident: U16,
    pub flags_fragment: U16,
    pub ttl: u8,
    pub protocol: u8,
    pub checksum: U16,
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

/// A view of an IPv4 packet. [`Ipv4Packet::new_checked`] honours the header length (IHL), so
/// options are skipped, and the total length, so Ethernet padding after the packet is cut off.
pub struct Ipv4Packet<B> {
    header: Ref<B, Ipv4Header>,
    options: B,
    payload: B,
}

impl<B: SplitByteSlice> Ipv4Packet<B> {
    pub fn new_checked(bytes: B) -> Result<Self, WireError> {
        let available = bytes.len();
        let (header, rest) = Ref::<B, Ipv4Header>::from_prefix(bytes)
            .map_err(|_| WireError::truncated(Layer::Ipv4, IPV4_MIN_HEADER_LEN, available))?;
        let version = header.version_ihl >> 4;
        if version != 4 {
            return Err(WireError::Ipv4Version(version));
        }
        let ihl = header.version_ihl & 0x0f;
        if ihl < 5 {
            return Err(WireError::Ipv4HeaderLength(ihl));
        }
        let header_len = usize::from(ihl) * 4;
        let (options, rest) = rest
            .split_at(header_len - IPV4_MIN_HEADER_LEN)
            .map_err(|_| WireError::truncated(Layer::Ipv4, header_len, available))?;
        let total = header.total_len.get();
        let payload_len =
            usize::from(total)
                .checked_sub(header_len)
                .ok_or(WireError::Ipv4TotalLength {
                    total,
                    header: header_len,
                })?;
        let (payload, _padding) = rest
            .split_at(payload_len)
            .map_err(|_| WireError::truncated(Layer::Ipv4, usize::from(total), available))?;
        Ok(Ipv4Packet {
            header,
            options,
            payload,
        })
    }

    pub fn header(&self) -> &Ipv4Header {
        &self.header
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        IPV4_MIN_HEADER_LEN + self.options.len()
    }

    pub fn total_len(&self) -> u16 {
        self.header.total_len.get()
    }

    pub fn dscp_ecn(&self) -> u8 {
        self.header.dscp_ecn
    }

    pub fn ident(&self) -> u16 {
        self.header.ident.get()
    }

    pub fn dont_fragment(&self) -> bool {
        self.header.flags_fragment.get() & FLAG_DONT_FRAGMENT != 0
    }

    pub fn more_fragments(&self) -> bool {
        self.header.flags_fragment.get() & FLAG_MORE_FRAGMENTS != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn fragment_offset(&self) -> u16 {
        self.header.flags_fragment.get() & FRAGMENT_OFFSET_MASK
    }

    /// True for any piece of a fragmented datagram, the first included.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.header.ttl
    }

    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.header.protocol)
    }

    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.src)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.header.dst)
    }

    pub fn options(&self) -> &[u8] {
        &self.options
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Whether the header checksum (over header and options) is right.
    pub fn verify_checksum(&self) -> bool {
        ones_complement_sum(&[self.header.as_bytes(), &self.options]) == 0xffff
    }

    pub fn into_payload(self) -> B {
        self.payload
    }
}

impl<B: SplitByteSliceMut> Ipv4Packet<B> {
    pub fn header_mut(&mut self) -> &mut Ipv4Header {
        &mut self.header
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.payload
    }

    /// Recomputes the header checksum over header and options.
    pub fn fill_checksum(&mut self) {
        self.header.checksum.set(0);
        let sum = ones_complement_sum(&[self.header.as_bytes(), &self.options]);
        self.header.checksum.set(!sum);
    }

    /// The UDP or other transport payload, together with the addresses a pseudo-header needs.
    pub fn split_payload_mut(&mut self) -> (Ipv4Addr, Ipv4Addr, &mut [u8]) {
        (
            Ipv4Addr::from(self.header.src),
            Ipv4Addr::from(self.header.dst),
            &mut self.payload,
        )
    }
}

impl<B: SplitByteSlice> fmt::Debug for Ipv4Packet<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ipv4Packet")
            .field("src", &self.src_addr())
            .field("dst", &self.dst_addr())
            .field("protocol", &self.protocol())
            .field("header_len", &self.header_len())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// The meaning of an IPv4 header. `emit` writes a header without options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub ttl: u8,
    pub dscp_ecn: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    pub payload_len: usize,
}

impl Ipv4Repr {
    /// Reads a header; fragments are refused, since nothing here reassembles them.
    pub fn parse<B: SplitByteSlice>(packet: &Ipv4Packet<B>) -> Result<Self, WireError> {
        if packet.is_fragment() {
            return Err(WireError::Ipv4Fragment);
        }
        Ok(Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            dscp_ecn: packet.dscp_ecn(),
            ident: packet.ident(),
            dont_fragment: packet.dont_fragment(),
            payload_len: packet.payload().len(),
        })
    }

    pub const fn header_len(&self) -> usize {
        IPV4_MIN_HEADER_LEN
    }

    /// Writes the header (IHL 5, checksum filled) into the first 20 bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let available = buf.len();
        let too_long = WireError::Ipv4TotalLength {
            total: u16::MAX,
            header: IPV4_MIN_HEADER_LEN,
        };
        let total = u16::try_from(IPV4_MIN_HEADER_LEN + self.payload_len).map_err(|_| too_long)?;
        let (header, _) = Ipv4Header::mut_from_prefix(buf)
            .map_err(|_| WireError::truncated(Layer::Ipv4, IPV4_MIN_HEADER_LEN, available))?;
        header.version_ihl = 0x45;
        header.dscp_ecn = self.dscp_ecn;
        header.total_len.set(total);
        header.ident.set(self.ident);
        header.flags_fragment.set(if self.dont_fragment {
            FLAG_DONT_FRAGMENT
        } else {
            0
        });
        header.ttl = self.ttl;
        header.protocol = self.protocol.0;
        header.src = self.src.octets();
        header.dst = self.dst.octets();
        header.checksum.set(0);
        header.checksum.set(ipv4_header_checksum(header.as_bytes()));
        Ok(())
    }
}
