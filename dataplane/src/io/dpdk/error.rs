use std::ffi::CStr;

/// Everything that can go wrong setting up or running DPDK, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpdkError {
    #[error("rte_eal_init failed: {reason} (EAL arguments: {args}). {hint}")]
    EalInit {
        reason: String,
        args: String,
        hint: String,
    },
    #[error(
        "the DPDK EAL is already initialized in this process; rte_eal_init runs once per process"
    )]
    EalAlready,
    #[error(
        "DPDK port {port} does not exist: {available} port(s) are available (0..{available}). \
         Create one with an EAL argument such as --vdev=net_ring0, or bind a NIC to a DPDK driver"
    )]
    NoSuchPort { port: u16, available: u16 },
    #[error("DPDK port {port}: {call} failed: {reason}")]
    Port {
        port: u16,
        call: &'static str,
        reason: String,
    },
    #[error("cannot create mbuf pool {name:?} of {count} mbufs: {reason}")]
    Mempool {
        name: String,
        count: u32,
        reason: String,
    },
    #[error("cannot create ring {name:?}: {reason}")]
    Ring { name: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// The text of a DPDK error number (`rte_strerror`), which knows DPDK's own codes as well as
/// errno values. Negative numbers (as ethdev calls return them) are accepted.
pub fn strerror(errnum: i32) -> String {
    let errnum = errnum.checked_abs().unwrap_or(i32::MAX);
    // SAFETY: rte_strerror returns a pointer to a NUL-terminated string that is either static
    // or in thread-local storage, valid until the next call on this thread; we copy it now.
    let text = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errnum)) };
    format!("{} (error {errnum})", text.to_string_lossy())
}

/// The text of the current `rte_errno`.
pub fn last_error() -> String {
    // SAFETY: reads the thread-local rte_errno; no preconditions.
    strerror(unsafe { dpdk_sys::shim_errno() })
}

/// `Err(Port { .. })` when an ethdev call returned a negative errno.
pub(super) fn check(port: u16, call: &'static str, ret: i32) -> Result<i32, DpdkError> {
    if ret < 0 {
        Err(DpdkError::Port {
            port,
            call,
            reason: strerror(ret),
        })
    } else {
        Ok(ret)
    }
}
