//! `wsbeat soak`: N workers → a sink of bounded batches → one collector; a live view (or a plain status line)
//! reads snapshots; at the end (time, `q` or Ctrl-C) the workers drain and close, and the report
//! is printed, written as JSON and checked against the thresholds.
//!
//! Exit codes: 0 ok; 1 a threshold broke (named on stderr); 2 usage; 3 no connection ever
//! opened; 130 the run was interrupted by Ctrl-C (the report is still printed; `q` in the live
//! view is a normal early stop and exits by the thresholds); 101 a worker panicked (a bug: the
//! report is incomplete, so the run must not pass). With `--coordinator` (see `coord`): 3 also
//! when Redis cannot be reached at the start, 6 when the barrier times out.

mod conn_url;
pub mod coord;
mod embedded;
mod gate;
pub mod rss;
mod tasks;
pub mod worker;

use crate::client::heartbeat::HeartbeatMode;
use crate::config::soak::{JsonOut, SoakConfig};
use crate::error::{Error, ErrorKind};
use crate::render::live::{KeyReader, LiveView, StatusLine};
use crate::render::soak as human;
use crate::signals::{self, Signal};
use crate::stats::soak_collector::Stats;
use crate::stats::soak_report::{self as report, Report};
use crate::stats::soak_sink::{self, Sink};
use crate::stats::verdict;
use crate::timer::wakers::Wakers;
use crate::timer::wheel::Wheel;
use crate::ws::handshake::client::ConnectOptions;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use worker::Shared;

const LIVE_REFRESH: Duration = Duration::from_millis(250);
const STATUS_EVERY: Duration = Duration::from_secs(2);

