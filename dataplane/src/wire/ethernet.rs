use std::fmt;

use zerocopy::network_endian::U16;
use zerocopy::{
    FromBytes, Immutable, IntoBytes, KnownLayout, Ref, SplitByteSlice, SplitByteSliceMut, Unaligned,
};

use super::{Layer, WireError};

/// Length of an Ethernet II header without a VLAN tag.
pub const ETHERNET_HEADER_LEN: usize = 14;

/// A 48-bit MAC address.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(transparent)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The Ethernet multicast address an IPv4 multicast group maps to (RFC 1112).
    pub fn ipv4_multicast(group: std::net::Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// An EtherType value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    pub const VLAN: EtherType = EtherType(0x8100);
    pub const IPV6: EtherType = EtherType(0x86dd);
}

/// The Ethernet II header as it sits on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EthernetHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: U16,
}

/// A view of an Ethernet II frame: header and payload, split once by [`EthernetFrame::new_checked`].
pub struct EthernetFrame<B> {
    header: Ref<B, EthernetHeader>,
    payload: B,
}

impl<B: SplitByteSlice> EthernetFrame<B> {
    /// Splits `bytes` into header and payload; fails only if the header does not fit.
    pub fn new_checked(bytes: B) -> Result<Self, WireError> {
        let available = bytes.len();
        let (header, payload) = Ref::from_prefix(bytes)
            .map_err(|_| WireError::truncated(Layer::Ethernet, ETHERNET_HEADER_LEN, available))?;
        Ok(EthernetFrame { header, payload })
    }

    pub fn header(&self) -> &EthernetHeader {
        &self.header
    }

    pub fn dst(&self) -> MacAddr {
        self.header.dst
    }

    pub fn src(&self) -> MacAddr {
        self.header.src
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType(self.header.ethertype.get())
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Gives up the header and returns the payload, for the next layer's view.
    pub fn into_payload(self) -> B {
        self.payload
    }
}

impl<B: SplitByteSliceMut> EthernetFrame<B> {
    pub fn header_mut(&mut self) -> &mut EthernetHeader {
        &mut self.header
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.payload
    }
}

impl<B: SplitByteSlice> fmt::Debug for EthernetFrame<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EthernetFrame")
            .field("header", self.header())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// The meaning of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    pub fn parse<B: SplitByteSlice>(frame: &EthernetFrame<B>) -> Result<Self, WireError> {
        Ok(EthernetRepr {
            src: frame.src(),
            dst: frame.dst(),
            ethertype: frame.ethertype(),
        })
    }

    pub const fn header_len(&self) -> usize {
        ETHERNET_HEADER_LEN
    }

    pub fn emit<B: SplitByteSliceMut>(&self, frame: &mut EthernetFrame<B>) {
        let h = frame.header_mut();
        h.dst = self.dst;
        h.src = self.src;
        h.ethertype.set(self.ethertype.0);
    }
}
