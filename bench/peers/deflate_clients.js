#!/usr/bin/env node
// Compressed WebSocket clients on the Node `ws` package, for bench/run's deflate section.
//   node deflate_clients.js idle URL N OFFER_JSON
//     N connections offering permessage-deflate (perMessageDeflate = OFFER_JSON, or false for
//     none); each sends one 1 KiB JSON-like message and waits for its echo, so that the server's
//     contexts exist; then prints {"event":"ready","established":N,"compressed":K} and holds
//     the connections until killed.
//   node deflate_clients.js load URL CONNS SIZE SECONDS
//     CONNS compressed connections, each sending a message of SIZE bytes (JSON-like text for
//     1024, compressible binary otherwise) and waiting for its echo, for SECONDS; prints
//     {"messages":M,"wire_out":W} (W: bytes the sockets wrote, per message on the wire).
'use strict';

const { WebSocket } = require('ws');

const [mode, url, ...rest] = process.argv.slice(2);

function jsonish(size) {
  let s = '';
  for (let i = 0; s.length < size; i++) {
    s += JSON.stringify({ id: i, user: `user${i % 97}`, event: 'price', symbol: 'WSBT', price: 100 + (i % 13) / 4, tags: ['a', 'b'] }) + ',';
  }
  return s.slice(0, size);
}

function binary(size) {
  // Half repeated structure, half noise: compresses to about 60%.
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = i % 2 ? (i * 7) & 0xff : Math.floor(Math.random() * 256);
  return b;
}

if (mode === 'idle') {
  const [n, offer] = [Number(rest[0]), JSON.parse(rest[1])];
  const msg = jsonish(1024);
  let done = 0;
  let compressed = 0;
  const conns = [];
  const open = (i) => {
    if (i >= n) return;
    const ws = new WebSocket(url, { perMessageDeflate: offer === false ? false : { threshold: 0, ...offer } });
    conns.push(ws);
    ws.on('open', () => {
      if (ws.extensions.includes('permessage-deflate')) compressed++;
      ws.send(msg);
      open(i + 1);
    });
    ws.once('message', () => {
      done++;
      if (done === n) process.stdout.write(JSON.stringify({ event: 'ready', established: n, compressed }) + '\n');
    });
    ws.on('error', (e) => { process.stderr.write(`conn ${i}: ${e.message}\n`); process.exit(1); });
  };
  open(0);
} else if (mode === 'load') {
  const [conns, size, seconds] = rest.map(Number);
  const msg = size === 1024 ? jsonish(size) : binary(size);
  let messages = 0;
  const end = Date.now() + seconds * 1000;
  const all = [];
  let finished = 0;
  for (let c = 0; c < conns; c++) {
    const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 64 << 20 });
    all.push(ws);
    ws.on('open', () => ws.send(msg));
    ws.on('message', () => {
      messages++;
      if (Date.now() < end) ws.send(msg);
      else if (++finished === conns) {
        const wireOut = all.reduce((a, w) => a + w._socket.bytesWritten, 0);
        process.stdout.write(JSON.stringify({ messages, wire_out: wireOut }) + '\n');
        process.exit(0);
      }
    });
    ws.on('error', (e) => { process.stderr.write(`${e.message}\n`); process.exit(1); });
  }
} else {
  process.stderr.write('usage: deflate_clients.js idle URL N OFFER_JSON | load URL CONNS SIZE SECONDS\n');
  process.exit(2);
}
