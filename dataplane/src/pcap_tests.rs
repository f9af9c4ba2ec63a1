use std::io::{self, Read};

use super::*;

/// Little-endian, microsecond timestamps, snaplen 65535, Ethernet: three records, the
/// second empty. Written out by hand from the format specification.
const LE_MICROS: &[u8] = &[
    0xd4, 0xc3, 0xb2, 0xa1, // magic
    0x02, 0x00, 0x04, 0x00, // version 2.4
    0x00, 0x00, 0x00, 0x00, // time zone
    0x00, 0x00, 0x00, 0x00, // accuracy
    0xff, 0xff, 0x00, 0x00, // snaplen 65535
    0x01, 0x00, 0x00, 0x00, // Ethernet
    // record 0
    0x00, 0xf1, 0x53, 0x65, // ts_sec 1_700_000_000
    0x40, 0xe2, 0x01, 0x00, // 123_456 us
    0x04, 0x00, 0x00, 0x00, // incl_len 4
    0x3c, 0x00, 0x00, 0x00, // orig_len 60
    0xde, 0xad, 0xbe, 0xef, //
    // record 1
    0x01, 0xf1, 0x53, 0x65, // ts_sec 1_700_000_001
    0x3f, 0x42, 0x0f, 0x00, // 999_999 us
    0x00, 0x00, 0x00, 0x00, // incl_len 0
    0x00, 0x00, 0x00, 0x00, // orig_len 0
    // record 2
    0x00, 0x00, 0x00, 0x00, // ts_sec 0
    0x00, 0x00, 0x00, 0x00, // 0 us
    0x03, 0x00, 0x00, 0x00, // incl_len 3
    0x03, 0x00, 0x00, 0x00, // orig_len 3
    0x01, 0x02, 0x03,
];

fn le_micros_records() -> Records {
    vec![
        (
            RecordHeader {
                ts_sec: 1_700_000_000,
                ts_nanos: 123_456_000,
                orig_len: 60,
            },
            vec![0xde, 0xad, 0xbe, 0xef],
        ),
        (
            RecordHeader {
                ts_sec: 1_700_000_001,
                ts_nanos: 999_999_000,
                orig_len: 0,
            },
            vec![],
        ),
        (
            RecordHeader {
                ts_sec: 0,
                ts_nanos: 0,
                orig_len: 3,
            },
            vec![1, 2, 3],
        ),
    ]
}

/// Big-endian, nanosecond timestamps, snaplen 256, link type 1 with a 4-byte FCS flagged.
const BE_NANOS: &[u8] = &[
    0xa1, 0xb2, 0x3c, 0x4d, // magic
    0x00, 0x02, 0x00, 0x04, // version 2.4
    0x00, 0x00, 0x00, 0x00, // time zone
    0x00, 0x00, 0x00, 0x00, // accuracy
    0x00, 0x00, 0x01, 0x00, // snaplen 256
    0x24, 0x00, 0x00, 0x01, // FCS length 2 x 16 bits present, Ethernet
    // record 0
    0x01, 0x02, 0x03, 0x04, // ts_sec 0x01020304
    0x3b, 0x9a, 0xc9, 0xff, // 999_999_999 ns
    0x00, 0x00, 0x00, 0x05, // incl_len 5
    0x00, 0x00, 0x05, 0xdc, // orig_len 1500
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, //
    // record 1
    0xff, 0xff, 0xff, 0xff, // ts_sec u32::MAX
    0x00, 0x00, 0x00, 0x01, // 1 ns
    0x00, 0x00, 0x00, 0x00, // incl_len 0
    0x00, 0x00, 0x00, 0x40, // orig_len 64
];

fn be_nanos_records() -> Records {
    vec![
        (
            RecordHeader {
                ts_sec: 0x0102_0304,
                ts_nanos: 999_999_999,
                orig_len: 1500,
            },
            vec![0x0a, 0x0b, 0x0c, 0x0d, 0x0e],
        ),
        (
            RecordHeader {
                ts_sec: u32::MAX,
                ts_nanos: 1,
                orig_len: 64,
            },
            vec![],
        ),
    ]
}

