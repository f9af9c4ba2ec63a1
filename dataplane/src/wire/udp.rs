use std::fmt;
use std::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{
    FromBytes, Immutable, IntoBytes, KnownLayout, Ref, SplitByteSlice, SplitByteSliceMut, Unaligned,
};

use super::{Layer, WireError, udp_checksum};

pub const UDP_HEADER_LEN: usize = 8;

/// The UDP header as it sits on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct UdpHeader {
    pub src_port: U16,
    pub dst_port: U16,
    pub length: U16,
    pub checksum: U16,
}

/// A view of a UDP datagram; the payload ends where the UDP length field says, and bytes
/// beyond it are ignored.
pub struct UdpPacket<B> {
    header: Ref<B, UdpHeader>,
    payload: B,
}

impl<B: SplitByteSlice> UdpPacket<B> {
    pub fn new_checked(bytes: B) -> Result<Self, WireError> {
        let available = bytes.len();
        let (header, rest) = Ref::<B, UdpHeader>::from_prefix(bytes)
            .map_err(|_| WireError::truncated(Layer::Udp, UDP_HEADER_LEN, available))?;
        let length = header.length.get();
        let payload_len = usize::from(length)
            .checked_sub(UDP_HEADER_LEN)
            .ok_or(WireError::UdpLength(length))?;
        let (payload, _trailer) = rest
            .split_at(payload_len)
            .map_err(|_| WireError::truncated(Layer::Udp, usize::from(length), available))?;
        Ok(UdpPacket { header, payload })
    }

    pub fn header(&self) -> &UdpHeader {
        &self.header
    }

    pub fn src_port(&self) -> u16 {
        self.header.src_port.get()
    }

    pub fn dst_port(&self) -> u16 {
        self.header.dst_port.get()
    }

    pub fn length(&self) -> u16 {
        self.header.length.get()
    }

    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Whether the checksum is right for these addresses; a zero checksum means "none" and
    /// is accepted.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let stored = self.checksum();
        stored == 0 || stored == self.compute_checksum(src, dst)
    }

    fn compute_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        // The datagram is contiguous in the original buffer, but the view holds it in two
        // pieces; summing header and payload separately gives the same result.
        let mut whole = [0u8; UDP_HEADER_LEN];
        whole.copy_from_slice(self.header.as_bytes());
        super::checksum::udp_checksum_parts(src, dst, &whole, &self.payload)
    }

    pub fn into_payload(self) -> B {
        self.payload
    }
}

impl<B: SplitByteSliceMut> UdpPacket<B> {
    pub fn header_mut(&mut self) -> &mut UdpHeader {
        &mut self.header
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.payload
    }

    /// Header and payload at once, for code that edits the payload and then the checksum.
    pub fn split_mut(&mut self) -> (&mut UdpHeader, &mut [u8]) {
        (&mut self.header, &mut self.payload)
    }

    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let sum = self.compute_checksum(src, dst);
        self.header.checksum.set(sum);
    }
}

impl<B: SplitByteSlice> fmt::Debug for UdpPacket<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpPacket")
            .field("src_port", &self.src_port())
            .field("dst_port", &self.dst_port())
            .field("length", &self.length())
            .finish()
    }
}

/// The meaning of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl UdpRepr {
    pub fn parse<B: SplitByteSlice>(packet: &UdpPacket<B>) -> Result<Self, WireError> {
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: packet.payload().len(),
        })
    }

    pub const fn header_len(&self) -> usize {
        UDP_HEADER_LEN
    }

    /// Writes the header into the front of `datagram` (header followed by the payload) and,
    /// given the IPv4 addresses, the checksum; without them the checksum is zero ("none").
    pub fn emit(
        &self,
        datagram: &mut [u8],
        addrs: Option<(Ipv4Addr, Ipv4Addr)>,
    ) -> Result<(), WireError> {
        let available = datagram.len();
        let length = u16::try_from(UDP_HEADER_LEN + self.payload_len)
            .map_err(|_| WireError::UdpLength(u16::MAX))?;
        let needed = usize::from(length);
        let datagram = datagram.get_mut(..needed).ok_or(WireError::truncated(
            Layer::Udp,
            needed,
            available,
        ))?;
        let (header, _) = UdpHeader::mut_from_prefix(&mut *datagram)
            .map_err(|_| WireError::truncated(Layer::Udp, UDP_HEADER_LEN, available))?;
        header.src_port.set(self.src_port);
        header.dst_port.set(self.dst_port);
        header.length.set(length);
        header.checksum.set(0);
        if let Some((src, dst)) = addrs {
            let sum = udp_checksum(src, dst, datagram);
            datagram[6..8].copy_from_slice(&sum.to_be_bytes());
        }
        Ok(())
    }
}
