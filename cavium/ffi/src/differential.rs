//! The C core against the Rust core on one frame: the check behind the differential tests
//! and the `cavium_vs_rust` fuzz target. [`KeyedPair`] does the same where groups seal
//! their stamps (authenticated stamps): the Rust core does not seal frames yet, so its
//! stamped frame is sealed by [`crate::sealed::seal_frame`] (`StampKey::seal` and the
//! IPv4/UDP fix-ups) before the bytes are compared.

use std::net::Ipv4Addr;

use dataplane::golden;
use dataplane::oum::{DropReason, GroupId, GroupSpec, Sequencer, SessionNumber, StampKey, Verdict};

use crate::sealed::{seal_frame, sealed_len};
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

/// Both cores configured alike, some groups keyed; counts where the Rust core's counters
/// must differ from the C core's because the C core found no room for a tag.
#[derive(Debug)]
pub struct KeyedPair {
    pub c: CSequencer,
    pub rust: Sequencer,
    keys: Vec<Option<StampKey>>,
    /// Per group: frames the Rust core stamped that the C core dropped for want of room
    /// (the Rust core's number was given back, but its `stamped` counter moved).
    pub no_room_stamped_by_rust: Vec<u64>,
    /// Frames the Rust core dropped as counter-exhausted that the C core, which checks the
    /// room first, dropped as no-room-for-tag.
    pub no_room_exhausted_in_rust: u64,
}

impl KeyedPair {
    pub fn new(session: u16, groups: &[GroupSpec], keys: &[Option<[u8; 16]>]) -> KeyedPair {
        KeyedPair {
            c: CSequencer::with_keys(session, PORT, groups, keys, Flags::default())
                .expect("valid groups"),
            rust: Sequencer::new(SessionNumber(session), PORT, groups).expect("valid groups"),
            keys: (0..groups.len())
                .map(|i| keys.get(i).copied().flatten().map(StampKey::new))
                .collect(),
            no_room_stamped_by_rust: vec![0; groups.len()],
            no_room_exhausted_in_rust: 0,
        }
    }

    /// Runs `input` through both cores, the C core with `room` spare bytes after the frame:
    /// same verdict and, for a keyed group, the C frame equal to the Rust frame sealed.
    pub fn compare(&mut self, input: &[u8], room: usize) -> Result<(), String> {
        let cap = input.len() + room;
        let mut c_buf = input.to_vec();
        c_buf.resize(cap, 0);
        let (cv, c_len) = self.c.process_buf(&mut c_buf, input.len());
        let mut r_frame = input.to_vec();
        let rv = self.rust.stamp_frame(&mut r_frame);
        let (want_verdict, want_bytes) = match rv {
            Verdict::Multicast { group, stamp } => {
                let verdict = CVerdict::Multicast {
                    group: group.0,
                    session: stamp.session.0,
                    msgnum: stamp.msgnum,
                };
                match self.key(group.0) {
                    None => (verdict, r_frame),
                    Some(key) => match seal_frame(key, group.0, &r_frame, cap) {
                        Some(sealed) => (verdict, sealed),
                        None => {
                            // The C core takes no number for a frame it drops: nor may the
                            // Rust core, for the next frames to agree.
                            self.rust.set_last_msgnum(group, stamp.msgnum - 1);
                            self.no_room_stamped_by_rust[usize::from(group.0)] += 1;
                            (CVerdict::NoRoomForTag, input.to_vec())
                        }
                    },
                }
            }
            Verdict::Drop(DropReason::CounterExhausted)
                if self.exhausted_group_lacks_room(input, cap) =>
            {
                self.no_room_exhausted_in_rust += 1;
                (CVerdict::NoRoomForTag, input.to_vec())
            }
            Verdict::Drop(reason) => (CVerdict::Drop(reason), input.to_vec()),
        };
        if cv != want_verdict {
            return Err(format!("C {cv:?} but Rust (sealed) {want_verdict:?}"));
        }
        if c_buf[..c_len] != want_bytes[..] {
            return Err(format!(
                "output bytes differ:\n  C    {}\n  Rust {}",
                golden::encode_hex(&c_buf[..c_len]),
                golden::encode_hex(&want_bytes)
            ));
        }
        Ok(())
    }

    fn key(&self, group: u16) -> Option<&StampKey> {
        self.keys.get(usize::from(group))?.as_ref()
    }

    /// For a frame the Rust core found counter-exhausted: is its group keyed, and the room
    /// too small? (The frame parsed as far as its group, so its headers are sound.)
    fn exhausted_group_lacks_room(&self, frame: &[u8], cap: usize) -> bool {
        let dst = Ipv4Addr::new(frame[30], frame[31], frame[32], frame[33]);
        let Some(GroupId(group)) = self.rust.group_by_address(dst) else {
            return false;
        };
        self.key(group).is_some() && sealed_len(frame).is_none_or(|len| len > cap.max(frame.len()))
    }
}
