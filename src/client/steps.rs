//! Conversations: `--send` and `--expect`/`--expect-json` as steps run in command-line order,
//! on every connection (the first and each one after a reconnect).
//!
//! A `Script` is built once from the command line and shared; a connection holds only a
//! `Runner` (the step it is at, its `{seq}` counter and the capture slots, empty when nothing
//! is captured), so soak's thousands of connections can share one script. The runner does no
//! I/O: `next` says what to send or how long to wait, `offer` tries a received message
//! against the current expect, and the caller owns the connection and the clock. A new kind of
//! step (a socket.io emit, say) is one more `Action` that `next` renders into a message.

pub mod log;
pub mod matcher;
pub mod template;

use crate::error::{Error, ErrorKind, escape_controls};
use crate::ws::proto::DataKind;
use bytes::Bytes;
use matcher::{JsonTest, Matcher, parse_json_expr};
use regex::Regex;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use template::Template;

/// One step as given on the command line (or in a scenario file), before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepArg {
    Send(String),
    Expect(String),
    ExpectJson(String),
    /// `--send-uncompressed`: RSV1 clear on a compressed connection.
    SendUncompressed(String),
    /// `--send-file`: streamed when its turn comes.
    SendFile(PathBuf),
    /// `--emit EVENT JSON` / `--emit-ack` (socket.io).
    Emit {
        event: String,
        json: String,
        ack: bool,
    },
}

#[derive(Debug, Clone)]
pub enum Action {
    Send {
        kind: DataKind,
        template: Template,
    },
    /// `--send-uncompressed`: sent as it is, without permessage-deflate.
    SendUncompressed(DataKind, Bytes),
    /// `--send-file`: streamed from disk when its turn comes, never read whole.
    SendFile(PathBuf),
    /// A socket.io emit: its arguments are a template like a send's, JSON once rendered.
    Emit {
        event: String,
        template: Template,
        ack: bool,
    },
    /// `ordinal`: which expect this is, counting from 0 (the `expect` event's index).
    Expect {
        matcher: Matcher,
        ordinal: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    /// How the user wrote it, for messages: `--expect "tick"`.
    pub label: String,
    /// The expression as written, for the `expect` event.
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
    /// Capture names; a name's position is its slot.
    pub captures: Vec<String>,
    /// How long each expect may wait; `None`: for ever (bounded by `--timeout`).
    pub step_timeout: Option<Duration>,
    /// Things that work but are likely mistakes (a `{name}` nothing captures), for a warning.
    pub warnings: Vec<String>,
}

impl Script {
    /// Parse the steps; an error is a usage error naming the bad argument.
    pub fn build(
        args: &[StepArg],
        kind: DataKind,
        step_timeout: Option<Duration>,
    ) -> Result<Script, Error> {
        let mut script = Script {
            steps: Vec::with_capacity(args.len()),
            captures: Vec::new(),
            step_timeout,
            warnings: Vec::new(),
        };
        let mut ordinal = 0;
        for arg in args {
            let step = match arg {
                StepArg::Send(text) => {
                    let template = Template::parse(text, |n| script.slot_of(n));
                    for name in template::unknown_names(text, |n| script.slot_of(n)) {
                        script.warnings.push(format!(
                            "--send {text:?}: {{{name}}} is not captured by an earlier expect and goes out as it is"
                        ));
                    }
                    Step {
                        action: Action::Send { kind, template },
                        label: format!("--send {text:?}"),
                        source: text.clone(),
                    }
                }
                StepArg::Expect(pattern) => {
                    let re = Regex::new(pattern).map_err(|e| {
                        Error::usage(format!(
                            "--expect '{pattern}' is not a valid regular expression: {}",
                            e.to_string().lines().last().unwrap_or("")
                        ))
                    })?;
                    let names = re
                        .capture_names()
                        .flatten()
                        .map(|n| (n.to_string(), script.slot(n)))
                        .collect();
                    ordinal += 1;
                    Step {
                        action: Action::Expect {
                            matcher: Matcher::Regex(re, names),
                            ordinal: ordinal - 1,
                        },
                        label: format!("--expect {pattern:?}"),
                        source: pattern.clone(),
                    }
                }
                StepArg::SendUncompressed(text) => Step {
                    action: Action::SendUncompressed(kind, Bytes::from(text.clone())),
                    label: format!("--send-uncompressed {text:?}"),
                    source: text.clone(),
                },
                StepArg::SendFile(path) => {
                    let label = format!("--send-file {}", path.display());
                    Step {
                        action: Action::SendFile(path.clone()),
                        label: label.clone(),
                        source: label,
                    }
                }
                StepArg::Emit { event, json, ack } => {
                    let flag = if *ack { "--emit-ack" } else { "--emit" };
                    if event.is_empty() {
                        return Err(Error::usage(format!("{flag}: the event name is empty")));
                    }
                    // Checked as written; a {NAME} inside a JSON string stays valid JSON.
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(json) {
                        return Err(Error::usage(format!(
                            "{flag} {event} '{json}': not JSON ({e})"
                        )));
                    }
                    let template = Template::parse(json, |n| script.slot_of(n));
                    Step {
                        action: Action::Emit {
                            event: event.clone(),
                            template,
                            ack: *ack,
                        },
                        label: format!("{flag} {event:?} {json:?}"),
                        source: json.clone(),
                    }
                }
                StepArg::ExpectJson(expr) => {
                    let e = parse_json_expr(expr)
                        .map_err(|why| Error::usage(format!("--expect-json '{expr}': {why}")))?;
                    let test = match (e.equals, e.capture) {
                        (Some(v), _) => JsonTest::Equals(v),
                        (None, Some(name)) => JsonTest::Capture(script.slot(&name)),
                        (None, None) => JsonTest::Exists,
                    };
                    ordinal += 1;
                    Step {
                        action: Action::Expect {
                            matcher: Matcher::Json {
                                pointer: e.pointer,
                                test,
                            },
                            ordinal: ordinal - 1,
                        },
                        label: format!("--expect-json {expr:?}"),
                        source: expr.clone(),
                    }
                }
            };
            script.steps.push(step);
        }
        Ok(script)
    }

