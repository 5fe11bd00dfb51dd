//! curl's address overrides: `--resolve HOST:PORT:ADDR[,ADDR…]` answers a name without DNS,
//! `--connect-to HOST:PORT:HOST2:PORT2` connects somewhere else. Both leave the URL, and so
//! the Host header and the TLS name, as they are.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// `None` for curl's `*`: every name.
    host: Option<String>,
    port: u16,
    addrs: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// Empty parts match everything (from) or keep what was there (to), as in curl.
    host: Option<String>,
    port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub resolve: Vec<Resolve>,
    pub connect_to: Vec<ConnectTo>,
}

impl Overrides {
    /// Where to connect for `host:port`: the first `--connect-to` that matches, else itself.
    pub fn connect_to(&self, host: &str, port: u16) -> (String, u16) {
        for c in &self.connect_to {
            if c.host
                .as_deref()
                .is_none_or(|h| h.eq_ignore_ascii_case(host))
                && c.port.is_none_or(|p| p == port)
            {
                return (
                    c.to_host.clone().unwrap_or_else(|| host.to_string()),
                    c.to_port.unwrap_or(port),
                );
            }
        }
        (host.to_string(), port)
    }

    /// The addresses `--resolve` gives `host:port`, if any.
    pub fn resolve(&self, host: &str, port: u16) -> Option<&[IpAddr]> {
        self.resolve
            .iter()
            .find(|r| {
                r.port == port
                    && r.host
                        .as_deref()
                        .is_none_or(|h| h.eq_ignore_ascii_case(host))
            })
            .map(|r| r.addrs.as_slice())
    }
}

/// Split on ':' outside brackets.
fn fields(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn unbracket(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s)
}

fn port(s: &str, what: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("{what}: '{s}' is not a port from 1 to 65535"))
}

/// `--resolve HOST:PORT:ADDR[,ADDR…]`; HOST may be `*`, an IPv6 ADDR is written in brackets.
pub fn parse_resolve(s: &str) -> Result<Resolve, String> {
    let usage =
        || format!("--resolve '{s}': write HOST:PORT:ADDR[,ADDR…], e.g. example.com:443:127.0.0.1");
    let f = fields(s.trim());
    let [host, p, addrs] = f.as_slice() else {
        return Err(usage());
    };
    if host.is_empty() {
        return Err(usage());
    }
    let addrs = addrs
        .split(',')
        .map(|a| {
            unbracket(a.trim())
                .parse::<IpAddr>()
                .map_err(|_| format!("--resolve '{s}': '{a}' is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolve {
        host: (*host != "*").then(|| unbracket(host).to_string()),
        port: port(p, "--resolve")?,
        addrs,
    })
}

/// `--connect-to HOST1:PORT1:HOST2:PORT2`; any part may be empty.
pub fn parse_connect_to(s: &str) -> Result<ConnectTo, String> {
    let f = fields(s.trim());
    let [h1, p1, h2, p2] = f.as_slice() else {
        return Err(format!(
            "--connect-to '{s}': write HOST1:PORT1:HOST2:PORT2 (parts may be empty), e.g. example.com:443:127.0.0.1:8443"
        ));
    };
    let opt_port = |p: &str| -> Result<Option<u16>, String> {
        if p.is_empty() {
            Ok(None)
        } else {
            port(p, "--connect-to").map(Some)
        }
    };
    let opt_host = |h: &str| (!h.is_empty()).then(|| unbracket(h).to_string());
    Ok(ConnectTo {
        host: opt_host(h1),
        port: opt_port(p1)?,
        to_host: opt_host(h2),
        to_port: opt_port(p2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries_as_curl_writes_them() {
        let r = parse_resolve("example.test:443:127.0.0.1,[::1]").unwrap();
        let o = Overrides {
            resolve: vec![r, parse_resolve("*:80:10.0.0.1").unwrap()],
            connect_to: vec![],
        };
        assert_eq!(
            o.resolve("EXAMPLE.test", 443).unwrap(),
            &[
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(o.resolve("example.test", 444).is_none());
        assert_eq!(o.resolve("any", 80).unwrap().len(), 1);
        for bad in [
            "h:1",
            "h:0:1.2.3.4",
            "h:1:nope",
            ":1:1.2.3.4",
            "h:1:1.2.3.4:5",
        ] {
            assert!(parse_resolve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_to_entries_with_empty_parts() {
        let o = Overrides {
            resolve: vec![],
            connect_to: vec![
                parse_connect_to("a.test:443:[::1]:8443").unwrap(),
                parse_connect_to("::127.0.0.2:").unwrap(),
            ],
        };
        assert_eq!(o.connect_to("a.test", 443), ("::1".to_string(), 8443));
        assert_eq!(o.connect_to("b.test", 80), ("127.0.0.2".to_string(), 80));
        assert!(parse_connect_to("a:1:b").is_err());
        assert!(parse_connect_to("a:x:b:1").is_err());
    }
}
