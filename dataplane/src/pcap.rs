//! Classic libpcap capture files, read and written without libpcap.
//!
//! `sequencer replay` runs the sequencer core offline over the Ethernet frames of a capture and
//! writes the stamped frames out; tests and tools write captures to look at in Wireshark. Only
//! the classic format is supported (24-byte global header, 16-byte record headers; micro- or
//! nanosecond timestamps; either byte order). pcapng is not: `editcap -F pcap` converts.
//!
//! The reader is total: any byte string yields records or a [`PcapError`], never a panic, and
//! it never allocates more than [`MAX_RECORD_LEN`] bytes for a record, whatever length the
//! file claims.

use std::fmt;
use std::io::{self, Read, Write};

/// The link type of Ethernet frames (DLT_EN10MB), the only one the sequencer replays.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The largest record either side accepts, whatever the snaplen says: a bound on what a file
/// can make the reader allocate. It equals libpcap's own maximum snapshot length, so every
/// capture libpcap writes fits.
pub const MAX_RECORD_LEN: u32 = 256 * 1024;

const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const VERSION_MAJOR: u16 = 2;
const VERSION_MINOR: u16 = 4;
/// The upper 16 bits of the link type field carry the FCS length, not the link type.
const LINKTYPE_MASK: u32 = 0x0000_ffff;
const FCS_LEN_PRESENT: u32 = 0x0400_0000;
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Why a capture cannot be read or written. Record positions are given both as a 0-based
/// index and as the byte offset of the record header, for `xxd -s` or a hex editor.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("pcap I/O error: {0}")]
    Io(#[from] io::Error),
    #[error(
        "not a classic pcap file: magic number is {magic:02x?}{}, expected a1 b2 c3 d4 \
         (microsecond timestamps) or a1 b2 3c 4d (nanosecond) in either byte order; pcapng is \
         not supported, convert it with `editcap -F pcap in.pcapng out.pcap`",
        magic_hint(.magic)
    )]
    NotPcap { magic: [u8; 4] },
    #[error(
        "pcap version {major}.{minor} is not supported (only 2.4, which every current writer uses)"
    )]
    UnsupportedVersion { major: u16, minor: u16 },
    #[error("truncated pcap file: the global header needs 24 bytes, only {present} present")]
    TruncatedHeader { present: usize },
    #[error(
        "truncated pcap record {index} at byte offset {offset}: it needs {wanted} bytes \
         (16-byte header and captured data), only {present} present"
    )]
    TruncatedRecord {
        index: u64,
        offset: u64,
        wanted: u64,
        present: u64,
    },
    #[error(
        "pcap record {index} at byte offset {offset} has {incl_len} captured bytes, more than \
         the file's snaplen {snaplen} or the cap of {MAX_RECORD_LEN} bytes"
    )]
    RecordTooLarge {
        index: u64,
        offset: u64,
        incl_len: u64,
        snaplen: u32,
    },
    #[error(
        "pcap record {index} at byte offset {offset}: timestamp fraction {fraction} is out of \
         range ({})",
        fraction_range(*.nanosecond)
    )]
    FractionOutOfRange {
        index: u64,
        offset: u64,
        fraction: u32,
        nanosecond: bool,
    },
}

fn magic_hint(magic: &[u8; 4]) -> &'static str {
    if *magic == PCAPNG_MAGIC {
        " (a pcapng file)"
    } else {
        ""
    }
}

fn fraction_range(nanosecond: bool) -> &'static str {
    if nanosecond {
        "nanoseconds must be below 1000000000"
    } else {
        "microseconds must be below 1000000"
    }
}

/// The metadata of one record; its bytes travel separately so buffers can be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RecordHeader {
    /// Seconds since the Unix epoch (UTC).
    pub ts_sec: u32,
    /// Always nanoseconds (below 1e9), whatever the file's resolution, so callers need not care.
    pub ts_nanos: u32,
    /// The frame's length on the wire; at least the captured length unless the writer lied.
    pub orig_len: u32,
}

/// Reads records one at a time into a caller's buffer, so replaying a capture allocates
/// once, not per frame. Wrap files in a `BufReader`: reads are small.
///
/// After an error or the end of the file, every further [`next_record`](Self::next_record)
/// returns `Ok(None)`: once the framing is lost, nothing that follows can be trusted.
pub struct PcapReader<R: Read> {
    reader: R,
    big_endian: bool,
    nanosecond: bool,
    snaplen: u32,
    link_field: u32,
    index: u64,
    offset: u64,
    done: bool,
}

