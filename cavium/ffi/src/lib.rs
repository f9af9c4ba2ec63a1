//! The C sequencer core of `cavium/` (the Octeon-style network-processor target), built from
//! `cavium/src` with the `cc` crate and wrapped for Rust.
//!
//! It exists so that the Rust test suite can hold the C core to the same standard as the
//! Rust one: [`CSequencerUnderTest`] runs it through the golden vectors
//! (`dataplane::golden`), and the crate's tests compare it with `dataplane::oum::Sequencer`
//! on random and mutated frames, stamp one group from several threads at once, and run the
//! C test program under AddressSanitizer / UBSan and under qemu-mips64 (big endian). The
//! benchmark (`cargo bench -p cavium-sequencer`) stamps the same frames through both cores.
//! See docs/cavium.md.

use std::alloc::{self, Layout};
use std::fmt;
use std::net::Ipv4Addr;
use std::ptr::NonNull;

use dataplane::golden::{CaseConfig, Outcome, SequencerUnderTest};
use dataplane::oum::{DropReason, GroupSpec};

pub mod auth;
pub mod differential;

/// The C API of `cavium/src/oum_seq.h` and `oum_siphash.h`, declared by hand.
pub mod ffi {
    use std::ffi::c_char;

    /// `struct oum_seq`: opaque, lives in memory the caller provides.
    #[repr(C)]
    #[derive(Debug)]
    pub struct OumSeq {
        _private: [u8; 0],
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default)]
    pub struct OumSeqConfig {
        pub oum_port: u16,
        pub session: u16,
        pub flags: u32,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    pub struct OumSeqGroupSpec {
        pub address: u32,
        pub n_members: u32,
        pub members: *const u16,
        pub last_msgnum: u64,
        /// 16 bytes, or null: stamps without a tag.
        pub auth_key: *const u8,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct OumSeqResult {
        pub action: u8,
        pub reason: u8,
        pub group: u16,
        pub session: u16,
        pub reserved: u16,
        pub msgnum: u64,
        pub len: u32,
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct OumSeqParsed {
        pub reason: u8,
        pub reserved: u8,
        pub group: u16,
        pub udp_offset: u16,
        pub oum_offset: u16,
        pub len: u32,
        pub stamped_len: u32,
    }

    /// `struct oum_siphash`: a SipHash-2-4 computation in progress.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default)]
    pub struct OumSiphash {
        pub v: [u64; 4],
        pub tail: u64,
        pub length: u64,
    }

    pub const OUM_ACTION_DROP: u8 = 0;
    pub const OUM_ACTION_MULTICAST: u8 = 1;
    pub const OUM_ACTION_FORWARD: u8 = 2;
    pub const OUM_REASON_NO_ROOM_FOR_TAG: u8 = 13;
    pub const OUM_REASON_COUNT: u32 = 14;
    pub const OUM_AUTH_KEY_LEN: usize = 16;
    pub const OUM_AUTH_TAG_LEN: usize = 8;
    pub const OUM_REASON_NONE: u8 = 0xff;
    pub const OUM_SEQ_FLAG_FORWARD_OTHER: u32 = 1;
    pub const OUM_SEQ_ALIGN: usize = 128;

    pub const OUM_SEQ_OK: i32 = 0;
    pub const OUM_SEQ_ERR_ARG: i32 = -1;
    pub const OUM_SEQ_ERR_NOMEM: i32 = -2;
    pub const OUM_SEQ_ERR_ALIGN: i32 = -3;
    pub const OUM_SEQ_ERR_TOO_MANY: i32 = -4;
    pub const OUM_SEQ_ERR_DUPLICATE: i32 = -5;
    pub const OUM_SEQ_ERR_BAD_FLAGS: i32 = -6;

    unsafe extern "C" {
        pub fn oum_seq_footprint(n_groups: u32, n_members_total: u32) -> usize;
        pub fn oum_seq_init(
            mem: *mut u8,
            mem_len: usize,
            config: *const OumSeqConfig,
            groups: *const OumSeqGroupSpec,
            n_groups: u32,
            err: *mut i32,
        ) -> *mut OumSeq;
        pub fn oum_seq_process(
            seq: *mut OumSeq,
            frame: *mut u8,
            len: usize,
            result: *mut OumSeqResult,
        );
        pub fn oum_seq_process_buf(
            seq: *mut OumSeq,
            frame: *mut u8,
            len: usize,
            cap: usize,
            result: *mut OumSeqResult,
        );
        pub fn oum_seq_process_burst(
            seq: *mut OumSeq,
            frames: *const *mut u8,
            lens: *const u32,
            n: u32,
            results: *mut OumSeqResult,
        );
        pub fn oum_seq_process_burst_buf(
            seq: *mut OumSeq,
            frames: *const *mut u8,
            lens: *const u32,
            caps: *const u32,
            n: u32,
            results: *mut OumSeqResult,
        );
        pub fn oum_seq_classify(
            seq: *const OumSeq,
            frame: *const u8,
            len: usize,
            parsed: *mut OumSeqParsed,
        );
        pub fn oum_seq_classify_buf(
            seq: *const OumSeq,
            frame: *const u8,
            len: usize,
            cap: usize,
            parsed: *mut OumSeqParsed,
        );
        pub fn oum_seq_commit(
            seq: *mut OumSeq,
            frame: *mut u8,
            parsed: *const OumSeqParsed,
            result: *mut OumSeqResult,
        );
        pub fn oum_seq_start_session(seq: *mut OumSeq, session: u16);
        pub fn oum_seq_set_last_msgnum(seq: *mut OumSeq, group: u32, last: u64) -> i32;
        pub fn oum_seq_session(seq: *const OumSeq) -> u16;
        pub fn oum_seq_oum_port(seq: *const OumSeq) -> u16;
        pub fn oum_seq_group_count(seq: *const OumSeq) -> u32;
        pub fn oum_seq_lookup(seq: *const OumSeq, address: u32) -> i32;
        pub fn oum_seq_members(seq: *const OumSeq, group: u32, n: *mut u32) -> *const u16;
        pub fn oum_seq_group_address(seq: *const OumSeq, group: u32) -> u32;
        pub fn oum_seq_last_msgnum(seq: *const OumSeq, group: u32) -> u64;
        pub fn oum_seq_group_keyed(seq: *const OumSeq, group: u32) -> i32;
        pub fn oum_seq_stamped(seq: *const OumSeq, group: u32) -> u64;
        pub fn oum_seq_drop_count(seq: *const OumSeq, reason: u32) -> u64;
        pub fn oum_seq_forward_count(seq: *const OumSeq, reason: u32) -> u64;
        pub fn oum_seq_needs_new_session(seq: *const OumSeq) -> i32;
        pub fn oum_reason_name(reason: u32) -> *const c_char;

        pub fn oum_siphash_init(h: *mut OumSiphash, key: *const u8);
        pub fn oum_siphash_update(h: *mut OumSiphash, data: *const u8, len: usize);
        pub fn oum_siphash_final(h: *mut OumSiphash) -> u64;
        pub fn oum_siphash24(key: *const u8, data: *const u8, len: usize) -> u64;
    }
}

/// Why the C core refused a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    DuplicateGroupAddress,
    TooManyGroups,
    BadFlags,
    /// Any other code of `oum_seq_init` (memory, alignment, arguments): a bug here.
    Other(i32),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::DuplicateGroupAddress => f.write_str("a group address is configured twice"),
            InitError::TooManyGroups => f.write_str("more than 65536 groups"),
            InitError::BadFlags => f.write_str("unknown configuration flags"),
            InitError::Other(code) => write!(f, "oum_seq_init failed with code {code}"),
        }
    }
}

