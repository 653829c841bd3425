// relay.js -- a small Nostr relay (NIP-01) on `ws`, for the tests: 127.0.0.1, a free port.
//
// It stores what clients publish (verified with nostr-tools' verifyEvent: an invalid event gets
// ["OK",id,false,"invalid: ..."] and is not stored; replaceable and parameterised-replaceable
// kinds keep only the newest per (pubkey, kind[, d])), answers REQ with the stored events that
// match (newest first, up to `limit`) then EOSE, streams later matches to open subscriptions,
// honours CLOSE, and answers malformed input with NOTICE.
//
// Test hooks, in process (`startRelay()` returns the relay) and over HTTP on a second port
// (controlURL, plain HTTP, so it keeps working in every mode) for the C tests:
// GET /_test/state, POST /_test/mode {"mode"}, POST /_test/drop, POST /_test/inject [events],
// POST /_test/reset:
//   mode      'normal'; 'drop' closes every new websocket right after the upgrade; 'refuse'
//             resets every new TCP connection; 'silent' accepts TCP and never answers the
//             upgrade; 'mute' upgrades and then ignores every message; 'garbage' answers every
//             message with non-JSON text; 'huge' answers with one message over 1 MiB;
//             'badaccept' answers the upgrade with a wrong Sec-WebSocket-Accept; 'nows' answers
//             it with HTTP 404.
//   dropAll() terminates every open connection.
//   inject(ev) stores an event without verifying it (a forged one, a future one) and sends it
//             to matching subscriptions, as a misbehaving relay would.
//   attempts  TCP connections accepted so far (dropped and refused ones included), with their
//             times in attemptTimes; connections: websockets opened; received: every EVENT a
//             client sent, with its verdict; reqs: every REQ's filters.
//
// As a program: `node relay/relay.js [--port N] [--tls-cert F --tls-key F] [--socks]` prints one
// JSON line {"url","control","socks"} and serves until killed (--socks also starts socks5.js).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { matchFilters, verifyEvent } from 'nostr-tools';
import { WebSocketServer } from 'ws';

const MAX_PAYLOAD = 1 << 20;

function isReplaceable(kind) {
  return kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000);
}
function isAddressable(kind) {
  return kind >= 30000 && kind < 40000;
}
function dTag(ev) {
  return (ev.tags.find((t) => t[0] === 'd') ?? [])[1] ?? '';
}
function newer(a, b) {
  return a.created_at !== b.created_at ? a.created_at > b.created_at : a.id < b.id;
}

