//! `echo-server --redis` and `--replay` against a real Redis (Debian's redis-server, one per
//! test on a free port, `common::RedisServer`): broadcast across two and three instances,
//! exactly once; replay of what a client missed, on one instance and across instances (also
//! through nginx round-robin); a Redis killed and restarted mid-run; a password that never
//! shows; a message read during a shutdown's closing handshake is stored (`soak_replay`:
//! soak --server-replay across a restart). Clients are tokio-tungstenite; every wait is
//! bounded.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{self, Proc, RedisServer};

mod soak_replay;

const START: Duration = Duration::from_secs(15);
const WAIT: Duration = Duration::from_secs(10);
/// How long a client listens for a message that must not come.
const QUIET: Duration = Duration::from_millis(400);

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// `wsbeat echo-server --json --listen 127.0.0.1:0 --broadcast ARGS`, listening.
struct Instance {
    proc: Proc,
    /// `127.0.0.1:PORT`
    addr: String,
}

impl Instance {
    #[track_caller]
    fn start(args: &[&str]) -> Instance {
        let mut cmd = common::wsbeat();
        cmd.args([
            "echo-server",
            "--json",
            "--listen",
            "127.0.0.1:0",
            "--broadcast",
        ])
        .args(args);
        let proc = Proc::spawn("echo-server", &mut cmd);
        let v = proc.wait_event("listening", START);
        let url = v["url"].as_str().expect("listening.url");
        let addr = url
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .to_string();
        Instance { proc, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// SIGTERM, the exit, and the summary's `scale` object.
    #[track_caller]
    fn stop(mut self) -> (Value, Proc) {
        self.proc.signal(libc::SIGTERM);
        assert!(self.proc.finish(WAIT).success(), "{}", self.proc.dump());
        let summary = self
            .proc
            .events()
            .into_iter()
            .find(|v| v["type"] == "summary")
            .unwrap_or_else(|| panic!("no summary\n{}", self.proc.dump()));
        if let Err(why) = common::Schema::EchoServer.check(&summary) {
            panic!("the summary breaks the schema: {why}\n{summary}");
        }
        (summary["scale"].clone(), self.proc)
    }
}

/// Every instance subscribed (Redis's clients in pub/sub mode).
#[track_caller]
fn await_subscribers(redis: &RedisServer, n: usize) {
    common::poll_until(WAIT, || {
        let list = redis.cli(&["CLIENT", "LIST", "TYPE", "pubsub"]);
        (list.lines().filter(|l| l.contains("psub=1")).count() == n).then_some(())
    })
    .unwrap_or_else(|| panic!("{n} instances never subscribed"));
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn join(url: &str) -> Ws {
    let addr = url.trim_start_matches("ws://");
    let host = &addr[..addr.find('/').unwrap_or(addr.len())];
    let tcp = tokio::net::TcpStream::connect(host).await.expect("connect");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, tcp))
        .await
        .expect("upgrade in time")
        .expect("upgrade");
    ws
}

/// The next text message, within `WAIT`.
async fn next(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Nothing more arrives for a while.
async fn quiet(ws: &mut Ws) {
    if let Ok(Some(m)) = tokio::time::timeout(QUIET, ws.next()).await {
        panic!("one message too many: {m:?}");
    }
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

/// `[seq=7] hi` → (Some(7), false, "hi"); `[replay seq=7] hi` → (Some(7), true, "hi").
fn unmark(m: &str) -> (Option<u64>, bool, String) {
    let (replayed, rest) = match m.strip_prefix("[replay seq=") {
        Some(r) => (true, r),
        None => (false, m.strip_prefix("[seq=").unwrap_or(m)),
    };
    match rest.split_once("] ") {
        Some((n, body)) if n.parse::<u64>().is_ok() => (n.parse().ok(), replayed, body.to_string()),
        _ => (None, false, m.to_string()),
    }
}

#[test]
fn a_broadcast_through_one_instance_reaches_clients_on_every_other_exactly_once() {
    if !common::require_peer("redis") {
        return;
    }
    for n in [2, 3] {
        let redis = RedisServer::start();
        let url = redis.url();
        let instances: Vec<Instance> = (0..n)
            .map(|_| Instance::start(&["--redis", &url]))
            .collect();
        await_subscribers(&redis, n);
        rt().block_on(async {
            let mut clients = Vec::new();
            for i in &instances {
                clients.push(join(&i.url("/room")).await);
            }
            // Another room hears nothing.
            let mut elsewhere = join(&instances[1].url("/other")).await;
            for from in 0..n {
                let text = format!("from {from}");
                send(&mut clients[from], &text).await;
                for c in clients.iter_mut() {
                    assert_eq!(next(c).await, text);
                }
            }
            for c in clients.iter_mut() {
                quiet(c).await;
            }
            quiet(&mut elsewhere).await;
        });
        for (k, i) in instances.into_iter().enumerate() {
            let (scale, proc) = i.stop();
            assert_eq!(scale["published"], 1, "instance {k}\n{}", proc.dump());
            assert_eq!(scale["received"], n as u64 - 1, "{}", proc.dump());
            assert_eq!(scale["publish_failures"], 0);
            assert!(scale["rtt_samples"].as_u64().unwrap() >= 1, "{scale}");
        }
    }
}

/// A client drops, misses 5 messages, comes back through `back`: when the server kept fewer
/// than 5 for it, first the marker of what was cut; then the `kept` newest of the 5, in order
/// and marked as replayed; then live traffic with no duplicate. `settled` awaits the server's
/// note of where the client stopped (it is written when the server sees the connection end).
async fn miss_five_keep_some(
    send_to: &str,
    first: &str,
    back: &str,
    kept: u64,
    settled: impl FnOnce(),
) {
    let mut sender = join(send_to).await;
    let mut bob = join(first).await;
    send(&mut sender, "before").await;
    let (seen, _, body) = unmark(&next(&mut bob).await);
    assert_eq!(body, "before");
    let seen = seen.expect("live messages carry a seq");
    assert_eq!(unmark(&next(&mut sender).await).2, "before");
    bob.close(None).await.unwrap();
    drop(bob);
    settled();
    for i in 1..=5 {
        send(&mut sender, &format!("missed {i}")).await;
        assert_eq!(unmark(&next(&mut sender).await).2, format!("missed {i}"));
    }
    let mut bob = join(back).await;
    let cut = 5 - kept;
    if cut > 0 {
        assert_eq!(
            next(&mut bob).await,
            format!("[replay cut={cut} from={} to={}] ", seen + 1, seen + cut),
            "the cut is said before the replay"
        );
    }
    for i in cut + 1..=5 {
        assert_eq!(
            unmark(&next(&mut bob).await),
            (Some(seen + i), true, format!("missed {i}")),
            "message {i} is replayed, in order"
        );
    }
    send(&mut sender, "live").await;
    assert_eq!(
        unmark(&next(&mut bob).await),
        (Some(seen + 6), false, "live".into())
    );
    quiet(&mut bob).await;
}

#[test]
fn replay_on_one_instance_from_memory_gives_exactly_the_missed_messages_then_live() {
    let one = Instance::start(&["--replay", "100"]);
    rt().block_on(async {
        let base = one.url("/chat");
        // In memory the cursor is written before the `closed` event.
        miss_five_keep_some(
            &format!("{base}?user=ann"),
            &format!("{base}?user=bob"),
            &format!("{base}?user=bob"),
            5,
            || {
                one.proc.wait_event("closed", WAIT);
            },
        )
        .await;
    });
    let (scale, _) = one.stop();
    assert_eq!(
        (scale["replays"].as_u64(), scale["replayed"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(scale["redis"], false);
}

#[test]
fn replay_across_instances_gives_exactly_the_missed_messages_then_live() {
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::start(&["--redis", &url, "--replay", "100"]);
    let b = Instance::start(&["--redis", &url, "--replay", "100"]);
    await_subscribers(&redis, 2);
    rt().block_on(async {
        // bob leaves B; his cursor reaches Redis; he comes back on A.
        let (on_a, on_b) = (a.url("/chat"), b.url("/chat"));
        let mut sender = join(&format!("{on_a}?user=ann")).await;
        let mut bob = join(&format!("{on_b}?user=bob")).await;
        send(&mut sender, "hello").await;
        assert_eq!(unmark(&next(&mut bob).await).2, "hello");
        assert_eq!(unmark(&next(&mut sender).await).2, "hello");
        bob.close(None).await.unwrap();
        drop(bob);
        common::poll_until(WAIT, || {
            (redis.cli(&["GET", "wsbeat:room:/chat:last:bob"]) == "1").then_some(())
        })
        .expect("bob's cursor stored");
        drop(sender);
        // The second sender is someone new: ann's cursor, written by A whenever it sees her
        // go, would make B replay to her whatever she sends before B has read it (correct,
        // but one more replayed message than this test counts).
        miss_five_keep_some(
            &format!("{on_b}?user=eve"),
            &format!("{on_b}?user=carol"),
            &format!("{on_a}?user=carol"),
            5,
            || {
                common::poll_until(WAIT, || {
                    (redis.cli(&["EXISTS", "wsbeat:room:/chat:last:carol"]) == "1").then_some(())
                })
                .expect("carol's cursor stored");
            },
        )
        .await;
        // hello 1, before 2, missed 3..=7, live 8. ?since= says what a client has: it gets
        // only what came after, whoever it is.
        let mut dan = join(&format!("{on_a}?user=dan&since=5")).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            let (seq, replayed, _) = unmark(&next(&mut dan).await);
            got.push((seq, replayed));
        }
        assert_eq!(got, [(Some(6), true), (Some(7), true), (Some(8), true)]);
        quiet(&mut dan).await;
    });
    let (sa, _) = a.stop();
    let (sb, _) = b.stop();
    assert_eq!(
        sa["replayed"].as_u64().unwrap() + sb["replayed"].as_u64().unwrap(),
        8
    );
    assert_eq!(sa["store_failures"], 0);
}

#[test]
fn a_redis_killed_mid_run_leaves_local_traffic_alone_is_reported_and_recovered_from() {
    if !common::require_peer("redis") {
        return;
    }
    let mut redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::start(&["--redis", &url, "--replay", "10"]);
    let b = Instance::start(&["--redis", &url, "--replay", "10"]);
    await_subscribers(&redis, 2);
    rt().block_on(async {
        let mut a1 = join(&a.url("/r")).await;
        let mut a2 = join(&a.url("/r")).await;
        let mut b1 = join(&b.url("/r")).await;
        send(&mut a1, "one").await;
        for c in [&mut a1, &mut a2, &mut b1] {
            assert_eq!(unmark(&next(c).await), (Some(1), false, "one".into()));
        }

        redis.stop();
        let down = a.proc.wait_event("redis", WAIT);
        assert_eq!(down["state"], "down", "{down}");
        // Local clients still get each other's messages, marked as not kept; B's do not.
        send(&mut a1, "during").await;
        for c in [&mut a1, &mut a2] {
            assert_eq!(next(c).await, "[unstored] during");
        }
        quiet(&mut b1).await;

        redis.restart();
        a.proc.wait_out("redis up", WAIT, |l| {
            l.contains(r#""type":"redis""#) && l.contains(r#""state":"up""#)
        });
        await_subscribers(&redis, 2);
        send(&mut a1, "after").await;
        // A fresh Redis: the room's numbers start again.
        for c in [&mut a1, &mut a2, &mut b1] {
            assert_eq!(unmark(&next(c).await), (Some(1), false, "after".into()));
        }
    });
    let (scale, proc) = a.stop();
    assert!(scale["outages"].as_u64().unwrap() >= 1, "{scale}");
    assert!(scale["store_failures"].as_u64().unwrap() >= 1, "{scale}");
    assert!(scale["publish_failures"].as_u64().unwrap() >= 1, "{scale}");
    assert_eq!(scale["stored"], 2, "{scale}");
    let warned = proc.err.snapshot().join("\n");
    assert!(
        warned.contains("lost the subscription"),
        "the subscriber's outage is said on stderr:\n{}",
        proc.dump()
    );
    let (sb, _) = b.stop();
    assert_eq!(sb["received"], 2, "{sb}");
}

#[test]
fn a_redis_password_is_used_and_shows_nowhere() {
    if !common::require_peer("redis") {
        return;
    }
    let secret = "pa55-Wsbeat-s3cret";
    let redis = RedisServer::start_with_password(secret);
    let url = redis.url();
    assert!(url.contains(secret));
    let a = Instance::start(&["--redis", &url, "--replay", "5"]);
    rt().block_on(async {
        let mut c = join(&a.url("/p?user=x")).await;
        send(&mut c, "hi").await;
        assert_eq!(next(&mut c).await, "[seq=1] hi");
    });
    assert_eq!(redis.cli(&["LLEN", "wsbeat:room:/p:log"]), "1");
    let (_, proc) = a.stop();
    let all = format!(
        "{}\n{}",
        proc.out.snapshot().join("\n"),
        proc.err.snapshot().join("\n")
    );
    assert!(!all.contains(secret), "the password leaked:\n{all}");

    // A wrong password: one line, exit 3, no password either.
    let wrong = url.replace(secret, "Wrong-pa55");
    let out = common::run_timeout(
        common::wsbeat().args([
            "echo-server",
            "--listen",
            "127.0.0.1:0",
            "--broadcast",
            "--redis",
            &wrong,
        ]),
        None,
        WAIT,
    );
    common::assert_exit(&out, 3);
    let text = common::describe(&out);
    assert!(
        !text.contains("Wrong-pa55") && text.contains("redis://***@127.0.0.1"),
        "{text}"
    );
    // And a bad URL is refused by the parser without echoing it.
    let out = common::run(common::wsbeat().args([
        "echo-server",
        "--broadcast",
        "--redis",
        "http://:Wrong-pa55@h",
    ]));
    common::assert_exit(&out, 2);
    assert!(!common::describe(&out).contains("Wrong-pa55"));
}

/// nginx round-robin over two instances (`tests/nginx/ws_round_robin.conf.template`).
fn start_round_robin(a: &Instance, b: &Instance) -> (Proc, String, tempfile::TempDir) {
    common::start_nginx_from(
        "ws_round_robin.conf.template",
        &[("@UPSTREAM_A@", &a.addr), ("@UPSTREAM_B@", &b.addr)],
    )
}

#[test]
fn replay_works_through_nginx_round_robin_over_two_instances() {
    if !common::require_peer("redis") || !common::require_peer("nginx") {
        return;
    }
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::start(&[
        "--redis",
        &url,
        "--replay",
        "100",
        "--client-id",
        "header:X-User-Id",
    ]);
    let b = Instance::start(&[
        "--redis",
        &url,
        "--replay",
        "100",
        "--client-id",
        "header:X-User-Id",
    ]);
    await_subscribers(&redis, 2);
    let (_nginx, front, _dir) = start_round_robin(&a, &b);
    rt().block_on(async {
        let connect_as = |user: &'static str| {
            let url = format!("{front}/lobby");
            async move {
                use tokio_tungstenite::tungstenite::client::IntoClientRequest;
                let mut req = url.as_str().into_client_request().unwrap();
                req.headers_mut().insert("X-User-Id", user.parse().unwrap());
                let host = url.trim_start_matches("ws://");
                let host = &host[..host.find('/').unwrap()];
                let tcp = tokio::net::TcpStream::connect(host).await.unwrap();
                tokio_tungstenite::client_async(req, tcp)
                    .await
                    .expect("upgrade")
                    .0
            }
        };
        let mut ann = connect_as("ann").await;
        let mut bob = connect_as("bob").await;
        send(&mut ann, "hi").await;
        assert_eq!(unmark(&next(&mut bob).await).2, "hi");
        assert_eq!(unmark(&next(&mut ann).await).2, "hi");
        bob.close(None).await.unwrap();
        drop(bob);
        common::poll_until(WAIT, || {
            (redis.cli(&["EXISTS", "wsbeat:room:/lobby:last:bob"]) == "1").then_some(())
        })
        .expect("bob's cursor stored");
        for i in 1..=5 {
            send(&mut ann, &format!("m{i}")).await;
            assert_eq!(unmark(&next(&mut ann).await).2, format!("m{i}"));
        }
        let mut bob = connect_as("bob").await;
        for i in 1..=5u64 {
            assert_eq!(
                unmark(&next(&mut bob).await),
                (Some(1 + i), true, format!("m{i}"))
            );
        }
        send(&mut ann, "live").await;
        assert_eq!(
            unmark(&next(&mut bob).await),
            (Some(7), false, "live".into())
        );
        quiet(&mut bob).await;
    });
    let (sa, _) = a.stop();
    let (sb, _) = b.stop();
    // Round-robin put the connections on both instances: messages crossed over Redis.
    assert!(
        sa["received"].as_u64().unwrap() + sb["received"].as_u64().unwrap() > 0,
        "{sa} {sb}"
    );
    assert_eq!(
        sa["replayed"].as_u64().unwrap() + sb["replayed"].as_u64().unwrap(),
        5
    );
}

#[test]
fn a_client_named_by_its_first_message_is_replayed_to_and_its_name_not_broadcast() {
    let one = Instance::start(&["--replay", "10", "--client-id", "first-message"]);
    rt().block_on(async {
        let room = one.url("/r");
        let mut ann = join(&room).await;
        send(&mut ann, "ann").await;
        let mut bob = join(&room).await;
        send(&mut bob, "bob").await;
        send(&mut ann, "one").await;
        assert_eq!(
            next(&mut bob).await,
            "[seq=1] one",
            "bob's name was not broadcast"
        );
        assert_eq!(next(&mut ann).await, "[seq=1] one");
        bob.close(None).await.unwrap();
        drop(bob);
        one.proc.wait_event("closed", WAIT);
        send(&mut ann, "two").await;
        assert_eq!(next(&mut ann).await, "[seq=2] two");
        let mut bob = join(&room).await;
        quiet(&mut bob).await; // nothing until he says who he is
        send(&mut bob, "bob").await;
        assert_eq!(next(&mut bob).await, "[replay seq=2] two");
        send(&mut ann, "three").await;
        assert_eq!(next(&mut bob).await, "[seq=3] three");
    });
    let (scale, _) = one.stop();
    assert_eq!(scale["replayed"], 1, "{scale}");
}

#[test]
fn a_stopping_instance_writes_its_clients_cursors_before_it_exits() {
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::start(&["--redis", &url, "--replay", "10"]);
    let rt = rt();
    let mut eve = rt.block_on(async {
        let mut eve = join(&a.url("/s?user=eve")).await;
        send(&mut eve, "x").await;
        assert_eq!(next(&mut eve).await, "[seq=1] x");
        eve
    });
    // Answered by the client library while the server shuts down (1001).
    let reader = rt.spawn(async move { while let Some(Ok(_)) = eve.next().await {} });
    let (scale, _) = a.stop();
    rt.block_on(reader).unwrap();
    assert_eq!(scale["stored"], 1);
    assert_eq!(redis.cli(&["GET", "wsbeat:room:/s:last:eve"]), "1");
}

#[test]
fn missed_messages_beyond_the_log_or_the_queue_are_counted_and_said_before_the_replay() {
    // The log keeps 3 (`--replay 3`); then the queue takes 2 (half of `--broadcast-queue 4`).
    for (args, kept) in [
        (&["--replay", "3"][..], 3),
        (&["--replay", "100", "--broadcast-queue", "4"][..], 2),
    ] {
        let one = Instance::start(args);
        rt().block_on(async {
            let base = one.url("/cut");
            miss_five_keep_some(
                &format!("{base}?user=ann"),
                &format!("{base}?user=bob"),
                &format!("{base}?user=bob"),
                kept,
                || {
                    one.proc.wait_event("closed", WAIT);
                },
            )
            .await;
        });
        let (scale, proc) = one.stop();
        assert_eq!(
            (scale["replayed"].as_u64(), scale["replay_cut"].as_u64()),
            (Some(kept), Some(5 - kept)),
            "{args:?}\n{}",
            proc.dump()
        );
    }
}

#[test]
fn missed_messages_beyond_the_redis_log_are_counted_and_said_on_another_instance() {
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::start(&["--redis", &url, "--replay", "3"]);
    let b = Instance::start(&["--redis", &url, "--replay", "3"]);
    await_subscribers(&redis, 2);
    rt().block_on(async {
        let (on_a, on_b) = (a.url("/cut"), b.url("/cut"));
        miss_five_keep_some(
            &format!("{on_a}?user=ann"),
            &format!("{on_b}?user=bob"),
            &format!("{on_a}?user=bob"),
            3,
            || {
                common::poll_until(WAIT, || {
                    (redis.cli(&["EXISTS", "wsbeat:room:/cut:last:bob"]) == "1").then_some(())
                })
                .expect("bob's cursor stored");
            },
        )
        .await;
    });
    let (sa, _) = a.stop();
    let (sb, _) = b.stop();
    assert_eq!(
        (sa["replayed"].as_u64(), sa["replay_cut"].as_u64()),
        (Some(3), Some(2)),
        "{sa}"
    );
    assert_eq!(sb["replay_cut"], 0, "{sb}");
}

#[test]
fn what_a_lost_subscription_missed_is_given_after_it_and_what_the_log_lost_is_counted() {
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    // B connects as a user whose right to the channel pattern is taken away and given back:
    // Redis then ends B's subscription and refuses a new one, while B's commands (and its
    // PUBLISH to the room's own channel) still work.
    redis.cli(&[
        "ACL", "SETUSER", "bee", "on", ">bee-pw", "~*", "&*", "+@all",
    ]);
    let url = redis.url();
    let bee = url.replace("redis://", "redis://bee:bee-pw@");
    let a = Instance::start(&["--redis", &url, "--replay", "3"]);
    let b = Instance::start(&["--redis", &bee, "--replay", "3"]);
    await_subscribers(&redis, 2);
    rt().block_on(async {
        let mut sender = join(&a.url("/sub?user=ann")).await;
        let mut stay = join(&b.url("/sub")).await;
        let mut lee = join(&b.url("/sub?user=lee")).await;
        send(&mut sender, "one").await;
        for c in [&mut stay, &mut lee, &mut sender] {
            assert_eq!(unmark(&next(c).await), (Some(1), false, "one".into()));
        }
        redis.cli(&[
            "ACL",
            "SETUSER",
            "bee",
            "resetchannels",
            "&wsbeat:chan:/sub",
        ]);
        await_subscribers(&redis, 1);
        // 2 and 3 from A are missed on B; 4 is B's own; lee leaves after it.
        for m in ["m1", "m2"] {
            send(&mut sender, m).await;
            assert_eq!(unmark(&next(&mut sender).await).2, m);
        }
        send(&mut lee, "mine").await;
        for c in [&mut stay, &mut lee, &mut sender] {
            assert_eq!(unmark(&next(c).await), (Some(4), false, "mine".into()));
        }
        lee.close(None).await.unwrap();
        drop(lee);
        common::poll_until(WAIT, || {
            (redis.cli(&["GET", "wsbeat:room:/sub:last:lee"]) == "4").then_some(())
        })
        .expect("lee's cursor stored");
        for m in ["m3", "m4", "m5"] {
            send(&mut sender, m).await;
            assert_eq!(unmark(&next(&mut sender).await).2, m);
        }
        quiet(&mut stay).await;
        redis.cli(&["ACL", "SETUSER", "bee", "allchannels"]);
        // The log kept 5, 6 and 7 (m3..m5); of 2..4, 2 and 3 are cut (4 was B's own).
        assert_eq!(next(&mut stay).await, "[replay cut=2 from=2 to=4] ");
        for (seq, m) in [(5, "m3"), (6, "m4"), (7, "m5")] {
            assert_eq!(unmark(&next(&mut stay).await), (Some(seq), true, m.into()));
        }
        await_subscribers(&redis, 2);
        send(&mut sender, "live").await;
        assert_eq!(
            unmark(&next(&mut stay).await),
            (Some(8), false, "live".into())
        );
        quiet(&mut stay).await;
        // The room's number expires (no traffic for --replay-ttl): it starts again at 1, and
        // B, which has seen 8, still delivers it.
        redis.cli(&["DEL", "wsbeat:room:/sub:seq"]);
        send(&mut sender, "again").await;
        assert_eq!(
            unmark(&next(&mut stay).await),
            (Some(1), false, "again".into())
        );
    });
    let (sb, proc) = b.stop();
    assert_eq!(
        (sb["replay_cut"].as_u64(), sb["replayed"].as_u64()),
        (Some(4), Some(3)),
        "2 cut for the client still there, 2 for lee who left meanwhile\n{}",
        proc.dump()
    );
    assert_eq!(sb["received"], 3, "one, live and again came live: {sb}");
    a.stop();
}

/// A message the client sent before it saw the server's 1001 (a graceful shutdown) is read
/// during the closing handshake and stored for replay, not dropped unread. By hand on a raw
/// socket: the frame goes out only after the server's Close has arrived.
#[test]
fn a_message_read_after_the_shutdowns_close_is_stored_for_replay() {
    use std::io::{Read, Write};
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::start(&["--redis", &url, "--replay", "10"]);
    let mut tcp = std::net::TcpStream::connect(&a.addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(&common::frames::upgrade_request("/s?user=eve"))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = tcp.read(&mut chunk).expect("the 101");
        assert!(n > 0, "closed before the 101");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    assert!(buf.starts_with(b"HTTP/1.1 101"), "{buf:?}");
    buf.drain(..head_end);
    a.proc.signal(libc::SIGTERM);
    let close = loop {
        if let Some((got, _)) = common::frames::parse_server_frame(&buf) {
            break got;
        }
        let n = tcp.read(&mut chunk).expect("the server's Close");
        assert!(n > 0, "closed before its Close");
        buf.extend_from_slice(&chunk[..n]);
    };
    assert_eq!((close.1, &close.2[..2]), (0x8, &1001u16.to_be_bytes()[..]));
    tcp.write_all(&common::frames::frame(true, 0x1, b"after 1001"))
        .unwrap();
    tcp.write_all(&common::frames::frame(true, 0x8, &1000u16.to_be_bytes()))
        .unwrap();
    // The server closes the TCP connection once the handshake is done.
    while tcp.read(&mut chunk).map(|n| n > 0).unwrap_or(false) {}
    let mut proc = a.proc;
    assert!(proc.finish(WAIT).success(), "{}", proc.dump());
    let summary = proc
        .events()
        .into_iter()
        .find(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary\n{}", proc.dump()));
    let scale = &summary["scale"];
    assert_eq!(scale["stored"], 1, "{scale}");
    let log = redis.cli(&["LRANGE", "wsbeat:room:/s:log", "0", "-1"]);
    assert!(log.ends_with("after 1001"), "{log}");
}
