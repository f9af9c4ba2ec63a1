//! The sequencer's session number across restarts. A restarted sequencer must never reuse a
//! session: receivers would drop its packets as duplicates until the counter passed the old
//! value, and the system would wedge (the original implementation's defect 3). So the
//! session to use is written and fsync'd before the first packet is stamped.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dataplane::oum::SessionNumber;

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
        "--session {requested} is not newer than session {last}, the last one used (recorded \
         in {}); a reused session wedges the replicas. Omit --session to take {next}",
        path.display()
    )]
    NotNewer {
        requested: u16,
        last: u16,
        next: u16,
        path: PathBuf,
    },
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
                    path: self.path.clone().unwrap_or_default(),
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
}
