//! The interactive session driven through a real pseudo-terminal: tmux runs wsbeat in a
//! detached session, `send-keys` types, `capture-pane` shows what a person would see, and the
//! peer reports what arrived. Every wait polls the pane with a deadline; nothing sleeps to
//! synchronise.

use std::time::Duration;

use crate::common::tmux::Tmux;
use crate::common::*;

const T: Duration = OBS_TIMEOUT;

/// `wsbeat connect URL ARGS...` in a terminal (tmux): when wsbeat exits, the pane prints
/// `EXIT=<code>` and the terminal settings, and stays open for inspection.
fn start(url: &str, args: &[&str]) -> Tmux {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "env -i PATH=\"$PATH\" HOME=\"$HOME\" TERM=screen NO_COLOR=1 '{bin}' connect '{url}' {args}; \
         echo EXIT=$?; stty -a; echo END-OF-RUN; exec sleep 120",
        bin = env!("CARGO_BIN_EXE_wsbeat"),
        args = quoted.join(" ")
    );
    Tmux::start(120, 40, T, &script)
}

/// Waits for wsbeat to exit and the terminal settings to be printed; checks the code.
#[track_caller]
fn wait_exit(t: &Tmux, code: i32) -> String {
    let screen = t.wait_text("END-OF-RUN");
    assert!(
        screen.contains(&format!("EXIT={code}\n")),
        "want exit {code}:\n{screen}"
    );
    screen
}

/// The last non-empty row: the prompt and what is typed on it.
fn prompt_row(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_end()
}

fn ready(url: &str, args: &[&str]) -> Tmux {
    let t = start(url, args);
    t.wait_text("/help for commands");
    t
}

#[track_caller]
fn assert_terminal_restored(screen: &str) {
    let stty: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("EXIT="))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ';'))
        .collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            stty.contains(&flag),
            "terminal not restored: want `{flag}` in stty -a\n{screen}"
        );
    }
}

/// Waits until the peer has received `n` messages; returns them.
#[track_caller]
fn wait_messages(peer: &mut Peer, n: usize) -> Vec<serde_json::Value> {
    let mut seen = 0;
    peer.observations_until(
        |v| {
            seen += usize::from(v["event"] == "message");
            seen >= n
        },
        T,
    );
    peer.events("message")
}

#[test]
fn typed_lines_echo_ping_shows_rtt_history_recalls_and_ctrl_d_restores_the_terminal() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let t = ready(peer.url(), &[]);
    t.line("hello");
    t.wait_text("< hello");
    assert!(t.screen().contains("> hello"), "sent line shown");
    t.line("/ping");
    t.wait("a pong with its rtt", |s| {
        s.lines().any(|l| l.starts_with("< pong seq=1 rtt="))
    });
    // Up recalls /ping, Up again recalls hello.
    t.keys(&["Up", "Up", "Enter"]);
    let got = wait_messages(&mut peer, 2);
    assert_eq!(got[1]["data"], "hello", "{}", peer.diagnostics());
    t.keys(&["C-d"]);
    let screen = wait_exit(&t, 0);
    assert!(
        screen.contains(
            r#"closed: code=1000 (Normal Closure) reason="" wasClean=true initiator=client"#
        ),
        "{screen}"
    );
    assert_terminal_restored(&screen);
    let closed = peer.wait_event("closed", T);
    assert_eq!(closed["code"], 1000);
    assert_eq!(peer.events("message").len(), 2, "{}", peer.diagnostics());
}

#[test]
fn binary_fragment_tab_completion_and_paste_arrive_as_sent() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let t = ready(peer.url(), &[]);
    t.line("/binary ff00");
    let got = wait_messages(&mut peer, 1);
    assert_eq!(got[0]["type"], "binary");
    assert_eq!(got[0]["data"], "ff00");
    t.wait_text("00000000  ff 00");

    // Tab completes the command name.
    t.type_text("/fr");
    t.keys(&["Tab"]);
    t.wait("completed /fragment", |s| prompt_row(s) == "> /fragment");
    t.line("3 abcdefg");
    let got = wait_messages(&mut peer, 2);
    assert_eq!(got[1]["data"], "abcdefg");
    assert_eq!(got[1]["fragments"], 3, "{}", peer.diagnostics());
    t.wait_text("> abcdefg (3 frames)");

    // A multi-line paste is one message.
    t.paste("first line\nsecond line");
    t.wait("the paste on the prompt", |s| {
        prompt_row(s).contains("first line↵second line")
    });
    t.keys(&["Enter"]);
    let got = wait_messages(&mut peer, 3);
    assert_eq!(
        got[2]["data"],
        "first line\nsecond line",
        "{}",
        peer.diagnostics()
    );

    t.line("//slash");
    let got = wait_messages(&mut peer, 4);
    assert_eq!(got[3]["data"], "/slash");
    t.line("/quit");
    let screen = wait_exit(&t, 0);
    assert_terminal_restored(&screen);
}

