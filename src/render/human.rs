//! Output for people: data on stdout exactly as received, everything else on stderr so that
//! pipes carry only messages.

use super::{BinaryFormat, ClientView, OutputConfig, Render, units};
use crate::error::escape_controls;
use crate::event::Event;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{CloseEvent, is_sendable};
use base64::Engine;
use std::io::{self, Write};
use std::time::Duration;

pub struct Human {
    verbose: bool,
    view: ClientView,
    stdout_tty: bool,
}

impl Human {
    pub fn new(output: &OutputConfig, view: ClientView) -> Self {
        colored::control::set_override(output.color);
        Human {
            verbose: output.verbose,
            view,
            stdout_tty: std::io::IsTerminal::is_terminal(&io::stdout()),
        }
    }
}

/// Every style in one place.
pub mod palette {
    use colored::{ColoredString, Colorize};
    pub fn info(s: &str) -> ColoredString {
        s.cyan()
    }
    pub fn control(s: &str) -> ColoredString {
        s.magenta()
    }
    pub fn good(s: &str) -> ColoredString {
        s.green()
    }
    pub fn warn(s: &str) -> ColoredString {
        s.yellow()
    }
    pub fn bad(s: &str) -> ColoredString {
        s.red().bold()
    }
    pub fn dim(s: &str) -> ColoredString {
        s.dimmed()
    }
}

pub fn close_line(c: &CloseEvent) -> String {
    let label = if c.is_normal() {
        palette::good("closed:")
    } else if c.was_clean {
        palette::warn("closed:")
    } else {
        palette::bad("closed:")
    };
    let mut line = format!(
        "{label} code={} ({}) reason={:?} wasClean={} initiator={}",
        c.code,
        c.name(),
        c.reason,
        c.was_clean,
        c.initiator.as_str()
    );
    if !c.code_valid {
        // A code that may be sent can only have been made invalid by its reason: blaming the
        // code would send the user after the wrong byte.
        let why = if is_sendable(c.code) {
            "(Close reason not valid UTF-8)"
        } else {
            "(code forbidden on the wire by RFC 6455)"
        };
        line.push_str(&format!(" {}", palette::bad(why)));
    }
    if let Some(why) = &c.diagnostic {
        // Its own line: the browser's reason stays what the peer said (nothing, for a 1006).
        line.push_str(&format!(
            "\n  {} {}",
            palette::dim("why:"),
            escape_controls(why, false)
        ));
    }
    line
}

fn stderr_line(line: &str) -> io::Result<()> {
    // One write per line so that lines from concurrent writers never interleave mid-line.
    let mut err = io::stderr().lock();
    err.write_all(format!("{line}\n").as_bytes())
}

