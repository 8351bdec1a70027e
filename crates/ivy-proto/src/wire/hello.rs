//! The UDP hello datagram (spec §1.1, §1.4): `"3 <port> <app_id> <app_name>\n"`.

use super::codec::{LF, push_decimal};
use super::scan::{is_c_space, scan_int, skip_space};

/// The protocol major version carried by every hello.
pub const PROTOCOL_VERSION: i32 = 3;
/// Longest accepted application id, in bytes (ivy-c's buffer size).
pub const MAX_HELLO_ID: usize = 128;
/// Longest accepted application name, in bytes (ivy-c's buffer size).
pub const MAX_HELLO_NAME: usize = 2048;

/// A parsed hello line; the byte fields borrow from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Protocol version (always [`PROTOCOL_VERSION`] in an `Ok`).
    pub version: i32,
    /// The sender's TCP listening port.
    pub port: u16,
    /// The sender's application id (empty for an old 2-field hello).
    pub app_id: &'a [u8],
    /// The sender's application name (may contain spaces; trailing spaces kept).
    pub app_name: &'a [u8],
}

/// Why a hello line is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloError {
    /// Fewer than the two fields `version port` parse.
    TooFewFields,
    /// The version is not [`PROTOCOL_VERSION`].
    BadVersion(i32),
    /// The id is longer than [`MAX_HELLO_ID`] or the name than [`MAX_HELLO_NAME`].
    FieldTooLong,
    /// The port does not fit an unsigned 16-bit integer.
    BadPort,
}

impl HelloError {
    /// Whether the line is a hello of another protocol version (ivy-c reports that
    /// one on stderr, the others on stdout).
    pub fn is_version(&self) -> bool {
        matches!(self, HelloError::BadVersion(_))
    }
}

/// ivy-c's words for the errors it reports (§1.4), ours for the others.
impl std::fmt::Display for HelloError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelloError::TooFewFields => f.write_str("Bad supervision message, expected 'version port'"),
            HelloError::BadVersion(v) => write!(f, "Bad Ivy version, expected {PROTOCOL_VERSION} and got {v}"),
            HelloError::FieldTooLong => {
                write!(f, "Bad supervision message, id over {MAX_HELLO_ID} or name over {MAX_HELLO_NAME} bytes")
            }
            HelloError::BadPort => f.write_str("Bad supervision message, port out of range"),
        }
    }
}

/// Builds `"3 <port> <app_id> <app_name>\n"`.
pub fn encode_hello(port: u16, app_id: &[u8], app_name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + app_id.len() + app_name.len());
    push_decimal(&mut out, PROTOCOL_VERSION.into());
    out.push(b' ');
    push_decimal(&mut out, port.into());
    out.push(b' ');
    out.extend_from_slice(app_id);
    out.push(b' ');
    out.extend_from_slice(app_name);
    out.push(LF);
    out
}

/// Lines of one datagram, each parsed on its own (no glueing across datagrams): split on
/// LF, a last line without LF is still returned, empty lines skipped.
pub fn hello_lines(datagram: &[u8]) -> impl Iterator<Item = &[u8]> {
    datagram.split(|&b| b == LF).filter(|line| !line.is_empty())
}

