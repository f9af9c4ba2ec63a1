//! Framing every protocol's messages share: our envelope around a body of fields
//! (docs/wire-format.md), the unsequenced OUM header in front of what a client sends through
//! the sequencer, and the fields whose encoding is the same in every protocol (chunk kinds,
//! chunks, pre-vote ballots). A protocol describes its messages as a [`MessageSet`]: a type
//! number and a body for each; writing and checking the envelope is done here.

use dataplane::wire::{
    ENVELOPE_HEADER_LEN, Envelope, EnvelopeRepr, MessageType, OUM_HEADER_LEN, OumRepr,
};

use crate::codec::{CodecError, Field, Reader, Writer, invalid};
use crate::kit::blob::{ChunkIn, ChunkKind};
use crate::kit::prevote::Ballot;

/// A protocol's messages: each has a type number in the protocol's range and a body of
/// fields. [`encode`] and [`decode`] put the envelope around the body.
pub trait MessageSet<'a>: Sized {
    /// The envelope's type number for this message.
    fn msg_type(&self) -> u8;

    /// Writes the body: every field after the envelope.
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), CodecError>;

    /// Reads the body of a message of type `msg_type` from `r`, a reader over `body` (the
    /// whole body, for fields kept in place). A type outside the protocol's set is an error;
    /// bytes left over are refused by the caller.
    fn decode_body(msg_type: u8, body: &'a [u8], r: &mut Reader<'a>) -> Result<Self, CodecError>;
}

/// Writes `message` with its envelope.
pub fn encode<'a, M: MessageSet<'a>>(message: &M, w: &mut Writer<'_>) -> Result<(), CodecError> {
    enveloped(w, message.msg_type(), |w| message.encode_body(w))
}

/// Decodes an enveloped message (no OUM header).
pub fn decode<'a, M: MessageSet<'a>>(datagram: &'a [u8]) -> Result<M, CodecError> {
    decode_enveloped(datagram, M::decode_body)
}

/// Writes an unsequenced OUM header, then `message`: a request for the sequencer.
pub fn encode_sequenced<'a, M: MessageSet<'a>>(
    message: &M,
    w: &mut Writer<'_>,
) -> Result<(), CodecError> {
    let mut header = [0u8; OUM_HEADER_LEN];
    OumRepr::Unsequenced
        .emit(&mut header)
        .map_err(|_| invalid("OUM header", 0))?;
    w.put(&header)?;
    encode(message, w)
}

/// Decodes a message that came through the sequencer: OUM header, then the message.
pub fn decode_sequenced<'a, M: MessageSet<'a>>(datagram: &'a [u8]) -> Result<M, CodecError> {
    decode(after_oum_header(datagram)?)
}

/// Writes an envelope of type `msg_type` around the body `body` writes: the envelope's room
/// is kept first and filled in once the body's length is known.
pub fn enveloped(
    w: &mut Writer<'_>,
    msg_type: u8,
    body: impl FnOnce(&mut Writer<'_>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let at = w.len();
    w.put(&[0; ENVELOPE_HEADER_LEN])?;
    body(w)?;
    let body_len = w.len() - at - ENVELOPE_HEADER_LEN;
    let mut header = [0u8; ENVELOPE_HEADER_LEN];
    EnvelopeRepr {
        msg_type: MessageType(msg_type),
        body_len,
    }
    .emit(&mut header)
    .map_err(|_| CodecError::TooLong {
        needed: body_len,
        room: u32::MAX as usize,
    })?;
    w.overwrite(at, &header);
    Ok(())
}

/// Decodes an enveloped message: checks the envelope, hands its type, body and a reader
/// over the body to `body`, and refuses bytes left after the last field.
pub fn decode_enveloped<'a, T>(
    datagram: &'a [u8],
    body: impl FnOnce(u8, &'a [u8], &mut Reader<'a>) -> Result<T, CodecError>,
) -> Result<T, CodecError> {
    let envelope = Envelope::new_checked(datagram)
        .map_err(|_| invalid("envelope length", datagram.len() as u64))?;
    let repr = EnvelopeRepr::parse(&envelope).map_err(|_| invalid("envelope", 0))?;
    let bytes = envelope.into_body();
    let mut r = Reader::new(bytes);
    let message = body(repr.msg_type.0, bytes, &mut r)?;
    r.finish()?;
    Ok(message)
}

/// The message behind the OUM header of a datagram that came through the sequencer.
pub fn after_oum_header(datagram: &[u8]) -> Result<&[u8], CodecError> {
    datagram
        .get(OUM_HEADER_LEN..)
        .ok_or(invalid("OUM datagram length", datagram.len() as u64))
}

/// One byte, the kind's code.
impl Field<'_> for ChunkKind {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u8(self.code())
    }
    fn read(r: &mut Reader<'_>) -> Result<ChunkKind, CodecError> {
        ChunkKind::from_code(r.u8()?)
    }
}

/// One byte, the ballot's code.
impl Field<'_> for Ballot {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u8(self.code())
    }
    fn read(r: &mut Reader<'_>) -> Result<Ballot, CodecError> {
        Ballot::from_code(r.u8()?)
    }
}

/// A CHUNK's body, the same in every protocol but for the view's type: kind, view, blob id,
/// chunk index and count, the blob's total length, then the chunk's bytes.
impl<'a, V: Field<'a>> Field<'a> for ChunkIn<'a, ChunkKind, V> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.field(&self.kind)?;
        w.field(&self.view)?;
        w.field(&self.id)?;
        w.field(&self.index)?;
        w.field(&self.count)?;
        w.field(&self.total)?;
        w.field(&self.data)
    }
    fn read(r: &mut Reader<'a>) -> Result<Self, CodecError> {
        Ok(ChunkIn {
            kind: r.field()?,
            view: r.field()?,
            id: r.field()?,
            index: r.field()?,
            count: r.field()?,
            total: r.field()?,
            data: r.field()?,
        })
    }
}

/// Converts between a protocol's `Message::Chunk` variant, whose fields are [`ChunkIn`]'s,
/// and a [`ChunkIn`]: `as_chunk` on the message and `From<ChunkIn>` for it, with the
/// protocol's view type. A macro because each protocol's enum is its own type, and no
/// function or trait can name the fields of its variant (which keeps its named fields for
/// the code that matches on it).
macro_rules! chunk_variant {
    ($message:ident, $view:ty) => {
        impl<'a> $message<'a> {
            /// The chunk this message carries, if it is a CHUNK.
            pub fn as_chunk(
                &self,
            ) -> Option<$crate::kit::blob::ChunkIn<'a, $crate::kit::blob::ChunkKind, $view>> {
                match *self {
                    $message::Chunk {
                        kind,
                        view,
                        id,
                        index,
                        count,
                        total,
                        data,
                    } => Some($crate::kit::blob::ChunkIn {
                        kind,
                        view,
                        id,
                        index,
                        count,
                        total,
                        data,
                    }),
                    _ => None,
                }
            }
        }

        /// A CHUNK carrying `c`.
        impl<'a> From<$crate::kit::blob::ChunkIn<'a, $crate::kit::blob::ChunkKind, $view>>
            for $message<'a>
        {
            fn from(
                c: $crate::kit::blob::ChunkIn<'a, $crate::kit::blob::ChunkKind, $view>,
            ) -> $message<'a> {
                $message::Chunk {
                    kind: c.kind,
                    view: c.view,
                    id: c.id,
                    index: c.index,
                    count: c.count,
                    total: c.total,
                    data: c.data,
                }
            }
        }
    };
}

pub(crate) use chunk_variant;
