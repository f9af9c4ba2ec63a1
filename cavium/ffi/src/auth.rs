//! The C core's SipHash-2-4 (`cavium/src/oum_siphash.c`), wrapped so the tests can hold it
//! to `dataplane::oum::StampKey` (the Rust primitive, built on the `siphasher` crate).

use crate::ffi;

/// SipHash-2-4 of `data` under `key`, by the C code in one call.
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    // SAFETY: the key is 16 bytes; the C code reads data[..len] only.
    unsafe { ffi::oum_siphash24(key.as_ptr(), data.as_ptr(), data.len()) }
}

/// The tag the C core seals a stamp with: SipHash-2-4 over group, session and message
/// number (big-endian) and then the payload, fed to the C code in those two pieces, as the
/// core does. Equal to `StampKey::tag` (checked by the crate's tests).
pub fn stamp_tag(key: &[u8; 16], group: u16, session: u16, msgnum: u64, payload: &[u8]) -> u64 {
    let mut fields = [0u8; 12];
    fields[..2].copy_from_slice(&group.to_be_bytes());
    fields[2..4].copy_from_slice(&session.to_be_bytes());
    fields[4..].copy_from_slice(&msgnum.to_be_bytes());
    let mut h = ffi::OumSiphash::default();
    // SAFETY: `h` is a valid state for init to fill; the key is 16 bytes; update reads
    // exactly the given slices.
    unsafe {
        ffi::oum_siphash_init(&mut h, key.as_ptr());
        ffi::oum_siphash_update(&mut h, fields.as_ptr(), fields.len());
        ffi::oum_siphash_update(&mut h, payload.as_ptr(), payload.len());
        ffi::oum_siphash_final(&mut h)
    }
}
