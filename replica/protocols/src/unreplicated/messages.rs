use dataplane::wire::{ENVELOPE_HEADER_LEN, MessageType};

use crate::codec::{CodecError, Writer, decode_enveloped, invalid, write_envelope};
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
        decode_enveloped(datagram, |msg_type, _, r| {
            Ok(match msg_type {
                UNREPLICATED_REQUEST => Message::Request {
                    client: r.u64()?,
                    request: r.u64()?,
                    op: r.bytes()?,
                },
                UNREPLICATED_REPLY => Message::Reply {
                    client: r.u64()?,
                    request: r.u64()?,
                    result: r.bytes()?,
                },
                t => return Err(invalid("message type", u64::from(t))),
            })
        })
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let at = w.len();
        w.put(&[0; ENVELOPE_HEADER_LEN])?;
        let msg_type = match *self {
            Message::Request {
                client,
                request,
                op,
            } => {
                w.u64(client)?;
                w.u64(request)?;
                w.bytes(op)?;
                UNREPLICATED_REQUEST
            }
            Message::Reply {
                client,
                request,
                result,
            } => {
                w.u64(client)?;
                w.u64(request)?;
                w.bytes(result)?;
                UNREPLICATED_REPLY
            }
        };
        let body_len = w.len() - at - ENVELOPE_HEADER_LEN;
        write_envelope(w, at, MessageType(msg_type), body_len)
    }
}
