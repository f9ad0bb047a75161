//! Mutations of seed inputs, as a proptest strategy: a seed, then a few edits
//! (bit flips, insertions of bytes or of tokens that break parsers, deletions,
//! truncation, repeated spans, numbers swapped for extreme ones, a chunk
//! spliced in from another seed). Edits shrink like any proptest value, so a
//! failure is reported with few of them.

use proptest::prelude::*;
use proptest::sample::{select, Index};

/// Text that parsers of every target have tripped on, or might: extreme
/// numbers, control characters, YAML and JSON structure, durations, times.
pub const TOKENS: &[&str] = &[
    "-9223372036854775808",
    "9223372036854775807",
    "-9223372036854775809",
    "18446744073709551616",
    "2147483647",
    "-2147483648",
    "4294967296",
    "1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "NaN",
    "inf",
    "-inf",
    "-0",
    "0",
    "-1",
    "-3",
    "0.5",
    "1.7976931348623157e308",
    "\0",
    "\u{1}",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{feff}",
    "\u{2028}",
    "é",
    "\r\n",
    "\r",
    "\t",
    "\n",
    ":\n",
    ": ",
    "---\n",
    "...\n",
    "- ",
    "? ",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "!!float ",
    "|\n",
    ">-\n",
    "# ",
    "'",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    ",",
    "null",
    "true",
    "~",
    "1d",
    "1s",
    "0s",
    "1ms",
    "99999999999s",
    "9223372036854775807d",
    "7d",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "2026-01-01T12:00:00+23:59",
    "1767268800000",
    "1767268800",
    "253402300799",
    "253402300800",
    "1Ei",
    "9Ei",
    "1m",
    "1n",
    "1e3",
    "0x10",
];

/// One edit of an input.
#[derive(Clone, Debug)]
pub enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    InsertToken(Index, &'static str),
    InsertBytes(Index, Vec<u8>),
    Delete(Index, u16),
    Truncate(Index),
    Repeat(Index, u16, u8),
    /// Replaces the run of digits (and sign, dot, exponent) at or after the
    /// index with the token.
    SwapNumber(Index, &'static str),
    /// Inserts `len` bytes of seed `other` from its `from` at `at`.
    Splice {
        other: Index,
        from: Index,
        len: u16,
        at: Index,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = || select(TOKENS);
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::SetByte(i, b)),
        4 => (any::<Index>(), tokens()).prop_map(|(i, t)| Edit::InsertToken(i, t)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Edit::InsertBytes(i, b)),
        3 => (any::<Index>(), 1u16..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => (any::<Index>(), 1u16..64, 1u8..16).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
        4 => (any::<Index>(), tokens()).prop_map(|(i, t)| Edit::SwapNumber(i, t)),
        2 => (any::<Index>(), any::<Index>(), 1u16..512, any::<Index>()).prop_map(
            |(other, from, len, at)| Edit::Splice {
                other,
                from,
                len,
                at
            }
        ),
    ]
}

/// A position in (or at the end of) `len` bytes.
fn at(i: &Index, len: usize) -> usize {
    i.index(len + 1)
}

fn is_number_byte(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')
}

/// Applies `e` to `input`; `seeds` are the corpus, for splicing.
pub fn apply(e: &Edit, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let len = input.len();
    match e {
        Edit::FlipBit(i, bit) if len > 0 => input[i.index(len)] ^= 1 << bit,
        Edit::SetByte(i, b) if len > 0 => input[i.index(len)] = *b,
        Edit::FlipBit(..) | Edit::SetByte(..) => {}
        Edit::InsertToken(i, t) => {
            let p = at(i, len);
            input.splice(p..p, t.bytes());
        }
        Edit::InsertBytes(i, b) => {
            let p = at(i, len);
            input.splice(p..p, b.iter().copied());
        }
        Edit::Delete(i, n) => {
            let p = at(i, len);
            let end = (p + usize::from(*n)).min(len);
            input.drain(p..end);
        }
        Edit::Truncate(i) => input.truncate(at(i, len)),
        Edit::Repeat(i, n, k) => {
            let p = at(i, len);
            let end = (p + usize::from(*n)).min(len);
            let span = input[p..end].to_vec();
            for _ in 0..*k {
                input.splice(end..end, span.iter().copied());
            }
        }
        Edit::SwapNumber(i, t) => {
            let start = at(i, len);
            let Some(first) = (start..len).find(|&j| input[j].is_ascii_digit()) else {
                return;
            };
            let mut from = first;
            while from > 0 && is_number_byte(input[from - 1]) {
                from -= 1;
            }
            let mut to = first;
            while to < len && is_number_byte(input[to]) {
                to += 1;
            }
            input.splice(from..to, t.bytes());
        }
        Edit::Splice {
            other,
            from,
            len: n,
            at: to,
        } => {
            if seeds.is_empty() {
                return;
            }
            let other = &seeds[other.index(seeds.len())];
            let start = at(from, other.len());
            let end = (start + usize::from(*n)).min(other.len());
            let p = at(to, len);
            input.splice(p..p, other[start..end].iter().copied());
        }
    }
}

/// Inputs made by editing a seed of `seeds` 1 to 8 times.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "a target needs seeds to mutate");
    let seeds = std::sync::Arc::new(seeds);
    (any::<Index>(), prop::collection::vec(edit(), 1..8)).prop_map(move |(seed, edits)| {
        let mut input = seeds[seed.index(seeds.len())].clone();
        for e in &edits {
            apply(e, &mut input, &seeds);
        }
        input
    })
}