#[test]
fn close_with_code_and_reason_ends_with_that_close_event() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let t = ready(peer.url(), &[]);
    t.line("/close 4000 bye");
    let screen = wait_exit(&t, 0);
    assert!(
        screen.contains(
            r#"closed: code=4000 (application) reason="bye" wasClean=true initiator=client"#
        ),
        "{screen}"
    );
    assert_terminal_restored(&screen);
    let closed = peer.wait_event("closed", T);
    assert_eq!(closed["code"], 4000);
    assert_eq!(closed["reason"], "bye");
}

#[test]
fn incoming_messages_leave_the_half_typed_line_and_cursor_intact() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::resilience(&["--push-every", "0.2"]);
    let t = ready(peer.url(), &[]);
    t.type_text("hello world");
    t.keys(&["Left", "Left", "Left", "Left", "Left"]);
    let pushes = |s: &str| s.lines().filter(|l| l.starts_with("< push")).count();
    let before = pushes(&t.wait("the typed line", |s| prompt_row(s) == "> hello world"));
    let screen = t.wait("two more pushes", |s| pushes(s) >= before + 2);
    assert_eq!(prompt_row(&screen), "> hello world", "{screen}");
    // The cursor stayed between "hello " and "world".
    t.type_text("big ");
    t.keys(&["Enter"]);
    peer.observations_until(|v| v["event"] == "message", T);
    assert_eq!(
        peer.events("message")[0]["data"],
        "hello big world",
        "{}",
        peer.diagnostics()
    );
    t.keys(&["C-d"]);
    wait_exit(&t, 0);
}

#[test]
fn ctrl_c_closes_with_1000_and_restores_the_terminal() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let t = ready(peer.url(), &[]);
    t.type_text("not sent");
    t.keys(&["C-c"]);
    let screen = wait_exit(&t, 130);
    assert!(screen.contains("closed: code=1000"), "{screen}");
    assert_terminal_restored(&screen);
    assert_eq!(peer.wait_event("closed", T)["code"], 1000);
    assert!(peer.events("message").is_empty());
}

#[test]
fn reconnect_and_status_commands() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--subprotocols", "chat"]);
    let t = ready(peer.url(), &["-s", "chat", "--send", "hi"]);
    wait_messages(&mut peer, 1);
    t.line("/reconnect");
    t.wait_text("reconnected on attempt 1");
    // The --send preamble is sent again on the new connection.
    let got = wait_messages(&mut peer, 2);
    assert_eq!(got[1]["data"], "hi");
    t.line("/status");
    let screen = t.wait_text("reconnects: 1");
    assert!(screen.contains("subprotocol: chat"), "{screen}");
    assert!(screen.contains("state: open"), "{screen}");
    assert_eq!(peer.events("connect").len(), 2);
    t.keys(&["C-d"]);
    wait_exit(&t, 0);
}

#[test]
fn lines_typed_while_offline_are_sent_after_the_reconnect() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut first = Peer::resilience(&[]);
    let port = first.port().to_string();
    let t = ready(
        first.url(),
        &[
            "--reconnect",
            "--backoff",
            "100ms..300ms",
            "--max-reconnects",
            "50",
        ],
    );
    t.line("one");
    first.observations_until(|v| v["data"] == "one", T);
    drop(first);
    t.wait("the offline prompt", |s| prompt_row(s) == "(offline) >");
    t.line("two");
    t.wait_text("buffered text (3 bytes) while disconnected; 1 waiting");
    let mut second = Peer::resilience(&["--port", &port]);
    second.observations_until(|v| v["data"] == "two", T);
    let screen = t.wait("the online prompt", |s| prompt_row(s) == ">");
    assert!(screen.contains("sending 1 buffered message(s)"), "{screen}");
    t.keys(&["C-d"]);
    wait_exit(&t, 0);
}

#[test]
fn history_file_is_kept_across_sessions() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let history = path_str(&history);
    let peer = Peer::python(&[]);
    let t = ready(peer.url(), &["--history", history]);
    t.line("remember me");
    t.wait_text("< remember me");
    t.keys(&["C-d"]);
    wait_exit(&t, 0);
    drop(t);
    let t = ready(peer.url(), &["--history", history]);
    t.keys(&["Up"]);
    t.wait("the recalled line", |s| prompt_row(s) == "> remember me");
    t.keys(&["C-u", "C-d"]);
    wait_exit(&t, 0);
}

#[test]
fn sigterm_closes_and_restores_the_terminal() {
    if !require_peer("tmux") || !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let t = ready(peer.url(), &[]);
    // The pane's shell runs `env -i ... wsbeat`, and env execs: its one child is wsbeat.
    let shell = t.pane_pid();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("read the pane shell's children from /proc");
    let pid = children.split_whitespace().next().unwrap_or("").to_string();
    assert!(!pid.is_empty(), "wsbeat's pid under the pane shell {shell}");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "wsbeat", "pid {pid} is not wsbeat");
    signal(pid.parse().unwrap(), libc::SIGTERM);
    let screen = wait_exit(&t, 130);
    assert!(screen.contains("closed: code=1000"), "{screen}");
    assert_terminal_restored(&screen);
    assert_eq!(peer.wait_event("closed", T)["code"], 1000);
}
