//! The machine-readable output of every subcommand, checked against what the README documents:
//! the NDJSON events of `connect --json`, `ping --json` and `echo-server --json` ([`Schema`]),
//! and the report `soak --json FILE` writes ([`check_soak_report`]).
//!
//! A line fails when it is not a JSON object, when its `type` is not one that subcommand
//! emits, or when a documented field is missing or of the wrong type. Fields beyond the
//! documented ones are allowed: adding one is not a break.

use std::process::Output;

use serde_json::Value;

use super::process::{describe, stdout_of};

/// Whose events a line holds: the same `type` can differ between subcommands (echo-server's
/// `opened` names a client, connect's a handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Connect,
    Ping,
    EchoServer,
}

/// The stable `kind` keys of `error` events (README, "NDJSON events"), also soak's error keys.
pub const ERROR_KINDS: &[&str] = &[
    "dns",
    "refused",
    "connect_timeout",
    "connect",
    "tls",
    "http_status",
    "subprotocol",
    "protocol",
    "abnormal_close",
    "heartbeat_timeout",
    "ping_timeout",
    "sio_connect_error",
    "sio_disconnect",
    "close_code",
    "check_failed",
    "timeout",
    "message_too_large",
    "io",
    "interrupted",
    "usage",
    "preamble",
    "sio_connect_error",
];

impl Schema {
    /// Every `type` this subcommand emits.
    pub fn types(self) -> &'static [&'static str] {
        match self {
            Schema::Connect => &[
                "redirect",
                "opened",
                "sent",
                "received",
                "ping",
                "pong",
                "expect",
                "step",
                "closed",
                "error",
                "warning",
                "reconnecting",
                "reconnect_failed",
                "reconnected",
                "heartbeat_timeout",
                "heartbeat",
                "buffered",
                "buffer_drop",
                "unconfirmed",
                "sio_open",
                "sio_ping",
                "sio_connected",
                "sio_event",
                "sio_emit",
                "sio_ack",
                "sio_disconnect",
            ],
            Schema::Ping => &[
                "redirect",
                "opened",
                "pong",
                "late",
                "duplicate",
                "unsolicited",
                "timeout",
                "other",
                "handshake",
                "failed",
                "closed",
                "error",
                "warning",
                "summary",
            ],
            Schema::EchoServer => &[
                "listening",
                "opened",
                "message",
                "heartbeat_timeout",
                "closed",
                "rejected",
                "shutdown",
                "warning",
                "redis",
                "summary",
            ],
        }
    }

    /// Checks one event; the error says which rule it broke.
    pub fn check(self, v: &Value) -> Result<(), String> {
        if !v.is_object() {
            return Err("not an object".into());
        }
        need(v, &[("type", J::Str), ("ts", J::Num)])?;
        if v["ts"].as_f64().unwrap() < 0.0 {
            return Err("ts is negative".into());
        }
        let ty = v["type"].as_str().unwrap();
        if !self.types().contains(&ty) {
            return Err(format!("{self:?} emits no {ty:?} events"));
        }
        match (self, ty) {
            (_, "warning") => need(v, &[("message", J::Str)]),
            (_, "error") => error(v),
            (Schema::Connect | Schema::Ping, "opened") => opened(v),
            (Schema::Connect | Schema::Ping, "redirect") => need(
                v,
                &[
                    ("status", J::Int),
                    ("from", J::Str),
                    ("to", J::Str),
                    ("credentials_dropped", J::Bool),
                ],
            ),
            (Schema::Connect | Schema::Ping, "closed") => closed(v),
            (Schema::Connect, _) => connect_event(ty, v),
            (Schema::Ping, _) => ping_event(ty, v),
            (Schema::EchoServer, _) => echo_server_event(ty, v),
        }
        .map_err(|e| format!("{ty}: {e}"))
    }

    /// Parses one stdout line and checks it.
    pub fn parse_line(self, line: &str) -> Result<Value, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
        self.check(&v)?;
        Ok(v)
    }
}

/// Parses NDJSON stdout of run `o`; panics on a line that is not a JSON object or that breaks
/// the subcommand's schema.
#[track_caller]
pub fn parse_ndjson(schema: Schema, o: &Output) -> Vec<Value> {
    stdout_of(o)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            schema.parse_line(line).unwrap_or_else(|why| {
                panic!(
                    "stdout line {} breaks the {schema:?} schema: {why}\n{line}\n{}",
                    i + 1,
                    describe(o)
                )
            })
        })
        .collect()
}

/// Events of one `type`.
pub fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

// ------------------------------------------------------------------ field rules

#[derive(Clone, Copy)]
enum J {
    Str,
    Int,
    Num,
    Bool,
    Obj,
    StrArr,
    StrOrNull,
    IntOrNull,
    NumOrNull,
    /// An object whose values are strings.
    StrMap,
    /// An object whose values are integers.
    IntMap,
    /// An array of objects.
    ObjArr,
    /// A string, one of these.
    OneOf(&'static [&'static str]),
}

fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

