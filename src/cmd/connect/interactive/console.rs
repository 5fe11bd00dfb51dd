//! The interactive console: keys from the terminal thread and steps from the client session,
//! so that the screen has a single writer.

use super::commands::{self, COMMANDS, Command, Completion};
use super::editor::{Edit, Editor};
use super::screen::Screen;
use super::view::lock;
use crate::client::session::{self as client, Outgoing, Step};
use crate::client::steps::{Next, Runner};
use crate::cmd::connect::sio::{self as sio_glue, Reaction};
use crate::cmd::connect::{Ending, Output, sleep_opt};
use crate::config::ConnectConfig;
use crate::event::Event;
use crate::render::human::palette;
use crate::render::units;
use crate::signals::{self, Stop};
use crate::sio::client::Client as SioClient;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{CloseEvent, CloseSpec, Initiator};
use crossterm::event::{Event as TermEvent, KeyEventKind};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::mpsc;

pub struct Console<'a> {
    pub cfg: &'a ConnectConfig,
    pub screen: &'a Mutex<Screen>,
    pub editor: Editor,
    pub history_path: Option<&'a Path>,
    pub keys: mpsc::Receiver<TermEvent>,
    pub started: Instant,
    /// `--socketio`: the client state machine, and the last event that asked for an ack.
    pub sio: Option<SioClient>,
    pub to_ack: Option<(String, u64)>,
}

