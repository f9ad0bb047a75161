//! Kubernetes resource quantities (`250m`, `1Gi`, `1.5`, `2e3`): parsing into the
//! milli-units the HPA computes with, and the canonical DecimalSI text the API
//! server prints. A leaf: imports nothing from the crate.
//!
//! The HPA reads every quantity through `Quantity.MilliValue()`, which rounds
//! up to the next milli-unit; [`Quantity::milli`] does the same, saturating at
//! the `i64` range instead of overflowing.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A parsed quantity: the text as written and its value in milli-units.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    text: String,
    milli: i64,
    approx: f64,
}

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got {0:?})")]
pub struct QuantityError(pub String);

impl Quantity {
    /// Parses a Kubernetes quantity string.
    ///
    /// ```
    /// use scalepilot::quantity::Quantity;
    /// assert_eq!(Quantity::parse("250m").unwrap().milli(), 250);
    /// assert_eq!(Quantity::parse("1Ki").unwrap().milli(), 1_024_000);
    /// assert!(Quantity::parse("12x").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let err = || QuantityError(text.to_string());
        let s = text.trim();
        if s.is_empty() {
            return Err(err());
        }
        let (negative, body) = match s.as_bytes()[0] {
            b'+' => (false, &s[1..]),
            b'-' => (true, &s[1..]),
            _ => (false, s),
        };
        let num_end = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(num_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err());
        }
        // Decimal digits as an integer mantissa with a base-10 exponent.
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let digits: String = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let mut exp10: i64 = -(frac_part.len() as i64);
        let mut exp2: i64 = 0;
        match suffix {
            "" => {}
            "Ki" => exp2 = 10,
            "Mi" => exp2 = 20,
            "Gi" => exp2 = 30,
            "Ti" => exp2 = 40,
            "Pi" => exp2 = 50,
            "Ei" => exp2 = 60,
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            other => {
                let rest = other
                    .strip_prefix('e')
                    .or_else(|| other.strip_prefix('E'))
                    .ok_or_else(err)?;
                let e: i64 = rest.parse().map_err(|_| err())?;
                if !(-1000..=1000).contains(&e) {
                    return Err(err());
                }
                exp10 += e;
            }
        }
        let milli = to_milli(digits, exp10 + 3, exp2, negative);
        let approx: f64 = {
            let m: f64 = if digits.is_empty() {
                0.0
            } else {
                digits.parse().unwrap_or(f64::INFINITY)
            };
            let v = m * 10f64.powi(exp10 as i32) * 2f64.powi(exp2 as i32);
            if negative {
                -v
            } else {
                v
            }
        };
        Ok(Quantity {
            text: text.to_string(),
            milli,
            approx,
        })
    }

    /// A quantity from milli-units, printed canonically.
    pub fn from_milli(milli: i64) -> Self {
        Quantity {
            text: format_milli(milli),
            milli,
            approx: milli as f64 / 1000.0,
        }
    }

    /// The value in milli-units, rounded up like `Quantity.MilliValue()`.
    pub fn milli(&self) -> i64 {
        self.milli
    }

    /// The value as a float, like `Quantity.AsApproximateFloat64()`.
    pub fn as_f64(&self) -> f64 {
        self.approx
    }

    /// The text as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `digits × 10^exp10 × 2^exp2`, rounded towards +∞ (MilliValue rounds up), saturating.
