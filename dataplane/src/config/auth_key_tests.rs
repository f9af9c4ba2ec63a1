//! The stamp key settings: both forms, every mistake named with its fix, no key printed.

use std::path::Path;

use super::*;

const KEY: &str = "000102030405060708090a0b0c0d0e0f";

fn with_group_setting(line: &str) -> String {
    format!(
        "f = 1\n[[group]]\nname = \"kv\"\naddress = \"127.0.0.10\"\n{line}\n\
         [[replica]]\naddress = \"127.0.0.1:51000\"\n[[replica]]\naddress = \"127.0.0.1:51001\"\n\
         [[replica]]\naddress = \"127.0.0.1:51002\"\n"
    )
}

fn problems(text: &str, base: Option<&Path>) -> Vec<Problem> {
    match ClusterConfig::parse_in(text, base) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn expected_key() -> StampKey {
    StampKey::new(std::array::from_fn(|i| i as u8))
}

#[test]
fn an_inline_key_is_the_groups_key_and_no_key_means_no_tag() {
    let c = ClusterConfig::parse(&with_group_setting(&format!("auth_key = \"{KEY}\""))).unwrap();
    assert_eq!(c.stamp_keys().unwrap(), vec![Some(expected_key())]);
    // Upper-case digits and surrounding spaces are fine.
    let upper = format!("auth_key = \" {} \"", KEY.to_uppercase());
    let c = ClusterConfig::parse(&with_group_setting(&upper)).unwrap();
    assert_eq!(c.groups[0].stamp_key().unwrap(), Some(expected_key()));
    let plain = ClusterConfig::parse(&with_group_setting("")).unwrap();
    assert_eq!(plain.stamp_keys().unwrap(), vec![None]);
    // Written back, the key survives (test clusters are written to files).
    let c = ClusterConfig::parse(&with_group_setting(&format!("auth_key = \"{KEY}\""))).unwrap();
    assert_eq!(ClusterConfig::parse(&c.to_toml()).unwrap(), c);
}

#[test]
fn a_key_file_is_read_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/kv.key"), format!("{KEY}\n")).unwrap();
    let path = dir.path().join("cluster.toml");
    std::fs::write(&path, with_group_setting("auth_key_file = \"keys/kv.key\"")).unwrap();
    let c = ClusterConfig::load(&path).unwrap();
    assert_eq!(c.stamp_keys().unwrap(), vec![Some(expected_key())]);
    assert_eq!(
        c.groups[0].auth_key_file.as_deref(),
        Some(dir.path().join("keys/kv.key").as_path())
    );
}

#[test]
fn a_wrong_key_is_named_with_its_problem_and_the_fix_but_never_shown() {
    let cases = [
        (
            "auth_key = \"0001\"",
            "is 4 hex digits; a key is exactly 32",
        ),
        (
            "auth_key = \"000102030405060708090a0b0c0d0e0f00\"",
            "is 34 hex digits",
        ),
        (
            "auth_key = \"0001020304050607g8090a0b0c0d0e0f\"",
            "character 17 is 'g', not a hex digit",
        ),
        ("auth_key = \"\"", "is 0 hex digits"),
    ];
    for (line, expected) in cases {
        let p = problems(&with_group_setting(line), None);
        assert_eq!(p.len(), 1, "{line}: {p:?}");
        assert_eq!(p[0].field, "group[0].auth_key");
        assert!(p[0].problem.contains(expected), "{line}: {}", p[0]);
        assert!(p[0].example.contains("openssl rand -hex 16"), "{}", p[0]);
    }
    // The digits never appear in an error, nor in the config's debug output.
    let secret = "0123456789abcdef0123456789abcdeX";
    let p = problems(
        &with_group_setting(&format!("auth_key = \"{secret}\"")),
        None,
    );
    assert!(!p[0].to_string().contains("0123456789abcdef"), "{}", p[0]);
    let c = ClusterConfig::parse(&with_group_setting(&format!("auth_key = \"{KEY}\""))).unwrap();
    let debug = format!("{c:?} {:?}", c.stamp_keys().unwrap());
    assert!(!debug.contains(KEY) && !debug.contains("0a0b"), "{debug}");
}

#[test]
fn key_file_problems_name_the_file_and_both_forms_at_once_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = problems(
        &with_group_setting("auth_key_file = \"nope.key\""),
        Some(dir.path()),
    );
    assert_eq!(missing[0].field, "group[0].auth_key_file");
    assert!(
        missing[0].problem.contains("cannot read key file")
            && missing[0].problem.contains("nope.key"),
        "{}",
        missing[0]
    );
    std::fs::write(dir.path().join("short.key"), "abcd\n").unwrap();
    let short = problems(
        &with_group_setting("auth_key_file = \"short.key\""),
        Some(dir.path()),
    );
    assert!(
        short[0].problem.contains("short.key") && short[0].problem.contains("is 4 hex digits"),
        "{}",
        short[0]
    );
    let both = problems(
        &with_group_setting(&format!(
            "auth_key = \"{KEY}\"\nauth_key_file = \"short.key\""
        )),
        Some(dir.path()),
    );
    assert_eq!(both.len(), 1, "{both:?}");
    assert!(both[0].problem.contains("both auth_key and auth_key_file"));
}

#[test]
fn a_key_set_after_reading_is_checked_when_used() {
    let mut c = ClusterConfig::local(3, 41000, std::net::Ipv4Addr::new(127, 0, 0, 20));
    c.groups[0].auth_key = Some(KeyText::new("xyz"));
    let err = c.stamp_keys().unwrap_err();
    assert!(
        err.contains("group replicas") && err.contains("not a hex digit"),
        "{err}"
    );
}
