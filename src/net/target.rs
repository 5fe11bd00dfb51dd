//! What we connect to: a `ws://` or `wss://` URL, normalised, with credentials split off so that
//! they can never be printed back.

use crate::error::Error;
use tokio_tungstenite::tungstenite::http::Uri;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub secure: bool,
    /// Host as written, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub resource: String,
    /// `user:pass@` from the URL; used for HTTP Basic auth, never displayed.
    pub userinfo: Option<(String, String)>,
}

impl std::str::FromStr for Target {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let trimmed = input.trim();
        let at = scheme_end(trimmed).ok_or_else(|| {
            Error::usage(format!(
                "'{}' is not a WebSocket URL; write ws://HOST[:PORT]/PATH or wss://…",
                redact(trimmed)
            ))
        })?;
        let (scheme, rest) = (&trimmed[..at], &trimmed[at + 3..]);
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            "http" => {
                return Err(Error::usage(format!(
                    "http:// is not a WebSocket URL; write ws://{}",
                    &redact(trimmed)[at + 3..]
                )));
            }
            "https" => {
                return Err(Error::usage(format!(
                    "https:// is not a WebSocket URL; write wss://{}",
                    &redact(trimmed)[at + 3..]
                )));
            }
            other => {
                return Err(Error::usage(format!(
                    "unsupported scheme '{other}://'; write ws:// or wss://"
                )));
            }
        };
        // Split credentials off by hand: `http::Uri` keeps them in the authority. The
        // authority ends at the first '/', '?' or '#' (RFC 3986 3.2).
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((info, hp)) => {
                // Split before decoding: an encoded ':' (%3A) belongs to the user.
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                (Some((percent_decode(user), percent_decode(pass))), hp)
            }
            None => (None, authority),
        };
        // An '@' after the authority: most likely a user or password with an unencoded '/',
        // '?' or '#', which then sits in the host or port (even past an '@' in the user).
        // Errors about them must not quote them.
        let mistyped = tail.contains('@');
        let encode_hint = if mistyped {
            " (a '/', '?' or '#' in a user or password must be percent-encoded: %2F, %3F, %23)"
        } else {
            ""
        };
        if hostport.is_empty() {
            return Err(Error::usage(format!(
                "'{}' has no host; write {scheme}://HOST[:PORT]/PATH{encode_hint}",
                redact(trimmed)
            )));
        }
        // Fragments are never sent in an upgrade request (RFC 6455 3).
        let tail = tail.split('#').next().unwrap_or("");
        let uri: Uri = format!("http://{hostport}{tail}").parse().map_err(|e| {
            Error::usage(format!(
                "'{}' is not a valid URL ({e}); write {scheme}://HOST[:PORT]/PATH{encode_hint}",
                redact(trimmed)
            ))
        })?;
        let host = uri.host().ok_or_else(|| {
            Error::usage(format!("'{}' has no host{encode_hint}", redact(trimmed)))
        })?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        // `ws://:80/` parses with an empty host, which would only fail later as a DNS error.
        if host.is_empty() {
            return Err(Error::usage(format!(
                "'{}' has no host; write {scheme}://HOST[:PORT]/PATH",
                redact(trimmed)
            )));
        }
        // `http::Uri` reports an out-of-range port as no port at all; read it ourselves.
        let port_text = match hostport.rsplit_once(']') {
            Some((_, after)) => after.strip_prefix(':'),
            None => hostport.rsplit_once(':').map(|(_, p)| p),
        };
        let port = match port_text {
            Some(p) => p.parse::<u16>().map_err(|_| {
                let quoted = if mistyped {
                    String::new()
                } else {
                    format!(" '{p}'")
                };
                Error::usage(format!(
                    "'{}': port{quoted} is not a number from 1 to 65535{encode_hint}",
                    redact(trimmed)
                ))
            })?,
            None if secure => 443,
            None => 80,
        };
        if port == 0 {
            return Err(Error::usage(format!(
                "'{}': port 0 cannot be dialled",
                redact(trimmed)
            )));
        }
        let resource = uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("/");
        let resource = if resource.starts_with('/') {
            resource.to_string()
        } else {
            format!("/{resource}")
        };
        Ok(Target {
            secure,
            host,
            port,
            resource,
            userinfo,
        })
    }
}

