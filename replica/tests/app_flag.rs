//! `replica --app`: the app a protocol replicates, refused where there is none.

use std::process::Command;

#[test]
fn listen_mode_has_no_app_to_choose() {
    let out = Command::new(env!("CARGO_BIN_EXE_replica"))
        .args([
            "--config",
            "unused.toml",
            "--index",
            "0",
            "--mode",
            "listen",
        ])
        .args(["--app", "null"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("drop --app"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_replica"))
        .args(["--config", "unused.toml", "--index", "0", "--app", "redis"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("kv") && stderr.contains("null"), "{stderr}");
}
