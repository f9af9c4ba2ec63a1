//! The sequencer's session number across restarts. A restarted sequencer must never reuse a
//! session: receivers would drop its packets as duplicates until the counter passed the old
//! value, and the system would wedge (the original implementation's defect 3). So the
//! session to use is written and fsync'd before the first packet is stamped.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dataplane::oum::{SessionNumber, newest_session};

use crate::session_survey::Survey;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "no session state at {}: this looks like a first start. Pass --session N (for \
         example --session 1) once; later starts take the next number from that file",
        .0.display()
    )]
    FirstStart(PathBuf),
    #[error(
        "no session state file is configured: set `state_file` under [sequencer] in the config \
         or pass --state-file PATH, or pass --session N to choose the session yourself"
    )]
    NoStateFile,
    #[error(
        "--session {requested} is not newer than session {last}, the newest known ({learned}); \
         replicas drop every stamp of an older or reused session as stale and the group \
         stalls. Omit --session to take {next}, or pass a session within 32767 after {last} \
         (16-bit serial order)"
    )]
    NotNewer {
        requested: u16,
        last: u16,
        next: u16,
        /// Where `last` was learned: "recorded in FILE" or "seen by replica I".
        learned: String,
    },
    #[error(
        "no session state at {} and {survey}: no session to continue from. If this cluster \
         never ran a sequencer, pass --session N (for example --session 1); otherwise pass a \
         session newer than any used before, or start the replicas first so they can be asked",
        path.display()
    )]
    NothingKnown { path: PathBuf, survey: String },
    #[error(
        "session state file {} holds {content:?}, not a session number (0-65535); restore \
         it, or remove it and pass --session N with N newer than any session used before",
        path.display()
    )]
    Corrupt { path: PathBuf, content: String },
    #[error("cannot {action} session state file {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

/// Where the session is recorded, if anywhere.
#[derive(Debug, Clone)]
pub struct SessionState {
    path: Option<PathBuf>,
}

