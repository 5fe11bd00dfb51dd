//! The proxy environment variables, read as curl reads them: `https_proxy`/`HTTPS_PROXY` for
//! wss://, `http_proxy` for ws:// (lowercase only: `HTTP_PROXY` can be set by a CGI request's
//! `Proxy:` header), `all_proxy`/`ALL_PROXY` for both, and `no_proxy`/`NO_PROXY`.

use super::Proxy;
use crate::error::Error;
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct EnvProxies {
    pub http: Option<Proxy>,
    pub https: Option<Proxy>,
    pub all: Option<Proxy>,
}

impl EnvProxies {
    pub fn from_env(get: &impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let first = |names: &[&str]| -> Result<Option<Proxy>, Error> {
            for name in names {
                if let Some(v) = get(name).filter(|v| !v.trim().is_empty()) {
                    return v
                        .parse()
                        .map(Some)
                        .map_err(|e: Error| Error::usage(format!("{name}: {e}")));
                }
            }
            Ok(None)
        };
        Ok(EnvProxies {
            http: first(&["http_proxy"])?,
            https: first(&["https_proxy", "HTTPS_PROXY"])?,
            all: first(&["all_proxy", "ALL_PROXY"])?,
        })
    }

    pub fn for_scheme(&self, secure: bool) -> Option<&Proxy> {
        let own = if secure { &self.https } else { &self.http };
        own.as_ref().or(self.all.as_ref())
    }
}

/// Hosts that go direct: `*` (all), names (which match their subdomains too, with or without
/// a leading dot), IP addresses and CIDR ranges (which match IP literals only: no lookup).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NoProxy {
    all: bool,
    names: Vec<String>,
    ranges: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    pub fn from_env(get: &impl Fn(&str) -> Option<String>) -> Self {
        get("no_proxy")
            .or_else(|| get("NO_PROXY"))
            .map_or_else(NoProxy::default, |v| NoProxy::parse(&v))
    }

    pub fn parse(list: &str) -> Self {
        let mut np = NoProxy::default();
        for entry in list.split([',', ' ', '\t']).map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                np.all = true;
                continue;
            }
            let bare = entry.trim_start_matches('[');
            let (addr, bits) = match bare.split_once('/') {
                Some((a, b)) => (a, b.parse::<u8>().ok()),
                None => (bare, None),
            };
            if let Ok(ip) = addr.trim_end_matches(']').parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                np.ranges.push((ip, bits.unwrap_or(max).min(max)));
            } else {
                np.names.push(
                    entry
                        .trim_start_matches('.')
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                );
            }
        }
        np
    }

    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .ranges
                .iter()
                .any(|&(net, bits)| in_range(ip, net, bits));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|n| {
            host == *n
                || (host.len() > n.len()
                    && host.ends_with(n.as_str())
                    && host.as_bytes()[host.len() - n.len() - 1] == b'.')
        })
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |a: u128, b: u128, width: u32| {
        let shift = width - u32::from(bits);
        shift >= width || (a >> shift) == (b >> shift)
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix(u32::from(a).into(), u32::from(b).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix(u128::from(a), u128::from(b), 128),
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_range(IpAddr::V4(a), net, bits)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_hosts_domains_cidr_and_star() {
        let np =
            NoProxy::parse("localhost, .corp.example,example.org ,10.0.0.0/8,[::1],192.168.1.7");
        for host in [
            "localhost",
            "LOCALHOST",
            "a.corp.example",
            "corp.example",
            "example.org",
            "www.example.org",
            "10.200.3.4",
            "::1",
            "192.168.1.7",
        ] {
            assert!(np.matches(host), "{host}");
        }
        for host in [
            "notexample.org",
            "example.org.evil",
            "11.0.0.1",
            "192.168.1.8",
            "::2",
            "corp.example.com",
        ] {
            assert!(!np.matches(host), "{host}");
        }
        assert!(NoProxy::parse("*").matches("anything"));
        assert!(!NoProxy::parse("").matches("anything"));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8"));
        assert!(NoProxy::parse("fd00::/8").matches("fd12::1"));
        assert!(!NoProxy::parse("fd00::/8").matches("fe80::1"));
    }

    #[test]
    fn environment_variables_as_curl_reads_them() {
        let get = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        // HTTP_PROXY (uppercase) is not read; HTTPS_PROXY is.
        let e =
            EnvProxies::from_env(&get(&[("HTTP_PROXY", "h:1"), ("HTTPS_PROXY", "h:2")])).unwrap();
        assert!(e.for_scheme(false).is_none());
        assert_eq!(e.for_scheme(true).unwrap().port, 2);
        let e =
            EnvProxies::from_env(&get(&[("https_proxy", "h:3"), ("HTTPS_PROXY", "h:2")])).unwrap();
        assert_eq!(e.for_scheme(true).unwrap().port, 3);
        let e = EnvProxies::from_env(&get(&[("ALL_PROXY", "socks5h://h:4"), ("http_proxy", "")]))
            .unwrap();
        assert_eq!(e.for_scheme(false).unwrap().port, 4);
        assert_eq!(e.for_scheme(true).unwrap().port, 4);
        let bad = EnvProxies::from_env(&get(&[("http_proxy", "ftp://u:s3cret@h")])).unwrap_err();
        assert!(bad.to_string().starts_with("http_proxy: "), "{bad}");
        assert!(!bad.to_string().contains("s3cret"), "{bad}");
        let np = NoProxy::from_env(&get(&[("NO_PROXY", "a"), ("no_proxy", "b")]));
        assert!(np.matches("b") && !np.matches("a"));
    }
}
