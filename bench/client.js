#!/usr/bin/env node
// client.js -- the benchmark's own HTTP/1.1 clients (bench/run.sh), on raw sockets so that
// nothing between the wire and the clock buffers or parses more than needed.
//
//   node client.js sse  --url URL --n N [--warm W] [--trace 1]
//        N streamed chat completions one after another on one keep-alive connection. Per
//        request: time to first byte (first byte of the status line), time to the first SSE
//        event, total time (to the end of the chunked body), and the mean arrival time of its
//        SSE events (for the per-chunk forward delay). Prints "RESULT {json}" with medians;
//        with --trace 1 also "TRACE [ms, ...]", each event's arrival time, for every request.
//   node client.js hold --url URL --n N [--par P] [--timeout S] [--max-hold S] [--ready-file F]
//        Opens N connections (at most P connecting at once), each with one streamed request that
//        the upstream answers with a first event and then keeps open, idle. Prints
//        "READY {json}" once every stream has its first event (or the timeout passed; the same
//        JSON is written to F), holds
//        them until SIGUSR2 (or max-hold seconds), resets them all (RST: no TIME_WAIT) and
//        prints "DONE".
//   node client.js slow --url URL --rate BYTES_PER_S
//        One streamed request read at a limited rate. Prints "PROGRESS {json}" every 0.5 s and
//        "RESULT {json}" at the end (bytes of body, complete or not, seconds).
//   node client.js xcashu --url URL --mint MINT_URL --n N [--warm W] [--sats S] [--par P]
//        (scenario SX) First mints W + N tokens of S sats (default 1) at the test mint with
//        cashu-ts (from tests/node_modules), untimed; then N + W chat completions (not
//        streamed) one after another on one keep-alive connection, each paid with a fresh token
//        in X-Cashu and no key. Prints "RESULT {json}": p50/p90 of the total time per request.
//
// Every request is POST with a small JSON body and a client key, as an OpenAI SDK sends it: a
// dummy one (which only a free node accepts), or with --key-env NAME the key in the environment
// variable NAME (the funded sk- key of the billed routstr; kept out of command lines).
'use strict';
const net = require('net');

function args() {
  const a = { _: process.argv[2] };
  for (let i = 3; i < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  return a;
}

const BODY = JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'Say hello in one word.' }],
  max_tokens: 16,
  stream: true,
});

let clientKey = 'sk-bench-client-key';

function requestBytes(u) {
  return Buffer.from(
    `POST ${u.pathname}${u.search} HTTP/1.1\r\n` +
      `Host: ${u.host}\r\n` +
      'Content-Type: application/json\r\n' +
      'Accept: text/event-stream\r\n' +
      `Authorization: Bearer ${clientKey}\r\n` +
      `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`
  );
}

const now = () => Number(process.hrtime.bigint()) / 1000; // microseconds

// Incremental HTTP/1.1 response parser: head, then a Content-Length or chunked body. Calls
// onHead(status, headers), onBody(buf) for decoded body bytes, onEnd() at the end of the body.
class Response {
  constructor(cb) {
    this.cb = cb;
    this.head = Buffer.alloc(0);
    this.state = 'head';
    this.left = 0; // bytes left in the current chunk / body
    this.line = '';
    this.keepAlive = true;
  }
  feed(buf) {
    let i = 0;
    while (i < buf.length && this.state !== 'done') {
      if (this.state === 'head') {
        this.head = Buffer.concat([this.head, buf.subarray(i)]);
        const end = this.head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const rest = this.head.subarray(end + 4);
        const lines = this.head.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        const h = {};
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          h[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
        }
        this.status = status;
        this.headers = h;
        if ((h.connection || '').toLowerCase() === 'close') this.keepAlive = false;
        this.cb.onHead && this.cb.onHead(status, h);
        if (/chunked/i.test(h['transfer-encoding'] || '')) this.state = 'size';
        else if (h['content-length'] !== undefined) {
          this.left = Number(h['content-length']);
          this.state = 'fixed';
          if (this.left === 0) this.finish();
        } else this.state = 'eof';
        buf = rest;
        i = 0;
        continue;
      }
      if (this.state === 'size' || this.state === 'trailer') {
        const nl = buf.indexOf(10, i);
        if (nl < 0) {
          this.line += buf.toString('latin1', i);
          return;
        }
        const line = (this.line + buf.toString('latin1', i, nl)).replace(/\r$/, '');
        this.line = '';
        i = nl + 1;
        if (this.state === 'trailer') {
          if (line === '') this.finish();
          continue;
        }
        const size = parseInt(line, 16);
        if (size === 0) this.state = 'trailer';
        else {
          this.left = size;
          this.state = 'data';
        }
        continue;
      }
      if (this.state === 'data' || this.state === 'fixed' || this.state === 'eof') {
        const n = this.state === 'eof' ? buf.length - i : Math.min(this.left, buf.length - i);
        if (n > 0) this.cb.onBody && this.cb.onBody(buf.subarray(i, i + n));
        i += n;
        this.left -= n;
        if (this.state === 'fixed' && this.left === 0) this.finish();
        else if (this.state === 'data' && this.left === 0) this.state = 'crlf';
        continue;
      }
      if (this.state === 'crlf') {
        const nl = buf.indexOf(10, i);
        if (nl < 0) return;
        i = nl + 1;
        this.state = 'size';
      }
    }
  }
  finish() {
    this.state = 'done';
    this.cb.onEnd && this.cb.onEnd();
  }
}

