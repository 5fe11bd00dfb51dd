//! `target`: parsing a URL into a `Target`, with credentials that must never be shown.
//!
//! The input builds `SCHEME://USER:PASS@REST` with the marker `SECRETpw` inside the user or
//! the password, the rest of the URL free. Whether the parse succeeds or fails, nothing meant
//! for display (the URL, the Host header, the error message) may contain the marker, and a
//! parsed target must hold it in its credentials (else it went somewhere else).

use crate::Input;
use wsbeat::net::target::Target;

const MARKER: &str = "SECRETpw";
const SCHEMES: [&str; 8] = ["ws", "wss", "http", "https", "WS", "HTTPS", "ftp", ""];

/// Characters that end the authority (RFC 3986 3.2): a real URL percent-encodes them inside
/// credentials, so with them the marker would not be a credential at all.
fn credential(s: &str, colon_allowed: bool) -> String {
    s.chars()
        .filter(|c| !matches!(c, '/' | '?' | '#') && (colon_allowed || *c != ':'))
        .collect()
}

/// Input: a flags byte (bits 0-2 the scheme, 3 the marker in the user rather than the
/// password, 4 a bare `:` instead of `://`), then the user, the password's text before and
/// after the marker and the rest of the URL, separated by NUL bytes.
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let text = String::from_utf8_lossy(input.rest());
    let mut parts = text.splitn(4, '\0');
    let mut part = || parts.next().unwrap_or("");
    let (user, before, after, rest) = (part(), part(), part(), part());
    let scheme = SCHEMES[(flags & 7) as usize];
    let separator = if flags & 0x10 != 0 { ":" } else { "://" };
    let user = credential(user, false);
    let (before, after) = (credential(before, true), credential(after, true));
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

    match url.parse::<Target>() {
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
        for flags in 0..32u8 {
            let mut data = vec![flags];
            data.extend_from_slice(b"user\0x\0y\0host:9001/p?q=1");
            check(&data);
        }
    }
}
