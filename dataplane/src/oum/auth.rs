//! Authenticated stamps: a keyed tag a sequencer appends and a replica checks, so a stamp
//! proves who wrote it where the source address cannot (a DPDK or switch sequencer keeps
//! the client's). Format (docs/wire-format.md, "Authenticated stamps"): header size 18,
//! and an 8-byte SipHash-2-4 tag as the datagram's last 8 bytes, over the group index, the
//! session, the message number and the payload between header and tag. A trailer rather
//! than a longer header keeps the message at byte 16, where every parser expects it.
//!
//! The sequencer core seals (`Sequencer::seal_datagram`, `seal_frame`); the replicas'
//! drivers open (`replica::driver::Addresses::admit`), so protocol cores never see a tag.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

use crate::wire::{OUM_HEADER_LEN, OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE, OumPacket};

/// The header size of a stamped datagram that carries a tag.
pub const OUM_AUTHENTICATED_HEADER_SIZE: u16 = 18;
/// Bytes of the tag at the end of the datagram.
pub const AUTH_TAG_LEN: usize = 8;

/// Why a datagram's stamp was not taken as authentic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// Too short for a header and a tag, or no OUM preamble.
    Malformed,
    /// Stamped without a tag (header size 10) where the group requires one.
    MissingTag,
    /// Not a stamped datagram at all (header size 0 or unknown).
    NotStamped,
    /// The tag does not match: forged, altered, or another key.
    BadTag,
}

/// A group's 128-bit key. (Equality is for comparing configs; a tag is compared by value
/// too, which leaks nothing useful: a forger never sees the right tag.)
#[derive(Clone, PartialEq, Eq)]
pub struct StampKey([u8; 16]);

impl std::fmt::Debug for StampKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StampKey(..)") // never print a secret
    }
}

impl StampKey {
    pub fn new(key: [u8; 16]) -> StampKey {
        StampKey(key)
    }

    /// The tag over group, session, message number (all big-endian) and `payload`.
    pub fn tag(&self, group: u16, session: u16, msgnum: u64, payload: &[u8]) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.0);
        let mut fields = [0u8; 12];
        fields[..2].copy_from_slice(&group.to_be_bytes());
        fields[2..4].copy_from_slice(&session.to_be_bytes());
        fields[4..].copy_from_slice(&msgnum.to_be_bytes());
        h.write(&fields);
        h.write(payload);
        h.finish()
    }

    /// Turns a stamped datagram (header size 10) whose last [`AUTH_TAG_LEN`] bytes are
    /// spare into an authenticated one: header size 18 and the tag in those bytes.
    pub fn seal(&self, group: u16, datagram: &mut [u8]) -> Result<(), AuthError> {
        let len = datagram.len();
        if len < OUM_HEADER_LEN + AUTH_TAG_LEN {
            return Err(AuthError::Malformed);
        }
        let (session, msgnum) = match stamp_fields(datagram)? {
            (OUM_SEQUENCED_HEADER_SIZE, session, msgnum) => (session, msgnum),
            _ => return Err(AuthError::NotStamped),
        };
        let tag = self.tag(
            group,
            session,
            msgnum,
            &datagram[OUM_HEADER_LEN..len - AUTH_TAG_LEN],
        );
        datagram[len - AUTH_TAG_LEN..].copy_from_slice(&tag.to_be_bytes());
        datagram[4..6].copy_from_slice(&OUM_AUTHENTICATED_HEADER_SIZE.to_be_bytes());
        Ok(())
    }

    /// Checks an authenticated datagram and, if its tag is right, rewrites it as a plain
    /// stamped one (header size 10) and returns its length without the tag: what the
    /// receivers of today take. Allocates nothing; never panics.
    pub fn open(&self, group: u16, datagram: &mut [u8]) -> Result<usize, AuthError> {
        let (size, session, msgnum) = stamp_fields(datagram)?;
        match size {
            OUM_AUTHENTICATED_HEADER_SIZE => {}
            OUM_SEQUENCED_HEADER_SIZE => return Err(AuthError::MissingTag),
            _ => return Err(AuthError::NotStamped),
        }
        let Some(body_end) = datagram.len().checked_sub(AUTH_TAG_LEN) else {
            return Err(AuthError::Malformed);
        };
        if body_end < OUM_HEADER_LEN {
            return Err(AuthError::Malformed);
        }
        let mut sent = [0u8; AUTH_TAG_LEN];
        sent.copy_from_slice(&datagram[body_end..]);
        let tag = self.tag(group, session, msgnum, &datagram[OUM_HEADER_LEN..body_end]);
        if u64::from_be_bytes(sent) != tag {
            return Err(AuthError::BadTag);
        }
        datagram[4..6].copy_from_slice(&OUM_SEQUENCED_HEADER_SIZE.to_be_bytes());
        Ok(body_end)
    }
}

