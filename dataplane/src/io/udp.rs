//! Kernel UDP backend: non-blocking sockets, one per local address, moved in batches with
//! `recvmmsg` and `sendmmsg` (one system call per burst, not per datagram).

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::{BufferPool, DEFAULT_BUFFER_SIZE, Endpoint, IoStats, Packet, PacketBuf, PacketIo};

/// How a [`UdpIo`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpConfig {
    /// Datagrams per system call.
    pub batch: usize,
    /// Bytes per buffer; larger datagrams are dropped and counted.
    pub buffer_size: usize,
    /// Buffers allocated up front.
    pub pool: usize,
    /// Requested kernel socket buffer (SO_RCVBUF and SO_SNDBUF), in bytes; the kernel may
    /// grant less (net.core.rmem_max / wmem_max).
    pub socket_buffer: usize,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            batch: 32,
            buffer_size: DEFAULT_BUFFER_SIZE,
            pool: 512,
            socket_buffer: 4 << 20,
        }
    }
}

/// Datagram sockets bound to one or more local addresses, as one [`PacketIo`].
pub struct UdpIo {
    sockets: Vec<UdpSocket>,
    addrs: Vec<SocketAddrV4>,
    config: UdpConfig,
    pool: BufferPool,
    /// Buffers waiting to be filled by the next `recvmmsg`.
    spare: Vec<PacketBuf>,
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    names: Vec<libc::sockaddr_in>,
    pollfds: Vec<libc::pollfd>,
    /// Socket the next receive starts with, so a busy socket cannot starve the others.
    next_socket: usize,
    /// Set by `wait`: the next receive reads only the sockets poll(2) found readable, and
    /// no others (a receive from an empty socket is a system call that finds nothing).
    polled: bool,
    stats: IoStats,
}

// SAFETY: the raw pointers inside `hdrs` and `iovs` are scratch space rewritten before every
// system call and never dereferenced by Rust code; no state is shared between threads.
unsafe impl Send for UdpIo {}

impl std::fmt::Debug for UdpIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpIo")
            .field("addrs", &self.addrs)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Retries of a send the kernel refused for want of socket buffer space, before the rest of
/// the burst is dropped.
const SEND_RETRIES: u32 = 1000;

