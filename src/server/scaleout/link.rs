//! The Redis URL (`--redis`), shown only with its password hidden, and the connection: the
//! crate's `ConnectionManager` reconnects by itself (with backoff); what we add is a health
//! probe (a PING a second: the round trip, and when Redis went away and came back).

use crate::error::{Error, ErrorKind};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// How long one attempt to connect, or one command, may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(1);

/// `redis://[:password@]host:port[/db]` or `rediss://…`; its `Display` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    url: String,
}

impl RedisTarget {
    pub fn parse(s: &str) -> Result<RedisTarget, String> {
        let shown = crate::net::target::redact(s);
        if !(s.starts_with("redis://") || s.starts_with("rediss://")) {
            return Err(format!(
                "'{shown}': write redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://…"
            ));
        }
        redis::Client::open(s).map_err(|e| format!("'{shown}': {}", hide(&e.to_string(), s)))?;
        Ok(RedisTarget { url: s.to_string() })
    }

    pub(super) fn client(&self) -> Result<redis::Client, Error> {
        redis::Client::open(self.url.as_str())
            .map_err(|e| Error::usage(format!("--redis {self}: {}", self.hide(&e.to_string()))))
    }

    /// Whatever an error says, without the password.
    pub(super) fn hide(&self, text: &str) -> String {
        hide(text, &self.url)
    }

    pub(super) async fn manager(&self) -> Result<ConnectionManager, Error> {
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2));
        // One plain attempt first: its error says why (refused, WRONGPASS); the manager's
        // retries would only say that they ran out.
        let client = self.client()?;
        match tokio::time::timeout(TIMEOUT * 3, client.get_multiplexed_async_connection()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(self.unreachable(&e.to_string())),
            Err(_) => return Err(self.unreachable("no answer within 3s")),
        }
        let connect = ConnectionManager::new_with_config(client, cfg);
        match tokio::time::timeout(TIMEOUT * 3, connect).await {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(e)) => Err(self.unreachable(&e.to_string())),
            Err(_) => Err(self.unreachable("no answer within 3s")),
        }
    }

    fn unreachable(&self, why: &str) -> Error {
        Error::new(
            ErrorKind::Connect,
            format!("cannot reach Redis at {self}: {}", self.hide(why)),
        )
    }
}

/// The password never shows, even where a message quotes it.
fn hide(text: &str, url: &str) -> String {
    let mut text = text.replace(url, &crate::net::target::redact(url));
    for p in password(url) {
        text = text.replace(&p, "***");
    }
    text
}

/// As written and as decoded.
fn password(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let Some(at) = rest.rfind('@') else {
        return Vec::new();
    };
    let auth = &rest[..at];
    let pass = auth.split_once(':').map_or(auth, |(_, p)| p);
    let decoded = crate::net::target::percent_decode(pass);
    [pass.to_string(), decoded]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect()
}

impl std::fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::net::target::redact(&self.url))
    }
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisTarget({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_shows_nowhere() {
        let t = RedisTarget::parse("redis://:s3cr%40t@127.0.0.1:6379/2").unwrap();
        assert_eq!(t.to_string(), "redis://***@127.0.0.1:6379/2");
        assert!(!format!("{t:?}").contains("s3cr"));
        assert_eq!(t.hide("auth s3cr@t failed"), "auth *** failed");
        let e = RedisTarget::parse("http://:hunter2@h").unwrap_err();
        assert!(!e.contains("hunter2") && e.contains("redis://"), "{e}");
    }
}
