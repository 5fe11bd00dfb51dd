//! Where a socket.io client connects: the Engine.IO v4 WebSocket URL built from the one the user
//! typed, and whether that URL asks for socket.io at all.
//!
//! socket.io clients take a server URL (`ws://host:3000` or `…/chat` for a namespace in the
//! JS client) and talk to the fixed path `/socket.io/`. wsbeat's `--socketio` takes the
//! WebSocket-shaped URL its other commands take, so that `connect URL` and
//! `connect URL --socketio` differ only in the flag: a path ending in `/socket.io/` (or
//! `/socket.io`) is kept, which also makes the flag implied; any other path is the server's
//! root, and the Engine.IO path is put in its place. The user's query is kept, before the
//! Engine.IO parameters, which replace any `EIO` or `transport` the user wrote.

/// The Engine.IO path socket.io servers serve by default.
pub const DEFAULT_PATH: &str = "/socket.io/";

/// True when `resource` (path and query) names the Engine.IO endpoint itself: a URL that
/// implies `--socketio`.
pub fn implies_socketio(resource: &str) -> bool {
    let path = resource.split(['?', '#']).next().unwrap_or("");
    path.ends_with("/socket.io/") || path.ends_with("/socket.io")
}

/// The resource (path and query) to upgrade on: `resource` with the Engine.IO path when it
/// has none, and `EIO=4&transport=websocket` appended to the user's query.
pub fn websocket_resource(resource: &str) -> String {
    let resource = resource.split('#').next().unwrap_or("");
    let (path, query) = resource.split_once('?').unwrap_or((resource, ""));
    let path = if implies_socketio(path) {
        if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        }
    } else {
        DEFAULT_PATH.to_string()
    };
    let mut out = path;
    out.push('?');
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split('=').next().unwrap_or("");
        if key == "EIO" || key == "transport" {
            continue;
        }
        out.push_str(pair);
        out.push('&');
    }
    out.push_str("EIO=4&transport=websocket");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_becomes_the_engine_io_path() {
        assert_eq!(
            websocket_resource("/"),
            "/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            websocket_resource(""),
            "/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            websocket_resource("/chat"),
            "/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn an_engine_io_path_is_kept_with_its_prefix() {
        assert_eq!(
            websocket_resource("/app/socket.io/"),
            "/app/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            websocket_resource("/socket.io"),
            "/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn the_users_query_is_kept_and_engine_io_parameters_replaced() {
        assert_eq!(
            websocket_resource("/socket.io/?token=a%20b&EIO=3&transport=polling&x"),
            "/socket.io/?token=a%20b&x&EIO=4&transport=websocket"
        );
        assert_eq!(
            websocket_resource("/socket.io/?user=7#frag"),
            "/socket.io/?user=7&EIO=4&transport=websocket"
        );
    }

    #[test]
    fn only_the_engine_io_path_implies_socketio() {
        assert!(implies_socketio("/socket.io/"));
        assert!(implies_socketio("/socket.io/?EIO=4"));
        assert!(implies_socketio("/app/socket.io"));
        assert!(!implies_socketio("/"));
        assert!(!implies_socketio("/echo?next=/socket.io/"));
        assert!(!implies_socketio("/socket.io.js"));
    }
}