    fn slot_of(&self, name: &str) -> Option<usize> {
        self.captures.iter().position(|c| c == name)
    }

    fn slot(&mut self, name: &str) -> usize {
        self.slot_of(name).unwrap_or_else(|| {
            self.captures.push(name.to_string());
            self.captures.len() - 1
        })
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn expects(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Expect { .. }))
            .count()
    }

    pub fn ends_with_expect(&self) -> bool {
        matches!(
            self.steps.last(),
            Some(Step {
                action: Action::Expect { .. },
                ..
            })
        )
    }

    /// The `--send-uncompressed` messages, for interactive `connect` (after `sends_only`).
    pub fn uncompressed_only(&self) -> Vec<(DataKind, Bytes)> {
        self.steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::SendUncompressed(kind, payload) => Some((*kind, payload.clone())),
                _ => None,
            })
            .collect()
    }

    /// The messages of the send steps with nothing substituted but `{seq}`, for a session
    /// that does not wait for replies (interactive `connect`, which streams `--send-file`
    /// itself after these).
    pub fn sends_only(&self) -> Vec<(DataKind, Bytes)> {
        let mut seq = 0;
        let none = vec![None; self.captures.len()];
        self.steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Send { kind, template } => {
                    seq += 1;
                    Some((*kind, Bytes::from(template.render(seq, &none))))
                }
                Action::SendUncompressed(..)
                | Action::SendFile(_)
                | Action::Emit { .. }
                | Action::Expect { .. } => None,
            })
            .collect()
    }
}

/// What the connection should do next.
#[derive(Debug, PartialEq)]
pub enum Next {
    Send(DataKind, Bytes),
    SendUncompressed(DataKind, Bytes),
    SendFile(PathBuf),
    /// Wait for a message for the current expect, until `deadline` (`None`: no step timeout).
    Expect {
        deadline: Option<Instant>,
    },
    Done,
}

/// A socket.io emit step, ready to go.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub event: String,
    pub args: Vec<serde_json::Value>,
    pub ack: bool,
}

/// A matched expect, for the `expect` event.
pub struct Matched<'a> {
    pub ordinal: usize,
    pub source: &'a str,
}