impl std::error::Error for InitError {}

/// What the C core did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CVerdict {
    /// Stamped in place; a copy goes to every member of `group`.
    Multicast {
        group: u16,
        session: u16,
        msgnum: u64,
    },
    /// Not OUM traffic, sent on unchanged (only with [`Flags::forward_other`]).
    Forward(DropReason),
    /// Dropped, counted under the reason.
    Drop(DropReason),
    /// Dropped: the group is keyed and the buffer had no room for the tag (the C core's
    /// reason `no-room-for-tag`, which the Rust core's [`DropReason`] does not have).
    NoRoomForTag,
}

/// Configuration flags of the C core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Forward non-OUM traffic (not IPv4, fragments, not UDP, other ports) unchanged.
    pub forward_other: bool,
}

impl Flags {
    fn bits(self) -> u32 {
        if self.forward_other {
            ffi::OUM_SEQ_FLAG_FORWARD_OTHER
        } else {
            0
        }
    }
}

/// The reason with the C core's number (`enum oum_reason`), which follows
/// [`DropReason::ALL`].
pub fn reason_from_c(code: u8) -> Option<DropReason> {
    DropReason::ALL.get(usize::from(code)).copied()
}

/// The C core's name of a reason number, or "none".
pub fn c_reason_name(code: u32) -> String {
    // SAFETY: oum_reason_name returns a pointer to a static NUL-terminated string for any
    // argument.
    unsafe { std::ffi::CStr::from_ptr(ffi::oum_reason_name(code)) }
        .to_string_lossy()
        .into_owned()
}

