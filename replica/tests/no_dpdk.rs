//! A replica built without the `dpdk` feature says how to get it.
#![cfg(not(feature = "dpdk"))]

use std::process::Command;

#[test]
fn dpdk_needs_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        "f = 0\n[[group]]\nname = \"g\"\naddress = \"127.0.0.10\"\n\
         [[replica]]\naddress = \"127.0.0.1:51000\"\n",
    )
    .unwrap();
    for args in [
        &["--index", "0", "--dpdk", "--config"][..],
        &["bench", "--dpdk"][..],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_replica"));
        cmd.args(args);
        if args[0] == "--index" {
            cmd.arg(&config);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("rebuild with --features dpdk"), "{stderr}");
    }
}