/// One connection's place in the script.
#[derive(Debug, Default)]
pub struct Runner {
    next: usize,
    /// `{seq}`: the number of the send, from 1 on each connection.
    seq: u64,
    captures: Vec<Option<String>>,
    deadline: Option<Instant>,
}

impl Runner {
    pub fn new(script: &Script) -> Runner {
        Runner {
            captures: vec![None; script.captures.len()],
            ..Runner::default()
        }
    }

    /// Start over on a new connection.
    pub fn restart(&mut self) {
        self.next = 0;
        self.seq = 0;
        self.deadline = None;
        self.captures.iter_mut().for_each(|c| *c = None);
    }

    pub fn is_done(&self, script: &Script) -> bool {
        self.next >= script.steps.len()
    }

    /// How many steps are behind it (the index of the current one).
    pub fn position(&self) -> usize {
        self.next
    }

    /// The captured values, by slot (`Script::captures` names them).
    pub fn captures(&self) -> &[Option<String>] {
        &self.captures
    }

    /// The step the runner is at, numbered from 1 as in messages.
    pub fn step_number(&self) -> usize {
        self.next + 1
    }

    /// The current step when it is a socket.io emit: its event, its arguments rendered
    /// (a JSON array is the argument list, anything else one argument) and whether it waits
    /// for an ack; the runner moves past it. A socket.io session asks this before `next`.
    pub fn take_emit(&mut self, script: &Script) -> Option<Result<Emit, Error>> {
        let step = script.steps.get(self.next)?;
        let Action::Emit {
            event,
            template,
            ack,
        } = &step.action
        else {
            return None;
        };
        self.next += 1;
        self.seq += 1;
        let text = template.render(self.seq, &self.captures);
        Some(match serde_json::from_str(&text) {
            Ok(serde_json::Value::Array(args)) => Ok(Emit {
                event: event.clone(),
                args,
                ack: *ack,
            }),
            Ok(one) => Ok(Emit {
                event: event.clone(),
                args: vec![one],
                ack: *ack,
            }),
            Err(e) => Err(Error::new(
                ErrorKind::Check,
                format!(
                    "step {} ({}): the arguments are not JSON once captures are in: {e}",
                    self.next, step.label
                ),
            )),
        })
    }

    pub fn next(&mut self, script: &Script, now: Instant) -> Next {
        let Some(step) = script.steps.get(self.next) else {
            return Next::Done;
        };
        match &step.action {
            Action::Emit { .. } => {
                // Only a socket.io session emits (through `take_emit`); others skip the step.
                self.next += 1;
                self.next(script, now)
            }
            Action::Send { kind, template } => {
                self.next += 1;
                self.seq += 1;
                Next::Send(
                    *kind,
                    Bytes::from(template.render(self.seq, &self.captures)),
                )
            }
            Action::SendUncompressed(kind, payload) => {
                self.next += 1;
                Next::SendUncompressed(*kind, payload.clone())
            }
            Action::SendFile(path) => {
                self.next += 1;
                Next::SendFile(path.clone())
            }
            Action::Expect { .. } => {
                if self.deadline.is_none() {
                    self.deadline = script.step_timeout.map(|t| now + t);
                }
                Next::Expect {
                    deadline: self.deadline,
                }
            }
        }
    }