impl Console<'_> {
    pub async fn run(
        mut self,
        link: &mut client::Session,
        out: &mut Output,
    ) -> (CloseEvent, Ending) {
        let mut ending = Ending::default();
        if let Err(e) = link.send_preamble(out).await {
            out.emit(Event::Error(e));
        }
        let mut prompt_up = None;
        let mut shutdown = signals::subscribe();
        self.queue_emit_steps(out);
        loop {
            // The prompt tells whether typed lines go out now or wait in the buffer.
            let up = link.is_up();
            if prompt_up != Some(up) {
                prompt_up = Some(up);
                self.set_prompt(up);
            }
            tokio::select! {
                wake = link.wait() => match link.handle(out, wake).await {
                    Step::Ended { close, error } => {
                        if let Some(client) = self.sio.as_ref().filter(|c| c.joined()) {
                            out.emit(Event::SioDisconnect {
                                namespace: client.namespace().to_string(),
                                reason: "transport close".into(),
                            });
                        }
                        if let Some(e) = error {
                            ending.error.get_or_insert(e);
                        }
                        return (close, ending);
                    }
                    Step::Data { kind, payload } if self.sio.is_some() => {
                        self.on_sio(kind, &payload, link, out, &mut ending).await;
                    }
                    Step::Reconnected => {
                        if let Some(client) = self.sio.as_mut() {
                            client.reset();
                            self.to_ack = None;
                        }
                    }
                    _ => {}
                },
                _ = sleep_opt(self.sio.as_ref().and_then(SioClient::ping_deadline)), if link.is_up() && !link.is_closing() => {
                    let Some(client) = self.sio.as_ref() else { continue };
                    let (why, e) = sio_glue::ping_timeout(out, client);
                    if self.cfg.reconnect.is_none() {
                        out.emit(Event::Error(e.clone()));
                    }
                    if let Step::Ended { close, error } = link.peer_dead(out, &why, e) {
                        if let Some(e) = error {
                            ending.error.get_or_insert(e);
                        }
                        return (close, ending);
                    }
                }
                stop = shutdown.recv() => {
                    // In raw mode Ctrl-C is a key; a signal comes from outside (kill, a closed
                    // terminal) and is treated like it, so the guard restores the terminal.
                    if stop == Stop::Immediate {
                        ending.interrupted = true;
                    }
                    if let Some(end) = self.on_edit(Edit::Interrupt, link, out, &mut ending).await {
                        return end;
                    }
                }
                ev = self.keys.recv() => {
                    let edit = match ev {
                        // The terminal is gone: like Ctrl-D.
                        None => Edit::Eof,
                        Some(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => self.editor.key(k),
                        Some(TermEvent::Paste(text)) => self.editor.paste(&text),
                        Some(TermEvent::Resize(w, _)) => {
                            lock(self.screen).set_width(w);
                            Edit::Redraw
                        }
                        Some(_) => Edit::Nothing,
                    };
                    if let Some(end) = self.on_edit(edit, link, out, &mut ending).await {
                        return end;
                    }
                }
            }
        }
    }

    fn set_prompt(&self, up: bool) {
        let (text, styled) = if up {
            ("> ", palette::info("> ").to_string())
        } else {
            ("(offline) > ", palette::warn("(offline) > ").to_string())
        };
        let mut s = lock(self.screen);
        s.set_prompt(styled, text.chars().count());
        let _ = s.redraw();
    }

    fn redraw_input(&self) {
        let mut s = lock(self.screen);
        s.set_input(self.editor.chars(), self.editor.cursor());
        let _ = s.redraw();
    }

    fn say(&self, text: &str) {
        let _ = lock(self.screen).print_above(text);
    }

    fn error(&self, msg: &str) {
        self.say(&format!("{} {msg}", palette::bad("error:")));
    }

    /// Returns the ending when the session must stop at once (second Ctrl-C).
    async fn on_edit(
        &mut self,
        edit: Edit,
        link: &mut client::Session,
        out: &mut Output,
        ending: &mut Ending,
    ) -> Option<(CloseEvent, Ending)> {
        match edit {
            Edit::Nothing => {}
            Edit::Redraw => self.redraw_input(),
            Edit::Complete => self.complete(),
            Edit::Submit(line) => {
                self.redraw_input();
                if let Some(path) = self.history_path
                    && !line.trim().is_empty()
                    && let Err(e) = super::append_history(path, &line)
                {
                    self.error(&format!("cannot write --history {}: {e}", path.display()));
                    self.history_path = None;
                }
                self.on_line(&line, link, out).await;
            }
            Edit::Eof => self.close(link, out, &CloseSpec::default()).await,
            Edit::Interrupt => {
                if ending.interrupted || link.is_closing() {
                    // Second Ctrl-C, or a close already under way: stop now.
                    let mut close = CloseEvent::abnormal("interrupted");
                    close.initiator = Initiator::Client;
                    out.emit(Event::Closed(close.clone()));
                    ending.interrupted = true;
                    return Some((close, std::mem::take(ending)));
                }
                ending.interrupted = true;
                self.say(&palette::dim("closing (Ctrl-C again to quit at once)").to_string());
                self.close(link, out, &CloseSpec::default()).await;
            }
        }
        None
    }

    async fn close(&self, link: &mut client::Session, out: &mut Output, spec: &CloseSpec) {
        if link.is_closing() {
            return;
        }
        if let Err(e) = link.close(out, spec).await {
            out.emit(Event::Error(e));
        }
    }

    fn complete(&mut self) {
        match commands::complete(&self.editor.line()) {
            Completion::Line(line) => {
                self.editor.set_line(&line);
                self.redraw_input();
            }
            Completion::Candidates(names) => self.say(&palette::dim(&names.join("  ")).to_string()),
            Completion::None => {}
        }
    }

    async fn on_line(&mut self, line: &str, link: &mut client::Session, out: &mut Output) {
        let command = match commands::parse(line) {
            Ok(c) => c,
            Err(msg) => return self.error(&msg),
        };
        if link.is_closing()
            && !matches!(command, Command::Status | Command::Help | Command::Nothing)
        {
            return self.error("the connection is closing; Ctrl-C quits at once");
        }
        let fragment_size = self.cfg.fragment_size;
        let msg = |kind, payload, fragment_size| Outgoing {
            kind,
            payload,
            fragment_size,
            uncompressed: false,
        };
        let result = match command {
            Command::Nothing => Ok(()),
            // socket.io: a typed line is a `message` event.
            Command::Send(DataKind::Text, payload) if self.sio.is_some() => {
                let arg = serde_json::Value::String(String::from_utf8_lossy(&payload).into_owned());
                self.emit(link, out, "message", vec![arg]).await
            }
            Command::Emit { .. } | Command::Ack(_) | Command::Namespace(_)
                if self.sio.is_none() =>
            {
                return self.error("/emit, /ack and /namespace need --socketio");
            }
            Command::Emit { event, json } => {
                self.emit(link, out, &event, commands::json_list(&json))
                    .await
            }
            Command::Ack(json) => {
                let Some((namespace, id)) = self.to_ack.take() else {
                    return self.error("no event is waiting for an ack");
                };
                let client = self.sio.as_ref().expect("checked above");
                let send = client.ack(&namespace, id, commands::json_list(&json));
                link.send(out, sio_glue::outgoing(send, fragment_size))
                    .await
            }
            Command::Namespace(ns) => {
                let client = self.sio.as_mut().expect("checked above");
                let mut result = Ok(());
                for send in client.switch_namespace(&ns) {
                    result = result.and(
                        link.send(out, sio_glue::outgoing(send, fragment_size))
                            .await,
                    );
                }
                result
            }
            Command::Send(kind, payload) => link.send(out, msg(kind, payload, fragment_size)).await,
            Command::Raw(payload) => {
                let mut m = msg(DataKind::Text, payload, fragment_size);
                m.uncompressed = true;
                link.send(out, m).await
            }
            Command::Fragment { size, payload } => {
                link.send(out, msg(DataKind::Text, payload, Some(size)))
                    .await
            }
            Command::File(path) => link.send_file(out, &path).await,
            Command::Ping(payload) => link.ping(out, payload).await,
            Command::Close(spec) => link.close(out, &spec).await,
            Command::Quit => link.close(out, &CloseSpec::default()).await,
            Command::Reconnect => link.reconnect().await,
            Command::Status => {
                self.say(&self.status(link));
                Ok(())
            }
            Command::Help => {
                self.say(&help());
                Ok(())
            }
        };
        if let Err(e) = result {
            self.error(e.message());
        }
    }

    /// `--emit` steps: queued in the client, sent once the namespace is joined (the console
    /// waits for nothing, so `--emit-ack` only emits and `--expect` steps are not waited for).
    fn queue_emit_steps(&mut self, out: &mut Output) {
        let Some(client) = self.sio.as_mut() else {
            return;
        };
        let script = &self.cfg.script;
        let mut runner = Runner::new(script);
        loop {
            match runner.take_emit(script) {
                Some(Ok(e)) => {
                    if let Err(err) = client.emit(&e.event, e.args.clone(), e.ack, Instant::now()) {
                        out.emit(Event::Warning(err.to_string()));
                    }
                }
                Some(Err(err)) => out.emit(Event::Warning(err.to_string())),
                None => match runner.next(script, Instant::now()) {
                    Next::Done | Next::Expect { .. } => break,
                    _ => {}
                },
            }
        }
    }

    async fn emit(
        &mut self,
        link: &mut client::Session,
        out: &mut Output,
        event: &str,
        args: Vec<serde_json::Value>,
    ) -> Result<(), crate::error::Error> {
        let client = self.sio.as_mut().expect("socket.io session");
        let (sends, ack_id) = client
            .emit(event, args.clone(), false, Instant::now())
            .map_err(|e| crate::error::Error::new(crate::error::ErrorKind::Usage, e.to_string()))?;
        out.emit(Event::SioEmit {
            namespace: client.namespace().to_string(),
            event: event.to_string(),
            args,
            ack_id,
        });
        for send in sends {
            link.send(out, sio_glue::outgoing(send, self.cfg.fragment_size))
                .await?;
        }
        Ok(())
    }

    /// A WebSocket message in a socket.io session: answer, report, react.
    async fn on_sio(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        link: &mut client::Session,
        out: &mut Output,
        ending: &mut Ending,
    ) {
        let Some(client) = self.sio.as_mut() else {
            return;
        };
        let output = match sio_glue::feed(client, kind, payload) {
            Ok(o) => o,
            Err(e) => {
                out.emit(Event::Error(e.clone()));
                ending.error.get_or_insert(e);
                return self.close(link, out, &CloseSpec::default()).await;
            }
        };
        for send in output.send {
            if let Err(e) = link
                .send(out, sio_glue::outgoing(send, self.cfg.fragment_size))
                .await
            {
                out.emit(Event::Error(e));
            }
        }
        let mut close = false;
        for ev in output.events {
            match sio_glue::report(out, client, ev) {
                Reaction::Refused(e) => {
                    ending.error.get_or_insert(e);
                    close = true;
                }
                Reaction::ServerLeft => close = true,
                Reaction::Event { ack: Some(ack), .. } => self.to_ack = Some(ack),
                _ => {}
            }
        }
        if close {
            self.close(link, out, &CloseSpec::default()).await;
        }
    }

    fn status(&self, link: &client::Session) -> String {
        let s = &link.stats;
        let uptime = s
            .connected_at
            .map_or("-".to_string(), |t| units::duration(t.elapsed()));
        let rows = [
            ("url", self.cfg.conn.target.url().to_string()),
            ("state", link.state_name()),
            (
                "subprotocol",
                s.subprotocol.clone().unwrap_or_else(|| "none".into()),
            ),
            (
                "uptime",
                format!(
                    "{uptime} (session {})",
                    units::duration(self.started.elapsed())
                ),
            ),
            (
                "sent",
                format!(
                    "{} messages, {}{}",
                    s.sent_messages,
                    units::bytes(s.sent_bytes),
                    wire_ratio(s.sent_wire, s.sent_bytes)
                ),
            ),
            (
                "received",
                format!(
                    "{} messages, {}{}",
                    s.recv_messages,
                    units::bytes(s.recv_bytes),
                    wire_ratio(s.recv_wire, s.recv_bytes)
                ),
            ),
            (
                "last rtt",
                s.last_rtt.map_or("-".to_string(), units::duration),
            ),
            (
                "reconnects",
                format!("{} ({} buffered)", s.reconnects, link.buffered()),
            ),
        ];
        rows.iter()
            .map(|(k, v)| format!("{} {v}", palette::info(&format!("{k:>11}:"))))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn help() -> String {
    let mut lines: Vec<String> = COMMANDS
        .iter()
        .map(|(name, args, what)| {
            let usage = format!("{name} {args}");
            format!("  {} {}", palette::info(&format!("{usage:<26}")), what)
        })
        .collect();
    lines.push(format!(
        "  {} {}",
        palette::info(&format!("{:<26}", "//text")),
        "send a line that starts with /"
    ));
    lines.push(
        palette::dim("  keys: ←/→ Home/End ^A ^E ^U ^W ^K, ↑/↓ history, Tab completes, ^D quits")
            .to_string(),
    );
    lines.join("\n")
}

/// `, 1.2 KiB on the wire (ratio 0.12)`: what compression (and framing) made of the payload.
fn wire_ratio(wire: u64, payload: u64) -> String {
    if payload == 0 {
        return String::new();
    }
    format!(
        ", {} on the wire (ratio {:.2})",
        units::bytes(wire),
        wire as f64 / payload as f64
    )
}

#[cfg(test)]
mod tests {
    use super::wire_ratio;

    #[test]
    fn status_shows_wire_bytes_and_their_ratio_to_the_payload() {
        assert_eq!(wire_ratio(0, 0), "");
        assert_eq!(wire_ratio(250, 1000), ", 250 B on the wire (ratio 0.25)");
    }
}
