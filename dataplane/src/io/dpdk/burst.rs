//! Bursts of owned mbufs and the queues they move through, without allocation: a
//! [`MbufBurst`] has a fixed capacity chosen up front, and whatever is left in it when it is
//! cleared or dropped is freed.

use super::{Mbuf, Port};

type Raw = *mut dpdk_sys::rte_mbuf;

/// A fixed-capacity array of owned mbufs, laid out as `rx_burst`/`tx_burst` want them.
#[derive(Debug)]
pub struct MbufBurst {
    ptrs: Vec<Raw>,
}

impl MbufBurst {
    pub fn with_capacity(capacity: usize) -> MbufBurst {
        MbufBurst {
            ptrs: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.ptrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ptrs.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.ptrs.capacity()
    }

    /// Adds `mbuf`, or hands it back when the burst is full (it never grows).
    pub fn push(&mut self, mbuf: Mbuf) -> Result<(), Mbuf> {
        if self.ptrs.len() == self.ptrs.capacity() {
            return Err(mbuf);
        }
        self.ptrs.push(mbuf.into_raw());
        Ok(())
    }

    /// Asks the CPU to bring every mbuf's first data cache line in (`rte_prefetch0`), so
    /// that handling the burst does not wait for memory packet by packet.
    pub fn prefetch_data(&self) {
        for &p in &self.ptrs {
            // SAFETY: p is an owned, valid mbuf; we only read two of its fields.
            let data = unsafe {
                (*p).buf_addr
                    .cast::<u8>()
                    .wrapping_add(usize::from((*p).data_off))
            };
            prefetch(data);
        }
    }

    /// Takes the mbufs out in order; any the caller does not take are freed.
    pub fn drain(&mut self) -> Drain<'_> {
        Drain {
            inner: self.ptrs.drain(..),
        }
    }

    /// Frees every mbuf in the burst.
    pub fn clear(&mut self) {
        drop(self.drain());
    }
}

impl Drop for MbufBurst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The mbufs of a burst, in order; dropping it frees the ones not taken.
#[derive(Debug)]
pub struct Drain<'a> {
    inner: std::vec::Drain<'a, Raw>,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    fn next(&mut self) -> Option<Mbuf> {
        loop {
            let p = self.inner.next()?;
            // SAFETY: the burst owned p (pushed from an Mbuf or received from a queue) and
            // this is the only place it leaves the burst.
            if let Some(m) = unsafe { Mbuf::from_raw(p) } {
                return Some(m);
            }
        }
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for _ in self.by_ref() {}
    }
}

/// One rx/tx queue pair of a started [`Port`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    port: u16,
    queue: u16,
}

impl Queue {
    /// Queue pair `queue` of `port`, if the port has it.
    pub fn new(port: &Port, queue: u16) -> Option<Queue> {
        (queue < port.queues()).then_some(Queue {
            port: port.id(),
            queue,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Receives up to `max` frames (bounded by the burst's free room) into `burst`;
    /// returns how many.
    pub fn rx(&self, burst: &mut MbufBurst, max: usize) -> usize {
        let room = burst.ptrs.capacity() - burst.ptrs.len();
        let want = max.min(room).min(usize::from(u16::MAX)) as u16;
        let len = burst.ptrs.len();
        // SAFETY: the queue belongs to a started port (or a stopped one, whose burst
        // functions are DPDK's dummies returning 0); the spare capacity holds `want`
        // pointers, of which the first n returned are initialised owned mbufs.
        unsafe {
            let n = dpdk_sys::shim_rx_burst(
                self.port,
                self.queue,
                burst.ptrs.as_mut_ptr().add(len),
                want,
            );
            burst.ptrs.set_len(len + usize::from(n));
            usize::from(n)
        }
    }

    /// Transmits the whole burst; frames the queue refuses (full) are freed. Returns
    /// (sent, refused); the burst is empty afterwards.
    pub fn tx(&self, burst: &mut MbufBurst) -> (usize, usize) {
        let total = burst.ptrs.len();
        let mut sent = 0;
        while sent < total {
            let n = (total - sent).min(usize::from(u16::MAX)) as u16;
            // SAFETY: as in rx; ptrs[sent..] are owned mbufs, and the ones the driver takes
            // (the first `taken`) are its to free.
            let taken = usize::from(unsafe {
                dpdk_sys::shim_tx_burst(self.port, self.queue, burst.ptrs.as_mut_ptr().add(sent), n)
            });
            sent += taken;
            if taken < usize::from(n) {
                break;
            }
        }
        // The driver owns ptrs[..sent] now: forget them, free the rest.
        let refused = total - sent;
        burst.ptrs.drain(..sent).for_each(drop);
        burst.clear();
        (sent, refused)
    }
}

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint that never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
