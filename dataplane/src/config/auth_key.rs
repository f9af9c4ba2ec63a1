//! A group's stamp key (docs/operations.md, "Authenticated stamps"): `auth_key` (32 hex
//! digits in the config) or `auth_key_file` (a file holding them, relative to the config
//! file). Both forms are offered: the inline key keeps a test or a one-host cluster in one
//! file, the key file lets the config be shared, versioned and printed while the secret
//! stays in a file only the sequencer and replicas can read. Nothing here prints a key.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ClusterConfig, Problem};
use crate::oum::StampKey;

/// Hex digits of a 128-bit key.
pub const KEY_HEX_DIGITS: usize = 32;

/// `auth_key` as written in the file: checked when the config is read, and never shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyText(String);

impl KeyText {
    pub fn new(hex: impl Into<String>) -> KeyText {
        KeyText(hex.into())
    }
}

impl fmt::Debug for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyText(..)") // never print a secret
    }
}

/// The key in `text` (surrounding whitespace ignored), or what is wrong with it. The
/// message names lengths and positions only, never the digits.
pub fn parse_key(text: &str) -> Result<StampKey, String> {
    let digits = text.trim();
    if let Some((at, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "character {} is {}, not a hex digit; a key is {KEY_HEX_DIGITS} hex digits (128 bits)",
            at + 1,
            if c.is_whitespace() {
                "a space".to_string()
            } else {
                format!("{c:?}")
            }
        ));
    }
    if digits.len() != KEY_HEX_DIGITS {
        return Err(format!(
            "is {} hex digits; a key is exactly {KEY_HEX_DIGITS} (128 bits)",
            digits.len()
        ));
    }
    let mut key = [0u8; 16];
    for (i, b) in key.iter_mut().enumerate() {
        // ASCII hex digits checked above: every pair parses.
        *b = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(StampKey::new(key))
}

/// Reads a key file: 32 hex digits, whitespace around them ignored.
pub fn read_key_file(path: &Path) -> Result<StampKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    parse_key(&text).map_err(|e| format!("key file {}: {e}", path.display()))
}

const EXAMPLE: &str =
    "auth_key_file = \"keys/kv.key\" (made with `openssl rand -hex 16 > keys/kv.key`)";

/// Makes relative key file paths relative to `base` (the config file's folder), reads every
/// key file into its group and returns what went wrong; inline keys are checked too.
pub(super) fn resolve(config: &mut ClusterConfig, base: Option<&Path>) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, g) in config.groups.iter_mut().enumerate() {
        g.file_key = None;
        if let (Some(base), Some(file)) = (base, g.auth_key_file.as_mut()) {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        let problem = |field: &str, problem: String| Problem {
            field: format!("group[{i}].{field}"),
            problem,
            example: EXAMPLE.to_string(),
        };
        match (&g.auth_key, &g.auth_key_file) {
            (Some(_), Some(_)) => out.push(problem(
                "auth_key",
                "both auth_key and auth_key_file are set; give the key one way".into(),
            )),
            (Some(KeyText(text)), None) => {
                if let Err(e) = parse_key(text) {
                    out.push(problem("auth_key", e));
                }
            }
            (None, Some(file)) => match read_key_file(file) {
                Ok(key) => g.file_key = Some(key),
                Err(e) => out.push(problem("auth_key_file", e)),
            },
            (None, None) => {}
        }
    }
    out
}

/// A group's key as the config gives it (None: the group's stamps carry no tag). An
/// inline key is parsed again here, and a key file not read when the config was (set
/// afterwards) is read now, so a key set by hand is never silently ignored.
pub(super) fn group_key(
    inline: Option<&KeyText>,
    file: Option<&Path>,
    from_file: Option<&StampKey>,
) -> Result<Option<StampKey>, String> {
    match (inline, file, from_file) {
        (Some(KeyText(text)), _, _) => parse_key(text)
            .map(Some)
            .map_err(|e| format!("auth_key {e}")),
        (None, _, Some(key)) => Ok(Some(key.clone())),
        (None, Some(file), None) => read_key_file(file).map(Some),
        (None, None, None) => Ok(None),
    }
}