/// Header size, session and message number, if `datagram` starts with an OUM header.
fn stamp_fields(datagram: &[u8]) -> Result<(u16, u16, u64), AuthError> {
    let packet = OumPacket::new_checked(datagram).map_err(|_| AuthError::Malformed)?;
    if packet.header().preamble != OUM_PREAMBLE {
        return Err(AuthError::Malformed);
    }
    Ok((
        packet.header_size(),
        packet.raw_session(),
        packet.raw_msgnum(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Stamp;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    /// A stamped request with `body` and room for a tag.
    fn stamped(body: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; OUM_HEADER_LEN + body.len() + AUTH_TAG_LEN];
        d[..4].copy_from_slice(&OUM_PREAMBLE);
        d[OUM_HEADER_LEN..OUM_HEADER_LEN + body.len()].copy_from_slice(body);
        OumPacket::new_checked(&mut d[..])
            .unwrap()
            .header_mut()
            .stamp(Stamp::new(7, 42));
        d
    }

    fn sealed() -> Vec<u8> {
        let mut d = stamped(b"put k v");
        StampKey::new(KEY).seal(3, &mut d).unwrap();
        d
    }

    #[test]
    fn a_sealed_stamp_opens_into_the_plain_stamped_datagram() {
        let mut d = sealed();
        assert_eq!(&d[4..6], &[0, 18]);
        let len = StampKey::new(KEY).open(3, &mut d).unwrap();
        let mut plain = stamped(b"put k v");
        plain.truncate(plain.len() - AUTH_TAG_LEN);
        assert_eq!(&d[..len], &plain[..]);
    }

    #[test]
    fn changing_any_covered_field_or_the_key_or_the_group_is_caught() {
        let key = StampKey::new(KEY);
        // Every byte but the preamble and header size: session, msgnum, payload, tag.
        for i in 6..sealed().len() {
            let mut d = sealed();
            d[i] ^= 1;
            assert_eq!(key.open(3, &mut d), Err(AuthError::BadTag), "byte {i}");
        }
        assert_eq!(key.open(4, &mut sealed()), Err(AuthError::BadTag));
        let mut other = KEY;
        other[15] ^= 0x80;
        assert_eq!(
            StampKey::new(other).open(3, &mut sealed()),
            Err(AuthError::BadTag)
        );
        // A forger who appends a tag of zeros, or leaves the stamp without one.
        let mut zeros = stamped(b"put k FORGED");
        zeros[4..6].copy_from_slice(&[0, 18]);
        assert_eq!(key.open(3, &mut zeros), Err(AuthError::BadTag));
        let mut bare = stamped(b"put k FORGED");
        assert_eq!(key.open(3, &mut bare), Err(AuthError::MissingTag));
    }

    #[test]
    fn every_truncation_and_unstamped_header_is_an_error_never_a_panic() {
        let key = StampKey::new(KEY);
        let whole = sealed();
        for n in 0..whole.len() {
            let mut d = whole[..n].to_vec();
            assert!(key.open(3, &mut d).is_err(), "length {n}");
            let mut s = whole[..n].to_vec();
            let _ = key.seal(3, &mut s);
        }
        let mut unstamped = stamped(b"x");
        unstamped[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(key.open(3, &mut unstamped), Err(AuthError::NotStamped));
        assert_eq!(key.seal(3, &mut unstamped), Err(AuthError::NotStamped));
        // The shortest sealed datagram: header and tag, no payload.
        let mut empty = stamped(b"");
        key.seal(3, &mut empty).unwrap();
        assert_eq!(key.open(3, &mut empty), Ok(OUM_HEADER_LEN));
    }
}
