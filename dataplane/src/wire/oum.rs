//! The OUM header: 16 bytes right after the UDP header, byte-compatible with the header the
//! NOPaxos authors' dsnet code base and their Tofino program use (docs/wire-format.md).

use std::cmp::Ordering;
use std::fmt;

use zerocopy::network_endian::{U16, U64};
use zerocopy::{
    FromBytes, Immutable, IntoBytes, KnownLayout, Ref, SplitByteSlice, SplitByteSliceMut, Unaligned,
};

use super::{Layer, WireError};

/// Total length of the OUM header.
pub const OUM_HEADER_LEN: usize = 16;
/// The preamble, bytes `18 03 05 20` (0x20050318 read little-endian, as dsnet writes it).
pub const OUM_PREAMBLE: [u8; 4] = [0x18, 0x03, 0x05, 0x20];
/// Header-size value of a request a client sent and no sequencer has stamped.
pub const OUM_UNSEQUENCED_HEADER_SIZE: u16 = 0;
/// Header-size value of a stamped packet: the 2-byte session and the 8-byte message number.
pub const OUM_SEQUENCED_HEADER_SIZE: u16 = 10;
/// The UDP destination port OUM traffic uses unless configured otherwise.
pub const OUM_DEFAULT_PORT: u16 = 22222;

/// The OUM header as it sits on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct OumHeader {
    pub preamble: [u8; 4],
    pub header_size: U16,
    pub session: U16,
    pub msgnum: U64,
}

impl OumHeader {
    /// Writes a stamp: session, message number and "sequenced".
    pub fn stamp(&mut self, stamp: Stamp) {
        self.header_size.set(OUM_SEQUENCED_HEADER_SIZE);
        self.session.set(stamp.session.0);
        self.msgnum.set(stamp.msgnum);
    }
}

/// A 16-bit OUM session number, compared with serial-number arithmetic (RFC 1982) so that
/// the numbers may wrap: `a` is newer than `b` when `a - b` (mod 2^16) lies in 1..=32767.
/// A difference of exactly 32768 is undefined in RFC 1982; here it counts as newer, so a
/// receiver that meets it ends its session and lets the protocol (a view change) settle it,
/// rather than ignoring traffic forever.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionNumber(pub u16);

impl SessionNumber {
    /// The session that follows this one; wraps from 65535 to 0.
    pub fn next(self) -> SessionNumber {
        SessionNumber(self.0.wrapping_add(1))
    }

    /// Serial-number comparison: `Greater` when `self` is newer than `other`.
    pub fn serial_cmp(self, other: SessionNumber) -> Ordering {
        match self.0.wrapping_sub(other.0) {
            0 => Ordering::Equal,
            d if d <= 0x8000 => Ordering::Greater,
            _ => Ordering::Less,
        }
    }

    pub fn is_newer_than(self, other: SessionNumber) -> bool {
        self.serial_cmp(other) == Ordering::Greater
    }
}

impl fmt::Debug for SessionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session {}", self.0)
    }
}

impl fmt::Display for SessionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a sequencer writes: the session and the group's message number within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub session: SessionNumber,
    pub msgnum: u64,
}

impl Stamp {
    pub fn new(session: u16, msgnum: u64) -> Stamp {
        Stamp {
            session: SessionNumber(session),
            msgnum,
        }
    }
}

/// A view of an OUM packet: the header and the body that follows it (the UDP payload after
/// the first 16 bytes).
pub struct OumPacket<B> {
    header: Ref<B, OumHeader>,
    body: B,
}

impl<B: SplitByteSlice> OumPacket<B> {
    /// Checks only that the header fits; [`OumRepr::parse`] checks its contents.
    pub fn new_checked(bytes: B) -> Result<Self, WireError> {
        let available = bytes.len();
        let (header, body) = Ref::<B, OumHeader>::from_prefix(bytes)
            .map_err(|_| WireError::truncated(Layer::Oum, OUM_HEADER_LEN, available))?;
        Ok(OumPacket { header, body })
    }

    pub fn header(&self) -> &OumHeader {
        &self.header
    }

    pub fn has_preamble(&self) -> bool {
        self.header.preamble == OUM_PREAMBLE
    }

    pub fn header_size(&self) -> u16 {
        self.header.header_size.get()
    }

    /// Session field as written, meaningful only when the header says "sequenced".
    pub fn raw_session(&self) -> u16 {
        self.header.session.get()
    }

    /// Message-number field as written, meaningful only when the header says "sequenced".
    pub fn raw_msgnum(&self) -> u64 {
        self.header.msgnum.get()
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn into_body(self) -> B {
        self.body
    }
}

impl<B: SplitByteSliceMut> OumPacket<B> {
    pub fn header_mut(&mut self) -> &mut OumHeader {
        &mut self.header
    }

    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.body
    }
}

impl<B: SplitByteSlice> fmt::Debug for OumPacket<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OumPacket")
            .field("header", self.header())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The meaning of an OUM header. The session and message-number fields of an unsequenced
/// header are never read: clients may leave anything there (the original implementation
/// trusted such garbage, REFERENCE.md defect 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OumRepr {
    Unsequenced,
    Sequenced(Stamp),
}

impl OumRepr {
    pub fn parse<B: SplitByteSlice>(packet: &OumPacket<B>) -> Result<Self, WireError> {
        if !packet.has_preamble() {
            return Err(WireError::OumPreamble(packet.header().preamble));
        }
        match packet.header_size() {
            OUM_UNSEQUENCED_HEADER_SIZE => Ok(OumRepr::Unsequenced),
            OUM_SEQUENCED_HEADER_SIZE => Ok(OumRepr::Sequenced(Stamp::new(
                packet.raw_session(),
                packet.raw_msgnum(),
            ))),
            other => Err(WireError::OumHeaderSize(other)),
        }
    }

    /// Parses the OUM header at the front of a UDP payload.
    pub fn parse_bytes(payload: &[u8]) -> Result<Self, WireError> {
        OumRepr::parse(&OumPacket::new_checked(payload)?)
    }

    pub const fn header_len(&self) -> usize {
        OUM_HEADER_LEN
    }

    /// Writes the header into the first 16 bytes of `buf`; an unsequenced header carries
    /// zeros in its session and message-number fields.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let available = buf.len();
        let (header, _) = OumHeader::mut_from_prefix(buf)
            .map_err(|_| WireError::truncated(Layer::Oum, OUM_HEADER_LEN, available))?;
        header.preamble = OUM_PREAMBLE;
        match self {
            OumRepr::Unsequenced => {
                header.header_size.set(OUM_UNSEQUENCED_HEADER_SIZE);
                header.session.set(0);
                header.msgnum.set(0);
            }
            OumRepr::Sequenced(stamp) => header.stamp(*stamp),
        }
        Ok(())
    }
}
