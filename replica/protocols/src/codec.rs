//! Bounds-checked encoding of message bodies. Every read checks its length against what is
//! left, so a decoder over any bytes returns a value or an error, and variable-length fields
//! borrow from the datagram instead of allocating a size the sender chose. A [`Field`] is a
//! value that writes and reads itself, so a message body is the list of its fields.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Why a message body could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("message truncated: needs {needed} more bytes, {left} left")]
    Truncated { needed: usize, left: usize },
    #[error("message has {0} bytes after its last field")]
    Trailing(usize),
    #[error("invalid {field}: {value}")]
    Invalid { field: &'static str, value: u64 },
    #[error("message does not fit a datagram ({needed} bytes, room for {room})")]
    TooLong { needed: usize, room: usize },
}

/// Reads fields from a message body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        match self.bytes.split_at_checked(n) {
            Some((head, tail)) => {
                self.bytes = tail;
                Ok(head)
            }
            None => Err(CodecError::Truncated {
                needed: n,
                left: self.bytes.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub fn bool(&mut self) -> Result<bool, CodecError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(CodecError::Invalid {
                field: "boolean",
                value: u64::from(v),
            }),
        }
    }

    pub fn addr(&mut self) -> Result<SocketAddrV4, CodecError> {
        let ip = Ipv4Addr::from(self.array::<4>()?);
        Ok(SocketAddrV4::new(ip, self.u16()?))
    }

    /// A byte string with a 32-bit length prefix, borrowed from the message.
    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A count of items that follow, checked against the bytes left (each item takes at
    /// least `min_item_len` bytes), so a forged count cannot make the caller reserve memory.
    pub fn count(&mut self, min_item_len: usize) -> Result<usize, CodecError> {
        let n = self.u32()? as usize;
        let needed = n.saturating_mul(min_item_len.max(1));
        if needed > self.bytes.len() {
            return Err(CodecError::Truncated {
                needed,
                left: self.bytes.len(),
            });
        }
        Ok(n)
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), CodecError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(CodecError::Trailing(n)),
        }
    }

    /// The next field, of the type the caller expects.
    pub fn field<T: Field<'a>>(&mut self) -> Result<T, CodecError> {
        T::read(self)
    }
}

/// Writes fields into a transmit buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn put(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let room = self.room();
        let dst =
            self.buf
                .get_mut(self.len..self.len + bytes.len())
                .ok_or(CodecError::TooLong {
                    needed: bytes.len(),
                    room,
                })?;
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    pub fn u8(&mut self, v: u8) -> Result<(), CodecError> {
        self.put(&[v])
    }

    pub fn u16(&mut self, v: u16) -> Result<(), CodecError> {
        self.put(&v.to_be_bytes())
    }

    pub fn u32(&mut self, v: u32) -> Result<(), CodecError> {
        self.put(&v.to_be_bytes())
    }

    pub fn u64(&mut self, v: u64) -> Result<(), CodecError> {
        self.put(&v.to_be_bytes())
    }

    pub fn bool(&mut self, v: bool) -> Result<(), CodecError> {
        self.u8(u8::from(v))
    }

    pub fn addr(&mut self, a: SocketAddrV4) -> Result<(), CodecError> {
        self.put(&a.ip().octets())?;
        self.u16(a.port())
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<(), CodecError> {
        let len = u32::try_from(b.len()).map_err(|_| CodecError::TooLong {
            needed: b.len(),
            room: self.room(),
        })?;
        self.u32(len)?;
        self.put(b)
    }

    pub fn count(&mut self, n: usize) -> Result<(), CodecError> {
        let n = u32::try_from(n).map_err(|_| CodecError::Invalid {
            field: "count",
            value: n as u64,
        })?;
        self.u32(n)
    }

    /// Writes a placeholder u32 now and returns where, for a length or count filled later.
    pub fn reserve_u32(&mut self) -> Result<usize, CodecError> {
        let at = self.len;
        self.u32(0)?;
        Ok(at)
    }

    /// The next `n` bytes, to be written in place; the writer counts them as written.
    pub fn take(&mut self, n: usize) -> Result<&mut [u8], CodecError> {
        let room = self.room();
        let at = self.len;
        let dst = self
            .buf
            .get_mut(at..at + n)
            .ok_or(CodecError::TooLong { needed: n, room })?;
        self.len += n;
        Ok(dst)
    }

    /// Rewrites bytes already written (a header whose lengths are known only at the end).
    pub fn overwrite(&mut self, at: usize, bytes: &[u8]) {
        if at + bytes.len() <= self.len {
            if let Some(dst) = self.buf.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
    }

    pub fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(dst) = self.buf.get_mut(at..at + 4) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Writes a field.
    pub fn field<'f, T: Field<'f>>(&mut self, v: &T) -> Result<(), CodecError> {
        v.write(self)
    }
}

/// A value with one encoding in message bodies, written and read as a whole. Decoding
/// borrows from the datagram for `'a`.
pub trait Field<'a>: Sized {
    /// Appends the value.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError>;
    /// Reads a value, or fails without panicking whatever the bytes.
    fn read(r: &mut Reader<'a>) -> Result<Self, CodecError>;
}

impl Field<'_> for u16 {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u16(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<u16, CodecError> {
        r.u16()
    }
}

