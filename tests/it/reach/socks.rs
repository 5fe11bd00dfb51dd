//! SOCKS5 through microsocks: user/password, reply codes by name, and where the name is
//! resolved (socks5:// here, socks5h:// at the proxy).

use super::*;

#[test]
fn socks5_with_user_and_password() {
    if !require_peer("microsocks") {
        return;
    }
    let proxy = Microsocks::start(&["-u", "bob", "-P", "pa55word"]);
    let (_server, url) = echo_server(&[]);
    let at = format!("127.0.0.1:{}", proxy.port);
    let ok = go(
        &url,
        &[
            "--send",
            "socks",
            "--expect",
            "^socks$",
            "--json",
            "-x",
            &format!("socks5://bob:pa55word@{at}"),
        ],
    );
    assert_exit(&ok, 0);
    assert_eq!(opened(&ok)["proxy"], format!("socks5://{at}"));
    assert!(!describe(&ok).contains("pa55word"));
    let events = parse_ndjson(Schema::Connect, &ok);
    assert_eq!(of_type(&events, "received")[0]["text"], "socks");

    let none = go(&url, &["-x", &format!("socks5://{at}")]);
    assert_exit(&none, 5);
    assert_contains(
        &stderr_of(&none),
        "no acceptable authentication method",
        &none,
    );
    let wrong = go(
        &url,
        &["-x", &format!("socks5h://{at}"), "--proxy-user", "bob:nope"],
    );
    assert_exit(&wrong, 5);
    assert_contains(
        &stderr_of(&wrong),
        "user/password authentication failed",
        &wrong,
    );
}

#[test]
fn a_refused_target_is_named_by_its_socks_reply() {
    if !require_peer("microsocks") {
        return;
    }
    let proxy = Microsocks::start(&[]);
    let closed = format!("ws://127.0.0.1:{}/", free_port());
    let o = go(
        &closed,
        &["-x", &format!("socks5://127.0.0.1:{}", proxy.port)],
    );
    assert_exit(&o, 3);
    assert_contains(&stderr_of(&o), "connection refused (reply 5)", &o);
}

/// A made-up name that `--resolve` answers: socks5:// resolves it here and sends the proxy an
/// address, so it works; socks5h:// hands the name to the proxy, which cannot resolve it.
#[test]
fn socks5_resolves_here_and_socks5h_at_the_proxy() {
    if !require_peer("microsocks") {
        return;
    }
    let proxy = Microsocks::start(&[]);
    let (_server, url) = echo_server(&[]);
    let port = port_of(&url);
    let made_up = format!("ws://wsbeat-made-up.invalid:{port}/");
    let resolve = format!("wsbeat-made-up.invalid:{port}:127.0.0.1");
    let local = go(
        &made_up,
        &[
            "--json",
            "--resolve",
            &resolve,
            "-x",
            &format!("socks5://127.0.0.1:{}", proxy.port),
        ],
    );
    assert_exit(&local, 0);
    assert_eq!(opened(&local)["url"], made_up);

    let remote = go(
        &made_up,
        &[
            "--resolve",
            &resolve,
            "-x",
            &format!("socks5h://127.0.0.1:{}", proxy.port),
        ],
    );
    assert_exit(&remote, 3);
    assert_contains(
        &stderr_of(&remote),
        &format!("could not open wsbeat-made-up.invalid:{port}: general SOCKS server failure"),
        &remote,
    );
}