impl Render for Human {
    fn event(&mut self, _ts: Duration, event: &Event) -> io::Result<()> {
        match event {
            Event::Opened(h) => {
                let mut line = format!(
                    "{} {} ({} HTTP {} {})",
                    palette::info("connected to"),
                    h.url,
                    h.peer,
                    h.status,
                    escape_controls(&h.reason, false)
                );
                if let Some(p) = &h.subprotocol {
                    line.push_str(&format!(" subprotocol={p}"));
                }
                if !h.extensions.is_empty() {
                    line.push_str(&format!(
                        " extensions={}",
                        escape_controls(&h.extensions.join(","), false)
                    ));
                }
                line.push_str(&via(h));
                stderr_line(&line)?;
                let t = &h.timings;
                stderr_line(
                    &palette::dim(&format!(
                        "  dns {}  tcp {}{}  tls {}  upgrade {}  total {}",
                        units::duration(t.dns),
                        units::duration(t.tcp),
                        t.proxy
                            .map_or(String::new(), |d| format!("  proxy {}", units::duration(d))),
                        t.tls.map_or("-".to_string(), units::duration),
                        units::duration(t.upgrade),
                        units::duration(t.total)
                    ))
                    .to_string(),
                )?;
                if self.verbose {
                    if let Some(offer) = &h.offered_extensions {
                        stderr_line(
                            &palette::dim(&format!("  > sec-websocket-extensions: {offer}"))
                                .to_string(),
                        )?;
                    }
                    for (k, v) in &h.headers {
                        stderr_line(
                            &palette::dim(&format!(
                                "  < {k}: {}",
                                escape_controls(redact_header(k, v), false)
                            ))
                            .to_string(),
                        )?;
                    }
                }
            }
            Event::Sent {
                kind,
                payload,
                fragments,
                resent,
                wire,
            } => {
                if *resent {
                    // Said even without -v: the peer may now have it twice.
                    stderr_line(&resent_line(*kind, payload))?;
                } else if self.verbose {
                    let mut frames = if *fragments > 1 {
                        format!(", {fragments} frames")
                    } else {
                        String::new()
                    };
                    if wire.compressed {
                        frames.push_str(&format!(", compressed to {} on the wire", wire.len));
                    }
                    let body = match kind {
                        DataKind::Text => String::from_utf8_lossy(payload).into_owned(),
                        DataKind::Binary => format!("{} bytes", payload.len()),
                    };
                    stderr_line(&format!(
                        "{} {} ({} bytes{frames}): {body}",
                        palette::dim(">"),
                        kind.as_str(),
                        payload.len()
                    ))?;
                }
            }
            Event::SentFile {
                path,
                len,
                fragments,
                ..
            } => {
                if self.verbose {
                    let frames = if *fragments > 1 {
                        format!(", {fragments} frames")
                    } else {
                        String::new()
                    };
                    stderr_line(&format!(
                        "{} binary ({len} bytes{frames}): streamed from {}",
                        palette::dim(">"),
                        escape_controls(path, false)
                    ))?;
                }
            }
            Event::Received { kind, payload, .. } => {
                let mut out = io::stdout().lock();
                match (kind, self.view.binary_format) {
                    // A pipe gets the bytes as received; a terminal gets them with control
                    // characters escaped, or a message could retitle or clear it.
                    (DataKind::Text, _) if self.stdout_tty => {
                        let text = String::from_utf8_lossy(payload);
                        out.write_all(escape_controls(&text, true).as_bytes())?;
                        out.write_all(b"\n")?;
                    }
                    (DataKind::Text, _) => {
                        out.write_all(payload)?;
                        out.write_all(b"\n")?;
                    }
                    (DataKind::Binary, BinaryFormat::Hex) => {
                        out.write_all(units::hexdump(payload).as_bytes())?;
                    }
                    (DataKind::Binary, BinaryFormat::Base64) => {
                        let line = base64::engine::general_purpose::STANDARD.encode(payload);
                        out.write_all(format!("{line}\n").as_bytes())?;
                    }
                    (DataKind::Binary, BinaryFormat::Raw) => out.write_all(payload)?,
                }
                out.flush()?;
            }
            Event::Ping { outbound, len, seq } => {
                if self.view.show_control || self.verbose {
                    let line = match (outbound, seq) {
                        (true, Some(s)) => format!("> ping seq={s} ({len} bytes)"),
                        (true, None) => format!("> ping ({len} bytes)"),
                        (false, _) => format!("< ping ({len} bytes), answered with a pong"),
                    };
                    stderr_line(&palette::control(&line).to_string())?;
                }
            }
            Event::Pong {
                outbound,
                len,
                seq,
                rtt,
            } => {
                let line = match (seq, rtt) {
                    (Some(s), Some(rtt)) => {
                        format!("< pong seq={s} ({len} bytes) rtt={}", units::duration(*rtt))
                    }
                    _ if *outbound => format!("> pong ({len} bytes)"),
                    _ => format!("< pong ({len} bytes), unsolicited"),
                };
                if rtt.is_some() || self.view.show_control || self.verbose {
                    stderr_line(&palette::control(&line).to_string())?;
                }
            }
            Event::ExpectMet { index, pattern, .. } => {
                stderr_line(&format!(
                    "{} #{} /{pattern}/",
                    palette::good("expect met:"),
                    index + 1
                ))?;
            }
            Event::Closed(c) => stderr_line(&close_line(c))?,
            Event::Error(e) => {
                stderr_line(&format!(
                    "{} {}",
                    palette::bad("wsbeat: error:"),
                    escape_controls(e.message(), false)
                ))?;
                if let Some(body) = e.body.as_deref().filter(|b| !b.is_empty()) {
                    stderr_line(&palette::dim("response body:").to_string())?;
                    stderr_line(&escape_controls(body.trim_end(), true))?;
                }
            }
            Event::Warning(w) => {
                stderr_line(&format!("{} {w}", palette::warn("wsbeat: warning:")))?
            }
            Event::SioEvent { event, args, .. } => {
                stdout_data_line(&sio_event_line("event", event, args, None))?;
            }
            Event::SioAck { id, args, rtt, .. } => {
                let mut line = sio_event_line("ack", &id.to_string(), args, None);
                if let Some(rtt) = rtt {
                    line.push_str(&format!(" rtt={}", units::duration(*rtt)));
                }
                stdout_data_line(&line)?;
            }
            Event::SioEmit {
                event,
                args,
                ack_id,
                ..
            } => {
                if self.verbose {
                    let line = sio_event_line("> emit", event, args, *ack_id);
                    stderr_line(&palette::dim(&line).to_string())?;
                }
            }
            Event::SioPing { count, since_last } => {
                if self.view.show_control || self.verbose {
                    let line = format!(
                        "< engine.io ping #{count} ({} after the last), answered with a pong",
                        units::duration(*since_last)
                    );
                    stderr_line(&palette::control(&line).to_string())?;
                }
            }
            Event::Heartbeat { seq, rtt } => {
                if self.view.show_control || self.verbose {
                    stderr_line(&palette::control(&heartbeat_line(*seq, *rtt)).to_string())?;
                }
            }
            other => {
                if let Some(line) = link_line(other) {
                    stderr_line(&line)?;
                }
            }
        }
        Ok(())
    }
}

