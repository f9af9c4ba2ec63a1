use std::ptr::NonNull;

use super::Mempool;

/// One owned packet buffer (an `rte_mbuf` chain). Dropping it frees the chain; ownership
/// moves into DPDK only through [`Mbuf::into_raw`], so an mbuf is freed exactly once.
#[derive(Debug)]
pub struct Mbuf {
    raw: NonNull<dpdk_sys::rte_mbuf>,
}

impl Mbuf {
    /// An empty mbuf (no data, default headroom), or None if the pool is empty.
    pub fn alloc(pool: Mempool) -> Option<Mbuf> {
        // SAFETY: the pool is valid for the life of the EAL.
        let raw = unsafe { dpdk_sys::shim_pktmbuf_alloc(pool.as_ptr()) };
        NonNull::new(raw).map(|raw| Mbuf { raw })
    }

    /// Takes ownership of an mbuf DPDK handed out (an rx burst, a ring).
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else owns or will free.
    pub unsafe fn from_raw(raw: *mut dpdk_sys::rte_mbuf) -> Option<Mbuf> {
        NonNull::new(raw).map(|raw| Mbuf { raw })
    }

    /// Gives ownership to the caller (to pass to a tx burst or a ring).
    pub fn into_raw(self) -> *mut dpdk_sys::rte_mbuf {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mbuf {
        self.raw.as_ptr()
    }

    // The per-packet accessors read the rte_mbuf fields directly (bindgen's layout of the
    // same headers the shim is compiled against) instead of calling the shim: an FFI call
    // per field costs more than the field read on a path of ~20 ns per packet. The tests
    // check them against the shim's answers.

    fn fields(&self) -> &dpdk_sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf; these fields are not written concurrently (the
        // reference count, which clones on this thread change, is read atomically below).
        unsafe { &*self.raw.as_ptr() }
    }

    /// Bytes in the first segment.
    pub fn data_len(&self) -> usize {
        usize::from(self.fields().data_len)
    }

    /// Bytes in the whole chain.
    pub fn pkt_len(&self) -> usize {
        self.fields().pkt_len as usize
    }

    pub fn segments(&self) -> u16 {
        self.fields().nb_segs
    }

    pub fn headroom(&self) -> usize {
        usize::from(self.fields().data_off)
    }

    /// Free bytes after this segment's data (`rte_pktmbuf_tailroom`).
    pub fn tailroom(&self) -> usize {
        let f = self.fields();
        usize::from(f.buf_len).saturating_sub(usize::from(f.data_off) + usize::from(f.data_len))
    }

    pub fn refcnt(&self) -> u16 {
        // SAFETY: refcnt is a valid, aligned u16 that DPDK only changes atomically.
        unsafe {
            std::sync::atomic::AtomicU16::from_ptr(&raw mut (*self.raw.as_ptr()).refcnt)
                .load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    /// Start of the first segment's data (`rte_pktmbuf_mtod`).
    fn mtod(&self) -> *mut u8 {
        let f = self.fields();
        f.buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(f.data_off))
    }

    /// True when the first segment's data belongs to this mbuf alone, so it may be written:
    /// not a clone and not cloned.
    pub fn is_exclusive(&self) -> bool {
        let ol_flags_indirect = self.is_indirect();
        !ol_flags_indirect && self.refcnt() == 1
    }

    fn is_indirect(&self) -> bool {
        // SAFETY: as above; reads ol_flags only.
        let flags = unsafe { (*self.raw.as_ptr()).ol_flags };
        flags & (dpdk_sys::RTE_MBUF_F_INDIRECT | dpdk_sys::RTE_MBUF_F_EXTERNAL) != 0
    }

    /// The first segment's data.
    pub fn data(&self) -> &[u8] {
        let len = self.data_len();
        // SAFETY: mtod points at data_len initialised bytes of the first segment, which
        // live as long as the mbuf; the shared borrow of self keeps them from changing
        // through this handle.
        unsafe { std::slice::from_raw_parts(self.mtod(), len) }
    }

    /// The first segment's data, writable. Only for an exclusive mbuf (see
    /// [`Mbuf::is_exclusive`]); for a shared one it returns an empty slice, so shared bytes
    /// are never written through two handles.
    pub fn data_mut(&mut self) -> &mut [u8] {
        if !self.is_exclusive() {
            return &mut [];
        }
        let len = self.data_len();
        // SAFETY: as for data(); the mbuf's data is exclusively ours (refcount 1, direct),
        // and &mut self rules out another borrow through this handle.
        unsafe { std::slice::from_raw_parts_mut(self.mtod(), len) }
    }

    /// The first segment's data, writable even when shared with clones.
    ///
    /// # Safety
    /// The caller must write only bytes that no clone reads (a clone adjusted past them, as
    /// the sequencer's fan-out does with the headers), with no other handle to this chain
    /// in use at the same time.
    pub unsafe fn data_mut_unchecked(&mut self) -> &mut [u8] {
        let len = self.data_len();
        // SAFETY: the bytes exist for the life of the mbuf; exclusivity of the bytes
        // actually written is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.mtod(), len) }
    }

    /// The first segment's data followed by its tailroom, writable (exclusive mbufs only,
    /// else empty): the area a datagram is written into before [`Mbuf::set_data_len`].
    pub fn room_mut(&mut self) -> &mut [u8] {
        if !self.is_exclusive() || self.segments() != 1 {
            return &mut [];
        }
        let len = self.data_len() + self.tailroom();
        // SAFETY: the first (only) segment's buffer has data_len + tailroom bytes from mtod
        // to its end, exclusively ours (see data_mut). Tailroom bytes may be uninitialised
        // in C terms but DPDK buffers are plain memory from the pool (zeroed at creation
        // and only ever written with bytes), so reading them yields old packet bytes.
        unsafe { std::slice::from_raw_parts_mut(self.mtod(), len) }
    }

    /// Sets the length of a single-segment mbuf within its room; false if it does not fit.
    pub fn set_data_len(&mut self, len: usize) -> bool {
        if self.segments() != 1 || len > self.data_len() + self.tailroom() {
            return false;
        }
        let len16 = len as u16;
        // SAFETY: single segment, and len fits the buffer (checked above).
        unsafe {
            let m = self.raw.as_ptr();
            (*m).data_len = len16;
            (*m).pkt_len = u32::from(len16);
        }
        true
    }

    /// Grows the data at the front into the headroom; the new bytes, or None if the
    /// headroom is too small.
    pub fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        // SAFETY: rte_pktmbuf_prepend checks the headroom and returns NULL if too small.
        let p = unsafe { dpdk_sys::shim_pktmbuf_prepend(self.raw.as_ptr(), len16) };
        if p.is_null() {
            return None;
        }
        // SAFETY: p points at len bytes now at the front of the first segment's data.
        Some(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
    }

    /// Removes `len` bytes from the front; false if the first segment is shorter.
    pub fn adj(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        // SAFETY: rte_pktmbuf_adj checks the length and returns NULL if too long.
        !unsafe { dpdk_sys::shim_pktmbuf_adj(self.raw.as_ptr(), len16) }.is_null()
    }

    /// Removes `len` bytes from the end; false if the last segment is shorter.
    pub fn trim(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        // SAFETY: rte_pktmbuf_trim checks the length and returns -1 if too long.
        unsafe { dpdk_sys::shim_pktmbuf_trim(self.raw.as_ptr(), len16) == 0 }
    }

    /// Appends `len` bytes at the end; the new bytes, or None without tailroom.
    pub fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        // SAFETY: rte_pktmbuf_append checks the tailroom and returns NULL if too small.
        let p = unsafe { dpdk_sys::shim_pktmbuf_append(self.raw.as_ptr(), len16) };
        if p.is_null() {
            return None;
        }
        // SAFETY: p points at len bytes just appended to the last segment, ours alone.
        Some(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) })
    }

    /// A clone sharing this chain's data (`rte_pktmbuf_clone`: indirect mbufs from `pool`,
    /// which may have 0 data room), for fan-out without copying; None if `pool` is empty.
    /// Both handles then see the data as shared (read-only through [`Mbuf::data_mut`]).
    pub fn clone_in(&self, pool: Mempool) -> Option<Mbuf> {
        // SAFETY: self is a valid mbuf; the clone takes a reference on its data, released
        // when the clone is freed.
        let raw = unsafe { dpdk_sys::shim_pktmbuf_clone(self.raw.as_ptr(), pool.as_ptr()) };
        NonNull::new(raw).map(|raw| Mbuf { raw })
    }

    /// Appends `tail` as the last segments of this chain (`rte_pktmbuf_chain`), as DPDK's
    /// ipv4_multicast example chains a header mbuf in front of a clone of the payload. On
    /// failure (too many segments) `tail` is handed back.
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        // SAFETY: both are valid chains; on success the head owns the tail's segments, so
        // the tail handle is forgotten (freeing the head frees them once).
        let ret = unsafe { dpdk_sys::shim_pktmbuf_chain(self.raw.as_ptr(), tail.as_ptr()) };
        if ret == 0 {
            std::mem::forget(tail);
            Ok(())
        } else {
            Err(tail)
        }
    }

    /// Copies the whole chain's bytes into `out` (cleared first); for tests and tools.
    pub fn copy_to_vec(&self, out: &mut Vec<u8>) {
        out.clear();
        let mut seg = self.raw.as_ptr();
        while !seg.is_null() {
            // SAFETY: seg is a segment of our valid chain; mtod/data_len describe its bytes.
            unsafe {
                let len = usize::from(dpdk_sys::shim_data_len(seg));
                out.extend_from_slice(std::slice::from_raw_parts(
                    dpdk_sys::shim_mtod(seg).cast::<u8>(),
                    len,
                ));
                seg = (*seg).next;
            }
        }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the chain (see from_raw/into_raw), so it is freed exactly once.
        unsafe { dpdk_sys::shim_pktmbuf_free(self.raw.as_ptr()) };
    }
}

