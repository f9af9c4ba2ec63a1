use std::net::{Ipv4Addr, SocketAddrV4};

use super::{Endpoint, Packet};

/// Buffer size that holds any datagram of a 9000-byte jumbo frame.
pub const DEFAULT_BUFFER_SIZE: usize = 9216;

/// A datagram buffer of the kernel-UDP and simulated backends.
#[derive(Clone, PartialEq, Eq)]
pub struct PacketBuf {
    data: Box<[u8]>,
    len: usize,
    peer: SocketAddrV4,
    endpoint: Endpoint,
}

impl PacketBuf {
    pub fn with_capacity(capacity: usize) -> PacketBuf {
        PacketBuf {
            data: vec![0; capacity].into_boxed_slice(),
            len: 0,
            peer: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            endpoint: Endpoint(0),
        }
    }

    /// A buffer holding exactly `bytes`.
    pub fn from_bytes(bytes: &[u8], peer: SocketAddrV4) -> PacketBuf {
        PacketBuf {
            data: bytes.into(),
            len: bytes.len(),
            peer,
            endpoint: Endpoint(0),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("len", &self.len)
            .field("peer", &self.peer)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl AsRef<[u8]> for PacketBuf {
    fn as_ref(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or(&[])
    }
}

impl AsMut<[u8]> for PacketBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        self.data.get_mut(..len).unwrap_or(&mut [])
    }
}

impl Packet for PacketBuf {
    fn buffer_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    fn set_len(&mut self, len: usize) {
        self.len = len.min(self.data.len());
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }

    fn peer(&self) -> SocketAddrV4 {
        self.peer
    }

    fn set_peer(&mut self, peer: SocketAddrV4) {
        self.peer = peer;
    }

    fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    fn set_endpoint(&mut self, endpoint: Endpoint) {
        self.endpoint = endpoint;
    }
}

/// Recycles [`PacketBuf`]s so the steady state allocates nothing. An empty pool allocates a
/// fresh buffer rather than failing; a full pool lets returned buffers go.
#[derive(Debug)]
pub struct BufferPool {
    free: Vec<PacketBuf>,
    buffer_size: usize,
    max_free: usize,
}

impl BufferPool {
    /// A pool of `count` buffers of `buffer_size` bytes, allocated now.
    pub fn new(count: usize, buffer_size: usize) -> BufferPool {
        BufferPool {
            free: (0..count)
                .map(|_| PacketBuf::with_capacity(buffer_size))
                .collect(),
            buffer_size,
            max_free: count.max(1) * 2,
        }
    }

    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// An empty buffer (length 0, no peer).
    pub fn get(&mut self) -> PacketBuf {
        match self.free.pop() {
            Some(mut buf) => {
                buf.len = 0;
                buf.endpoint = Endpoint(0);
                buf
            }
            None => PacketBuf::with_capacity(self.buffer_size),
        }
    }

    pub fn put(&mut self, buf: PacketBuf) {
        if self.free.len() < self.max_free && buf.capacity() == self.buffer_size {
            self.free.push(buf);
        }
    }

    pub fn available(&self) -> usize {
        self.free.len()
    }
}