impl SessionState {
    pub fn new(path: Option<PathBuf>) -> SessionState {
        SessionState { path }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The last session recorded, if the file exists.
    pub fn last(&self) -> Result<Option<SessionNumber>, SessionError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let content = match fs::read_to_string(path) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(SessionError::Io {
                    action: "read",
                    path: path.clone(),
                    error,
                });
            }
        };
        let number = content
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .and_then(|l| l.parse::<u16>().ok());
        match number {
            Some(n) => Ok(Some(SessionNumber(n))),
            None => Err(SessionError::Corrupt {
                path: path.clone(),
                content: content.chars().take(40).collect(),
            }),
        }
    }

    /// Picks the session for this start and records it before it is used.
    pub fn begin(&self, requested: Option<u16>) -> Result<SessionNumber, SessionError> {
        let last = self.last()?;
        let session = match (requested, last) {
            (Some(r), Some(last)) if !SessionNumber(r).is_newer_than(last) => {
                return Err(SessionError::NotNewer {
                    requested: r,
                    last: last.0,
                    next: last.next().0,
                    learned: self.recorded_in(),
                });
            }
            (Some(r), _) => SessionNumber(r),
            (None, Some(last)) => last.next(),
            (None, None) => {
                return Err(match &self.path {
                    Some(p) => SessionError::FirstStart(p.clone()),
                    None => SessionError::NoStateFile,
                });
            }
        };
        self.record(session)?;
        Ok(session)
    }

    fn recorded_in(&self) -> String {
        format!(
            "recorded in {}",
            self.path.as_deref().unwrap_or(Path::new("")).display()
        )
    }

    /// Picks the session for this start from the flag, the state file and what the replicas
    /// said (`survey`), without recording it; returns it with a sentence saying how it was
    /// chosen. A flag must be strictly newer than the newest known session (a difference of
    /// 32768, which serial arithmetic cannot order, is refused too); without one, the next
    /// after the newest known is taken.
    pub fn choose(
        &self,
        requested: Option<u16>,
        survey: &Survey,
    ) -> Result<(SessionNumber, String), SessionError> {
        let file = self.last()?;
        let seen = survey.newest();
        let newest = newest_session(file, seen.map(|(s, _)| s));
        // Which source the newest came from, for the messages (the file wins a tie).
        let source = match (file, seen) {
            (Some(f), _) if Some(f) == newest => self.recorded_in(),
            (_, Some((s, by))) if Some(s) == newest => format!("seen by replica {by}"),
            _ => String::new(),
        };
        match (requested, newest) {
            (Some(r), Some(last)) if !strictly_newer(SessionNumber(r), last) => {
                Err(SessionError::NotNewer {
                    requested: r,
                    last: last.0,
                    next: last.next().0,
                    learned: source,
                })
            }
            (Some(r), Some(last)) => Ok((
                SessionNumber(r),
                format!("{survey}; session {r} from --session (newest known: {last}, {source})"),
            )),
            (Some(r), None) => Ok((
                SessionNumber(r),
                format!("{survey}; session {r} from --session (no session known before)"),
            )),
            (None, Some(last)) => Ok((
                last.next(),
                format!(
                    "{survey}; session {}, the next after {last} ({source})",
                    last.next()
                ),
            )),
            (None, None) => Err(match &self.path {
                Some(p) => SessionError::NothingKnown {
                    path: p.clone(),
                    survey: survey.to_string(),
                },
                None => SessionError::NoStateFile,
            }),
        }
    }

    /// Durably records `session` as the last one used (write, fsync, rename, fsync folder),
    /// so a crash leaves either the old number or the new one, never a torn file.
    pub fn record(&self, session: SessionNumber) -> Result<(), SessionError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io_err = |action: &'static str| {
            let path = path.clone();
            move |error| SessionError::Io {
                action,
                path,
                error,
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(io_err("create the folder of"))?;
        let tmp = path.with_extension("tmp");
        let mut file = File::create(&tmp).map_err(io_err("create"))?;
        writeln!(
            file,
            "# last OUM session used by the sequencer; a restart uses the next one\n{}",
            session.0
        )
        .map_err(io_err("write"))?;
        file.sync_all().map_err(io_err("fsync"))?;
        fs::rename(&tmp, path).map_err(io_err("replace"))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync the folder of"))?;
        Ok(())
    }
}

