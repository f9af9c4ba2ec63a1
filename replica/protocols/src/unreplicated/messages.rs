//! Unreplicated messages: a client's request and the server's reply, in our envelope
//! (docs/wire-format.md), their bodies the same three fields.

use crate::codec::{CodecError, Reader, Writer, invalid};
use crate::kit::framing::{self, MessageSet};
use crate::msg_type::{UNREPLICATED_REPLY, UNREPLICATED_REQUEST};
use crate::{ClientId, RequestId};

/// A message of the unreplicated protocol, borrowing its byte fields from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Request {
        client: ClientId,
        request: RequestId,
        op: &'a [u8],
    },
    Reply {
        client: ClientId,
        request: RequestId,
        result: &'a [u8],
    },
}

impl<'a> Message<'a> {
    pub fn decode(datagram: &'a [u8]) -> Result<Message<'a>, CodecError> {
        framing::decode(datagram)
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        framing::encode(self, w)
    }
}

impl<'a> MessageSet<'a> for Message<'a> {
    fn msg_type(&self) -> u8 {
        match self {
            Message::Request { .. } => UNREPLICATED_REQUEST,
            Message::Reply { .. } => UNREPLICATED_REPLY,
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        // A request's operation and a reply's result take the same place.
        let (Message::Request {
            client,
            request,
            op: bytes,
        }
        | Message::Reply {
            client,
            request,
            result: bytes,
        }) = self;
        w.field(client)?;
        w.field(request)?;
        w.field(bytes)
    }

    fn decode_body(msg_type: u8, _: &'a [u8], r: &mut Reader<'a>) -> Result<Self, CodecError> {
        Ok(match msg_type {
            UNREPLICATED_REQUEST => Message::Request {
                client: r.field()?,
                request: r.field()?,
                op: r.field()?,
            },
            UNREPLICATED_REPLY => Message::Reply {
                client: r.field()?,
                request: r.field()?,
                result: r.field()?,
            },
            t => return Err(invalid("message type", u64::from(t))),
        })
    }
}
