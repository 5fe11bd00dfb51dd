//! `wsbeat connect` in scripted mode: the steps (--send, --expect, --expect-json in
//! command-line order, run by `client::steps`), then stdin lines, out; messages in to stdout; a
//! CloseEvent at the end; an exit code that says how it went. On a terminal the
//! interactive console (`interactive`) takes over; both keep the connection through a
//! `client::Session`.

pub mod interactive;
pub mod sio;

use sio::{self as sio_glue, Reaction};

use crate::client::session::{NetOpener, Outgoing, Session, Step};
use crate::client::steps::{Next, Runner, log::StepLog};
use crate::config::ConnectConfig;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::render::{self, ClientView, Render};
use crate::signals::{self, Stop};
use crate::sio::client::{Client as SioClient, Limits, Outbound};
use crate::stdin::{self, StdinItem};
use crate::ws::open::{self, ClientConnection, Handshake};
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{ABNORMAL, CloseEvent, CloseSpec, Initiator};
use bytes::Bytes;
use std::path::PathBuf;
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
    /// socket.io: raw Engine.IO packets are not shown; the `sio_*` events say what they held.
    pub hide_received: bool,
}

impl crate::event::EventSink for Output {
    fn emit(&mut self, event: Event) {
        Output::emit(self, event)
    }
}

impl Output {
    pub fn new(start: Instant, render: Box<dyn Render + Send>) -> Self {
        Output {
            start,
            render,
            gone: false,
            hide_received: false,
        }
    }

    pub fn emit(&mut self, event: Event) {
        if self.gone || (self.hide_received && matches!(event, Event::Received { .. })) {
            return;
        }
        if let Err(e) = self.render.event(self.start.elapsed(), &event) {
            crate::render::stdout_failed(&e);
            self.gone = true;
        }
    }
}

/// Why the session ended, beyond the CloseEvent itself.
#[derive(Default)]
pub struct Ending {
    pub interrupted: bool,
    pub error: Option<Error>,
}

