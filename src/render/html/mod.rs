//! Self-contained HTML reports (`soak --report`, `ping --report`): one file that opens with no
//! network at all. Styles are inline, there is no script and no font, charts are inline SVG
//! (`chart`), and a Content-Security-Policy forbids the page to load anything else.

pub mod chart;
pub mod ping;
pub mod soak;

use crate::stats::verdict::Verdict;
use std::fmt::Write;

/// Nothing may be fetched: inline styles, and images only as `data:` URLs.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;color:#111;background:#fff;margin:0 auto;padding:1.2em 2em;max-width:1000px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.3em 0}td,th{padding:.15em .9em .15em 0;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th{font-weight:600;border-bottom:1px solid #bbb}
.verdict{padding:.6em 1em;border:3px solid;margin:1em 0;font-weight:600}
.verdict.pass{border-color:#009E73;background:#e6f5f0}.verdict.fail{border-color:#D55E00;background:#fbebe0}
.verdict ul{margin:.3em 0 0;padding-left:1.3em;font-weight:400}
.ok{color:#00694d}.broken{color:#a34400;font-weight:600}
.note{color:#555;font-size:.92em}.run{margin:.2em 0}
svg.chart{display:block;max-width:100%;height:auto;margin:.4em 0;break-inside:avoid}
code{font-size:.95em}
@media print{body{padding:0;max-width:none;font-size:12px}.verdict{break-inside:avoid}h2{break-after:avoid}}
";

/// Text for HTML: markup escaped, and terminal controls and bidi overrides from peer or
/// file text shown (as `error::escape_controls` shows them), never obeyed.
pub fn escape(s: &str) -> String {
    let s = crate::error::escape_controls(s, true);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// A two-column table of names and values (already escaped HTML).
pub fn pairs(rows: &[(&str, String)]) -> String {
    let mut o = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(
            o,
            "<tr><th scope=\"row\">{}</th><td>{v}</td></tr>",
            escape(k)
        );
    }
    o.push_str("</table>");
    o
}

/// The banner for soak's thresholds: each with its value and limit.
pub fn verdict_banner(verdicts: &[Verdict], line: impl Fn(&Verdict) -> String) -> String {
    let items: Vec<(bool, String)> = verdicts.iter().map(|v| (v.ok, line(v))).collect();
    let pass = verdicts.iter().all(|v| v.ok);
    let headline = match (verdicts.is_empty(), pass) {
        (true, _) => "No thresholds were checked",
        (false, true) => "PASSED: every threshold held",
        (false, false) => "FAILED: a threshold broke",
    };
    banner(pass, headline, &items)
}

/// Passed or failed in one line, then each check, marked ok or BROKEN.
pub fn banner(pass: bool, headline: &str, items: &[(bool, String)]) -> String {
    let mut o = format!(
        "<div class=\"verdict {}\" id=\"verdict\">{}",
        if pass { "pass" } else { "fail" },
        escape(headline)
    );
    if !items.is_empty() {
        o.push_str("<ul>");
        for (ok, text) in items {
            let _ = write!(
                o,
                "<li class=\"{}\">{} {}</li>",
                if *ok { "ok" } else { "broken" },
                if *ok { "ok" } else { "BROKEN" },
                escape(text)
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</div>");
    o
}

/// Writes `html` to `path`; the one line a failure gets.
pub fn write(path: &std::path::Path, html: &str) -> Result<(), String> {
    std::fs::write(path, html).map_err(|e| format!("cannot write --report {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert!(!escape("a\u{1b}[31m").contains('\u{1b}'));
    }

    #[test]
    fn the_page_forbids_every_fetch() {
        let p = page("t", "<p>x</p>");
        assert!(p.contains(&format!("content=\"{CSP}\"")));
        assert!(!p.contains("http://") && !p.contains("https://"));
    }
}
