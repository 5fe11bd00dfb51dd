//! `soak --coordinator`: several soak processes as one run over a real Redis (the test's own,
//! on a free loopback port, no persistence). Workers bind to 127.0.0.2-4 (`--source-addrs`)
//! and soak `wsbeat echo-server` instances; every process is bounded by `finish(timeout)`.

use crate::common::api::SerialHistogram;
use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Long enough for a busy 2-core CI machine to open 21,000 connections in a debug build.
const EXIT: Duration = Duration::from_secs(60);

fn echo_server(max_connections: u32) -> (Proc, String) {
    let port = free_port();
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--max-connections", &max_connections.to_string()]);
    let server = Proc::spawn("echo-server", &mut cmd);
    poll_until(WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .unwrap_or_else(|| panic!("echo-server never listened\n{}", server.dump()));
    (server, format!("ws://127.0.0.1:{port}/"))
}

const WAIT: Duration = Duration::from_secs(20);

/// A worker process: `args` after `soak URL`.
fn worker(name: &str, url: &str, args: &[&str]) -> Proc {
    let mut cmd = wsbeat();
    cmd.args(["soak", url, "--no-live"]).args(args);
    Proc::spawn(name, &mut cmd)
}

fn lead(args: &[&str]) -> Proc {
    let mut cmd = wsbeat();
    cmd.args(["soak", "--lead", "--no-live"]).args(args);
    Proc::spawn("lead", &mut cmd)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p:?}: {e}")))
        .unwrap()
}

fn code(s: std::process::ExitStatus) -> i32 {
    s.code().unwrap_or(-1)
}

/// Every counter of the merged report is the sum of the workers' own reports, and each
/// latency's percentiles are those of the workers' histograms merged.
fn assert_merge_is_the_sum(merged: &Value, workers: &[Value]) {
    for section in [
        "connections",
        "messages",
        "bytes",
        "heartbeats",
        "errors",
        "close_codes",
    ] {
        let Some(fields) = merged[section].as_object() else {
            panic!("no {section} in {merged}");
        };
        let mut keys: Vec<&String> = fields.keys().collect();
        for w in workers {
            keys.extend(w[section].as_object().unwrap().keys());
        }
        for k in keys {
            let sum: u64 = workers
                .iter()
                .map(|w| w[section][k].as_u64().unwrap_or(0))
                .sum();
            assert_eq!(
                merged[section][k].as_u64().unwrap_or(0),
                sum,
                "{section}.{k}: merged vs the workers' sum"
            );
        }
    }
    // The timeline too: every count over the merged one is the workers' over theirs.
    let over = |r: &Value, k: &str| -> u64 {
        r["timeline"]["points"]
            .as_array()
            .unwrap_or_else(|| panic!("no timeline in {}", r["config"]))
            .iter()
            .map(|p| p[k].as_u64().unwrap())
            .sum()
    };
    for k in ["connects", "sent", "received", "sent_wire", "received_wire"] {
        let sum: u64 = workers.iter().map(|w| over(w, k)).sum();
        assert_eq!(
            over(merged, k),
            sum,
            "timeline {k}: merged vs the workers' sum"
        );
    }
    for lat in ["echo", "connect", "heartbeat", "reconnect"] {
        let mut h = SerialHistogram::new();
        for w in workers {
            h.merge(
                &SerialHistogram::from_base64(w["latency"][lat]["histogram"].as_str().unwrap())
                    .unwrap(),
            );
        }
        let m = &merged["latency"][lat];
        assert_eq!(
            m["count"].as_u64().unwrap(),
            h.count(),
            "latency.{lat}.count"
        );
        for (field, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
            assert_eq!(
                m[field].as_f64(),
                h.percentile(q).map(|d| d.as_secs_f64()),
                "latency.{lat}.{field} equals the merged histograms'"
            );
        }
    }
}