/// A C sequencer in memory owned by this value.
///
/// Packet processing takes `&self`: the C core's per-group counters are atomic, so many
/// threads may stamp through one sequencer at once, as many Octeon cores do. The control
/// plane calls take `&mut self`, since the C API forbids them during packet processing.
pub struct CSequencer {
    seq: NonNull<ffi::OumSeq>,
    layout: Layout,
}

// SAFETY: the C sequencer lives in memory owned by this value and holds no thread-affine
// state; moving it to another thread is fine.
unsafe impl Send for CSequencer {}
// SAFETY: every function reachable through `&self` is either read-only on configuration
// that never changes after init, or updates counters with C11 atomics (oum_atomic.h); the
// calls that are not safe to overlap with packet processing take `&mut self`.
unsafe impl Sync for CSequencer {}

impl fmt::Debug for CSequencer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CSequencer")
            .field("session", &self.session())
            .field("groups", &self.group_count())
            .finish_non_exhaustive()
    }
}

impl CSequencer {
    pub fn new(
        session: u16,
        oum_port: u16,
        groups: &[GroupSpec],
        flags: Flags,
    ) -> Result<CSequencer, InitError> {
        CSequencer::with_keys(session, oum_port, groups, &[], flags)
    }

    /// A sequencer whose group `i` seals its stamps with `keys[i]` where that is `Some`
    /// (authenticated stamps, docs/wire-format.md); groups past the end of `keys` have none.
    pub fn with_keys(
        session: u16,
        oum_port: u16,
        groups: &[GroupSpec],
        keys: &[Option<[u8; 16]>],
        flags: Flags,
    ) -> Result<CSequencer, InitError> {
        let n_groups = u32::try_from(groups.len()).map_err(|_| InitError::TooManyGroups)?;
        let specs: Vec<ffi::OumSeqGroupSpec> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                Ok(ffi::OumSeqGroupSpec {
                    address: u32::from(g.address),
                    n_members: u32::try_from(g.members.len())
                        .map_err(|_| InitError::Other(ffi::OUM_SEQ_ERR_ARG))?,
                    members: g.members.as_ptr(),
                    last_msgnum: 0,
                    auth_key: match keys.get(i) {
                        Some(Some(key)) => key.as_ptr(),
                        _ => std::ptr::null(),
                    },
                })
            })
            .collect::<Result<_, InitError>>()?;
        let n_members: u64 = groups.iter().map(|g| g.members.len() as u64).sum();
        let n_members =
            u32::try_from(n_members).map_err(|_| InitError::Other(ffi::OUM_SEQ_ERR_NOMEM))?;
        // SAFETY: a pure function of its arguments.
        let size = unsafe { ffi::oum_seq_footprint(n_groups, n_members) };
        let layout = Layout::from_size_align(size.max(1), ffi::OUM_SEQ_ALIGN)
            .map_err(|_| InitError::Other(ffi::OUM_SEQ_ERR_NOMEM))?;
        // SAFETY: the layout has a non-zero size.
        let mem = unsafe { alloc::alloc(layout) };
        if mem.is_null() {
            alloc::handle_alloc_error(layout);
        }
        let config = ffi::OumSeqConfig {
            oum_port,
            session,
            flags: flags.bits(),
        };
        let mut err = 0;
        // SAFETY: `mem` is `size` bytes aligned to OUM_SEQ_ALIGN; `specs`, the member slices
        // and the 16-byte keys they point into outlive the call (the C core copies them).
        let seq =
            unsafe { ffi::oum_seq_init(mem, size, &config, specs.as_ptr(), n_groups, &mut err) };
        match NonNull::new(seq) {
            Some(seq) => Ok(CSequencer { seq, layout }),
            None => {
                // SAFETY: allocated above with this layout, not shared.
                unsafe { alloc::dealloc(mem, layout) };
                Err(match err {
                    ffi::OUM_SEQ_ERR_DUPLICATE => InitError::DuplicateGroupAddress,
                    ffi::OUM_SEQ_ERR_TOO_MANY => InitError::TooManyGroups,
                    ffi::OUM_SEQ_ERR_BAD_FLAGS => InitError::BadFlags,
                    other => InitError::Other(other),
                })
            }
        }
    }

    fn raw(&self) -> *mut ffi::OumSeq {
        self.seq.as_ptr()
    }

    /// Parses and stamps one frame in place; the raw C result.
    pub fn process_raw(&self, frame: &mut [u8]) -> ffi::OumSeqResult {
        let mut result = ffi::OumSeqResult::default();
        // SAFETY: the sequencer is valid; the C core reads and writes only within
        // frame[..len]; concurrent calls are allowed (atomic counters).
        unsafe { ffi::oum_seq_process(self.raw(), frame.as_mut_ptr(), frame.len(), &mut result) };
        result
    }

    /// Parses and stamps one frame in place.
    pub fn process(&self, frame: &mut [u8]) -> CVerdict {
        verdict_from_c(&self.process_raw(frame))
    }

    /// Parses and stamps the frame `buf[..len]` in place, the rest of `buf` being room a
    /// keyed group's tag may grow into; returns the verdict and the frame's length now.
    /// `len` past the buffer is taken as the buffer's length.
    pub fn process_buf(&self, buf: &mut [u8], len: usize) -> (CVerdict, usize) {
        let len = len.min(buf.len());
        let mut result = ffi::OumSeqResult::default();
        // SAFETY: the C core reads within buf[..len] and writes within buf[..buf.len()];
        // concurrent calls are allowed (atomic counters).
        unsafe {
            ffi::oum_seq_process_buf(self.raw(), buf.as_mut_ptr(), len, buf.len(), &mut result)
        };
        (verdict_from_c(&result), result.len as usize)
    }

    /// Stamps a burst through `oum_seq_process_burst`, 32 frames per C call with the
    /// pointers on the stack (no allocation beyond `verdicts` growing); `verdicts` receives
    /// one per frame.
    pub fn process_burst<F: AsMut<[u8]>>(&self, frames: &mut [F], verdicts: &mut Vec<CVerdict>) {
        const CHUNK: usize = 32;
        verdicts.clear();
        for chunk in frames.chunks_mut(CHUNK) {
            let mut ptrs = [std::ptr::null_mut::<u8>(); CHUNK];
            let mut lens = [0u32; CHUNK];
            let mut results = [ffi::OumSeqResult::default(); CHUNK];
            for (i, f) in chunk.iter_mut().enumerate() {
                let f = f.as_mut();
                // No Ethernet frame is 4 GiB; a longer slice is only described shorter.
                lens[i] = u32::try_from(f.len()).unwrap_or(u32::MAX);
                ptrs[i] = f.as_mut_ptr();
            }
            // SAFETY: ptrs[i] points at at least lens[i] writable bytes of a distinct frame
            // for i < chunk.len() (at most 32, so the cast is exact), and results has room
            // for as many.
            unsafe {
                ffi::oum_seq_process_burst(
                    self.raw(),
                    ptrs.as_ptr(),
                    lens.as_ptr(),
                    chunk.len() as u32,
                    results.as_mut_ptr(),
                )
            };
            verdicts.extend(results[..chunk.len()].iter().map(verdict_from_c));
        }
    }

    /// Phase one of the two-phase API (what an Octeon core does before its tag switch).
    pub fn classify(&self, frame: &[u8]) -> ffi::OumSeqParsed {
        let mut parsed = ffi::OumSeqParsed::default();
        // SAFETY: read-only within frame[..len].
        unsafe { ffi::oum_seq_classify(self.raw(), frame.as_ptr(), frame.len(), &mut parsed) };
        parsed
    }

    /// Phase one for the frame `buf[..len]` with the rest of `buf` as room.
    pub fn classify_buf(&self, buf: &[u8], len: usize) -> ffi::OumSeqParsed {
        let len = len.min(buf.len());
        let mut parsed = ffi::OumSeqParsed::default();
        // SAFETY: read-only within buf[..len].
        unsafe { ffi::oum_seq_classify_buf(self.raw(), buf.as_ptr(), len, buf.len(), &mut parsed) };
        parsed
    }

    /// Phase two: takes the number and stamps. `frame` must be the frame `parsed` came
    /// from, unchanged; this is checked, since the offsets index into it.
    pub fn commit(&self, frame: &mut [u8], parsed: &ffi::OumSeqParsed) -> Option<CVerdict> {
        let len = frame.len();
        self.commit_buf(frame, len, parsed).map(|(v, _)| v)
    }

    /// Phase two for [`classify_buf`](Self::classify_buf): the verdict and the frame's
    /// length now. `buf` and `len` must be what `parsed` came from; this is checked.
    pub fn commit_buf(
        &self,
        buf: &mut [u8],
        len: usize,
        parsed: &ffi::OumSeqParsed,
    ) -> Option<(CVerdict, usize)> {
        if self.classify_buf(buf, len) != *parsed {
            return None;
        }
        let mut result = ffi::OumSeqResult::default();
        // SAFETY: `parsed` was produced by classify on these very bytes and this buffer
        // (checked above), so its offsets and its stamped length lie within `buf`.
        unsafe { ffi::oum_seq_commit(self.raw(), buf.as_mut_ptr(), parsed, &mut result) };
        Some((verdict_from_c(&result), result.len as usize))
    }

    /// Starts a new session: every group restarts at message number 1.
    pub fn start_session(&mut self, session: u16) {
        // SAFETY: exclusive access, as the C API requires.
        unsafe { ffi::oum_seq_start_session(self.raw(), session) }
    }

    pub fn set_last_msgnum(&mut self, group: u16, last: u64) -> bool {
        // SAFETY: exclusive access, as the C API requires.
        unsafe { ffi::oum_seq_set_last_msgnum(self.raw(), u32::from(group), last) == 0 }
    }

    pub fn session(&self) -> u16 {
        // SAFETY: read of configuration.
        unsafe { ffi::oum_seq_session(self.raw()) }
    }

    pub fn oum_port(&self) -> u16 {
        // SAFETY: read of configuration.
        unsafe { ffi::oum_seq_oum_port(self.raw()) }
    }

    pub fn group_count(&self) -> usize {
        // SAFETY: read of configuration.
        unsafe { ffi::oum_seq_group_count(self.raw()) as usize }
    }

    pub fn lookup(&self, address: Ipv4Addr) -> Option<u16> {
        // SAFETY: read of configuration.
        let g = unsafe { ffi::oum_seq_lookup(self.raw(), u32::from(address)) };
        u16::try_from(g).ok()
    }

    pub fn members(&self, group: u16) -> &[u16] {
        let mut n = 0;
        // SAFETY: returns a pointer into the sequencer's memory (alive as long as `self`)
        // and its length, or null and 0.
        let ptr = unsafe { ffi::oum_seq_members(self.raw(), u32::from(group), &mut n) };
        if ptr.is_null() || n == 0 {
            return &[];
        }
        // SAFETY: see above; the member table never changes after init.
        unsafe { std::slice::from_raw_parts(ptr, n as usize) }
    }

    pub fn group_address(&self, group: u16) -> Ipv4Addr {
        // SAFETY: read of configuration.
        Ipv4Addr::from(unsafe { ffi::oum_seq_group_address(self.raw(), u32::from(group)) })
    }

    pub fn last_msgnum(&self, group: u16) -> u64 {
        // SAFETY: atomic read.
        unsafe { ffi::oum_seq_last_msgnum(self.raw(), u32::from(group)) }
    }

    /// Whether the group seals its stamps with a key.
    pub fn keyed(&self, group: u16) -> bool {
        // SAFETY: read of configuration.
        unsafe { ffi::oum_seq_group_keyed(self.raw(), u32::from(group)) != 0 }
    }

    pub fn stamped(&self, group: u16) -> u64 {
        // SAFETY: atomic read.
        unsafe { ffi::oum_seq_stamped(self.raw(), u32::from(group)) }
    }

    pub fn drop_count(&self, reason: DropReason) -> u64 {
        // SAFETY: atomic read.
        unsafe { ffi::oum_seq_drop_count(self.raw(), reason_code(reason)) }
    }

    /// Frames of keyed groups dropped for want of room for the tag.
    pub fn no_room_drops(&self) -> u64 {
        // SAFETY: atomic read.
        unsafe { ffi::oum_seq_drop_count(self.raw(), u32::from(ffi::OUM_REASON_NO_ROOM_FOR_TAG)) }
    }

    pub fn forward_count(&self, reason: DropReason) -> u64 {
        // SAFETY: atomic read.
        unsafe { ffi::oum_seq_forward_count(self.raw(), reason_code(reason)) }
    }

    pub fn needs_new_session(&self) -> bool {
        // SAFETY: atomic reads.
        unsafe { ffi::oum_seq_needs_new_session(self.raw()) != 0 }
    }
}