fn json_is(v: &Value, j: J) -> bool {
    match j {
        J::Str => v.is_string(),
        J::Int => is_int(v),
        J::Num => v.is_number(),
        J::Bool => v.is_boolean(),
        J::Obj => v.is_object(),
        J::StrArr => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        J::StrOrNull => v.is_null() || v.is_string(),
        J::IntOrNull => v.is_null() || is_int(v),
        J::NumOrNull => v.is_null() || v.is_number(),
        J::StrMap => v
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string)),
        J::IntMap => v.as_object().is_some_and(|m| m.values().all(is_int)),
        J::ObjArr => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
        J::OneOf(allowed) => v.as_str().is_some_and(|s| allowed.contains(&s)),
    }
}

fn describe_j(j: J) -> String {
    match j {
        J::Str => "a string".into(),
        J::Int => "an integer".into(),
        J::Num => "a number".into(),
        J::Bool => "a bool".into(),
        J::Obj => "an object".into(),
        J::StrArr => "an array of strings".into(),
        J::StrOrNull => "a string or null".into(),
        J::IntOrNull => "an integer or null".into(),
        J::NumOrNull => "a number or null".into(),
        J::StrMap => "an object of strings".into(),
        J::IntMap => "an object of integers".into(),
        J::ObjArr => "an array of objects".into(),
        J::OneOf(allowed) => format!("one of {allowed:?}"),
    }
}

/// Every field present and of its type.
fn need(v: &Value, fields: &[(&str, J)]) -> Result<(), String> {
    for (name, j) in fields {
        match v.get(*name) {
            Some(got) if json_is(got, *j) => {}
            got => {
                return Err(format!(
                    "field {name:?} should be {} but is {}",
                    describe_j(*j),
                    got.map_or("missing".to_string(), Value::to_string)
                ));
            }
        }
    }
    Ok(())
}

/// Fields that only some events carry: of their type when present.
fn optional(v: &Value, fields: &[(&str, J)]) -> Result<(), String> {
    for (name, j) in fields {
        if let Some(got) = v.get(*name)
            && !json_is(got, *j)
        {
            return Err(format!(
                "field {name:?}, when present, should be {} but is {got}",
                describe_j(*j)
            ));
        }
    }
    Ok(())
}

/// Seconds that cannot be negative.
fn non_negative(v: &Value, fields: &[&str]) -> Result<(), String> {
    for f in fields {
        if let Some(x) = v[*f].as_f64()
            && x < 0.0
        {
            return Err(format!("{f} is negative: {x}"));
        }
    }
    Ok(())
}

const KINDS: J = J::OneOf(&["text", "binary"]);
const DIRECTIONS: J = J::OneOf(&["out", "in"]);
const INITIATORS: J = J::OneOf(&["client", "server", "none"]);

// ------------------------------------------------------------------ shared shapes

/// A message's payload: `text` for text, `base64` for binary.
fn payload(v: &Value) -> Result<(), String> {
    need(v, &[("kind", KINDS), ("len", J::Int)])?;
    if v["kind"] == "text" {
        need(v, &[("text", J::Str)])
    } else {
        need(v, &[("base64", J::Str)])
    }
}

/// permessage-deflate's view of a message: compressed or not, and its bytes on the wire, which
/// are at least the frame header's 2 more than an uncompressed payload.
fn wire(v: &Value) -> Result<(), String> {
    need(v, &[("compressed", J::Bool), ("wire_len", J::Int)])?;
    if v["compressed"] == false && v["wire_len"].as_u64() < v["len"].as_u64().map(|l| l + 2) {
        return Err("an uncompressed message's wire_len is at least len + 2".into());
    }
    Ok(())
}

/// A handshake's phases, in seconds; `tls` is null for ws://.
fn timings(t: &Value, url: &str) -> Result<(), String> {
    need(
        t,
        &[
            ("dns", J::Num),
            ("tcp", J::Num),
            ("proxy", J::NumOrNull),
            ("tls", J::NumOrNull),
            ("upgrade", J::Num),
            ("total", J::Num),
        ],
    )
    .and_then(|()| non_negative(t, &["dns", "tcp", "proxy", "tls", "upgrade", "total"]))
    .map_err(|e| format!("timings: {e}"))?;
    if url.starts_with("ws://") && !t["tls"].is_null() {
        return Err("timings.tls should be null for ws://".into());
    }
    Ok(())
}

/// The client's `opened` (connect, ping).
fn opened(v: &Value) -> Result<(), String> {
    need(
        v,
        &[
            ("url", J::Str),
            ("peer", J::Str),
            ("proxy", J::StrOrNull),
            ("status", J::Int),
            ("headers", J::StrMap),
            ("subprotocol", J::StrOrNull),
            ("extensions", J::StrArr),
            ("timings", J::Obj),
        ],
    )?;
    if v["status"] != 101 {
        return Err(format!("status should be 101, got {}", v["status"]));
    }
    timings(&v["timings"], v["url"].as_str().unwrap())
}

/// A CloseEvent, as browsers name its fields.
fn closed(v: &Value) -> Result<(), String> {
    need(
        v,
        &[
            ("code", J::Int),
            ("name", J::Str),
            ("reason", J::Str),
            ("wasClean", J::Bool),
            ("initiator", INITIATORS),
            ("code_valid", J::Bool),
            ("error", J::StrOrNull),
        ],
    )?;
    // As in the browser, a connection that ended without a Close frame has no reason.
    if v["code"] == 1006 && v["reason"] != "" {
        return Err(format!("a 1006 has an empty reason, got {}", v["reason"]));
    }
    Ok(())
}