#[test]
fn three_workers_hold_21000_connections_as_one_run_and_the_merge_is_the_sum() {
    if !require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let coordinator = format!("{}/big", redis.url());
    // A server per worker (7,000 connections each, far from 20,000 descriptors): three
    // processes accept and answer handshakes side by side, which the ramp-up needs in a debug
    // build on two busy cores.
    let (mut a, url_a) = echo_server(8_000);
    let (mut b, url_b) = echo_server(8_000);
    let (mut c, url_c) = echo_server(8_000);
    let dir = tempfile::tempdir().unwrap();
    let json = |n: &str| dir.path().join(format!("{n}.json"));
    let common = |i: usize, src: &str, out: &PathBuf| -> Vec<String> {
        [
            "-c",
            "21000",
            "-d",
            "25s",
            "--message-rate",
            "0.05",
            "--heartbeat",
            "0",
            "--coordinator",
            &coordinator,
            "--workers",
            "3",
            "--worker-index",
            &i.to_string(),
            "--source-addrs",
            src,
            "--json",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut lead = lead(&[
        "--coordinator",
        &coordinator,
        "--workers",
        "3",
        "--json",
        json("run").to_str().unwrap(),
        "--min-connections",
        "21000",
    ]);
    let mut workers: Vec<Proc> = [
        (&url_a, "127.0.0.2"),
        (&url_b, "127.0.0.3"),
        (&url_c, "127.0.0.4"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (url, src))| {
        let args = common(i, src, &json(&format!("w{i}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        worker(&format!("worker {i}"), url, &args)
    })
    .collect();
    for (i, w) in workers.iter_mut().enumerate() {
        assert_eq!(code(w.finish(EXIT)), 0, "worker {i}\n{}", w.dump());
    }
    let status = lead.finish(EXIT);
    assert_eq!(code(status), 0, "{}", lead.dump());
    for s in [&mut a, &mut b, &mut c] {
        s.signal(libc::SIGTERM);
        let _ = s.finish(WAIT);
    }

    let run = read_json(&json("run"));
    let ws: Vec<Value> = (0..3).map(|i| read_json(&json(&format!("w{i}")))).collect();
    assert_eq!(run["connections"]["peak_open"], 21_000, "{}", lead.dump());
    assert_eq!(run["connections"]["target"], 21_000);
    assert_eq!(run["runs"], 3);
    for (i, w) in ws.iter().enumerate() {
        assert_eq!(
            w["connections"]["peak_open"], 7_000,
            "worker {i} held its share"
        );
        assert_eq!(run["workers"][i]["status"], "finished");
        assert_eq!(run["config"][i]["worker"]["slot"], i);
        assert_eq!(run["config"][i]["worker"]["first_connection"], 7_000 * i);
    }
    assert!(run["messages"]["echoed"].as_u64().unwrap() > 0);
    assert_merge_is_the_sum(&run, &ws);
    // The lead's live view named the whole run and each worker.
    let err = lead.err.snapshot().join("\n");
    assert!(err.contains("3/3 workers live"), "{err}");
    assert!(err.contains("  w2 "), "{err}");
}

#[test]
fn a_worker_killed_mid_run_is_named_by_the_lead_with_its_last_figures() {
    if !require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let coordinator = format!("{}/kill", redis.url());
    let (mut server, url) = echo_server(1000);
    let dir = tempfile::tempdir().unwrap();
    let run_json = dir.path().join("run.json");
    let mut lead = lead(&[
        "--coordinator",
        &coordinator,
        "--workers",
        "3",
        "--json",
        run_json.to_str().unwrap(),
    ]);
    let json = |i: usize| dir.path().join(format!("w{i}.json"));
    let mut workers: Vec<Proc> = (0..3)
        .map(|i| {
            worker(
                &format!("worker {i}"),
                &url,
                &[
                    "-c",
                    "30",
                    "-d",
                    "8s",
                    "--message-rate",
                    "5",
                    "--coordinator",
                    &coordinator,
                    "--workers",
                    "3",
                    "--worker-index",
                    &i.to_string(),
                    "--json",
                    json(i).to_str().unwrap(),
                ],
            )
        })
        .collect();
    // Killed once its figures show its 10 connections open.
    lead.wait_err("with all three workers live and open", WAIT, |l| {
        l.contains("3/3 workers live, open 30/30")
    });
    let victim = workers[1].pid();
    workers[1].signal(libc::SIGKILL);
    lead.wait_err("naming the killed worker", WAIT, |l| {
        l.contains("worker w1 ") && l.contains(&format!(":{victim} lost"))
    });
    for (i, w) in workers.iter_mut().enumerate() {
        let c = code(w.finish(EXIT));
        if i != 1 {
            assert_eq!(c, 0, "worker {i}\n{}", w.dump());
        }
    }
    assert_eq!(
        code(lead.finish(EXIT)),
        1,
        "a lost worker fails the run\n{}",
        lead.dump()
    );
    assert!(
        lead.err
            .snapshot()
            .iter()
            .any(|l| l.contains("the run is incomplete") && l.contains(&victim.to_string()))
    );
    let run = read_json(&run_json);
    let w1 = &run["workers"][1];
    assert_eq!(w1["status"], "lost");
    assert!(
        w1["name"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{victim}")),
        "{w1}"
    );
    assert!(w1["last_seen"].as_f64().unwrap() > 0.0);
    assert_eq!(run["workers"][0]["status"], "finished");
    // Its last figures are kept: the run still counts its 10 connections at their peak.
    assert_eq!(run["connections"]["peak_open"], 30);
    // The finished workers' own reports plus the lost one's last figures make the run.
    let finished: Vec<Value> = [0, 2].iter().map(|&i| read_json(&json(i))).collect();
    let of_finished = |f: &dyn Fn(&Value) -> &Value| -> u64 {
        finished.iter().map(|w| f(w).as_u64().unwrap()).sum()
    };
    let lost_sent =
        run["messages"]["sent"].as_u64().unwrap() - of_finished(&|w| &w["messages"]["sent"]);
    assert!(lost_sent > 0, "the lost worker's messages are counted");
    // Its timeline is the workers' timelines, the lost one's up to its last figures: every
    // count over the timeline adds up to the report's.
    let timeline = &run["timeline"];
    let points = timeline["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no timeline in the report: {timeline}"));
    let sum = |k: &str| -> u64 { points.iter().map(|p| p[k].as_u64().unwrap()).sum() };
    assert_eq!(sum("sent"), run["messages"]["sent"].as_u64().unwrap());
    assert_eq!(
        sum("received"),
        run["messages"]["received"].as_u64().unwrap()
    );
    assert_eq!(
        sum("connects"),
        run["connections"]["opened"].as_u64().unwrap()
    );
    assert_eq!(
        sum("failures"),
        run["connections"]["failed"].as_u64().unwrap()
    );
    assert_eq!(
        sum("sent_wire"),
        run["bytes"]["sent_wire"].as_u64().unwrap()
    );
    // All three held their connections together; after the lost worker's last second, only
    // the two others' count.
    let open: Vec<u64> = points.iter().map(|p| p["open"].as_u64().unwrap()).collect();
    assert_eq!(open.iter().max(), Some(&30), "{open:?}");
    let silent_from = w1["last_seen"].as_f64().unwrap().floor() as usize + 1;
    assert!(
        open.len() > silent_from && open[silent_from..].iter().all(|&o| o <= 20),
        "the lost worker's part ends at second {silent_from}: {open:?}"
    );
    assert_eq!(timeline["processes"].as_array().unwrap().len(), 3);
    server.signal(libc::SIGTERM);
    let _ = server.finish(WAIT);
}

#[test]
fn the_barrier_times_out_naming_the_slot_that_never_came() {
    if !require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let coordinator = format!("{}/alone", redis.url());
    let t = Instant::now();
    let out = run_timeout(
        wsbeat().args([
            "soak",
            "ws://127.0.0.1:9/",
            "-c",
            "4",
            "--no-live",
            "--coordinator",
            &coordinator,
            "--workers",
            "2",
            "--worker-index",
            "0",
            "--barrier-timeout",
            "1s",
        ]),
        None,
        WAIT,
    );
    assert_exit(&out, 6);
    let err = stderr_of(&out);
    assert_contains(&err, "slot(s) 1 never came", &out);
    assert_contains(&err, "joined: w0 ", &out);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // The lead waits at the same barrier and names the same slot.
    let out = run_timeout(
        wsbeat().args([
            "soak",
            "--lead",
            "--no-live",
            "--coordinator",
            &coordinator,
            "--workers",
            "2",
            "--barrier-timeout",
            "1s",
        ]),
        None,
        WAIT,
    );
    assert_exit(&out, 6);
    assert_contains(&stderr_of(&out), "slot(s) 1 never came", &out);
}

#[test]
fn a_worker_that_cannot_reach_redis_exits_3_fast_without_the_password() {
    let port = free_port();
    let t = Instant::now();
    let out = run_timeout(
        wsbeat().args([
            "soak",
            "ws://127.0.0.1:9/",
            "-c",
            "2",
            "--no-live",
            "--coordinator",
            &format!("redis://:hunter2@127.0.0.1:{port}/r1"),
            "--workers",
            "2",
        ]),
        None,
        WAIT,
    );
    assert_exit(&out, 3);
    let err = stderr_of(&out);
    assert_contains(
        &err,
        &format!("cannot reach the coordinator redis://127.0.0.1:{port}/r1"),
        &out,
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
}

/// `deploy/workers.sh`, the command lines the README shows, run as they are.
#[test]
fn the_shell_loop_in_deploy_runs_one_coordinated_run() {
    if !require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let (mut server, url) = echo_server(1000);
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_wsbeat");
    let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/workers.sh"));
    cmd.env("WSBEAT", bin)
        .env("REDIS", redis.url())
        .env("RUN", "loop")
        .env("WORKERS", "2")
        .env("CONNECTIONS", "20")
        .env("URL", &url)
        .env("OUT", dir.path())
        .env("SOURCE_PREFIX", "127.0.0.")
        .args(["-d", "2s", "--message-rate", "5"]);
    let out = run_timeout(&mut cmd, None, EXIT);
    assert_exit(&out, 0);
    let run = read_json(&dir.path().join("run.json"));
    assert_eq!(run["connections"]["peak_open"], 20);
    let ws: Vec<Value> = (0..2)
        .map(|i| read_json(&dir.path().join(format!("worker-{i}.json"))))
        .collect();
    assert_merge_is_the_sum(&run, &ws);
    server.signal(libc::SIGTERM);
    let _ = server.finish(WAIT);
}

/// compose and Kubernetes are not run here; their YAML at least parses, when PyYAML is at hand.
#[test]
fn the_compose_and_kubernetes_files_are_valid_yaml() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    let check = Command::new("python3")
        .args([
            "-c",
            "import sys, yaml\nfor p in sys.argv[1:]: list(yaml.safe_load_all(open(p)))",
        ])
        .arg(format!("{dir}/compose.yaml"))
        .arg(format!("{dir}/kubernetes-job.yaml"))
        .output();
    match check {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named 'yaml'") => {
            eprintln!("skipped: PyYAML is not installed");
        }
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => eprintln!("skipped: no python3 ({e})"),
    }
}

/// Redis going away mid-run costs the live view, never the run: the worker says so once, runs
/// on, publishes again when Redis is back, and writes its whole report.
#[test]
fn a_worker_that_loses_redis_mid_run_goes_on_and_comes_back() {
    if !require_peer("redis") {
        return;
    }
    let mut redis = RedisServer::start();
    let coordinator = format!("{}/outage", redis.url());
    let (mut server, url) = echo_server(100);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("w.json");
    let mut w = worker(
        "worker",
        &url,
        &[
            "-c",
            "5",
            "-d",
            "6s",
            "--message-rate",
            "5",
            "--coordinator",
            &coordinator,
            "--workers",
            "1",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    w.wait_err("past the barrier", WAIT, |l| {
        l.contains("connections 0..5 of 5")
    });
    redis.stop();
    w.wait_err("saying it lost Redis", WAIT, |l| {
        l.contains("lost the coordinator")
    });
    redis.restart();
    w.wait_err("saying Redis is back", WAIT, |l| {
        l.contains("reachable again")
    });
    assert_eq!(code(w.finish(EXIT)), 0, "{}", w.dump());
    let lost = w
        .err
        .snapshot()
        .iter()
        .filter(|l| l.contains("lost the coordinator"))
        .count();
    assert_eq!(lost, 1, "one warning per outage\n{}", w.dump());
    let report = read_json(&json);
    assert_eq!(report["connections"]["peak_open"], 5);
    assert_eq!(report["messages"]["missing"], 0);
    // Its final report reached the restarted Redis.
    let entries = redis.cli(&["XLEN", "wsbeat:soak:outage:stream"]);
    assert!(entries.parse::<u64>().unwrap() >= 1, "{entries}");
    server.signal(libc::SIGTERM);
    let _ = server.finish(WAIT);
}

/// The lead in a real terminal (tmux, 80×24): soak's full-screen view of the whole run with a
/// row per worker; a killed worker is named on it; at the end the terminal is restored, the
/// warnings held while the view was up are printed, and the report follows.
#[test]
fn the_lead_in_a_terminal_shows_the_run_full_screen_and_names_a_lost_worker() {
    if !require_peer("redis") || !require_peer("tmux") {
        return;
    }
    let redis = RedisServer::start();
    let coordinator = format!("{}/tty", redis.url());
    let (mut server, url) = echo_server(100);
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let run_json = dir.path().join("run.json");
    let d = done.display();
    let script = format!(
        "NO_COLOR=1 '{}' soak --lead --coordinator '{coordinator}' --workers 2 --json '{}'; \
         echo \"exit=$?\" > '{d}.tmp'; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon \
         >> '{d}.tmp'; mv '{d}.tmp' '{d}'; sleep 30",
        env!("CARGO_BIN_EXE_wsbeat"),
        run_json.display(),
    );
    let t = crate::common::tmux::Tmux::start(80, 24, WAIT, &script);
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| {
            worker(
                &format!("worker {i}"),
                &url,
                &[
                    "-c",
                    "20",
                    "-d",
                    "9s",
                    "--message-rate",
                    "20",
                    "--coordinator",
                    &coordinator,
                    "--workers",
                    "2",
                    "--worker-index",
                    &i.to_string(),
                ],
            )
        })
        .collect();
    // Two finished seconds of the whole run: the figures, the rows and the last minute.
    let screen = t.wait("the whole run with a row per worker", |s| {
        s.contains("connections 20 / 20 open")
            && s.contains("2 live, 0 finished, 0 lost of 2")
            && s.lines()
                .any(|l| l.starts_with("received/s") && l.contains('█'))
    });
    assert!(
        screen.starts_with("wsbeat soak  lead of run tty on redis://127.0.0.1:"),
        "{screen}"
    );
    assert!(screen.contains("stop watching"), "{screen}");
    assert!(screen.contains("whole run p50"), "{screen}");
    for w in ["w0 ", "w1 "] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with(w) && l.contains(" live ")),
            "no live row {w}:\n{screen}"
        );
    }
    assert!(
        screen.lines().count() <= 24 && screen.lines().all(|l| l.chars().count() <= 80),
        "{screen}"
    );
    assert_eq!(t.display("#{alternate_on}"), "1", "full screen");
    let victim = workers[1].pid();
    workers[1].signal(libc::SIGKILL);
    let screen = t.wait("the killed worker named", |s| s.contains("lost        w1 "));
    assert!(
        screen.contains(&format!(":{victim}: silent since")),
        "{screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("w1 ") && l.contains("LOST")),
        "{screen}"
    );
    assert_eq!(code(workers[0].finish(EXIT)), 0, "{}", workers[0].dump());
    let _ = workers[1].finish(EXIT);
    poll_until(EXIT, || done.exists().then_some(()))
        .unwrap_or_else(|| panic!("the lead did not end:\n{}", t.screen()));
    let status = std::fs::read_to_string(&done).unwrap();
    assert!(
        status.contains("exit=1"),
        "a lost worker fails the run: {status}"
    );
    assert!(
        status.lines().any(|l| l == "icanon"),
        "raw mode left on: {status}"
    );
    assert_eq!(t.display("#{alternate_on} #{cursor_flag}"), "0 1");
    // Held while the view was up, printed on the normal screen after it.
    let all = t.tmux(&["capture-pane", "-p", "-J", "-S", "-200", "-t", "0"]);
    assert!(
        all.contains(&format!(":{victim} lost: no figures since")),
        "{all}"
    );
    assert!(all.contains("the run is incomplete"), "{all}");
    let run = read_json(&run_json);
    assert_eq!(run["workers"][1]["status"], "lost");
    assert!(
        run["timeline"]["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    server.signal(libc::SIGTERM);
    let _ = server.finish(WAIT);
}
