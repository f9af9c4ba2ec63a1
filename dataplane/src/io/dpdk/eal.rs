//! The DPDK Environment Abstraction Layer: initialised once per process from EAL arguments
//! passed through unchanged, as every DPDK application takes them.

use std::ffi::{CString, c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{DpdkError, last_error};

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// EAL options DPDK 22.11 knows (`eal_common_options.c`), used only to name the culprit when
/// `rte_eal_init` refuses its arguments; DPDK itself decides what is valid.
const KNOWN_LONG: &[&str] = &[
    "allow",
    "base-virtaddr",
    "block",
    "create-uio-dev",
    "file-prefix",
    "force-max-simd-bitwidth",
    "help",
    "huge-dir",
    "huge-unlink",
    "huge-worker-stack",
    "in-memory",
    "iova-mode",
    "lcores",
    "legacy-mem",
    "log-level",
    "main-lcore",
    "match-allocations",
    "mbuf-pool-ops-name",
    "no-hpet",
    "no-huge",
    "no-pci",
    "no-shconf",
    "no-telemetry",
    "proc-type",
    "service-corelist",
    "service-coremask",
    "single-file-segments",
    "socket-limit",
    "socket-mem",
    "syslog",
    "telemetry",
    "trace",
    "trace-bufsz",
    "trace-dir",
    "trace-mode",
    "vdev",
    "vfio-intr",
    "vfio-vf-token",
    "vmware-tsc-map",
    "version",
];
const KNOWN_SHORT: &str = "abcdhlLmnrsSv";

/// The initialised EAL. Dropping it does nothing; [`Eal::cleanup`] releases DPDK's memory.
#[derive(Debug)]
pub struct Eal {
    args: Vec<String>,
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (without the program name, which is added). Fails
    /// with a message naming the problem: an unknown option, a device without a driver,
    /// memory that cannot be reserved, or a second initialisation in this process.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, DpdkError> {
        if INITIALIZED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalAlready);
        }
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(program_name());
        for a in &args {
            owned.push(CString::new(a.as_str()).map_err(|_| {
                DpdkError::Invalid(format!("EAL argument {a:?} contains a NUL byte"))
            })?);
        }
        // EAL may keep pointers into argv (and permutes it): leak both, once per process.
        let owned: &'static mut [CString] = Box::leak(owned.into_boxed_slice());
        let argv: &'static mut [*mut c_char] = Box::leak(
            owned
                .iter_mut()
                .map(|s| s.as_ptr().cast_mut())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let argc = c_int::try_from(argv.len())
            .map_err(|_| DpdkError::Invalid("too many EAL arguments".into()))?;
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever (leaked
        // above); rte_eal_init is called at most once per process (INITIALIZED).
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::EalInit {
                reason: last_error(),
                args: args.join(" "),
                hint: diagnose(&args),
            });
        }
        Ok(Eal { args })
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Ethernet ports DPDK found (NICs bound to DPDK drivers and --vdev devices).
    pub fn port_count(&self) -> u16 {
        // SAFETY: the EAL is initialised (self exists).
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }

    /// Releases DPDK's memory and devices (`rte_eal_cleanup`).
    ///
    /// # Safety
    /// No DPDK object (mbuf, pool, port, ring) may be used afterwards, and every port
    /// should have been stopped and closed.
    pub unsafe fn cleanup(self) {
        // SAFETY: the caller promises nothing DPDK is used after this.
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }
}

/// This executable's file name, as argv[0] for EAL's messages.
fn program_name() -> CString {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .and_then(|n| CString::new(n).ok())
        .unwrap_or_else(|| c"dpdk".to_owned())
}

/// Why EAL probably refused `args`: the first unknown option, else the devices named.
fn diagnose(args: &[String]) -> String {
    for a in args {
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            if !name.is_empty() && !KNOWN_LONG.contains(&name) {
                return format!(
                    "Unknown EAL option {a:?} (see `dpdk-testpmd --help` for EAL options)"
                );
            }
        } else if let Some(short) = a.strip_prefix('-') {
            if let Some(c) = short.chars().next() {
                if !KNOWN_SHORT.contains(c) {
                    return format!("Unknown EAL option {a:?}");
                }
            }
        }
    }
    let vdevs: Vec<&str> = args
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            a.strip_prefix("--vdev=").or_else(|| {
                (a == "--vdev")
                    .then(|| args.get(i + 1).map(String::as_str))
                    .flatten()
            })
        })
        .collect();
    if !vdevs.is_empty() {
        return format!(
            "Check the devices {vdevs:?}: each needs its DPDK driver (PMD), which shared DPDK \
             loads from its PMD folder (Debian: /usr/lib/<arch>/dpdk/pmds-*, package \
             librte-net-*); EAL's own messages above name the one that failed"
        );
    }
    "EAL's own messages above say which argument or resource failed; without hugepages use \
     --no-huge -m 256, and --no-pci when no NIC is bound to DPDK"
        .into()
}

/// EAL arguments for a machine without hugepages, NICs or a shared runtime directory (the
/// development and CI machines): no hugepages, 256 MiB, no PCI scan, no shared config, no
/// telemetry, main lcore 0. Add `--vdev` arguments for the devices.
pub const NO_HARDWARE_ARGS: &[&str] = &[
    "--no-huge",
    "-m",
    "256",
    "--no-pci",
    "--no-shconf",
    "--no-telemetry",
    "-l",
    "0",
];

/// Whether this process runs as root, which DPDK's virtual devices need on such a machine.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnose_names_an_unknown_option_or_the_devices() {
        let args = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert!(diagnose(&args(&["--no-huge", "--bogus-flag=1"])).contains("\"--bogus-flag=1\""));
        assert!(diagnose(&args(&["-l", "0", "-Q"])).contains("\"-Q\""));
        assert!(diagnose(&args(&["--no-huge", "--vdev=net_nosuch0"])).contains("net_nosuch0"));
        assert!(diagnose(&args(&["--no-huge"])).contains("--no-huge -m 256"));
    }
}
