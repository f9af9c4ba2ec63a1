//! The pieces every protocol's images (the payloads of view-change, START-VIEW and
//! state-transfer blobs, in each protocol's `images.rs`) encode the same way: an image is
//! encoded once into a vector of its exact size, an optional snapshot is a flag and the
//! bytes, a table of recovery epochs is a count and the epochs, and an image that does not
//! decode is counted as malformed where it arrives.

use crate::ReplicaStats;
use crate::codec::{CodecError, Reader, Writer, invalid};

/// Encodes with `f` into a vector of exactly the needed size (`size` is an upper bound).
pub(crate) fn encode_to_vec(
    size: usize,
    f: impl FnOnce(&mut Writer<'_>) -> Result<(), CodecError>,
) -> Vec<u8> {
    let mut buf = vec![0u8; size];
    let mut w = Writer::new(&mut buf);
    // The bound is computed from the same fields; failing here is a bug, and an empty blob
    // is then refused by the decoder rather than trusted.
    let len = f(&mut w).map_or(0, |()| w.len());
    buf.truncate(len);
    buf
}

/// An optional byte string (the snapshot an image carries when the receiver needs one): a
/// flag, then the bytes.
pub(crate) fn put_optional_bytes(
    w: &mut Writer<'_>,
    bytes: Option<&[u8]>,
) -> Result<(), CodecError> {
    match bytes {
        Some(b) => {
            w.bool(true)?;
            w.bytes(b)
        }
        None => w.bool(false),
    }
}

pub(crate) fn get_optional_bytes(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, CodecError> {
    Ok(if r.bool()? {
        Some(r.bytes()?.to_vec())
    } else {
        None
    })
}

/// A table of recovery epochs, one per replica.
pub(crate) fn put_epochs(w: &mut Writer<'_>, epochs: &[u64]) -> Result<(), CodecError> {
    w.count(epochs.len())?;
    epochs.iter().try_for_each(|e| w.u64(*e))
}

/// Reads a table of recovery epochs naming at most `max` replicas.
pub(crate) fn get_epochs(r: &mut Reader<'_>, max: usize) -> Result<Vec<u64>, CodecError> {
    let n = r.count(8)?;
    if n > max {
        return Err(invalid("epoch count", n as u64));
    }
    (0..n).map(|_| r.u64()).collect()
}

/// The image `bytes` encode, or `None` with the blob counted as malformed.
pub(crate) fn decode_or_count<I>(
    bytes: &[u8],
    stats: &mut ReplicaStats,
    decode: impl FnOnce(&[u8]) -> Result<I, CodecError>,
) -> Option<I> {
    let image = decode(bytes).ok();
    if image.is_none() {
        stats.malformed += 1;
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_bytes_and_epochs_round_trip_and_limits_hold() {
        let bytes = encode_to_vec(64, |w| {
            put_optional_bytes(w, Some(b"snap"))?;
            put_optional_bytes(w, None)?;
            put_epochs(w, &[0, 3, 1])
        });
        let mut r = Reader::new(&bytes);
        assert_eq!(get_optional_bytes(&mut r).unwrap(), Some(b"snap".to_vec()));
        assert_eq!(get_optional_bytes(&mut r).unwrap(), None);
        assert_eq!(
            get_epochs(&mut Reader::new(&bytes[10..]), 3).unwrap(),
            [0, 3, 1]
        );
        assert!(get_epochs(&mut Reader::new(&bytes[10..]), 2).is_err());
        // A bound too small is a bug: the result is empty, never a truncated encoding.
        assert!(encode_to_vec(4, |w| put_epochs(w, &[1])).is_empty());
        let mut stats = ReplicaStats::default();
        assert_eq!(
            decode_or_count(&[], &mut stats, |b| Reader::new(b).u64()),
            None
        );
        assert_eq!(stats.malformed, 1);
    }
}
