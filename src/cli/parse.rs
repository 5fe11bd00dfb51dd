//! Value parsers for the command line. Each returns a one-line message that says what to write.

use std::time::Duration;

pub fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("'{s}' is not a duration ({e}); write e.g. 500ms, 10s, 1m30s"))
}

/// `--wait`: a duration, or `forever` to hold the connection until the peer closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    For(Duration),
    Forever,
}

pub fn wait(s: &str) -> Result<Wait, String> {
    match s.trim() {
        "forever" | "inf" | "infinite" => Ok(Wait::Forever),
        other => duration(other).map(Wait::For),
    }
}

/// Byte sizes: `4096`, `64KiB`, `64MiB`, `1GiB` (K/M/G and KB/MB/GB are read as binary too).
pub fn size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size; write e.g. 4096, 64KiB or 16MiB"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "'{s}': unknown size unit '{unit}'; use B, KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// An RFC 7230 token: what header names and subprotocol names are made of.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `--compress [PARAMS]`: one permessage-deflate offer, checked as a server would.
pub fn deflate_offer(s: &str) -> Result<crate::ws::ext::Offer, String> {
    if s.contains("://") {
        return Err(format!(
            "'{s}' was read as --compress's parameters: put the URL before --compress, or write --compress=PARAMS"
        ));
    }
    crate::ws::ext::Offer::parse(s)
}

/// `--compress-params`: what the server insists on or allows.
pub fn deflate_policy(s: &str) -> Result<crate::ws::ext::ServerPolicy, String> {
    crate::ws::ext::ServerPolicy::parse(s)
}

/// `-s/--subprotocol`: sent in Sec-WebSocket-Protocol, which is a list of tokens, so a space
/// or a comma would silently offer something else (and the server's refusal would be exit 5).
pub fn subprotocol(s: &str) -> Result<String, String> {
    if is_token(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a valid subprotocol name: letters, digits and !#$%&'*+-.^_`|~ only (an RFC 7230 token)"
        ))
    }
}

/// `--watch-pid`: 0 is not a process (kill(0) means the whole process group).
pub fn pid(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "'{s}' is not a process id; write a positive number"
        )),
    }
}

/// `-H "Name: value"`, as curl spells it.
pub fn header(s: &str) -> Result<(String, String), String> {
    // A malformed header is often a credential (`Authorization Bearer TOKEN`): errors name at
    // most its first word, and only when it is a valid name with more text after it (a lone
    // word may be the token itself).
    let (name, value) = s.split_once(':').ok_or_else(|| match first_word(s) {
        Some(word) => format!("header '{word}' has no colon; write -H \"Name: value\""),
        None => "a header without ':'; write -H \"Name: value\"".to_string(),
    })?;
    let name = name.trim();
    if !is_token(name) {
        return Err(match first_word(name) {
            Some(word) => {
                format!("header '{word} …' has a space in its name; write -H \"Name: value\"")
            }
            None => "a header name before ':' is not valid; write -H \"Name: value\"".to_string(),
        });
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!(
            "the value of header '{name}' contains a line break"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// The text before the first space when it looks like a header name and something follows.
fn first_word(s: &str) -> Option<&str> {
    let (word, rest) = s.trim().split_once(char::is_whitespace)?;
    (is_token(word) && !rest.trim().is_empty()).then_some(word)
}

/// `--auth USER:PASS`.
pub fn credentials(s: &str) -> Result<(String, String), String> {
    // Never echo the input back: it holds a password.
    let (user, pass) = s
        .split_once(':')
        .ok_or_else(|| "takes USER:PASS (the password is never printed)".to_string())?;
    Ok((user.to_string(), pass.to_string()))
}

pub fn close_spec(s: &str) -> Result<crate::ws::proto::close::CloseSpec, String> {
    s.parse().map_err(|e: crate::error::Error| e.to_string())
}

pub fn close_code(s: &str) -> Result<u16, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a close code; write a number such as 1000 or 4001"))
}

pub fn positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a positive whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(duration("soon").is_err());
        assert_eq!(wait("forever").unwrap(), Wait::Forever);
        assert_eq!(wait("2s").unwrap(), Wait::For(Duration::from_secs(2)));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("4096").unwrap(), 4096);
        assert_eq!(size("64KiB").unwrap(), 64 * 1024);
        assert_eq!(size("64MiB").unwrap(), 64 << 20);
        assert_eq!(size("1g").unwrap(), 1 << 30);
        assert!(size("12 parsecs").is_err());
        assert!(size("").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            header("X-Test: 42").unwrap(),
            ("X-Test".into(), "42".into())
        );
        assert_eq!(header("X-Empty:").unwrap(), ("X-Empty".into(), "".into()));
        assert!(header("NoColon").is_err());
        assert!(header("Bad Name: v").is_err());
    }

    #[test]
    fn a_malformed_header_names_at_most_its_first_word() {
        assert_eq!(
            header("Authorization Bearer s3cret").unwrap_err(),
            "header 'Authorization' has no colon; write -H \"Name: value\""
        );
        for bad in [
            "s3cret",
            "Bearer=s3cret",
            "Authorization Bearer s3cret: x",
            "Authorization/s3cret: x",
            "  s3cret  ",
        ] {
            let e = header(bad).unwrap_err();
            assert!(!e.contains("s3cret"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn credentials_never_echo_the_password() {
        assert_eq!(credentials("u:p:q").unwrap(), ("u".into(), "p:q".into()));
        let e = credentials("s3cret").unwrap_err();
        assert!(!e.contains("s3cret"));
    }

    #[test]
    fn subprotocols_are_tokens() {
        assert_eq!(subprotocol("graphql-ws").unwrap(), "graphql-ws");
        let e = subprotocol("two words").unwrap_err();
        assert!(
            e.contains("\"two words\" is not a valid subprotocol"),
            "{e}"
        );
        assert!(subprotocol("a,b").is_err());
        assert!(subprotocol("").is_err());
    }

    #[test]
    fn pids() {
        assert_eq!(pid("42").unwrap(), 42);
        assert!(pid("0").unwrap_err().contains("not a process id"));
        assert!(pid("-1").is_err());
    }

    #[test]
    fn positives() {
        assert_eq!(positive("3").unwrap(), 3);
        assert!(positive("0").is_err());
        assert!(positive("-1").is_err());
    }
}
