//! `--send` templates: `{seq}` and `{NAME}` for a value captured by an earlier expect.
//!
//! Only those names are placeholders, so JSON such as `{"op":"auth"}` needs no escaping; a
//! literal `{seq}` or `{NAME}` is written `{{seq}}` / `{{NAME}}`. Parsed once at lowering, so
//! a connection only looks up capture slots by index.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Seq,
    /// A capture slot (see `Captures`).
    Capture(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// `slot` names the captures defined so far (earlier steps), returning their slot.
    pub fn parse(text: &str, slot: impl Fn(&str) -> Option<usize>) -> Template {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let after = &rest[open..];
            let (name, escaped) = placeholder(after);
            match name.and_then(|n| {
                let p = if n == "seq" {
                    Some(Piece::Seq)
                } else {
                    slot(n).map(Piece::Capture)
                };
                p.map(|p| (n, p))
            }) {
                Some((n, _)) if escaped => {
                    let _ = write!(lit, "{{{n}}}");
                    rest = &after[n.len() + 4..];
                }
                Some((n, p)) => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(p);
                    rest = &after[n.len() + 2..];
                }
                None => {
                    lit.push('{');
                    rest = &after[1..];
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Template { pieces }
    }

    pub fn render(&self, seq: u64, captures: &[Option<String>]) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Seq => {
                    let _ = write!(out, "{seq}");
                }
                Piece::Capture(i) => {
                    out.push_str(captures.get(*i).and_then(|c| c.as_deref()).unwrap_or(""))
                }
            }
        }
        out
    }

    /// True when nothing is substituted.
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }
}

/// `{NAME}`s in `text` that are neither `{seq}` nor a capture known so far: likely typos,
/// which would go out as they are.
pub fn unknown_names(text: &str, slot: impl Fn(&str) -> Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('{') {
        if i > 0 && text.as_bytes()[i - 1] == b'{' {
            continue;
        }
        if let (Some(name), false) = placeholder(&text[i..])
            && name != "seq"
            && slot(name).is_none()
        {
            out.push(name.to_string());
        }
    }
    out
}

/// At a `{`: `{NAME}` → (NAME, false), `{{NAME}}` → (NAME, true), else None.
fn placeholder(s: &str) -> (Option<&str>, bool) {
    let (inner, escaped) = match s.strip_prefix("{{") {
        Some(r) => (r, true),
        None => (&s[1..], false),
    };
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..end];
    let close = if escaped { "}}" } else { "}" };
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return (None, false);
    }
    if inner[end..].starts_with(close) {
        (Some(name), escaped)
    } else {
        (None, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: &str) -> Option<usize> {
        (n == "token").then_some(0)
    }

    #[test]
    fn substitutes_seq_and_captures_and_leaves_json_alone() {
        let t = Template::parse(r#"{"op":"sub","token":"{token}","n":{seq}}"#, slots);
        assert_eq!(
            t.render(7, &[Some("abc".into())]),
            r#"{"op":"sub","token":"abc","n":7}"#
        );
        let t = Template::parse(r#"{"a":{"b":1}} {other} {}"#, slots);
        assert!(t.is_literal());
        assert_eq!(t.render(1, &[]), r#"{"a":{"b":1}} {other} {}"#);
    }

    #[test]
    fn names_that_are_no_placeholder_are_found() {
        assert_eq!(
            unknown_names(r#"{"t":"{tokn}","u":"{token}","s":{seq}} {{x}}"#, slots),
            ["tokn"]
        );
    }

    #[test]
    fn doubled_braces_keep_a_placeholder_literal() {
        let t = Template::parse("{{seq}} {{token}} {{x}} {seq}", slots);
        assert_eq!(t.render(3, &[None]), "{seq} {token} {{x}} 3");
    }
}