fn error(v: &Value) -> Result<(), String> {
    need(v, &[("kind", J::OneOf(ERROR_KINDS)), ("message", J::Str)])?;
    // A refused upgrade also carries what the server answered.
    optional(v, &[("status", J::Int), ("body", J::Str)])
}

// ------------------------------------------------------------------ per subcommand

fn connect_event(ty: &str, v: &Value) -> Result<(), String> {
    match ty {
        "sent" => {
            // `--send-file` is streamed from disk: its path stands in for the payload.
            if v.get("file").is_some() {
                need(v, &[("kind", KINDS), ("len", J::Int), ("file", J::Str)])?;
            } else {
                payload(v)?;
            }
            need(v, &[("fragments", J::Int)])?;
            wire(v)?;
            optional(v, &[("resent", J::Bool)])?;
            if v["fragments"].as_u64().unwrap_or(0) < 1 {
                return Err("fragments should be >= 1".into());
            }
            Ok(())
        }
        "received" => payload(v).and_then(|()| wire(v)),
        "ping" => need(
            v,
            &[
                ("direction", DIRECTIONS),
                ("len", J::Int),
                ("seq", J::IntOrNull),
            ],
        ),
        "pong" => need(
            v,
            &[
                ("direction", DIRECTIONS),
                ("len", J::Int),
                ("seq", J::IntOrNull),
                ("rtt", J::NumOrNull),
            ],
        )
        .and_then(|()| non_negative(v, &["rtt"])),
        "expect" => need(
            v,
            &[("index", J::Int), ("pattern", J::Str), ("matched", J::Str)],
        ),
        "step" => need(
            v,
            &[
                ("index", J::Int),
                (
                    "kind",
                    J::OneOf(&[
                        "send",
                        "send_uncompressed",
                        "send_file",
                        "emit",
                        "emit_ack",
                        "expect",
                        "expect_json",
                    ]),
                ),
                ("source", J::Str),
                (
                    "outcome",
                    J::OneOf(&["sent", "matched", "timed_out", "failed"]),
                ),
                ("start", J::Num),
                ("elapsed", J::Num),
                ("matched", J::StrOrNull),
                ("captures", J::StrMap),
            ],
        )
        .and_then(|()| non_negative(v, &["start", "elapsed"])),
        "reconnecting" => need(
            v,
            &[("attempt", J::Int), ("max", J::Int), ("delay", J::Num)],
        )
        .and_then(|()| non_negative(v, &["delay"])),
        "reconnect_failed" => need(
            v,
            &[
                ("attempt", J::Int),
                ("kind", J::OneOf(ERROR_KINDS)),
                ("message", J::Str),
            ],
        ),
        "reconnected" => need(v, &[("attempt", J::Int), ("buffered", J::Int)]),
        "heartbeat_timeout" => {
            need(v, &[("waited", J::Num)]).and_then(|()| non_negative(v, &["waited"]))
        }
        "heartbeat" => need(v, &[("seq", J::IntOrNull), ("rtt", J::NumOrNull)])
            .and_then(|()| non_negative(v, &["rtt"])),
        "buffered" => need(v, &[("kind", KINDS), ("len", J::Int), ("queued", J::Int)]),
        "buffer_drop" => payload(v).and_then(|()| need(v, &[("why", J::Str)])),
        "unconfirmed" => need(
            v,
            &[
                ("count", J::Int),
                ("bytes", J::Int),
                ("first", J::IntOrNull),
                ("last", J::IntOrNull),
                ("more", J::Bool),
                ("resend", J::Bool),
            ],
        ),
        "sio_open" => need(
            v,
            &[
                ("sid", J::Str),
                ("ping_interval", J::Num),
                ("ping_timeout", J::Num),
                ("max_payload", J::Int),
            ],
        ),
        "sio_ping" => need(v, &[("count", J::Int), ("since_last", J::Num)])
            .and_then(|()| non_negative(v, &["since_last"])),
        "sio_connected" => need(v, &[("namespace", J::Str), ("sid", J::StrOrNull)]),
        "sio_event" | "sio_emit" => {
            need(
                v,
                &[
                    ("namespace", J::Str),
                    ("event", J::Str),
                    ("ack_id", J::IntOrNull),
                ],
            )?;
            v["args"]
                .is_array()
                .then_some(())
                .ok_or("args is not an array".into())
        }
        "sio_ack" => {
            need(
                v,
                &[("namespace", J::Str), ("id", J::Int), ("rtt", J::NumOrNull)],
            )?;
            v["args"]
                .is_array()
                .then_some(())
                .ok_or("args is not an array".into())
        }
        "sio_disconnect" => need(v, &[("namespace", J::Str), ("reason", J::Str)]),
        other => unreachable!("{other} is in Schema::Connect.types() without a rule"),
    }
}

