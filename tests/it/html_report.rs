//! The HTML reports (`soak --report`, `ping --report`) as a person sees them: rendered by
//! headless Chromium, checked in its DOM for the charts, axes, verdict and the run's own
//! numbers; never fetching anything (no address in the file, a strict CSP, and Chromium's net
//! log shows no request from the page). `WSBEAT_UPDATE_SCREENSHOT=1` also writes the screenshot the README shows
//! (`docs/soak-report.png`).

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BROWSER_WAIT: Duration = Duration::from_secs(60);

/// A short echo soak with a report; the JSON report too, to compare numbers with.
fn soak_with_report(dir: &Path, name: &str, connections: &str) -> (String, Value) {
    let html = dir.join(format!("{name}.html"));
    let json = dir.join(format!("{name}.json"));
    let o = run(wsbeat()
        .args([
            "soak",
            "-c",
            connections,
            "-d",
            "3s",
            "--message-rate",
            "20",
            "--no-live",
        ])
        .args(["--max-p99", "5s", "--report"])
        .arg(&html)
        .arg("--json")
        .arg(&json));
    assert_exit(&o, 0);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (std::fs::read_to_string(&html).unwrap(), v)
}

/// Headless Chromium on `page` with a fresh profile and no way out to the network.
fn chromium(page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(format!("file://{}", page.display()));
    let mut p = Proc::spawn_tree("chromium", &mut cmd);
    let status = p.finish(BROWSER_WAIT);
    assert!(status.success(), "chromium failed: {}", p.dump());
    (
        String::from_utf8_lossy(&p.out.bytes()).into_owned(),
        p.dump(),
    )
}

