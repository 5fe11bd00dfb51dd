//! `wsbeat connect` in scripted mode: --send messages, then stdin lines, out; messages in to
//! stdout; a CloseEvent at the end; an exit code that says how it went.

use crate::config::ConnectConfig;
use crate::core::close::{CloseEvent, CloseSpec, Initiator};
use crate::core::conn::{Conn, DataKind, Inbound};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::Event;
use crate::core::handshake;
use crate::core::probe::{PingTracker, PongMatch};
use crate::render::{self, ClientView, Render};
use crate::stdin::{self, StdinItem};
use bytes::Bytes;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::{Sleep, sleep_until};

/// Where events go, stamped with the time since the run started.
pub struct Output {
    start: Instant,
    render: Box<dyn Render + Send>,
    /// Set when stdout went away (closed pipe): we stop, and that is not an error.
    pub gone: bool,
}

impl Output {
    pub fn new(start: Instant, render: Box<dyn Render + Send>) -> Self {
        Output {
            start,
            render,
            gone: false,
        }
    }

    pub fn emit(&mut self, event: Event) {
        if self.gone {
            return;
        }
        if let Err(e) = self.render.event(self.start.elapsed(), &event) {
            if !render::is_broken_pipe(&e) {
                eprintln!("wsbeat: error: cannot write output: {e}");
            }
            self.gone = true;
        }
    }
}

/// Why the session ended, beyond the CloseEvent itself.
#[derive(Default)]
struct Ending {
    interrupted: bool,
    error: Option<Error>,
    expects_met: usize,
}

pub async fn run(cfg: ConnectConfig) -> ExitCode {
    let start = Instant::now();
    let render = render::client(
        &cfg.output,
        ClientView {
            binary_format: cfg.binary_format,
            show_control: cfg.show_control,
        },
    );
    let mut out = Output::new(start, render);
    if cfg.insecure {
        out.emit(Event::Warning(
            "--insecure: the server's certificate is NOT verified; anyone on the path can read and change this connection".into(),
        ));
    }
    // Read stdin from the start so that nothing typed before the connection opens is lost.
    let mut lines = stdin::spawn_lines();
    let deadline = cfg.timeout.map(|t| start + t);

    let opened = tokio::select! {
        r = handshake::open(&cfg.conn) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::new(ErrorKind::Interrupted, "interrupted while connecting")),
        _ = sleep_opt(deadline) => Err(Error::new(ErrorKind::Timeout, "--timeout ran out while connecting")),
    };
    let (ws, hs) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            let code = e.kind().exit_code();
            out.emit(Event::Error(e));
            return ExitCode::from(code);
        }
    };
    out.emit(Event::Opened(hs));
    let mut conn = Conn::new(ws);
    let ending = session(&cfg, &mut conn, &mut out, &mut lines, deadline).await;
    exit_code(&cfg, ending, &mut out)
}

fn exit_code(
    cfg: &ConnectConfig,
    (close, ending): (CloseEvent, Ending),
    out: &mut Output,
) -> ExitCode {
    if out.gone {
        return ExitCode::SUCCESS;
    }
    if ending.interrupted {
        return ExitCode::from(ErrorKind::Interrupted.exit_code());
    }
    if let Some(e) = &ending.error {
        return ExitCode::from(e.kind().exit_code());
    }
    if let Some(want) = cfg.expect_close {
        if close.code != want || close.initiator != Initiator::Server {
            out.emit(Event::Error(Error::new(
                ErrorKind::Check,
                format!(
                    "--expect-close {want}: the connection ended with {} ({}) initiated by {}",
                    close.code,
                    close.name(),
                    close.initiator.as_str()
                ),
            )));
            return ExitCode::from(ErrorKind::Check.exit_code());
        }
    } else if close.initiator == Initiator::Server && !close.is_normal() {
        return ExitCode::from(ErrorKind::CloseCode.exit_code());
    }
    if ending.expects_met < cfg.expect.len() {
        out.emit(Event::Error(Error::new(
            ErrorKind::Check,
            format!(
                "--expect '{}' was not met ({} of {} matched)",
                cfg.expect[ending.expects_met].as_str(),
                ending.expects_met,
                cfg.expect.len()
            ),
        )));
        return ExitCode::from(ErrorKind::Check.exit_code());
    }
    ExitCode::SUCCESS
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn timer(at: Option<Instant>) -> std::pin::Pin<Box<Sleep>> {
    // A far-future timer stands in for "never" so the select arm shape stays the same.
    let at = at.unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365));
    Box::pin(sleep_until(at.into()))
}