/// scanf "%d %hu %s %[^\n]"-like: version (int), port (unsigned short; out of range ->
/// BadPort), app id (up to whitespace; space or tab separate), app name = rest of line
/// after the whitespace following the id (leading whitespace skipped, trailing spaces
/// kept). `3 P` (2 fields) is valid with empty id and name. Fewer than 2 fields ->
/// TooFewFields. version != 3 -> BadVersion(v) (checked after parsing 2 fields, before
/// the port range). id > MAX_HELLO_ID or name > MAX_HELLO_NAME -> FieldTooLong. The
/// line ends at its first LF, if any.
pub fn parse_hello(line: &[u8]) -> Result<Hello<'_>, HelloError> {
    let line = line.split(|&b| b == LF).next().unwrap_or_default();
    let (version, rest) = scan_int(line).ok_or(HelloError::TooFewFields)?;
    let (port, rest) = scan_int(rest).ok_or(HelloError::TooFewFields)?;
    if version != PROTOCOL_VERSION {
        return Err(HelloError::BadVersion(version));
    }
    let port = u16::try_from(port).map_err(|_| HelloError::BadPort)?;
    let rest = skip_space(rest);
    let id_len = rest.iter().take_while(|&&b| !is_c_space(b)).count();
    let (app_id, rest) = rest.split_at(id_len);
    let app_name = skip_space(rest);
    if app_id.len() > MAX_HELLO_ID || app_name.len() > MAX_HELLO_NAME {
        return Err(HelloError::FieldTooLong);
    }
    Ok(Hello { version, port, app_id, app_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &[u8]) -> (u16, &[u8], &[u8]) {
        let h = parse_hello(line).unwrap();
        assert_eq!(h.version, PROTOCOL_VERSION);
        (h.port, h.app_id, h.app_name)
    }

    #[test]
    fn encode_format() {
        // §11 case 1 / §1.1 example.
        let id = b"1109842109:1795353669916:37613";
        let bytes = encode_hello(37613, id, b"My Probe");
        assert_eq!(bytes, b"3 37613 1109842109:1795353669916:37613 My Probe\n");
        let lines: Vec<_> = hello_lines(&bytes).collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(ok(lines[0]), (37613, &id[..], &b"My Probe"[..]));
    }

    #[test]
    fn parse_fields() {
        assert_eq!(ok(b"3 1234"), (1234, &b""[..], &b""[..]));
        assert_eq!(ok(b"3 1234 \t "), (1234, &b""[..], &b""[..]));
        assert_eq!(ok(b"3 1234 id"), (1234, &b"id"[..], &b""[..]));
        assert_eq!(ok(b"3\t1234\tid\tname  x  "), (1234, &b"id"[..], &b"name  x  "[..]));
        assert_eq!(ok(b"  3   80   id    A B"), (80, &b"id"[..], &b"A B"[..]));
        assert_eq!(ok(b"3 0 id\r"), (0, &b"id"[..], &b""[..]));
        assert_eq!(ok(b"3 65535 id n\nignored"), (65535, &b"id"[..], &b"n"[..]));
        assert_eq!(ok(b"3 5 caf\xc3\xa9 \xff"), (5, &b"caf\xc3\xa9"[..], &b"\xff"[..]));
    }

    #[test]
    fn parse_errors() {
        use HelloError::*;
        assert_eq!(parse_hello(b"2 1234 id name"), Err(BadVersion(2)));
        assert_eq!(parse_hello(b"4 1234"), Err(BadVersion(4)));
        assert_eq!(parse_hello(b"2 70000"), Err(BadVersion(2)));
        for few in [&b""[..], b"3", b"3 ", b"3 x", b"x 1", b" \t"] {
            assert_eq!(parse_hello(few), Err(TooFewFields), "{few:?}");
        }
        assert_eq!(parse_hello(b"3 65536 id"), Err(BadPort));
        assert_eq!(parse_hello(b"3 -1 id"), Err(BadPort));
        assert_eq!(parse_hello(b"3 99999999999999 id"), Err(BadPort));
    }

    #[test]
    fn field_limits() {
        let id = vec![b'i'; MAX_HELLO_ID];
        let name = vec![b'n'; MAX_HELLO_NAME];
        let good = encode_hello(1, &id, &name);
        assert_eq!(ok(&good), (1, &id[..], &name[..]));
        let long_id = encode_hello(1, &[id.as_slice(), b"i"].concat(), b"n");
        assert_eq!(parse_hello(&long_id), Err(HelloError::FieldTooLong));
        let long_name = encode_hello(1, b"i", &[name.as_slice(), b"n"].concat());
        assert_eq!(parse_hello(&long_name), Err(HelloError::FieldTooLong));
    }

    #[test]
    fn datagram_lines() {
        // Two lines in one datagram; missing final LF; empty lines skipped.
        let lines: Vec<_> = hello_lines(b"3 1 a A\n\n3 2 b B\n").collect();
        assert_eq!(lines, [&b"3 1 a A"[..], b"3 2 b B"]);
        let lines: Vec<_> = hello_lines(b"3 3 id3 NoNewline").collect();
        assert_eq!(lines, [&b"3 3 id3 NoNewline"[..]]);
        assert_eq!(ok(lines[0]), (3, &b"id3"[..], &b"NoNewline"[..]));
        assert_eq!(hello_lines(b"").count(), 0);
        assert_eq!(hello_lines(b"\n\n").count(), 0);
    }
}
