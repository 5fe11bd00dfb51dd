//! Events as the interactive session shows them: `>` for what we sent, `<` for what arrived,
//! control frames and connection events in their own colours, binary as a hex dump, all
//! printed above the prompt.

use super::screen::Screen;
use crate::error::escape_controls;
use crate::event::Event;
use crate::render::human::{
    close_line, heartbeat_line, link_line, palette, redact_header, sio_event_line,
};
use crate::render::{Render, units};
use crate::ws::proto::DataKind;
use base64::Engine;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct View {
    screen: Arc<Mutex<Screen>>,
    pub show_control: bool,
    pub verbose: bool,
    pub timestamps: bool,
    pub base64: bool,
    /// socket.io: the raw Engine.IO packets sent (pongs, `42[…]`) only with -v; the emits
    /// have lines of their own.
    pub sio: bool,
}

impl View {
    pub fn new(screen: Arc<Mutex<Screen>>) -> Self {
        View {
            screen,
            show_control: false,
            verbose: false,
            timestamps: false,
            base64: false,
            sio: false,
        }
    }
}

/// The screen is only ever used from the session task; a poisoned lock (a panic while
/// drawing) still holds a usable screen.
pub fn lock(screen: &Mutex<Screen>) -> std::sync::MutexGuard<'_, Screen> {
    screen.lock().unwrap_or_else(|e| e.into_inner())
}

impl Render for View {
    fn event(&mut self, ts: Duration, event: &Event) -> io::Result<()> {
        let Some(text) = self.format(event) else {
            return Ok(());
        };
        let text = if self.timestamps {
            format!(
                "{} {text}",
                palette::dim(&format!("[{:>9.3}]", ts.as_secs_f64()))
            )
        } else {
            text
        };
        lock(&self.screen).print_above(&text)
    }
}

impl View {
    fn format(&self, event: &Event) -> Option<String> {
        let control = self.show_control || self.verbose;
        Some(match event {
            Event::Opened(h) => {
                let mut line = format!(
                    "{} {} ({} HTTP {})",
                    palette::info("connected to"),
                    h.url,
                    h.peer,
                    h.status
                );
                if let Some(p) = &h.subprotocol {
                    line.push_str(&format!(" subprotocol={p}"));
                }
                line.push_str(&crate::render::human::via(h));
                let t = &h.timings;
                line.push_str(
                    &palette::dim(&format!(" in {}", units::duration(t.total))).to_string(),
                );
                if self.verbose {
                    for (k, v) in &h.headers {
                        line.push_str(&format!(
                            "\n{}",
                            palette::dim(&format!(
                                "  < {k}: {}",
                                crate::error::escape_controls(redact_header(k, v), false)
                            ))
                        ));
                    }
                }
                line
            }
            Event::Sent { .. } if self.sio && !self.verbose => return None,
            Event::Sent {
                kind,
                payload,
                resent: true,
                ..
            } => crate::render::human::resent_line(*kind, payload),
            Event::Sent {
                kind,
                payload,
                fragments,
                resent: false,
                ..
            } => {
                let frames = if *fragments > 1 {
                    palette::dim(&format!(" ({fragments} frames)")).to_string()
                } else {
                    String::new()
                };
                message(
                    &palette::info(">").to_string(),
                    *kind,
                    payload,
                    self.base64,
                    &frames,
                )
            }
            Event::SentFile {
                path,
                len,
                fragments,
                ..
            } => {
                let frames = if *fragments > 1 {
                    format!(", {fragments} frames")
                } else {
                    String::new()
                };
                format!(
                    "{} binary ({len} bytes{frames}) streamed from {}",
                    palette::info(">"),
                    escape_controls(path, false)
                )
            }
            Event::Received { kind, payload, .. } => message(
                &palette::good("<").to_string(),
                *kind,
                payload,
                self.base64,
                "",
            ),
            Event::Ping { outbound, len, seq } => {
                let line = match (outbound, seq) {
                    (true, Some(s)) => format!("> ping seq={s} ({len} bytes)"),
                    (true, None) => format!("> ping ({len} bytes)"),
                    // Servers that ping every few seconds would drown the session: opt-in.
                    (false, _) if control => format!("< ping ({len} bytes), answered"),
                    (false, _) => return None,
                };
                palette::control(&line).to_string()
            }
            Event::Pong {
                outbound,
                len,
                seq,
                rtt,
            } => {
                let line = match (seq, rtt) {
                    // Our answer to the peer's ping: shown with it, as the ping is.
                    _ if *outbound && control => format!("> pong ({len} bytes)"),
                    _ if *outbound => return None,
                    (Some(s), Some(rtt)) => {
                        format!("< pong seq={s} rtt={}", units::duration(*rtt))
                    }
                    (None, Some(rtt)) => {
                        format!("< pong ({len} bytes) rtt={}", units::duration(*rtt))
                    }
                    _ if control => format!("< pong ({len} bytes), unsolicited"),
                    _ => return None,
                };
                palette::control(&line).to_string()
            }
            Event::Heartbeat { seq, rtt } if control => {
                palette::control(&heartbeat_line(*seq, *rtt)).to_string()
            }
            Event::Heartbeat { .. } => return None,
            Event::ExpectMet { index, pattern, .. } => {
                format!(
                    "{} #{} /{pattern}/",
                    palette::good("expect met:"),
                    index + 1
                )
            }
            Event::Closed(c) => close_line(c),
            Event::Error(e) => {
                let mut line = format!("{} {}", palette::bad("error:"), e.message());
                if let Some(body) = e.body.as_deref().filter(|b| !b.is_empty()) {
                    line.push_str(&format!(
                        "\n{}\n{}",
                        palette::dim("response body:"),
                        crate::error::escape_controls(body.trim_end(), true)
                    ));
                }
                line
            }
            Event::Warning(w) => format!("{} {w}", palette::warn("warning:")),
            Event::SioEvent {
                event,
                args,
                ack_id,
                ..
            } => {
                let mut line = format!("< {}", sio_event_line("event", event, args, None));
                if ack_id.is_some() {
                    line.push_str(&palette::dim(" (asks for an ack: /ack [JSON])").to_string());
                }
                line
            }
            Event::SioAck { id, args, rtt, .. } => {
                let mut line = format!("< {}", sio_event_line("ack", &id.to_string(), args, None));
                if let Some(rtt) = rtt {
                    line.push_str(&format!(" rtt={}", units::duration(*rtt)));
                }
                line
            }
            Event::SioEmit {
                event,
                args,
                ack_id,
                ..
            } => format!(
                "{} {}",
                palette::dim(">"),
                sio_event_line("emit", event, args, *ack_id)
            ),
            Event::SioPing { count, since_last } if control => palette::control(&format!(
                "< engine.io ping #{count} ({} after the last), answered with a pong",
                units::duration(*since_last)
            ))
            .to_string(),
            Event::SioPing { .. } => return None,
            other => link_line(other)?,
        })
    }
}