/// A socket.io event or ack as one line: `event NAME ARG…`. Arguments are JSON, whose
/// strings have their control characters escaped; the name is escaped here.
pub fn sio_event_line(
    what: &str,
    name: &str,
    args: &[serde_json::Value],
    ack_id: Option<u64>,
) -> String {
    let mut line = format!("{what} {}", escape_controls(name, false));
    if let Some(id) = ack_id {
        line.push_str(&format!(" (ack {id})"));
    }
    for a in args {
        line.push(' ');
        // serde_json escapes C0 controls but not C1 or bidi overrides.
        line.push_str(&escape_controls(&a.to_string(), false));
    }
    line
}

fn stdout_data_line(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// ` via PROXY` when the connection went through one (never its credentials).
pub fn via(h: &crate::ws::open::Handshake) -> String {
    h.proxy
        .as_ref()
        .map_or(String::new(), |p| format!(" via proxy {p}"))
}

/// A message sent again after a reconnect (`--resend-unconfirmed`).
pub fn resent_line(kind: DataKind, payload: &[u8]) -> String {
    // Enough to recognise it: a resent message can be as long as a whole send buffer.
    const PREVIEW: usize = 60;
    let body = match kind {
        DataKind::Text => {
            let text = String::from_utf8_lossy(payload);
            let mut cut: String = text.chars().take(PREVIEW).collect();
            if cut.len() < text.len() {
                cut.push('…');
            }
            escape_controls(&cut, false).into_owned()
        }
        DataKind::Binary => format!("{} bytes", payload.len()),
    };
    format!(
        "{} {} ({} bytes), possibly a duplicate: {body}",
        palette::warn("resent:"),
        kind.as_str(),
        payload.len()
    )
}

/// `possibly lost: 5 messages, 640 bytes unacknowledged`, and which ones.
pub fn unconfirmed_line(
    count: usize,
    bytes: u64,
    first: Option<u64>,
    last: Option<u64>,
    more: bool,
    resend: bool,
) -> String {
    let plural = if count == 1 { "" } else { "s" };
    let more = if more {
        " (and older ones no longer remembered)"
    } else {
        ""
    };
    let which = match (first, last) {
        (Some(f), Some(l)) if f == l => format!("; sent message #{f}"),
        (Some(f), Some(l)) => format!("; sent messages #{f}..#{l}"),
        _ => String::new(),
    };
    let then = if resend {
        "; sending them again after the reconnect"
    } else {
        ""
    };
    format!(
        "{} {count} message{plural}{more}, {bytes} bytes unacknowledged{which}{then}",
        palette::bad("possibly lost:")
    )
}

pub fn heartbeat_line(seq: Option<u64>, rtt: Option<Duration>) -> String {
    let seq = seq.map_or(String::new(), |s| format!(" seq={s}"));
    match rtt {
        None => format!("> heartbeat{seq}"),
        Some(rtt) => format!("< heartbeat answered{seq} rtt={}", units::duration(rtt)),
    }
}

/// Lines about keeping the connection alive (reconnects, heartbeat deaths, the buffer), shared
/// with the interactive view. `None` for events that are not about the link.
pub fn link_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::Redirected(r) => palette::info(&format!(
            "redirect {}: {} -> {}{}",
            r.status,
            r.from,
            r.to,
            if r.credentials_dropped {
                " (credentials not sent: another scheme, host or port)"
            } else {
                ""
            }
        ))
        .to_string(),
        Event::Reconnecting {
            attempt,
            max,
            delay,
        } => palette::warn(&format!(
            "reconnecting: attempt {attempt}/{max} in {}",
            units::duration(*delay)
        ))
        .to_string(),
        Event::ReconnectFailed { attempt, error } => format!(
            "{} {}",
            palette::bad(&format!("reconnect attempt {attempt} failed:")),
            error.message()
        ),
        Event::Reconnected { attempt, buffered } => {
            let tail = match buffered {
                0 => String::new(),
                n => format!("; sending {n} buffered message(s)"),
            };
            palette::good(&format!("reconnected on attempt {attempt}{tail}")).to_string()
        }
        Event::Unconfirmed {
            count,
            bytes,
            first,
            last,
            more,
            resend,
        } => unconfirmed_line(*count, *bytes, *first, *last, *more, *resend),
        Event::HeartbeatTimeout { waited } => palette::bad(&format!(
            "heartbeat timeout after {}: no answer from the peer",
            units::duration(*waited)
        ))
        .to_string(),
        Event::Buffered { kind, len, queued } => palette::warn(&format!(
            "buffered {} ({len} bytes) while disconnected; {queued} waiting",
            kind.as_str()
        ))
        .to_string(),
        Event::BufferDrop { kind, payload, why } => {
            let body = match kind {
                DataKind::Text => format!("{:?}", String::from_utf8_lossy(payload)),
                DataKind::Binary => format!("{} bytes", payload.len()),
            };
            format!(
                "{} {} {body}: {why}",
                palette::bad("not sent:"),
                kind.as_str()
            )
        }
        Event::SioOpen {
            sid,
            ping_interval,
            ping_timeout,
            max_payload,
        } => palette::info(&format!(
            "socket.io: sid={} pingInterval={} pingTimeout={} maxPayload={max_payload}",
            escape_controls(sid, false),
            units::duration(Duration::from_millis(*ping_interval)),
            units::duration(Duration::from_millis(*ping_timeout)),
        ))
        .to_string(),
        Event::SioConnected { namespace, sid } => palette::good(&format!(
            "socket.io: joined namespace {}{}",
            escape_controls(namespace, false),
            sid.as_ref().map_or(String::new(), |s| format!(
                " (sid {})",
                escape_controls(s, false)
            ))
        ))
        .to_string(),
        Event::SioDisconnect { namespace, reason } => palette::bad(&format!(
            "socket.io: left namespace {}: {reason}",
            escape_controls(namespace, false)
        ))
        .to_string(),
        _ => return None,
    })
}

