//! What an expect step matches: a regular expression (named groups capture), or a JSON
//! expression.
//!
//! The JSON syntax is RFC 6901 JSON Pointer, evaluated by `serde_json::Value::pointer`, with
//! one operator after it. A pointer is the one well-known JSON path syntax with a spec and an
//! implementation we already link; a jq subset (`jaq-core`) would add a language, a parser
//! and build time for what these checks need: "this field is (or equals) that".
//!
//! ```text
//! /type               the field exists
//! /type=welcome       the field is the JSON string "welcome"
//! /data/0/id==42      the field equals this JSON value (42, "x", true, null, {...})
//! /token=>token       the field exists; its value is captured as {token}
//! ```
//! The pointer ends at the first `=`; keys containing `=` cannot be addressed.

use regex::Regex;
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Matcher {
    /// The regex and, per named group, its capture slot.
    Regex(Regex, Vec<(String, usize)>),
    Json {
        pointer: String,
        test: JsonTest,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonTest {
    Exists,
    Equals(Value),
    Capture(usize),
}

/// A JSON expression before slots are assigned: `capture` names the slot it wants.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonExpr {
    pub pointer: String,
    pub equals: Option<Value>,
    pub capture: Option<String>,
}

/// Parse `--expect-json`; the error is the tail of a usage line.
pub fn parse_json_expr(expr: &str) -> Result<JsonExpr, String> {
    let (pointer, op) = match expr.find('=') {
        Some(i) => (&expr[..i], Some(&expr[i + 1..])),
        None => (expr, None),
    };
    let pointer = pointer.trim();
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err(
            "a JSON pointer starts with '/' (RFC 6901), e.g. '/type=welcome' or '/data/0/id==42'"
                .into(),
        );
    }
    let mut chars = pointer.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("'~' in a JSON pointer must be '~0' (for ~) or '~1' (for /)".into());
        }
    }
    let mut out = JsonExpr {
        pointer: pointer.to_string(),
        equals: None,
        capture: None,
    };
    match op {
        None => {}
        Some(rest) if rest.starts_with('=') => {
            let json = rest[1..].trim();
            out.equals = Some(serde_json::from_str(json).map_err(|e| {
                format!("after '==' comes a JSON value (42, \"text\", true, null): {e}")
            })?);
        }
        Some(rest) if rest.starts_with('>') => {
            let name = rest[1..].trim();
            if name.is_empty()
                || name == "seq"
                || name.starts_with(|c: char| c.is_ascii_digit())
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(format!(
                    "'=>{name}' needs a capture name of letters, digits and '_' (not 'seq')"
                ));
            }
            out.capture = Some(name.to_string());
        }
        Some(rest) => out.equals = Some(Value::String(rest.to_string())),
    }
    Ok(out)
}

impl Matcher {
    /// Whether `text` matches; on a match, captured values go into their slots.
    pub fn test(&self, text: &str, captures: &mut [Option<String>]) -> bool {
        match self {
            Matcher::Regex(re, names) => {
                let Some(caps) = re.captures(text) else {
                    return false;
                };
                for (name, slot) in names {
                    if let (Some(m), Some(c)) = (caps.name(name), captures.get_mut(*slot)) {
                        *c = Some(m.as_str().to_string());
                    }
                }
                true
            }
            Matcher::Json { pointer, test } => {
                let Ok(v) = serde_json::from_str::<Value>(text) else {
                    return false;
                };
                let Some(found) = v.pointer(pointer) else {
                    return false;
                };
                match test {
                    JsonTest::Exists => true,
                    JsonTest::Equals(want) => found == want,
                    JsonTest::Capture(slot) => {
                        if let Some(c) = captures.get_mut(*slot) {
                            *c = Some(match found {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            });
                        }
                        true
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_four_forms() {
        let e = parse_json_expr("/type").unwrap();
        assert_eq!((e.equals, e.capture), (None, None));
        let e = parse_json_expr("/type=welcome").unwrap();
        assert_eq!(e.equals, Some(json!("welcome")));
        let e = parse_json_expr("/data/0/id==42").unwrap();
        assert_eq!(
            (e.pointer.as_str(), e.equals),
            ("/data/0/id", Some(json!(42)))
        );
        let e = parse_json_expr("/token=>token").unwrap();
        assert_eq!(e.capture.as_deref(), Some("token"));
    }

    #[test]
    fn rejects_bad_expressions() {
        assert!(
            parse_json_expr(".type == \"x\"")
                .unwrap_err()
                .contains("starts with '/'")
        );
        assert!(
            parse_json_expr("/a==welcome")
                .unwrap_err()
                .contains("JSON value")
        );
        assert!(parse_json_expr("/a~2").is_err());
        assert!(parse_json_expr("/a=>").is_err());
        assert!(parse_json_expr("/a=>seq").is_err());
    }

    #[test]
    fn matches_and_captures() {
        let m = Matcher::Json {
            pointer: "/data/0/id".into(),
            test: JsonTest::Equals(json!(42)),
        };
        let mut caps = vec![None];
        assert!(m.test(r#"{"data":[{"id":42}]}"#, &mut caps));
        assert!(!m.test(r#"{"data":[{"id":"42"}]}"#, &mut caps));
        assert!(!m.test("not json", &mut caps));
        let m = Matcher::Json {
            pointer: "/token".into(),
            test: JsonTest::Capture(0),
        };
        assert!(m.test(r#"{"token":"t-1"}"#, &mut caps));
        assert_eq!(caps[0].as_deref(), Some("t-1"));
        let re = Regex::new(r"id=(?P<id>\d+)").unwrap();
        let m = Matcher::Regex(re, vec![("id".into(), 0)]);
        assert!(m.test("id=9", &mut caps));
        assert_eq!(caps[0].as_deref(), Some("9"));
    }
}
