//! Reading one process's CPU time from /proc.
//!
//! Preferred: the sum over the process's threads of the first field of
//! `/proc/PID/task/TID/schedstat` (`sum_exec_runtime`, nanoseconds the scheduler ran the
//! thread: exact, not sampled). Fallback, where the kernel has no schedstat files:
//! `utime + stime` from `/proc/PID/stat`, in clock ticks (`sysconf(_SC_CLK_TCK)`, usually
//! 100 per second, so 10 ms resolution). Neither sees time the kernel spends on the process's
//! behalf in interrupt context unless the kernel accounts IRQ time; docs/benchmarks.md says
//! what that means for loopback runs.

use std::io::ErrorKind;
use std::path::Path;
use std::sync::OnceLock;

/// Which counter a [`CpuSample`] came from; two samples compare only if it is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSource {
    /// Sum of `sum_exec_runtime` over `/proc/PID/task/*/schedstat`, nanoseconds.
    Schedstat,
    /// `utime + stime` of `/proc/PID/stat`, clock ticks converted to nanoseconds.
    Stat,
}

impl CpuSource {
    pub fn name(self) -> &'static str {
        match self {
            CpuSource::Schedstat => "schedstat",
            CpuSource::Stat => "stat",
        }
    }
}

/// A process's CPU time at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample {
    pub cpu_ns: u64,
    pub source: CpuSource,
    /// The process's start time (field 22 of `/proc/PID/stat`, clock ticks after boot): a
    /// different value for the same PID means the PID was reused by another process.
    pub start_ticks: u64,
}

/// Why a process's CPU time could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No such process any more, or only its zombie is left.
    Exited,
    /// The files exist but could not be read or parsed (the message says why).
    Unreadable(String),
}

/// The fields of `/proc/PID/stat` the accounting needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 14, clock ticks in user mode.
    pub utime: u64,
    /// Field 15, clock ticks in kernel mode.
    pub stime: u64,
    /// Field 22, clock ticks after boot.
    pub start_ticks: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so the fields after it are found from the *last* `)`.
pub fn parse_stat(text: &str) -> Result<StatFields, String> {
    let close = text
        .rfind(')')
        .ok_or_else(|| format!("no ')' closing the command name in {text:?}"))?;
    // Field 3 onwards; index 0 here is field 3.
    let rest: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    let field = |n: usize| -> Result<&str, String> {
        rest.get(n - 3)
            .copied()
            .ok_or_else(|| format!("field {n} missing in {text:?}"))
    };
    let number = |n: usize| -> Result<u64, String> {
        let f = field(n)?;
        f.parse()
            .map_err(|_| format!("field {n} is {f:?}, not a number, in {text:?}"))
    };
    let state = field(3)?;
    let mut chars = state.chars();
    let (Some(state), None) = (chars.next(), chars.next()) else {
        return Err(format!("field 3 is {state:?}, not a process state"));
    };
    Ok(StatFields {
        state,
        utime: number(14)?,
        stime: number(15)?,
        start_ticks: number(22)?,
    })
}

/// Parses `/proc/PID/task/TID/schedstat`: `sum_exec_runtime run_delay timeslices`; returns
/// the first, nanoseconds on the CPU.
pub fn parse_schedstat(text: &str) -> Result<u64, String> {
    let first = text
        .split_ascii_whitespace()
        .next()
        .ok_or_else(|| "empty schedstat".to_string())?;
    first
        .parse()
        .map_err(|_| format!("schedstat starts with {first:?}, not nanoseconds"))
}

/// Clock ticks per second, for `/proc/PID/stat` times.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // POSIX requires a positive value; 100 is Linux's USER_HZ if it ever were not.
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// Whether this kernel has per-thread schedstat files (checked once, on ourselves).
fn schedstat_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| Path::new("/proc/thread-self/schedstat").is_file())
}

fn classify(path: &Path, e: &std::io::Error) -> ReadError {
    // ESRCH comes from files of a task that died while we read it.
    if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
        ReadError::Exited
    } else {
        ReadError::Unreadable(format!("{}: {e}", path.display()))
    }
}

/// Reads process `pid`'s CPU time so far: schedstat if the kernel has it, else stat.
pub fn read_cpu(pid: u32) -> Result<CpuSample, ReadError> {
    read_cpu_in(Path::new("/proc"), pid, schedstat_available())
}

