//! Unix sockets: `echo-server --listen unix:PATH`, `--unix-socket` and `ws+unix://`, against
//! our server and Python's `websockets.unix_serve`.

use super::*;

#[test]
fn our_echo_server_on_a_unix_socket_states_its_mode_and_removes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("echo.sock");
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen"])
        .arg(format!("unix:{}", sock.display()));
    let mut server = Proc::spawn("echo-server", &mut cmd);
    let line = server.wait_out("`listening on URL`", T, |l| l.starts_with("listening on "));
    let url = line.trim_start_matches("listening on ");
    assert_eq!(url, format!("ws+unix://{}:/", sock.display()));
    server.wait_err("the socket's mode", T, |l| {
        l.contains(&format!("socket {} has mode ", sock.display())) && l.contains("removed on exit")
    });

    // The URL it prints works as it is, and --unix-socket takes Host and path from the URL.
    let o = go(url, &["--send", "over unix", "--json"]);
    assert_exit(&o, 0);
    assert_eq!(opened(&o)["peer"], format!("unix:{}", sock.display()));
    let o = go(
        "ws://example.test/chat",
        &["--unix-socket", path(&sock), "--send", "x", "--json"],
    );
    assert_exit(&o, 0);
    assert_eq!(opened(&o)["url"], "ws://example.test/chat");

    // A second server on the same live socket is refused; the first one's file stays.
    let mut again = wsbeat();
    again
        .args(["echo-server", "--listen"])
        .arg(format!("unix:{}", sock.display()));
    let o = run(&mut again);
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "a server listening", &o);
    assert!(sock.exists());

    server.signal(libc::SIGTERM);
    assert!(server.finish(T).success());
    assert!(!sock.exists(), "the socket file should be gone");
    let o = go("ws://localhost/", &["--unix-socket", path(&sock)]);
    assert_exit(&o, 3);
    assert_contains(&stderr_of(&o), "no such socket file", &o);
}

#[test]
fn python_websockets_unix_serve_sees_our_host_and_path() {
    if !require_peer("python") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("py.sock");
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(peers_dir().join("unix_server.py"))
        .arg(&sock);
    let server = Proc::spawn("unix_server.py", &mut cmd);
    server.wait_out("`listening unix:PATH`", PEER_START_TIMEOUT, |l| {
        l.starts_with("listening unix:")
    });
    for (url, extra, want) in [
        (
            "ws://api.example/v1?x=1".to_string(),
            vec!["--unix-socket", path(&sock)],
            "/v1?x=1 api.example",
        ),
        (
            format!("ws+unix://{}:/feed", sock.display()),
            vec![],
            "/feed localhost",
        ),
    ] {
        let mut cmd = connect(
            &url,
            &[
                "--send",
                "echo me",
                "--expect",
                " ",
                "--expect",
                "^echo me$",
                "--json",
            ],
        );
        cmd.args(&extra);
        let o = run(&mut cmd);
        assert_exit(&o, 0);
        let events = parse_ndjson(Schema::Connect, &o);
        let got: Vec<&str> = of_type(&events, "received")
            .iter()
            .map(|e| e["text"].as_str().unwrap())
            .collect();
        assert_eq!(got, [want, "echo me"], "{}", describe(&o));
    }
}

#[test]
fn a_stale_socket_file_is_replaced_and_any_other_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("stale.sock");
    // Bound and dropped: the file stays, nobody answers on it (a killed server's leftover).
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen"])
        .arg(format!("unix:{}", stale.display()));
    let mut server = Proc::spawn("echo-server", &mut cmd);
    server.wait_out("`listening on URL`", T, |l| l.starts_with("listening on "));
    let o = go(&format!("ws+unix://{}:/", stale.display()), &[]);
    assert_exit(&o, 0);
    server.signal(libc::SIGTERM);
    assert!(server.finish(T).success());
    assert!(!stale.exists());

    let plain = dir.path().join("notes.txt");
    std::fs::write(&plain, "keep me").unwrap();
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen"])
        .arg(format!("unix:{}", plain.display()));
    let o = run(&mut cmd);
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "a file that is not a socket", &o);
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "keep me");

    // A hangup removes the file too.
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen"])
        .arg(format!("unix:{}", stale.display()));
    let mut server = Proc::spawn("echo-server", &mut cmd);
    server.wait_out("`listening on URL`", T, |l| l.starts_with("listening on "));
    assert!(stale.exists());
    server.signal(libc::SIGHUP);
    server.finish(T);
    assert!(!stale.exists());
}
