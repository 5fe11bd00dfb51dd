// The real socket.io v4 server, echoing every event back to its sender (`soak --socketio`
// tests). Usage: node echo_server.js [--port N] [--ping-interval MS] [--ping-timeout MS]
// [--auth TOKEN] [--announce-after N]. Prints `listening ws://127.0.0.1:PORT/`, then one JSON
// object per observation: {"event":"echoed","n":N} once N events were echoed
// (--announce-after), {"event":"connect_error"} per refused auth.
const { Server } = require("socket.io");
const http = require("http");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const port = Number(opt("--port", "0"));
const pingInterval = Number(opt("--ping-interval", "25000"));
const pingTimeout = Number(opt("--ping-timeout", "20000"));
const token = opt("--auth", null);
const announceAfter = Number(opt("--announce-after", "0"));

const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval, pingTimeout, transports: ["polling", "websocket"] });
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

let echoed = 0;
const serve = (nsp) => {
  if (token !== null) {
    nsp.use((socket, next) => {
      if (socket.handshake.auth && socket.handshake.auth.token === token) return next();
      say({ event: "connect_error" });
      next(new Error("not authorized"));
    });
  }
  nsp.on("connection", (socket) => {
    socket.onAny((event, ...rest) => {
      socket.emit(event, ...rest);
      echoed += 1;
      if (announceAfter > 0 && echoed === announceAfter) say({ event: "echoed", n: echoed });
    });
  });
};
serve(io.of("/"));
serve(io.of("/chat"));

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ws://127.0.0.1:${httpServer.address().port}/`);
});
process.on("SIGTERM", () => process.exit(0));
