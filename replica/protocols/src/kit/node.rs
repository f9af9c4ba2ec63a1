//! The glue around a replica's own logic that every protocol's `Node` and `Replica` impls
//! would otherwise write again: decoding a datagram and telling another replica from a
//! stranger (counting what is dropped, DESIGN rule 7), sending a blob chunk by chunk, and
//! the counters a replica reports.

use std::net::SocketAddrV4;

use crate::ReplicaStats;
use crate::codec::CodecError;
use crate::kit::blob::OutgoingBlob;

/// A datagram's message, or `None` when it does not decode (counted as malformed).
pub(crate) fn decoded<M>(message: Result<M, CodecError>, stats: &mut ReplicaStats) -> Option<M> {
    match message {
        Ok(m) => Some(m),
        Err(_) => {
            stats.malformed += 1;
            None
        }
    }
}

/// The index of the replica at `from` among `replicas` (the cluster's addresses, by
/// index), if it is another replica than `me`; anything else, a client or this replica's
/// own address, is counted as a stranger.
pub(crate) fn peer<'a>(
    replicas: impl IntoIterator<Item = &'a SocketAddrV4>,
    me: usize,
    from: SocketAddrV4,
    stats: &mut ReplicaStats,
) -> Option<usize> {
    match replicas.into_iter().position(|a| *a == from) {
        Some(sender) if sender != me => Some(sender),
        _ => {
            stats.stranger += 1;
            None
        }
    }
}

/// The chunks of `blob`, in order, each as the blob (shared, not copied) and its index:
/// what a replica queues to send the blob.
pub(crate) fn chunks<K: Copy, V: Copy>(
    blob: &OutgoingBlob<K, V>,
) -> impl Iterator<Item = (OutgoingBlob<K, V>, u32)> + '_ {
    (0..blob.count()).map(move |index| (blob.clone(), index))
}

/// A replica's counters as it reports them: its own, with the operations its state machine
/// executed.
pub(crate) fn reported(stats: ReplicaStats, executed: u64) -> ReplicaStats {
    ReplicaStats { executed, ..stats }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    fn addr(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn only_another_replica_is_a_peer() {
        let replicas = [addr(1), addr(2), addr(3)];
        let mut stats = ReplicaStats::default();
        assert_eq!(peer(&replicas, 0, addr(2), &mut stats), Some(1));
        assert_eq!(peer(&replicas, 0, addr(1), &mut stats), None, "itself");
        assert_eq!(peer(&replicas, 0, addr(9), &mut stats), None, "a client");
        assert_eq!(stats.stranger, 2);
    }

    #[test]
    fn a_datagram_that_does_not_decode_is_counted() {
        let mut stats = ReplicaStats::default();
        assert_eq!(decoded(Ok::<u8, CodecError>(7), &mut stats), Some(7));
        let bad: Result<u8, CodecError> = Err(crate::codec::invalid("test", 0));
        assert_eq!(decoded(bad, &mut stats), None);
        assert_eq!(stats.malformed, 1);
    }

    #[test]
    fn a_blob_goes_out_chunk_by_chunk_sharing_its_bytes() {
        let blob = OutgoingBlob {
            kind: 0u8,
            view: 1u64,
            id: 2,
            data: Arc::new(vec![0; crate::kit::blob::CHUNK_DATA * 2 + 1]),
        };
        let out: Vec<_> = chunks(&blob).collect();
        assert_eq!(out.iter().map(|(_, i)| *i).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(out.iter().all(|(b, _)| Arc::ptr_eq(&b.data, &blob.data)));
    }
}
