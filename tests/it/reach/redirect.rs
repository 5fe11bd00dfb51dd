//! `-L`: redirects of the upgrade, against a redirecting server (`tests/peers/redirector.py`).

use super::*;

fn redirector(routes: &[&str]) -> Peer {
    Peer::python_script("redirector", "redirector.py", routes)
}

#[test]
fn a_301_to_another_port_is_followed_with_l_and_shown() {
    if !require_peer("python") {
        return;
    }
    let (_server, target) = echo_server(&[]);
    let route = format!("/old=301:{target}");
    let peer = redirector(&[&route]);
    let from = peer.url_with("old");
    // Without -L: refused, with the Location shown (exit 5).
    let o = go(&from, &[]);
    assert_exit(&o, 5);
    assert_contains(
        &stderr_of(&o),
        &format!("(Location: {target}; follow it with -L)"),
        &o,
    );

    let o = go(
        &from,
        &["-L", "--json", "--send", "moved", "--expect", "^moved$"],
    );
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let hops = of_type(&events, "redirect");
    assert_eq!(hops.len(), 1, "{}", describe(&o));
    assert_eq!(hops[0]["status"], 301);
    assert_eq!(hops[0]["from"], from);
    assert_eq!(hops[0]["to"], target);
    assert_eq!(opened(&o)["url"], target);

    let o = go(&from, &["--location"]);
    assert_exit(&o, 0);
    assert_contains(
        &stderr_of(&o),
        &format!("redirect 301: {from} -> {target}"),
        &o,
    );
}

#[test]
fn a_302_from_ws_to_wss_and_an_http_location_are_followed() {
    if !require_peer("python") {
        return;
    }
    let pki = test_pki();
    let (_server, wss) = echo_server(&["--tls-cert", path(&pki.cert), "--tls-key", path(&pki.key)]);
    let https = wss.replacen("wss://", "https://", 1);
    let (to_wss, to_https) = (format!("/tls=302:{wss}"), format!("/web=307:{https}"));
    let peer = redirector(&[&to_wss, &to_https]);
    for from in [peer.url_with("tls"), peer.url_with("web")] {
        let o = go(&from, &["-L", "--json", "--cacert", path(&pki.ca)]);
        assert_exit(&o, 0);
        let v = opened(&o);
        assert_eq!(v["url"], wss);
        assert!(v["timings"]["tls"].as_f64().is_some(), "{v}");
    }
}

#[test]
fn a_redirect_loop_is_stopped_by_max_redirs() {
    if !require_peer("python") {
        return;
    }
    let peer = redirector(&["/a=302:/b", "/b=308:a"]);
    let o = go(&peer.url_with("a"), &["-L", "--max-redirs", "3", "--json"]);
    assert_exit(&o, 5);
    let events = parse_ndjson(Schema::Connect, &o);
    let e = of_type(&events, "error")[0];
    assert_eq!(e["kind"], "http_status");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("too many redirects: 3 followed (--max-redirs 3)"),
        "{e}"
    );
    // The default is 10.
    let o = go(&peer.url_with("a"), &["-L"]);
    assert_exit(&o, 5);
    assert_contains(&stderr_of(&o), "too many redirects: 10 followed", &o);
}

#[test]
fn credentials_go_to_the_first_host_only() {
    if !require_peer("python") {
        return;
    }
    // Same server twice: as 127.0.0.1 (the first host) and as localhost (another host).
    let mut peer = redirector(&[
        "/same=302:/seen-same",
        "/other=302:ws://localhost:{port}/seen-other",
    ]);
    for (start, seen) in [("same", "/seen-same"), ("other", "/seen-other")] {
        let o = go(
            &peer.url_with(start),
            &["-L", "--auth", "u:pw", "-H", "Cookie: sid=1", "--json"],
        );
        assert_exit(&o, 0);
        let events = parse_ndjson(Schema::Connect, &o);
        let hop = of_type(&events, "redirect")[0];
        assert_eq!(hop["credentials_dropped"], start == "other", "{hop}");
        let req = peer
            .observations_until(|v| v["path"] == seen, T)
            .into_iter()
            .find(|v| v["path"] == seen)
            .unwrap();
        if start == "same" {
            assert_eq!(req["authorization"], "Basic dTpwdw==", "{req}");
            assert_eq!(req["cookie"], "sid=1", "{req}");
        } else {
            assert!(req["authorization"].is_null(), "{req}");
            assert!(req["cookie"].is_null(), "{req}");
        }
    }
}

#[test]
fn a_failure_after_a_redirect_says_where_it_was_sent_from() {
    if !require_peer("python") {
        return;
    }
    let closed = format!("ws://127.0.0.1:{}/", free_port());
    let route = format!("/gone=302:{closed}");
    let peer = redirector(&[&route]);
    let o = go(&peer.url_with("gone"), &["-L"]);
    assert_exit(&o, 3);
    assert_contains(
        &stderr_of(&o),
        &format!(
            "(after 1 redirect(s), the last from {})",
            peer.url_with("gone")
        ),
        &o,
    );
}
