#!/usr/bin/env node
// WebSocket test peer for wsbeat's integration tests, built on the Node `ws`
// package. Same stdout protocol as py_server.py:
//   listening ws://127.0.0.1:PORT/        (wss:// with --certfile/--keyfile)
//   {"event":"connect","path":...,"headers":{...},"subprotocol":...}
//   {"event":"rejected","path":...,"headers":{...},"status":N}
//   {"event":"message","type":"text"|"binary","len":N,"data":...,"fragments":null}
//   {"event":"pong","data":"<hex>"}
//   {"event":"closed","code":N,"reason":"..."}
// `ws` hands over whole messages, so "fragments" is always null here.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const USAGE = `usage: node_server.js [--no-echo] [--close-after N [--close-code C] [--close-reason R]]
                      [--drop-after N] [--reject STATUS [--body TEXT]] [--subprotocols A,B]
                      [--ping-client] [--certfile F --keyfile F]`;

function parseArgs(argv) {
  const o = {
    echo: true, closeAfter: null, closeCode: 1000, closeReason: '', dropAfter: null,
    reject: null, body: '', subprotocols: null, pingClient: false, certfile: null, keyfile: null,
  };
  const need = (i, name) => {
    if (i >= argv.length) die(`${name} needs a value`);
    return argv[i];
  };
  const int = (v, name) => {
    if (!/^\d+$/.test(v)) die(`${name} wants an integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--no-echo': o.echo = false; break;
      case '--close-after': o.closeAfter = int(need(++i, a), a); break;
      case '--close-code': o.closeCode = int(need(++i, a), a); break;
      case '--close-reason': o.closeReason = need(++i, a); break;
      case '--drop-after': o.dropAfter = int(need(++i, a), a); break;
      case '--reject': o.reject = int(need(++i, a), a); break;
      case '--body': o.body = need(++i, a); break;
      case '--subprotocols': o.subprotocols = need(++i, a).split(',').filter(Boolean); break;
      case '--ping-client': o.pingClient = true; break;
      case '--certfile': o.certfile = need(++i, a); break;
      case '--keyfile': o.keyfile = need(++i, a); break;
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default: die(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if ((o.certfile === null) !== (o.keyfile === null)) die('--certfile and --keyfile go together');
  return o;
}

function die(msg) {
  process.stderr.write(`node_server.js: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function emit(obj) {
  // Writes to pipes are synchronous on Linux, so each line is flushed.
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const opts = parseArgs(process.argv.slice(2));

function offeredProtocols(req) {
  const h = req.headers['sec-websocket-protocol'];
  return h ? h.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

// Server's list order wins; null when nothing matches.
function pickProtocol(offered) {
  for (const p of opts.subprotocols || []) if (offered.includes(p)) return p;
  return null;
}

function refuse(socket, status, body) {
  const text = http.STATUS_CODES[status] || 'Unknown';
  const b = Buffer.from(body, 'utf8');
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${b.length}\r\n\r\n` + b.toString('utf8'),
  );
}

const server = opts.certfile
  ? https.createServer({ cert: fs.readFileSync(opts.certfile), key: fs.readFileSync(opts.keyfile) })
  : http.createServer();
server.on('request', (req, res) => {
  res.writeHead(426, { 'Content-Type': 'text/plain' });
  res.end('WebSocket upgrade required\n');
});

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  handleProtocols: (protocols) => pickProtocol([...protocols]) || false,
});

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  if (opts.reject !== null) {
    emit({ event: 'rejected', path: req.url, headers: req.headers, status: opts.reject });
    refuse(socket, opts.reject, opts.body);
    return;
  }
  if (opts.subprotocols && pickProtocol(offeredProtocols(req)) === null) {
    refuse(socket, 400, 'no acceptable subprotocol');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
});

function onConnection(ws, req) {
  emit({ event: 'connect', path: req.url, headers: req.headers, subprotocol: ws.protocol || null });
  let count = 0;
  let done = false;
  ws.on('error', (e) => process.stderr.write(`node_server.js: ${e.message}\n`));
  ws.on('pong', (data) => emit({ event: 'pong', data: data.toString('hex') }));
  ws.on('message', (data, isBinary) => {
    if (done) return;
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data));
    emit({
      event: 'message',
      type: isBinary ? 'binary' : 'text',
      len: buf.length,
      data: isBinary ? buf.toString('hex') : buf.toString('utf8'),
      fragments: null,
    });
    count++;
    if (opts.echo) ws.send(buf, { binary: isBinary });
    if (opts.closeAfter !== null && count >= opts.closeAfter) {
      done = true;
      ws.close(opts.closeCode, opts.closeReason);
    } else if (opts.dropAfter !== null && count >= opts.dropAfter) {
      done = true;
      ws.terminate();
    }
  });
  ws.on('close', (code, reason) => emit({ event: 'closed', code, reason: reason.toString('utf8') }));
  if (opts.pingClient) ws.ping(Buffer.from('hello'));
}

server.listen(0, '127.0.0.1', () => {
  const scheme = opts.certfile ? 'wss' : 'ws';
  process.stdout.write(`listening ${scheme}://127.0.0.1:${server.address().port}/\n`);
});