async fn session(
    cfg: &ConnectConfig,
    conn: &mut Conn,
    out: &mut Output,
    lines: &mut mpsc::Receiver<StdinItem>,
    deadline: Option<Instant>,
) -> (CloseEvent, Ending) {
    let mut ending = Ending::default();
    let mut tracker = PingTracker::new(16);
    let mut ping_timer = cfg.ping_interval.map(|every| {
        let mut t = tokio::time::interval_at((Instant::now() + every).into(), every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut stdin_open = true;
    let mut wait_timer = timer(None);
    let mut wait_armed = false;
    let mut overall = timer(deadline);

    // The close we will send when the script is done; errors found on our side change it.
    let mut close_with: Option<CloseSpec> = None;

    for (kind, payload) in &cfg.preamble {
        if let Err(e) = send(conn, out, cfg, *kind, payload.clone()).await {
            ending.error = Some(e.clone());
            out.emit(Event::Error(e));
            break;
        }
    }

    loop {
        if out.gone && !conn.is_closing() {
            close_with = Some(CloseSpec::default());
        }
        if let Some(spec) = close_with.take()
            && !conn.is_closing()
            && let Err(e) = conn.close(&spec).await
        {
            out.emit(Event::Error(e.clone()));
            ending.error.get_or_insert(e);
        }
        if !stdin_open && !wait_armed && !conn.is_closing() {
            wait_armed = true;
            if let Some(wait) = cfg.wait {
                wait_timer = timer(Some(Instant::now() + wait));
            }
        }
        let closing = conn.is_closing();
        tokio::select! {
            inbound = conn.recv() => match inbound {
                Inbound::Data { kind, payload } => {
                    out.emit(Event::Received { kind, payload: payload.clone() });
                    if let Some(re) = cfg.expect.get(ending.expects_met) {
                        let text = String::from_utf8_lossy(&payload);
                        if re.is_match(&text) {
                            out.emit(Event::ExpectMet {
                                index: ending.expects_met,
                                pattern: re.as_str().to_string(),
                                matched: text.into_owned(),
                            });
                            ending.expects_met += 1;
                            if ending.expects_met == cfg.expect.len() {
                                close_with = Some(cfg.close.clone());
                            }
                        }
                    }
                    if cfg.echo && !closing
                        && let Err(e) = send(conn, out, cfg, kind, payload).await
                    {
                        out.emit(Event::Error(e.clone()));
                        ending.error.get_or_insert(e);
                    }
                }
                Inbound::Ping(p) => out.emit(Event::Ping { outbound: false, len: p.len(), seq: None }),
                Inbound::Pong(p) => {
                    let (seq, rtt) = match tracker.on_pong(&p, Instant::now()) {
                        PongMatch::Reply { seq, rtt } | PongMatch::Late { seq, rtt } => (Some(seq), Some(rtt)),
                        PongMatch::Duplicate { seq } => (Some(seq), None),
                        PongMatch::Unsolicited => (None, None),
                    };
                    out.emit(Event::Pong { outbound: false, len: p.len(), seq, rtt });
                }
                Inbound::Closed { close, error } => {
                    if let Some(e) = error {
                        out.emit(Event::Error(e.clone()));
                        ending.error.get_or_insert(e);
                    }
                    out.emit(Event::Closed(close.clone()));
                    return (close, ending);
                }
            },
            item = lines.recv(), if stdin_open && !closing => match item {
                Some(StdinItem::Line(line)) => {
                    let payload = match cfg.line_kind {
                        DataKind::Text if std::str::from_utf8(&line).is_err() => {
                            let e = Error::usage("a stdin line is not valid UTF-8; send it with --binary");
                            out.emit(Event::Error(e.clone()));
                            ending.error.get_or_insert(e);
                            stdin_open = false;
                            close_with = Some(CloseSpec::default());
                            continue;
                        }
                        _ => Bytes::from(line),
                    };
                    if let Err(e) = send(conn, out, cfg, cfg.line_kind, payload).await {
                        out.emit(Event::Error(e.clone()));
                        ending.error.get_or_insert(e);
                    }
                }
                Some(StdinItem::Failed(msg)) => {
                    let e = Error::new(ErrorKind::Io, format!("cannot read stdin: {msg}"));
                    out.emit(Event::Error(e.clone()));
                    ending.error.get_or_insert(e);
                    stdin_open = false;
                }
                None => stdin_open = false,
            },
            _ = &mut wait_timer, if wait_armed && !closing => {
                close_with = Some(cfg.close.clone());
            }
            _ = async { ping_timer.as_mut().expect("guarded").tick().await }, if ping_timer.is_some() && !closing => {
                let (seq, payload) = tracker.start(Instant::now());
                let len = payload.len();
                // Pongs older than a minute will never be matched as replies; forget them.
                tracker.expire(Instant::now() - Duration::from_secs(60));
                match conn.ping(payload).await {
                    Ok(()) => out.emit(Event::Ping { outbound: true, len, seq: Some(seq) }),
                    Err(e) => {
                        out.emit(Event::Error(e.clone()));
                        ending.error.get_or_insert(e);
                    }
                }
            }
            _ = &mut overall, if !closing => {
                close_with = Some(CloseSpec::default());
            }
            _ = tokio::signal::ctrl_c() => {
                if ending.interrupted || closing {
                    // Second Ctrl-C, or the peer will not finish closing: stop now.
                    let mut close = CloseEvent::abnormal("interrupted");
                    close.initiator = Initiator::Client;
                    out.emit(Event::Closed(close.clone()));
                    ending.interrupted = true;
                    return (close, ending);
                }
                ending.interrupted = true;
                close_with = Some(CloseSpec::default());
            }
        }
    }
}

async fn send(
    conn: &mut Conn,
    out: &mut Output,
    cfg: &ConnectConfig,
    kind: DataKind,
    payload: Bytes,
) -> Result<(), Error> {
    let fragments = conn.send(kind, payload.clone(), cfg.fragment_size).await?;
    out.emit(Event::Sent {
        kind,
        payload,
        fragments,
    });
    Ok(())
}
