//! `wsbeat connect` for people: a prompt with a line editor, slash commands, and incoming
//! messages printed above the line being typed. The connection itself (heartbeat, reconnect,
//! buffer) is the same `Link` the scripted mode uses.
//!
//! Modules: `editor` (keys → line, history), `commands` (slash commands, completion),
//! `screen` (raw mode guard, drawing), `view` (events → lines), `session` (the loop).

pub mod commands;
mod console;
pub mod editor;
pub mod screen;
pub mod view;

use crate::client::session::{NetOpener, Session};
use crate::cmd::connect::{Output, exit_code, open_first};
use crate::config::ConnectConfig;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::render::human::palette;
use editor::{Editor, History};
use screen::{Screen, TerminalGuard};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use view::View;

/// Entries kept in memory and read back from `--history`.
const HISTORY_LIMIT: usize = 1000;

pub async fn run(cfg: ConnectConfig) -> ExitCode {
    let start = Instant::now();
    colored::control::set_override(cfg.output.color);
    let width = crossterm::terminal::size().map_or(80, |(w, _)| w);
    let screen = Arc::new(Mutex::new(Screen::new(width)));
    let mut view = View::new(screen.clone());
    view.show_control = cfg.show_control;
    view.verbose = cfg.output.verbose;
    view.sio = cfg.socketio.is_some();
    view.base64 = cfg.binary_format == crate::render::BinaryFormat::Base64;
    let history_path = cfg.interactive.as_ref().and_then(|i| i.history.clone());
    view.timestamps = cfg.interactive.as_ref().is_some_and(|i| i.timestamps);
    let mut out = Output::new(start, Box::new(view));
    out.hide_received = cfg.socketio.is_some();

    // Connect before raw mode so that Ctrl-C during a slow connect is the usual signal.
    let (conn, hs) = match open_first(&cfg, &mut out, None).await {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let history = match &history_path {
        Some(path) => match load_history(path) {
            Ok(h) => h,
            Err(e) => {
                out.emit(Event::Warning(format!(
                    "cannot read --history {}: {e}; starting with an empty history",
                    path.display()
                )));
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let guard = match TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            out.emit(Event::Error(Error::new(
                ErrorKind::Io,
                format!("cannot set up the terminal: {e}; use --no-interactive"),
            )));
            return ExitCode::from(ErrorKind::Io.exit_code());
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let keys = spawn_terminal_events(stop.clone());
    {
        let mut s = view::lock(&screen);
        let _ = s.print_above(
            &palette::dim("type a message and Enter to send; /help for commands, Ctrl-D to quit")
                .to_string(),
        );
        let _ = s.activate();
    }
    let mut link = Session::new(
        cfg.session(),
        Box::new(NetOpener(cfg.conn.clone())),
        conn,
        &hs,
    );
    let ended = console::Console {
        cfg: &cfg,
        screen: &screen,
        editor: Editor::new(History::new(history, HISTORY_LIMIT)),
        history_path: history_path.as_deref(),
        keys,
        started: start,
        sio: cfg.socketio.as_ref().map(|c| {
            crate::sio::client::Client::new(
                &c.namespace,
                c.auth.clone(),
                crate::sio::client::Limits::default(),
            )
        }),
        to_ack: None,
    }
    .run(&mut link, &mut out)
    .await;
    stop.store(true, Ordering::Relaxed);
    let _ = view::lock(&screen).deactivate();
    drop(guard);
    exit_code(&cfg, ended, &mut out)
}

/// Terminal input on a plain thread (crossterm's reader blocks). It polls so that it notices
/// the end of the session and stops reading keys meant for the shell.
fn spawn_terminal_events(stop: Arc<AtomicBool>) -> mpsc::Receiver<crossterm::event::Event> {
    let (tx, rx) = mpsc::channel(256);
    let spawned = std::thread::Builder::new()
        .name("terminal".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match crossterm::event::poll(Duration::from_millis(100)) {
                    Ok(false) => continue,
                    Ok(true) => match crossterm::event::read() {
                        Ok(ev) => {
                            if tx.blocking_send(ev).is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    },
                    Err(_) => break,
                }
            }
        });
    // Without the thread the receiver closes at once, which the session treats as Ctrl-D.
    drop(spawned);
    rx
}

fn load_history(path: &Path) -> std::io::Result<Vec<String>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        lines.push(editor::unescape_history(&line?));
        if lines.len() > 2 * HISTORY_LIMIT {
            lines.drain(..HISTORY_LIMIT);
        }
    }
    Ok(lines)
}

fn append_history(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{}", editor::escape_history(line))
}