/// Frees every mbuf of a raw array DPDK handed out (the part of a tx burst not sent).
///
/// # Safety
/// Each pointer must be a valid mbuf owned by the caller and not used afterwards.
pub unsafe fn free_raw(mbufs: &[*mut dpdk_sys::rte_mbuf]) {
    for &m in mbufs {
        // SAFETY: the caller owns each mbuf and gives it up.
        unsafe { dpdk_sys::shim_pktmbuf_free(m) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_accessors_agree_with_the_c_shim() {
        let mut backing = [0u8; 512];
        let mut raw = dpdk_sys::rte_mbuf {
            buf_addr: backing.as_mut_ptr().cast(),
            data_off: 128,
            refcnt: 3,
            nb_segs: 2,
            pkt_len: 300,
            data_len: 100,
            buf_len: 512,
            ..Default::default()
        };
        let m = Mbuf {
            raw: NonNull::from(&mut raw),
        };
        // SAFETY: the shim functions only read the fields of the struct above.
        let shim = unsafe {
            (
                usize::from(dpdk_sys::shim_data_len(m.as_ptr())),
                dpdk_sys::shim_pkt_len(m.as_ptr()) as usize,
                dpdk_sys::shim_nb_segs(m.as_ptr()),
                usize::from(dpdk_sys::shim_headroom(m.as_ptr())),
                usize::from(dpdk_sys::shim_tailroom(m.as_ptr())),
                dpdk_sys::shim_refcnt(m.as_ptr()),
                dpdk_sys::shim_mtod(m.as_ptr()).cast::<u8>(),
            )
        };
        let ours = (
            m.data_len(),
            m.pkt_len(),
            m.segments(),
            m.headroom(),
            m.tailroom(),
            m.refcnt(),
            m.mtod(),
        );
        std::mem::forget(m); // not a pool mbuf: must not be freed
        assert_eq!(ours, shim);
        assert_eq!(ours.4, 512 - 128 - 100);
    }
}
