//! curl's address overrides and TLS name: `--resolve`, `--connect-to`, `--tls-server-name`,
//! and `SSLKEYLOGFILE`.

use super::*;

const NAME: &str = "api.wsbeat-test.invalid";

/// An echo server with a certificate for a name no DNS knows.
fn tls_server_for_made_up_name() -> (TestPki, Proc, String) {
    let pki = test_pki_for(&[NAME]);
    let (server, url) = echo_server(&["--tls-cert", path(&pki.cert), "--tls-key", path(&pki.key)]);
    (pki, server, url)
}

#[test]
fn resolve_points_a_made_up_name_at_loopback_and_tls_verifies_that_name() {
    let (pki, _server, url) = tls_server_for_made_up_name();
    let port = port_of(&url);
    let named = format!("wss://{NAME}:{port}/");
    let o = go(
        &named,
        &[
            "--json",
            "--cacert",
            path(&pki.ca),
            "--resolve",
            &format!("{NAME}:{port}:127.0.0.1"),
        ],
    );
    assert_exit(&o, 0);
    let v = opened(&o);
    assert_eq!(
        (v["url"].as_str(), v["peer"].as_str()),
        (
            Some(named.as_str()),
            Some(url.trim_start_matches("wss://").trim_end_matches('/'))
        )
    );
    // Without --resolve the name does not exist (exit 3); by address the certificate's name
    // does not match (exit 4).
    let o = go(&named, &["--cacert", path(&pki.ca)]);
    assert_exit(&o, 3);
    let o = go(&url, &["--cacert", path(&pki.ca)]);
    assert_exit(&o, 4);
    assert_contains(&stderr_of(&o), "name mismatch", &o);
}

#[test]
fn connect_to_and_tls_server_name() {
    let (pki, _server, url) = tls_server_for_made_up_name();
    let port = port_of(&url);
    let o = go(
        &format!("wss://{NAME}/"),
        &[
            "--json",
            "--cacert",
            path(&pki.ca),
            "--connect-to",
            &format!("{NAME}:443:127.0.0.1:{port}"),
        ],
    );
    assert_exit(&o, 0);
    assert_eq!(opened(&o)["url"], format!("wss://{NAME}/"));

    let o = go(
        &url,
        &["--cacert", path(&pki.ca), "--tls-server-name", NAME],
    );
    assert_exit(&o, 0);
    let o = go(
        &url,
        &[
            "--cacert",
            path(&pki.ca),
            "--tls-server-name",
            "other.invalid",
        ],
    );
    assert_exit(&o, 4);
    assert_contains(&stderr_of(&o), "'other.invalid' (name mismatch)", &o);
}

#[test]
fn bad_overrides_are_usage_errors() {
    for (flag, value) in [
        ("--resolve", "h:1"),
        ("--resolve", "h:99999:127.0.0.1"),
        ("--resolve", "h:1:not-an-ip"),
        ("--connect-to", "a:1:b"),
        ("--proxy", "ftp://u:hunter2@h"),
    ] {
        let o = go("ws://127.0.0.1:9/", &[flag, value]);
        assert_exit(&o, 2);
        assert!(!describe(&o).contains("hunter2"), "{}", describe(&o));
    }
}

/// `SSLKEYLOGFILE`: a warning, and the NSS key log format Wireshark reads: `LABEL
/// CLIENT_RANDOM SECRET`, hex, one line per secret, for TLS 1.3 the four traffic secrets.
#[test]
fn sslkeylogfile_gets_the_tls_secrets_and_a_warning() {
    let (pki, _server, url) = tls_server_for_made_up_name();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("keys.log");
    let mut cmd = connect(
        &url,
        &["--cacert", path(&pki.ca), "--tls-server-name", NAME],
    );
    cmd.env("SSLKEYLOGFILE", &log);
    let o = run(&mut cmd);
    assert_exit(&o, 0);
    assert_contains(
        &stderr_of(&o),
        &format!(
            "wsbeat: warning: SSLKEYLOGFILE: TLS secrets are written to {}",
            log.display()
        ),
        &o,
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let mut labels = std::collections::BTreeSet::new();
    let mut randoms = std::collections::BTreeSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 3, "{line}");
        let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(hex(f[1]) && f[1].len() == 64, "client random: {line}");
        assert!(hex(f[2]) && f[2].len() >= 64, "secret: {line}");
        labels.insert(f[0].to_string());
        randoms.insert(f[1].to_string());
    }
    for want in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        assert!(labels.contains(want), "{want} missing in\n{text}");
    }
    assert_eq!(
        randoms.len(),
        1,
        "one connection, one client random:\n{text}"
    );
    // Without the variable: no file, no warning.
    let o = go(
        &url,
        &["--cacert", path(&pki.ca), "--tls-server-name", NAME],
    );
    assert!(!stderr_of(&o).contains("SSLKEYLOGFILE"));
}