impl Target {
    fn default_port(&self) -> u16 {
        if self.secure { 443 } else { 80 }
    }

    /// Host in URL form: IPv6 literals get their brackets back.
    pub fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The `Host` header value (port only when not the default, per RFC 7230 5.4).
    pub fn host_header(&self) -> String {
        if self.port == self.default_port() {
            self.host_for_url()
        } else {
            format!("{}:{}", self.host_for_url(), self.port)
        }
    }

    /// The URL without credentials: safe to print.
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            if self.secure { "wss" } else { "ws" },
            self.host_header(),
            self.resource
        )
    }
}

/// Where the `://` after the scheme is. A `://` after anything but a scheme's characters
/// (RFC 3986 3.1) belongs to the path or query (`?next=ws://…`); taking it for the scheme's
/// would leave the credentials before it in plain sight.
fn scheme_end(s: &str) -> Option<usize> {
    let at = s.find("://")?;
    s[..at]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .then_some(at)
}

/// Hide `user:pass@` in anything echoed back from user input. The parser's userinfo ends at
/// the authority's last '@'; an '@' after the authority most likely ends credentials written
/// with an unencoded '/', '?' or '#' (`ws://u:pa/ss@h/`), which landed in the host or port.
/// So everything from the scheme's `://` (or the start, without one) to the last '@' goes:
/// it covers both, at the price of hiding a little more when an '@' is in the path.
pub fn redact(s: &str) -> String {
    let start = scheme_end(s).map_or(0, |at| at + 3);
    let rest = &s[start..];
    match rest.rfind('@') {
        Some(at) => format!("{}***@{}", &s[..start], &rest[at + 1..]),
        None => s.to_string(),
    }
}