    /// Try a received message against the current expect; a match moves on.
    pub fn offer<'s>(&mut self, script: &'s Script, text: &str) -> Option<Matched<'s>> {
        let step = script.steps.get(self.next)?;
        let Action::Expect { matcher, ordinal } = &step.action else {
            return None;
        };
        if !matcher.test(text, &mut self.captures) {
            return None;
        }
        self.next += 1;
        self.deadline = None;
        Some(Matched {
            ordinal: *ordinal,
            source: &step.source,
        })
    }

    /// The current expect ran out of time (exit 1). `last`: the last message received.
    pub fn timed_out(&self, script: &Script, last: Option<&str>) -> Error {
        let after = script
            .step_timeout
            .map(|t| humantime::format_duration(t).to_string())
            .unwrap_or_default();
        self.failed(script, &format!("timed out after {after}"), last)
    }

    /// The connection ended (or the run stopped) before the script was done.
    pub fn failed(&self, script: &Script, why: &str, last: Option<&str>) -> Error {
        let label = script.steps.get(self.next).map_or("", |s| s.label.as_str());
        let last = match last {
            Some(t) => format!("; last received: {}", escape_controls(&clip(t, 200), false)),
            None => "; nothing received".into(),
        };
        Error::new(
            ErrorKind::Check,
            format!("step {} ({label}) {why}{last}", self.step_number()),
        )
    }
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(args: &[StepArg]) -> Script {
        Script::build(args, DataKind::Text, Some(Duration::from_secs(5))).unwrap()
    }

    #[test]
    fn runs_in_order_and_substitutes_captures() {
        let s = script(&[
            StepArg::Send(r#"{"op":"auth"}"#.into()),
            StepArg::Expect(r#""token":"(?P<token>[^"]+)""#.into()),
            StepArg::Send(r#"{"op":"sub","token":"{token}","n":{seq}}"#.into()),
            StepArg::ExpectJson("/type=tick".into()),
        ]);
        let now = Instant::now();
        let mut r = Runner::new(&s);
        assert_eq!(
            r.next(&s, now),
            Next::Send(DataKind::Text, Bytes::from_static(br#"{"op":"auth"}"#))
        );
        let wait = r.next(&s, now);
        assert_eq!(
            wait,
            Next::Expect {
                deadline: Some(now + Duration::from_secs(5))
            }
        );
        assert!(r.offer(&s, "noise").is_none());
        let m = r.offer(&s, r#"{"ok":true,"token":"t-9"}"#).unwrap();
        assert_eq!(m.ordinal, 0);
        assert_eq!(
            r.next(&s, now),
            Next::Send(
                DataKind::Text,
                Bytes::from_static(br#"{"op":"sub","token":"t-9","n":2}"#)
            )
        );
        assert!(r.offer(&s, r#"{"type":"tock"}"#).is_none());
        assert_eq!(r.offer(&s, r#"{"type":"tick"}"#).unwrap().ordinal, 1);
        assert_eq!(r.next(&s, now), Next::Done);
        r.restart();
        assert!(matches!(r.next(&s, now), Next::Send(..)));
    }

    #[test]
    fn a_timeout_names_the_step_and_escapes_what_came() {
        let s = script(&[StepArg::Send("hi".into()), StepArg::Expect("tick".into())]);
        let mut r = Runner::new(&s);
        r.next(&s, Instant::now());
        r.next(&s, Instant::now());
        let e = r.timed_out(&s, Some("bad\x1b[2Jpeer"));
        assert_eq!(e.kind(), ErrorKind::Check);
        assert_eq!(
            e.to_string(),
            r#"step 2 (--expect "tick") timed out after 5s; last received: bad\x1b[2Jpeer"#
        );
    }

    #[test]
    fn emits_take_their_turn_with_captures() {
        let s = script(&[
            StepArg::Expect(r#"token=(?P<t>\w+)"#.into()),
            StepArg::Emit {
                event: "join".into(),
                json: r#"["room",{"token":"{t}"}]"#.into(),
                ack: true,
            },
            StepArg::Emit {
                event: "chat message".into(),
                json: r#""hi""#.into(),
                ack: false,
            },
        ]);
        let mut r = Runner::new(&s);
        assert!(r.take_emit(&s).is_none());
        r.next(&s, Instant::now());
        r.offer(&s, "token=abc").unwrap();
        let e = r.take_emit(&s).unwrap().unwrap();
        assert_eq!(e.event, "join");
        assert_eq!(
            e.args,
            [
                serde_json::json!("room"),
                serde_json::json!({"token": "abc"})
            ]
        );
        assert!(e.ack);
        let e = r.take_emit(&s).unwrap().unwrap();
        assert_eq!((e.args, e.ack), (vec![serde_json::json!("hi")], false));
        assert!(r.is_done(&s));
        let bad = StepArg::Emit {
            event: "x".into(),
            json: "{oops".into(),
            ack: false,
        };
        let e = Script::build(&[bad], DataKind::Text, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
    }

    #[test]
    fn bad_expressions_are_usage_errors() {
        for arg in [
            StepArg::Expect("(".into()),
            StepArg::ExpectJson("type=x".into()),
        ] {
            let e = Script::build(&[arg], DataKind::Text, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage);
        }
    }
}