/// `> text`, or `> binary, N bytes` and a hex dump; continuation lines indented.
fn message(marker: &str, kind: DataKind, payload: &[u8], base64: bool, tail: &str) -> String {
    match kind {
        DataKind::Text => {
            let text = String::from_utf8_lossy(payload);
            // The session owns a terminal: a peer's ESC or BEL must not reach it raw.
            let body = crate::error::escape_controls(&text, true).replace('\n', "\n  ");
            format!("{marker} {body}{tail}")
        }
        DataKind::Binary if base64 => format!(
            "{marker} {} {}{tail}",
            palette::dim(&format!("binary, {} bytes:", payload.len())),
            base64::engine::general_purpose::STANDARD.encode(payload)
        ),
        DataKind::Binary => {
            let dump = units::hexdump(payload);
            let dump = dump.trim_end().replace('\n', "\n  ");
            format!(
                "{marker} {}{tail}\n  {dump}",
                palette::dim(&format!("binary, {} bytes", payload.len()))
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn view() -> View {
        colored::control::set_override(false);
        View::new(Arc::new(Mutex::new(Screen::new(80))))
    }

    #[test]
    fn direction_markers_and_hexdump() {
        let v = view();
        let sent = v
            .format(&Event::Sent {
                kind: DataKind::Text,
                payload: Bytes::from_static(b"abcdefg"),
                fragments: 3,
                resent: false,
                wire: Default::default(),
            })
            .unwrap();
        assert_eq!(sent, "> abcdefg (3 frames)");
        let got = v
            .format(&Event::Received {
                kind: DataKind::Binary,
                payload: Bytes::from_static(&[0xff, 0]),
                wire: Default::default(),
            })
            .unwrap();
        assert!(
            got.starts_with("< binary, 2 bytes\n  00000000  ff 00"),
            "{got}"
        );
    }

    #[test]
    fn received_text_is_escaped_for_the_terminal() {
        let got = view()
            .format(&Event::Received {
                kind: DataKind::Text,
                payload: Bytes::from_static(b"a\x1b]0;x\x07b\nc"),
                wire: Default::default(),
            })
            .unwrap();
        assert!(!got.contains(['\x1b', '\x07']), "{got:?}");
        assert!(got.contains("a\\x1b]0;x\\x07b\n  c"), "{got:?}");
    }

    #[test]
    fn unsolicited_control_frames_are_opt_in() {
        let mut v = view();
        let ping_in = Event::Ping {
            outbound: false,
            len: 4,
            seq: None,
        };
        assert!(v.format(&ping_in).is_none());
        v.show_control = true;
        assert!(v.format(&ping_in).is_some());
        let pong = Event::Pong {
            outbound: false,
            len: 16,
            seq: Some(1),
            rtt: Some(Duration::from_micros(300)),
        };
        assert_eq!(v.format(&pong).unwrap(), "< pong seq=1 rtt=0.300 ms");
    }

    #[test]
    fn our_pong_is_shown_as_outgoing() {
        let mut v = view();
        let ours = Event::Pong {
            outbound: true,
            len: 4,
            seq: None,
            rtt: None,
        };
        assert!(v.format(&ours).is_none(), "control frames are opt-in");
        v.show_control = true;
        assert_eq!(v.format(&ours).unwrap(), "> pong (4 bytes)");
        let theirs = Event::Pong {
            outbound: false,
            len: 4,
            seq: None,
            rtt: None,
        };
        assert_eq!(v.format(&theirs).unwrap(), "< pong (4 bytes), unsolicited");
    }
}
