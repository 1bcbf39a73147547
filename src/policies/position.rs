//! Policy `position` keys: fractional indexing over base-62 digits, in the key format of the
//! `fractional-indexing` npm package (David Greenspan's scheme). The upstream console computes
//! keys itself with that package's `generateKeyBetween` when it places a rule between two others
//! and sends them on `POST`/`PATCH`, so every key we generate must be one it can parse, and every
//! key it sends must sort where it expects. Keys compare as plain byte strings (SQLite's `BINARY`
//! collation, Rust's `str` order and JavaScript's `<` agree on ASCII).
//!
//! A key is an *integer part* followed by an optional *fraction*:
//! - the integer part's first character fixes its length: `a`..`z` ⇒ 2..27 characters (`a0`,
//!   `b00`, …), `A`..`Z` ⇒ 27..2 characters (`Zz`, `Yzz`, …), so longer lowercase integers sort
//!   after shorter ones and longer uppercase integers before;
//! - the fraction is base-62 digits without a trailing `0` (so every key has one spelling).
//!
//! Generation: the first key is `a0`; "before `k`" decrements `k`'s integer part (`a0` ⇒ `Zz` ⇒
//! `Zy`), "after `k`" increments it (`a0` ⇒ `a1`), and "between `a` and `b`" takes a midpoint
//! digit of the fractions (`a0`/`a1` ⇒ `a0V`). Keys therefore stay short for the common
//! operations (prepend, append) and grow by about one character per halving of a gap.

use std::fmt;

/// The 62 digits in ascending byte order.
const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The smallest integer part (`A` + 26 zeros). It has no predecessor, so it is not a valid key on
/// its own; keys that extend it with a fraction are.
const SMALLEST_INTEGER: &str = "A00000000000000000000000000";

/// The first key of an empty list.
pub const FIRST: &str = "a0";

/// Longest key accepted from a client. Generated keys of a list edited by hand stay far below.
pub const MAX_KEY_LEN: usize = 256;

/// Why a key was refused or no key could be generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionError {
    Empty,
    TooLong,
    /// A character outside `0-9A-Za-z`.
    BadCharacter,
    /// Shorter than its first character says the integer part is.
    Truncated,
    /// The fraction ends in `0`, or the key is the bare smallest integer.
    NotCanonical,
    /// `between(a, b)` with `a >= b`.
    OutOfOrder,
    /// The integer space is exhausted in that direction (needs ~62^26 keys; not reachable in use).
    Exhausted,
}

impl fmt::Display for PositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            PositionError::Empty => "the position is empty",
            PositionError::TooLong => "the position is too long",
            PositionError::BadCharacter => "a position uses only the characters 0-9, A-Z and a-z",
            PositionError::Truncated => "the position's integer part is incomplete",
            PositionError::NotCanonical => "the position is not in canonical form",
            PositionError::OutOfOrder => "the lower bound is not below the upper bound",
            PositionError::Exhausted => "no position is left in that direction",
        };
        f.write_str(reason)?;
        if matches!(
            self,
            PositionError::Truncated | PositionError::NotCanonical | PositionError::BadCharacter
        ) {
            f.write_str(" (expected a fractional-indexing key such as `a0` or `Zz`)")?;
        }
        Ok(())
    }
}

fn digit_value(c: u8) -> Option<usize> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as usize),
        b'A'..=b'Z' => Some((c - b'A') as usize + 10),
        b'a'..=b'z' => Some((c - b'a') as usize + 36),
        _ => None,
    }
}

fn integer_len(head: u8) -> Option<usize> {
    match head {
        b'a'..=b'z' => Some((head - b'a') as usize + 2),
        b'A'..=b'Z' => Some((b'Z' - head) as usize + 2),
        _ => None,
    }
}

/// Splits a key into integer part and fraction, checking characters and length.
fn split(key: &str) -> Result<(&str, &str), PositionError> {
    let bytes = key.as_bytes();
    let head = *bytes.first().ok_or(PositionError::Empty)?;
    if bytes.iter().any(|b| digit_value(*b).is_none()) {
        return Err(PositionError::BadCharacter);
    }
    let len = integer_len(head).ok_or(PositionError::BadCharacter)?;
    if bytes.len() < len {
        return Err(PositionError::Truncated);
    }
    // All bytes are ASCII, so any index is a char boundary.
    Ok(key.split_at(len))
}

/// Checks that `key` is a canonical key (what a client may store as a position).
pub fn validate(key: &str) -> Result<(), PositionError> {
    if key.len() > MAX_KEY_LEN {
        return Err(PositionError::TooLong);
    }
    let (_, fraction) = split(key)?;
    if key == SMALLEST_INTEGER || fraction.ends_with('0') {
        return Err(PositionError::NotCanonical);
    }
    Ok(())
}

