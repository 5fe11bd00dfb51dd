//! `soak --scenario FILE`: a TOML file for flows longer than a command line fits. Its schema
//! (documented in the README, example in `examples/scenario.toml`):
//!
//! ```toml
//! step_timeout = "10s"            # each preamble expect, as --step-timeout
//! think_time = "50ms..150ms"      # between a connection's messages, uniformly random
//! [[preamble]]                    # steps, in order: one of send / expect / expect_json
//! send = '{"op":"auth"}'
//! [[preamble]]
//! expect_json = "/token=>token"
//! [message]                       # the measured messages
//! template = '{"op":"echo","data":"{payload}"}'
//! echo_json = "/data"             # or echo_regex = '"data":"(?P<payload>[^"]+)"'
//! ```
//! TOML because the `toml` crate is the well-kept standard and its errors name line and key.

use crate::client::steps::StepArg;
use crate::error::Error;
use crate::stats::soak_envelope::{Echo, Envelope};
use regex::Regex;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    step_timeout: Option<String>,
    think_time: Option<String>,
    #[serde(default)]
    preamble: Vec<StepEntry>,
    message: Option<MessageEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepEntry {
    send: Option<String>,
    expect: Option<String>,
    expect_json: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageEntry {
    template: String,
    echo_json: Option<String>,
    echo_regex: Option<String>,
}

#[derive(Debug)]
pub struct Scenario {
    pub preamble: Vec<StepArg>,
    pub step_timeout: Option<Duration>,
    /// (least, most) time between two messages of one connection.
    pub think_time: Option<(Duration, Duration)>,
    pub envelope: Option<Envelope>,
}

pub fn load(path: &Path) -> Result<Scenario, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read --scenario {}: {e}", path.display())))?;
    parse(&text).map_err(|why| Error::usage(format!("--scenario {}: {why}", path.display())))
}

fn parse(text: &str) -> Result<Scenario, String> {
    let file: File = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
    let mut preamble = Vec::with_capacity(file.preamble.len());
    for (i, s) in file.preamble.into_iter().enumerate() {
        preamble.push(match (s.send, s.expect, s.expect_json) {
            (Some(m), None, None) => StepArg::Send(m),
            (None, Some(r), None) => StepArg::Expect(r),
            (None, None, Some(j)) => StepArg::ExpectJson(j),
            _ => {
                return Err(format!(
                    "preamble step {} needs exactly one of send, expect, expect_json",
                    i + 1
                ));
            }
        });
    }
    let duration =
        |key: &str, v: &str| crate::cli::parse::duration(v).map_err(|e| format!("{key}: {e}"));
    let step_timeout = match &file.step_timeout {
        Some(v) => Some(duration("step_timeout", v)?).filter(|d| !d.is_zero()),
        None => None,
    };
    let think_time = match &file.think_time {
        None => None,
        Some(v) => {
            let (lo, hi) = v.split_once("..").unwrap_or((v, v));
            let (lo, hi) = (duration("think_time", lo)?, duration("think_time", hi)?);
            if hi < lo || hi.is_zero() {
                return Err(format!(
                    "think_time {v:?}: write MIN..MAX with MIN <= MAX and MAX > 0, or one duration"
                ));
            }
            Some((lo, hi))
        }
    };
    let envelope = match file.message {
        None => None,
        Some(m) => {
            let echo = match (m.echo_json, m.echo_regex) {
                (Some(p), None) => {
                    if !(p.is_empty() || p.starts_with('/')) {
                        return Err(format!(
                            "echo_json {p:?}: a JSON pointer starts with '/' (RFC 6901)"
                        ));
                    }
                    Echo::Pointer(p)
                }
                (None, Some(r)) => Echo::Regex(
                    Regex::new(&r)
                        .map_err(|e| format!("echo_regex {r:?}: {}", one_line(&e.to_string())))?,
                ),
                _ => return Err("[message] needs exactly one of echo_json, echo_regex".into()),
            };
            Some(Envelope::new(&m.template, echo)?)
        }
    };
    Ok(Scenario {
        preamble,
        step_timeout,
        think_time,
        envelope,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../../examples/scenario.toml");
        let s = parse(text).unwrap();
        assert_eq!(s.preamble.len(), 4);
        assert!(matches!(s.preamble[1], StepArg::ExpectJson(_)));
        assert!(s.envelope.is_some());
        assert_eq!(
            s.think_time,
            Some((Duration::from_millis(50), Duration::from_millis(150)))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("[[preamble]]\nsend = 'a'\nexpect = 'b'\n").unwrap_err();
        assert!(e.contains("preamble step 1"), "{e}");
        let e = parse("[message]\ntemplate = 'x'\necho_json = '/d'\n").unwrap_err();
        assert!(e.contains("{payload}"), "{e}");
        let e = parse("think_time = '2s..1s'\n").unwrap_err();
        assert!(e.contains("think_time"), "{e}");
        let e = parse("colour = 1\n").unwrap_err();
        assert!(e.contains("colour"), "{e}");
    }
}
