// A real socket.io v4 server (npm `socket.io`) for wsbeat's socket.io client tests.
// Usage: node server.js PING_INTERVAL_MS PING_TIMEOUT_MS; prints `listening ws://127.0.0.1:PORT/` on stdout.
//   /          every event is echoed back with its arguments; an ack is answered with
//              ["ack", ...args]; on connect the server emits `welcome` {"hello": "world"}.
//              `bin` is answered with a `bin` event holding the bytes 1 2 3 and the arguments.
//              `ask` is answered with a `question` event that asks for an ack; the ack's
//              arguments come back as an `answered` event.
//              `bye` makes the server disconnect the socket (DISCONNECT `41`).
//              `mute` stops the Engine.IO pings (and the server's own ping timeout), as a
//              server that hangs would, with the TCP connection still up.
//   /chat      needs auth {"token": "secret"}; anything else is refused with CONNECT_ERROR
//              "not authorized".
const { Server } = require("socket.io");

const [pingInterval, pingTimeout] = process.argv.slice(2).map(Number);
const io = new Server({ pingInterval, pingTimeout, maxHttpBufferSize: 1e6 });

io.on("connection", (socket) => {
  socket.emit("welcome", { hello: "world" });
  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (event === "bye") return socket.disconnect(true);
    if (event === "ask") {
      // An event that asks the client for an ack; the answer comes back as `answered`.
      return socket.emit("question", "why?", (...answer) => socket.emit("answered", ...answer));
    }
    if (event === "mute") {
      const conn = socket.conn;
      clearTimeout(conn.pingIntervalTimer);
      clearTimeout(conn.pingTimeoutTimer);
      conn.schedulePing = () => {};
      conn.resetPingTimeout = () => {};
      if (ack) ack("muted");
      return;
    }
    if (event === "bin") {
      socket.emit("bin", Buffer.from([1, 2, 3]), ...args);
    } else {
      socket.emit(event, ...args);
    }
    if (ack) ack("ack", ...args);
  });
});

const chat = io.of("/chat");
chat.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  next(new Error("not authorized"));
});
chat.on("connection", (socket) => {
  socket.emit("joined", socket.nsp.name);
  socket.onAny((event, ...args) => socket.emit(event, ...args));
});

io.listen(0);
const port = io.httpServer.address().port;
console.log(`listening ws://127.0.0.1:${port}/`);