/// The next integer part, or `None` after `z` + 26 `z`s.
fn increment_integer(integer: &str) -> Option<String> {
    let (head, digits) = integer.as_bytes().split_first()?;
    let mut digits = digits.to_vec();
    let mut carry = true;
    for d in digits.iter_mut().rev() {
        let next = digit_value(*d)? + 1;
        if next == DIGITS.len() {
            *d = b'0';
        } else {
            *d = DIGITS[next];
            carry = false;
            break;
        }
    }
    let mut head = *head;
    if carry {
        match head {
            b'Z' => return Some(FIRST.to_string()),
            b'z' => return None,
            _ => {}
        }
        head += 1;
        // Lowercase heads grow one digit longer, uppercase heads one shorter (all digits are
        // `0` after the carry, so dropping one loses nothing).
        if head > b'a' {
            digits.push(b'0');
        } else {
            digits.pop();
        }
    }
    let mut out = vec![head];
    out.extend(digits);
    String::from_utf8(out).ok()
}

/// The previous integer part, or `None` before the smallest integer.
fn decrement_integer(integer: &str) -> Option<String> {
    let (head, digits) = integer.as_bytes().split_first()?;
    let mut digits = digits.to_vec();
    let mut borrow = true;
    for d in digits.iter_mut().rev() {
        let value = digit_value(*d)?;
        if value == 0 {
            *d = b'z';
        } else {
            *d = DIGITS[value - 1];
            borrow = false;
            break;
        }
    }
    let mut head = *head;
    if borrow {
        match head {
            b'a' => return Some("Zz".to_string()),
            b'A' => return None,
            _ => {}
        }
        head -= 1;
        // Mirror of `increment_integer`: uppercase heads grow, lowercase heads shrink.
        if head < b'Z' {
            digits.push(b'z');
        } else {
            digits.pop();
        }
    }
    let mut out = vec![head];
    out.extend(digits);
    String::from_utf8(out).ok()
}

/// A fraction strictly between the fractions `low` and `high` (`None` = 1), without a trailing
/// zero. Both inputs are canonical and `low < high`.
fn midpoint(low: &[u8], high: Option<&[u8]>) -> Result<Vec<u8>, PositionError> {
    if let Some(high) = high {
        if high.is_empty() || low >= high {
            return Err(PositionError::OutOfOrder);
        }
        // Keep the common prefix (reading `low` as padded with zeros).
        let mut n = 0;
        while n < high.len() && low.get(n).copied().unwrap_or(b'0') == high[n] {
            n += 1;
        }
        if n > 0 {
            let mut out = high[..n].to_vec();
            out.extend(midpoint(low.get(n..).unwrap_or(&[]), Some(&high[n..]))?);
            return Ok(out);
        }
    }
    let digit_low = match low.first() {
        Some(c) => digit_value(*c).ok_or(PositionError::BadCharacter)?,
        None => 0,
    };
    let digit_high = match high {
        Some(h) => digit_value(h[0]).ok_or(PositionError::BadCharacter)?,
        None => DIGITS.len(),
    };
    if digit_high > digit_low + 1 {
        // Round half up, as the npm package does.
        return Ok(vec![DIGITS[(digit_low + digit_high).div_ceil(2)]]);
    }
    // Adjacent first digits.
    if let Some(high) = high {
        if high.len() > 1 {
            return Ok(vec![high[0]]);
        }
    }
    let mut out = vec![DIGITS[digit_low]];
    out.extend(midpoint(low.get(1..).unwrap_or(&[]), None)?);
    Ok(out)
}

fn join(integer: &str, fraction: Vec<u8>) -> Result<String, PositionError> {
    let mut out = integer.as_bytes().to_vec();
    out.extend(fraction);
    String::from_utf8(out).map_err(|_| PositionError::BadCharacter)
}

/// A key strictly between `low` and `high`; `None` bounds are open ends. `between(None, None)` is
/// [`FIRST`].
pub fn between(low: Option<&str>, high: Option<&str>) -> Result<String, PositionError> {
    if let Some(low) = low {
        validate(low)?;
    }
    if let Some(high) = high {
        validate(high)?;
    }
    match (low, high) {
        (None, None) => Ok(FIRST.to_string()),
        (None, Some(high)) => {
            let (integer, fraction) = split(high)?;
            if integer == SMALLEST_INTEGER {
                return join(integer, midpoint(&[], Some(fraction.as_bytes()))?);
            }
            if !fraction.is_empty() {
                // The bare integer part sorts before any of its extensions.
                return Ok(integer.to_string());
            }
            decrement_integer(integer).ok_or(PositionError::Exhausted)
        }
        (Some(low), None) => {
            let (integer, fraction) = split(low)?;
            match increment_integer(integer) {
                Some(next) => Ok(next),
                None => join(integer, midpoint(fraction.as_bytes(), None)?),
            }
        }
        (Some(low), Some(high)) => {
            if low >= high {
                return Err(PositionError::OutOfOrder);
            }
            let (low_int, low_frac) = split(low)?;
            let (high_int, high_frac) = split(high)?;
            if low_int == high_int {
                return join(
                    low_int,
                    midpoint(low_frac.as_bytes(), Some(high_frac.as_bytes()))?,
                );
            }
            let next = increment_integer(low_int).ok_or(PositionError::Exhausted)?;
            if next.as_str() < high {
                Ok(next)
            } else {
                join(low_int, midpoint(low_frac.as_bytes(), None)?)
            }
        }
    }
}

