// harness.js -- starts the real routstr binary and its fakes for one test file, and the helpers
// the tests share.
//
// A Stack is the fake upstream (tests/upstream/fake-openai.js) plus routstr, both on 127.0.0.1
// and free ports, routstr running in its own temp dir (so no stray .env is read) with
// DATABASE_URL=sqlite:///<tmp>/routstr.db and a clean environment (only what the test file sets,
// on top of the defaults below). `useStack(opts)` registers the before/after hooks of node:test:
// start and wait for `/health`, then at the end SIGTERM, SIGKILL after a timeout, and fail the
// file unless routstr exited 0.
//
// More services (a test mint, a relay) slot in through `opts.services`: each is
// {name, start(stack) -> {env?}, stop(), reset?()}, started before routstr in order, and the env
// it returns is given to routstr (e.g. CASHU_MINTS).
//
// The binary is $ROUTSTR_BIN, default <repo>/build/routstr; build/san/routstr runs the same
// suite under ASan+UBSan (a leak at exit makes the exit status non-zero, which fails the file).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

import { startUpstream } from '../../upstream/fake-openai.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = process.env.ROUTSTR_BIN
  ? path.resolve(process.env.ROUTSTR_BIN) : path.join(REPO, 'build/routstr');
export const VERSION = fs.readFileSync(path.join(REPO, 'VERSION'), 'utf8').trim();

/** The operator's key for the upstream; must reach the upstream and nothing else. */
export const OPERATOR_KEY = 'sk-operator-e2e-0123456789abcdef';
/** What a client sends as its own key (the proxy must never forward it). */
export const CLIENT_KEY = 'sk-client-e2e-SECRET-fedcba9876543210';
/** Client credential headers that must never reach the upstream. */
export const CLIENT_CREDENTIALS = Object.freeze({
  'x-api-key': 'client-x-api-key-SECRET',
  cookie: 'session=client-cookie-SECRET',
  'x-cashu': 'cashuBclient-x-cashu-SECRET',
  'refund-lnurl': 'lnurl1client-refund-SECRET',
  'key-expiry-time': '1999999999',
  'proxy-authorization': 'Basic Y2xpZW50OlNFQ1JFVA==',
});
/** Headers every proxied response must expose to browsers. */
export const EXPOSED_HEADERS = ['x-routstr-request-id', 'x-cashu', 'x-routstr-cost-msats',
  'x-routstr-cost-usd', 'x-routstr-input-cost-msats', 'x-routstr-output-cost-msats'];

const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS ?? 15000);
const STOP_TIMEOUT_MS = Number(process.env.E2E_STOP_TIMEOUT_MS ?? 8000);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `message` if `promise` has not settled after ms. */
export function withTimeout(promise, ms, message) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${message ?? 'timed out'} (after ${ms} ms)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** A port that was free a moment ago (the OS picked it). */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** fetch() that gives up after ms (default 10 s). */
export async function fetchWithTimeout(url, init = {}, ms = 10000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(new Error(`fetch ${url} timed out after ${ms} ms`)), ms);
  const signal = init.signal ? AbortSignal.any([init.signal, ctl.signal]) : ctl.signal;
  try {
    return await fetch(url, { redirect: 'manual', ...init, signal });
  } finally {
    clearTimeout(t);
  }
}

/**
 * One HTTP/1.1 request over node:http on a fresh connection, with full control of the headers
 * (fetch refuses Connection, Keep-Alive, TE...). Resolves {status, headers, rawHeaders, body}.
 * body: Buffer|string; chunks: array of Buffers written with chunked encoding instead.
 * allowTruncated: an answer cut short (the connection closed before its end) resolves with
 * complete: false instead of rejecting.
 */
