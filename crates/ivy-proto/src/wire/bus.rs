//! The bus string `networks:port` (spec §1.2), parsed with ivy-c's rules.

use super::scan::{split_digits, split_sign};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The compiled default bus (ivy-c on Linux).
pub const DEFAULT_BUS: &str = "127.255.255.255:2010";
/// The UDP bus port used when the bus string gives none (or 0).
pub const DEFAULT_PORT: u16 = 2010;
/// The network list of [`DEFAULT_BUS`], used for a bus string starting with ':'.
pub const DEFAULT_NETWORK: &str = "127.255.255.255";

/// A parsed bus string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusSpec {
    /// The UDP bus port.
    pub port: u16,
    /// Where hellos go, in order: broadcast, unicast or multicast addresses.
    pub targets: Vec<IpAddr>,
    /// IPv6 mode: the one target is an IPv6 address and every socket is AF_INET6.
    pub ipv6: bool,
    /// Bad IPv4 elements (trimmed, as written), skipped; ivy-c prints
    /// `bad broadcast address` for each.
    pub bad_elements: Vec<String>,
}

impl BusSpec {
    /// multicast targets (IPv4 class D, or IPv6 multicast)
    pub fn multicast_groups(&self) -> Vec<IpAddr> {
        self.targets.iter().copied().filter(IpAddr::is_multicast).collect()
    }
}

/// C `atoi` cast to `unsigned short`: whitespace, sign, leading digits; wraps mod 65536.
fn atoi_u16(text: &str) -> u16 {
    let (negative, s) = split_sign(text.as_bytes());
    let (digits, _) = split_digits(s);
    let value = digits.iter().fold(0u16, |acc, &d| acc.wrapping_mul(10).wrapping_add(u16::from(d - b'0')));
    if negative { value.wrapping_neg() } else { value }
}

/// One IPv4 list element: up to four dot-separated decimal bytes (each mod 256), missing
/// trailing bytes 255, spaces ignored; None for any other character or a fifth byte.
fn parse_element(element: &str) -> Option<Ipv4Addr> {
    let mut octets = [255u8; 4];
    let mut index = 0;
    let mut byte = 0u8;
    for c in element.bytes() {
        match c {
            b' ' => {}
            b'0'..=b'9' => byte = byte.wrapping_mul(10).wrapping_add(c - b'0'),
            b'.' if index < 3 => {
                *octets.get_mut(index)? = byte;
                index += 1;
                byte = 0;
            }
            _ => return None,
        }
    }
    *octets.get_mut(index)? = byte;
    Some(Ipv4Addr::from(octets))
}