/// `a` is newer than `b` without ambiguity: `(a - b) mod 65536` in 1..=32767.
fn strictly_newer(a: SessionNumber, b: SessionNumber) -> bool {
    (1..=0x7fff).contains(&a.0.wrapping_sub(b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, SessionState) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/session");
        (dir, SessionState::new(Some(path)))
    }

    #[test]
    fn first_start_needs_a_flag_then_restarts_take_the_next_session() {
        let (_dir, s) = state();
        assert!(matches!(s.begin(None), Err(SessionError::FirstStart(_))));
        assert_eq!(s.begin(Some(7)).unwrap(), SessionNumber(7));
        assert_eq!(s.begin(None).unwrap(), SessionNumber(8));
        assert_eq!(s.begin(None).unwrap(), SessionNumber(9));
        assert_eq!(s.last().unwrap(), Some(SessionNumber(9)));
    }

    #[test]
    fn a_flag_may_not_go_back() {
        let (_dir, s) = state();
        s.begin(Some(100)).unwrap();
        let err = s.begin(Some(100)).unwrap_err();
        assert!(
            err.to_string().contains("Omit --session to take 101"),
            "{err}"
        );
        assert!(matches!(
            s.begin(Some(50)),
            Err(SessionError::NotNewer { .. })
        ));
        assert_eq!(s.begin(Some(200)).unwrap(), SessionNumber(200));
    }

    #[test]
    fn sessions_wrap_around() {
        let (_dir, s) = state();
        s.begin(Some(65535)).unwrap();
        assert_eq!(s.begin(None).unwrap(), SessionNumber(0));
        assert_eq!(s.begin(None).unwrap(), SessionNumber(1));
    }

    #[test]
    fn a_corrupt_file_is_refused_with_advice() {
        let (_dir, s) = state();
        s.begin(Some(1)).unwrap();
        std::fs::write(s.path().unwrap(), "banana\n").unwrap();
        let err = s.begin(None).unwrap_err();
        assert!(matches!(err, SessionError::Corrupt { .. }));
        assert!(err.to_string().contains("banana"));
    }

    #[test]
    fn without_a_state_file_only_the_flag_works() {
        let s = SessionState::new(None);
        assert!(matches!(s.begin(None), Err(SessionError::NoStateFile)));
        assert_eq!(s.begin(Some(3)).unwrap(), SessionNumber(3));
    }

    fn survey(answers: &[Option<Option<u16>>]) -> Survey {
        Survey {
            answers: answers
                .iter()
                .map(|a| a.map(|s| s.map(SessionNumber)))
                .collect(),
            wait: std::time::Duration::from_millis(300),
        }
    }

    /// Issue 13: with the state file gone, `--session 1` (or 32770 after 2, which serial
    /// order cannot call newer) was accepted and the group stalled.
    #[test]
    fn without_the_file_an_old_session_is_caught_by_asking_the_replicas() {
        let (_dir, s) = state();
        let seen = survey(&[Some(Some(2)), Some(Some(2)), None]);
        for old in [1, 2, 32770, 40000] {
            let err = s.choose(Some(old), &seen).unwrap_err();
            assert!(
                matches!(err, SessionError::NotNewer { last: 2, .. }),
                "{old}"
            );
            let text = err.to_string();
            assert!(
                text.contains("seen by replica 0") && text.contains("Omit --session to take 3"),
                "{text}"
            );
        }
        let (session, how) = s.choose(None, &seen).unwrap();
        assert_eq!(session, SessionNumber(3));
        assert!(
            how.contains("the next after 2 (seen by replica 0)"),
            "{how}"
        );
        assert!(
            how.contains("replica 2 did not answer within 300 ms"),
            "{how}"
        );
        assert_eq!(s.choose(Some(9), &seen).unwrap().0, SessionNumber(9));
        // Choosing records nothing.
        assert_eq!(s.last().unwrap(), None);
    }

    #[test]
    fn the_newest_of_file_and_replicas_counts() {
        let (_dir, s) = state();
        s.record(SessionNumber(10)).unwrap();
        // Replicas behind the file: the file decides.
        let behind = survey(&[Some(Some(4)), Some(None), Some(Some(10))]);
        let (session, how) = s.choose(None, &behind).unwrap();
        assert_eq!(session, SessionNumber(11));
        assert!(how.contains("recorded in"), "{how}");
        // Replicas ahead of a stale copy of the file: they decide.
        let ahead = survey(&[Some(Some(12)), None, None]);
        assert_eq!(s.choose(None, &ahead).unwrap().0, SessionNumber(13));
        assert!(s.choose(Some(12), &ahead).is_err());
        // Nobody answered: the file alone, as before.
        assert_eq!(
            s.choose(None, &survey(&[None, None, None])).unwrap().0,
            SessionNumber(11)
        );
    }

    #[test]
    fn nothing_known_anywhere_needs_the_flag() {
        let (_dir, s) = state();
        let fresh = survey(&[Some(None), None, Some(None)]);
        let err = s.choose(None, &fresh).unwrap_err();
        assert!(matches!(err, SessionError::NothingKnown { .. }));
        assert!(err.to_string().contains("--session N"), "{err}");
        let (session, how) = s.choose(Some(1), &fresh).unwrap();
        assert_eq!(session, SessionNumber(1));
        assert!(how.contains("no session known before"), "{how}");
    }

    #[test]
    fn strict_order_refuses_the_ambiguous_half_turn() {
        assert!(strictly_newer(SessionNumber(3), SessionNumber(2)));
        assert!(strictly_newer(SessionNumber(0), SessionNumber(65535)));
        assert!(strictly_newer(SessionNumber(32769), SessionNumber(2)));
        assert!(!strictly_newer(SessionNumber(32770), SessionNumber(2)));
        assert!(!strictly_newer(SessionNumber(2), SessionNumber(2)));
        assert!(!strictly_newer(SessionNumber(1), SessionNumber(2)));
    }
}
