//! The envelope of our own protocol messages: replica-to-replica traffic, replies, and the
//! body of client requests after the OUM header.

use std::fmt;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{
    FromBytes, Immutable, IntoBytes, KnownLayout, Ref, SplitByteSlice, SplitByteSliceMut, Unaligned,
};

use super::{Layer, WireError};

/// "NOPX": tells our messages apart from anything else arriving on the same port, and from
/// an OUM header (which starts 18 03 05 20).
pub const ENVELOPE_MAGIC: [u8; 4] = *b"NOPX";
/// The envelope version this build writes and accepts.
pub const ENVELOPE_VERSION: u8 = 1;
pub const ENVELOPE_HEADER_LEN: usize = 12;

/// A message type; each protocol assigns its own values (see docs/wire-format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageType(pub u8);

/// The envelope header as it sits on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct EnvelopeHeader {
    pub magic: [u8; 4],
    pub version: u8,
    pub msg_type: u8,
    pub flags: U16,
    pub body_len: U32,
}

/// A view of an enveloped message: header and a body exactly `body_len` bytes long. Bytes
/// after the body are left out of the view.
pub struct Envelope<B> {
    header: Ref<B, EnvelopeHeader>,
    body: B,
}

impl<B: SplitByteSlice> Envelope<B> {
    /// Checks the lengths only; [`EnvelopeRepr::parse`] checks magic, version and flags.
    pub fn new_checked(bytes: B) -> Result<Self, WireError> {
        let available = bytes.len();
        let (header, rest) = Ref::<B, EnvelopeHeader>::from_prefix(bytes)
            .map_err(|_| WireError::truncated(Layer::Envelope, ENVELOPE_HEADER_LEN, available))?;
        let body_len = usize::try_from(header.body_len.get()).unwrap_or(usize::MAX);
        let (body, _trailer) = rest.split_at(body_len).map_err(|_| {
            WireError::truncated(
                Layer::Envelope,
                ENVELOPE_HEADER_LEN.saturating_add(body_len),
                available,
            )
        })?;
        Ok(Envelope { header, body })
    }

    pub fn header(&self) -> &EnvelopeHeader {
        &self.header
    }

    pub fn msg_type(&self) -> MessageType {
        MessageType(self.header.msg_type)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn into_body(self) -> B {
        self.body
    }
}

impl<B: SplitByteSliceMut> Envelope<B> {
    pub fn header_mut(&mut self) -> &mut EnvelopeHeader {
        &mut self.header
    }

    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.body
    }
}

impl<B: SplitByteSlice> fmt::Debug for Envelope<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("header", self.header())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The meaning of an envelope header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeRepr {
    pub msg_type: MessageType,
    pub body_len: usize,
}

impl EnvelopeRepr {
    pub fn parse<B: SplitByteSlice>(envelope: &Envelope<B>) -> Result<Self, WireError> {
        let h = envelope.header();
        if h.magic != ENVELOPE_MAGIC {
            return Err(WireError::EnvelopeMagic(h.magic));
        }
        if h.version != ENVELOPE_VERSION {
            return Err(WireError::EnvelopeVersion(h.version));
        }
        if h.flags.get() != 0 {
            return Err(WireError::EnvelopeFlags(h.flags.get()));
        }
        Ok(EnvelopeRepr {
            msg_type: envelope.msg_type(),
            body_len: envelope.body().len(),
        })
    }

    pub const fn header_len(&self) -> usize {
        ENVELOPE_HEADER_LEN
    }

    /// Length of the whole message, envelope included.
    pub const fn buffer_len(&self) -> usize {
        ENVELOPE_HEADER_LEN + self.body_len
    }

    /// Writes the envelope header into the first 12 bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        let available = buf.len();
        let body_len = u32::try_from(self.body_len)
            .map_err(|_| WireError::EnvelopeBodyTooLong(self.body_len))?;
        let (header, _) = EnvelopeHeader::mut_from_prefix(buf)
            .map_err(|_| WireError::truncated(Layer::Envelope, ENVELOPE_HEADER_LEN, available))?;
        header.magic = ENVELOPE_MAGIC;
        header.version = ENVELOPE_VERSION;
        header.msg_type = self.msg_type.0;
        header.flags.set(0);
        header.body_len.set(body_len);
        Ok(())
    }
}
