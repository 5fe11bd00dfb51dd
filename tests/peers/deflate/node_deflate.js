#!/usr/bin/env node
// Node `ws` with permessage-deflate, for wsbeat's compression interop tests.
//   node_deflate.js server OPTIONS_JSON
//     prints `listening ws://127.0.0.1:PORT/`, then per connection
//     {"event":"connect","offer":...,"extensions":...} and {"event":"message","type":...,"len":N};
//     echoes every message with its type.
//   node_deflate.js client URL OPTIONS_JSON
//     sends text, binary and a 1 MiB text message, checks each echo, closes with 1000, prints
//     {"event":"done","ok":bool,"extensions":...,"error":...}.
// OPTIONS_JSON is ws's perMessageDeflate object (e.g. {"serverMaxWindowBits":10}); threshold 0
// is added so that every message is compressed.
'use strict';

const { WebSocket, WebSocketServer } = require('ws');

const [mode, ...rest] = process.argv.slice(2);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

if (mode === 'server') {
  const opts = { threshold: 0, ...JSON.parse(rest[0] || '{}') };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: opts, maxPayload: 64 << 20 });
  wss.on('listening', () => print_listening(wss.address().port));
  wss.on('connection', (ws, req) => {
    print({ event: 'connect', offer: req.headers['sec-websocket-extensions'] || null, extensions: ws.extensions });
    ws.on('message', (data, isBinary) => {
      print({ event: 'message', type: isBinary ? 'binary' : 'text', len: data.length });
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code) => print({ event: 'closed', code }));
  });
} else if (mode === 'client') {
  const [url, json] = rest;
  const opts = { threshold: 0, ...JSON.parse(json || '{}') };
  const ws = new WebSocket(url, { perMessageDeflate: opts, maxPayload: 64 << 20 });
  const big = 'wsbeat '.repeat(Math.ceil((1 << 20) / 7)).slice(0, 1 << 20);
  const sends = [['text', 'héllo ☃ compressed'], ['binary', Buffer.from([0, 255, 0, 255, 1, 2, 3])], ['text', big]];
  let i = 0;
  // ws.extensions names the extensions only; the answer's header has the parameters.
  let answer = null;
  ws.on('upgrade', (res) => { answer = res.headers['sec-websocket-extensions'] || null; });
  const fail = (error) => { print({ event: 'done', ok: false, error, extensions: answer }); process.exit(1); };
  setTimeout(() => fail('timeout'), 10000).unref();
  const next = () => {
    if (i === sends.length) return ws.close(1000, 'done');
    const [type, data] = sends[i];
    ws.send(data, { binary: type === 'binary' });
  };
  ws.on('open', next);
  ws.on('message', (data, isBinary) => {
    const [type, want] = sends[i];
    const same = (type === 'binary') === isBinary && Buffer.compare(Buffer.from(data), Buffer.from(want)) === 0;
    if (!same) return fail(`echo ${i} (${type}) differs: ${data.length} bytes`);
    i += 1;
    next();
  });
  ws.on('close', (code) => {
    if (i !== sends.length || code !== 1000) return fail(`closed with ${code} after ${i} echoes`);
    print({ event: 'done', ok: true, extensions: answer });
  });
  ws.on('error', (e) => fail(String(e)));
} else {
  process.stderr.write('usage: node_deflate.js server OPTIONS_JSON | client URL OPTIONS_JSON\n');
  process.exit(2);
}

function print_listening(port) {
  process.stdout.write(`listening ws://127.0.0.1:${port}/\n`);
}
