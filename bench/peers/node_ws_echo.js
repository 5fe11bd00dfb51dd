#!/usr/bin/env node
// Echo server on the Node `ws` package, for bench/run. Echoes every data message with its type
// kept; `ws` answers Pings itself. Prints `listening on ws://127.0.0.1:PORT/` first, like
// `wsbeat echo-server`.
//   node node_ws_echo.js [--listen HOST:PORT] [--deflate JSON]   (default 127.0.0.1:0)
// --deflate: permessage-deflate on, with these perMessageDeflate options (threshold 0 added, so
// that every message is compressed, as wsbeat does).
'use strict';

const { WebSocketServer } = require('ws');

let listen = '127.0.0.1:0';
let deflate = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--listen' && i + 1 < argv.length) listen = argv[++i];
  else if (argv[i] === '--deflate' && i + 1 < argv.length) deflate = { threshold: 0, ...JSON.parse(argv[++i]) };
  else {
    process.stderr.write('usage: node_ws_echo.js [--listen HOST:PORT] [--deflate JSON]\n');
    process.exit(2);
  }
}
const at = listen.lastIndexOf(':');
const host = listen.slice(0, at);
const port = Number(listen.slice(at + 1));

// No compression (unless asked) and no client tracking: the cheapest configuration `ws` offers.
const wss = new WebSocketServer({ host, port, perMessageDeflate: deflate, clientTracking: false, maxPayload: 64 << 20 });
wss.on('listening', () => {
  process.stdout.write(`listening on ws://${host}:${wss.address().port}/\n`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('error', (err) => {
  process.stderr.write(`node_ws_echo.js: ${err.message}\n`);
  process.exit(1);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
