use std::fmt;
use std::path::{Path, PathBuf};

/// One mistake in a config: which field, what is wrong, and an example of a right value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub problem: String,
    pub example: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: {} (for example: {})",
            self.field, self.problem, self.example
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {error}", path.display())]
    Read { path: PathBuf, error: String },
    #[error("{}{message}", in_path(path))]
    Syntax {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("{}{} problem(s):\n{}", in_path(path), problems.len(), list(problems))]
    Invalid {
        path: Option<PathBuf>,
        problems: Vec<Problem>,
    },
}

fn in_path(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("config file {}: ", p.display()),
        None => "config: ".to_string(),
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    pub(crate) fn in_file(self, file: &Path) -> ConfigError {
        match self {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: Some(file.to_path_buf()),
                message,
            },
            ConfigError::Invalid { problems, .. } => ConfigError::Invalid {
                path: Some(file.to_path_buf()),
                problems,
            },
            other => other,
        }
    }

    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// Adds an example of a right value to the parser's messages that lack one.
pub(super) fn with_hint(message: String) -> String {
    let hint = if message.contains("socket address") {
        "expected \"IPv4:port\", for example \"127.0.0.1:51000\""
    } else if message.contains("IPv4 address") || message.contains("IP address") {
        "expected an IPv4 address, for example \"127.0.0.10\""
    } else if message.contains("missing field `f`") {
        "add `f = 1` (failures tolerated) at the top of the file"
    } else {
        return message;
    };
    format!("{}\n{hint}", message.trim_end())
}