function pct(a, p) {
  if (a.length === 0) return null;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function connect(u) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    s.setNoDelay(true);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// One request on a keep-alive connection: writes 'req' and resolves with h.finish(response, t0)
// when the response ends, or with h.closed if the connection drops first. h.onData(t0) sees each
// arrival on the wire, h.onBody(buf, t0) each piece of decoded body; t0 is when 'req' was written.
function exchange(sock, req, h) {
  return new Promise((resolve) => {
    let t0;
    const p = new Response({
      onBody: h.onBody && ((b) => h.onBody(b, t0)),
      onEnd() {
        cleanup();
        resolve(h.finish(p, t0));
      },
    });
    const onData = (d) => {
      if (h.onData) h.onData(t0);
      p.feed(d);
    };
    const onClose = () => {
      cleanup();
      resolve(h.closed);
    };
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('error', onClose);
    };
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.once('error', onClose);
    t0 = now();
    sock.write(req);
  });
}

// ---- sse: timed streamed requests, one at a time on one keep-alive connection ----
async function sse(a) {
  const u = new URL(a.url);
  const n = Number(a.n || 100);
  const warm = Number(a.warm || 5);
  const req = requestBytes(u);
  let sock = null;
  const res = { ttfb: [], first_event: [], total: [], event_mean: [], events: [], failures: 0 };
  for (let k = 0; k < warm + n; k++) {
    if (sock === null) sock = await connect(u);
    let tFirst = null, tEvent = null, nl = false, events = 0, evSum = 0, bytes = 0;
    const arrivals = [];
    const r = await exchange(sock, req, {
      onData(t0) {
        if (tFirst === null) tFirst = now() - t0;
      },
      onBody(b, t0) {
        const t = now();
        bytes += b.length;
        for (let j = 0; j < b.length; j++) {
          if (b[j] === 10) {
            if (nl) {
              events++;
              evSum += t - t0;
              arrivals.push(Math.round((t - t0) / 100) / 10);
              if (tEvent === null) tEvent = t - t0;
            }
            nl = true;
          } else if (b[j] !== 13) nl = false;
        }
      },
      finish(p, t0) {
        if (a.trace) console.log('TRACE ' + JSON.stringify(arrivals));
        return { ok: p.status === 200, ttfb: tFirst, first_event: tEvent, total: now() - t0,
                 events, event_mean: events ? evSum / events : null, bytes, keep: p.keepAlive };
      },
      closed: { ok: false, keep: false },
    });
    if (!r.keep) {
      sock.destroy();
      sock = null;
    }
    if (k < warm) continue;
    if (!r.ok) {
      res.failures++;
      continue;
    }
    res.ttfb.push(r.ttfb);
    res.first_event.push(r.first_event);
    res.total.push(r.total);
    res.event_mean.push(r.event_mean);
    res.events.push(r.events);
  }
  if (sock) sock.destroy();
  const out = { n: res.total.length, failures: res.failures, events_min: Math.min(...res.events),
                events_max: Math.max(...res.events) };
  for (const key of ['ttfb', 'first_event', 'total', 'event_mean']) {
    out[key + '_p50'] = Math.round(pct(res[key], 50));
    out[key + '_p90'] = Math.round(pct(res[key], 90));
  }
  console.log('RESULT ' + JSON.stringify(out));
}

// ---- hold: N idle streams held open ----
async function hold(a) {
  const u = new URL(a.url);
  const n = Number(a.n);
  const par = Number(a.par || 200);
  const timeoutMs = Number(a.timeout || 60) * 1000;
  const req = requestBytes(u);
  const socks = [];
  let open = 0, failed = 0, started = 0, pending = 0;
  const errors = {};
  const t0 = Date.now();
  await new Promise((resolve) => {
    const deadline = setTimeout(resolve, timeoutMs);
    const next = () => {
      if (open + failed === n) {
        clearTimeout(deadline);
        resolve();
        return;
      }
      while (started < n && pending < par) {
        started++;
        pending++;
        const s = net.connect({ host: u.hostname, port: Number(u.port) });
        socks.push(s);
        let done = false;
        const settle = (ok, why) => {
          if (done) return;
          done = true;
          pending--;
          if (ok) open++;
          else {
            failed++;
            errors[why] = (errors[why] || 0) + 1;
          }
          next();
        };
        const p = new Response({
          onHead(status) {
            if (status !== 200) settle(false, 'status ' + status);
          },
          onBody() {
            settle(true);
          },
          onEnd() {
            settle(false, 'stream ended');
          },
        });
        s.on('connect', () => s.write(req));
        s.on('data', (d) => p.feed(d));
        s.on('error', (e) => settle(false, e.code || String(e)));
        s.on('close', () => settle(false, 'closed'));
      }
    };
    next();
  });
  const ready = JSON.stringify({ n, open, failed, errors, open_ms: Date.now() - t0 });
  console.log('READY ' + ready);
  if (a['ready-file']) require('fs').writeFileSync(a['ready-file'], ready + '\n');
  await new Promise((resolve) => {
    process.once('SIGUSR2', resolve);
    setTimeout(resolve, Number(a['max-hold'] || 300) * 1000);
  });
  for (const s of socks) {
    s.removeAllListeners('close');
    s.on('error', () => {});
    if (!s.destroyed) {
      if (s.readyState === 'open') s.resetAndDestroy();
      else s.destroy();
    }
  }
  console.log('DONE');
  process.exit(0);
}

