#!/usr/bin/env bash
# Runs every test of nopaxos-rs. On a fresh Debian 12 machine, as root, it first installs
# what the tests need from Debian's packages. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# 1. System packages: a C toolchain (build scripts, libc linking), python3 (golden-vector
# generator), a TrueType font (plot labels), DPDK and libclang (the `dpdk` feature). Installed only when missing, so repeated
# runs stay offline.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
# DPDK 22.11 and libclang for the `dpdk` feature (dataplane/dpdk-sys runs bindgen).
dpkg -s libdpdk-dev >/dev/null 2>&1 || missing+=(libdpdk-dev dpdk)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
# The cavium/ C sequencer: a big-endian MIPS64 cross compiler and qemu-user to run its tests.
dpkg -s gcc-mips64-linux-gnuabi64 >/dev/null 2>&1 || missing+=(gcc-mips64-linux-gnuabi64)
dpkg -s libc6-dev-mips64-cross >/dev/null 2>&1 || missing+=(libc6-dev-mips64-cross)
dpkg -s qemu-user >/dev/null 2>&1 || missing+=(qemu-user)
# Network namespaces and veth pairs for the DPDK cluster test.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to install: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) and put ~/.cargo/bin on PATH" >&2
  exit 1
fi

# 2. Formatting and lints.
if cargo fmt --version >/dev/null 2>&1; then
  step "cargo fmt --check"
  cargo fmt --all -- --check
else
  echo "SKIPPED: rustfmt is not installed (rustup component add rustfmt)"
fi
if cargo clippy --version >/dev/null 2>&1; then
  step "cargo clippy"
  cargo clippy --workspace --all-targets --all-features -- -D warnings
else
  echo "SKIPPED: clippy is not installed (rustup component add clippy)"
fi

# 3. The golden vectors match their generator.
step "golden vectors up to date"
python3 testdata/gen-oum-vectors.py --check

# 4. Every test: unit, golden vectors, process tests of the real binaries on loopback.
step "cargo test"
cargo test --workspace --all-targets --all-features
cargo test --workspace --doc

# 5. The main job, as the README gives it, in release mode (shorter runs, reports into a
# scratch folder), and the OUM demo.
step "main job: client-gen local"
cargo build --release
results=$(mktemp -d)
"${CARGO_TARGET_DIR:-target}"/release/client-gen local --duration 5 --warmup 1 --cooldown 1 --check --results "$results" --quiet
rm -rf "$results"
"${CARGO_TARGET_DIR:-target}"/release/client-gen oum-demo

# 6. Fuzz targets, briefly, where a nightly toolchain and cargo-fuzz are present (their
# bodies already ran under cargo test above).
if cargo +nightly --version >/dev/null 2>&1 && command -v cargo-fuzz >/dev/null 2>&1; then
  step "fuzz smoke (10 s per target)"
  for target in wire_decode sequencer_frame receiver_stream pcap_decode config_parse cavium_vs_rust; do
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time=10 -timeout=5 -print_final_stats=0 2>&1 | tail -1)
  done
else
  echo "SKIPPED: fuzz smoke run (needs a nightly toolchain and cargo-fuzz; see docs/fuzzing.md)"
fi

step "cavium: host, sanitizer and MIPS64 (qemu) golden vectors"
make -C cavium test

step "all tests passed"
