use std::collections::VecDeque;

use crate::codec::{CodecError, Writer};
use crate::{Destination, Transmit};

/// Messages waiting to be encoded into the driver's transmit buffers. They are kept as
/// values and encoded only when the driver asks, straight into its buffer.
#[derive(Debug)]
pub struct Outbox<M> {
    queue: VecDeque<(Destination, M)>,
    /// Messages that could not be encoded (a bug if ever non-zero).
    pub encode_errors: u64,
}

impl<M> Default for Outbox<M> {
    fn default() -> Self {
        Outbox {
            queue: VecDeque::new(),
            encode_errors: 0,
        }
    }
}

impl<M> Outbox<M> {
    pub fn push(&mut self, destination: Destination, message: M) {
        self.queue.push_back((destination, message));
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn clear(&mut self) {
        self.queue.clear();
    }

    /// Encodes the next message with `encode` and hands it back (to reuse its buffers); a
    /// message that fails to encode is dropped and counted, and the next one is tried.
    pub fn poll(
        &mut self,
        buf: &mut [u8],
        mut encode: impl FnMut(&M, &mut Writer<'_>) -> Result<(), CodecError>,
    ) -> Option<(Transmit, M)> {
        while let Some((destination, message)) = self.queue.pop_front() {
            let mut w = Writer::new(&mut *buf);
            match encode(&message, &mut w) {
                Ok(()) => {
                    let len = w.len();
                    return Some((Transmit { destination, len }, message));
                }
                Err(_) => self.encode_errors += 1,
            }
        }
        None
    }
}