/// Big-endian, microsecond timestamps, snaplen 1514, one record.
const BE_MICROS: &[u8] = &[
    0xa1, 0xb2, 0xc3, 0xd4, // magic
    0x00, 0x02, 0x00, 0x04, // version 2.4
    0x00, 0x00, 0x00, 0x00, // time zone
    0x00, 0x00, 0x00, 0x00, // accuracy
    0x00, 0x00, 0x05, 0xea, // snaplen 1514
    0x00, 0x00, 0x00, 0x01, // Ethernet
    0x00, 0x00, 0x00, 0x07, // ts_sec 7
    0x00, 0x00, 0x00, 0x01, // 1 us
    0x00, 0x00, 0x00, 0x02, // incl_len 2
    0x00, 0x00, 0x00, 0x02, // orig_len 2
    0xaa, 0xbb,
];

type Records = Vec<(RecordHeader, Vec<u8>)>;

/// Reads `data` to its end; the records before the end, and how it ended.
fn read_all(data: &[u8]) -> Result<(Records, Result<(), PcapError>), PcapError> {
    let mut reader = PcapReader::new(data)?;
    let mut records = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.next_record(&mut buf) {
            Ok(Some(header)) => records.push((header, buf.clone())),
            Ok(None) => return Ok((records, Ok(()))),
            Err(e) => return Ok((records, Err(e))),
        }
    }
}

fn read_valid(data: &[u8]) -> Records {
    match read_all(data) {
        Ok((records, Ok(()))) => records,
        Ok((_, Err(e))) | Err(e) => panic!("valid capture rejected: {e}"),
    }
}

/// A little-endian header with the given magic, version and snaplen, for error cases.
fn le_header(magic: u32, major: u16, minor: u16, snaplen: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&magic.to_le_bytes());
    h.extend_from_slice(&major.to_le_bytes());
    h.extend_from_slice(&minor.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

fn le_record(ts_sec: u32, frac: u32, incl_len: u32, orig_len: u32) -> Vec<u8> {
    [ts_sec, frac, incl_len, orig_len]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

#[test]
fn reads_hand_written_little_endian_microsecond_file() {
    let reader = PcapReader::new(LE_MICROS).unwrap();
    assert_eq!(reader.link_type(), LINKTYPE_ETHERNET);
    assert_eq!(reader.fcs_len(), None);
    assert_eq!(reader.snaplen(), 65535);
    assert!(!reader.nanosecond());
    assert_eq!(read_valid(LE_MICROS), le_micros_records());
}

#[test]
fn reads_hand_written_big_endian_files() {
    let reader = PcapReader::new(BE_NANOS).unwrap();
    assert_eq!(reader.link_type(), LINKTYPE_ETHERNET);
    assert_eq!(reader.fcs_len(), Some(4));
    assert_eq!(reader.snaplen(), 256);
    assert!(reader.nanosecond());
    assert_eq!(read_valid(BE_NANOS), be_nanos_records());

    let reader = PcapReader::new(BE_MICROS).unwrap();
    assert_eq!(reader.snaplen(), 1514);
    assert!(!reader.nanosecond());
    assert_eq!(
        read_valid(BE_MICROS),
        vec![(
            RecordHeader {
                ts_sec: 7,
                ts_nanos: 1000,
                orig_len: 2
            },
            vec![0xaa, 0xbb]
        )]
    );
}

#[test]
fn writer_emits_the_specified_bytes() {
    let mut writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 1514).unwrap();
    let header = RecordHeader {
        ts_sec: 0x0102_0304,
        ts_nanos: 999_999_999,
        orig_len: 60,
    };
    writer.write_record(header, &[0xab, 0xcd]).unwrap();
    writer.flush().unwrap();
    let expected: &[u8] = &[
        0x4d, 0x3c, 0xb2, 0xa1, // nanosecond magic, little-endian
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0, 0, 0, 0, 0, 0, 0, 0, // time zone, accuracy
        0xea, 0x05, 0x00, 0x00, // snaplen 1514
        0x01, 0x00, 0x00, 0x00, // Ethernet
        0x04, 0x03, 0x02, 0x01, // ts_sec
        0xff, 0xc9, 0x9a, 0x3b, // ns
        0x02, 0x00, 0x00, 0x00, // incl_len
        0x3c, 0x00, 0x00, 0x00, // orig_len
        0xab, 0xcd,
    ];
    assert_eq!(writer.into_inner(), expected);
}

#[test]
fn copying_hand_written_files_through_the_writer_keeps_every_record() {
    for (input, expected) in [
        (LE_MICROS, le_micros_records()),
        (BE_NANOS, be_nanos_records()),
    ] {
        let mut reader = PcapReader::new(input).unwrap();
        let mut writer = PcapWriter::new(Vec::new(), reader.link_type(), reader.snaplen()).unwrap();
        let mut buf = Vec::new();
        while let Some(header) = reader.next_record(&mut buf).unwrap() {
            writer.write_record(header, &buf).unwrap();
        }
        let out = writer.into_inner();
        let copy = PcapReader::new(out.as_slice()).unwrap();
        assert!(copy.nanosecond());
        assert_eq!(copy.snaplen(), reader.snaplen());
        assert_eq!(read_valid(&out), expected);
    }
}

#[test]
fn round_trip_of_several_records_including_extremes() {
    let snaplen = 2000;
    let records: Vec<(RecordHeader, Vec<u8>)> = (0..6u32)
        .map(|i| {
            let len = [0usize, 1, 14, 60, 1514, 2000][i as usize];
            let header = RecordHeader {
                ts_sec: [0, 1, 1_700_000_000, u32::MAX, 42, 43][i as usize],
                ts_nanos: [0, 1, 500_000_000, 999_999_999, 7, 8][i as usize],
                orig_len: len as u32 + i,
            };
            (header, (0..len).map(|b| (b as u8) ^ (i as u8)).collect())
        })
        .collect();
    let mut writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, snaplen).unwrap();
    for (header, data) in &records {
        writer.write_record(*header, data).unwrap();
    }
    let out = writer.into_inner();
    assert_eq!(read_valid(&out), records);
}