impl UdpIo {
    /// Binds one socket per address; port 0 picks a free port (see [`PacketIo::local_addrs`]).
    pub fn bind(addrs: &[SocketAddrV4], config: UdpConfig) -> io::Result<UdpIo> {
        let config = UdpConfig {
            batch: config.batch.clamp(1, 1024),
            buffer_size: config.buffer_size.max(64),
            ..config
        };
        let mut sockets = Vec::with_capacity(addrs.len());
        let mut bound = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let socket = UdpSocket::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}")))?;
            socket.set_nonblocking(true)?;
            set_buffer_sizes(&socket, config.socket_buffer);
            let local = match socket.local_addr()? {
                SocketAddr::V4(a) => a,
                SocketAddr::V6(a) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{a} is not IPv4"),
                    ));
                }
            };
            sockets.push(socket);
            bound.push(local);
        }
        let batch = config.batch;
        Ok(UdpIo {
            pollfds: sockets
                .iter()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect(),
            sockets,
            addrs: bound,
            pool: BufferPool::new(config.pool, config.buffer_size),
            spare: Vec::with_capacity(batch),
            // SAFETY: mmsghdr, iovec and sockaddr_in are plain C structs for which all-zero
            // bytes are a valid value.
            hdrs: (0..batch).map(|_| unsafe { mem::zeroed() }).collect(),
            // SAFETY: as above.
            iovs: (0..batch).map(|_| unsafe { mem::zeroed() }).collect(),
            // SAFETY: as above.
            names: (0..batch).map(|_| unsafe { mem::zeroed() }).collect(),
            config,
            next_socket: 0,
            polled: false,
            stats: IoStats::default(),
        })
    }

    /// Adds a socket that receives what is sent to multicast address `group` (at `group`'s
    /// port), joined on the interface that owns the local address `interface`. Several
    /// processes on one host may join the same group: each gets its own copy. Returns the
    /// endpoint its datagrams arrive on.
    pub fn join_multicast(
        &mut self,
        group: SocketAddrV4,
        interface: Ipv4Addr,
    ) -> io::Result<Endpoint> {
        let fail = |what: &str, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot {what} multicast group {group} on {interface}: {e}"),
            )
        };
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| fail("open a socket for", e))?;
        // Every member on this host binds the same group address and port.
        socket
            .set_reuse_address(true)
            .map_err(|e| fail("share", e))?;
        socket
            .bind(&SocketAddr::V4(group).into())
            .map_err(|e| fail("bind", e))?;
        socket
            .join_multicast_v4(group.ip(), &interface)
            .map_err(|e| fail("join", e))?;
        let socket = UdpSocket::from(socket);
        socket.set_nonblocking(true)?;
        set_buffer_sizes(&socket, self.config.socket_buffer);
        self.pollfds.push(libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        self.sockets.push(socket);
        self.addrs.push(group);
        Ok(Endpoint((self.sockets.len() - 1) as u16))
    }

    /// Makes multicast datagrams sent from `endpoint` leave through the interface that owns
    /// the local address `interface`, and come back to members on this host.
    pub fn set_multicast_interface(
        &mut self,
        endpoint: Endpoint,
        interface: Ipv4Addr,
    ) -> io::Result<()> {
        let socket = self
            .sockets
            .get(usize::from(endpoint.0))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such endpoint"))?;
        let socket = SockRef::from(socket);
        socket.set_multicast_if_v4(&interface).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot send multicast through the interface of {interface}: {e}"),
            )
        })?;
        socket.set_multicast_loop_v4(true)
    }

    /// Points message header `i` at address slot `i` and I/O vector `i`, for one datagram.
    fn point_header(&mut self, i: usize) {
        let hdr = &mut self.hdrs[i];
        hdr.msg_hdr.msg_name = (&raw mut self.names[i]).cast();
        hdr.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        hdr.msg_hdr.msg_iov = &raw mut self.iovs[i];
        hdr.msg_hdr.msg_iovlen = 1;
        hdr.msg_hdr.msg_control = std::ptr::null_mut();
        hdr.msg_hdr.msg_controllen = 0;
        hdr.msg_hdr.msg_flags = 0;
        hdr.msg_len = 0;
    }

    /// Receives one batch from socket `index`; returns how many were appended to `batch`
    /// and whether the socket may hold more.
    fn recv_from(
        &mut self,
        index: usize,
        batch: &mut Vec<PacketBuf>,
        want: usize,
    ) -> io::Result<(usize, bool)> {
        let Some(socket) = self.sockets.get(index) else {
            return Ok((0, false));
        };
        let fd = socket.as_raw_fd();
        let want = want.min(self.config.batch);
        while self.spare.len() < want {
            self.spare.push(self.pool.get());
        }
        for i in 0..want {
            let buf = self.spare[i].buffer_mut();
            self.iovs[i] = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            self.point_header(i);
        }
        // SAFETY: `hdrs[..want]` point at `names` and `iovs` entries, which point at buffers
        // of the stated lengths owned by `spare`; all outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                want as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok((0, false)),
                // An ICMP error for an earlier send, reported on this socket: not ours to fail on.
                io::ErrorKind::ConnectionRefused => Ok((0, true)),
                _ => Err(err),
            };
        }
        let n = n as usize;
        let mut delivered = 0;
        for (i, mut buf) in self.spare.drain(..n).enumerate() {
            let hdr = &self.hdrs[i];
            if hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.stats.rx_truncated += 1;
                self.pool.put(buf);
                continue;
            }
            let name = &self.names[i];
            buf.set_len(hdr.msg_len as usize);
            buf.set_peer(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
                u16::from_be(name.sin_port),
            ));
            buf.set_endpoint(Endpoint(index as u16));
            batch.push(buf);
            delivered += 1;
        }
        self.stats.rx_packets += delivered as u64;
        Ok((delivered, n == want))
    }

    /// Sends `bufs` (all from endpoint `index`) with as few `sendmmsg` calls as it takes.
    fn send_from(&mut self, index: usize, bufs: &[PacketBuf]) -> usize {
        let Some(socket) = self.sockets.get(index) else {
            self.stats.tx_errors += bufs.len() as u64;
            return 0;
        };
        let fd = socket.as_raw_fd();
        let mut sent = 0;
        let mut retries = 0;
        let mut rest = bufs;
        while !rest.is_empty() {
            let k = rest.len().min(self.config.batch);
            for (i, buf) in rest.iter().take(k).enumerate() {
                let peer = buf.peer();
                self.names[i] = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: peer.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*peer.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                let data = buf.as_ref();
                self.iovs[i] = libc::iovec {
                    iov_base: data.as_ptr().cast_mut().cast(),
                    iov_len: data.len(),
                };
                self.point_header(i);
            }
            // SAFETY: `hdrs[..k]` point at `names` and `iovs`, which point at the datagrams
            // in `rest`; the kernel only reads them, and all outlive the call.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    k as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                let n = n as usize;
                sent += n;
                rest = rest.get(n..).unwrap_or(&[]);
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    if retries < SEND_RETRIES =>
                {
                    retries += 1;
                    std::hint::spin_loop();
                }
                _ => {
                    // This datagram cannot go (unreachable, too big, persistent full queue):
                    // drop it, as a NIC would, and carry on with the rest.
                    self.stats.tx_errors += 1;
                    rest = rest.get(1..).unwrap_or(&[]);
                }
            }
        }
        self.stats.tx_packets += sent as u64;
        sent
    }
}

