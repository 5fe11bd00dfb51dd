// socket.io-client (v4, default transports: polling first, then the upgrade) against
// `wsbeat echo-server --socketio`. Usage: node client.js URL SCENARIO; prints one JSON line
// of results on success, exits 1 with the reason otherwise.
const { io } = require("socket.io-client");

const [url, scenario] = process.argv.slice(2);
const fail = (why) => {
  console.error(`FAIL ${why}`);
  process.exit(1);
};
const connected = (socket) =>
  new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
const upgraded = (socket) =>
  new Promise((resolve) => {
    const engine = socket.io.engine;
    if (engine.transport.name === "websocket") return resolve();
    engine.once("upgrade", resolve);
  });
// rejectUnauthorized: the server's --tls-self-signed certificate is made up at start.
const opts = { reconnection: false, forceNew: true, rejectUnauthorized: false };

async function echo() {
  const socket = io(url, opts);
  const first = await new Promise((r) =>
    socket.io.once("open", () => r(socket.io.engine.transport.name)),
  );
  await connected(socket);
  const echoed = new Promise((r) => socket.once("greet", (...args) => r(args)));
  const ack = await socket.timeout(5000).emitWithAck("greet", "hello", { n: 1 });
  const args = await echoed;
  await upgraded(socket);
  // After the upgrade, over the WebSocket.
  const ack2 = await socket.timeout(5000).emitWithAck("again", [1, 2]);
  const bin = await socket.timeout(5000).emitWithAck("bin", Buffer.from([1, 2, 3]));
  const out = {
    first,
    now: socket.io.engine.transport.name,
    ack,
    args,
    ack2,
    bin: [...bin],
  };
  socket.close();
  return out;
}

async function namespace() {
  const socket = io(url + "chat", opts);
  await connected(socket);
  const ack = await socket.timeout(5000).emitWithAck("room", "hi");
  socket.close();
  return { nsp: socket.nsp, ack };
}

async function auth() {
  const good = io(url, { ...opts, auth: { token: "s3cret" } });
  await connected(good);
  good.close();
  const bad = io(url, { ...opts, auth: { token: "wrong" } });
  const err = await connected(bad).then(
    () => fail("a wrong auth was accepted"),
    (e) => e.message,
  );
  bad.close();
  return { accepted: true, rejected: err };
}

async function broadcast() {
  const a = io(url, opts);
  const b = io(url, opts);
  await Promise.all([connected(a), connected(b)]);
  const got = (s) => new Promise((r) => s.once("message", (m) => r(m)));
  const [ga, gb] = [got(a), got(b)];
  a.emit("message", "to all");
  const out = { a: await ga, b: await gb };
  a.close();
  b.close();
  return out;
}

// Stays up over several heartbeat periods; the duration is the point of this test.
async function heartbeat(ms) {
  const socket = io(url, opts);
  await connected(socket);
  let pings = 0;
  socket.io.engine.on("ping", () => pings++);
  let dropped = null;
  socket.on("disconnect", (why) => (dropped = why));
  await new Promise((r) => setTimeout(r, Number(ms)));
  const ack = await socket.timeout(5000).emitWithAck("still", "here");
  const out = { pings, dropped, ack, transport: socket.io.engine.transport.name };
  socket.close();
  return out;
}

// The server sends no pings (--no-pong): the client's own timer must drop it.
async function silent() {
  const socket = io(url, opts);
  await connected(socket);
  const start = Date.now();
  const why = await new Promise((r) => socket.on("disconnect", r));
  return { why, after_ms: Date.now() - start };
}

// A raw Engine.IO client over WebSocket that never answers pings: the server must end it
// after pingInterval + pingTimeout.
async function mute() {
  const WebSocket = require("ws");
  const ws = new WebSocket(url.replace(/^http/, "ws") + "socket.io/?EIO=4&transport=websocket");
  const start = Date.now();
  let pings = 0;
  ws.on("message", (m) => {
    if (m.toString() === "2") pings++;
  });
  const code = await new Promise((r) => ws.on("close", r));
  return { pings, code, after_ms: Date.now() - start };
}

// Polling only (no upgrade): binary attachments travel as `b<base64>` both ways.
async function binpoll() {
  const socket = io(url, { ...opts, transports: ["polling"] });
  await connected(socket);
  const echoed = new Promise((r) => socket.once("blob", (...a) => r(a)));
  const ack = await socket.timeout(5000).emitWithAck("blob", Buffer.from([0, 255, 7]), "x");
  const args = await echoed;
  const out = {
    transport: socket.io.engine.transport.name,
    ack: [...ack],
    echo: [[...args[0]], args[1]],
  };
  socket.close();
  return out;
}

// Emits N events and reports how the session ended (--close-after, --drop-after).
async function ending(n) {
  const socket = io(url, opts);
  await connected(socket);
  const why = new Promise((r) => socket.on("disconnect", r));
  for (let i = 0; i < Number(n); i++) socket.emit("tick", i);
  return { why: await why };
}

// Says `connected`, then waits for the server to end the session and says why.
async function hold() {
  const socket = io(url, opts);
  await connected(socket);
  await upgraded(socket);
  console.log("connected");
  const why = await new Promise((r) => socket.on("disconnect", r));
  return { why };
}

const scenarios = { echo, namespace, auth, broadcast, heartbeat, silent, mute, binpoll, ending, hold };
const run = scenarios[scenario];
if (!run) fail(`unknown scenario ${scenario}`);
run(...process.argv.slice(4))
  .then((out) => {
    console.log(JSON.stringify(out));
    process.exit(0);
  })
  .catch((e) => fail(e && e.message ? e.message : String(e)));
