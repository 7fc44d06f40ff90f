//! The fuzzing kit: a seeded random source, a runner that catches panics, and a byte
//! mutator. Plain `std`, so that both the crate's fuzz tests (`tests/suite/fuzz.rs`) and the
//! generator's (`codegen/tests/fuzz.rs`, which includes this file by path) use the same one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Randomness and budget
// ---------------------------------------------------------------------------------------------

/// SplitMix64: small, fast, and good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(salt: u64) -> Rng {
        let seed = std::env::var("WECHAT_CARD_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_cafe_f00d_u64);
        Rng(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub fn scale() -> usize {
    std::env::var("WECHAT_CARD_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Runs inputs, catching panics, timing each.
pub struct Runner {
    target: &'static str,
    inputs: u64,
    panics: Vec<String>,
    slowest: (Duration, String),
}

impl Runner {
    pub fn new(target: &'static str) -> Runner {
        Runner {
            target,
            inputs: 0,
            panics: Vec::new(),
            slowest: (Duration::ZERO, String::new()),
        }
    }

    /// Runs `f` on one input (`label` says which, `input` is shown if it panics).
    pub fn run(&mut self, label: &str, input: &[u8], f: impl FnOnce()) {
        self.inputs += 1;
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(f));
        let took = start.elapsed();
        if took > self.slowest.0 {
            self.slowest = (took, format!("{label} ({} bytes)", input.len()));
        }
        if outcome.is_err() {
            self.panics.push(format!(
                "{label}: {:?}",
                String::from_utf8_lossy(&input[..input.len().min(2000)])
            ));
        }
    }

    pub fn finish(self) {
        eprintln!(
            "fuzz {}: {} inputs, {} panics, slowest {:?} ({}), peak memory of the process {} KiB",
            self.target,
            self.inputs,
            self.panics.len(),
            self.slowest.0,
            self.slowest.1,
            peak_kib().map_or("?".to_owned(), |k| k.to_string()),
        );
        assert!(
            self.panics.is_empty(),
            "{} panicked on {} inputs (seed {:?}):\n{}",
            self.target,
            self.panics.len(),
            std::env::var("WECHAT_CARD_FUZZ_SEED").ok(),
            self.panics.join("\n")
        );
    }
}

pub fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Mutators
// ---------------------------------------------------------------------------------------------

/// Tokens worth inserting into JSON, XML, query strings and YAML.
pub const DICTIONARY: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-0",
    "1.5",
    "18446744073709551616",
    "-9223372036854775809",
    "\"\\u0000\"",
    "\\ud800",
    "\"\\uDFFF\"",
    "<",
    ">",
    "</",
    "/>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#x0;",
    "&#xFFFFFFFF;",
    "&unknown;",
    "<xml>",
    "</xml>",
    "<Encrypt>",
    "</Encrypt>",
    "<?xml version=\"1.0\"?>",
    "<!-- -->",
    "%",
    "%zz",
    "%e4%b8",
    "+",
    "&",
    "=",
    "?",
    "#",
    "\u{feff}",
    "微信",
    "\u{0}",
    "\n",
    "\t",
    "  ",
    "- ",
    "- x",
    ": ",
    "{ type: ",
    "string(",
    "u32(..=",
    "ref(",
    "list<",
    "object",
    "required: true",
    "enum:",
    "&anchor",
    "*anchor",
    "!!binary",
    "~",
    "'",
    "|\n",
    ">-\n",
];

/// Values worth putting anywhere in a JSON document.
/// One byte-level mutation of `data`; `others` are other inputs to splice from.
pub fn mutate_bytes_once(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = data.len();
    let at = rng.below(len + 1);
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(&[0u8, 0xff, 0x7f, 0x80, b'"', b'<', b'\\', b'%', b'\n', b'9']);
        }
        2 if len > 0 => {
            let end = (at + 1 + rng.below(32)).min(len);
            data.drain(at.min(len)..end.max(at.min(len)));
        }
        3 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
        4 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let piece = data[start..end].to_vec();
            let times = if rng.chance(10) { rng.below(400) } else { 1 };
            for _ in 0..times {
                data.splice(at..at, piece.iter().copied());
            }
        }
        5 | 6 => {
            let token = rng.pick(DICTIONARY).as_bytes().to_vec();
            data.splice(at..at, token);
        }
        7 => data.truncate(at),
        8 if !others.is_empty() => {
            let other = rng.pick(others);
            if !other.is_empty() {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(256)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
        }
        _ => {
            // Swap two ranges' worth: move a piece elsewhere.
            if len > 2 {
                let start = rng.below(len - 1);
                let end = (start + 1 + rng.below(32)).min(len);
                let piece: Vec<u8> = data.drain(start..end).collect();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, piece);
            }
        }
    }
}

pub fn mutate_bytes(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_bytes_once(rng, &mut data, others);
    }
    data
}
