//! The null application: every operation is a no-op with an empty result, whatever its
//! bytes. With it a benchmark measures the replication protocol alone, as the original C++
//! NOPaxos implementation measured its protocols, instead of protocol plus key-value store.

use super::App;
use crate::codec::{CodecError, Reader};

/// No state; executes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NullApp;

impl App for NullApp {
    fn execute(&mut self, _op: &[u8], _result: &mut Vec<u8>) {}

    /// An empty section, so a snapshot has the same framing as every other app's.
    fn snapshot(&self, out: &mut Vec<u8>) {
        super::write_section(out, |_| {});
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), CodecError> {
        let mut r = Reader::new(snapshot);
        let section = r.bytes()?;
        r.finish()?;
        if !section.is_empty() {
            // A key-value store's snapshot sent to a null-app replica: the cluster mixes apps.
            return Err(CodecError::Trailing(section.len()));
        }
        Ok(())
    }

    /// Every null app holds the same (empty) state.
    fn digest(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::StateMachine;
    use crate::app::kv::{KvOp, KvStore};

    #[test]
    fn any_op_is_a_no_op_with_an_empty_result() {
        let mut m = StateMachine::new(NullApp);
        let put = KvOp::Put {
            key: b"k",
            value: b"v",
        }
        .to_bytes();
        for (request, op) in [&[][..], &put, b"\xff\x00garbage"].into_iter().enumerate() {
            match m.execute(7, request as u64 + 1, op) {
                crate::app::Execution::Executed(result) => assert!(result.is_empty()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(m.executed(), 3);
    }

    #[test]
    fn snapshots_round_trip_and_foreign_ones_are_refused() {
        let mut snap = Vec::new();
        NullApp.snapshot(&mut snap);
        assert_eq!(snap, [0, 0, 0, 0]);
        assert_eq!(NullApp.restore(&snap), Ok(()));
        let mut kv = KvStore::default();
        let mut out = Vec::new();
        kv.execute(
            &KvOp::Put {
                key: b"k",
                value: b"v",
            }
            .to_bytes(),
            &mut out,
        );
        let mut foreign = Vec::new();
        kv.snapshot(&mut foreign);
        assert!(NullApp.restore(&foreign).is_err());
        for len in 0..snap.len() {
            assert!(NullApp.restore(&snap[..len]).is_err(), "truncated at {len}");
        }
    }
}
