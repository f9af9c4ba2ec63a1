//! Child processes of a local cluster: started with their output captured line by line,
//! stopped with SIGINT (then SIGKILL), and never left behind, even when we fail.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running child whose stdout arrives as lines.
#[derive(Debug)]
pub struct ChildProc {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl ChildProc {
    pub fn spawn(name: &str, mut command: Command) -> Result<ChildProc, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", command.get_program()))?;
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&text);
                }
            });
        }
        Ok(ChildProc {
            name: name.to_string(),
            child,
            lines,
            stderr,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Why the child is gone, if it is: its exit status and what it wrote to stderr.
    pub fn death(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(self.describe_exit(status)),
            _ => None,
        }
    }

    fn describe_exit(&self, status: ExitStatus) -> String {
        // Give the stderr reader a moment to collect the last words.
        thread::sleep(Duration::from_millis(50));
        let stderr = self
            .stderr
            .lock()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if stderr.is_empty() {
            format!("{} exited ({status})", self.name)
        } else {
            format!("{} exited ({status}): {stderr}", self.name)
        }
    }

    /// Waits for a stdout line satisfying `wanted`; fails if the child dies or time runs out.
    pub fn wait_for_line(
        &mut self,
        wanted: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "{} printed nothing expected within {timeout:?}",
                    self.name
                ));
            }
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) if wanted(&line) => return Ok(line),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {
                    if let Some(death) = self.death() {
                        return Err(death);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self
                        .death()
                        .unwrap_or_else(|| format!("{} closed its output", self.name)));
                }
            }
        }
    }

    /// Every line printed so far and not yet taken.
    pub fn take_lines(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// SIGINT, then SIGKILL if it has not exited within `grace`; returns the lines it printed
    /// meanwhile and whether it exited cleanly.
    pub fn stop(mut self, grace: Duration) -> (Vec<String>, Result<(), String>) {
        self.signal(libc::SIGINT);
        let deadline = Instant::now() + grace;
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let result = match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(self.describe_exit(s)),
            None => {
                self.signal(libc::SIGKILL);
                let _ = self.child.wait();
                Err(format!(
                    "{} ignored SIGINT for {grace:?} and was killed",
                    self.name
                ))
            }
        };
        // The reader thread ends at end of file, once the pipe closes.
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        (lines, result)
    }

    fn signal(&mut self, signal: libc::c_int) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on the PID of our own child, which has not been reaped (try_wait
            // just saw it running), so the PID cannot belong to another process.
            unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