#[test]
fn a_record_of_exactly_the_cap_is_accepted() {
    let len = MAX_RECORD_LEN as usize;
    let mut writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, u32::MAX).unwrap();
    let header = RecordHeader {
        ts_sec: 1,
        ts_nanos: 2,
        orig_len: MAX_RECORD_LEN,
    };
    writer.write_record(header, &vec![0x5a; len]).unwrap();
    let records = read_valid(&writer.into_inner());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].0, header);
    assert_eq!(records[0].1.len(), len);
}

#[test]
fn reader_handles_short_reads_and_interruptions() {
    /// Hands out one byte per call and interrupts every other call.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(1);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }
    let mut reader = PcapReader::new(Trickle {
        data: BE_NANOS,
        interrupt: false,
    })
    .unwrap();
    let mut buf = Vec::new();
    let mut records = Vec::new();
    while let Some(header) = reader.next_record(&mut buf).unwrap() {
        records.push((header, buf.clone()));
    }
    assert_eq!(records, be_nanos_records());
}

#[test]
fn not_pcap_names_the_magic_and_points_pcapng_users_to_editcap() {
    let mut pcapng = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a,
    ];
    pcapng.resize(64, 0);
    let err = PcapReader::new(pcapng.as_slice()).unwrap_err();
    assert!(matches!(
        err,
        PcapError::NotPcap {
            magic: [0x0a, 0x0d, 0x0d, 0x0a]
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("a pcapng file"), "{msg}");
    assert!(msg.contains("editcap -F pcap"), "{msg}");

    // Even when shorter than a global header, a wrong magic is "not pcap".
    let err = PcapReader::new(&b"hello"[..]).unwrap_err();
    assert!(matches!(err, PcapError::NotPcap { magic } if &magic == b"hell"));
    assert!(!err.to_string().contains("a pcapng file"));

    // The magic with its middle bytes swapped is not accepted in either order.
    let bad = le_header(0xc3d4_a1b2, 2, 4, 65535);
    assert!(matches!(
        PcapReader::new(bad.as_slice()),
        Err(PcapError::NotPcap { .. })
    ));
}

#[test]
fn unsupported_version_is_rejected_with_the_version_found() {
    for (major, minor) in [(1, 0), (2, 3), (2, 5), (3, 4), (0x0400, 0x0200)] {
        let data = le_header(0xa1b2_c3d4, major, minor, 65535);
        match PcapReader::new(data.as_slice()) {
            Err(PcapError::UnsupportedVersion { major: m, minor: n }) => {
                assert_eq!((m, n), (major, minor));
            }
            other => panic!("{major}.{minor}: expected UnsupportedVersion, got {other:?}"),
        }
    }
    // Big-endian version fields are read big-endian: 2.4, not 0x200.0x400.
    let mut be = BE_MICROS[..24].to_vec();
    be[7] = 3;
    assert!(matches!(
        PcapReader::new(be.as_slice()),
        Err(PcapError::UnsupportedVersion { major: 2, minor: 3 })
    ));
}

#[test]
fn truncated_global_header_reports_bytes_present() {
    for input in [LE_MICROS, BE_NANOS, BE_MICROS] {
        for len in 0..24 {
            match PcapReader::new(&input[..len]) {
                Err(PcapError::TruncatedHeader { present }) => assert_eq!(present, len),
                other => panic!("length {len}: expected TruncatedHeader, got {other:?}"),
            }
        }
    }
}

#[test]
fn truncated_record_reports_index_offset_and_sizes() {
    // Cut inside record 2's data: 24 + (16 + 4) + 16 = 60 is where record 2 starts.
    let cut = &LE_MICROS[..LE_MICROS.len() - 1];
    let (records, end) = read_all(cut).unwrap();
    assert_eq!(records, le_micros_records()[..2]);
    match end {
        Err(PcapError::TruncatedRecord {
            index,
            offset,
            wanted,
            present,
        }) => assert_eq!((index, offset, wanted, present), (2, 60, 19, 18)),
        other => panic!("expected TruncatedRecord, got {other:?}"),
    }
    // Cut inside record 1's header.
    let (records, end) = read_all(&LE_MICROS[..24 + 20 + 5]).unwrap();
    assert_eq!(records.len(), 1);
    assert!(matches!(
        end,
        Err(PcapError::TruncatedRecord {
            index: 1,
            offset: 44,
            wanted: 16,
            present: 5
        })
    ));
}

#[test]
fn truncation_at_every_length_yields_a_prefix_then_a_clean_end_or_an_error() {
    let mut writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 100).unwrap();
    for i in 0..5u32 {
        let data: Vec<u8> = (0..(i * 7) as u8).collect();
        let header = RecordHeader {
            ts_sec: i,
            ts_nanos: i * 1000,
            orig_len: i * 7,
        };
        writer.write_record(header, &data).unwrap();
    }
    let written = writer.into_inner();
    for input in [LE_MICROS, BE_NANOS, BE_MICROS, written.as_slice()] {
        let full = read_valid(input);
        // Byte offsets at which each record ends (the header ends at 24).
        let mut boundaries = vec![24usize];
        for (_, data) in &full {
            boundaries.push(boundaries.last().unwrap() + 16 + data.len());
        }
        assert_eq!(*boundaries.last().unwrap(), input.len());
        for len in 0..=input.len() {
            let cut = &input[..len];
            decode_all(cut);
            let (records, end) = match read_all(cut) {
                Ok(r) => r,
                Err(PcapError::TruncatedHeader { present }) if len < 24 => {
                    assert_eq!(present, len);
                    continue;
                }
                Err(e) => panic!("length {len}: header error {e}"),
            };
            let complete = boundaries.iter().filter(|&&b| b <= len).count() - 1;
            assert_eq!(records, full[..complete], "length {len}");
            match end {
                Ok(()) => assert_eq!(boundaries[complete], len, "clean end mid-record"),
                Err(PcapError::TruncatedRecord {
                    index,
                    offset,
                    present,
                    ..
                }) => {
                    assert_eq!(index as usize, complete);
                    assert_eq!(offset as usize, boundaries[complete]);
                    assert_eq!(present as usize, len - boundaries[complete]);
                }
                Err(e) => panic!("length {len}: unexpected error {e}"),
            }
        }
    }
}

