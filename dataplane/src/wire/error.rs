use std::fmt;

/// The protocol layer a [`WireError`] was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Ethernet,
    Ipv4,
    Udp,
    Oum,
    Envelope,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "Ethernet",
            Layer::Ipv4 => "IPv4",
            Layer::Udp => "UDP",
            Layer::Oum => "OUM",
            Layer::Envelope => "message envelope",
        })
    }
}

/// Why a byte string is not a valid header of some layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{layer} header truncated: needs {needed} bytes, {available} present")]
    Truncated {
        layer: Layer,
        needed: usize,
        available: usize,
    },
    #[error("IPv4 version field is {0}, expected 4")]
    Ipv4Version(u8),
    #[error("IPv4 header length (IHL) is {0} words, below the minimum of 5")]
    Ipv4HeaderLength(u8),
    #[error("IPv4 total length {total} is shorter than its {header}-byte header")]
    Ipv4TotalLength { total: u16, header: usize },
    #[error("IPv4 packet is a fragment; fragments are not reassembled")]
    Ipv4Fragment,
    #[error("UDP length field {0} is shorter than the 8-byte UDP header")]
    UdpLength(u16),
    #[error("OUM preamble is {0:02x?}, expected 18 03 05 20")]
    OumPreamble([u8; 4]),
    #[error("OUM header size is {0}, expected 0 (not yet sequenced) or 10 (sequenced)")]
    OumHeaderSize(u16),
    #[error("message envelope magic is {0:02x?}, expected \"NOPX\"")]
    EnvelopeMagic([u8; 4]),
    #[error("message envelope version {0} is not supported (this build speaks version 1)")]
    EnvelopeVersion(u8),
    #[error("message body of {0} bytes does not fit the envelope's 32-bit length")]
    EnvelopeBodyTooLong(usize),
    #[error("message envelope flags {0:#06x} are reserved and must be zero")]
    EnvelopeFlags(u16),
}

impl WireError {
    pub(crate) fn truncated(layer: Layer, needed: usize, available: usize) -> Self {
        WireError::Truncated {
            layer,
            needed,
            available,
        }
    }
}
