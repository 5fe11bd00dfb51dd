//! `--app-pong`: the application-level heartbeat conventions of browser clients, which cannot
//! send Ping frames. Only consulted for text messages when the flag is on.

/// The reply to an application ping, or `None` when `text` is an ordinary message: `ping`
/// gets `pong`, and a JSON object with `"type":"ping"` comes back with `"status":"pong"` added
/// (its other fields, and their order, kept).
pub fn pong_for(text: &[u8]) -> Option<Vec<u8>> {
    if text == b"ping" {
        return Some(b"pong".to_vec());
    }
    // Cheap checks first: most messages are not JSON pings, and parsing them all would cost.
    if text.trim_ascii_start().first() != Some(&b'{') || !contains(text, b"ping") {
        return None;
    }
    let mut obj: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(text).ok()?;
    if obj.get("type")?.as_str()? != "ping" {
        return None;
    }
    obj.insert("status".into(), "pong".into());
    serde_json::to_vec(&obj).ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ping_gets_pong() {
        assert_eq!(pong_for(b"ping").as_deref(), Some(&b"pong"[..]));
        assert_eq!(pong_for(b"ping "), None);
        assert_eq!(pong_for(b"hello"), None);
    }

    #[test]
    fn json_ping_comes_back_with_status_pong_and_its_fields_in_order() {
        let reply = pong_for(br#"{"type":"ping","id":7,"ts":1.5}"#).unwrap();
        assert_eq!(
            String::from_utf8(reply).unwrap(),
            r#"{"type":"ping","id":7,"ts":1.5,"status":"pong"}"#
        );
        assert_eq!(pong_for(br#"{"type":"chat","text":"ping"}"#), None);
        assert_eq!(pong_for(br#"{"type":"ping""#), None);
        assert_eq!(pong_for(br#"["ping"]"#), None);
    }
}