/// What `page` itself asked the network for while Chromium loaded it, from Chromium's net
/// log. The browser's own traffic (updates, accounts) has no origin as initiator; a page's
/// requests have the page's.
fn page_requests(page: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("netlog.json");
    chromium(
        page,
        &[&format!("--log-net-log={}", log.display()), "--dump-dom"],
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).expect("the net log is JSON");
    let start_job = v["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        // The job's end has no parameters; its start has the URL and who asked.
        .filter(|e| e["type"] == start_job && e["params"]["url"].is_string())
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .map(|e| format!("{} (from {})", e["params"]["url"], e["params"]["initiator"]))
        .collect()
}

#[test]
fn the_net_log_sees_a_page_that_fetches() {
    if !require_peer("chromium") {
        return;
    }
    // The control for `page_requests`: a page with a link out, and no CSP to stop it.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("fetches.html");
    let port = free_port();
    std::fs::write(
        &page,
        format!("<!DOCTYPE html><img src=\"http://127.0.0.1:{port}/probe.png\">"),
    )
    .unwrap();
    let seen = page_requests(&page);
    assert!(
        seen.iter().any(|r| r.contains("/probe.png")),
        "the net log missed the page's own request: {seen:?}"
    );
}

/// No `src`/`href` to anywhere: an address would be a fetch when the page opens.
fn assert_self_contained(html: &str) {
    let re =
        regex::Regex::new(r#"(?i)\b(src|href|xlink:href)\s*=\s*["']?\s*(https?:|//)"#).unwrap();
    assert!(re.find(html).is_none(), "a link out: {:?}", re.find(html));
    assert!(
        !html.contains("@import") && !html.contains("url("),
        "CSS that fetches"
    );
    assert!(
        html.contains(r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">"#),
        "no strict CSP"
    );
    assert!(!html.contains("<script"), "no script in the report");
}

#[test]
fn soak_report_renders_in_chromium_with_the_runs_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = soak_with_report(dir.path(), "soak", "4");
    assert_self_contained(&html);
    let kib = html.len() / 1024;
    assert!(kib < 1024, "a 3 s report of {kib} KiB");
    if !require_peer("chromium") {
        return;
    }
    let page = dir.path().join("soak.html");
    let asked = page_requests(&page);
    assert!(asked.is_empty(), "the report fetched {asked:?}");
    let (dom, log) = chromium(&page, &["--dump-dom"]);
    let echoed = json["messages"]["echoed"].as_u64().unwrap();
    assert!(echoed > 0, "{json}");
    for want in [
        "PASSED: every threshold held".to_string(),
        "ok max-loss: 0 &lt;= 0".to_string(),
        "ok max-p99:".to_string(),
        format!("{echoed} echoed"),
        format!("Echo latency by percentile ({echoed} round trips)"),
        "Connections open".into(),
        "Messages per second".into(),
        "Latency (log scale)".into(),
        "Errors by kind".into(),
        "Resident memory".into(),
        "time since start".into(),
        "round trip".into(),
        "99.9%".into(),
    ] {
        assert!(
            dom.contains(&want),
            "{want:?} not in the rendered page\n{log}"
        );
    }
    assert_eq!(
        dom.matches("<svg").count(),
        6,
        "five charts over time and the spectrum"
    );
    // The time axis reaches the end of the run (3 s and the drain).
    assert!(
        dom.contains("3.0 s"),
        "the time axis does not reach the end of the run"
    );

    let png = dir.path().join("soak.png");
    chromium(
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1100,2500",
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000,
        "{}",
        bytes.len()
    );
    if std::env::var_os("WSBEAT_UPDATE_SCREENSHOT").is_some() {
        screenshot_for_the_readme(dir.path());
    }
}

/// The README's picture: a run worth looking at, with reconnects (the server drops every
/// connection after 40 messages), errors and two processes' memory.
fn screenshot_for_the_readme(dir: &Path) {
    let (server, url) = echo_server(&["--drop-after", "40"]);
    let page = dir.join("readme.html");
    let o = run_timeout(
        wsbeat()
            .args([
                "soak",
                &url,
                "-c",
                "50",
                "-d",
                "25s",
                "--message-rate",
                "5",
                "--no-live",
            ])
            .args([
                "--heartbeat",
                "1s",
                "--backoff",
                "200ms..2s",
                "--max-p99",
                "50ms",
                "--max-loss",
                "0",
            ])
            .arg("--watch-pid")
            .arg(server.pid().to_string())
            .arg("--report")
            .arg(&page),
        None,
        Duration::from_secs(90),
    );
    assert!(o.status.code().is_some(), "{}", describe(&o));
    let png = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/soak-report.png");
    chromium(
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1000,2330",
        ],
    );
}

#[test]
fn the_timelines_totals_are_the_reports_totals() {
    let dir = tempfile::tempdir().unwrap();
    let (_, r) = soak_with_report(dir.path(), "t", "3");
    let total = |key: &str| -> u64 {
        r["timeline"]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[key].as_u64().unwrap())
            .sum()
    };
    assert_eq!(total("sent"), r["messages"]["sent"].as_u64().unwrap());
    assert_eq!(
        total("received"),
        r["messages"]["received"].as_u64().unwrap()
    );
    assert_eq!(
        total("connects"),
        r["connections"]["opened"].as_u64().unwrap()
    );
    assert_eq!(
        total("failures"),
        r["connections"]["failed"].as_u64().unwrap()
    );
    assert_eq!(r["timeline"]["resolution"], 1);
    let points = r["timeline"]["points"].as_array().unwrap();
    let elapsed = r["elapsed"].as_f64().unwrap();
    assert_eq!(
        points.len(),
        elapsed.ceil() as usize,
        "a point a second, {elapsed} s"
    );
    // Sampled once a second; the last point may end before its sample.
    assert!(
        points[..points.len() - 1]
            .iter()
            .all(|p| p["rss"][0].as_u64().is_some_and(|b| b > 1 << 20)),
        "{points:?}"
    );
}