impl Field<'_> for u32 {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u32(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<u32, CodecError> {
        r.u32()
    }
}

impl Field<'_> for u64 {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u64(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<u64, CodecError> {
        r.u64()
    }
}

impl Field<'_> for bool {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.bool(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<bool, CodecError> {
        r.bool()
    }
}

impl Field<'_> for SocketAddrV4 {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.addr(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<SocketAddrV4, CodecError> {
        r.addr()
    }
}

/// A byte string with its 32-bit length, borrowed from the datagram when read.
impl<'a> Field<'a> for &'a [u8] {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.bytes(self)
    }
    fn read(r: &mut Reader<'a>) -> Result<&'a [u8], CodecError> {
        r.bytes()
    }
}

/// A boolean saying whether the value follows, then the value if it does.
impl<'a, T: Field<'a>> Field<'a> for Option<T> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        match self {
            Some(v) => {
                w.bool(true)?;
                v.write(w)
            }
            None => w.bool(false),
        }
    }
    fn read(r: &mut Reader<'a>) -> Result<Option<T>, CodecError> {
        if r.bool()? {
            Ok(Some(T::read(r)?))
        } else {
            Ok(None)
        }
    }
}

/// An invalid field value.
pub fn invalid(field: &'static str, value: u64) -> CodecError {
    CodecError::Invalid { field, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.u8(7).unwrap();
        w.u16(0x1234).unwrap();
        w.u32(0xdead_beef).unwrap();
        w.u64(u64::MAX - 1).unwrap();
        w.bool(true).unwrap();
        w.addr("10.1.2.3:4567".parse().unwrap()).unwrap();
        w.bytes(b"xyz").unwrap();
        let n = w.len();
        let mut r = Reader::new(&buf[..n]);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.u32().unwrap(), 0xdead_beef);
        assert_eq!(r.u64().unwrap(), u64::MAX - 1);
        assert!(r.bool().unwrap());
        assert_eq!(r.addr().unwrap().to_string(), "10.1.2.3:4567");
        assert_eq!(r.bytes().unwrap(), b"xyz");
        r.finish().unwrap();
    }

    #[test]
    fn fields_write_and_read_themselves() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.field(&0x1234u16).unwrap();
        w.field(&Some(&b"ab"[..])).unwrap();
        w.field(&None::<u64>).unwrap();
        let n = w.len();
        // An optional value is a boolean, then the value if there is one.
        assert_eq!(buf[..n], [0x12, 0x34, 1, 0, 0, 0, 2, b'a', b'b', 0]);
        let mut r = Reader::new(&buf[..n]);
        assert_eq!(r.field::<u16>().unwrap(), 0x1234);
        assert_eq!(r.field::<Option<&[u8]>>().unwrap(), Some(&b"ab"[..]));
        assert_eq!(r.field::<Option<u64>>().unwrap(), None);
        r.finish().unwrap();
        assert!(Reader::new(&[2]).field::<Option<u64>>().is_err());
    }

    #[test]
    fn short_and_forged_inputs_are_errors() {
        assert!(matches!(
            Reader::new(&[1, 2]).u32(),
            Err(CodecError::Truncated { needed: 4, left: 2 })
        ));
        // A length prefix claiming 4 GiB.
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]).bytes().is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]).count(1).is_err());
        assert!(Reader::new(&[2]).bool().is_err());
        assert_eq!(Reader::new(&[1]).finish(), Err(CodecError::Trailing(1)));
        let mut small = [0u8; 3];
        assert!(Writer::new(&mut small).u32(1).is_err());
    }
}