fn ping_event(ty: &str, v: &Value) -> Result<(), String> {
    match ty {
        // A reply to one of our probes: connect's pong shape, always with seq and rtt.
        "pong" => need(
            v,
            &[
                ("direction", J::OneOf(&["in"])),
                ("len", J::Int),
                ("seq", J::Int),
                ("rtt", J::Num),
            ],
        )
        .and_then(|()| non_negative(v, &["rtt"])),
        "late" => need(v, &[("seq", J::Int), ("len", J::Int), ("rtt", J::Num)])
            .and_then(|()| non_negative(v, &["rtt"])),
        "duplicate" => need(v, &[("seq", J::Int), ("len", J::Int)]),
        "unsolicited" => need(v, &[("len", J::Int)]),
        "timeout" => need(v, &[("seq", J::Int)]),
        "other" => need(v, &[("kind", KINDS), ("len", J::Int)]),
        "handshake" => {
            need(
                v,
                &[
                    ("seq", J::Int),
                    ("peer", J::Str),
                    ("status", J::Int),
                    ("rtt", J::Num),
                    ("timings", J::Obj),
                ],
            )?;
            non_negative(v, &["rtt"])?;
            // The handshake carries no url: the ws:// rule is the test's to check.
            timings(&v["timings"], "")
        }
        "failed" => need(
            v,
            &[
                ("seq", J::Int),
                ("kind", J::OneOf(ERROR_KINDS)),
                ("message", J::Str),
            ],
        ),
        "summary" => ping_summary(v),
        other => unreachable!("{other} is in Schema::Ping.types() without a rule"),
    }
}

/// ping's last line: counts, loss and, when anything was answered, the round trips.
fn ping_summary(s: &Value) -> Result<(), String> {
    need(
        s,
        &[
            ("url", J::Str),
            (
                "mode",
                J::OneOf(&["ping", "text", "connect", "socketio", "engineio"]),
            ),
            ("sent", J::Int),
            ("received", J::Int),
            ("loss_percent", J::Num),
            ("late", J::Int),
            ("duplicate", J::Int),
            ("unsolicited", J::Int),
            ("other", J::Int),
            ("elapsed", J::Num),
            (
                "ended",
                J::OneOf(&[
                    "count",
                    "deadline",
                    "interrupted",
                    "closed",
                    "output_closed",
                ]),
            ),
        ],
    )?;
    non_negative(s, &["elapsed"])?;
    let loss = s["loss_percent"].as_f64().unwrap();
    if !(0.0..=100.0).contains(&loss) {
        return Err(format!("loss_percent {loss} is outside 0..=100"));
    }
    if s["received"] == 0 {
        return if s["rtt"].is_null() {
            Ok(())
        } else {
            Err("no replies, so rtt should be null".into())
        };
    }
    let r = &s["rtt"];
    need(
        r,
        &[
            ("min", J::Num),
            ("avg", J::Num),
            ("max", J::Num),
            ("mdev", J::Num),
            ("p50", J::Num),
            ("p90", J::Num),
            ("p99", J::Num),
        ],
    )
    .map_err(|e| format!("rtt: {e}"))?;
    let get = |f: &str| r[f].as_f64().unwrap();
    let (min, avg, max) = (get("min"), get("avg"), get("max"));
    if !(min <= avg && avg <= max) {
        return Err(format!("rtt: want min <= avg <= max: {r}"));
    }
    for p in ["p50", "p90", "p99"] {
        if !(min..=max).contains(&get(p)) {
            return Err(format!("rtt: {p} outside min..max: {r}"));
        }
    }
    if get("mdev") < 0.0 {
        return Err(format!("rtt: negative mdev: {r}"));
    }
    Ok(())
}

fn echo_server_event(ty: &str, v: &Value) -> Result<(), String> {
    match ty {
        "listening" => need(v, &[("url", J::Str)])
            // --tls-self-signed: where the certificate was written and its fingerprint.
            .and_then(|()| optional(v, &[("tls_cert", J::Str), ("sha256", J::Str)])),
        "opened" => need(
            v,
            &[
                ("id", J::Int),
                ("peer", J::Str),
                ("path", J::Str),
                ("subprotocol", J::StrOrNull),
            ],
        ),
        "message" => need(v, &[("id", J::Int), ("kind", KINDS), ("len", J::Int)]),
        "heartbeat_timeout" => need(v, &[("id", J::Int), ("peer", J::Str), ("timeout", J::Num)]),
        "closed" => {
            closed(v)?;
            need(
                v,
                &[
                    ("id", J::Int),
                    ("peer", J::Str),
                    ("duration", J::Num),
                    ("messages_in", J::Int),
                    ("messages_out", J::Int),
                    ("rtt", J::NumOrNull),
                ],
            )?;
            non_negative(v, &["duration", "rtt"])
        }
        // --redis: Redis went away or came back (the target without its password).
        "redis" => need(
            v,
            &[("state", J::Str), ("target", J::Str), ("detail", J::Str)],
        ),
        // A socket that never became a WebSocket: refused with a status, or dropped (null).
        "rejected" => need(
            v,
            &[
                ("peer", J::Str),
                ("path", J::StrOrNull),
                ("status", J::IntOrNull),
                ("reason", J::Str),
            ],
        ),
        "shutdown" => need(v, &[("connections", J::Int)]),
        "summary" => {
            need(
                v,
                &[
                    ("connections", J::Int),
                    ("peak_connections", J::Int),
                    ("messages_in", J::Int),
                    ("messages_out", J::Int),
                    ("bytes_in", J::Int),
                    ("bytes_out", J::Int),
                    ("rejected", J::Int),
                    ("events_dropped", J::Int),
                    ("injected", J::IntMap),
                ],
            )?;
            need(
                &v["injected"],
                &[
                    ("dropped", J::Int),
                    ("duplicated", J::Int),
                    ("reordered", J::Int),
                    ("corrupted", J::Int),
                ],
            )
            .map_err(|e| format!("injected: {e}"))?;
            // With --redis or --replay.
            match v.get("scale") {
                None => Ok(()),
                Some(scale) => need(
                    scale,
                    &[
                        ("redis", J::Bool),
                        ("rtt_samples", J::Int),
                        ("rtt_avg", J::Num),
                        ("rtt_max", J::Num),
                        ("outages", J::Int),
                        ("published", J::Int),
                        ("publish_failures", J::Int),
                        ("received", J::Int),
                        ("stored", J::Int),
                        ("store_failures", J::Int),
                        ("replays", J::Int),
                        ("replayed", J::Int),
                        ("replay_failures", J::Int),
                        ("replay_cut", J::Int),
                    ],
                )
                .map_err(|e| format!("scale: {e}")),
            }
        }
        other => unreachable!("{other} is in Schema::EchoServer.types() without a rule"),
    }
}

