//! Who is on the other end of a request: the TCP peer, unless that peer is one of `server.trusted_proxies`, in
//! which case the forwarding headers it added are followed back to the first address that is not a trusted
//! proxy. A client can write anything into `X-Forwarded-For`; only a trusted proxy's word counts, so the
//! allow-list of Smartro's notifiers and the buyer's UserIP cannot be spoofed with a header.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

pub fn is_in(addr: IpAddr, nets: &[IpNet]) -> bool {
    let addr = canonical(addr);
    nets.iter().any(|net| net.contains(&addr))
}

/// An IPv4 address that arrived as IPv4-mapped IPv6 (`::ffff:10.0.0.1`, from a dual-stack socket) is compared as
/// the IPv4 address it is.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client address of a request that arrived from `peer`.
///
/// When `peer` is a trusted proxy, a forwarding chain is read from the right, the side the trusted proxies
/// appended to: each trusted hop is skipped and the first untrusted one is the client. An entry that does not
/// parse ends the walk at the last hop known good, since everything left of it may be the client's own invention.
///
/// A proxy appends to one of `X-Forwarded-For` and `Forwarded` and passes the other on as the client sent it, so
/// neither can be preferred blindly: when both are present, both are walked, and unless they name the same client
/// the proxy itself is taken as the client (whose address no allow-list should hold).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_in(peer, trusted) {
        return peer;
    }
    let forwarded = chain(headers, "forwarded", forwarded_for);
    let x_forwarded_for = chain(headers, "x-forwarded-for", parse_node);
    match (forwarded.is_empty(), x_forwarded_for.is_empty()) {
        (true, true) => peer,
        (false, true) => walk(peer, &forwarded, trusted),
        (true, false) => walk(peer, &x_forwarded_for, trusted),
        (false, false) => {
            let a = walk(peer, &forwarded, trusted);
            let b = walk(peer, &x_forwarded_for, trusted);
            if a == b {
                a
            } else {
                peer
            }
        }
    }
}

fn walk(peer: IpAddr, chain: &[Option<IpAddr>], trusted: &[IpNet]) -> IpAddr {
    let mut current = peer;
    for hop in chain.iter().rev() {
        let Some(addr) = hop else {
            return current;
        };
        current = canonical(*addr);
        if !is_in(current, trusted) {
            return current;
        }
    }
    current
}

/// The entries of every `name` header line, leftmost (the original client as claimed) first. `None` marks an
/// entry that is not an address (`unknown`, an obfuscated identifier, garbage).
fn chain(
    headers: &HeaderMap,
    name: &str,
    parse: impl Fn(&str) -> Option<IpAddr>,
) -> Vec<Option<IpAddr>> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().ok())
        // A header line that is not text is garbage too: it must not be skipped as if absent.
        .flat_map(|v| match v {
            Some(v) => v.split(',').map(&parse).collect::<Vec<_>>(),
            None => vec![None],
        })
        .collect()
}

/// The `for=` node of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, value)| parse_node(value))
}

/// `203.0.113.7`, `"[2001:db8::1]:4711"`, `198.51.100.2:8080`.
fn parse_node(value: &str) -> Option<IpAddr> {
    let value = value.trim().trim_matches('"');
    if let Ok(addr) = value.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    value
        .strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|inner| inner.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=1.2.3.4"),
        ]);
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &nets(&["10.0.0.0/8"])),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_proxy_is_followed_to_the_first_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the leftmost entry; the proxy appended the real one.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // Several header lines form one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn forwarded_is_read_like_x_forwarded_for() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            client_ip(ip("10.1.1.1"), &h, &trusted),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "For=\"198.51.100.2:8080\"")]);
        assert_eq!(client_ip(ip("10.1.1.1"), &h, &trusted), ip("198.51.100.2"));
    }

    #[test]
    fn a_client_sent_header_beside_the_proxys_own_counts_for_nothing() {
        let trusted = nets(&["10.0.0.0/8"]);
        // nginx appends to X-Forwarded-For and passes the client's Forwarded through: the two disagree.
        let h = headers(&[
            ("forwarded", "for=127.0.0.2"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
        // And the other way round.
        let h = headers(&[
            ("x-forwarded-for", "127.0.0.2"),
            ("forwarded", "for=198.51.100.7"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
        // A proxy that writes both, consistently, is followed.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=198.51.100.7"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn garbage_stops_at_the_last_known_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, not-an-ip, 10.0.0.5")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.5"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert!(is_in(ip("::ffff:127.0.0.2"), &nets(&["127.0.0.2/32"])));
        assert_eq!(
            client_ip(ip("::ffff:198.51.100.1"), &HeaderMap::new(), &[]),
            ip("198.51.100.1")
        );
    }
}
