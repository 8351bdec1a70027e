//! scanf/atoi-like scanning helpers shared by the line, hello and bus parsers.

/// C `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Skips leading C whitespace.
pub(crate) fn skip_space(input: &[u8]) -> &[u8] {
    let n = input.iter().take_while(|&&b| is_c_space(b)).count();
    input.get(n..).unwrap_or_default()
}

/// Skips whitespace, then an optional sign; returns (negative, rest).
pub(crate) fn split_sign(input: &[u8]) -> (bool, &[u8]) {
    let s = skip_space(input);
    match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    }
}

/// Splits off the leading ASCII digits.
pub(crate) fn split_digits(input: &[u8]) -> (&[u8], &[u8]) {
    let n = input.iter().take_while(|b| b.is_ascii_digit()).count();
    input.split_at(n)
}

/// scanf `%d`: whitespace, optional sign, at least one digit. Overflow saturates to
/// `i32::MIN`/`i32::MAX`. Returns the value and the unread rest, or None without digits.
pub(crate) fn scan_int(input: &[u8]) -> Option<(i32, &[u8])> {
    let (negative, s) = split_sign(input);
    let (digits, rest) = split_digits(s);
    if digits.is_empty() {
        return None;
    }
    let limit = i64::from(i32::MAX) + 1;
    let magnitude = digits.iter().fold(0i64, |acc, &d| (acc * 10 + i64::from(d - b'0')).min(limit));
    let value = if negative { -magnitude } else { magnitude };
    let value = value.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    Some((i32::try_from(value).unwrap_or_default(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_int_cases() {
        assert_eq!(scan_int(b" \t\x0b-12x"), Some((-12, &b"x"[..])));
        assert_eq!(scan_int(b"+7"), Some((7, &b""[..])));
        assert_eq!(scan_int(b"- 7"), None);
        assert_eq!(scan_int(b""), None);
        assert_eq!(scan_int(b"99999999999999999999999"), Some((i32::MAX, &b""[..])));
        assert_eq!(scan_int(b"-2147483648"), Some((i32::MIN, &b""[..])));
        assert_eq!(scan_int(b"-99999999999"), Some((i32::MIN, &b""[..])));
    }
}