// ------------------------------------------------------------------ soak report

/// Checks a `soak --json` report (README, "wsbeat soak"), merged or not.
pub fn check_soak_report(r: &Value) -> Result<(), String> {
    let at = |path: &'static str| move |e: String| format!("{path}: {e}");
    need(
        r,
        &[
            ("format", J::OneOf(&["wsbeat-soak-report/1"])),
            ("wsbeat", J::Str),
            ("runs", J::Int),
            ("config", J::ObjArr),
            ("elapsed", J::Num),
            ("stopped_early", J::Bool),
            ("connections", J::Obj),
            ("messages", J::Obj),
            ("heartbeats", J::Obj),
            ("latency", J::Obj),
            ("errors", J::IntMap),
            ("close_codes", J::IntMap),
            ("rss", J::ObjArr),
            ("thresholds", J::ObjArr),
        ],
    )?;
    let runs = r["config"].as_array().unwrap();
    if runs.len() as u64 != r["runs"].as_u64().unwrap_or(0) {
        return Err(format!(
            "one config per run: {} for {}",
            runs.len(),
            r["runs"]
        ));
    }
    for c in runs {
        need(
            c,
            &[
                ("url", J::Str),
                ("embedded_server", J::Bool),
                ("connections", J::Int),
                ("connect_rate", J::NumOrNull),
                ("duration", J::Num),
                ("mode", J::OneOf(&["echo", "send", "idle"])),
                ("message_rate", J::Num),
                ("size", J::Int),
                ("kind", KINDS),
                ("fragment_size", J::IntOrNull),
                ("source_addrs", J::StrArr),
                ("buffer", J::Int),
            ],
        )
        .map_err(at("config"))?;
        if !c["heartbeat"].is_null() {
            need(
                &c["heartbeat"],
                &[
                    ("interval", J::Num),
                    ("timeout", J::Num),
                    ("mode", J::OneOf(&["ping", "text"])),
                ],
            )
            .map_err(at("config.heartbeat"))?;
        }
        if !c["reconnect"].is_null() {
            need(
                &c["reconnect"],
                &[
                    ("backoff_min", J::Num),
                    ("backoff_max", J::Num),
                    ("max_reconnects", J::IntOrNull),
                ],
            )
            .map_err(at("config.reconnect"))?;
        }
    }
    let ints = |names: &[&'static str]| -> Vec<(&'static str, J)> {
        names.iter().map(|n| (*n, J::Int)).collect()
    };
    need(
        &r["connections"],
        &ints(&[
            "target",
            "peak_open",
            "open_at_end",
            "opened",
            "failed",
            "reconnects",
            "gave_up",
        ]),
    )
    .map_err(at("connections"))?;
    need(
        &r["messages"],
        &ints(&[
            "sent",
            "received",
            "echoed",
            "replayed",
            "missing",
            "duplicated",
            "reordered",
            "corrupted",
            "dropped",
            "unsent",
            "lost_in_flight",
            "unconfirmed",
            "unconfirmed_bytes",
            "server_replayed",
            "unstored",
            "server_cut",
            "others",
        ]),
    )
    .map_err(at("messages"))?;
    need(&r["heartbeats"], &ints(&["sent", "answered", "timeouts"])).map_err(at("heartbeats"))?;
    for key in ["echo", "heartbeat", "connect", "reconnect"] {
        let l = &r["latency"][key];
        need(
            l,
            &[
                ("count", J::Int),
                ("min", J::NumOrNull),
                ("mean", J::NumOrNull),
                ("p50", J::NumOrNull),
                ("p90", J::NumOrNull),
                ("p99", J::NumOrNull),
                ("p999", J::NumOrNull),
                ("max", J::NumOrNull),
                ("histogram", J::Str),
            ],
        )
        .map_err(|e| format!("latency.{key}: {e}"))?;
    }
    if let Some(bad) = r["errors"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| !ERROR_KINDS.contains(&k.as_str()))
    {
        return Err(format!("errors: {bad:?} is not an error kind"));
    }
    if let Some(bad) = r["close_codes"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.parse::<u16>().is_err())
    {
        return Err(format!("close_codes: {bad:?} is not a close code"));
    }
    for s in r["rss"].as_array().unwrap() {
        need(
            s,
            &[
                ("label", J::Str),
                ("pid", J::Int),
                ("peak_bytes", J::IntOrNull),
                ("peak_from", J::Str),
                ("samples", J::ObjArr),
            ],
        )
        .map_err(at("rss"))?;
        if !["VmHWM", "samples"].contains(&s["peak_from"].as_str().unwrap()) {
            return Err(format!(
                "rss: peak_from {} is neither VmHWM nor samples",
                s["peak_from"]
            ));
        }
        for p in s["samples"].as_array().unwrap() {
            need(p, &[("t", J::Num), ("value", J::Int)]).map_err(at("rss.samples"))?;
        }
    }
    for t in r["thresholds"].as_array().unwrap() {
        need(
            t,
            &[
                ("name", J::Str),
                ("limit", J::Num),
                ("value", J::NumOrNull),
                ("ok", J::Bool),
            ],
        )
        .map_err(at("thresholds"))?;
    }
    Ok(())
}