/// Parses a bus string like ivy-c's `IvyStart`. Never panics.
///
/// - `bus` None or "" -> `ivybus_env` (the caller passes `std::env::var("IVYBUS").ok()`);
///   None or "" -> [`DEFAULT_BUS`].
/// - Port: the text after the LAST ':', read with C `atoi` (leading digits) and cast to
///   an unsigned short (wraps: 70000 -> 4464). Zero after the cast (no colon, no digits,
///   "0", 65536) -> [`DEFAULT_PORT`].
/// - IPv6: if the text before the last colon parses as an IPv6 address, `ipv6` is true
///   and that one address is the only target.
/// - A leading ':' (":3456") -> the default network list ([`DEFAULT_NETWORK`]).
/// - IPv4 list: elements separated by ',', the list ends at the first ':'
///   ("127.0.0.1:3456:3457" -> port 3457, only 127.0.0.1). Each element is up to four
///   dot-separated decimal bytes, missing trailing bytes 255 (127 -> 127.255.255.255);
///   spaces ignored anywhere; a byte is kept modulo 256 (1234 -> 210); an empty element
///   gives octet 0 (0.255.255.255); a trailing dot gives 0 ("127." -> 127.0.255.255).
/// - Any other character, or a fifth byte, makes the element bad: it is pushed, trimmed,
///   to `bad_elements` and skipped.
pub fn parse_bus(bus: Option<&str>, ivybus_env: Option<&str>) -> BusSpec {
    let text = [bus, ivybus_env].into_iter().flatten().find(|s| !s.is_empty()).unwrap_or(DEFAULT_BUS);
    let (before_last, port) = match text.rsplit_once(':') {
        Some((before, after)) => (Some(before), atoi_u16(after)),
        None => (None, 0),
    };
    let port = if port == 0 { DEFAULT_PORT } else { port };
    if let Some(addr) = before_last.and_then(|b| b.parse::<Ipv6Addr>().ok()) {
        return BusSpec { port, targets: vec![IpAddr::V6(addr)], ipv6: true, bad_elements: Vec::new() };
    }
    let list = match text.split(':').next() {
        Some("") | None => DEFAULT_NETWORK,
        Some(list) => list,
    };
    let mut spec = BusSpec { port, targets: Vec::new(), ipv6: false, bad_elements: Vec::new() };
    for element in list.split(',') {
        match parse_element(element) {
            Some(addr) => spec.targets.push(IpAddr::V4(addr)),
            None => spec.bad_elements.push(element.trim().to_owned()),
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(spec: &BusSpec) -> Vec<String> {
        spec.targets.iter().map(IpAddr::to_string).collect()
    }

    fn check(bus: &str, port: u16, targets: &[&str], bad: &[&str]) {
        let spec = parse_bus(Some(bus), None);
        assert_eq!((spec.port, v4(&spec)), (port, targets.iter().map(|s| s.to_string()).collect()), "{bus}");
        assert_eq!(spec.bad_elements, bad, "{bus}");
        assert!(!spec.ipv6);
    }

    #[test]
    fn ipv4_lists() {
        check("127,127.0.0.1, 127.1.2:3456", 3456, &["127.255.255.255", "127.0.0.1", "127.1.2.255"], &[]);
        check(":3456", 3456, &["127.255.255.255"], &[]);
        check("127.0.0.1.5:3456", 3456, &[], &["127.0.0.1.5"]);
        check("abc,127.0.0.1:3456", 3456, &["127.0.0.1"], &["abc"]);
        check("127.0.0.1", 2010, &["127.0.0.1"], &[]);
        check("127.0.0.1:3456:3457", 3457, &["127.0.0.1"], &[]);
        check("192.168.1", 2010, &["192.168.1.255"], &[]);
        check("1234", 2010, &["210.255.255.255"], &[]);
        check("127.", 2010, &["127.0.255.255"], &[]);
        check(",127:5", 5, &["0.255.255.255", "127.255.255.255"], &[]);
        check(" 1 2 7 . 0 :9", 9, &["127.0.255.255"], &[]);
        check("127.0.0.1.:9", 9, &[], &["127.0.0.1."]);
        check("1\t27, x y :9", 9, &[], &["1\t27", "x y"]);
        check("127.0.0.é", 2010, &[], &["127.0.0.é"]);
    }

    #[test]
    fn ports() {
        check("127:0", 2010, &["127.255.255.255"], &[]);
        check("127:abc", 2010, &["127.255.255.255"], &[]);
        check("127:", 2010, &["127.255.255.255"], &[]);
        check("127: 42xyz", 42, &["127.255.255.255"], &[]);
        check("127:70000", 4464, &["127.255.255.255"], &[]);
        check("127:65536", 2010, &["127.255.255.255"], &[]);
        check("127:-1", 65535, &["127.255.255.255"], &[]);
    }

    #[test]
    fn defaults_and_env() {
        let default = parse_bus(None, None);
        assert_eq!((default.port, v4(&default)), (2010, vec!["127.255.255.255".to_string()]));
        assert_eq!(parse_bus(Some(""), Some("")), default);
        assert_eq!(parse_bus(Some(DEFAULT_BUS), None), default);
        for bus in [None, Some("")] {
            let spec = parse_bus(bus, Some("127:2345"));
            assert_eq!((spec.port, v4(&spec)), (2345, vec!["127.255.255.255".to_string()]));
        }
        assert_eq!(parse_bus(Some("10:7"), Some("127:2345")).port, 7);
    }

    #[test]
    fn multicast_and_ipv6() {
        let spec = parse_bus(Some("224.5.6.7:3000"), None);
        assert_eq!((spec.port, spec.ipv6), (3000, false));
        assert_eq!(spec.multicast_groups(), ["224.5.6.7".parse::<IpAddr>().unwrap()]);
        let spec = parse_bus(Some("127,239.1.2.3,240.0.0.1:1"), None);
        assert_eq!(spec.multicast_groups(), ["239.1.2.3".parse::<IpAddr>().unwrap()]);
        let spec = parse_bus(Some("::1:4000"), None);
        assert_eq!((spec.port, spec.ipv6), (4000, true));
        assert_eq!(spec.targets, ["::1".parse::<IpAddr>().unwrap()]);
        assert!(spec.multicast_groups().is_empty());
        let spec = parse_bus(Some("ff02::1:4000"), None);
        assert_eq!((spec.port, spec.ipv6), (4000, true));
        let group = "ff02::1".parse::<IpAddr>().unwrap();
        assert_eq!((spec.targets.clone(), spec.multicast_groups()), (vec![group], vec![group]));
        // Not IPv6 before the last colon: IPv4 rules, bad element.
        let spec = parse_bus(Some("ff02::zz:4000"), None);
        assert_eq!((spec.ipv6, spec.bad_elements), (false, vec!["ff02".to_string()]));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for bus in [":", "::", ",", "\u{0}:\u{0}", "é:é", "1.2.3.4.5.6.7:65535", "[::1]:4000"] {
            let _ = parse_bus(Some(bus), None);
        }
    }
}