export function rawRequest(url, { method = 'GET', headers = {}, body, chunks, timeoutMs = 10000,
  signal, allowTruncated = false } = {}) {
  const hasLength = Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k));
  if (body != null && !chunks && !hasLength) {
    // node:http leaves a GET/DELETE body unframed: say its length, as any real client does.
    headers = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, signal }, (res) => {
      const parts = [];
      const answer = () => ({ status: res.statusCode, headers: res.headers,
        rawHeaders: res.rawHeaders, body: Buffer.concat(parts), complete: res.complete });
      res.on('data', (c) => parts.push(c));
      res.on('error', (err) => (allowTruncated ? resolve({ ...answer(), error: err }) : reject(err)));
      res.on('end', () => resolve(answer()));
      res.on('close', () => resolve(answer())); // after 'end' or 'error', this is a no-op
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (chunks) {
      for (const c of chunks) req.write(c);
      req.end();
    } else {
      req.end(body);
    }
  });
}

/**
 * Writes `bytes` on one raw TCP connection and collects what comes back until the peer closes or
 * nothing arrives for idleMs. Resolves the answer as a latin1 string.
 */
export function rawExchange(port, bytes, { idleMs = 500, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(bytes));
    let out = '';
    let idle;
    const done = () => {
      clearTimeout(idle);
      clearTimeout(hard);
      c.destroy();
      resolve(out);
    };
    const hard = setTimeout(done, timeoutMs);
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(done, idleMs);
    };
    arm();
    c.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    c.on('end', done);
    c.on('error', (e) => (out ? done() : reject(e)));
  });
}

/**
 * A fetch for the OpenAI SDK that remembers what the client really sent: method, url, headers and
 * the exact body bytes (multipart included), so a test can compare them with what the upstream
 * received.
 */
export function recordingFetch() {
  const sent = [];
  async function recFetch(url, init = {}) {
    const req = new Request(url, init);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : null;
    const entry = { method: req.method, url: req.url, headers: Object.fromEntries(req.headers),
      body };
    sent.push(entry);
    return fetch(req.url, { method: req.method, headers: req.headers, body,
      signal: init.signal, redirect: 'manual' });
  }
  return { fetch: recFetch, sent, get last() { return sent[sent.length - 1]; } };
}

/* ------------------------------------------------------------------------- the process */