// ------------------------------------------------------------------ the checks themselves

/// One well-formed event of every type each subcommand emits, as the source writes them.
#[cfg(test)]
fn samples(schema: Schema) -> Vec<Value> {
    use serde_json::json;
    let opened = json!({"type": "opened", "ts": 0.002, "url": "ws://127.0.0.1:9001/",
        "peer": "127.0.0.1:9001", "proxy": null, "status": 101,
        "headers": {"upgrade": "websocket"}, "subprotocol": null, "extensions": [],
        "timings": {"dns": 0.0, "tcp": 0.001, "proxy": null, "tls": null, "upgrade": 0.001,
            "total": 0.002}});
    let redirect = json!({"type": "redirect", "ts": 0.001, "status": 301,
        "from": "ws://127.0.0.1:9000/", "to": "ws://127.0.0.1:9001/",
        "credentials_dropped": false});
    let closed = json!({"type": "closed", "ts": 1.0, "code": 1000, "name": "Normal Closure",
        "reason": "", "wasClean": true, "initiator": "client", "code_valid": true,
        "error": null});
    let error = json!({"type": "error", "ts": 0.1, "kind": "http_status",
        "message": "HTTP/1.1 403 Forbidden", "status": 403, "body": "no"});
    let warning = json!({"type": "warning", "ts": 0.0, "message": "--insecure"});
    match schema {
        Schema::Connect => vec![
            redirect.clone(),
            opened,
            json!({"type": "sent", "ts": 0.1, "kind": "text", "len": 5, "text": "hello",
                "fragments": 1, "resent": true, "compressed": false, "wire_len": 11}),
            json!({"type": "received", "ts": 0.1, "kind": "binary", "len": 3, "base64": "YWJj",
                "compressed": true, "wire_len": 4}),
            json!({"type": "ping", "ts": 0.2, "direction": "in", "len": 5, "seq": null}),
            json!({"type": "pong", "ts": 0.2, "direction": "in", "len": 0, "seq": 1,
                "rtt": 0.001}),
            json!({"type": "expect", "ts": 0.3, "index": 0, "pattern": "wor.d",
                "matched": "hello world"}),
            json!({"type": "step", "ts": 0.3, "index": 1, "kind": "expect", "source": "wor.d",
                "outcome": "matched", "start": 0.1, "elapsed": 0.2, "matched": "hello world",
                "captures": {"w": "world"}}),
            closed,
            error,
            warning,
            json!({"type": "reconnecting", "ts": 1.0, "attempt": 1, "max": 3, "delay": 0.1}),
            json!({"type": "reconnect_failed", "ts": 1.1, "attempt": 1, "kind": "refused",
                "message": "refused"}),
            json!({"type": "reconnected", "ts": 1.2, "attempt": 2, "buffered": 2}),
            json!({"type": "heartbeat_timeout", "ts": 1.3, "waited": 0.3}),
            json!({"type": "heartbeat", "ts": 1.4, "seq": 3, "rtt": null}),
            json!({"type": "buffered", "ts": 1.5, "kind": "text", "len": 3, "queued": 1}),
            json!({"type": "buffer_drop", "ts": 1.6, "kind": "text", "len": 3, "text": "two",
                "why": "gave up"}),
            json!({"type": "unconfirmed", "ts": 1.7, "count": 5, "bytes": 640, "first": 26,
                "last": 30, "more": false, "resend": true}),
            json!({"type": "sio_open", "ts": 0.003, "sid": "lv_VI97HAXpY6yYWAAAC",
                "ping_interval": 25.0, "ping_timeout": 20.0, "max_payload": 1000000}),
            json!({"type": "sio_ping", "ts": 25.0, "count": 1, "since_last": 25.0}),
            json!({"type": "sio_connected", "ts": 0.004, "namespace": "/", "sid": "oSO0"}),
            json!({"type": "sio_event", "ts": 0.005, "namespace": "/", "event": "welcome",
                "args": [{"hello": "world"}], "ack_id": null}),
            json!({"type": "sio_emit", "ts": 0.005, "namespace": "/", "event": "ping",
                "args": [1], "ack_id": 0}),
            json!({"type": "sio_ack", "ts": 0.006, "namespace": "/", "id": 0, "args": ["ok"],
                "rtt": 0.001}),
            json!({"type": "sio_disconnect", "ts": 2.0, "namespace": "/",
                "reason": "ping timeout"}),
        ],
        Schema::Ping => vec![
            redirect,
            opened,
            json!({"type": "pong", "ts": 0.1, "direction": "in", "len": 16, "seq": 1,
                "rtt": 0.0004}),
            json!({"type": "late", "ts": 0.4, "seq": 1, "len": 16, "rtt": 0.4}),
            json!({"type": "duplicate", "ts": 0.1, "seq": 2, "len": 16}),
            json!({"type": "unsolicited", "ts": 0.1, "len": 4}),
            json!({"type": "timeout", "ts": 0.3, "seq": 1}),
            json!({"type": "other", "ts": 0.1, "kind": "text", "len": 5}),
            json!({"type": "handshake", "ts": 0.01, "seq": 1, "peer": "127.0.0.1:9001",
                "status": 101, "rtt": 0.002, "timings": {"dns": 0.0, "tcp": 0.001, "proxy": null, "tls": null,
                "upgrade": 0.001, "total": 0.002}}),
            json!({"type": "failed", "ts": 0.01, "seq": 1, "kind": "refused",
                "message": "refused"}),
            closed,
            error,
            warning,
            json!({"type": "summary", "ts": 1.0, "url": "ws://127.0.0.1:9001/", "mode": "ping",
                "sent": 3, "received": 3, "loss_percent": 0.0, "late": 0, "duplicate": 0,
                "unsolicited": 0, "other": 0, "rtt": {"min": 0.001, "avg": 0.002, "max": 0.003,
                "mdev": 0.0005, "p50": 0.002, "p90": 0.003, "p99": 0.003}, "elapsed": 0.05,
                "ended": "count"}),
        ],
        Schema::EchoServer => vec![
            json!({"type": "listening", "ts": 0.0, "url": "wss://127.0.0.1:9001/",
                "tls_cert": "/tmp/cert.pem", "sha256": "AB:CD"}),
            json!({"type": "opened", "ts": 0.1, "id": 1, "peer": "127.0.0.1:5000", "path": "/",
                "subprotocol": null}),
            json!({"type": "message", "ts": 0.2, "id": 1, "kind": "binary", "len": 2}),
            json!({"type": "heartbeat_timeout", "ts": 2.0, "id": 1, "peer": "127.0.0.1:5000",
                "timeout": 1.0}),
            json!({"type": "closed", "ts": 2.0, "id": 1, "peer": "127.0.0.1:5000",
                "code": 1001, "name": "Going Away", "reason": "going away", "wasClean": true,
                "initiator": "server", "code_valid": true, "error": null, "duration": 1.9,
                "messages_in": 1,
                "messages_out": 1, "rtt": null}),
            json!({"type": "rejected", "ts": 0.3, "peer": "127.0.0.1:5001", "path": null,
                "status": 426, "reason": "not an upgrade"}),
            json!({"type": "shutdown", "ts": 3.0, "connections": 2}),
            json!({"type": "redis", "ts": 2.5, "state": "down",
                "target": "redis://127.0.0.1:6379", "detail": "Connection refused"}),
            warning,
            json!({"type": "summary", "ts": 3.1, "connections": 2, "peak_connections": 2,
                "messages_in": 1, "messages_out": 1, "bytes_in": 3, "bytes_out": 3, "rejected": 0,
                "events_dropped": 0,
                "injected": {"dropped": 0, "duplicated": 0, "reordered": 0, "corrupted": 0},
                "scale": {"redis": true, "rtt_samples": 3, "rtt_avg": 0.0002, "rtt_max": 0.0004,
                    "outages": 0, "published": 1, "publish_failures": 0, "received": 0,
                    "stored": 1, "store_failures": 0, "replays": 1, "replayed": 3,
                    "replay_failures": 0, "replay_cut": 2}}),
        ],
    }
}