fn set_buffer_sizes(socket: &UdpSocket, bytes: usize) {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live c_int. A refusal
        // only leaves the kernel default in place, which is fine.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const size).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

impl PacketIo for UdpIo {
    type Buf = PacketBuf;

    fn recv_burst(&mut self, batch: &mut Vec<PacketBuf>, max: usize) -> io::Result<usize> {
        let count = self.sockets.len();
        let mut total = 0;
        let polled = std::mem::take(&mut self.polled);
        for k in 0..count {
            let index = (self.next_socket + k) % count;
            if polled && self.pollfds[index].revents == 0 {
                continue;
            }
            loop {
                if total >= max {
                    break;
                }
                let (got, more) = self.recv_from(index, batch, max - total)?;
                total += got;
                if !more {
                    break;
                }
            }
        }
        if count > 0 {
            self.next_socket = (self.next_socket + 1) % count;
        }
        Ok(total)
    }

    fn send_burst(&mut self, batch: &mut Vec<PacketBuf>) -> io::Result<usize> {
        let mut sent = 0;
        let mut start = 0;
        while start < batch.len() {
            let endpoint = batch[start].endpoint();
            let run = batch[start..]
                .iter()
                .take_while(|b| b.endpoint() == endpoint)
                .count();
            sent += self.send_from(usize::from(endpoint.0), &batch[start..start + run]);
            start += run;
        }
        for buf in batch.drain(..) {
            self.pool.put(buf);
        }
        Ok(sent)
    }

    fn alloc(&mut self) -> PacketBuf {
        self.pool.get()
    }

    fn free(&mut self, buf: PacketBuf) {
        self.pool.put(buf);
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: `pollfds` is a live array of `len` pollfd structs; `ts` outlives the call.
        let n = unsafe {
            libc::ppoll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
            // Interrupted: nothing is known about the sockets, so the next receive reads all.
            return Ok(());
        }
        self.polled = true;
        Ok(())
    }

    fn local_addrs(&self) -> &[SocketAddrV4] {
        &self.addrs
    }

    fn stats(&self) -> IoStats {
        self.stats
    }
}

#[cfg(test)]
#[path = "udp_tests.rs"]
mod tests;
