//! `-L`: where a redirect of the upgrade points, and what we may still send there. As curl
//! does, credentials (URL user and password, `--auth`, and `Authorization` and `Cookie`
//! headers given with -H) go only to the first URL's scheme, host and port.

use crate::error::{Error, ErrorKind, escape_controls};
use crate::net::target::Target;
use crate::ws::handshake::client::ConnectOptions;

/// Statuses `-L` follows; all of them repeat the GET, which is what an upgrade is.
pub fn is_followed(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// One hop taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub status: u16,
    pub from: String,
    pub to: String,
    /// Credentials were not sent to `to` (another scheme, host or port than the first URL).
    pub credentials_dropped: bool,
}

/// Resolve `location` against `current` (RFC 3986 5.2, the forms servers send): absolute
/// ws(s):// or http(s):// URLs, `//host/path`, `/path`, and a relative path.
pub fn next_target(current: &Target, location: &str) -> Result<Target, Error> {
    let loc = location.trim();
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Upgrade,
            format!(
                "cannot follow the redirect to '{}': {why}",
                escape_controls(loc, false)
            ),
        )
    };
    let scheme = if current.secure { "wss" } else { "ws" };
    let absolute = if let Some(rest) = loc.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if loc.starts_with('/') {
        format!("{scheme}://{}{loc}", current.host_header())
    } else if let Some(at) = loc.find("://") {
        let (s, rest) = (&loc[..at], &loc[at..]);
        match s.to_ascii_lowercase().as_str() {
            "ws" | "http" => format!("ws{rest}"),
            "wss" | "https" => format!("wss{rest}"),
            _ => return Err(bad("not a ws, wss, http or https URL")),
        }
    } else {
        let path = current.resource.split('?').next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{}{dir}{loc}", current.host_header())
    };
    absolute.parse().map_err(|e: Error| bad(e.message()))
}

fn same_origin(a: &Target, b: &Target) -> bool {
    a.secure == b.secure && a.port == b.port && a.host.eq_ignore_ascii_case(&b.host)
}

/// The options for the next hop: `first` is what the user asked for, `to` where we go now.
pub fn options_for(first: &ConnectOptions, to: Target) -> (ConnectOptions, bool) {
    let mut next = first.clone();
    let keep = same_origin(&first.target, &to);
    let had = first.auth.is_some() || first.headers.iter().any(|(k, _)| is_credential_header(k));
    if !keep {
        // Credentials written into the Location itself are the server's to give.
        next.auth = to.userinfo.clone();
        next.headers.retain(|(k, _)| !is_credential_header(k));
    } else if first.auth.is_none() {
        next.auth = to.userinfo.clone();
    }
    next.target = to;
    (next, !keep && had)
}

fn is_credential_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn locations_in_every_form() {
        let here = t("ws://h:9001/a/b?x=1");
        let next = |l: &str| next_target(&here, l).unwrap().url();
        assert_eq!(next("/c"), "ws://h:9001/c");
        assert_eq!(next("c?y"), "ws://h:9001/a/c?y");
        assert_eq!(next("//o:1/p"), "ws://o:1/p");
        assert_eq!(next("https://o/p"), "wss://o/p");
        assert_eq!(next("http://o:8/p"), "ws://o:8/p");
        assert_eq!(next("WSS://o/p"), "wss://o/p");
        assert!(next_target(&here, "ftp://o/").is_err());
        assert!(next_target(&here, "http://").is_err());
    }

    #[test]
    fn credentials_go_only_to_the_first_origin() {
        let mut first = crate::ws::handshake::client::ConnectOptions {
            target: t("ws://u:pw@h:1/"),
            headers: vec![
                ("Cookie".into(), "s=1".into()),
                ("Authorization".into(), "Bearer x".into()),
                ("X-Keep".into(), "1".into()),
            ],
            origin: None,
            subprotocols: vec![],
            auth: Some(("u".into(), "pw".into())),
            connect_timeout: std::time::Duration::from_secs(1),
            tls: None,
            max_message_size: 1,
            source: None,
            reach: Default::default(),
            follow: Some(10),
            compress: Vec::new(),
        };
        let (same, dropped) = options_for(&first, t("ws://h:1/other"));
        assert!(!dropped);
        assert_eq!((same.auth.is_some(), same.headers.len()), (true, 3));
        for other in ["ws://h:2/", "wss://h:1/", "ws://g:1/"] {
            let (o, dropped) = options_for(&first, t(other));
            assert!(dropped, "{other}");
            assert!(o.auth.is_none(), "{other}");
            assert_eq!(o.headers, vec![("X-Keep".to_string(), "1".to_string())]);
        }
        first.auth = None;
        first.headers.clear();
        let (o, dropped) = options_for(&first, t("ws://g:1/"));
        assert!(!dropped && o.auth.is_none());
    }
}
