//! HTTP CONNECT through tinyproxy, and curl's proxy environment variables.

use super::*;

#[test]
fn a_connection_through_tinyproxy_names_the_proxy_and_times_its_phase() {
    if !require_peer("tinyproxy") {
        return;
    }
    let proxy = Tinyproxy::start("");
    let (_server, url) = echo_server(&[]);
    let o = go(
        &url,
        &[
            "--send",
            "via proxy",
            "--expect",
            "^via proxy$",
            "--json",
            "-x",
            &proxy.url(),
        ],
    );
    assert_exit(&o, 0);
    let v = opened(&o);
    assert_eq!(v["proxy"], proxy.url());
    assert_eq!(v["peer"], format!("127.0.0.1:{}", proxy.port));
    assert!(v["timings"]["proxy"].as_f64().unwrap() > 0.0, "{v}");
    let events = parse_ndjson(Schema::Connect, &o);
    assert_eq!(of_type(&events, "received")[0]["text"], "via proxy");
    // The human line says it too.
    let o = go(&url, &["--proxy", &proxy.url()]);
    assert_exit(&o, 0);
    assert_contains(&stderr_of(&o), &format!("via proxy {}", proxy.url()), &o);
    assert_contains(&stderr_of(&o), "  proxy ", &o);
}

#[test]
fn basic_auth_407_names_the_realm_and_the_password_is_never_printed() {
    if !require_peer("tinyproxy") {
        return;
    }
    let proxy = Tinyproxy::start("BasicAuth alice s3cretpw");
    let (_server, url) = echo_server(&[]);
    let o = go(&url, &["-x", &proxy.url()]);
    assert_exit(&o, 5);
    let err = stderr_of(&o);
    assert_contains(&err, "proxy refused CONNECT to 127.0.0.1:", &o);
    assert_contains(&err, "HTTP 407", &o);
    assert_contains(&err, "(realm \"", &o);
    assert_contains(&err, "--proxy-user", &o);

    let wrong = go(&url, &["-x", &proxy.url(), "--proxy-user", "alice:wr0ng"]);
    assert_exit(&wrong, 5);
    assert_contains(&stderr_of(&wrong), "did not accept the credentials", &wrong);
    assert!(!describe(&wrong).contains("wr0ng"));

    for args in [
        vec![
            "-x".to_string(),
            proxy.url(),
            "--proxy-user".into(),
            "alice:s3cretpw".into(),
        ],
        vec![
            "-x".to_string(),
            format!("http://alice:s3cretpw@127.0.0.1:{}", proxy.port),
        ],
    ] {
        let mut cmd = connect(&url, &["--send", "in", "--json", "-v"]);
        cmd.args(&args);
        let o = run(&mut cmd);
        assert_exit(&o, 0);
        assert!(!describe(&o).contains("s3cretpw"), "{}", describe(&o));
        assert_eq!(opened(&o)["proxy"], proxy.url());
    }
}

#[test]
fn a_port_the_proxy_does_not_allow_is_a_refused_connect_exit_5() {
    if !require_peer("tinyproxy") {
        return;
    }
    // ConnectPort limits CONNECT to the ports listed: 1 is not the echo server's.
    let proxy = Tinyproxy::start("ConnectPort 1");
    let (_server, url) = echo_server(&[]);
    let o = go(&url, &["-x", &proxy.url(), "--json"]);
    assert_exit(&o, 5);
    let events = parse_ndjson(Schema::Connect, &o);
    let e = of_type(&events, "error")[0];
    assert_eq!(e["kind"], "http_status");
    assert_eq!(e["status"], 403);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with("proxy refused CONNECT to 127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.contains("HTTP 403"), "{msg}");
}

#[test]
fn a_proxy_that_is_not_there_is_exit_3_and_says_proxy() {
    let (_server, url) = echo_server(&[]);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let o = go(&url, &["-x", &dead]);
    assert_exit(&o, 3);
    assert_contains(
        &stderr_of(&o),
        &format!("wsbeat: error: proxy {dead}: connection refused"),
        &o,
    );
}

#[test]
fn a_proxy_that_never_answers_is_a_connect_timeout_during_the_proxy_handshake() {
    // Accepts and reads, never answers: the timeout names the proxy's phase.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let o = go(
        "ws://127.0.0.1:9/",
        &[
            "-x",
            &format!("127.0.0.1:{port}"),
            "--connect-timeout",
            "300ms",
        ],
    );
    assert_exit(&o, 3);
    assert_contains(&stderr_of(&o), "during the proxy handshake", &o);
    drop(held.join());
}

