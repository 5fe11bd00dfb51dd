//! Proxies between us and the server: which one a target goes through (`--proxy`, the
//! environment as curl reads it, `--noproxy`; `env`), and the tunnel through it: HTTP CONNECT
//! (`http_connect`, also over TLS for https:// proxies) or SOCKS5 (`socks`).

pub mod env;
pub mod http_connect;
pub mod socks;

use crate::error::Error;
use crate::net::target::{Target, percent_decode, redact};
use env::{EnvProxies, NoProxy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP CONNECT in the clear.
    Http,
    /// HTTP CONNECT inside TLS to the proxy.
    Https,
    /// SOCKS5, the target's name resolved here.
    Socks5,
    /// SOCKS5, the target's name resolved by the proxy.
    Socks5h,
}

impl ProxyKind {
    pub fn scheme(self) -> &'static str {
        match self {
            ProxyKind::Http => "http",
            ProxyKind::Https => "https",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    /// Without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// From the URL or `--proxy-user`; never displayed.
    pub credentials: Option<(String, String)>,
}

/// Never shows the credentials, even in a `{:?}`.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url())
    }
}

impl std::str::FromStr for Proxy {
    type Err = Error;

    /// curl's spelling: `[SCHEME://][USER:PASS@]HOST[:PORT]`; no scheme is http://, and the
    /// port defaults to 1080 (443 for https://) as curl's does.
    fn from_str(input: &str) -> Result<Self, Error> {
        let s = input.trim();
        let bad = |why: &str| {
            Error::usage(format!(
                "proxy '{}' {why}; write http://HOST:PORT, https://…, socks5://… or socks5h://…",
                redact(s)
            ))
        };
        let (scheme, rest) = match s.find("://") {
            Some(at) => (s[..at].to_ascii_lowercase(), &s[at + 3..]),
            None => ("http".to_string(), s),
        };
        let kind = match scheme.as_str() {
            "http" => ProxyKind::Http,
            "https" => ProxyKind::Https,
            "socks5" => ProxyKind::Socks5,
            "socks5h" => ProxyKind::Socks5h,
            "socks4" | "socks4a" => return Err(bad("is SOCKS4, which wsbeat does not speak")),
            _ => return Err(bad(&format!("has an unknown scheme '{scheme}://'"))),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad("has a path; a proxy is HOST[:PORT] only"));
        }
        let (credentials, hostport) = match rest.rsplit_once('@') {
            Some((info, hp)) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                (Some((percent_decode(user), percent_decode(pass))), hp)
            }
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("has a bad port"))?;
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let port = port.unwrap_or(if kind == ProxyKind::Https { 443 } else { 1080 });
        Ok(Proxy {
            kind,
            host,
            port,
            credentials,
        })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`. `None` for a port that is not 1-65535.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':')?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            // A bare IPv6 literal.
            Some(_) => (s, None),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p > 0)?),
        None => None,
    };
    Some((host.to_string(), port))
}

impl Proxy {
    /// Safe to print: no credentials.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}", self.kind.scheme(), self.port)
    }
}

/// Which proxy, if any, each target goes through. Built once per run; a redirect asks again
/// for its new host.
#[derive(Debug, Clone, Default)]
pub struct ProxyChoice {
    /// `--proxy`: `Some(None)` for `--proxy ''`, which turns the environment's off too.
    explicit: Option<Option<Proxy>>,
    env: EnvProxies,
    /// `--noproxy`, else `no_proxy`/`NO_PROXY`; applies to every proxy, as in curl.
    noproxy: NoProxy,
}

impl ProxyChoice {
    /// `--proxy` (one, or `None` when not given; `Some("")` for none at all), `--proxy-user`,
    /// `--noproxy`, and the environment through `get` (tests pass their own).
    pub fn new(
        proxy: Option<&str>,
        proxy_user: Option<&(String, String)>,
        noproxy: Option<&str>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let with_user = |mut p: Proxy| {
            if let Some(user) = proxy_user {
                p.credentials = Some(user.clone());
            }
            p
        };
        let explicit = match proxy.map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(url) => Some(Some(with_user(url.parse()?))),
        };
        let mut env = if explicit.is_none() {
            EnvProxies::from_env(&get)?
        } else {
            EnvProxies::default()
        };
        for p in [&mut env.http, &mut env.https, &mut env.all]
            .into_iter()
            .flatten()
        {
            *p = with_user(p.clone());
        }
        let noproxy = match noproxy {
            Some(list) => NoProxy::parse(list),
            None => NoProxy::from_env(&get),
        };
        Ok(ProxyChoice {
            explicit,
            env,
            noproxy,
        })
    }

    /// The proxy for this target, or `None` to connect directly.
    pub fn for_target(&self, target: &Target) -> Option<&Proxy> {
        let proxy = match &self.explicit {
            Some(p) => p.as_ref(),
            None => self.env.for_scheme(target.secure),
        }?;
        (!self.noproxy.matches(&target.host)).then_some(proxy)
    }

    /// Whether some target could go through an https:// proxy (then TLS is needed for ws://).
    pub fn any_https(&self) -> bool {
        let https = |p: &Option<Proxy>| p.as_ref().is_some_and(|p| p.kind == ProxyKind::Https);
        match &self.explicit {
            Some(p) => https(p),
            None => https(&self.env.http) || https(&self.env.https) || https(&self.env.all),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Proxy {
        s.parse().unwrap()
    }

    #[test]
    fn proxy_urls_as_curl_spells_them() {
        assert_eq!(p("127.0.0.1:3128").url(), "http://127.0.0.1:3128");
        assert_eq!(p("http://proxy").port, 1080);
        assert_eq!(p("https://proxy/").port, 443);
        assert_eq!(p("socks5h://[::1]:9050").url(), "socks5h://[::1]:9050");
        let a = p("http://us%65r:p%40ss@h:8080");
        assert_eq!(a.credentials, Some(("user".into(), "p@ss".into())));
        assert_eq!(a.url(), "http://h:8080");
        assert!(!format!("{a:?}").contains("p@ss"));
        for bad in [
            "ftp://h",
            "socks4://h",
            "http://h:0",
            "http://h:x",
            "http://h/p",
            "http://",
        ] {
            assert!(bad.parse::<Proxy>().is_err(), "{bad}");
        }
        let e = "http://u:s3cret@h:99999".parse::<Proxy>().unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn via(choice: &ProxyChoice, url: &str) -> Option<String> {
        choice.for_target(&url.parse().unwrap()).map(|p| p.url())
    }

    #[test]
    fn the_flag_beats_the_environment_and_noproxy_applies_to_both() {
        let vars = env(&[
            ("https_proxy", "http://e:1"),
            ("no_proxy", "internal.example"),
        ]);
        let c = ProxyChoice::new(Some("socks5://f:2"), None, None, &vars).unwrap();
        assert_eq!(via(&c, "wss://x/").as_deref(), Some("socks5://f:2"));
        assert_eq!(via(&c, "ws://a.internal.example/"), None);
        let none = ProxyChoice::new(Some(""), None, None, &vars).unwrap();
        assert_eq!(via(&none, "wss://x/"), None);
        let c = ProxyChoice::new(None, None, Some(""), &vars).unwrap();
        assert_eq!(
            via(&c, "wss://a.internal.example/").as_deref(),
            Some("http://e:1")
        );
        let user = ("u".to_string(), "pw".to_string());
        let c = ProxyChoice::new(Some("http://f:2"), Some(&user), None, &vars).unwrap();
        let got = c.for_target(&"ws://x/".parse().unwrap()).unwrap();
        assert_eq!(got.credentials, Some(user));
    }
}
