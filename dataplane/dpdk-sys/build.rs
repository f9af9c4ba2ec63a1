//! Finds the system DPDK with pkg-config, generates bindings with bindgen and compiles the
//! shim for DPDK's static-inline functions. A missing DPDK is a build error naming the fix.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    let dpdk = match pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(true)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => panic!(
            "DPDK >= 22.11 was not found by pkg-config ({e}). Install it (Debian 12: \
             apt-get install libdpdk-dev libclang-dev pkg-config) or build without the `dpdk` \
             feature."
        ),
    };
    // pkg-config's flags carry `-include rte_config.h -march=...`, which the shim and
    // bindgen must both see so they agree on structure layouts.
    let extra = extra_cflags();
    let mut build = cc::Build::new();
    build.file("shim.c").opt_level(3).warnings(false);
    for path in &dpdk.include_paths {
        build.include(path);
    }
    for flag in &extra {
        build.flag(flag);
    }
    build.compile("nopaxos_dpdk_shim");
    // `rte_eth_from_rings` (ring-backed ports for tests and benchmarks) lives in the ring
    // PMD, which pkg-config's link line leaves out because EAL loads PMDs as plugins.
    println!("cargo:rustc-link-lib=rte_net_ring");

    let mut bindings = bindgen::Builder::default()
        .header("shim.h")
        .clang_args(&extra)
        .wrap_unsafe_ops(true)
        .allowlist_function("rte_eal_.*|rte_eth_.*|rte_pktmbuf_pool_create|rte_mempool_.*|rte_ring_create|rte_ring_free|rte_ring_lookup|rte_socket_id|rte_lcore_.*|rte_get_tsc_hz|rte_strerror|rte_exit|shim_.*|rte_pktmbuf_free_bulk|rte_eal_remote_launch|rte_eal_mp_wait_lcore|rte_eal_wait_lcore|rte_delay_us_block")
        .allowlist_type("rte_mbuf|rte_mempool|rte_ring|rte_eth_.*|rte_ether_addr")
        .allowlist_var("RTE_.*|RTE_ETH_.*|RING_F_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false);
    for path in &dpdk.include_paths {
        bindings = bindings.clang_arg(format!("-I{}", path.display()));
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .generate()
        .unwrap_or_else(|e| {
            panic!("bindgen failed on the DPDK headers ({e}); is libclang-dev installed?")
        })
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings");
}

/// The compiler flags of `pkg-config --cflags libdpdk` other than include paths.
fn extra_cflags() -> Vec<String> {
    let output =
        std::process::Command::new(env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
            .args(["--cflags", "libdpdk"])
            .output()
            .expect("pkg-config runs (it found libdpdk a moment ago)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut flags = Vec::new();
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        if word == "-include" {
            if let Some(file) = words.next() {
                flags.push("-include".to_string());
                flags.push(file.to_string());
            }
        } else if word.starts_with("-march=")
            || word.starts_with("-mcpu=")
            || word.starts_with("-D")
        {
            flags.push(word.to_string());
        }
    }
    flags
}