impl Drop for CSequencer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the C core holds no other reference.
        unsafe { alloc::dealloc(self.seq.as_ptr().cast(), self.layout) }
    }
}

fn reason_code(reason: DropReason) -> u32 {
    DropReason::ALL
        .iter()
        .position(|&r| r == reason)
        .map_or(u32::MAX, |i| i as u32)
}

fn verdict_from_c(r: &ffi::OumSeqResult) -> CVerdict {
    // An out-of-range reason would be a bug of the C core; map it to something the tests
    // cannot mistake for agreement.
    let reason = || reason_from_c(r.reason).unwrap_or(DropReason::TruncatedEthernet);
    if r.action == ffi::OUM_ACTION_DROP && r.reason == ffi::OUM_REASON_NO_ROOM_FOR_TAG {
        return CVerdict::NoRoomForTag;
    }
    match r.action {
        ffi::OUM_ACTION_MULTICAST => CVerdict::Multicast {
            group: r.group,
            session: r.session,
            msgnum: r.msgnum,
        },
        ffi::OUM_ACTION_FORWARD => CVerdict::Forward(reason()),
        _ => CVerdict::Drop(reason()),
    }
}

/// The C core as a golden-vector [`SequencerUnderTest`].
#[derive(Debug, Default)]
pub struct CSequencerUnderTest {
    sequencer: Option<CSequencer>,
}