/// A value of another JSON kind than `v`, which no rule accepts in `v`'s place.
#[cfg(test)]
fn mistyped(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::from(1),
        Value::Array(_) => Value::from("x"),
        _ => serde_json::json!({}),
    }
}

#[test]
fn schema_accepts_every_documented_event_and_rejects_broken_ones() {
    let optional_fields = ["status", "body", "tls_cert", "sha256", "resent", "scale"];
    for schema in [Schema::Connect, Schema::Ping, Schema::EchoServer] {
        let samples = samples(schema);
        let mut types: Vec<&str> = samples
            .iter()
            .map(|v| v["type"].as_str().unwrap())
            .collect();
        types.sort();
        let mut want = schema.types().to_vec();
        want.sort();
        assert_eq!(types, want, "{schema:?}: a sample of every type");
        for sample in &samples {
            assert_eq!(schema.check(sample), Ok(()), "{schema:?}: {sample}");
            for (key, value) in sample.as_object().unwrap() {
                let mut broken = sample.clone();
                broken[key.as_str()] = mistyped(value);
                assert!(
                    schema.check(&broken).is_err(),
                    "{schema:?} accepts {key} = {}: {broken}",
                    broken[key.as_str()]
                );
                if optional_fields.contains(&key.as_str()) {
                    continue;
                }
                let mut missing = sample.clone();
                missing.as_object_mut().unwrap().remove(key);
                assert!(
                    schema.check(&missing).is_err(),
                    "{schema:?} accepts a {} without {key}: {missing}",
                    sample["type"]
                );
            }
        }
        let mut unknown = samples[0].clone();
        unknown["type"] = "surprise".into();
        assert!(schema.check(&unknown).is_err(), "{schema:?}: unknown type");
    }
    // A 1006 says why in `error`, never in `reason` (as in the browser).
    let drop = serde_json::json!({"type": "closed", "ts": 1.0, "code": 1006,
        "name": "Abnormal Closure", "reason": "", "wasClean": false, "initiator": "none",
        "code_valid": true, "error": "connection reset"});
    assert_eq!(Schema::Connect.check(&drop), Ok(()));
    let mut with_reason = drop.clone();
    with_reason["reason"] = "connection reset".into();
    assert!(Schema::Connect.check(&with_reason).is_err());
    // The same type, another subcommand's shape.
    let server_opened = &samples(Schema::EchoServer)[1];
    assert!(Schema::Connect.check(server_opened).is_err());
    assert!(
        Schema::EchoServer
            .check(&samples(Schema::Connect)[1])
            .is_err()
    );
}

