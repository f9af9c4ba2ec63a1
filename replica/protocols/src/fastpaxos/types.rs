//! Rounds, log entries, quorum sizes and Fast Paxos's rule for picking a value.

use std::net::SocketAddrV4;
use std::sync::Arc;

use crate::codec::{CodecError, Reader, Writer};
use crate::{ClientId, EntryId, RequestId};

/// A round of one slot: every view has a fast round (acceptors take client requests
/// directly) followed by a classic round (the view's leader proposes one value). Rounds are
/// ordered by view, the fast round first, as Lamport's round numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Round {
    pub view: u64,
    pub classic: bool,
}

impl Round {
    /// The fast round of `view`: acceptors take client requests directly.
    pub fn fast(view: u64) -> Round {
        Round {
            view,
            classic: false,
        }
    }

    /// The classic round of `view`: acceptors take the leader's value.
    pub fn classic(view: u64) -> Round {
        Round {
            view,
            classic: true,
        }
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(self.view)?;
        w.bool(self.classic)
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Round, CodecError> {
        Ok(Round {
            view: r.u64()?,
            classic: r.bool()?,
        })
    }
}

/// A client request as proposed and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub client: ClientId,
    pub request: RequestId,
    /// Where the leader sends the reply (the client's own address).
    pub reply_to: SocketAddrV4,
    pub op: Vec<u8>,
}

/// A slot's value. Requests are shared, so votes, tallies and queued messages holding the
/// same request do not copy its operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Request(Arc<Request>),
    NoOp,
}

impl Entry {
    /// A request entry (copies the operation once; clones share it).
    pub fn request(
        client: ClientId,
        request: RequestId,
        reply_to: SocketAddrV4,
        op: &[u8],
    ) -> Entry {
        Entry::Request(Arc::new(Request {
            client,
            request,
            reply_to,
            op: op.to_vec(),
        }))
    }

    /// What the agreement checks compare.
    pub fn id(&self) -> EntryId {
        match self {
            Entry::Request(r) => EntryId::Request {
                client: r.client,
                request: r.request,
            },
            Entry::NoOp => EntryId::NoOp,
        }
    }

    /// Same value: cheap when both share one request.
    pub fn same(&self, other: &Entry) -> bool {
        match (self, other) {
            (Entry::NoOp, Entry::NoOp) => true,
            (Entry::Request(a), Entry::Request(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            Entry::NoOp => w.u8(0),
            Entry::Request(r) => {
                w.u8(1)?;
                w.u64(r.client)?;
                w.u64(r.request)?;
                w.addr(r.reply_to)?;
                w.bytes(&r.op)
            }
        }
    }

    /// Decodes an entry, copying its operation (entries kept in logs and images own it).
    pub fn decode(r: &mut Reader<'_>) -> Result<Entry, CodecError> {
        match r.u8()? {
            0 => Ok(Entry::NoOp),
            1 => {
                let client = r.u64()?;
                let request = r.u64()?;
                let reply_to = r.addr()?;
                let op = r.bytes()?;
                Ok(Entry::request(client, request, reply_to, op))
            }
            t => Err(CodecError::Invalid {
                field: "entry kind",
                value: u64::from(t),
            }),
        }
    }

    /// Bytes the entry takes encoded.
    pub fn encoded_len(&self) -> usize {
        match self {
            Entry::NoOp => 1,
            Entry::Request(r) => 1 + 8 + 8 + 6 + 4 + r.op.len(),
        }
    }

    /// A total order used only to break ties deterministically.
    fn order_key(&self) -> (u8, u64, u64) {
        match self {
            Entry::NoOp => (0, 0, 0),
            Entry::Request(r) => (1, r.client, r.request),
        }
    }
}

/// Quorum sizes for `n` acceptors (Lamport, Fast Paxos, section 4.1): any two classic
/// quorums intersect, and any classic quorum meets any two fast quorums. With classic
/// quorums of `⌊n/2⌋ + 1` (f+1 when n = 2f+1), the second condition `qc + 2·qf > 2n` gives
/// the smallest fast quorum `qf = n − ⌈qc/2⌉ + 1`, which equals `⌈3n/4⌉` for odd n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorums {
    pub n: usize,
    pub classic: usize,
    pub fast: usize,
}

impl Quorums {
    /// The sizes for `n` acceptors (at least 1).
    pub fn new(n: usize) -> Quorums {
        let n = n.max(1);
        let classic = n / 2 + 1;
        let fast = n - classic.div_ceil(2) + 1;
        Quorums { n, classic, fast }
    }
}

/// What one acceptor of a phase-1 quorum said about a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// It has not voted there.
    None,
    /// Its vote of the highest round it voted in.
    Vote(Round, Entry),
    /// It knows the slot chosen with this value.
    Chosen(Entry),
}

/// The value the rule picked for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    pub value: Entry,
    /// A report said the value is already chosen: no round is needed.
    pub chosen: bool,
    /// Whether the rule forced the value (it may have been chosen) rather than leaving the
    /// choice free.
    pub forced: bool,
}