/// A key before `first` (the top of a list whose smallest key is `first`; [`FIRST`] if empty).
pub fn before(first: Option<&str>) -> Result<String, PositionError> {
    between(None, first)
}

/// A key after `last` (the bottom of a list whose largest key is `last`; [`FIRST`] if empty).
pub fn after(last: Option<&str>) -> Result<String, PositionError> {
    between(last, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b(low: Option<&str>, high: Option<&str>) -> Result<String, PositionError> {
        between(low, high)
    }

    #[test]
    fn known_keys() {
        let smallest_plus = format!("{SMALLEST_INTEGER}1");
        let top_z = format!("z{}", "z".repeat(26));
        let cases: Vec<(Option<&str>, Option<&str>, &str)> = vec![
            (None, None, "a0"),
            (None, Some("a0"), "Zz"),
            (None, Some("Zz"), "Zy"),
            (None, Some("Z0"), "Yzz"),
            (None, Some("a0V"), "a0"),
            (None, Some("b999"), "b99"),
            (Some("a0"), None, "a1"),
            (Some("az"), None, "b00"),
            (Some("Zz"), None, "a0"),
            (Some("b125"), None, "b13"),
            (Some("a0"), Some("a1"), "a0V"),
            (Some("a1"), Some("a2"), "a1V"),
            (Some("a0"), Some("a0V"), "a0G"),
            (Some("a0V"), Some("a1"), "a0l"),
            (Some("Zz"), Some("a01"), "a0"),
            (Some("Zz"), Some("a0"), "ZzV"),
        ];
        for (low, high, expected) in cases {
            assert_eq!(b(low, high).as_deref(), Ok(expected), "{low:?}..{high:?}");
        }
        assert_eq!(
            b(None, Some(&smallest_plus)).unwrap(),
            format!("{SMALLEST_INTEGER}0V")
        );
        assert_eq!(b(Some(&top_z), None).unwrap(), format!("{top_z}V"));
    }

    #[test]
    fn invalid_keys_and_bounds() {
        assert_eq!(validate(""), Err(PositionError::Empty));
        assert_eq!(validate("a"), Err(PositionError::Truncated));
        assert_eq!(validate("b0"), Err(PositionError::Truncated));
        assert_eq!(validate("a00"), Err(PositionError::NotCanonical));
        assert_eq!(validate(SMALLEST_INTEGER), Err(PositionError::NotCanonical));
        assert_eq!(validate("0"), Err(PositionError::BadCharacter));
        assert_eq!(validate("a-"), Err(PositionError::BadCharacter));
        assert_eq!(validate("a0 "), Err(PositionError::BadCharacter));
        assert_eq!(validate("aé"), Err(PositionError::BadCharacter));
        assert_eq!(
            validate(&format!("a{}", "1".repeat(MAX_KEY_LEN))),
            Err(PositionError::TooLong)
        );
        for ok in [
            "a0",
            "Zz",
            "a0V",
            "b00",
            "Yzz",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        assert_eq!(b(Some("a0"), Some("a0")), Err(PositionError::OutOfOrder));
        assert_eq!(b(Some("a1"), Some("a0")), Err(PositionError::OutOfOrder));
        assert_eq!(b(Some("a00"), None), Err(PositionError::NotCanonical));
    }

    /// Deterministic pseudo-random sequence (no RNG dependency in the assertion loop).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    #[test]
    fn random_inserts_keep_a_strict_canonical_order() {
        let mut rng = Lcg(7);
        let mut keys: Vec<String> = vec![between(None, None).unwrap()];
        for _ in 0..2000 {
            let slot = rng.next(keys.len() + 1);
            let low = slot.checked_sub(1).map(|i| keys[i].as_str());
            let high = keys.get(slot).map(String::as_str);
            let key = between(low, high).unwrap();
            validate(&key).unwrap();
            if let Some(low) = low {
                assert!(low < key.as_str(), "{low} < {key}");
            }
            if let Some(high) = high {
                assert!(key.as_str() < high, "{key} < {high}");
            }
            keys.insert(slot, key);
        }
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, keys);
    }

    #[test]
    fn repeated_prepends_and_appends_stay_short() {
        let mut first = between(None, None).unwrap();
        for _ in 0..500 {
            let next = before(Some(&first)).unwrap();
            assert!(next < first);
            first = next;
        }
        assert!(first.len() <= 4, "{first}");
        let mut last = FIRST.to_string();
        for _ in 0..500 {
            let next = after(Some(&last)).unwrap();
            assert!(next > last);
            last = next;
        }
        assert!(last.len() <= 4, "{last}");
    }
}