#[test]
fn records_longer_than_snaplen_or_cap_are_rejected_before_allocating() {
    // incl_len 0xffffffff under a snaplen of 0xffffffff: only the cap stops it.
    let mut data = le_header(0xa1b2_3c4d, 2, 4, u32::MAX);
    data.extend(le_record(1, 2, u32::MAX, u32::MAX));
    let mut reader = PcapReader::new(data.as_slice()).unwrap();
    let mut buf = Vec::new();
    match reader.next_record(&mut buf) {
        Err(PcapError::RecordTooLarge {
            index: 0,
            offset: 24,
            incl_len,
            snaplen,
        }) => assert_eq!((incl_len, snaplen), (u64::from(u32::MAX), u32::MAX)),
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(
        buf.capacity(),
        0,
        "the claimed length must not be allocated"
    );

    // One past the cap.
    let mut data = le_header(0xa1b2_3c4d, 2, 4, u32::MAX);
    data.extend(le_record(1, 2, MAX_RECORD_LEN + 1, 0));
    assert!(matches!(
        read_all(&data).unwrap().1,
        Err(PcapError::RecordTooLarge { incl_len, .. }) if incl_len == u64::from(MAX_RECORD_LEN) + 1
    ));

    // One past the snaplen, after a record of exactly the snaplen.
    let mut data = le_header(0xa1b2_3c4d, 2, 4, 100);
    data.extend(le_record(1, 2, 100, 100));
    data.extend([0x11; 100]);
    data.extend(le_record(1, 2, 101, 101));
    data.extend([0x22; 101]);
    let (records, end) = read_all(&data).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1, [0x11; 100]);
    assert!(matches!(
        end,
        Err(PcapError::RecordTooLarge {
            index: 1,
            offset: 140,
            incl_len: 101,
            snaplen: 100
        })
    ));
}