#[test]
fn soak_report_check_accepts_a_report_and_rejects_broken_ones() {
    use serde_json::json;
    let latency = json!({"count": 0, "min": null, "mean": null, "p50": null, "p90": null,
        "p99": null, "p999": null, "max": null, "histogram": "HISTFAAAAB"});
    let report = json!({
        "format": "wsbeat-soak-report/1", "wsbeat": "0.1.0", "runs": 1,
        "config": [{"url": "ws://127.0.0.1:9001/", "embedded_server": false, "connections": 2,
            "connect_rate": null, "duration": 1.0, "mode": "echo", "message_rate": 1.0,
            "size": 64, "kind": "text", "fragment_size": null, "source_addrs": [],
            "buffer": 100, "heartbeat": {"interval": 2.0, "timeout": 5.0, "mode": "ping"},
            "reconnect": {"backoff_min": 0.1, "backoff_max": 10.0, "max_reconnects": null}}],
        "elapsed": 1.01, "stopped_early": false,
        "connections": {"target": 2, "peak_open": 2, "open_at_end": 2, "opened": 2, "failed": 0,
            "reconnects": 0, "gave_up": 0},
        "messages": {"sent": 2, "received": 2, "echoed": 2, "replayed": 0, "missing": 0,
            "duplicated": 0, "reordered": 0, "corrupted": 0, "dropped": 0, "unsent": 0,
            "lost_in_flight": 0, "unconfirmed": 0, "unconfirmed_bytes": 0,
            "server_replayed": 0, "unstored": 0, "server_cut": 0, "others": 0},
        "heartbeats": {"sent": 0, "answered": 0, "timeouts": 0},
        "latency": {"echo": latency, "heartbeat": latency, "connect": latency,
            "reconnect": latency},
        "errors": {"refused": 3}, "close_codes": {"1011": 4},
        "rss": [{"label": "wsbeat soak", "pid": 1234, "peak_bytes": 16646144,
            "peak_from": "VmHWM", "samples": [{"t": 0.0, "value": 15167488}]}],
        "thresholds": [{"name": "max-loss", "limit": 0.0, "value": 0.0, "ok": true}]
    });
    assert_eq!(check_soak_report(&report), Ok(()));
    let broken = [
        ("/format", json!("wsbeat-soak-report/2")),
        ("/runs", json!(2)),
        ("/config/0/mode", json!("flood")),
        ("/config/0/heartbeat/mode", json!(1)),
        ("/connections/peak_open", json!(-1.5)),
        ("/messages/unsent", json!(null)),
        ("/latency/reconnect/p99", json!("fast")),
        ("/errors/refused", json!("3")),
        ("/rss/0/samples/0/value", json!(1.5)),
        ("/thresholds/0/ok", json!("yes")),
    ];
    for (at, value) in broken {
        let mut r = report.clone();
        *r.pointer_mut(at).unwrap() = value;
        assert!(
            check_soak_report(&r).is_err(),
            "accepted {at} = {}",
            r.pointer(at).unwrap()
        );
    }
    for at in ["/messages", "/latency/echo", "/close_codes", "/rss"] {
        let mut r = report.clone();
        let (parent, key) = at.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut r
        } else {
            r.pointer_mut(parent).unwrap()
        };
        parent.as_object_mut().unwrap().remove(key);
        assert!(
            check_soak_report(&r).is_err(),
            "accepted a report without {at}"
        );
    }
    let mut r = report.clone();
    r["errors"]["no_such_kind"] = json!(1);
    assert!(check_soak_report(&r).is_err(), "an unknown error kind");
}
