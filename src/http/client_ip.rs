//! Who the client is, for per-address rate limits (status page subscriptions, web login):
//! the TCP peer, unless that peer is a trusted reverse proxy (`[server] trusted_proxies`),
//! in which case `X-Forwarded-For` is read from the right, skipping trusted hops, and the
//! first untrusted address is the client. A header from an untrusted peer is ignored, so
//! clients cannot pick their own address.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// An address block such as `127.0.0.1/32`, `10.0.0.0/8` or `::1/128`; a bare address is
/// one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not an address or address/prefix");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(address.trim().parse::<IpAddr>().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(format!("{text:?}: the prefix is at most {max}"));
        }
        Ok(Cidr { network, prefix })
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, as dual-stack sockets report them)
/// compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The client's address for rate limits, or `"unknown"` when there is no peer (tests
/// calling handlers directly).
pub fn client_ip(extensions: &Extensions, headers: &HeaderMap, trusted: &[Cidr]) -> String {
    let Some(peer) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".into();
    };
    resolve(canonical(peer.0.ip()), headers, trusted).to_string()
}

fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Several headers count as one list, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A malformed hop was written by someone we cannot vouch for: stop at the last
        // trusted one.
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn with_peer(peer: &str) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40_000)));
        extensions
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains("10.1.255.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.9".parse().unwrap()));
        let host: Cidr = "::1".parse().unwrap();
        assert!(host.contains("::1".parse().unwrap()));
        assert!(!host.contains("::2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.7".parse().unwrap()));
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err("\"10.0.0.0/33\": the prefix is at most 32".into())
        );
        assert_eq!(
            "proxy".parse::<Cidr>(),
            Err("\"proxy\" is not an address or address/prefix".into())
        );
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = cidrs(&["127.0.0.1/32"]);
        let headers = forwarded(&["198.51.100.4"]);

        assert_eq!(
            client_ip(&with_peer("127.0.0.1"), &headers, &trusted),
            "198.51.100.4"
        );
        assert_eq!(
            client_ip(&with_peer("192.0.2.9"), &headers, &trusted),
            "192.0.2.9",
            "an untrusted peer cannot choose its address"
        );
        assert_eq!(
            client_ip(&with_peer("127.0.0.1"), &headers, &[]),
            "127.0.0.1"
        );
        assert_eq!(client_ip(&Extensions::new(), &headers, &trusted), "unknown");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = cidrs(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = with_peer("127.0.0.1");

        // The client forged the first entry; the proxies appended the rest.
        let headers = forwarded(&["6.6.6.6, 198.51.100.4", "10.0.0.2"]);
        assert_eq!(client_ip(&peer, &headers, &trusted), "198.51.100.4");
        let all_proxies = forwarded(&["10.0.0.3, 10.0.0.2"]);
        assert_eq!(client_ip(&peer, &all_proxies, &trusted), "10.0.0.3");
        let garbage = forwarded(&["198.51.100.4, not-an-ip, 10.0.0.2"]);
        assert_eq!(client_ip(&peer, &garbage, &trusted), "10.0.0.2");
        assert_eq!(client_ip(&peer, &HeaderMap::new(), &trusted), "127.0.0.1");
    }
}