#[test]
fn wss_through_connect_verifies_the_server_with_cacert() {
    if !require_peer("tinyproxy") {
        return;
    }
    let pki = test_pki();
    let proxy = Tinyproxy::start("");
    let (_server, url) = echo_server(&["--tls-cert", path(&pki.cert), "--tls-key", path(&pki.key)]);
    assert!(url.starts_with("wss://"), "{url}");
    let o = go(
        &url,
        &[
            "--send",
            "tls inside",
            "--json",
            "-x",
            &proxy.url(),
            "--cacert",
            path(&pki.ca),
        ],
    );
    assert_exit(&o, 0);
    let v = opened(&o);
    assert_eq!(v["proxy"], proxy.url());
    assert!(v["timings"]["tls"].as_f64().is_some(), "{v}");
    // Without the CA the target's certificate is still checked through the tunnel.
    let o = go(&url, &["-x", &proxy.url()]);
    assert_exit(&o, 4);
}

#[test]
fn the_environment_picks_the_proxy_as_curl_does_and_no_proxy_and_flags_override_it() {
    if !require_peer("tinyproxy") {
        return;
    }
    let proxy = Tinyproxy::start("");
    let (_server, url) = echo_server(&[]);
    let via = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = connect(&url, &["--json"]);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let o = run(&mut cmd);
        assert_exit(&o, 0);
        opened(&o)["proxy"].clone()
    };
    let p = proxy.url();
    assert_eq!(via(&[("http_proxy", &p)], &[]), p);
    assert_eq!(via(&[("all_proxy", &p)], &[]), p);
    assert_eq!(via(&[("ALL_PROXY", &p)], &[]), p);
    // ws:// reads only the lowercase http_proxy, and https_proxy is for wss://.
    assert!(via(&[("HTTP_PROXY", &p)], &[]).is_null());
    assert!(via(&[("https_proxy", &p)], &[]).is_null());
    // no_proxy: a host, a CIDR range, *; --noproxy replaces it; --proxy '' turns all off.
    assert!(
        via(
            &[("http_proxy", &p), ("no_proxy", "example.com,127.0.0.1")],
            &[]
        )
        .is_null()
    );
    assert!(via(&[("http_proxy", &p), ("NO_PROXY", "127.0.0.0/8")], &[]).is_null());
    assert!(via(&[("http_proxy", &p), ("no_proxy", "*")], &[]).is_null());
    assert_eq!(
        via(
            &[("http_proxy", &p), ("no_proxy", "127.0.0.1")],
            &["--noproxy", "other.test"]
        ),
        p
    );
    assert!(via(&[("http_proxy", &p)], &["--noproxy", "127.0.0.1"]).is_null());
    assert!(via(&[("http_proxy", &p)], &["--proxy", ""]).is_null());
}

#[test]
fn wss_reads_https_proxy() {
    if !require_peer("tinyproxy") {
        return;
    }
    let pki = test_pki();
    let proxy = Tinyproxy::start("");
    let (_server, url) = echo_server(&["--tls-cert", path(&pki.cert), "--tls-key", path(&pki.key)]);
    for var in ["https_proxy", "HTTPS_PROXY"] {
        let mut cmd = connect(&url, &["--json", "--cacert", path(&pki.ca)]);
        cmd.env(var, proxy.url());
        let o = run(&mut cmd);
        assert_exit(&o, 0);
        assert_eq!(opened(&o)["proxy"], proxy.url(), "{var}");
    }
}