// ---- slow: one stream read at a limited rate ----
async function slow(a) {
  const u = new URL(a.url);
  const rate = Number(a.rate || 204800);
  const s = await connect(u);
  let bytes = 0;
  let wire = 0;
  const t0 = Date.now();
  const progress = setInterval(() => {
    console.log('PROGRESS ' + JSON.stringify({ ms: Date.now() - t0, body_bytes: bytes, wire_bytes: wire }));
  }, 500);
  const r = await new Promise((resolve) => {
    const p = new Response({
      onBody(b) {
        bytes += b.length;
      },
      onEnd() {
        resolve({ complete: true, status: p.status });
      },
    });
    s.on('data', (d) => {
      wire += d.length;
      p.feed(d);
      const due = t0 + (wire / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) {
        s.pause();
        setTimeout(() => s.resume(), wait);
      }
    });
    s.on('close', () => resolve({ complete: false, status: p.status }));
    s.on('error', () => {});
    s.write(requestBytes(u));
  });
  clearInterval(progress);
  s.destroy();
  console.log('RESULT ' + JSON.stringify({ ...r, body_bytes: bytes, wire_bytes: wire, secs: (Date.now() - t0) / 1000 }));
}

// ---- xcashu (scenario SX): requests paid per request with a fresh token each ----
// Kept apart from the modes above: it is the only one with a dependency (cashu-ts, loaded from
// the tests' node_modules) and the only one that pays.
async function xcashu(a) {
  const path = require('path');
  const { pathToFileURL } = require('url');
  const lib = path.join(__dirname, '..', 'tests', 'node_modules', '@cashu', 'cashu-ts', 'lib', 'cashu-ts.es.js');
  const { CashuMint, CashuWallet, getEncodedTokenV4 } = await import(pathToFileURL(lib).href);
  const u = new URL(a.url);
  const n = Number(a.n || 50);
  const warm = Number(a.warm || 3);
  const sats = Number(a.sats || 1);
  const par = Number(a.par || 8);
  const wallet = new CashuWallet(new CashuMint(a.mint));
  await wallet.loadMint();
  const tokens = [];
  const t0 = Date.now();
  for (let k = 0; k < warm + n; k += par) { // minting is not timed
    const batch = Array.from({ length: Math.min(par, warm + n - k) }, async () => {
      const quote = await wallet.createMintQuote(sats);
      const proofs = await wallet.mintProofs(sats, quote.quote);
      return getEncodedTokenV4({ mint: a.mint, proofs });
    });
    tokens.push(...(await Promise.all(batch)));
  }
  const mintMs = Date.now() - t0;
  const body = JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content: 'Say hello in one word.' }],
    max_tokens: 16 });
  let sock = null;
  const total = [];
  const statuses = {};
  let failures = 0;
  for (let k = 0; k < warm + n; k++) {
    if (sock === null) sock = await connect(u);
    const req = Buffer.from(
      `POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\n` +
        `X-Cashu: ${tokens[k]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const r = await exchange(sock, req, {
      finish: (p, t0) => ({ status: p.status, total: now() - t0, keep: p.keepAlive }),
      closed: { status: 0, keep: false },
    });
    if (!r.keep) {
      sock.destroy();
      sock = null;
    }
    if (k < warm) continue;
    statuses[r.status] = (statuses[r.status] || 0) + 1;
    if (r.status !== 200) failures++;
    else total.push(r.total);
  }
  if (sock) sock.destroy();
  console.log('RESULT ' + JSON.stringify({ n: total.length, failures, statuses, mint_ms: mintMs,
    total_p50: Math.round(pct(total, 50)), total_p90: Math.round(pct(total, 90)),
    total_min: Math.round(Math.min(...total)) }));
}

const a = args();
const modes = { sse, hold, slow, xcashu };
if (!modes[a._]) {
  console.error('usage: client.js sse|hold|slow|xcashu --url URL [--key-env NAME] ...');
  process.exit(2);
}
if (a['key-env']) {
  clientKey = process.env[a['key-env']];
  if (!clientKey) {
    console.error(`client.js: --key-env ${a['key-env']}: that variable is empty`);
    process.exit(2);
  }
}
modes[a._](a).catch((e) => {
  console.error('client.js: ' + (e.stack || e));
  process.exit(1);
});
