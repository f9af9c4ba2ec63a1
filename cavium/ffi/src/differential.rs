//! The C core against the Rust core on one frame: the check behind the differential tests
//! and the `cavium_vs_rust` fuzz target. [`KeyedPair`] does the same where groups seal
//! their stamps (authenticated stamps), with the Rust core's own sealing path
//! (`stamp_frame_in`, then `seal_frame`) in a buffer with the same room.

use std::net::Ipv4Addr;

use dataplane::golden;
use dataplane::oum::{GroupId, GroupSpec, Sequencer, SessionNumber, StampKey, Verdict};

use crate::{CSequencer, CVerdict, Flags};

/// The OUM port both cores listen on.
pub const PORT: u16 = 22222;

/// Three groups: three members, one member, none.
pub fn groups() -> Vec<GroupSpec> {
    vec![
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 100),
            members: vec![0, 1, 2],
        },
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 101),
            members: vec![3],
        },
        GroupSpec {
            address: Ipv4Addr::new(10, 0, 0, 102),
            members: vec![],
        },
    ]
}

/// Both cores configured alike (session 1, [`groups`], [`PORT`]).
#[derive(Debug)]
pub struct Pair {
    pub c: CSequencer,
    pub rust: Sequencer,
}

impl Pair {
    pub fn new() -> Pair {
        Pair {
            c: CSequencer::new(1, PORT, &groups(), Flags::default()).expect("valid groups"),
            rust: Sequencer::new(SessionNumber(1), PORT, &groups()).expect("valid groups"),
        }
    }

    /// Runs `input` through both; an error describes the first disagreement.
    pub fn compare(&mut self, input: &[u8]) -> Result<(), String> {
        compare(&self.c, &mut self.rust, input)
    }
}

impl Default for Pair {
    fn default() -> Pair {
        Pair::new()
    }
}

/// Runs `input` through both cores: same verdict, same output bytes, a dropped frame
/// untouched.
pub fn compare(c: &CSequencer, rust: &mut Sequencer, input: &[u8]) -> Result<(), String> {
    let mut c_frame = input.to_vec();
    let mut r_frame = input.to_vec();
    let cv = c.process(&mut c_frame);
    let rv = rust.stamp_frame(&mut r_frame);
    let same = match (cv, rv) {
        (
            CVerdict::Multicast {
                group,
                session,
                msgnum,
            },
            Verdict::Multicast { group: g, stamp },
        ) => group == g.0 && session == stamp.session.0 && msgnum == stamp.msgnum,
        (CVerdict::Drop(a), Verdict::Drop(b)) => a == b,
        _ => false,
    };
    if !same {
        return Err(format!("C {cv:?} but Rust {rv:?}"));
    }
    if c_frame != r_frame {
        return Err(format!(
            "output bytes differ:\n  C    {}\n  Rust {}",
            golden::encode_hex(&c_frame),
            golden::encode_hex(&r_frame)
        ));
    }
    if matches!(cv, CVerdict::Drop(_)) && c_frame != input {
        return Err("a dropped frame was modified".into());
    }
    Ok(())
}

/// Both cores configured alike, some groups keyed (the Rust core through
/// [`Sequencer::set_key`]), compared as the DPDK sequencer runs the Rust core:
/// [`Sequencer::stamp_frame_in`] with the buffer's room, then [`Sequencer::seal_frame`]
/// over the whole buffer. A request the C core drops as `no-room-for-tag` must be one the
/// Rust core refuses and counts in its group's `too_big_for_tag`.
#[derive(Debug)]
pub struct KeyedPair {
    pub c: CSequencer,
    pub rust: Sequencer,
}

impl KeyedPair {
    pub fn new(session: u16, groups: &[GroupSpec], keys: &[Option<[u8; 16]>]) -> KeyedPair {
        let mut rust = Sequencer::new(SessionNumber(session), PORT, groups).expect("valid groups");
        for (i, key) in keys.iter().enumerate().take(groups.len()) {
            let group = GroupId(u16::try_from(i).expect("few groups"));
            assert!(rust.set_key(group, key.map(StampKey::new)));
        }
        KeyedPair {
            c: CSequencer::with_keys(session, PORT, groups, keys, Flags::default())
                .expect("valid groups"),
            rust,
        }
    }

    /// Runs `input` through both cores, each in a buffer with `room` spare bytes after the
    /// frame: the same verdict (C `no-room-for-tag` where the Rust core refused for want of
    /// room), the same output bytes and length, and a refused or dropped frame untouched.
    pub fn compare(&mut self, input: &[u8], room: usize) -> Result<(), String> {
        let cap = input.len() + room;
        let mut c_buf = input.to_vec();
        c_buf.resize(cap, 0);
        let (cv, c_len) = self.c.process_buf(&mut c_buf, input.len());
        let mut r_buf = input.to_vec();
        r_buf.resize(cap, 0);
        let refused_before = self.rust.stats().too_big_for_tag();
        let rv = self.rust.stamp_frame_in(&mut r_buf[..input.len()], room);
        let refused = self.rust.stats().too_big_for_tag() - refused_before;
        let (want_verdict, r_len) = match rv {
            None if refused == 1 => (CVerdict::NoRoomForTag, input.len()),
            None => return Err(format!("Rust refused but counted {refused} refusals")),
            Some(_) if refused != 0 => {
                return Err(format!("Rust gave {rv:?} and counted {refused} refusals"));
            }
            Some(Verdict::Multicast { group, stamp }) => {
                let verdict = CVerdict::Multicast {
                    group: group.0,
                    session: stamp.session.0,
                    msgnum: stamp.msgnum,
                };
                if self.rust.seals(group) {
                    match self.rust.seal_frame(group, &mut r_buf) {
                        Some(len) => (verdict, len),
                        None => return Err(format!("Rust stamped {verdict:?} but cannot seal it")),
                    }
                } else {
                    (verdict, input.len())
                }
            }
            Some(Verdict::Drop(reason)) => (CVerdict::Drop(reason), input.len()),
        };
        if cv != want_verdict {
            return Err(format!("C {cv:?} but Rust {want_verdict:?}"));
        }
        if c_buf[..c_len] != r_buf[..r_len] {
            return Err(format!(
                "output bytes differ:\n  C    {}\n  Rust {}",
                golden::encode_hex(&c_buf[..c_len]),
                golden::encode_hex(&r_buf[..r_len])
            ));
        }
        if !matches!(cv, CVerdict::Multicast { .. }) && c_buf[..input.len()] != *input {
            return Err("a frame that was not stamped was modified".into());
        }
        Ok(())
    }
}