fn to_milli(digits: &str, exp10: i64, exp2: i64, negative: bool) -> i64 {
    if digits.is_empty() {
        return 0;
    }
    const LIMIT: i128 = i64::MAX as i128;
    // Keep at most 40 significant digits; beyond that the value saturates anyway
    // unless exp10 is very negative, in which case the dropped digits only matter
    // for the rounding direction.
    let (kept, dropped_nonzero, dropped_len) = if digits.len() > 38 {
        let (k, d) = digits.split_at(38);
        (k, d.bytes().any(|b| b != b'0'), d.len() as i64)
    } else {
        (digits, false, 0)
    };
    let mut value: i128 = kept.parse().unwrap_or(i128::MAX);
    let mut exp10 = exp10 + dropped_len;
    let mut inexact = dropped_nonzero;
    value = value.checked_mul(1i128 << exp2).unwrap_or(i128::MAX);
    while exp10 > 0 {
        value = value.checked_mul(10).unwrap_or(i128::MAX);
        if value > LIMIT {
            value = LIMIT + 1;
            break;
        }
        exp10 -= 1;
    }
    while exp10 < 0 {
        if value % 10 != 0 {
            inexact = true;
        }
        value /= 10;
        exp10 += 1;
        if value == 0 {
            break;
        }
    }
    if negative {
        // Rounding up a negative value moves towards zero.
        (-value).max(i64::MIN as i128) as i64
    } else {
        if inexact {
            value += 1;
        }
        value.min(LIMIT) as i64
    }
}

/// Canonical DecimalSI text of a milli-value, as `resource.NewMilliQuantity(v, DecimalSI).String()`.
///
/// ```
/// assert_eq!(scalepilot::quantity::format_milli(1500), "1500m");
/// assert_eq!(scalepilot::quantity::format_milli(2_000_000), "2k");
/// ```
pub fn format_milli(milli: i64) -> String {
    if milli == 0 {
        return "0".to_string();
    }
    const SUFFIXES: [(u32, &str); 8] = [
        (21, "E"),
        (18, "P"),
        (15, "T"),
        (12, "G"),
        (9, "M"),
        (6, "k"),
        (3, ""),
        (0, "m"),
    ];
    let magnitude = milli.unsigned_abs() as u128;
    for (pow, suffix) in SUFFIXES {
        let div = 10u128.pow(pow);
        if magnitude.is_multiple_of(div) {
            let sign = if milli < 0 { "-" } else { "" };
            return format!("{sign}{}{suffix}", magnitude / div);
        }
    }
    unreachable!("every integer is divisible by 10^0")
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Kubernetes quantity such as \"250m\", \"1Gi\" or 12")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                if !v.is_finite() {
                    return Err(E::custom("a quantity must be finite"));
                }
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milli(s: &str) -> i64 {
        Quantity::parse(s).unwrap().milli()
    }

    #[test]
    fn parses_decimal_and_binary_suffixes() {
        assert_eq!(milli("250m"), 250);
        assert_eq!(milli("1"), 1000);
        assert_eq!(milli("1.5"), 1500);
        assert_eq!(milli("2k"), 2_000_000);
        assert_eq!(milli("1Ki"), 1_024_000);
        assert_eq!(milli("1Gi"), 1_073_741_824_000);
        assert_eq!(milli("2e3"), 2_000_000);
        assert_eq!(milli("1P"), 1_000_000_000_000_000_000);
        assert_eq!(milli("1E"), i64::MAX); // 10^21 milli-units saturate
        assert_eq!(milli("0"), 0);
        assert_eq!(milli("-1"), -1000);
        assert_eq!(milli(".5"), 500);
    }

    #[test]
    fn milli_value_rounds_up_like_kubernetes() {
        assert_eq!(milli("1u"), 1);
        assert_eq!(milli("1500u"), 2);
        assert_eq!(milli("0.0001"), 1);
        assert_eq!(milli("-1500u"), -1);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert_eq!(milli("100E"), i64::MAX);
        assert_eq!(milli("1e100"), i64::MAX);
    }

    #[test]
    fn rejects_malformed_quantities() {
        for bad in ["", "abc", "1.2.3", "10x", "1e", "m", "--1", "1 m"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_milli(0), "0");
        assert_eq!(format_milli(250), "250m");
        assert_eq!(format_milli(1000), "1");
        assert_eq!(format_milli(1500), "1500m");
        assert_eq!(format_milli(2_000_000), "2k");
        assert_eq!(format_milli(123_000_000), "123k");
        assert_eq!(format_milli(-3000), "-3");
    }

    #[test]
    fn approximate_float_value() {
        assert!((Quantity::parse("0.05").unwrap().as_f64() - 0.05).abs() < 1e-12);
        assert!((Quantity::parse("50m").unwrap().as_f64() - 0.05).abs() < 1e-12);
    }
}