pub async fn run(cfg: ConnectConfig) -> ExitCode {
    if cfg.interactive.is_some() {
        return crate::cmd::connect::interactive::run(cfg).await;
    }
    let start = Instant::now();
    let render = render::client(
        &cfg.output,
        ClientView {
            binary_format: cfg.binary_format,
            show_control: cfg.show_control,
        },
    );
    let mut out = Output::new(start, render);
    out.hide_received = cfg.socketio.is_some();
    for w in &cfg.script.warnings {
        out.emit(Event::Warning(w.clone()));
    }
    // Read stdin from the start so that nothing typed before the connection opens is lost.
    let mut lines = stdin::spawn_lines();
    let deadline = cfg.timeout.map(|t| start + t);
    let (conn, hs) = match open_first(&cfg, &mut out, deadline).await {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let mut link = Session::new(
        cfg.session(),
        Box::new(NetOpener(cfg.conn.clone())),
        conn,
        &hs,
    );
    let ending = session(&cfg, &mut link, &mut out, &mut lines, deadline).await;
    exit_code(&cfg, ending, &mut out)
}

/// The first connection: a failure here ends the run with its own exit code (3, 4, 5), even
/// with `--reconnect`, which is about keeping a connection that once worked.
/// The SSLKEYLOGFILE warning, when this run does TLS at all.
pub fn key_log_warning(conn: &crate::ws::handshake::client::ConnectOptions) -> Option<String> {
    conn.tls
        .as_ref()
        .and_then(|_| crate::net::tls::key_log_warning())
}

pub async fn open_first(
    cfg: &ConnectConfig,
    out: &mut Output,
    deadline: Option<Instant>,
) -> Result<(ClientConnection, Handshake), ExitCode> {
    if cfg.insecure {
        out.emit(Event::Warning(
            "--insecure: the server's certificate is NOT verified; anyone on the path can read and change this connection".into(),
        ));
    }
    if let Some(w) = key_log_warning(&cfg.conn) {
        out.emit(Event::Warning(w));
    }
    let mut stop = signals::subscribe();
    let opened = tokio::select! {
        r = open::open(&cfg.conn) => r,
        _ = stop.recv() => Err(Error::new(ErrorKind::Interrupted, "interrupted while connecting")),
        _ = sleep_opt(deadline) => Err(Error::new(ErrorKind::Timeout, "--timeout ran out while connecting")),
    };
    match opened {
        Ok((ws, hs)) => {
            for r in &hs.redirects {
                out.emit(Event::Redirected(r.clone()));
            }
            out.emit(Event::Opened(Box::new(hs.clone())));
            Ok((ws, hs))
        }
        Err(e) => {
            let code = e.kind().exit_code();
            out.emit(Event::Error(e));
            Err(ExitCode::from(code))
        }
    }
}

pub fn exit_code(
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
    // A dropped connection has no Close frame, so nobody initiated it: `--expect-close 1006`
    // asks that the peer drop it, and the Abnormal error that reports the drop is then the
    // expected outcome. Our own aborts (heartbeat, a failed write of our Close) carry our side
    // as initiator and still fail.
    let want_initiator = match cfg.expect_close {
        Some(ABNORMAL) => Initiator::None,
        _ => Initiator::Server,
    };
    let expected_drop = cfg.expect_close == Some(ABNORMAL)
        && close.code == ABNORMAL
        && close.initiator == Initiator::None
        && ending
            .error
            .as_ref()
            .is_none_or(|e| e.kind() == ErrorKind::Abnormal);
    if let Some(e) = &ending.error
        && !expected_drop
    {
        return ExitCode::from(e.kind().exit_code());
    }
    if let Some(want) = cfg.expect_close {
        if close.code != want || close.initiator != want_initiator {
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
    link: &mut Session,
    out: &mut Output,
    lines: &mut mpsc::Receiver<StdinItem>,
    deadline: Option<Instant>,
) -> (CloseEvent, Ending) {
    let mut ending = Ending::default();
    let mut ping_timer = cfg.ping_interval.map(|every| {
        let mut t = tokio::time::interval_at((Instant::now() + every).into(), every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut stdin_open = true;
    let mut wait_timer = timer(None);
    let mut wait_armed = false;
    let mut overall = timer(deadline);
    // With --reconnect a lost connection is not the end: its errors are reported, not kept.
    let keeps_going = cfg.reconnect.is_some();
    let mut stop = signals::subscribe();

    // The close we will send when the script is done; errors found on our side change it.
    let mut close_with: Option<CloseSpec> = None;

    let script = &cfg.script;
    let mut runner = Runner::new(script);
    let mut steplog = StepLog::default(); // NDJSON `step` events
    let mut step_timer = timer(None);
    let mut step_timer_armed = false;
    // The last message received, for a step's failure message.
    let mut last: Option<String> = None;
    // The steps are run again on every connection; `false` once they failed for good.
    let mut steps_live = true;
    // An expect step is current and its timer set.
    let mut awaiting = false;
    // Whether stdin lines went out: then the end of stdin leads to --wait, not an instant close.
    let mut stdin_sent = false;
    // socket.io: the client state machine, its ping deadline, and the emit-ack a step awaits.
    let mut sio = cfg
        .socketio
        .as_ref()
        .map(|c| SioClient::new(&c.namespace, c.auth.clone(), Limits::default()));
    let mut sio_timer = timer(None);
    let mut sio_armed = false;
    let mut ack_wait: Option<(u64, String)> = None;

    loop {
        steplog.progress(&runner, script, last.as_deref(), |e| out.emit(e));
        let sio_ready = sio.as_ref().is_none_or(SioClient::joined);
        if steps_live
            && sio_ready
            && !awaiting
            && link.is_up()
            && !link.is_closing()
            && !runner.is_done(script)
        {
            let mut emitter = sio.as_mut().map(|c| (c, &mut ack_wait));
            match run_sends(
                cfg,
                &mut runner,
                link,
                out,
                deadline,
                &mut stop,
                &mut emitter,
            )
            .await
            {
                Ok(Some(deadline)) => {
                    awaiting = true;
                    step_timer_armed = deadline.is_some();
                    step_timer = timer(deadline);
                }
                Ok(None) => {
                    step_timer_armed = false;
                    // What was typed while reconnecting goes out after the steps.
                    link.replay(out).await;
                    if script.ends_with_expect() && (!stdin_open || cfg.stdin_tty) {
                        // Done when the last expect matched and there is nothing more to send.
                        close_with = Some(cfg.close.clone());
                    }
                }
                // Dropped by --timeout or Ctrl-C mid-send: the session's end says why.
                Err(cut @ (Cut::TimedOut(_) | Cut::Interrupted)) => {
                    steps_live = false;
                    ending.record(out, Err(cut));
                }
                Err(Cut::Failed(e)) if keeps_going => out.emit(Event::Warning(e.to_string())),
                Err(Cut::Failed(e)) => {
                    out.emit(Event::Error(e.clone()));
                    ending.error.get_or_insert(e);
                    steps_live = false;
                    close_with = Some(CloseSpec::default());
                }
            }
        }
        steplog.progress(&runner, script, last.as_deref(), |e| out.emit(e));
        let steps_done = runner.is_done(script);
        if out.gone && !link.is_closing() {
            close_with = Some(CloseSpec::default());
        }
        if let Some(spec) = close_with.as_ref()
            && !link.is_closing()
            && link.is_up()
            && let Some(client) = sio.as_mut()
            && let Some(Outbound::Text(bye)) = client.leave()
        {
            // As `socket.disconnect()`: leave the namespace, then close the transport.
            let namespace = client.namespace().to_string();
            let _ = spec;
            let msg = Sending::Message(outgoing(cfg, DataKind::Text, Bytes::from(bye)));
            let sent = send_bounded(link, out, msg, deadline, &mut stop).await;
            ending.record(out, sent);
            out.emit(Event::SioDisconnect {
                namespace,
                reason: "io client disconnect".into(),
            });
        }
        if let Some(spec) = close_with.take()
            && !link.is_closing()
            && let Err(e) = link.close(out, &spec).await
        {
            out.emit(Event::Error(e.clone()));
            ending.error.get_or_insert(e);
        }
        // The wait for replies starts once everything typed is out, not while reconnecting.
        if !stdin_open && steps_done && !wait_armed && link.is_up() && link.buffered() == 0 {
            wait_armed = true;
            if let Some(wait) = cfg.wait {
                wait_timer = timer(Some(Instant::now() + wait));
            }
        }
        let closing = link.is_closing();
        let up = link.is_up();
        tokio::select! {
            wake = link.wait() => match link.handle(out, wake).await {
                Step::Data { kind, payload } if sio.is_some() => {
                    let client = sio.as_mut().expect("guarded");
                    let output = match sio_glue::feed(client, kind, &payload) {
                        Ok(output) => output,
                        Err(e) => {
                            out.emit(Event::Error(e.clone()));
                            ending.error.get_or_insert(e);
                            steps_live = false;
                            close_with = Some(CloseSpec::default());
                            continue;
                        }
                    };
                    if let Some(at) = client.ping_deadline() {
                        sio_timer = timer(Some(at));
                        sio_armed = true;
                    }
                    for ev in output.events {
                        match sio_glue::report(out, client, ev) {
                            Reaction::Nothing => {}
                            Reaction::Refused(e) => {
                                ending.error.get_or_insert(e);
                                steps_live = false;
                                close_with = Some(CloseSpec::default());
                            }
                            // As socket.io clients: a server disconnect is not retried.
                            Reaction::ServerLeft => close_with = Some(cfg.close.clone()),
                            Reaction::Event { text, .. } => {
                                if steps_live && !steps_done && ack_wait.is_none() {
                                    if let Some(m) = runner.offer(script, &text) {
                                        awaiting = false;
                                        out.emit(Event::ExpectMet {
                                            index: m.ordinal,
                                            pattern: m.source.to_string(),
                                            matched: text.clone(),
                                        });
                                    }
                                    last = Some(text);
                                }
                            }
                            Reaction::Ack(id) => {
                                if ack_wait.as_ref().is_some_and(|(want, _)| *want == id) {
                                    ack_wait = None;
                                    awaiting = false;
                                    step_timer_armed = false;
                                    if runner.is_done(script) && (!stdin_open || cfg.stdin_tty) {
                                        close_with = Some(cfg.close.clone());
                                    }
                                }
                            }
                        }
                    }
                    // Reported first, so that an event's time is when it came; then the
                    // answers (pongs, the namespace CONNECT, emits queued for it).
                    for send in output.send {
                        let msg = Sending::Message(sio_glue::outgoing(send, cfg.fragment_size));
                        let sent = send_bounded(link, out, msg, deadline, &mut stop).await;
                        ending.record(out, sent);
                    }
                }
                Step::Data { kind, payload } => {
                    if steps_live && !steps_done {
                        let text = String::from_utf8_lossy(&payload);
                        if let Some(m) = runner.offer(script, &text) {
                            awaiting = false;
                            out.emit(Event::ExpectMet {
                                index: m.ordinal,
                                pattern: m.source.to_string(),
                                matched: text.to_string(),
                            });
                        }
                        last = Some(text.into_owned());
                    }
                    if cfg.echo && !closing && sio.is_none() {
                        let echo = Sending::Message(outgoing(cfg, kind, payload));
                        let sent = send_bounded(link, out, echo, deadline, &mut stop).await;
                        ending.record(out, sent);
                    }
                }
                Step::Reconnected => {
                    if let Some(client) = sio.as_mut() {
                        client.reset();
                        sio_armed = false;
                        ack_wait = None;
                    }
                    // A new connection runs the conversation again from the first step.
                    runner.restart();
                    steplog.restart();
                    step_timer_armed = false;
                    awaiting = false;
                    last = None;
                    if wait_armed && let Some(wait) = cfg.wait {
                        // Replies to the replayed messages deserve the full wait.
                        wait_timer = timer(Some(Instant::now() + wait));
                    }
                }
                Step::Nothing => {}
                Step::Ended { close, error } => {
                    if let Some(client) = sio.as_ref().filter(|c| c.joined()) {
                        out.emit(Event::SioDisconnect {
                            namespace: client.namespace().to_string(),
                            reason: "transport close".into(),
                        });
                    }
                    if let Some(e) = error {
                        ending.error.get_or_insert(e);
                    }
                    if steps_live && !runner.is_done(script) && !ending.interrupted {
                        steplog.failed(&runner, script, "failed", |e| out.emit(e));
                        let e = runner.failed(script, "did not complete before the connection ended", last.as_deref());
                        out.emit(Event::Error(e.clone()));
                        ending.error.get_or_insert(e);
                    }
                    return (close, ending);
                }
            },
            _ = &mut sio_timer, if sio_armed && up && !closing => {
                sio_armed = false;
                let Some(client) = sio.as_ref() else { continue };
                let (why, e) = sio_glue::ping_timeout(out, client);
                if !keeps_going {
                    out.emit(Event::Error(e.clone()));
                }
                match link.peer_dead(out, &why, e) {
                    Step::Ended { close, error } => {
                        if let Some(e) = error {
                            ending.error.get_or_insert(e);
                        }
                        return (close, ending);
                    }
                    _ => continue,
                }
            }
            _ = &mut step_timer, if step_timer_armed && steps_live && !closing => {
                step_timer_armed = false;
                steplog.failed(&runner, script, "timed_out", |e| out.emit(e));
                let e = match ack_wait.take() {
                    Some((id, label)) => Error::new(
                        ErrorKind::Check,
                        format!(
                            "step {label}: no ack (id {id}) within {}",
                            script.step_timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_default()
                        ),
                    ),
                    None => runner.timed_out(script, last.as_deref()),
                };
                if keeps_going {
                    // Another connection might do better: make one.
                    out.emit(Event::Warning(e.to_string()));
                    if let Err(e) = link.reconnect().await {
                        out.emit(Event::Error(e));
                    }
                } else {
                    out.emit(Event::Error(e.clone()));
                    ending.error.get_or_insert(e);
                    steps_live = false;
                    close_with = Some(CloseSpec::default());
                }
            }
            item = lines.recv(), if stdin_open && steps_done && !closing => match item {
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
                    stdin_sent = true;
                    if let Some(client) = sio.as_mut() {
                        // socket.io: each line is the argument of a `message` event.
                        let arg = serde_json::Value::String(String::from_utf8_lossy(&payload).into_owned());
                        let sent = emit(cfg, client, link, out, "message", vec![arg], false, deadline, &mut stop).await;
                        ending.record(out, sent.map(|_| ()));
                        continue;
                    }
                    let line = Sending::Message(outgoing(cfg, cfg.line_kind, payload));
                    let sent = send_bounded(link, out, line, deadline, &mut stop).await;
                    ending.record(out, sent);
                }
                Some(StdinItem::Failed(msg)) => {
                    let e = Error::new(ErrorKind::Io, format!("cannot read stdin: {msg}"));
                    out.emit(Event::Error(e.clone()));
                    ending.error.get_or_insert(e);
                    stdin_open = false;
                }
                None => {
                    stdin_open = false;
                    if script.ends_with_expect() && !stdin_sent {
                        // The last expect matched and nothing more goes out: done.
                        close_with = Some(cfg.close.clone());
                    }
                }
            },
            _ = &mut wait_timer, if wait_armed && !closing && up => {
                close_with = Some(cfg.close.clone());
            }
            _ = async { ping_timer.as_mut().expect("guarded").tick().await }, if ping_timer.is_some() && !closing => {
                // While reconnecting there is nobody to ping; the next tick will do.
                if up && let Err(e) = link.ping(out, None).await && !keeps_going {
                    out.emit(Event::Error(e.clone()));
                    ending.error.get_or_insert(e);
                }
            }
            _ = &mut overall, if !closing => {
                close_with = Some(CloseSpec::default());
            }
            level = stop.recv() => {
                if level == Stop::Immediate || closing {
                    // A second signal or a hangup, or a close already under way: stop now.
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

enum Sending {
    /// `--send-file`, streamed.
    File(PathBuf),
    Message(Outgoing),
}

/// Why a send did not complete.
enum Cut {
    Failed(Error),
    /// `--timeout` ran out while the peer took nothing: the connection was dropped.
    TimedOut(Error),
    /// Ctrl-C while the peer took nothing: the connection was dropped.
    Interrupted,
}

impl Ending {
    fn record(&mut self, out: &mut Output, sent: Result<(), Cut>) {
        match sent {
            Ok(()) => {}
            Err(Cut::Failed(e)) => {
                out.emit(Event::Error(e.clone()));
                self.error.get_or_insert(e);
            }
            Err(Cut::TimedOut(e)) => {
                self.error.get_or_insert(e);
            }
            Err(Cut::Interrupted) => self.interrupted = true,
        }
    }
}

/// A send waits for the peer to take the bytes; one that does not read would hold it forever
/// (a big `--send-file`, a long line). `--timeout` and Ctrl-C still end it: half a frame may be
/// on the wire then, which no Close can follow, so the connection is dropped, its reason
/// saying why (reported once, as the end of the connection).
async fn send_bounded(
    link: &mut Session,
    out: &mut Output,
    what: Sending,
    deadline: Option<Instant>,
    stop: &mut signals::Shutdown,
) -> Result<(), Cut> {
    let cut = {
        let send = async {
            match what {
                Sending::File(path) => link.send_file(out, &path).await,
                Sending::Message(m) => link.send(out, m).await,
            }
        };
        tokio::select! {
            // A send that completes wins over a deadline that passed meanwhile.
            biased;
            r = send => return r.map_err(Cut::Failed),
            _ = sleep_opt(deadline) => Cut::TimedOut(Error::new(
                ErrorKind::Timeout,
                "--timeout ran out while sending: the peer did not take what was sent, so the connection was dropped",
            )),
            _ = stop.recv() => Cut::Interrupted,
        }
    };
    match &cut {
        Cut::TimedOut(e) => link.abort(e.message()),
        Cut::Interrupted => link.abort("interrupted while sending; the connection was dropped"),
        Cut::Failed(_) => {}
    }
    Err(cut)
}

/// Send the steps' messages up to the next expect. `Ok(Some(deadline))`: an expect is waiting
/// (`None` inside: without a step timeout); `Ok(None)`: the steps are done.
#[allow(clippy::too_many_arguments)]
async fn run_sends(
    cfg: &ConnectConfig,
    runner: &mut Runner,
    link: &mut Session,
    out: &mut Output,
    deadline: Option<Instant>,
    stop: &mut signals::Shutdown,
    emitter: &mut Option<(&mut SioClient, &mut Option<(u64, String)>)>,
) -> Result<Option<Option<Instant>>, Cut> {
    loop {
        if let Some((client, ack_wait)) = emitter.as_mut() {
            let label = runner.step_number();
            match runner.take_emit(&cfg.script) {
                None => {}
                Some(Err(e)) => return Err(Cut::Failed(e)),
                Some(Ok(e)) => {
                    let id = emit(
                        cfg, client, link, out, &e.event, e.args, e.ack, deadline, stop,
                    )
                    .await?;
                    if let Some(id) = id {
                        let name = &cfg.script.steps[label - 1].label;
                        **ack_wait = Some((id, format!("{label} ({name})")));
                        return Ok(Some(cfg.script.step_timeout.map(|t| Instant::now() + t)));
                    }
                    continue;
                }
            }
        }
        let what = match runner.next(&cfg.script, Instant::now()) {
            Next::Send(kind, payload) => Sending::Message(outgoing(cfg, kind, payload)),
            Next::SendUncompressed(kind, payload) => Sending::Message(Outgoing {
                uncompressed: true,
                ..outgoing(cfg, kind, payload)
            }),
            Next::SendFile(path) => Sending::File(path),
            Next::Expect { deadline } => return Ok(Some(deadline)),
            Next::Done => return Ok(None),
        };
        send_bounded(link, out, what, deadline, stop).await?;
    }
}

/// Emit one socket.io event; `Ok(Some(id))` when it asked for an ack.
#[allow(clippy::too_many_arguments)]
async fn emit(
    cfg: &ConnectConfig,
    client: &mut SioClient,
    link: &mut Session,
    out: &mut Output,
    event: &str,
    args: Vec<serde_json::Value>,
    ack: bool,
    deadline: Option<Instant>,
    stop: &mut signals::Shutdown,
) -> Result<Option<u64>, Cut> {
    let (sends, id) = client
        .emit(event, args.clone(), ack, Instant::now())
        .map_err(|e| Cut::Failed(Error::new(ErrorKind::Check, e.to_string())))?;
    out.emit(Event::SioEmit {
        namespace: client.namespace().to_string(),
        event: event.to_string(),
        args,
        ack_id: id,
    });
    for send in sends {
        let Outbound::Text(text) = send else { continue };
        let msg = Sending::Message(outgoing(cfg, DataKind::Text, Bytes::from(text)));
        send_bounded(link, out, msg, deadline, stop).await?;
    }
    Ok(id)
}

fn outgoing(cfg: &ConnectConfig, kind: DataKind, payload: Bytes) -> Outgoing {
    Outgoing {
        kind,
        payload,
        fragment_size: cfg.fragment_size,
        uncompressed: false,
    }
}
