#!/usr/bin/env node
// WebSocket test client for wsbeat's echo-server integration tests, built on the
// third-party Node library `ws` (tests/peers/node_modules; run with
// NODE_PATH=tests/peers/node_modules).
//
//   node node_client.js URL
//
// Sends, in order: a text message, a binary message with 0xFF/0x00 bytes, a text
// message in 3 fragments and a binary message in 3 fragments (ws's `fin: false`),
// and checks that each echo comes back whole, in order, with its type and bytes
// kept. Prints one JSON line {"ok": true|false, ...}; exits 0 when all held, 1 otherwise.

'use strict';

const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  console.error('usage: node node_client.js URL');
  process.exit(2);
}

const TEXT = 'héllo ☃ wsbeat from node';
const BINARY = Buffer.concat([
  Buffer.from([0xff, 0x00, 0xff, 0x00, 0x7f, 0x80]),
  Buffer.from([...Array(256).keys()]),
  Buffer.from([0x00, 0xff]),
]);
const TEXT_PARTS = ['node ', 'frag', 'mented ☃'];
const BIN_PARTS = [Buffer.from([0xff]), Buffer.from([0x00, 0x00]), Buffer.from([0xfe, 0xff])];

const expected = [
  { what: 'text', binary: false, data: Buffer.from(TEXT) },
  { what: 'binary', binary: true, data: BINARY },
  { what: 'fragmented text', binary: false, data: Buffer.from(TEXT_PARTS.join('')) },
  { what: 'fragmented binary', binary: true, data: Buffer.concat(BIN_PARTS) },
];

let finished = false;
function finish(ok, extra) {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({ ok, lib: 'ws', ...extra }) + '\n');
  process.exit(ok ? 0 : 1);
}

const timer = setTimeout(
  () => finish(false, { error: `timeout: ${got} of ${expected.length} echoes after 8 s` }),
  8000,
);

const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000 });
let got = 0;

ws.on('unexpected-response', (_req, res) => finish(false, { error: `HTTP ${res.statusCode}` }));
ws.on('error', (e) => finish(false, { error: `${e.name}: ${e.message}` }));
ws.on('open', () => {
  ws.send(TEXT);
  ws.send(BINARY);
  TEXT_PARTS.forEach((p, i) => ws.send(p, { binary: false, fin: i === TEXT_PARTS.length - 1 }));
  BIN_PARTS.forEach((p, i) => ws.send(p, { binary: true, fin: i === BIN_PARTS.length - 1 }));
});
ws.on('message', (data, isBinary) => {
  const want = expected[got];
  if (!want) return finish(false, { error: `unexpected extra message: ${data.toString('hex')}` });
  const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  if (isBinary !== want.binary) {
    return finish(false, {
      error: `${want.what}: expected a ${want.binary ? 'binary' : 'text'} echo, got ${isBinary ? 'binary' : 'text'}`,
    });
  }
  if (!buf.equals(want.data)) {
    return finish(false, {
      error: `${want.what}: echo differs`,
      expected: want.data.toString('hex'),
      got: buf.toString('hex'),
    });
  }
  got += 1;
  if (got === expected.length) ws.close(1000, 'done');
});
ws.on('close', (code, reason) => {
  clearTimeout(timer);
  if (got !== expected.length) {
    return finish(false, { error: `closed (${code}) after ${got} of ${expected.length} echoes` });
  }
  if (code !== 1000) return finish(false, { error: `close: expected code 1000 echoed, got ${code}` });
  finish(true, { echoes: got, close_code: code, close_reason: reason.toString() });
});
