//! Sizes (`"512M"`) and durations (`"1h30m"`) as written in policies and on
//! the command line: parsing (`FromStr`, serde) and a canonical short form
//! (`Display`, serde) that parses back to the same value.

use crate::model::{ByteSize, Duration};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a size or a duration could not be parsed. The message quotes the
/// input and shows a valid example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid size {input:?}: expected a number with an optional K, M, G or T suffix, e.g. \"512M\"")]
    InvalidSize { input: String },
    #[error("size {input:?} is too large: the largest size is 16777215T (2^64 - 1 bytes)")]
    SizeTooLarge { input: String },
    #[error("invalid duration {input:?}: expected whole numbers with h, m, s or ms units (or bare seconds), e.g. \"90s\", \"10m\" or \"1h30m\"")]
    InvalidDuration { input: String },
    #[error("invalid duration {input:?}: units must go from largest to smallest, each at most once, e.g. \"1h30m\"")]
    DurationUnitOrder { input: String },
    #[error("duration {input:?} is too large")]
    DurationTooLarge { input: String },
}

const KIB: u64 = 1024;
/// Binary units, largest first: the canonical form uses the largest that
/// divides the value exactly.
const SIZE_UNITS: [(&str, u64); 4] = [
    ("T", KIB * KIB * KIB * KIB),
    ("G", KIB * KIB * KIB),
    ("M", KIB * KIB),
    ("K", KIB),
];

impl FromStr for ByteSize {
    type Err = UnitError;

    /// Accepts `"1024"`, `"512M"`, `"2G"`, `"2GiB"`, `"2gb"`: a whole number
    /// and an optional binary suffix K, M, G or T (1024^n), in any case, with
    /// an optional trailing `B` or `iB`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || UnitError::InvalidSize {
            input: input.to_owned(),
        };
        let text = input.trim();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, suffix) = text.split_at(digits_end);
        if digits.is_empty() {
            return Err(invalid());
        }
        let suffix = suffix.trim_start().to_ascii_uppercase();
        let unit = suffix
            .strip_suffix("IB")
            .or_else(|| suffix.strip_suffix('B'))
            .unwrap_or(&suffix);
        let multiplier = match unit {
            "" if suffix.is_empty() || suffix == "B" => 1,
            "K" => KIB,
            "M" => KIB * KIB,
            "G" => KIB * KIB * KIB,
            "T" => KIB * KIB * KIB * KIB,
            _ => return Err(invalid()),
        };
        let too_large = || UnitError::SizeTooLarge {
            input: input.to_owned(),
        };
        let number: u64 = digits.parse().map_err(|_| too_large())?;
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(too_large)
    }
}

impl fmt::Display for ByteSize {
    /// The shortest exact form: `2G`, `512M`, `1536` (bytes when no unit
    /// divides the value).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        if bytes != 0 {
            for (suffix, size) in SIZE_UNITS {
                if bytes % size == 0 {
                    return write!(f, "{}{suffix}", bytes / size);
                }
            }
        }
        write!(f, "{bytes}")
    }
}

/// Duration units, largest first, in nanoseconds.
const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl FromStr for Duration {
    type Err = UnitError;

    /// Accepts `"90"` (seconds), `"90s"`, `"10m"`, `"1h30m"`, `"250ms"`:
    /// whole numbers with the units h, m, s, ms (also us and ns), largest
    /// first, each at most once.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || UnitError::InvalidDuration {
            input: input.to_owned(),
        };
        let too_large = || UnitError::DurationTooLarge {
            input: input.to_owned(),
        };
        let text = input.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let secs: u64 = text.parse().map_err(|_| too_large())?;
            return Ok(Duration(std::time::Duration::from_secs(secs)));
        }
        let mut rest = text;
        let mut total: u128 = 0;
        let mut next_unit = 0; // index into DURATION_UNITS of the smallest allowed rank
        if rest.is_empty() {
            return Err(invalid());
        }
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(invalid)?;
            let (digits, after) = rest.split_at(digits_end);
            if digits.is_empty() {
                return Err(invalid());
            }
            let unit_end = after
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(after.len());
            let (unit, tail) = after.split_at(unit_end);
            let rank = DURATION_UNITS
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(invalid)?;
            if rank < next_unit {
                return Err(UnitError::DurationUnitOrder {
                    input: input.to_owned(),
                });
            }
            next_unit = rank + 1;
            let number: u128 = digits.parse().map_err(|_| too_large())?;
            total = number
                .checked_mul(DURATION_UNITS[rank].1)
                .and_then(|n| total.checked_add(n))
                .ok_or_else(too_large)?;
            rest = tail;
        }
        let secs = u64::try_from(total / 1_000_000_000).map_err(|_| too_large())?;
        let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| too_large())?;
        Ok(Duration(std::time::Duration::new(secs, nanos)))
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form: `1h30m`, `90s` is `1m30s`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0.as_nanos();
        if rest == 0 {
            return f.write_str("0s");
        }
        for (name, size) in DURATION_UNITS {
            let count = rest / size;
            if count > 0 {
                write!(f, "{count}{name}")?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Accepts a string (parsed with `FromStr`) or a non-negative integer in the
/// base unit (bytes or seconds).
struct UnitVisitor<T> {
    expecting: &'static str,
    from_int: fn(u64) -> T,
}

impl<T: FromStr<Err = UnitError>> Visitor<'_> for UnitVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        Ok((self.from_int)(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        u64::try_from(value)
            .map(self.from_int)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UnitVisitor {
            expecting: "a size such as \"512M\" or a number of bytes",
            from_int: ByteSize,
        })
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UnitVisitor {
            expecting: "a duration such as \"10m\" or a number of seconds",
            from_int: |secs| Duration(std::time::Duration::from_secs(secs)),
        })
    }
}

#[cfg(test)]
#[path = "units_tests.rs"]
mod tests;