impl CSequencerUnderTest {
    pub fn sequencer(&self) -> Option<&CSequencer> {
        self.sequencer.as_ref()
    }
}

impl SequencerUnderTest for CSequencerUnderTest {
    fn configure(&mut self, config: &CaseConfig) -> Result<(), String> {
        let specs: Vec<GroupSpec> = config
            .groups
            .iter()
            .map(|g| GroupSpec {
                address: g.address,
                members: g.members.clone(),
            })
            .collect();
        let mut seq = CSequencer::new(config.session, config.oum_port, &specs, Flags::default())
            .map_err(|e| e.to_string())?;
        for (i, g) in config.groups.iter().enumerate() {
            let id = u16::try_from(i).map_err(|_| "too many groups".to_string())?;
            if !seq.set_last_msgnum(id, g.last_msgnum) {
                return Err(format!("group {i} unknown to the C core"));
            }
        }
        self.sequencer = Some(seq);
        Ok(())
    }

    fn new_session(&mut self, session: u16) -> Result<(), String> {
        self.sequencer
            .as_mut()
            .ok_or("not configured")?
            .start_session(session);
        Ok(())
    }

    fn process(&mut self, frame: &mut Vec<u8>) -> Result<Outcome, String> {
        let seq = self.sequencer.as_ref().ok_or("not configured")?;
        Ok(match seq.process(frame) {
            CVerdict::Multicast {
                group,
                session,
                msgnum,
            } => Outcome::Multicast {
                group,
                members: seq.members(group).to_vec(),
                session,
                msgnum,
            },
            CVerdict::Drop(reason) => Outcome::Drop {
                reason: reason.name().to_string(),
            },
            CVerdict::Forward(reason) => {
                return Err(format!(
                    "forwarded ({reason}) without forwarding configured"
                ));
            }
            CVerdict::NoRoomForTag => return Err("no-room-for-tag without a keyed group".into()),
        })
    }
}

