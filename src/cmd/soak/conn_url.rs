//! The request a soak connection makes when it differs per connection: `{conn}` in the URL's
//! path or query becomes the connection's id (unique across a coordinated run), so that
//! `ws://h/room-{conn}?user=u{conn}` gives each connection its own room and client id, and with
//! `--server-replay` a reconnect says what it already has (`since=SEQ`, replacing one in the
//! URL). Built at each open, then dropped: nothing per connection is kept for it.

/// The placeholder for the connection id.
pub const CONN: &str = "{conn}";

/// `resource` (path and query) for connection `id`, with `since=SEQ` when given.
pub fn resource_for(resource: &str, id: u32, since: Option<u64>) -> String {
    let r = resource.replace(CONN, &id.to_string());
    let Some(since) = since else {
        return r;
    };
    let (path, query) = r.split_once('?').unwrap_or((&r, ""));
    let mut out = String::with_capacity(r.len() + 26);
    out.push_str(path);
    out.push('?');
    for kv in query.split('&') {
        let key = kv.split_once('=').map_or(kv, |(k, _)| k);
        if !kv.is_empty() && key != "since" {
            out.push_str(kv);
            out.push('&');
        }
    }
    out.push_str("since=");
    out.push_str(&since.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_fills_every_placeholder() {
        assert_eq!(
            resource_for("/room-{conn}?user=u{conn}", 42, None),
            "/room-42?user=u42"
        );
        assert_eq!(resource_for("/plain", 1, None), "/plain");
    }

    #[test]
    fn since_is_added_or_replaces_the_one_there() {
        assert_eq!(resource_for("/r", 1, Some(0)), "/r?since=0");
        assert_eq!(
            resource_for("/r?user=u{conn}", 3, Some(17)),
            "/r?user=u3&since=17"
        );
        assert_eq!(
            resource_for("/r?since=5&user=a&since=6", 3, Some(9)),
            "/r?user=a&since=9"
        );
        assert_eq!(resource_for("/r?", 3, Some(9)), "/r?since=9");
        assert_eq!(
            resource_for("/r?sinceX=1", 3, Some(2)),
            "/r?sinceX=1&since=2",
            "only the parameter named since"
        );
    }
}