#[test]
fn a_merged_report_and_its_timeline_are_the_sum_of_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (_, a) = soak_with_report(dir.path(), "a", "4");
    let (_, b) = soak_with_report(dir.path(), "b", "2");
    let (html, json) = (dir.path().join("m.html"), dir.path().join("m.json"));
    let o = run(wsbeat()
        .args(["soak", "--merge"])
        .arg(dir.path().join("a.json"))
        .arg(dir.path().join("b.json"))
        .arg("--report")
        .arg(&html)
        .arg("--json")
        .arg(&json));
    assert_exit(&o, 0);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let total = |r: &Value, key: &str| -> u64 {
        r["timeline"]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[key].as_u64().unwrap())
            .sum()
    };
    for key in ["sent", "received", "connects"] {
        assert_eq!(total(&m, key), total(&a, key) + total(&b, key), "{key}");
    }
    assert_eq!(total(&m, "sent"), m["messages"]["sent"].as_u64().unwrap());
    assert_eq!(total(&m, "connects"), 6);
    assert_eq!(m["timeline"]["processes"].as_array().unwrap().len(), 2);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_self_contained(&page);
    assert!(
        page.contains("wsbeat soak: 2 runs merged"),
        "no merged header"
    );
    assert!(page.contains("Run 2"), "each run's configuration");
}

#[test]
fn an_unwritable_report_path_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(wsbeat()
        .args(["soak", "-d", "30s", "--no-live", "--report"])
        .arg(dir.path().join("missing/r.html")));
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "cannot write --report ", &o);
}

/// `wsbeat echo-server` with `args` on an ephemeral port, and its URL.
fn echo_server(args: &[&str]) -> (Proc, String) {
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", "127.0.0.1:0", "--json"])
        .args(args);
    let proc = Proc::spawn("echo-server", &mut cmd);
    let first = proc
        .out
        .wait(OBS_TIMEOUT, |_| true)
        .unwrap_or_else(|| panic!("echo-server did not start\n{}", proc.dump()));
    let v: Value = serde_json::from_str(&first).unwrap();
    let url = v["url"].as_str().unwrap().to_string();
    (proc, url)
}

#[test]
fn ping_report_marks_lost_probes_and_names_the_broken_threshold() {
    let (_server, url) = echo_server(&["--drop-every", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("ping.html");
    let o = run(wsbeat()
        .args(["ping", &url, "-c", "6", "-i", "50ms", "-W", "300ms", "-q"])
        .args(["--text", "p{seq}", "--max-loss", "10%", "--report"])
        .arg(&page));
    assert_exit(&o, 1);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    for want in [
        "FAILED: a threshold broke",
        "BROKEN --max-loss 10%",
        "6 sent, 4 received",
        "2 lost probe(s) marked",
        "Round trip (log scale)",
        "Round trip by percentile (4 replies)",
    ] {
        assert!(html.contains(want), "{want:?} not in the page");
    }
    if !require_peer("chromium") {
        return;
    }
    let asked = page_requests(&page);
    assert!(asked.is_empty(), "the report fetched {asked:?}");
    let (dom, log) = chromium(&page, &["--dump-dom"]);
    assert_eq!(dom.matches("<svg").count(), 2, "{log}");
    for want in ["lost probe", "time since start", "percentile", "FAILED"] {
        assert!(
            dom.contains(want),
            "{want:?} not in the rendered page\n{log}"
        );
    }
}

#[test]
fn ping_report_of_an_unreachable_server_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("ping.html");
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(wsbeat()
        .args(["ping", &url, "-c", "1", "--report"])
        .arg(&page));
    assert_exit(&o, 3);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert!(
        html.contains("FAILED: the connection could not be opened") && html.contains("refused"),
        "{html}"
    );
}

#[test]
fn merging_an_old_report_drops_the_timeline_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut a) = soak_with_report(dir.path(), "a", "2");
    let b = dir.path().join("a.json");
    let old = dir.path().join("old.json");
    a.as_object_mut().unwrap().remove("timeline");
    std::fs::write(&old, a.to_string()).unwrap();
    let html = dir.path().join("m.html");
    let o = run(wsbeat()
        .args(["soak", "--merge"])
        .arg(&b)
        .arg(&old)
        .arg("--report")
        .arg(&html));
    assert_exit(&o, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("This report has no timeline"), "{page}");

    let mut bad: Value = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    bad["timeline"]["resolution"] = 3.into();
    let bad_file = dir.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let o = run(wsbeat().args(["soak", "--merge"]).arg(&b).arg(&bad_file));
    assert_exit(&o, 2);
    let err = stderr_of(&o);
    assert!(
        err.contains("bad.json is not a valid soak report: its timeline's resolution 3"),
        "{err}"
    );
}