#[test]
fn only_soak_takes_several_proxies_and_spreads_its_connections_over_them() {
    if !require_peer("tinyproxy") {
        return;
    }
    let (_server, url) = echo_server(&[]);
    let (a, b) = (Tinyproxy::start(""), Tinyproxy::start(""));
    let o = go(&url, &["-x", &a.url(), "-x", &b.url()]);
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "only soak", &o);
    let mut cmd = wsbeat();
    cmd.args([
        "soak",
        &url,
        "-c",
        "4",
        "-d",
        "1s",
        "-x",
        &a.url(),
        "-x",
        &b.url(),
    ]);
    let o = run(&mut cmd);
    assert_exit(&o, 0);
    // Round robin: two connections through each (tinyproxy logs each CONNECT on stdout).
    for p in [&a, &b] {
        let seen = poll_until(T, || {
            let n = p.connects();
            (n >= 2).then_some(n)
        });
        assert_eq!(seen, Some(2), "{}", p.proc.dump());
    }
}

/// TLS in front of tinyproxy: an https:// proxy as far as a client can tell. Serves `n`
/// connections, then ends.
fn tls_front(pki: &TestPki, backend: u16, n: usize) -> (u16, std::thread::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let mut tunnels = Vec::new();
            for _ in 0..n {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tunnels.push(tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut back = tokio::net::TcpStream::connect(("127.0.0.1", backend))
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut back).await;
                }));
            }
            for t in tunnels {
                let _ = t.await;
            }
        });
    });
    (port, thread)
}

#[test]
fn an_https_proxy_gets_tls_of_its_own_verified_with_cacert() {
    if !require_peer("tinyproxy") {
        return;
    }
    let pki = test_pki();
    let proxy = Tinyproxy::start("");
    let (port, front) = tls_front(&pki, proxy.port, 2);
    let https = format!("https://127.0.0.1:{port}");
    let (_server, url) = echo_server(&[]);
    let o = go(
        &url,
        &[
            "--send",
            "in tls",
            "--expect",
            "^in tls$",
            "--json",
            "-x",
            &https,
            "--cacert",
            path(&pki.ca),
        ],
    );
    assert_exit(&o, 0);
    let v = opened(&o);
    assert_eq!(v["proxy"], https);
    // ws:// to the server: no TLS of the target's own, the proxy's is in the proxy phase.
    assert!(v["timings"]["tls"].is_null(), "{v}");
    assert!(v["timings"]["proxy"].as_f64().unwrap() > 0.0, "{v}");
    // Without the CA the proxy's certificate is refused, and the error says it was the proxy.
    let o = go(&url, &["-x", &https]);
    assert_exit(&o, 4);
    assert_contains(&stderr_of(&o), &format!("proxy {https}: TLS: "), &o);
    front.join().unwrap();
}

#[test]
fn ping_goes_through_the_proxy_and_follows_redirects_too() {
    if !require_peer("microsocks") || !require_peer("python") {
        return;
    }
    let proxy = Microsocks::start(&[]);
    let socks = format!("socks5h://127.0.0.1:{}", proxy.port);
    let (_server, url) = echo_server(&[]);
    let route = format!("/ping=308:{url}");
    let peer = Peer::python_script("redirector", "redirector.py", &[&route]);
    let mut cmd = wsbeat();
    cmd.args([
        "ping",
        "-c",
        "1",
        "--json",
        "-x",
        &socks,
        "-L",
        &peer.url_with("ping"),
    ]);
    let o = run(&mut cmd);
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Ping, &o);
    assert_eq!(of_type(&events, "redirect")[0]["to"], url);
    let opened = of_type(&events, "opened")[0];
    assert_eq!(
        (&opened["url"], &opened["proxy"]),
        (&serde_json::json!(url), &serde_json::json!(socks))
    );
    assert_eq!(of_type(&events, "pong").len(), 1, "{}", describe(&o));
}