#[test]
fn timestamp_fractions_out_of_range_are_rejected() {
    for (magic, nanosecond, limit) in [
        (0xa1b2_c3d4, false, 1_000_000),
        (0xa1b2_3c4d, true, 1_000_000_000),
    ] {
        let mut data = le_header(magic, 2, 4, 65535);
        data.extend(le_record(5, limit - 1, 0, 0));
        data.extend(le_record(6, limit, 0, 0));
        let (records, end) = read_all(&data).unwrap();
        let expected_nanos = if nanosecond {
            limit - 1
        } else {
            (limit - 1) * 1000
        };
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0.ts_nanos, expected_nanos);
        match end {
            Err(PcapError::FractionOutOfRange {
                index: 1,
                offset: 40,
                fraction,
                nanosecond: n,
            }) => assert_eq!((fraction, n), (limit, nanosecond)),
            other => panic!("expected FractionOutOfRange, got {other:?}"),
        }
    }
}

#[test]
fn io_errors_are_reported_as_io() {
    /// Serves its bytes, then fails instead of reporting the end of the file.
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let is_fire = |e: &PcapError| matches!(e, PcapError::Io(e) if e.to_string() == "disk on fire");
    assert!(is_fire(&PcapReader::new(Failing(&[])).unwrap_err()));
    assert!(is_fire(
        &PcapReader::new(Failing(&LE_MICROS[..10])).unwrap_err()
    ));

    // The header and record 0 arrive, then the disk fails: an error, not a clean end.
    let mut reader = PcapReader::new(Failing(&LE_MICROS[..44])).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        reader.next_record(&mut buf).unwrap(),
        Some(le_micros_records()[0].0)
    );
    assert!(is_fire(&reader.next_record(&mut buf).unwrap_err()));

    // Failure in the middle of a record's data.
    let mut reader = PcapReader::new(Failing(&LE_MICROS[..42])).unwrap();
    assert!(is_fire(&reader.next_record(&mut buf).unwrap_err()));
    assert!(buf.is_empty());
}

#[test]
fn after_an_error_the_reader_stays_ended() {
    // Record 0 is too large; its bytes must never be read as record 1's header.
    let mut data = le_header(0xa1b2_c3d4, 2, 4, 8);
    data.extend(le_record(1, 0, 16, 16));
    data.extend(le_record(2, 0, 0, 0));
    let mut reader = PcapReader::new(data.as_slice()).unwrap();
    let mut buf = vec![1, 2, 3];
    assert!(matches!(
        reader.next_record(&mut buf),
        Err(PcapError::RecordTooLarge { .. })
    ));
    assert!(buf.is_empty());
    assert!(matches!(reader.next_record(&mut buf), Ok(None)));
    assert!(matches!(reader.next_record(&mut buf), Ok(None)));
}