/// The golden vectors in the line format the C test program reads
/// (`cavium/tests/oum-vectors.txt`); the crate's tests check the committed file against it.
pub fn vectors_text(vectors: &dataplane::golden::Vectors) -> String {
    use dataplane::golden::{Expect, Step};
    use std::fmt::Write as _;
    let mut out = String::new();
    out.push_str(
        "# testdata/oum-vectors.json for the C test program (cavium/tests/test_core.c).\n\
         # Generated by the cavium-sequencer crate: do not edit; regenerate with\n\
         #   CAVIUM_BLESS=1 cargo test -p cavium-sequencer --test vectors\n\
         # case NAME | config PORT SESSION NGROUPS | group ADDRESS-AS-U32 LAST NMEMBERS M...\n\
         # packet HEX | expect-drop REASON | expect-multicast GROUP SESSION MSGNUM NMEMBERS M... HEX\n\
         # new-session SESSION\n",
    );
    for case in &vectors.cases {
        let c = &case.config;
        let _ = writeln!(out, "case {}", case.name);
        let _ = writeln!(
            out,
            "config {} {} {}",
            c.oum_port,
            c.session,
            c.groups.len()
        );
        for g in &c.groups {
            let _ = write!(
                out,
                "group {} {} {}",
                u32::from(g.address),
                g.last_msgnum,
                g.members.len()
            );
            for m in &g.members {
                let _ = write!(out, " {m}");
            }
            out.push('\n');
        }
        for step in &case.steps {
            match step {
                Step::NewSession { new_session } => {
                    let _ = writeln!(out, "new-session {new_session}");
                }
                Step::Packet { packet, expect } => {
                    let _ = writeln!(out, "packet {packet}");
                    match expect {
                        Expect::Drop { reason } => {
                            let _ = writeln!(out, "expect-drop {reason}");
                        }
                        Expect::Multicast {
                            group,
                            members,
                            session,
                            msgnum,
                            packet,
                        } => {
                            let _ = write!(
                                out,
                                "expect-multicast {group} {session} {msgnum} {}",
                                members.len()
                            );
                            for m in members {
                                let _ = write!(out, " {m}");
                            }
                            let _ = writeln!(out, " {packet}");
                        }
                    }
                }
            }
        }
    }
    out
}
