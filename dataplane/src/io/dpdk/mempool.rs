use std::ffi::CString;
use std::ptr::NonNull;

use super::Eal;
use super::error::{DpdkError, last_error};

/// An mbuf pool (`rte_pktmbuf_pool_create`). A handle: pools live until the EAL is cleaned
/// up (DPDK applications do not free pools that mbufs may still point into), so copies of
/// the handle are always valid.
#[derive(Debug, Clone, Copy)]
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
    size: u32,
}

impl Mempool {
    /// Mbufs of DPDK's default size (2048 bytes of data after a 128-byte headroom): one
    /// standard Ethernet frame per mbuf.
    pub const DEFAULT_DATA_ROOM: u16 = 2048 + 128;

    /// A pool of `count` mbufs with `data_room` bytes each (headroom included), and a
    /// per-core cache of `cache` mbufs; 0 data room makes a pool for indirect mbufs (clones).
    pub fn create(
        _eal: &Eal,
        name: &str,
        count: u32,
        cache: u32,
        data_room: u16,
    ) -> Result<Mempool, DpdkError> {
        let err = |reason: String| DpdkError::Mempool {
            name: name.to_string(),
            count,
            reason,
        };
        let cname = CString::new(name).map_err(|_| err("the name contains a NUL byte".into()))?;
        // SAFETY: the EAL is initialised; cname is a valid C string for the call's duration
        // (DPDK copies the name).
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                count,
                cache,
                0,
                data_room,
                dpdk_sys::rte_socket_id() as i32,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| {
            err(format!(
                "{}; without hugepages pass --no-huge -m <MB> large enough for the pool",
                last_error()
            ))
        })?;
        Ok(Mempool { raw, size: count })
    }

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }

    /// Mbufs the pool was created with.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Mbufs free right now (in the pool and in the per-core caches).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid for the life of the EAL.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs taken out and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: as above.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }
}