/// Fast Paxos's rule for the value a coordinator proposes in a classic round, given the
/// reports of a set Q of at least a classic quorum of acceptors (Lamport, section 3.3):
/// let k be the highest round any of them voted in and V the values voted in k. If V is
/// empty, any value is safe (a NO-OP here); if V has one value, that one; otherwise k was
/// fast, and a value v must be picked if some fast quorum R could have chosen it, i.e. every
/// member of R ∩ Q voted v in k: at least `qf − (n − |Q|)` members of Q voted v. The quorum
/// condition makes such a v unique. If there is none, the choice is free: `prefer` ranks the
/// candidates (requests not executed or chosen elsewhere first), then the most votes.
pub fn pick(q: &Quorums, reports: &[Report], prefer: impl Fn(&Entry) -> bool) -> Picked {
    if let Some(value) = reports.iter().find_map(|r| match r {
        Report::Chosen(e) => Some(e),
        _ => None,
    }) {
        return Picked {
            value: value.clone(),
            chosen: true,
            forced: true,
        };
    }
    let Some(k) = reports
        .iter()
        .filter_map(|r| match r {
            Report::Vote(round, _) => Some(*round),
            _ => None,
        })
        .max()
    else {
        return Picked {
            value: Entry::NoOp,
            chosen: false,
            forced: false,
        };
    };
    // Values voted in round k, with their counts, in first-seen order.
    let mut values: Vec<(&Entry, usize)> = Vec::new();
    for r in reports {
        if let Report::Vote(round, e) = r {
            if *round == k {
                match values.iter_mut().find(|(v, _)| v.same(e)) {
                    Some((_, c)) => *c += 1,
                    None => values.push((e, 1)),
                }
            }
        }
    }
    if let [(only, _)] = values.as_slice() {
        return Picked {
            value: (*only).clone(),
            chosen: false,
            forced: true,
        };
    }
    let threshold = (q.fast + reports.len()).saturating_sub(q.n).max(1);
    if let Some((v, _)) = values.iter().find(|(_, c)| *c >= threshold) {
        return Picked {
            value: (*v).clone(),
            chosen: false,
            forced: true,
        };
    }
    let best = values
        .iter()
        .max_by(|(a, ca), (b, cb)| {
            prefer(a)
                .cmp(&prefer(b))
                .then(ca.cmp(cb))
                .then_with(|| b.order_key().cmp(&a.order_key()))
        })
        .map(|(v, _)| (*v).clone())
        .unwrap_or(Entry::NoOp);
    Picked {
        value: best,
        chosen: false,
        forced: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(client: u64) -> Entry {
        Entry::request(client, 1, "127.0.0.1:1".parse().unwrap(), b"op")
    }

    #[test]
    fn quorum_sizes_follow_the_paper() {
        let sizes: Vec<(usize, usize, usize)> = [1, 3, 5, 7, 9, 11, 13]
            .iter()
            .map(|&n| {
                let q = Quorums::new(n);
                (n, q.classic, q.fast)
            })
            .collect();
        assert_eq!(
            sizes,
            vec![
                (1, 1, 1),
                (3, 2, 3),
                (5, 3, 4),
                (7, 4, 6),
                (9, 5, 7),
                (11, 6, 9),
                (13, 7, 10)
            ]
        );
        for n in (1..=63).step_by(2) {
            let q = Quorums::new(n);
            assert!(2 * q.classic > n);
            assert!(q.classic + 2 * q.fast > 2 * n, "n={n}");
            assert!(
                q.classic + 2 * (q.fast - 1) <= 2 * n,
                "qf minimal for n={n}"
            );
            assert_eq!(q.fast, (3 * n).div_ceil(4), "n={n}");
        }
    }

    #[test]
    fn the_rule_keeps_a_value_a_fast_quorum_may_have_chosen() {
        let q = Quorums::new(5); // qc 3, qf 4
        let (x, y) = (req(1), req(2));
        let f = Round::fast(3);
        // Q = 3 reporters: two voted x, one y. A fast quorum of 4 holding both x-voters and
        // the 2 silent acceptors could have chosen x: x is forced.
        let reports = [
            Report::Vote(f, x.clone()),
            Report::Vote(f, y.clone()),
            Report::Vote(f, x.clone()),
        ];
        let p = pick(&q, &reports, |_| true);
        assert_eq!((p.value.clone(), p.forced), (x.clone(), true));
        // With all 5 reporting 2/2/1, no value can have 4 votes: free, most votes first.
        let reports = [
            Report::Vote(f, x.clone()),
            Report::Vote(f, y.clone()),
            Report::Vote(f, x.clone()),
            Report::Vote(f, y.clone()),
            Report::None,
        ];
        let p = pick(&q, &reports, |e| e.same(&y));
        assert_eq!((p.value, p.forced), (y.clone(), false));
        // A classic vote of a later round wins over fast ones.
        let reports = [
            Report::Vote(f, x.clone()),
            Report::Vote(Round::classic(3), y.clone()),
            Report::None,
        ];
        assert_eq!(pick(&q, &reports, |_| true).value, y);
        // Nothing voted: a NO-OP; something chosen: that.
        assert_eq!(
            pick(&q, &[Report::None, Report::None, Report::None], |_| true).value,
            Entry::NoOp
        );
        let p = pick(&q, &[Report::None, Report::Chosen(x.clone())], |_| true);
        assert!(p.chosen);
        assert_eq!(p.value, x);
    }

    #[test]
    fn rounds_order_by_view_then_fast_before_classic() {
        assert!(Round::classic(1) > Round::fast(1));
        assert!(Round::fast(2) > Round::classic(1));
        assert_eq!(
            Round::fast(2).cmp(&Round::fast(2)),
            std::cmp::Ordering::Equal
        );
    }

    #[test]
    fn entries_round_trip_and_reject_bad_kinds() {
        let mut buf = [0u8; 128];
        for e in [Entry::NoOp, req(7)] {
            let mut w = Writer::new(&mut buf);
            e.encode(&mut w).unwrap();
            let n = w.len();
            assert_eq!(n, e.encoded_len());
            let mut r = Reader::new(&buf[..n]);
            assert_eq!(Entry::decode(&mut r).unwrap(), e);
            for len in 0..n {
                assert!(Entry::decode(&mut Reader::new(&buf[..len])).is_err());
            }
        }
        assert!(Entry::decode(&mut Reader::new(&[9])).is_err());
    }
}