pub fn run(cfg: SoakConfig) -> anyhow::Result<ExitCode> {
    if !cfg.merge.is_empty() {
        return merge(&cfg);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if cfg.coordinator.as_ref().is_some_and(|c| c.lead) {
        return rt.block_on(coord::lead::run(cfg));
    }
    rt.block_on(soak(cfg))
}

/// `--merge a.json b.json`: one report from several, checked against the thresholds.
fn merge(cfg: &SoakConfig) -> anyhow::Result<ExitCode> {
    let mut report = report::merge_files(&cfg.merge).map_err(Error::usage)?;
    finish_report(cfg, &mut report, false)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The duration ran out.
    Time,
    /// `q` in the live view.
    Quit,
    /// Ctrl-C (signal or key), SIGTERM or SIGHUP.
    Interrupt,
}

async fn soak(mut cfg: SoakConfig) -> anyhow::Result<ExitCode> {
    // Before anything else, so that Ctrl-C during the ramp-up already drains and reports.
    let mut shutdown = signals::subscribe();
    // A coordinated worker: its share of -c, after the barrier, from the agreed start.
    let part = match cfg.coordinator.clone() {
        Some(c) => tokio::select! {
            joined = coord::join_as_worker(&c, &mut cfg.run) => Some(joined?),
            _ = shutdown.recv() => {
                eprintln!("wsbeat: interrupted at the barrier of run {}", c.run_id);
                return Ok(ExitCode::from(ErrorKind::Interrupted.exit_code()));
            }
        },
        None => None,
    };
    let embedded_server = cfg.url.is_none();
    if let Some(limit) = rss::raise_file_limit()
        && let Some(w) =
            rss::file_limit_warning(&limit, cfg.run.connections as u64, embedded_server)
    {
        eprintln!("wsbeat: warning: {w}");
    }
    if let Some(w) = rss::port_warning(cfg.run.connections as u64, cfg.run.source_addrs.len()) {
        eprintln!("wsbeat: warning: {w}");
    }
    if let Some(w) = crate::cmd::connect::key_log_warning(&cfg.conn) {
        eprintln!("wsbeat: warning: {w}");
    }
    for w in cfg.preamble.iter().flat_map(|p| &p.warnings) {
        eprintln!(
            "wsbeat: warning: {}",
            crate::error::escape_controls(w, false)
        );
    }
    let (server, url) = match &cfg.url {
        Some(u) => (None, u.clone()),
        None => {
            let s = embedded::start(cfg.run.connections, !cfg.conn.compress.is_empty()).await?;
            let u = s.url.clone();
            (Some(s), u)
        }
    };
    let mut conn = cfg.conn.clone();
    if server.is_some() {
        conn.target = url.parse()?;
    }
    let opts = options_per_source(conn, &cfg.run.source_addrs, &cfg.proxies);
    let mut config_json = config_json(&cfg, &url, embedded_server);
    if let (Some(p), Some(o)) = (&part, config_json.as_object_mut()) {
        o.insert("worker".into(), p.config());
    }

    let start = Instant::now();
    let end = start + cfg.run.duration;
    let stats = Arc::new(Mutex::new(Stats::new(cfg.run.connections as u64, start)));
    let sink = Arc::new(Sink::new(stats.clone()));
    let flusher = tokio::spawn(soak_sink::flush_every(sink.clone()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let census = Arc::new(tasks::Census::default());
    let spans = Shared::wheel_spans(&cfg.run, cfg.heartbeat.as_ref());
    let wheel = Wheel::new(start, &spans);
    let (gone_tx, gone) = tokio::sync::oneshot::channel();
    let shared = Arc::new(Shared {
        run: cfg.run.clone(),
        opts,
        heartbeat: cfg.heartbeat.clone(),
        preamble: cfg.preamble.clone(),
        reconnect: cfg.reconnect,
        socketio: cfg.socketio.clone(),
        sink: sink.clone(),
        start,
        end,
        stop: stop_rx,
        stopping: AtomicBool::new(false),
        wakers: Wakers::with_capacity(cfg.run.connections),
        wheel_reach_ticks: Shared::wheel_reach_ticks(&wheel, &spans),
        wheel,
        census: census.clone(),
        gone: gone_tx,
        open_gate: gate::OpenGate::new(worker::OPEN_CONCURRENCY),
        first_id: part.as_ref().map_or(0, |p| p.first_id),
    });
    let mut workers = tasks::Tasks::with_capacity(cfg.run.connections);
    for id in 0..cfg.run.connections {
        workers.spawn(worker::run(shared.first_id + id as u32, shared.clone()));
    }
    // The wheel ticks for the connected loops until the run ends.
    let wheel = {
        let sh = shared.clone();
        tokio::spawn(async move { sh.wheel.run(&sh.wakers).await })
    };
    let publisher = part.map(|p| {
        coord::publish::Publisher::spawn(
            p.c,
            p.con,
            p.slot,
            p.name,
            stats.clone(),
            config_json.clone(),
            start,
        )
    });
    let sampler = tokio::spawn(sample_rss(stats.clone(), cfg.watch_pid));

    // The live view owns the terminal until it is dropped; every exit path below drops it
    // before anything else is printed.
    let (quit_tx, mut quit_rx) = mpsc::unbounded_channel::<()>();
    let mut view = if cfg.live {
        start_view(url.to_string(), &cfg, &quit_tx)
    } else {
        None
    };
    let mut status = StatusLine::new(cfg.run.duration);

    // Run until the time is up or someone stops us, refreshing the view.
    let refresh = if view.is_some() {
        LIVE_REFRESH
    } else {
        STATUS_EVERY
    };
    let mut tick = tokio::time::interval(refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stop = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => break Stop::Time,
            _ = quit_rx.recv() => break Stop::Quit,
            _ = shutdown.recv() => break Stop::Interrupt,
            _ = tick.tick() => {
                let snap = sink.stats().snapshot();
                match &mut view {
                    Some((v, _)) => { let _ = v.draw(&snap, false); }
                    None if start.elapsed() >= STATUS_EVERY => status.print(&snap),
                    None => {}
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    shared.stop_connected();
    wheel.abort();
    drop(shared);

    // Drain: every worker waits for its echoes and closes; bounded, then whatever is left is
    // aborted (a server that never answers our Close must not hold the report hostage).
    let drain_deadline = Instant::now()
        + worker::DRAIN
        + crate::ws::proto::endpoint::CLOSE_TIMEOUT
        + Duration::from_secs(2);
    // Every worker (and the wheel's task) holds the shared state: when the last lets go,
    // `gone` resolves.
    tokio::pin!(gone);
    let mut all_gone = false;
    loop {
        tokio::select! {
            _ = &mut gone => {
                all_gone = true;
                break;
            }
            _ = tokio::time::sleep_until(drain_deadline.into()) => {
                workers.abort_all(&census);
                break;
            }
            // A signal during the drain (a second one, or the first after the time ran out):
            // stop waiting, report what we have.
            _ = shutdown.recv() => {
                workers.abort_all(&census);
                break;
            }
            _ = tick.tick() => {
                if let Some((v, _)) = &mut view {
                    let snap = sink.stats().snapshot();
                    let _ = v.draw(&snap, true);
                }
            }
        }
    }
    // Aborted tasks let go as they are dropped, at once.
    if !all_gone {
        let _ = gone.await;
    }
    let crashed = census.crashed();
    flusher.abort();
    sampler.abort();
    drop(view);
    if let Some(s) = server {
        s.stop().await;
    }

    // Every worker has ended: what `stats` takes from the sink here is all there is.
    let mut report = sink.stats().report(
        vec![config_json],
        stop != Stop::Time,
        rss::own_peak_rss_bytes(),
    );
    if let Some(p) = publisher {
        // The same report --json writes: the lead's merge adds up exactly these.
        p.finish(&report).await;
    }
    if report.connections.opened == 0 {
        let reason = report
            .errors
            .iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, n)| format!("{n}× {k}"))
            .unwrap_or_else(|| "no attempt finished".into());
        print_report(&cfg, &report)?;
        write_html(&cfg, &report)?;
        eprintln!("wsbeat: error: no connection to {url} could be opened ({reason})");
        return Ok(ExitCode::from(ErrorKind::Connect.exit_code()));
    }
    let code = finish_report(&cfg, &mut report, stop == Stop::Interrupt)?;
    if crashed > 0 {
        // A panicked worker's connection stopped counting: the report looks fine and is not.
        eprintln!(
            "wsbeat: error: {crashed} connection task(s) panicked, so the report is incomplete; this is a bug in wsbeat, please report it with the panic message above"
        );
        return Ok(ExitCode::from(crate::error::EXIT_BUG));
    }
    Ok(code)
}

/// Whether a worker ended in a panic (a worker aborted at the drain deadline did not).
/// One set of options per source address and proxy, built once and shared by every
/// connection that uses them: cloning `ConnectOptions` per connection would cost RSS that soak
/// cannot spare. Connection N takes set N mod len, so consecutive connections go round robin
/// over the proxies and, for each proxy, over the sources.
fn options_per_source(
    base: ConnectOptions,
    sources: &[IpAddr],
    proxies: &[crate::net::proxy::ProxyChoice],
) -> Vec<Arc<ConnectOptions>> {
    let sources: Vec<Option<IpAddr>> = if sources.is_empty() {
        vec![None]
    } else {
        sources.iter().copied().map(Some).collect()
    };
    let proxies: Vec<Option<&crate::net::proxy::ProxyChoice>> = if proxies.is_empty() {
        vec![None]
    } else {
        proxies.iter().map(Some).collect()
    };
    let mut all = Vec::with_capacity(sources.len() * proxies.len());
    for source in &sources {
        for proxy in &proxies {
            let mut o = base.clone();
            o.source = *source;
            if let Some(p) = proxy {
                o.reach.proxy = (*p).clone();
            }
            all.push(Arc::new(o));
        }
    }
    all
}

/// The live view titled `title` and its key reader (a run's, or the lead's of a coordinated
/// run); `None` (plain status lines) when the terminal refuses.
fn start_view(
    title: String,
    cfg: &SoakConfig,
    quit: &mpsc::UnboundedSender<()>,
) -> Option<(LiveView, KeyReader)> {
    match LiveView::start(title, cfg.run.duration, cfg.color) {
        Ok(view) => {
            let q = quit.clone();
            let keys = KeyReader::spawn(
                move || {
                    let _ = q.send(());
                },
                // Raw mode turns Ctrl-C into a key: it counts as the signal it stands for.
                || signals::raise(Signal::Interrupt),
            );
            Some((view, keys))
        }
        Err(e) => {
            eprintln!("wsbeat: warning: no live view ({e}); plain status lines instead");
            None
        }
    }
}

/// Thresholds, JSON, human summary, exit code: shared by a run and by `--merge`.
pub(crate) fn finish_report(
    cfg: &SoakConfig,
    report: &mut Report,
    interrupted: bool,
) -> anyhow::Result<ExitCode> {
    report.thresholds = cfg.thresholds.check(report);
    print_report(cfg, report)?;
    write_html(cfg, report)?;
    let broken: Vec<String> = verdict::broken(&report.thresholds)
        .map(human::verdict_line)
        .collect();
    if !broken.is_empty() {
        for b in &broken {
            eprintln!("wsbeat: threshold broken: {b}");
        }
        return Ok(ExitCode::from(ErrorKind::Check.exit_code()));
    }
    if interrupted {
        return Ok(ExitCode::from(ErrorKind::Interrupted.exit_code()));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(cfg: &SoakConfig, report: &Report) -> anyhow::Result<()> {
    let text = human::render(report, cfg.color);
    match &cfg.json {
        Some(JsonOut::Stdout) => {
            let json = crate::render::json_layout::to_string(report)?;
            eprint!("{text}");
            print_stdout(&(json + "\n"))?;
        }
        Some(JsonOut::File(path)) => {
            let json = crate::render::json_layout::to_string(report)? + "\n";
            let written = write_json(path, &json, &std::env::temp_dir());
            // The human report first: a failed file must not cost the other copy too.
            print_stdout(&text)?;
            if let Some(failure) = written.failure(path) {
                return Err(Error::new(ErrorKind::Io, failure).into());
            }
        }
        None => print_stdout(&text)?,
    }
    Ok(())
}

/// `--report FILE`: the page, after the terminal report (which a failure here must not cost).
fn write_html(cfg: &SoakConfig, report: &Report) -> anyhow::Result<()> {
    let Some(path) = &cfg.report else {
        return Ok(());
    };
    let html = crate::render::html::soak::render(report);
    crate::render::html::write(path, &html).map_err(|e| Error::new(ErrorKind::Io, e).into())
}

/// Where the JSON report went.
#[derive(Debug)]
enum Written {
    Asked,
    /// The asked path failed (the error); the report is in this file instead.
    Fallback(std::io::Error, PathBuf),
    /// Neither file could be written; the report went to stderr.
    Stderr(std::io::Error),
}

impl Written {
    fn failure(&self, path: &Path) -> Option<String> {
        let path = path.display();
        match self {
            Written::Asked => None,
            Written::Fallback(e, to) => Some(format!(
                "cannot write --json {path}: {e}; the report is in {} instead",
                to.display()
            )),
            Written::Stderr(e) => Some(format!(
                "cannot write --json {path}: {e}; the report is on stderr above instead"
            )),
        }
    }
}

/// The path was checked before the run, but a long run leaves time for a disk to fill or a
/// folder to go; the report is then kept in `fallback_dir`, or on stderr as a last resort.
fn write_json(path: &Path, json: &str, fallback_dir: &Path) -> Written {
    let Err(e) = std::fs::write(path, json) else {
        return Written::Asked;
    };
    let fallback = fallback_dir.join(format!("wsbeat-soak-report-{}.json", std::process::id()));
    if std::fs::write(&fallback, json).is_ok() {
        return Written::Fallback(e, fallback);
    }
    eprint!("{json}");
    Written::Stderr(e)
}

/// The report on stdout in one write; a reader that went away (`| head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    match crate::render::write_stdout(text.as_bytes()) {
        Err(e) if !crate::render::is_broken_pipe(&e) => Err(e.into()),
        _ => Ok(()),
    }
}

fn lock(stats: &Mutex<Stats>) -> std::sync::MutexGuard<'_, Stats> {
    // A worker panicking while holding the lock would poison it; the counts are still good.
    stats.lock().unwrap_or_else(|p| p.into_inner())
}

async fn sample_rss(stats: Arc<Mutex<Stats>>, watch_pid: Option<u32>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let own = rss::rss_bytes(None);
        let watched = watch_pid.map(|p| (p, rss::rss_bytes(Some(p))));
        lock(&stats).sample_rss(own, watched);
    }
}

fn config_json(cfg: &SoakConfig, url: &str, embedded: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(&cfg.run).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("url".into(), url.into());
        o.insert("embedded_server".into(), embedded.into());
        o.insert(
            "heartbeat".into(),
            match &cfg.heartbeat {
                None => serde_json::Value::Null,
                Some(h) => serde_json::json!({
                    "interval": h.interval.as_secs_f64(),
                    "timeout": h.timeout.as_secs_f64(),
                    "mode": match h.mode { HeartbeatMode::Ping => "ping", HeartbeatMode::Text { .. } => "text" },
                }),
            },
        );
        if let Some(sio) = &cfg.socketio {
            o.insert(
                "socketio".into(),
                serde_json::json!({ "namespace": sio.namespace }),
            );
        }
        o.insert(
            "reconnect".into(),
            match &cfg.reconnect {
                None => serde_json::Value::Null,
                Some(r) => serde_json::json!({
                    "backoff_min": r.backoff.min.as_secs_f64(),
                    "backoff_max": r.backoff.max.as_secs_f64(),
                    "max_reconnects": r.max_reconnects,
                }),
            },
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::{Written, write_json};

    #[test]
    fn a_report_that_cannot_be_written_goes_to_the_fallback_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        // A path under a regular file can never be created.
        let asked = file.join("r.json");
        let written = write_json(&asked, "{\"x\":1}\n", dir.path());
        let Written::Fallback(_, to) = &written else {
            panic!("expected the fallback, got {written:?}");
        };
        assert_eq!(std::fs::read_to_string(to).unwrap(), "{\"x\":1}\n");
        let line = written.failure(&asked).unwrap();
        assert!(line.contains(&asked.display().to_string()), "{line}");
        assert!(line.contains(&to.display().to_string()), "{line}");

        let ok = dir.path().join("ok.json");
        assert!(matches!(
            write_json(&ok, "{}\n", dir.path()),
            Written::Asked
        ));
        assert_eq!(std::fs::read_to_string(&ok).unwrap(), "{}\n");
    }
}
