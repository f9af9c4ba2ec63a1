//! Before it stamps anything, the sequencer asks every replica for the newest OUM session it
//! has seen (`dataplane::oum::SessionQuery`), so a start with a lost state file, or with a
//! `--session` older than the replicas' session, is caught instead of stalling the group:
//! replicas drop every stamp of an older session as stale.
//!
//! The survey is bounded and best effort: replicas that are down, or not reachable over
//! kernel UDP (DPDK replicas behind a port the kernel cannot route to), simply do not answer,
//! and the sequencer goes on from its state file or flag, saying so.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dataplane::oum::{SESSION_QUERY_LEN, SessionNumber, SessionQuery, newest_session};

/// How often the query is sent again to replicas that have not answered (a lost datagram
/// must not cost the whole wait).
const RESEND: Duration = Duration::from_millis(50);

/// What the replicas said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// Per replica (config order): `None` if it did not answer, `Some(None)` if it answered
    /// that it has seen no session yet.
    pub answers: Vec<Option<Option<SessionNumber>>>,
    /// How long the survey waited at most.
    pub wait: Duration,
}

impl Survey {
    /// A survey that asked nobody (`--session-query-ms 0`, or no replicas).
    pub fn skipped(replicas: usize) -> Survey {
        Survey {
            answers: vec![None; replicas],
            wait: Duration::ZERO,
        }
    }

    /// The newest session any replica has seen, and the first replica that saw it.
    pub fn newest(&self) -> Option<(SessionNumber, usize)> {
        let newest = self
            .answers
            .iter()
            .flatten()
            .fold(None, |acc, s| newest_session(acc, *s))?;
        let by = self.answers.iter().position(|a| *a == Some(Some(newest)))?;
        Some((newest, by))
    }

    pub fn answered(&self) -> usize {
        self.answers.iter().filter(|a| a.is_some()).count()
    }
}

impl fmt::Display for Survey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wait.is_zero() {
            return f.write_str("the replicas were not asked (--session-query-ms 0)");
        }
        let ms = self.wait.as_millis();
        if self.answered() == 0 {
            return write!(f, "no replica answered within {ms} ms");
        }
        let parts: Vec<String> = self
            .answers
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                None => format!("replica {i} did not answer within {ms} ms"),
                Some(None) => format!("replica {i} has seen no session"),
                Some(Some(s)) => format!("replica {i} has seen session {s}"),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Asks every replica for its newest session and waits at most `wait` for the answers
/// (less once all have answered).
pub fn ask_replicas(replicas: &[SocketAddrV4], wait: Duration) -> io::Result<Survey> {
    let mut survey = Survey::skipped(replicas.len());
    if wait.is_zero() || replicas.is_empty() {
        return Ok(survey);
    }
    survey.wait = wait;
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    // A different nonce per start, so a late answer to an earlier start is not taken.
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 40;
    let query = SessionQuery::Query { nonce }.to_bytes();
    let deadline = Instant::now() + wait;
    let mut next_send = Instant::now();
    let mut buf = [0u8; SESSION_QUERY_LEN + 1];
    while survey.answered() < replicas.len() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if now >= next_send {
            for (r, a) in replicas.iter().zip(&survey.answers) {
                if a.is_none() {
                    // A replica host that is down may refuse (ICMP); that is no answer.
                    let _ = socket.send_to(&query, r);
                }
            }
            next_send = now + RESEND;
        }
        let until = deadline.min(next_send).saturating_duration_since(now);
        socket.set_read_timeout(Some(until.max(Duration::from_millis(1))))?;
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ConnectionRefused
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let SocketAddr::V4(from) = from else { continue };
        let Some(index) = replicas.iter().position(|r| *r == from) else {
            continue; // not a replica of this config
        };
        if let Some(SessionQuery::Answer {
            nonce: n, newest, ..
        }) = buf.get(..len).and_then(SessionQuery::parse)
        {
            if n == nonce {
                survey.answers[index] = Some(newest);
            }
        }
    }
    Ok(survey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica() -> (UdpSocket, SocketAddrV4) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(a) = s.local_addr().unwrap() else {
            unreachable!()
        };
        (s, a)
    }

    /// Answers one query with `newest`, as a replica's I/O loop does.
    fn answer_once(s: UdpSocket, index: u16, newest: Option<u16>) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let (n, from) = s.recv_from(&mut buf).unwrap();
            let Some(SessionQuery::Query { nonce }) = SessionQuery::parse(&buf[..n]) else {
                panic!("not a query");
            };
            let answer = SessionQuery::Answer {
                nonce,
                replica: index,
                newest: newest.map(SessionNumber),
            };
            s.send_to(&answer.to_bytes(), from).unwrap();
        })
    }

    #[test]
    fn answers_are_gathered_and_silence_is_reported() {
        let (a, a_addr) = replica();
        let (b, b_addr) = replica();
        let (_silent, c_addr) = replica();
        let ta = answer_once(a, 0, Some(7));
        let tb = answer_once(b, 1, None);
        let started = Instant::now();
        let survey = ask_replicas(&[a_addr, b_addr, c_addr], Duration::from_millis(300)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        ta.join().unwrap();
        tb.join().unwrap();
        assert_eq!(
            survey.answers,
            vec![Some(Some(SessionNumber(7))), Some(None), None]
        );
        assert_eq!(survey.newest(), Some((SessionNumber(7), 0)));
        let text = survey.to_string();
        assert!(
            text.contains("replica 0 has seen session 7")
                && text.contains("replica 1 has seen no session")
                && text.contains("replica 2 did not answer within 300 ms"),
            "{text}"
        );
    }

    #[test]
    fn all_answers_end_the_wait_early_and_serial_order_picks_the_newest() {
        let (a, a_addr) = replica();
        let (b, b_addr) = replica();
        let ta = answer_once(a, 0, Some(65535));
        let tb = answer_once(b, 1, Some(2));
        let started = Instant::now();
        let survey = ask_replicas(&[a_addr, b_addr], Duration::from_secs(5)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(4));
        ta.join().unwrap();
        tb.join().unwrap();
        // 2 is newer than 65535: sessions wrap.
        assert_eq!(survey.newest(), Some((SessionNumber(2), 1)));
    }

    #[test]
    fn nobody_listening_means_no_answer_not_an_error() {
        let (silent, addr) = replica();
        drop(silent);
        let survey = ask_replicas(&[addr], Duration::from_millis(100)).unwrap();
        assert_eq!(survey.newest(), None);
        assert_eq!(survey.to_string(), "no replica answered within 100 ms");
        assert_eq!(
            Survey::skipped(3).to_string(),
            "the replicas were not asked (--session-query-ms 0)"
        );
    }
}
