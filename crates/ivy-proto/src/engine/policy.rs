//! Which hosts may join: an allow-list of addresses and networks (`a.b.c.d/len`,
//! IPv6 too). Empty means everyone, as ivy-c. Others are ignored at hello and
//! refused at accept.

use std::net::IpAddr;
use std::str::FromStr;
use thiserror::Error;

/// An allow-list entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AllowListError {
    /// Not an IPv4 or IPv6 address.
    #[error("bad address '{0}'")]
    Address(String),
    /// A prefix length that is not a number, or longer than the address.
    #[error("bad prefix in '{0}'")]
    Prefix(String),
}

/// One address or network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix) == masked(ip.into(), 128, self.prefix)
            }
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip.to_ipv4_mapped().is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    let drop = u32::from(width.saturating_sub(prefix));
    bits.checked_shr(drop).unwrap_or(0)
}

impl FromStr for Network {
    type Err = AllowListError;

    /// `127.0.0.1`, `10.0.0.0/8`, `::1`, `fe80::/10`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr.parse().map_err(|_| AllowListError::Address(s.to_owned()))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => {
                p.parse::<u8>().ok().filter(|&p| p <= width).ok_or_else(|| AllowListError::Prefix(s.to_owned()))?
            }
        };
        Ok(Network { addr, prefix })
    }
}

/// The hosts allowed on the bus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    networks: Vec<Network>,
}

impl AllowList {
    /// Parses a comma-separated list, e.g. `127.0.0.0/8,192.168.1.7`.
    pub fn parse(list: &str) -> Result<AllowList, AllowListError> {
        let networks = list.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<_, _>>()?;
        Ok(AllowList { networks })
    }

    /// Whether `ip` may join.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.networks.is_empty() || self.networks.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn empty_allows_everyone() {
        assert!(AllowList::default().allows(ip("10.1.2.3")));
        assert!(AllowList::parse(" , ").unwrap().allows(ip("::1")));
    }

    #[test]
    fn networks_and_hosts() {
        let a = AllowList::parse("127.0.0.0/8, 192.168.1.7, fe80::/10").unwrap();
        assert!(a.allows(ip("127.200.0.1")));
        assert!(a.allows(ip("192.168.1.7")));
        assert!(!a.allows(ip("192.168.1.8")));
        assert!(a.allows(ip("fe80::1")));
        assert!(!a.allows(ip("::1")));
        assert!(a.allows(ip("::ffff:127.0.0.1")));
        assert!(AllowList::parse("0.0.0.0/0").unwrap().allows(ip("8.8.8.8")));
    }

    #[test]
    fn bad_entries_are_errors() {
        assert_eq!(AllowList::parse("300.1.1.1"), Err(AllowListError::Address("300.1.1.1".into())));
        assert_eq!(AllowList::parse("10.0.0.0/33"), Err(AllowListError::Prefix("10.0.0.0/33".into())));
        assert_eq!(AllowList::parse("10.0.0.0/x"), Err(AllowListError::Prefix("10.0.0.0/x".into())));
    }
}
