/// A running FNV-1a hash over the delivered stream: replicas that delivered the same
/// messages in the same order report the same digest, whatever their drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamDigest(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for StreamDigest {
    fn default() -> Self {
        StreamDigest(FNV_OFFSET)
    }
}

impl StreamDigest {
    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matters_and_known_value_holds() {
        let mut d = StreamDigest::default();
        d.add(b"a");
        assert_eq!(d.value(), 0xaf63_dc4c_8601_ec8c, "FNV-1a 64 of \"a\"");
        let mut ab = StreamDigest::default();
        ab.add(b"ab");
        let mut ba = StreamDigest::default();
        ba.add(b"ba");
        assert_ne!(ab, ba);
    }
}
