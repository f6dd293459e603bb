//! Values of the HTTPS edge: the public URL that redirects point to, and the
//! networks whose `X-Forwarded-For` is believed.

use std::fmt;
use std::net::IpAddr;

/// The canonical `https://host[:port]` of the service: redirects and links
/// are built from it, never from a client's `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://host` or `https://host:port`, no trailing slash.
    origin: String,
    host: String,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
        if url.scheme() != "https" {
            return Err(format!("`{raw}` must start with https://"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(format!("`{raw}` has no host")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{raw}` must not contain a user name or password"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!("`{raw}` must be only scheme, host and port (no path, query or fragment)"));
        }
        Ok(Self { origin: url.origin().ascii_serialization(), host })
    }

    /// The URL for `path_and_query` (which starts with `/`) on this origin.
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }

    /// The host name or address, without brackets or port (for certificates).
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `::1/128`); a bare address is
/// a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("`{raw}` is not an address or a network like 10.0.0.0/8 or fd00::/8");
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let address: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(bad)?,
            None => bits,
        };
        let network = Self { address, prefix };
        if !network.contains(address) || network.mask(address) != address_bits(address) {
            return Err(format!("`{raw}` has bits set after the /{prefix} prefix"));
        }
        Ok(network)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.address.is_ipv4() && self.mask(ip) == address_bits(self.address)
    }

    fn mask(&self, ip: IpAddr) -> u128 {
        let (bits, total) = (address_bits(ip), if ip.is_ipv4() { 32 } else { 128 });
        let host_bits = u32::from(total - self.prefix);
        if host_bits >= 128 { 0 } else { bits & !((1u128 << host_bits) - 1) }
    }
}

fn address_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn public_urls_keep_only_the_origin() {
        assert_eq!(
            PublicUrl::parse("https://notes.example.com").unwrap().join("/a?b=1"),
            "https://notes.example.com/a?b=1"
        );
        assert_eq!(
            PublicUrl::parse("https://Notes.Example.com:443/").unwrap().to_string(),
            "https://notes.example.com"
        );
        assert_eq!(PublicUrl::parse("https://[::1]:8443").unwrap().host(), "::1");
        assert_eq!(PublicUrl::parse("https://[::1]:8443").unwrap().to_string(), "https://[::1]:8443");
        for bad in [
            "http://notes.example.com",
            "https://notes.example.com/app",
            "notes.example.com",
            "https://u:p@h",
            "https://h/?q",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_match_their_addresses_only() {
        let lan = Network::parse("192.168.0.0/16").unwrap();
        assert!(lan.contains("192.168.4.5".parse().unwrap()));
        assert!(lan.contains("::ffff:192.168.4.5".parse().unwrap()));
        assert!(!lan.contains("192.169.0.1".parse().unwrap()));
        assert!(!lan.contains("::1".parse().unwrap()));
        let one = Network::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "nope", "10.0.0.0/x", ""] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }
}
