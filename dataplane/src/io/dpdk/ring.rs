//! Ring-backed ports (`rte_eth_from_rings`, the net_ring driver): a port whose receive
//! queue is a ring we enqueue frames into and whose transmit queue is a ring we dequeue
//! sent frames from. Tests and benchmarks drive a real DPDK port this way, in one process,
//! without a NIC.

use std::ffi::CString;
use std::ptr::NonNull;

use super::error::{DpdkError, last_error};
use super::{Eal, Mbuf};

/// An `rte_ring` of mbuf pointers. A handle: rings live until the EAL is cleaned up.
#[derive(Debug, Clone, Copy)]
pub struct Ring {
    raw: NonNull<dpdk_sys::rte_ring>,
}

impl Ring {
    /// A ring of `count` slots (a power of two; one slot stays empty).
    pub fn create(_eal: &Eal, name: &str, count: u32) -> Result<Ring, DpdkError> {
        let err = |reason: String| DpdkError::Ring {
            name: name.to_string(),
            reason,
        };
        let cname = CString::new(name).map_err(|_| err("the name contains a NUL byte".into()))?;
        // SAFETY: EAL initialised; the name is copied by DPDK.
        let raw = unsafe {
            dpdk_sys::rte_ring_create(cname.as_ptr(), count, dpdk_sys::rte_socket_id() as i32, 0)
        };
        NonNull::new(raw)
            .map(|raw| Ring { raw })
            .ok_or_else(|| err(last_error()))
    }

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_ring {
        self.raw.as_ptr()
    }

    /// Queues `mbuf`; hands it back if the ring is full.
    pub fn enqueue(&self, mbuf: Mbuf) -> Result<(), Mbuf> {
        let raw = mbuf.as_ptr();
        let objs = [raw.cast::<std::ffi::c_void>()];
        // SAFETY: a valid ring and one valid object pointer; on success the ring owns it.
        let n = unsafe { dpdk_sys::shim_ring_enqueue_burst(self.raw.as_ptr(), objs.as_ptr(), 1) };
        if n == 1 {
            let _ = mbuf.into_raw();
            Ok(())
        } else {
            Err(mbuf)
        }
    }

    /// Moves up to `max` mbufs out of the ring into `out`; returns how many.
    pub fn dequeue(&self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let mut raw = [std::ptr::null_mut::<std::ffi::c_void>(); 64];
        let mut total = 0;
        while total < max {
            let want = (max - total).min(raw.len()) as u32;
            // SAFETY: a valid ring; raw has room for `want` pointers.
            let n = unsafe {
                dpdk_sys::shim_ring_dequeue_burst(self.raw.as_ptr(), raw.as_mut_ptr(), want)
            } as usize;
            for &p in &raw[..n] {
                // SAFETY: the ring held owned mbufs (we or a port enqueued them).
                if let Some(m) = unsafe { Mbuf::from_raw(p.cast()) } {
                    out.push(m);
                }
            }
            total += n;
            if n == 0 {
                break;
            }
        }
        total
    }

    /// Queues raw mbufs; returns how many were taken (the rest stay the caller's).
    ///
    /// # Safety
    /// Each pointer must be a valid mbuf owned by the caller; the ones taken are owned by
    /// the ring afterwards.
    pub unsafe fn enqueue_raw(&self, mbufs: &[*mut dpdk_sys::rte_mbuf]) -> usize {
        // SAFETY: the caller's promise; rte_mbuf pointers are passed as void pointers.
        unsafe {
            dpdk_sys::shim_ring_enqueue_burst(
                self.raw.as_ptr(),
                mbufs.as_ptr().cast(),
                mbufs.len() as u32,
            ) as usize
        }
    }

    pub fn count(&self) -> usize {
        // SAFETY: a valid ring.
        unsafe { dpdk_sys::shim_ring_count(self.raw.as_ptr()) as usize }
    }
}

/// A port made of rings: what is enqueued on `rx` arrives on the port's queue 0, what the
/// port sends lands in `tx`.
#[derive(Debug, Clone, Copy)]
pub struct RingPort {
    pub port: u16,
    pub rx: Ring,
    pub tx: Ring,
}

impl RingPort {
    /// Creates the rings (`<name>_rx`, `<name>_tx`, `size` slots each) and the port
    /// (`net_ring_<name>`); start it with [`super::Port::start`].
    pub fn create(eal: &Eal, name: &str, size: u32) -> Result<RingPort, DpdkError> {
        let rx = Ring::create(eal, &format!("{name}_rx"), size)?;
        let tx = Ring::create(eal, &format!("{name}_tx"), size)?;
        let port = Self::from_rings(eal, name, rx, tx)?;
        Ok(RingPort { port, rx, tx })
    }

    /// A port receiving from `rx` and sending into `tx` (the same ring makes a loopback).
    pub fn from_rings(_eal: &Eal, name: &str, rx: Ring, tx: Ring) -> Result<u16, DpdkError> {
        let cname = CString::new(name)
            .map_err(|_| DpdkError::Invalid(format!("port name {name:?} contains a NUL byte")))?;
        let rxs = [rx.as_ptr()];
        let txs = [tx.as_ptr()];
        // SAFETY: EAL initialised; the ring arrays live across the call (DPDK copies them).
        let ret = unsafe {
            dpdk_sys::rte_eth_from_rings(
                cname.as_ptr(),
                rxs.as_ptr(),
                1,
                txs.as_ptr(),
                1,
                dpdk_sys::rte_socket_id(),
            )
        };
        u16::try_from(ret).map_err(|_| DpdkError::Ring {
            name: name.to_string(),
            reason: format!("rte_eth_from_rings: {}", last_error()),
        })
    }
}