function cleanEnv(extra) {
  const env = {};
  for (const k of ['PATH', 'LANG', 'LC_ALL', 'TZ', 'ASAN_OPTIONS', 'UBSAN_OPTIONS',
    'LSAN_OPTIONS', 'ASAN_SYMBOLIZER_PATH']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

/** Runs routstr to completion (--version, bad config...). Resolves {code, signal, stdout, stderr}. */
export async function runRoutstr(args = [], { env = {}, timeoutMs = 10000, cwd } = {}) {
  const dir = cwd ?? fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-e2e-run-'));
  const child = spawn(BIN, args, { env: cleanEnv(env), cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(t);
  if (!cwd) fs.rmSync(dir, { recursive: true, force: true });
  return { code, signal, stdout, stderr, timedOut: signal === 'SIGKILL' };
}

/**
 * A running routstr. start() spawns it and waits for the start line and `GET /health` → 200.
 */
export class Routstr {
  constructor({ env = {}, args = [], dir, port } = {}) {
    this.env = env;
    this.args = args;
    this.dir = dir;
    this.port = port;
    this.stderr = '';
    this.stdout = '';
    this.proc = undefined;
    this.exit = undefined; // {code, signal} once exited
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    const env = cleanEnv({ PORT: this.port, ...this.env });
    this.proc = spawn(BIN, this.args, { env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (c) => { this.stdout += c; });
    this.proc.stderr.on('data', (c) => { this.stderr += c; });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.proc.once('error', (err) => { this.spawnError = err; });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (this.spawnError) throw new Error(`cannot run ${BIN}: ${this.spawnError.message}`);
      if (this.exit) {
        throw new Error(`routstr exited during start (${JSON.stringify(this.exit)}):\n${this.stderr}`);
      }
      if (this.stderr.includes('serving http://')) {
        try {
          const r = await fetchWithTimeout(`${this.url}/health`, {}, 1000);
          await r.arrayBuffer();
          if (r.status === 200) return this;
        } catch { /* not yet */ }
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`routstr not serving after ${START_TIMEOUT_MS} ms (no 'serving http://' ` +
          `line or /health not 200); stderr:\n${this.stderr}`);
      }
      await sleep(20);
    }
  }

  /** SIGTERM, then SIGKILL after timeoutMs. Resolves {code, signal, killed, ms}. */
  async stop({ timeoutMs = STOP_TIMEOUT_MS } = {}) {
    if (!this.proc) return { code: null, signal: null, killed: false, ms: 0 };
    const t0 = Date.now();
    if (!this.exit) this.proc.kill('SIGTERM');
    let killed = false;
    const t = setTimeout(() => {
      killed = true;
      this.proc.kill('SIGKILL');
    }, timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(t);
    return { code, signal, killed, ms: Date.now() - t0 };
  }

  async kill() {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }

  /** The last n lines of stderr. */
  tail(n = 60) {
    return this.stderr.split('\n').slice(-n).join('\n');
  }
}

/* ----------------------------------------------------------------------------- a stack */

/** The fake upstream as a service. */
export function upstreamService(opts = {}) {
  return {
    name: 'upstream',
    instance: undefined,
    async start() {
      this.instance = await startUpstream(opts);
      return { env: { UPSTREAM_BASE_URL: this.instance.baseURL } };
    },
    reset() {
      this.instance?.reset();
    },
    async stop() {
      await this.instance?.close();
    },
  };
}

/**
 * opts: {env: extra routstr env (a null value removes a default; or a function of the started
 * stack returning it), args, upstream: false to run without the fake upstream, upstreamOpts,
 * services: more services}.
 */
export class Stack {
  constructor(opts = {}) {
    this.opts = opts;
    this.services = [];
    if (opts.upstream !== false) this.services.push(upstreamService(opts.upstreamOpts));
    this.services.push(...(opts.services ?? []));
    this.dir = undefined;
    this.routstr = undefined;
  }

  get upstream() {
    return this.services.find((s) => s.name === 'upstream')?.instance;
  }

  get url() {
    return this.routstr.url;
  }

  get baseURL() {
    return `${this.routstr.url}/v1`;
  }

  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-e2e-'));
    let env = {
      HOST: '127.0.0.1',
      UPSTREAM_API_KEY: OPERATOR_KEY,
      DATABASE_URL: `sqlite:///${path.join(this.dir, 'routstr.db')}`,
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
      ROUTSTR_SECRET_KEY_FILE: path.join(this.dir, 'secret.key'),
      // A free node (spec: FIXED_PRICING with FIXED_COST_PER_REQUEST=0): the proxy-core suites
      // test the path itself; the paid suites set their prices.
      FIXED_PRICING: 'true',
      FIXED_COST_PER_REQUEST: '0',
      // No public relays from tests (the Nostr suite runs its own relay).
      RELAYS: '',
    };
    for (const s of this.services) env = { ...env, ...((await s.start(this))?.env ?? {}) };
    const extra = typeof this.opts.env === 'function' ? this.opts.env(this) : this.opts.env;
    env = { ...env, ...(extra ?? {}) };
    this.routstr = new Routstr({ env, args: this.opts.args ?? [], dir: this.dir });
    await this.routstr.start();
    return this;
  }

  /** Stops routstr (SIGTERM) and every service. Resolves routstr's {code, signal, killed}. */
  async stop() {
    const res = this.routstr ? await this.routstr.stop() : undefined;
    for (const s of [...this.services].reverse()) await s.stop();
    if (this.dir && !process.env.E2E_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
    return res;
  }

  reset() {
    for (const s of this.services) s.reset?.();
  }

  /** fetch() against routstr: path like '/v1/info'. */
  fetch(p, init = {}, ms = 10000) {
    return fetchWithTimeout(`${this.url}${p}`, init, ms);
  }

  /** rawRequest() against routstr. */
  raw(p, opts) {
    return rawRequest(`${this.url}${p}`, opts);
  }

  /** An OpenAI client pointed at routstr. opts go to the constructor; `recorder` from recordingFetch(). */
  openai({ recorder, apiKey = CLIENT_KEY, ...opts } = {}) {
    return new OpenAI({ baseURL: this.baseURL, apiKey, maxRetries: 0, timeout: 10000,
      ...(recorder ? { fetch: recorder.fetch } : {}), ...opts });
  }

  /** Wraps a test body: on failure, the tail of routstr's stderr goes to the test's diagnostics. */
  guard(fn) {
    return async (t) => {
      try {
        return await fn(t);
      } catch (err) {
        const log = this.routstr ? this.routstr.tail(40) : '(routstr not started)';
        t.diagnostic(`routstr stderr (last lines):\n${log}`);
        const reqs = this.upstream?.requests ?? [];
        t.diagnostic(`upstream saw ${reqs.length} request(s): ` +
          reqs.map((r) => `${r.method} ${r.url}`).join(', '));
        throw err;
      }
    };
  }

  /** node:test's test() with guard() and a timeout. */
  test(name, opts, fn) {
    if (typeof opts === 'function') [opts, fn] = [{}, opts];
    return test(name, { timeout: 15000, ...opts }, this.guard(fn));
  }
}

/**
 * A Stack for the whole test file: started in before(), reset (recorded requests, behaviour)
 * after each test, stopped in after() with a check that routstr exited 0 on SIGTERM.
 */
export function useStack(opts = {}) {
  const stack = new Stack(opts);
  before(async () => {
    await stack.start();
  });
  afterEach(() => stack.reset());
  after(async () => {
    const res = await stack.stop();
    if (!res) return;
    assert.equal(res.killed, false,
      `routstr did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; stderr:\n${stack.routstr.tail()}`);
    assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null },
      `routstr must exit 0 on SIGTERM; stderr:\n${stack.routstr.tail()}`);
  });
  return stack;
}

/* ----------------------------------------------------------------------- shared checks */

/**
 * What reached the upstream carries the operator's key (or no Authorization when operatorKey is
 * null) and none of the client's credentials, in names or values.
 */
export function assertUpstreamCredentials(record, operatorKey = OPERATOR_KEY) {
  const h = record.headers;
  if (operatorKey === null) {
    assert.equal(h.authorization, undefined, 'no Authorization upstream without UPSTREAM_API_KEY');
  } else {
    assert.equal(h.authorization, `Bearer ${operatorKey}`, 'upstream Authorization is the operator key');
  }
  for (const name of Object.keys(CLIENT_CREDENTIALS)) {
    assert.equal(h[name], undefined, `client header ${name} must not reach the upstream`);
  }
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    const [name, value] = [record.rawHeaders[i], record.rawHeaders[i + 1]];
    assert.ok(!value.includes('SECRET') && !value.includes(CLIENT_KEY),
      `a client secret reached the upstream in ${name}: ${value}`);
  }
}

/** The response carries a request id (and it is a non-empty token). */
export function assertRequestId(headers) {
  const id = headers instanceof Headers ? headers.get('x-routstr-request-id')
    : headers['x-routstr-request-id'];
  assert.ok(typeof id === 'string' && /^[A-Za-z0-9._:-]{8,}$/.test(id),
    `x-routstr-request-id missing or malformed: ${id}`);
  return id;
}

/** A proxy error envelope {"error":{"message","type","code"},"request_id"} matching the header. */
export function assertErrorEnvelope(json, headers) {
  assert.equal(typeof json, 'object');
  assert.equal(typeof json.error, 'object', `no error object in ${JSON.stringify(json)}`);
  assert.equal(typeof json.error.message, 'string');
  assert.ok(json.error.message.length > 0);
  assert.equal(typeof json.error.type, 'string');
  assert.ok(['string', 'number'].includes(typeof json.error.code), 'error.code is a string or number');
  const id = assertRequestId(headers);
  assert.equal(json.request_id, id, 'request_id in the body equals x-routstr-request-id');
}

/** Two byte strings are equal; on failure says where they first differ instead of dumping them. */
export function assertSameBytes(actual, expected, what = 'bytes') {
  const a = Buffer.from(actual ?? []);
  const e = Buffer.from(expected ?? []);
  if (a.equals(e)) return;
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  const show = (b) => JSON.stringify(b.subarray(Math.max(0, i - 20), i + 40).toString('latin1'));
  assert.fail(`${what} differ: ${a.length} bytes vs ${e.length} expected, first difference at ` +
    `offset ${i}: got ${show(a)}, expected ${show(e)}`);
}
