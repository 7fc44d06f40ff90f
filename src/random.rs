//! The crate's one source of unpredictable numbers: nonces (`signature`), the random prefix of
//! encrypted event messages (`events`), retry jitter (`client`), Redis lock owner ids (`store`)
//! and the sandbox's generated secrets, ids and codes.
//!
//! It is the standard library's randomly keyed SipHash (`RandomState`, keyed from the operating
//! system's random source once per thread and stepped per instance) over a process-wide counter,
//! the process id and the time. Not a CSPRNG, and nothing here needs one: WeChat requires nonces
//! and message prefixes to differ, not to be secret; jitter and owner ids need only to differ
//! between processes and calls. A crate such as `getrandom` or `fastrand` would add a dependency
//! for no property these uses need.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A hard-to-predict 64-bit number; two calls in one process never hash the same input.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// `digits` random lowercase hexadecimal digits (the Redis store's lock owners, the sandbox's
/// secrets).
#[cfg(any(feature = "redis", feature = "sandbox", test))]
pub(crate) fn random_hex(digits: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        let mut bits = random_u64();
        for _ in 0..16 {
            if out.len() == digits {
                break;
            }
            out.push(char::from(HEX[(bits & 15) as usize]));
            bits >>= 4;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_differ() {
        let seen: std::collections::HashSet<u64> = (0..10_000).map(|_| random_u64()).collect();
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn hex_has_the_length_asked_for() {
        for digits in [0, 1, 15, 16, 17, 32, 33] {
            let text = random_hex(digits);
            assert_eq!(text.len(), digits);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        assert_ne!(random_hex(32), random_hex(32));
    }
}
