//! `target`: parsing a URL into a `Target`, with credentials that must never be shown.
//!
//! The input builds `SCHEME://USER:PASS@REST` with the marker `SECRETpw` inside the user or
//! the password, the rest of the URL free. Whether the parse succeeds or fails, nothing meant
//! for display (the URL, the Host header, the error message) may contain the marker, and a
//! parsed target must hold it in its credentials (else it went somewhere else).
//!
//! Credentials may also hold '/', '?' and '#', percent-encoded (then all of the above holds,
//! on the decoded credentials) or as written. As written, they end the authority (RFC 3986
//! 3.2): the marker then is, by the RFC, in the host, port or path, so a successful parse may
//! show it, as a browser would; only errors are checked, which must never quote it.

use crate::Input;
use wsbeat::net::target::Target;

const MARKER: &str = "SECRETpw";
const SCHEMES: [&str; 8] = ["ws", "wss", "http", "https", "WS", "HTTPS", "ftp", ""];
/// `://` and the ways people mistype it (`ws:/user:pass@h`, `ws//…`, `wss:…`).
const SEPARATORS: [&str; 4] = ["://", ":", ":/", "//"];

/// What becomes of the characters that end the authority (RFC 3986 3.2) in credentials.
#[derive(Clone, Copy, PartialEq)]
enum Delimiters {
    /// Left out.
    Dropped,
    /// Percent-encoded, as a real URL must write them.
    Encoded,
    /// As written: the authority ends inside the credentials.
    Raw,
}

fn credential(s: &str, colon_allowed: bool, delimiters: Delimiters) -> String {
    s.chars()
        .filter(|c| colon_allowed || *c != ':')
        .filter_map(|c| match (c, delimiters) {
            ('/' | '?' | '#', Delimiters::Dropped) => None,
            ('/', Delimiters::Encoded) => Some("%2F".to_string()),
            ('?', Delimiters::Encoded) => Some("%3F".to_string()),
            ('#', Delimiters::Encoded) => Some("%23".to_string()),
            (c, _) => Some(c.to_string()),
        })
        .collect()
}

/// Input: a flags byte (bits 0-2 the scheme, 3 the marker in the user rather than the
/// password, 4 and 7 the separator after the scheme (`SEPARATORS`), 5-6 what becomes of '/',
/// '?' and '#' in the credentials: 0 dropped, 1 percent-encoded, 2 and 3 as written), then
/// the user, the password's text before and after the marker and the rest of the URL,
/// separated by NUL bytes.
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let text = String::from_utf8_lossy(input.rest());
    let mut parts = text.splitn(4, '\0');
    let mut part = || parts.next().unwrap_or("");
    let (user, before, after, rest) = (part(), part(), part(), part());
    let scheme = SCHEMES[(flags & 7) as usize];
    let separator = SEPARATORS[usize::from((flags >> 4) & 1 | (flags >> 6) & 2)];
    let delimiters = match (flags >> 5) & 3 {
        0 => Delimiters::Dropped,
        1 => Delimiters::Encoded,
        _ => Delimiters::Raw,
    };
    let user = credential(user, false, delimiters);
    let before = credential(before, true, delimiters);
    let after = credential(after, true, delimiters);
    let userinfo = if flags & 8 != 0 {
        format!("{user}{MARKER}{before}")
    } else {
        format!("{user}:{before}{MARKER}{after}")
    };
    let url = format!("{scheme}{separator}{userinfo}@{rest}");
    // The marker elsewhere (in the rest of the URL) is not a credential.
    if url.matches(MARKER).count() != 1 {
        return;
    }

    let authority_ends_early = delimiters == Delimiters::Raw && userinfo.contains(['/', '?', '#']);

    match url.parse::<Target>() {
        Ok(_) if authority_ends_early => {}
        Ok(t) => {
            let shown = [
                t.url(),
                t.host_header(),
                t.host_for_url(),
                t.resource.clone(),
            ];
            for s in shown {
                assert!(!s.contains(MARKER), "{url:?} shows its credentials: {s:?}");
            }
            let (u, p) = t.userinfo.as_ref().expect("credentials kept");
            assert!(
                u.contains(MARKER) || p.contains(MARKER),
                "{url:?}: credentials lost, parsed as {t:?}"
            );
        }
        Err(e) => {
            assert!(
                !e.to_string().contains(MARKER) && !e.message().contains(MARKER),
                "{url:?}: the error shows its credentials: {e}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_inputs() {
        crate::replay("target", check);
    }

    #[test]
    fn the_documented_forms() {
        for flags in 0..=255u8 {
            for parts in [
                &b"user\0x\0y\0host:9001/p?q=1"[..],
                b"us/er\0x?\0/y#\0host:9001/p",
                b"user\0\0/x\0host/",
                b"user\0\0\0host:99999/",
                b"us@er\0x\0\0:80/",
            ] {
                let mut data = vec![flags];
                data.extend_from_slice(parts);
                check(&data);
            }
        }
    }
}