/// Secrets never reach the terminal, not even in verbose output.
pub fn redact_header<'a>(name: &str, value: &'a str) -> &'a str {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" => "[redacted]",
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::proto::close::{Initiator, parse_close_payload};

    fn closed(payload: &[u8]) -> String {
        let (code, reason, code_valid) = parse_close_payload(payload);
        close_line(&CloseEvent {
            code,
            reason,
            was_clean: false,
            initiator: Initiator::Server,
            code_valid,
            diagnostic: None,
        })
    }

    #[test]
    fn a_1006_has_an_empty_reason_and_says_why_on_its_own_line() {
        colored::control::set_override(false);
        let line = close_line(&CloseEvent::abnormal("connection error: reset\x1b[2J"));
        let lines: Vec<&str> = line.lines().collect();
        assert_eq!(lines.len(), 2, "{line}");
        assert!(lines[0].contains("code=1006") && lines[0].contains("reason=\"\""));
        assert_eq!(lines[1], "  why: connection error: reset\\x1b[2J");
    }

    #[test]
    fn a_bad_close_reason_is_named_as_the_reason_not_the_code() {
        let line = closed(b"\x03\xe8ok\xc3");
        assert!(line.contains("(Close reason not valid UTF-8)"), "{line}");
        assert!(!line.contains("code forbidden"), "{line}");
        let line = closed(b"\x03\xed");
        assert!(
            line.contains("(code forbidden on the wire by RFC 6455)"),
            "{line}"
        );
    }
}
