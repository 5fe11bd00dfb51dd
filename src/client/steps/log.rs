//! The `step` event: how each step of a conversation went, for NDJSON consumers (CI logs that
//! show which step of a login flow was slow or failed, and what it captured). It watches a
//! `Runner` from outside, so the runner stays I/O-free and soak's preambles pay nothing.

use super::{Action, Runner, Script};
use crate::client::steps::matcher::{JsonTest, Matcher};
use crate::event::{Event, StepRecord};
use std::time::Instant;

/// Where the steps of one connection are, as last reported.
#[derive(Debug)]
pub struct StepLog {
    begun: Instant,
    /// Steps reported so far.
    seen: usize,
    /// When the first unreported step began.
    step_start: Instant,
}

impl Default for StepLog {
    fn default() -> Self {
        let now = Instant::now();
        StepLog {
            begun: now,
            seen: 0,
            step_start: now,
        }
    }
}

impl StepLog {
    /// A new connection runs the steps from the first again.
    pub fn restart(&mut self) {
        *self = StepLog::default();
    }

    /// Reports the steps the runner finished since the last call. `last`: the last message
    /// received (what the expect that just finished matched).
    pub fn progress(
        &mut self,
        runner: &Runner,
        script: &Script,
        last: Option<&str>,
        mut emit: impl FnMut(Event),
    ) {
        let now = Instant::now();
        while self.seen < runner.position().min(script.steps.len()) {
            let is_expect = matches!(script.steps[self.seen].action, Action::Expect { .. });
            let (outcome, matched) = match is_expect {
                true => ("matched", last.map(str::to_string)),
                false => ("sent", None),
            };
            emit(self.record(runner, script, outcome, matched, now));
            self.seen += 1;
            self.step_start = now;
        }
    }

    /// The current step failed: `timed_out`, or `failed` when the connection ended first.
    pub fn failed(
        &mut self,
        runner: &Runner,
        script: &Script,
        outcome: &'static str,
        mut emit: impl FnMut(Event),
    ) {
        self.progress(runner, script, None, &mut emit);
        if self.seen < script.steps.len() {
            emit(self.record(runner, script, outcome, None, Instant::now()));
            // Reported once; a restart reports the steps of the next connection.
            self.seen = script.steps.len();
        }
    }

    fn record(
        &self,
        runner: &Runner,
        script: &Script,
        outcome: &'static str,
        matched: Option<String>,
        now: Instant,
    ) -> Event {
        let step = &script.steps[self.seen];
        let (kind, slots): (&str, Vec<usize>) = match &step.action {
            Action::Send { .. } => ("send", Vec::new()),
            Action::SendUncompressed(..) => ("send_uncompressed", Vec::new()),
            Action::SendFile(_) => ("send_file", Vec::new()),
            Action::Emit { ack: false, .. } => ("emit", Vec::new()),
            Action::Emit { ack: true, .. } => ("emit_ack", Vec::new()),
            Action::Expect { matcher, .. } => match matcher {
                Matcher::Regex(_, names) => ("expect", names.iter().map(|(_, s)| *s).collect()),
                Matcher::Json { test, .. } => (
                    "expect_json",
                    match test {
                        JsonTest::Capture(slot) => vec![*slot],
                        _ => Vec::new(),
                    },
                ),
            },
        };
        let captures = match outcome {
            "matched" => slots
                .into_iter()
                .filter_map(|slot| {
                    let value = runner.captures().get(slot)?.clone()?;
                    Some((script.captures.get(slot)?.clone(), value))
                })
                .collect(),
            _ => Vec::new(),
        };
        Event::Step(Box::new(StepRecord {
            index: self.seen,
            kind,
            source: step.source.clone(),
            outcome,
            start: self.step_start.saturating_duration_since(self.begun),
            elapsed: now.saturating_duration_since(self.step_start),
            matched,
            captures,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Script, StepArg};
    use super::*;
    use crate::ws::proto::DataKind;
    use std::time::Duration;

    fn records(log: &mut StepLog, r: &Runner, s: &Script, last: Option<&str>) -> Vec<StepRecord> {
        let mut out = Vec::new();
        log.progress(r, s, last, |e| {
            if let Event::Step(rec) = e {
                out.push(*rec)
            }
        });
        out
    }

    #[test]
    fn each_step_is_reported_once_with_its_outcome_and_captures() {
        let s = Script::build(
            &[
                StepArg::Send(r#"{"op":"auth"}"#.into()),
                StepArg::Expect(r#""token":"(?P<token>[^"]+)""#.into()),
                StepArg::ExpectJson("/n=>n".into()),
                StepArg::Expect("never".into()),
            ],
            DataKind::Text,
            Some(Duration::from_secs(5)),
        )
        .unwrap();
        let mut r = Runner::new(&s);
        let mut log = StepLog::default();
        let now = Instant::now();
        r.next(&s, now);
        r.next(&s, now);
        let got = records(&mut log, &r, &s, None);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].index, got[0].kind, got[0].outcome),
            (0, "send", "sent")
        );
        assert!(records(&mut log, &r, &s, None).is_empty(), "reported once");
        let reply = r#"{"token":"abc","n":7}"#;
        assert!(r.offer(&s, reply).is_some());
        r.next(&s, now);
        assert!(r.offer(&s, reply).is_some());
        let got = records(&mut log, &r, &s, Some(reply));
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].kind, got[0].outcome), ("expect", "matched"));
        assert_eq!(got[0].matched.as_deref(), Some(reply));
        assert_eq!(got[0].captures, [("token".to_string(), "abc".to_string())]);
        assert_eq!(got[1].kind, "expect_json");
        assert_eq!(got[1].captures, [("n".to_string(), "7".to_string())]);
        let mut failed = Vec::new();
        log.failed(&r, &s, "timed_out", |e| failed.push(e));
        let [Event::Step(rec)] = &failed[..] else {
            panic!("{failed:?}")
        };
        assert_eq!((rec.index, rec.outcome), (3, "timed_out"));
        assert!(rec.captures.is_empty() && rec.matched.is_none());
        log.failed(&r, &s, "failed", |_| panic!("reported twice"));
    }
}
