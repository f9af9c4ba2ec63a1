//! Tags for `--mode listen`: a listening member may be in several groups, and a stamp does
//! not say which group it belongs to, so a sealed stamp is taken when the key of any keyed
//! group of the member opens it, and a stamp without a tag only when some group of the
//! member has no key. Counted like a serving replica's driver counts (`missing_tag`,
//! `bad_tag`); a diagnostic, so trying a few keys per stamp is fine.

use dataplane::config::ClusterConfig;
use dataplane::io::Packet;
use dataplane::oum::{AuthError, OUM_AUTHENTICATED_HEADER_SIZE, StampKey};
use dataplane::wire::{OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE};

use crate::driver::Refusal;

/// The keys of the groups a listening member belongs to.
#[derive(Debug, Clone, Default)]
pub struct ListenKeys {
    /// (group index, key) of each keyed group of the member.
    keys: Vec<(u16, StampKey)>,
    /// Some group of the member has no key, so an untagged stamp may be one of its.
    untagged_ok: bool,
}

impl ListenKeys {
    pub fn new(config: &ClusterConfig, index: usize) -> Result<ListenKeys, String> {
        let mut keys = ListenKeys::default();
        for (i, group) in config.groups.iter().enumerate() {
            if !config.members(group).contains(&(index as u16)) {
                continue;
            }
            match group.stamp_key()? {
                Some(key) => keys.keys.push((i as u16, key)),
                None => keys.untagged_ok = true,
            }
        }
        Ok(keys)
    }

    /// Takes `buf` (rewritten as the plain stamped datagram if it carried a valid tag), or
    /// says why not. Anything that is not a stamp passes, for the receiver to judge.
    pub fn admit(&self, buf: &mut impl Packet) -> Result<(), Refusal> {
        if self.keys.is_empty() || !buf.as_ref().starts_with(&OUM_PREAMBLE) {
            return Ok(());
        }
        let size = buf
            .as_ref()
            .get(4..6)
            .map(|s| u16::from_be_bytes([s[0], s[1]]));
        match size {
            Some(OUM_SEQUENCED_HEADER_SIZE) if self.untagged_ok => Ok(()),
            Some(OUM_SEQUENCED_HEADER_SIZE) => Err(Refusal::MissingTag),
            Some(OUM_AUTHENTICATED_HEADER_SIZE) => {
                for (group, key) in &self.keys {
                    match key.open(*group, buf.as_mut()) {
                        Ok(len) => {
                            buf.set_len(len);
                            return Ok(());
                        }
                        // Too short for a tag: the receiver counts it as malformed.
                        Err(AuthError::Malformed) => return Ok(()),
                        Err(_) => {}
                    }
                }
                Err(Refusal::BadTag)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use dataplane::config::{GroupConfig, KeyText};
    use dataplane::io::PacketBuf;
    use dataplane::wire::{OumPacket, Stamp};

    use super::*;

    const KEY: [u8; 16] = [7; 16];

    fn stamped(body: &[u8], room: usize) -> Vec<u8> {
        let mut d = vec![0u8; 16 + body.len() + room];
        d[..4].copy_from_slice(&OUM_PREAMBLE);
        d[16..16 + body.len()].copy_from_slice(body);
        OumPacket::new_checked(&mut d[..])
            .unwrap()
            .header_mut()
            .stamp(Stamp::new(2, 5));
        d
    }

    fn buf(bytes: &[u8]) -> PacketBuf {
        let mut b = PacketBuf::with_capacity(256);
        assert!(b.fill(bytes));
        b
    }

    fn config(second_keyed: bool) -> ClusterConfig {
        let mut c = ClusterConfig::local(3, 0, Ipv4Addr::new(127, 0, 0, 90));
        c.groups[0].auth_key = Some(KeyText::new("07".repeat(16)));
        let mut second = GroupConfig::new("probe", Ipv4Addr::new(127, 0, 0, 91));
        second.members = Some(vec![1]);
        if second_keyed {
            second.auth_key = Some(KeyText::new("07".repeat(16)));
        }
        c.groups.push(second);
        c
    }

    #[test]
    fn a_listener_opens_its_groups_tags_and_counts_the_rest() {
        let keys = ListenKeys::new(&config(true), 1).unwrap();
        // Sealed for group 1 (the member's second group): opened to the plain stamp.
        let mut sealed = stamped(b"hello", 8);
        StampKey::new(KEY).seal(1, &mut sealed).unwrap();
        let mut b = buf(&sealed);
        assert_eq!(keys.admit(&mut b), Ok(()));
        assert_eq!(b.as_ref(), &stamped(b"hello", 0)[..]);
        // Sealed for a group the member is not in (index 5): no key opens it.
        let mut other = stamped(b"hello", 8);
        StampKey::new(KEY).seal(5, &mut other).unwrap();
        assert_eq!(keys.admit(&mut buf(&other)), Err(Refusal::BadTag));
        assert_eq!(
            keys.admit(&mut buf(&stamped(b"x", 0))),
            Err(Refusal::MissingTag)
        );
        // Unstamped and foreign bytes are the receiver's to judge.
        let mut unstamped = stamped(b"x", 0);
        unstamped[4..6].fill(0);
        assert_eq!(keys.admit(&mut buf(&unstamped)), Ok(()));
        assert_eq!(keys.admit(&mut buf(b"not oum")), Ok(()));
        // Every truncation of a sealed stamp is refused or passed, never a panic.
        for n in 0..sealed.len() {
            let _ = keys.admit(&mut buf(&sealed[..n]));
        }
    }

    #[test]
    fn an_unkeyed_group_of_the_member_lets_untagged_stamps_through() {
        let keys = ListenKeys::new(&config(false), 1).unwrap();
        assert_eq!(keys.admit(&mut buf(&stamped(b"x", 0))), Ok(()));
        // Replica 2 is only in the keyed group 0.
        let keys = ListenKeys::new(&config(false), 2).unwrap();
        assert_eq!(
            keys.admit(&mut buf(&stamped(b"x", 0))),
            Err(Refusal::MissingTag)
        );
    }
}