/// RFC 3986 2.1 percent-decoding of the userinfo, as browsers and Python's `websockets` do
/// before building Basic auth: `p%40ss` is the password `p@ss`. A '%' not followed by two
/// hex digits stays as written; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let Some(hi) = b.get(i + 1).copied().and_then(hex)
            && let Some(lo) = b.get(i + 2).copied().and_then(hex)
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn default_ports_and_paths() {
        let a = t("ws://example.com");
        assert_eq!((a.port, a.resource.as_str(), a.secure), (80, "/", false));
        let b = t("wss://example.com/chat?room=1#frag");
        assert_eq!(
            (b.port, b.resource.as_str(), b.secure),
            (443, "/chat?room=1", true)
        );
        assert_eq!(b.url(), "wss://example.com/chat?room=1");
        assert_eq!(t("ws://h:8080").host_header(), "h:8080");
        assert_eq!(t("ws://h?x=1").resource, "/?x=1");
    }

    #[test]
    fn ipv6_literals() {
        let a = t("ws://[::1]:9001/x");
        assert_eq!(a.host, "::1");
        assert_eq!(a.port, 9001);
        assert_eq!(a.url(), "ws://[::1]:9001/x");
    }

    #[test]
    fn credentials_are_split_off_and_never_shown() {
        let a = t("ws://user:s3cret@h:1/p");
        assert_eq!(a.userinfo, Some(("user".into(), "s3cret".into())));
        assert!(!a.url().contains("s3cret"));
        let err = "http://user:s3cret@h/".parse::<Target>().unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn credentials_stay_hidden_when_a_later_scheme_separator_is_in_the_url() {
        // Found by the fuzz target `target`: a `://` in the query was taken for the scheme's.
        for url in [
            "http://user:s3cret@h/?next=ws://x/",
            "https://user:s3cret@h/?u=wss://x",
            "ws:user:s3cret@h/?next=ws://x/",
            "user:s3cret@h:1/ws://",
        ] {
            let err = url.parse::<Target>().unwrap_err();
            let msg = err.to_string();
            assert!(
                !msg.contains("s3cret") && !msg.contains("user"),
                "{url}: {msg}"
            );
        }
        let e = "http://user:s3cret@h/?next=ws://x/".parse::<Target>();
        assert!(
            e.unwrap_err()
                .to_string()
                .ends_with("write ws://***@h/?next=ws://x/")
        );
    }

    #[test]
    fn a_password_with_an_unencoded_delimiter_is_never_quoted() {
        // The authority ends at the first '/', '?' or '#': the password's start lands in the
        // port (RFC 3986 3.2), and the port error used to quote it.
        for url in [
            "ws://user:s3cret/x@h/",
            "ws://user:s3cret?x@h/",
            "ws://user:s3cret#x@h/",
            "wss://user:s3cret/x@h:9001/p",
            "ws://user:/s3cret@:1/",
            "http://user:s3cret/x@h/",
            // Found by the fuzz target: an '@' in the user hid the later one.
            "ws://u@use:/xs3crethost/@",
            "ws://u@h:s3cret/x@h/",
        ] {
            let e = url.parse::<Target>().unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{url}: {e}");
        }
        let e = "ws://user:s3cret/x@h/".parse::<Target>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "'ws://***@h/': port is not a number from 1 to 65535 (a '/', '?' or '#' in a \
             user or password must be percent-encoded: %2F, %3F, %23)"
        );
        // Without a mistyped password the bad port is still quoted.
        let e = "ws://h:99999/".parse::<Target>().unwrap_err();
        assert!(e.to_string().contains("port '99999'"), "{e}");
    }

    #[test]
    fn a_mistyped_scheme_separator_or_an_unknown_scheme_never_shows_the_password() {
        // Without a well-formed `SCHEME://` there is no authority to parse: everything up to
        // the last '@' is hidden.
        for url in [
            "ws:/user:s3cret@h/",
            "ws//user:s3cret@h/",
            "wss:user:s3cret@h/",
            "ws:\\\\user:s3cret@h/",
            "ws:///user:s3cret@h/",
            "ws:/user:s3cret/x@h:99999/",
            "wss:user:s3cret@h:99999",
            "user:s3cret@h",
            " ws :// user:s3cret@h",
            "foo://user:s3cret@h/",
            "x-y+z.1://user:s3cret@h/",
            "ws://user:s3cret@",
            "ws://user:s3cret@:80/",
            "ws://user:s3cret@[::1/",
            "ws://user:s3cret@h st/",
            "ws://us@er:s3cret@h:99999/",
            "ws://user:s3cret#x@h/",
        ] {
            let e = url.parse::<Target>().unwrap_err();
            for shown in [e.to_string(), e.message().to_string(), format!("{e:#}")] {
                assert!(!shown.contains("s3cret"), "{url}: {shown}");
            }
        }
        let e = "ws:/user:s3cret@h/".parse::<Target>().unwrap_err();
        assert!(
            e.to_string().starts_with("'***@h/' is not a WebSocket URL"),
            "{e}"
        );
    }

    #[test]
    fn credentials_are_percent_decoded_as_rfc_3986_says() {
        let a = t("ws://us%65r:p%40ss@h/");
        assert_eq!(a.userinfo, Some(("user".into(), "p@ss".into())));
        // Split before decoding: an encoded ':' is part of the user.
        let b = t("ws://a%3Ab:c%2F%3F%23d@h/");
        assert_eq!(b.userinfo, Some(("a:b".into(), "c/?#d".into())));
        // Not a valid escape: kept as written, like Python's unquote.
        let c = t("ws://u:100%25%zz%4@h/");
        assert_eq!(c.userinfo, Some(("u".into(), "100%%zz%4".into())));
        let d = t("ws://u:%C3%A9%FF@h/");
        assert_eq!(d.userinfo, Some(("u".into(), "\u{e9}\u{fffd}".into())));
        assert_eq!(a.url(), "ws://h/");
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        let e = "http://localhost:9001/".parse::<Target>().unwrap_err();
        assert!(e.to_string().contains("ws://localhost:9001/"), "{e}");
        let e = "https://h/".parse::<Target>().unwrap_err();
        assert!(e.to_string().contains("wss://h/"), "{e}");
        assert!("localhost:9001".parse::<Target>().is_err());
        assert!("ws://".parse::<Target>().is_err());
        let e = "ws://:80/".parse::<Target>().unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Usage);
        assert!(e.to_string().contains("has no host"), "{e}");
        assert!("ws://user@:80/".parse::<Target>().is_err());
        assert!("ftp://h".parse::<Target>().is_err());
        assert!("ws://h:99999/".parse::<Target>().is_err());
    }
}
