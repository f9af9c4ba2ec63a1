//! The C core against the Rust core on one frame: the check behind the differential tests
//! and the `cavium_vs_rust` fuzz target.

use std::net::Ipv4Addr;

use dataplane::golden;
use dataplane::oum::{GroupSpec, Sequencer, SessionNumber, Verdict};

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
