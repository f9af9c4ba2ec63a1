//! Zero-copy typed views over packet bytes.
//!
//! Each protocol layer has three parts, after smoltcp's `wire` module:
//! * a header struct laid out exactly as on the wire (`zerocopy` derives, network byte order
//!   fields, alignment 1), so reading a field is a load, not a parse;
//! * a view (`EthernetFrame`, `Ipv4Packet`, ...) over any `zerocopy` byte slice, built only by
//!   `new_checked`, which checks every length once and splits the buffer into header and
//!   payload; accessors therefore never index and never panic;
//! * a `Repr`, the validated meaning of a header, with `parse` from a view and `emit` into one.
//!
//! Views nest without copying: `into_payload` hands the payload slice (mutable or not) to the
//! next layer's `new_checked`.

pub mod build;
mod checksum;
mod envelope;
mod error;
mod ethernet;
mod ipv4;
mod oum;
mod udp;

pub use checksum::{internet_checksum, ipv4_header_checksum, udp_checksum};
pub use envelope::{
    ENVELOPE_HEADER_LEN, ENVELOPE_MAGIC, ENVELOPE_VERSION, Envelope, EnvelopeHeader, EnvelopeRepr,
    MessageType,
};
pub use error::{Layer, WireError};
pub use ethernet::{
    ETHERNET_HEADER_LEN, EtherType, EthernetFrame, EthernetHeader, EthernetRepr, MacAddr,
};
pub use ipv4::{IPV4_MIN_HEADER_LEN, IpProtocol, Ipv4Header, Ipv4Packet, Ipv4Repr};
pub use oum::{
    OUM_DEFAULT_PORT, OUM_HEADER_LEN, OUM_PREAMBLE, OUM_SEQUENCED_HEADER_SIZE,
    OUM_UNSEQUENCED_HEADER_SIZE, OumHeader, OumPacket, OumRepr, SessionNumber, Stamp,
};
pub use udp::{UDP_HEADER_LEN, UdpHeader, UdpPacket, UdpRepr};

#[cfg(test)]
mod tests;