#[test]
fn writer_refuses_records_the_reader_would_reject_and_writes_nothing_of_them() {
    let mut writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 10).unwrap();
    let ok = RecordHeader {
        ts_sec: 1,
        ts_nanos: 2,
        orig_len: 10,
    };
    writer.write_record(ok, &[0; 10]).unwrap();
    assert!(matches!(
        writer.write_record(ok, &[0; 11]),
        Err(PcapError::RecordTooLarge {
            index: 1,
            offset: 50,
            incl_len: 11,
            snaplen: 10
        })
    ));
    let late = RecordHeader {
        ts_nanos: 1_000_000_000,
        ..ok
    };
    assert!(matches!(
        writer.write_record(late, &[0; 1]),
        Err(PcapError::FractionOutOfRange {
            fraction: 1_000_000_000,
            nanosecond: true,
            ..
        })
    ));
    let mut big = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, u32::MAX).unwrap();
    assert!(matches!(
        big.write_record(ok, &vec![0; MAX_RECORD_LEN as usize + 1]),
        Err(PcapError::RecordTooLarge { .. })
    ));
    assert_eq!(big.into_inner().len(), 24);
    let out = writer.into_inner();
    assert_eq!(out.len(), 24 + 16 + 10);
    assert_eq!(read_valid(&out), vec![(ok, vec![0; 10])]);
}

#[test]
fn error_messages_name_the_problem() {
    let cases: Vec<(PcapError, &[&str])> = vec![
        (
            PcapError::UnsupportedVersion { major: 2, minor: 3 },
            &["2.3", "2.4"],
        ),
        (PcapError::TruncatedHeader { present: 7 }, &["24", "7"]),
        (
            PcapError::TruncatedRecord {
                index: 3,
                offset: 99,
                wanted: 60,
                present: 20,
            },
            &["record 3", "offset 99", "60", "20"],
        ),
        (
            PcapError::RecordTooLarge {
                index: 0,
                offset: 24,
                incl_len: 4_294_967_295,
                snaplen: 65535,
            },
            &["4294967295", "65535", "262144"],
        ),
        (
            PcapError::FractionOutOfRange {
                index: 1,
                offset: 40,
                fraction: 1_000_000,
                nanosecond: false,
            },
            &["1000000", "microseconds"],
        ),
    ];
    for (err, needles) in cases {
        let msg = err.to_string();
        for needle in needles {
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
    }
}

/// A small deterministic generator, so the test needs no dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_and_mutated_bytes_never_panic_and_records_respect_the_limits() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bases = [LE_MICROS, BE_NANOS, BE_MICROS];
    let mut buf = Vec::new();
    for round in 0..30_000 {
        let len = (xorshift(&mut state) % 160) as usize;
        let data: Vec<u8> = match round % 3 {
            0 => (0..len).map(|_| xorshift(&mut state) as u8).collect(),
            1 => {
                // A valid global header, then noise: reaches the record parser.
                let base = bases[round / 3 % bases.len()];
                let mut d = base[..24].to_vec();
                d.extend((0..len).map(|_| xorshift(&mut state) as u8));
                d
            }
            _ => {
                // A valid file with a few bytes changed, then cut.
                let base = bases[round / 3 % bases.len()];
                let mut d = base.to_vec();
                for _ in 0..(xorshift(&mut state) % 4) {
                    let i = (xorshift(&mut state) as usize) % d.len();
                    d[i] = xorshift(&mut state) as u8;
                }
                d.truncate(len.max(20));
                d
            }
        };
        decode_all(&data);
        let Ok(mut reader) = PcapReader::new(data.as_slice()) else {
            continue;
        };
        let limit = reader.snaplen().min(MAX_RECORD_LEN) as usize;
        let mut count = 0;
        while let Ok(Some(header)) = reader.next_record(&mut buf) {
            assert!(buf.len() <= limit);
            assert!(header.ts_nanos < 1_000_000_000);
            count += 1;
            assert!(24 + count * 16 <= data.len(), "more records than bytes");
        }
        assert!(buf.is_empty());
    }
}