export async function startRelay({ port = 0, host = '127.0.0.1', tls } = {}) {
  const relay = {
    mode: 'normal',
    events: [],
    received: [],
    reqs: [],
    attempts: 0,
    attemptTimes: [],
    connections: 0,
    sockets: new Set(),
    clients: new Set(),
  };

  function store(ev) {
    if (relay.events.some((e) => e.id === ev.id)) return 'duplicate: already have this event';
    if (isReplaceable(ev.kind) || isAddressable(ev.kind)) {
      const same = (e) => e.pubkey === ev.pubkey && e.kind === ev.kind &&
        (!isAddressable(ev.kind) || dTag(e) === dTag(ev));
      const old = relay.events.find(same);
      if (old && !newer(ev, old)) return 'duplicate: have a newer event';
      relay.events = relay.events.filter((e) => !same(e));
    }
    relay.events.push(ev);
    return '';
  }

  function broadcast(ev) {
    for (const c of relay.clients) {
      for (const [sub, filters] of c.subs) {
        if (matchFilters(filters, ev)) c.send(JSON.stringify(['EVENT', sub, ev]));
      }
    }
  }

  function query(filters) {
    const sorted = [...relay.events].sort((a, b) => (newer(a, b) ? -1 : 1));
    const out = new Map();
    for (const f of filters) {
      let n = 0;
      for (const ev of sorted) {
        if (f.limit !== undefined && n >= f.limit) break;
        if (matchFilters([f], ev)) {
          out.set(ev.id, ev);
          n++;
        }
      }
    }
    return [...out.values()].sort((a, b) => (newer(a, b) ? -1 : 1));
  }

  function onMessage(c, data) {
    if (relay.mode === 'mute') return;
    if (relay.mode === 'garbage') return c.send('this is not json {');
    if (relay.mode === 'huge') return c.send(`["NOTICE","${'x'.repeat(MAX_PAYLOAD + 10)}"]`);
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return c.send(JSON.stringify(['NOTICE', 'error: could not parse message']));
    }
    if (!Array.isArray(msg)) return c.send(JSON.stringify(['NOTICE', 'error: not an array']));
    const [type, ...rest] = msg;
    if (type === 'EVENT') {
      const ev = rest[0];
      let ok = false;
      try {
        ok = verifyEvent(ev);
      } catch { /* malformed */ }
      const entry = { event: ev, ok, at: Date.now() };
      relay.received.push(entry);
      if (!ok) {
        return c.send(JSON.stringify(['OK', ev?.id ?? '', false, 'invalid: bad id or signature']));
      }
      const why = store(ev);
      c.send(JSON.stringify(['OK', ev.id, true, why]));
      if (!why) broadcast(ev);
    } else if (type === 'REQ') {
      const [sub, ...filters] = rest;
      if (typeof sub !== 'string' || filters.length === 0) {
        return c.send(JSON.stringify(['NOTICE', 'error: bad REQ']));
      }
      relay.reqs.push({ sub, filters, at: Date.now() });
      c.subs.set(sub, filters);
      for (const ev of query(filters)) c.send(JSON.stringify(['EVENT', sub, ev]));
      c.send(JSON.stringify(['EOSE', sub]));
    } else if (type === 'CLOSE') {
      c.subs.delete(rest[0]);
    } else {
      c.send(JSON.stringify(['NOTICE', `error: unknown message ${String(type).slice(0, 20)}`]));
    }
  }

  async function control(req, res) {
    const body = await new Promise((resolve) => {
      let s = '';
      req.on('data', (d) => { s += d; });
      req.on('end', () => resolve(s));
    });
    const reply = (obj, code = 200) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    const path = req.url.split('?')[0];
    if (path === '/_test/state') {
      return reply({ mode: relay.mode, attempts: relay.attempts, attemptTimes: relay.attemptTimes,
        connections: relay.connections, open: relay.clients.size, received: relay.received,
        events: relay.events, reqs: relay.reqs });
    }
    if (path === '/_test/mode' && req.method === 'POST') {
      relay.mode = JSON.parse(body).mode;
      return reply({ mode: relay.mode });
    }
    if (path === '/_test/drop' && req.method === 'POST') return reply({ dropped: relay.dropAll() });
    if (path === '/_test/reset' && req.method === 'POST') {
      relay.reset();
      return reply({});
    }
    if (path === '/_test/inject' && req.method === 'POST') {
      const evs = JSON.parse(body);
      for (const ev of Array.isArray(evs) ? evs : [evs]) relay.inject(ev);
      return reply({ stored: relay.events.length });
    }
    return reply({ error: 'not found' }, 404);
  }

  const notWs = (req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('a Nostr relay: connect with a websocket\n');
  };
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, notWs)
    : http.createServer(notWs);
  const ctlServer = http.createServer(control);
  server.on(tls ? 'secureConnection' : 'connection', (sock) => {
    relay.attempts++;
    relay.attemptTimes.push(Date.now());
    relay.sockets.add(sock);
    sock.on('close', () => relay.sockets.delete(sock));
    if (relay.mode === 'refuse') sock.destroy();
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  server.on('upgrade', (req, sock, head) => {
    if (relay.mode === 'silent') return; // never answer
    if (relay.mode === 'badaccept') {
      sock.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==AAAA\r\n\r\n');
      return;
    }
    if (relay.mode === 'nows') {
      sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, sock, head, (c) => {
      relay.connections++;
      if (relay.mode === 'drop') {
        c.terminate();
        return;
      }
      c.subs = new Map();
      relay.clients.add(c);
      c.on('message', (data) => onMessage(c, data));
      c.on('close', () => relay.clients.delete(c));
      c.on('error', () => relay.clients.delete(c));
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  await new Promise((resolve) => ctlServer.listen(0, host, resolve));
  relay.port = server.address().port;
  relay.url = `${tls ? 'wss' : 'ws'}://${host}:${relay.port}`;
  relay.controlURL = `http://${host}:${ctlServer.address().port}`;

  relay.dropAll = () => {
    const n = relay.clients.size;
    for (const c of relay.clients) c.terminate();
    relay.clients.clear();
    return n;
  };
  relay.inject = (ev) => {
    relay.events = relay.events.filter((e) => e.id !== ev.id);
    relay.events.push(ev);
    broadcast(ev);
  };
  relay.publish = (ev) => {
    if (!verifyEvent(ev)) return false;
    if (!store(ev)) broadcast(ev);
    return true;
  };
  relay.reset = () => {
    relay.mode = 'normal';
    relay.events = [];
    relay.received = [];
    relay.reqs = [];
    relay.attempts = 0;
    relay.attemptTimes = [];
    relay.connections = 0;
  };
  /** Resolves the first value of fn() that is truthy, polling every 20 ms. */
  relay.waitFor = async (fn, ms = 10000, what = 'condition') => {
    const end = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`relay: timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  relay.close = async () => {
    relay.dropAll();
    for (const s of relay.sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => ctlServer.close(resolve));
  };
  return relay;
}

/** The relay as a service of tests/e2e/lib/harness.js: routstr gets RELAYS=<its URL>. */
export function relayService(opts = {}) {
  return {
    name: 'relay',
    instance: undefined,
    async start() {
      this.instance = await startRelay(opts);
      return { env: { RELAYS: this.instance.url } };
    },
    async stop() {
      await this.instance?.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const tlsCert = opt('--tls-cert');
  const relay = await startRelay({ port: Number(opt('--port') ?? 0),
    tls: tlsCert ? { cert: tlsCert, key: opt('--tls-key') } : undefined });
  let socks;
  if (args.includes('--socks')) {
    const { startSocks5 } = await import('./socks5.js');
    socks = await startSocks5();
  }
  process.stdout.write(`${JSON.stringify({ url: relay.url, control: relay.controlURL,
    socks: socks?.port ?? null, socksControl: socks?.controlURL ?? null })}\n`);
  const stop = async () => {
    await relay.close();
    await socks?.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
