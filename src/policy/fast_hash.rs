//! A fast, non-keyed hasher for the policy indexes (table keys, connector domains).
//!
//! The stored keys come from the operator's configuration, never from a peer, so a peer
//! cannot grow a collision chain: a hostile lookup key lands in a chain the configuration
//! made. That makes a keyed (SipHash) hasher unnecessary here, and the lookups cheaper.

use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Multiply-rotate hashing of 8-byte words (the FxHash construction).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.iter_mut().zip(chunk).for_each(|(w, b)| *w = *b);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word.iter_mut().zip(rest).for_each(|(w, b)| *w = *b);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_hash_apart_and_lookups_work() {
        let mut map: FastMap<Box<str>, usize> = FastMap::default();
        for i in 0..1000 {
            map.insert(format!(".zone{i}.example.net").into_boxed_str(), i);
        }
        assert_eq!(map.get(".zone777.example.net"), Some(&777));
        assert_eq!(map.get(".zone1000.example.net"), None);
        let hash = |s: &str| {
            let mut h = FastHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(hash("a.example"), hash("b.example"));
        assert_ne!(hash("abcdefgh1"), hash("abcdefgh2"));
    }
}
