//! The OUM golden vectors (testdata/oum-vectors.json): packets in, packets and verdicts out.
//! Every sequencer implementation (Rust, P4, C) is run through [`run_vectors`] by wrapping it
//! in a [`SequencerUnderTest`].

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::oum::{GroupId, GroupSpec, Sequencer, SessionNumber, Verdict};

/// The whole vectors file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vectors {
    pub format: u32,
    pub description: String,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub description: String,
    pub config: CaseConfig,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseConfig {
    pub oum_port: u16,
    pub session: u16,
    pub groups: Vec<CaseGroup>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseGroup {
    pub address: Ipv4Addr,
    pub members: Vec<u16>,
    /// The last message number handed out before the case starts (0: none yet).
    #[serde(default)]
    pub last_msgnum: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Step {
    Packet { packet: String, expect: Expect },
    NewSession { new_session: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expect {
    Multicast {
        group: u16,
        members: Vec<u16>,
        session: u16,
        msgnum: u64,
        packet: String,
    },
    Drop {
        reason: String,
    },
}

/// What an implementation did with one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Multicast {
        group: u16,
        members: Vec<u16>,
        session: u16,
        msgnum: u64,
    },
    Drop {
        reason: String,
    },
}

/// A sequencer being checked against the vectors.
pub trait SequencerUnderTest {
    /// Starts a case afresh with this configuration.
    fn configure(&mut self, config: &CaseConfig) -> Result<(), String>;
    /// The control plane starts a new session.
    fn new_session(&mut self, session: u16) -> Result<(), String>;
    /// Processes one frame in place.
    fn process(&mut self, frame: &mut Vec<u8>) -> Result<Outcome, String>;
}

/// One disagreement between an implementation and the vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub case: String,
    pub step: usize,
    pub problem: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case {} step {}: {}", self.case, self.step, self.problem)
    }
}

/// Where the vectors live in this repository.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/oum-vectors.json")
}

pub fn load(path: &Path) -> Result<Vectors, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read golden vectors {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("golden vectors {} are malformed: {e}", path.display()))
}

pub fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err(format!("odd-length hex string ({} digits)", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex digits at offset {i}"))
        })
        .collect()
}

pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs every case through `sut`; an empty list means full agreement.
pub fn run_vectors(vectors: &Vectors, sut: &mut dyn SequencerUnderTest) -> Vec<Failure> {
    let mut failures = Vec::new();
    for case in &vectors.cases {
        let fail = |step: usize, problem: String| Failure {
            case: case.name.clone(),
            step,
            problem,
        };
        if let Err(e) = sut.configure(&case.config) {
            failures.push(fail(0, format!("configure: {e}")));
            continue;
        }
        for (i, step) in case.steps.iter().enumerate() {
            if let Some(problem) = run_step(sut, step) {
                failures.push(fail(i, problem));
            }
        }
    }
    failures
}

fn run_step(sut: &mut dyn SequencerUnderTest, step: &Step) -> Option<String> {
    let (packet, expect) = match step {
        Step::NewSession { new_session } => {
            return sut.new_session(*new_session).err();
        }
        Step::Packet { packet, expect } => (packet, expect),
    };
    let input = match decode_hex(packet) {
        Ok(bytes) => bytes,
        Err(e) => return Some(format!("input packet: {e}")),
    };
    let mut frame = input.clone();
    let outcome = match sut.process(&mut frame) {
        Ok(outcome) => outcome,
        Err(e) => return Some(e),
    };
    match expect {
        Expect::Drop { reason } => {
            let want = Outcome::Drop {
                reason: reason.clone(),
            };
            if outcome != want {
                return Some(format!("expected {want:?}, got {outcome:?}"));
            }
            (frame != input).then(|| "a dropped packet was modified".to_string())
        }
        Expect::Multicast {
            group,
            members,
            session,
            msgnum,
            packet,
        } => {
            let want = Outcome::Multicast {
                group: *group,
                members: members.clone(),
                session: *session,
                msgnum: *msgnum,
            };
            if outcome != want {
                return Some(format!("expected {want:?}, got {outcome:?}"));
            }
            let expected = match decode_hex(packet) {
                Ok(bytes) => bytes,
                Err(e) => return Some(format!("expected packet: {e}")),
            };
            (frame != expected).then(|| {
                format!(
                    "output bytes differ:\n  expected {}\n  got      {}",
                    packet,
                    encode_hex(&frame)
                )
            })
        }
    }
}

/// The Rust sequencer core as a [`SequencerUnderTest`].
#[derive(Debug, Default)]
pub struct RustSequencer {
    sequencer: Option<Sequencer>,
}

impl SequencerUnderTest for RustSequencer {
    fn configure(&mut self, config: &CaseConfig) -> Result<(), String> {
        let specs: Vec<GroupSpec> = config
            .groups
            .iter()
            .map(|g| GroupSpec {
                address: g.address,
                members: g.members.clone(),
            })
            .collect();
        let mut sequencer = Sequencer::new(SessionNumber(config.session), config.oum_port, &specs)
            .map_err(|e| e.to_string())?;
        for (i, g) in config.groups.iter().enumerate() {
            let id = GroupId(u16::try_from(i).map_err(|_| "too many groups".to_string())?);
            sequencer.set_last_msgnum(id, g.last_msgnum);
        }
        self.sequencer = Some(sequencer);
        Ok(())
    }

    fn new_session(&mut self, session: u16) -> Result<(), String> {
        let sequencer = self.sequencer.as_mut().ok_or("not configured")?;
        sequencer.start_session(SessionNumber(session));
        Ok(())
    }

    fn process(&mut self, frame: &mut Vec<u8>) -> Result<Outcome, String> {
        let sequencer = self.sequencer.as_mut().ok_or("not configured")?;
        Ok(match sequencer.stamp_frame(frame) {
            Verdict::Multicast { group, stamp } => Outcome::Multicast {
                group: group.0,
                members: sequencer.members(group).to_vec(),
                session: stamp.session.0,
                msgnum: stamp.msgnum,
            },
            Verdict::Drop(reason) => Outcome::Drop {
                reason: reason.name().to_string(),
            },
        })
    }
}
