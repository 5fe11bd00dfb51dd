//! The `--json` output of `wsbeat connect`, checked against the documented schema.

use std::process::Output;

use serde_json::Value;

use super::process::{describe, stdout_of};

/// Parses NDJSON stdout; panics on a line that is not a JSON object or that
/// fails [`check_event`].
#[track_caller]
pub fn parse_ndjson(o: &Output) -> Vec<Value> {
    let text = stdout_of(o);
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "stdout line {} is not JSON ({e}): {line:?}\n{}",
                i + 1,
                describe(o)
            )
        });
        if let Err(why) = check_event(&v) {
            panic!(
                "stdout line {} violates the schema: {why}\n{line}\n{}",
                i + 1,
                describe(o)
            );
        }
        events.push(v);
    }
    events
}

/// Events of one `type`.
pub fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

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
}

fn json_is(v: Option<&Value>, j: J) -> bool {
    let Some(v) = v else { return false };
    match j {
        J::Str => v.is_string(),
        J::Int => v.is_i64() || v.is_u64(),
        J::Num => v.is_number(),
        J::Bool => v.is_boolean(),
        J::Obj => v.is_object(),
        J::StrArr => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        J::StrOrNull => v.is_null() || v.is_string(),
        J::IntOrNull => v.is_null() || v.is_i64() || v.is_u64(),
        J::NumOrNull => v.is_null() || v.is_number(),
    }
}

fn need(v: &Value, fields: &[(&str, J)]) -> Result<(), String> {
    for (name, j) in fields {
        let got = v.get(*name);
        if !json_is(got, *j) {
            return Err(format!(
                "field {name:?} should be {} but is {}",
                match j {
                    J::Str => "a string",
                    J::Int => "an integer",
                    J::Num => "a number",
                    J::Bool => "a bool",
                    J::Obj => "an object",
                    J::StrArr => "an array of strings",
                    J::StrOrNull => "a string or null",
                    J::IntOrNull => "an integer or null",
                    J::NumOrNull => "a number or null",
                },
                got.map_or("missing".to_string(), |g| g.to_string())
            ));
        }
    }
    Ok(())
}

fn one_of(v: &Value, field: &str, allowed: &[&str]) -> Result<(), String> {
    match v[field].as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(format!(
            "field {field:?} should be one of {allowed:?}, got {}",
            v[field]
        )),
    }
}

/// Checks one `--json` event against the documented schema. Unknown types only
/// need `type` and `ts`.
pub fn check_event(v: &Value) -> Result<(), String> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    need(v, &[("type", J::Str), ("ts", J::Num)])?;
    if v["ts"].as_f64().unwrap() < 0.0 {
        return Err("ts is negative".into());
    }
    let payload = |v: &Value| -> Result<(), String> {
        need(v, &[("kind", J::Str), ("len", J::Int)])?;
        one_of(v, "kind", &["text", "binary"])?;
        if v["kind"] == "text" {
            need(v, &[("text", J::Str)])
        } else {
            need(v, &[("base64", J::Str)])
        }
    };
    match v["type"].as_str().unwrap() {
        "opened" => {
            need(
                v,
                &[
                    ("url", J::Str),
                    ("status", J::Int),
                    ("headers", J::Obj),
                    ("subprotocol", J::StrOrNull),
                    ("extensions", J::StrArr),
                    ("timings", J::Obj),
                ],
            )?;
            if v["status"] != 101 {
                return Err(format!("opened.status should be 101, got {}", v["status"]));
            }
            need(
                &v["timings"],
                &[
                    ("dns", J::Num),
                    ("tcp", J::Num),
                    ("tls", J::NumOrNull),
                    ("upgrade", J::Num),
                    ("total", J::Num),
                ],
            )
            .map_err(|e| format!("timings: {e}"))?;
            if v["url"].as_str().unwrap().starts_with("ws://") && !v["timings"]["tls"].is_null() {
                return Err("timings.tls should be null for ws://".into());
            }
            Ok(())
        }
        "sent" => {
            payload(v)?;
            need(v, &[("fragments", J::Int)])?;
            if v["fragments"].as_u64().unwrap_or(0) < 1 {
                return Err("sent.fragments should be >= 1".into());
            }
            Ok(())
        }
        "received" => payload(v),
        "ping" => {
            need(
                v,
                &[
                    ("direction", J::Str),
                    ("len", J::Int),
                    ("seq", J::IntOrNull),
                ],
            )?;
            one_of(v, "direction", &["out", "in"])
        }
        "pong" => {
            need(
                v,
                &[
                    ("direction", J::Str),
                    ("len", J::Int),
                    ("seq", J::IntOrNull),
                    ("rtt", J::NumOrNull),
                ],
            )?;
            one_of(v, "direction", &["out", "in"])
        }
        "expect" => need(
            v,
            &[("index", J::Int), ("pattern", J::Str), ("matched", J::Str)],
        ),
        "closed" => {
            need(
                v,
                &[
                    ("code", J::Int),
                    ("name", J::Str),
                    ("reason", J::Str),
                    ("wasClean", J::Bool),
                    ("initiator", J::Str),
                    ("code_valid", J::Bool),
                ],
            )?;
            one_of(v, "initiator", &["client", "server", "none"])
        }
        "error" => need(v, &[("kind", J::Str), ("message", J::Str)]),
        _ => Ok(()),
    }
}