/// [`read_cpu`] below another proc root (tests give a folder of fixed files).
pub fn read_cpu_in(proc_root: &Path, pid: u32, schedstat: bool) -> Result<CpuSample, ReadError> {
    let dir = proc_root.join(pid.to_string());
    let stat_path = dir.join("stat");
    let text = std::fs::read_to_string(&stat_path).map_err(|e| classify(&stat_path, &e))?;
    let stat = parse_stat(&text)
        .map_err(|e| ReadError::Unreadable(format!("{}: {e}", stat_path.display())))?;
    // A zombie keeps its files until reaped, but it no longer runs: not a live server.
    if matches!(stat.state, 'Z' | 'X' | 'x') {
        return Err(ReadError::Exited);
    }
    if schedstat {
        let tasks = dir.join("task");
        let entries = std::fs::read_dir(&tasks).map_err(|e| classify(&tasks, &e))?;
        let mut total = 0u64;
        let mut threads = 0usize;
        for entry in entries {
            let entry = entry.map_err(|e| classify(&tasks, &e))?;
            let path = entry.path().join("schedstat");
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let ns = parse_schedstat(&text)
                        .map_err(|e| ReadError::Unreadable(format!("{}: {e}", path.display())))?;
                    total = total.saturating_add(ns);
                    threads += 1;
                }
                // A thread that exited between listing and reading: its time is gone from
                // the sum (documented; the servers here do not start and stop threads).
                Err(e) if matches!(classify(&path, &e), ReadError::Exited) => {}
                Err(e) => return Err(classify(&path, &e)),
            }
        }
        if threads == 0 {
            return Err(ReadError::Exited);
        }
        return Ok(CpuSample {
            cpu_ns: total,
            source: CpuSource::Schedstat,
            start_ticks: stat.start_ticks,
        });
    }
    let ticks = stat.utime.saturating_add(stat.stime);
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(clock_ticks_per_second());
    Ok(CpuSample {
        cpu_ns: u64::try_from(ns).unwrap_or(u64::MAX),
        source: CpuSource::Stat,
        start_ticks: stat.start_ticks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line of /proc/PID/stat (from `cat`), fields 14/15 = 7/3, field 22 = 21647.
    const CAT: &str = "9199 (cat) R 9195 9195 6312 0 -1 4194304 101 0 0 0 7 3 0 0 20 0 1 0 \
                       21647 3133440 393 18446744073709551615 94109273784320 94109273804201 \
                       140729789539248 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fields_by_position() {
        let s = parse_stat(CAT).unwrap();
        assert_eq!(
            s,
            StatFields {
                state: 'R',
                utime: 7,
                stime: 3,
                start_ticks: 21647
            }
        );
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses() {
        // A process may name itself anything (prctl PR_SET_NAME), ") S 1 2" included: only
        // the last ')' ends the name.
        let text = "42 (my (evil) S 1 2) prog) S 1 42 42 0 -1 0 0 0 0 0 1234 5678 0 0 20 0 1 0 \
                    999 0 0\n";
        let s = parse_stat(text).unwrap();
        assert_eq!(
            (s.state, s.utime, s.stime, s.start_ticks),
            ('S', 1234, 5678, 999)
        );
    }

    #[test]
    fn malformed_stat_is_an_error_not_a_zero() {
        assert!(parse_stat("").unwrap_err().contains("no ')'"));
        assert!(parse_stat("1 (x) S 1 2 3").unwrap_err().contains("field"));
        let bad = CAT.replace(" 7 3 ", " 7 x ");
        assert!(parse_stat(&bad).unwrap_err().contains("field 15"));
        assert!(parse_stat("1 (x) SS 0").unwrap_err().contains("state"));
    }

    #[test]
    fn schedstat_first_field() {
        assert_eq!(parse_schedstat("513585 11123835 1\n"), Ok(513_585));
        assert!(parse_schedstat("").is_err());
        assert!(parse_schedstat("-5 1 1").is_err());
    }

    fn fake_proc(pid: u32, stat: &str, threads: &[(u32, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(pid.to_string());
        std::fs::create_dir_all(dir.join("task")).unwrap();
        std::fs::write(dir.join("stat"), stat).unwrap();
        for (tid, text) in threads {
            let t = dir.join("task").join(tid.to_string());
            std::fs::create_dir_all(&t).unwrap();
            std::fs::write(t.join("schedstat"), text).unwrap();
        }
        root
    }

    #[test]
    fn sums_every_thread_or_falls_back_to_ticks() {
        let root = fake_proc(9199, CAT, &[(9199, "1000 5 1\n"), (9200, "2500 0 3\n")]);
        let s = read_cpu_in(root.path(), 9199, true).unwrap();
        assert_eq!(
            (s.cpu_ns, s.source, s.start_ticks),
            (3500, CpuSource::Schedstat, 21647)
        );
        let s = read_cpu_in(root.path(), 9199, false).unwrap();
        assert_eq!(s.source, CpuSource::Stat);
        assert_eq!(s.cpu_ns, 10 * 1_000_000_000 / clock_ticks_per_second());
    }

    #[test]
    fn gone_zombie_and_garbled_processes_are_told_apart() {
        let root = fake_proc(1, CAT, &[(1, "1 0 0\n")]);
        assert_eq!(read_cpu_in(root.path(), 2, true), Err(ReadError::Exited));
        let zombie = fake_proc(3, &CAT.replace(") R ", ") Z "), &[(3, "1 0 0\n")]);
        assert_eq!(read_cpu_in(zombie.path(), 3, true), Err(ReadError::Exited));
        let garbled = fake_proc(4, CAT, &[(4, "lots\n")]);
        match read_cpu_in(garbled.path(), 4, true) {
            Err(ReadError::Unreadable(why)) => assert!(why.contains("schedstat"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn our_own_process_reads_and_grows() {
        let me = std::process::id();
        let a = read_cpu(me).unwrap();
        let mut x = 0u64;
        let until = std::time::Instant::now() + std::time::Duration::from_millis(30);
        while std::time::Instant::now() < until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let b = read_cpu(me).unwrap();
        assert_eq!(a.source, b.source);
        assert_eq!(a.start_ticks, b.start_ticks);
        assert!(b.cpu_ns > a.cpu_ns, "{a:?} {b:?}");
    }
}