impl<R: Read> PcapReader<R> {
    /// Reads and validates the global header, so a wrong file fails before any record.
    pub fn new(mut reader: R) -> Result<Self, PcapError> {
        let mut header = [0u8; GLOBAL_HEADER_LEN];
        let present = read_full(&mut reader, &mut header)?;
        // Judge the magic first: a short pcapng or text file is "not pcap", not "truncated".
        if present < 4 {
            return Err(PcapError::TruncatedHeader { present });
        }
        let magic = [header[0], header[1], header[2], header[3]];
        let (big_endian, nanosecond) = match (u32::from_be_bytes(magic), u32::from_le_bytes(magic))
        {
            (MAGIC_MICROS, _) => (true, false),
            (MAGIC_NANOS, _) => (true, true),
            (_, MAGIC_MICROS) => (false, false),
            (_, MAGIC_NANOS) => (false, true),
            _ => return Err(PcapError::NotPcap { magic }),
        };
        if present < GLOBAL_HEADER_LEN {
            return Err(PcapError::TruncatedHeader { present });
        }
        let u16_at = |i: usize| {
            let b = [header[i], header[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let (major, minor) = (u16_at(4), u16_at(6));
        if (major, minor) != (VERSION_MAJOR, VERSION_MINOR) {
            return Err(PcapError::UnsupportedVersion { major, minor });
        }
        // Bytes 8..16 (time zone offset, timestamp accuracy) are always zero in practice and
        // ignored, as libpcap does.
        let fields = Fields::new(&header[16..], big_endian);
        Ok(Self {
            reader,
            big_endian,
            nanosecond,
            snaplen: fields.u32(0),
            link_field: fields.u32(1),
            index: 0,
            offset: GLOBAL_HEADER_LEN as u64,
            done: false,
        })
    }

    /// The link-layer header type of every record ([`LINKTYPE_ETHERNET`] for frames the
    /// sequencer can stamp), without the FCS bits that share its field.
    pub fn link_type(&self) -> u32 {
        self.link_field & LINKTYPE_MASK
    }

    /// How many bytes of frame check sequence end every record, when the file says; frames
    /// with an FCS carry 4 trailing bytes a stamped frame would leave stale.
    pub fn fcs_len(&self) -> Option<u8> {
        // 4 bits in units of 16 bits: at most 30 bytes.
        (self.link_field & FCS_LEN_PRESENT != 0).then_some(((self.link_field >> 28) as u8) * 2)
    }

    /// The longest record the writer promised; a longer one is an error.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Whether the file's timestamps have nanosecond resolution (else microseconds); the
    /// [`RecordHeader`]s are in nanoseconds either way.
    pub fn nanosecond(&self) -> bool {
        self.nanosecond
    }

    /// Reads the next record's captured bytes into `buf` (replacing its contents, reusing its
    /// allocation) and returns its header; `Ok(None)` at a clean end of file. On an error or
    /// the end, `buf` is left empty.
    pub fn next_record(&mut self, buf: &mut Vec<u8>) -> Result<Option<RecordHeader>, PcapError> {
        buf.clear();
        if self.done {
            return Ok(None);
        }
        let result = self.read_record(buf);
        match result {
            Ok(Some(_)) => self.index += 1,
            _ => {
                self.done = true;
                buf.clear();
            }
        }
        result
    }

    fn read_record(&mut self, buf: &mut Vec<u8>) -> Result<Option<RecordHeader>, PcapError> {
        let (index, offset) = (self.index, self.offset);
        let mut header = [0u8; RECORD_HEADER_LEN];
        let present = read_full(&mut self.reader, &mut header)?;
        if present == 0 {
            return Ok(None);
        }
        if present < RECORD_HEADER_LEN {
            return Err(PcapError::TruncatedRecord {
                index,
                offset,
                wanted: RECORD_HEADER_LEN as u64,
                present: present as u64,
            });
        }
        let fields = Fields::new(&header, self.big_endian);
        let (ts_sec, fraction, incl_len, orig_len) =
            (fields.u32(0), fields.u32(1), fields.u32(2), fields.u32(3));
        // Checked before anything is allocated: the length is the file's to choose.
        if incl_len > self.snaplen.min(MAX_RECORD_LEN) {
            return Err(PcapError::RecordTooLarge {
                index,
                offset,
                incl_len: u64::from(incl_len),
                snaplen: self.snaplen,
            });
        }
        let ts_nanos = if self.nanosecond {
            (fraction < 1_000_000_000).then_some(fraction)
        } else {
            (fraction < 1_000_000).then(|| fraction * 1000)
        };
        let Some(ts_nanos) = ts_nanos else {
            return Err(PcapError::FractionOutOfRange {
                index,
                offset,
                fraction,
                nanosecond: self.nanosecond,
            });
        };
        // Bounded by MAX_RECORD_LEN above, so this fits any usize and any sane allocation.
        let len = incl_len as usize;
        buf.resize(len, 0);
        let got = read_full(&mut self.reader, buf)?;
        if got < len {
            return Err(PcapError::TruncatedRecord {
                index,
                offset,
                wanted: (RECORD_HEADER_LEN + len) as u64,
                present: (RECORD_HEADER_LEN + got) as u64,
            });
        }
        self.offset += (RECORD_HEADER_LEN + len) as u64;
        Ok(Some(RecordHeader {
            ts_sec,
            ts_nanos,
            orig_len,
        }))
    }
}

// Debug by hand: the position in the file matters, the reader type need not be Debug.
impl<R: Read> fmt::Debug for PcapReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapReader")
            .field("big_endian", &self.big_endian)
            .field("nanosecond", &self.nanosecond)
            .field("snaplen", &self.snaplen)
            .field("link_field", &format_args!("{:#010x}", self.link_field))
            .field("index", &self.index)
            .field("offset", &self.offset)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Writes captures Wireshark and tcpdump open: little-endian, nanosecond timestamps, version
/// 2.4. Wrap files in a `BufWriter`: each record is two small writes.
///
/// A record the reader would reject is refused before any byte of it is written, so the
/// output stays readable; after an I/O error it may end in a partial record.
pub struct PcapWriter<W: Write> {
    writer: W,
    snaplen: u32,
    index: u64,
    offset: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header. `snaplen` is the longest record to be written; records are
    /// also capped at [`MAX_RECORD_LEN`], which makes a good snaplen when unsure.
    pub fn new(mut writer: W, link_type: u32, snaplen: u32) -> Result<Self, PcapError> {
        let mut header = [0u8; GLOBAL_HEADER_LEN];
        header[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        header[4..6].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
        header[6..8].copy_from_slice(&VERSION_MINOR.to_le_bytes());
        // 8..16: time zone offset and timestamp accuracy, zero as everyone writes them.
        header[16..20].copy_from_slice(&snaplen.to_le_bytes());
        header[20..24].copy_from_slice(&link_type.to_le_bytes());
        writer.write_all(&header)?;
        Ok(Self {
            writer,
            snaplen,
            index: 0,
            offset: GLOBAL_HEADER_LEN as u64,
        })
    }

    /// Appends one record; `header` is what [`PcapReader::next_record`] returned when copying
    /// a capture, or built by hand (`orig_len` is usually `data.len()`).
    pub fn write_record(&mut self, header: RecordHeader, data: &[u8]) -> Result<(), PcapError> {
        let incl_len = match u32::try_from(data.len()) {
            Ok(n) if n <= self.snaplen.min(MAX_RECORD_LEN) => n,
            _ => {
                return Err(PcapError::RecordTooLarge {
                    index: self.index,
                    offset: self.offset,
                    incl_len: data.len() as u64,
                    snaplen: self.snaplen,
                });
            }
        };
        if header.ts_nanos >= 1_000_000_000 {
            return Err(PcapError::FractionOutOfRange {
                index: self.index,
                offset: self.offset,
                fraction: header.ts_nanos,
                nanosecond: true,
            });
        }
        let mut record = [0u8; RECORD_HEADER_LEN];
        record[0..4].copy_from_slice(&header.ts_sec.to_le_bytes());
        record[4..8].copy_from_slice(&header.ts_nanos.to_le_bytes());
        record[8..12].copy_from_slice(&incl_len.to_le_bytes());
        record[12..16].copy_from_slice(&header.orig_len.to_le_bytes());
        self.writer.write_all(&record)?;
        self.writer.write_all(data)?;
        self.index += 1;
        self.offset += (RECORD_HEADER_LEN + data.len()) as u64;
        Ok(())
    }

    /// Flushes the underlying writer, so a capture is complete before a tool opens it.
    pub fn flush(&mut self) -> Result<(), PcapError> {
        self.writer.flush()?;
        Ok(())
    }

    /// Gives the writer back (without flushing it), e.g. to inspect an in-memory capture.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl<W: Write> fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriter")
            .field("snaplen", &self.snaplen)
            .field("index", &self.index)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// Reads every record of `data` as a pcap file and ignores the results: the fuzz target's
/// body, and the proof that the reader is total.
pub fn decode_all(data: &[u8]) {
    let Ok(mut reader) = PcapReader::new(data) else {
        return;
    };
    let _ = (reader.link_type(), reader.fcs_len(), reader.snaplen());
    let mut buf = Vec::new();
    // Each record consumes at least 16 bytes, so this ends.
    while let Ok(Some(_)) = reader.next_record(&mut buf) {}
}

/// Fixed-position u32 fields in the file's byte order.
struct Fields<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8], big_endian: bool) -> Self {
        Self { bytes, big_endian }
    }

    /// The `i`th u32; callers pass slices long enough, and a short one reads as zero rather
    /// than panicking.
    fn u32(&self, i: usize) -> u32 {
        let mut b = [0u8; 4];
        if let Some(src) = self.bytes.get(i * 4..i * 4 + 4) {
            b.copy_from_slice(src);
        }
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
}

/// Fills `buf` as far as the reader allows; fewer bytes than asked means end of file.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            // `min` guards against a reader that claims more than it was given.
            Ok(n) => filled += n.min(buf.len() - filled),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
#[path = "pcap_tests.rs"]
mod tests;
