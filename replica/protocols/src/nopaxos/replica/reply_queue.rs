//! Replies to clients, encoded when their request is logged (or executed) and copied out by
//! `poll_transmit`: one byte arena and a queue of spans. The per-request path then moves no
//! result buffer through a queue, and allocates nothing once the arena has grown to the
//! largest burst of replies a driver lets pile up between two polls.

use std::net::SocketAddrV4;

use dataplane::wire::ENVELOPE_HEADER_LEN;

use crate::codec::Writer;
use crate::nopaxos::messages::{Message, REPLY_HEAD_MAX};
use crate::nopaxos::types::ViewId;
use crate::{ClientId, RequestId};

/// Arena bytes to start with: a burst of small replies fits without growing.
const INITIAL_ARENA: usize = 64 * 1024;

/// One encoded reply: where it goes and where its bytes are in the arena.
#[derive(Debug, Clone, Copy)]
struct Queued {
    to: SocketAddrV4,
    start: usize,
    len: usize,
}

#[derive(Debug, Default)]
pub(crate) struct ReplyQueue {
    /// Encoded replies, back to back; zero-filled up to its length so a `Writer` can take
    /// any part of it.
    arena: Vec<u8>,
    /// Bytes of `arena` in use (the queue's replies end here).
    end: usize,
    /// Replies in order; those before `next` were sent. Both reset when the last one goes
    /// out, so a plain vector serves as the queue (no ring's wrap-around arithmetic on
    /// the per-request path).
    queued: Vec<Queued>,
    next: usize,
    /// Replies that could not be encoded (a result larger than a datagram).
    pub(crate) encode_errors: u64,
}

/// What one reply asks of the replica that sends it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyFields<'a> {
    pub(crate) to: SocketAddrV4,
    pub(crate) view: ViewId,
    pub(crate) slot: u64,
    pub(crate) client: ClientId,
    pub(crate) request: RequestId,
    pub(crate) replica: u16,
    /// The leader's result; followers answer without one.
    pub(crate) result: Option<&'a [u8]>,
}

impl ReplyQueue {
    /// Encodes a REPLY at the arena's end.
    pub(crate) fn push(&mut self, reply: ReplyFields<'_>) {
        if self.queued.is_empty() {
            self.end = 0;
        }
        let most = ENVELOPE_HEADER_LEN + REPLY_HEAD_MAX + reply.result.map_or(0, <[u8]>::len);
        if self.arena.len() - self.end < most {
            let size = (self.end + most).next_power_of_two().max(INITIAL_ARENA);
            self.arena.resize(size, 0);
        }
        let mut w = Writer::new(&mut self.arena[self.end..]);
        match Message::encode_reply(
            &mut w,
            reply.view,
            reply.slot,
            reply.client,
            reply.request,
            reply.replica,
            reply.result,
        ) {
            Ok(()) => {
                let len = w.len();
                self.queued.push(Queued {
                    to: reply.to,
                    start: self.end,
                    len,
                });
                self.end += len;
            }
            Err(_) => self.encode_errors += 1,
        }
    }

    /// Copies the oldest reply into `buf`; returns its destination and length. A reply
    /// larger than `buf` is counted as an encoding error and skipped.
    pub(crate) fn pop_into(&mut self, buf: &mut [u8]) -> Option<(SocketAddrV4, usize)> {
        while let Some(&q) = self.queued.get(self.next) {
            self.next += 1;
            if self.next == self.queued.len() {
                self.queued.clear();
                self.next = 0;
            }
            let Some(dst) = buf.get_mut(..q.len) else {
                self.encode_errors += 1;
                continue;
            };
            dst.copy_from_slice(&self.arena[q.start..q.start + q.len]);
            return Some((q.to, q.len));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(slot: u64, result: Option<&[u8]>) -> ReplyFields<'_> {
        ReplyFields {
            to: "127.0.0.1:9000".parse().unwrap(),
            view: ViewId {
                leader_num: 3,
                session_num: 2,
            },
            slot,
            client: 7,
            request: slot + 100,
            replica: 1,
            result,
        }
    }

    #[test]
    fn replies_come_out_in_order_as_message_encode_writes_them() {
        let mut q = ReplyQueue::default();
        let big = vec![0xab; 3000];
        q.push(fields(1, Some(b"ok")));
        q.push(fields(2, None));
        q.push(fields(3, Some(&big)));
        let mut buf = vec![0u8; 9000];
        for (slot, result) in [(1, Some(&b"ok"[..])), (2, None), (3, Some(&big[..]))] {
            let (to, len) = q.pop_into(&mut buf).unwrap();
            assert_eq!(to, "127.0.0.1:9000".parse().unwrap());
            let f = fields(slot, result);
            let expected = Message::Reply {
                view: f.view,
                slot,
                client: 7,
                request: slot + 100,
                replica: 1,
                result,
            };
            assert_eq!(Message::decode(&buf[..len]).unwrap(), expected);
        }
        assert!(q.pop_into(&mut buf).is_none());
        assert!(q.queued.is_empty());
    }

    #[test]
    fn the_arena_is_reused_once_drained_and_grows_for_a_long_burst() {
        let mut q = ReplyQueue::default();
        let mut buf = vec![0u8; 2048];
        for slot in 0..10 {
            q.push(fields(slot, Some(b"x")));
            q.pop_into(&mut buf).unwrap();
        }
        assert_eq!(q.arena.len(), INITIAL_ARENA);
        let result = vec![1u8; 1000];
        for slot in 0..200 {
            q.push(fields(slot, Some(&result)));
        }
        assert!(q.arena.len() > INITIAL_ARENA);
        for slot in 0..200 {
            let (_, len) = q.pop_into(&mut buf).unwrap();
            match Message::decode(&buf[..len]).unwrap() {
                Message::Reply {
                    slot: s,
                    result: Some(r),
                    ..
                } => {
                    assert_eq!((s, r), (slot, &result[..]));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(q.encode_errors, 0);
    }

    #[test]
    fn a_reply_larger_than_the_buffer_is_counted_and_skipped() {
        let mut q = ReplyQueue::default();
        let big = vec![0u8; 500];
        q.push(fields(1, Some(&big)));
        q.push(fields(2, Some(b"small")));
        let mut buf = vec![0u8; 200];
        let (_, len) = q.pop_into(&mut buf).unwrap();
        assert!(matches!(
            Message::decode(&buf[..len]).unwrap(),
            Message::Reply { slot: 2, .. }
        ));
        assert_eq!(q.encode_errors, 1);
    }
}
