// paid.js -- helpers shared by the paid-path and admin suites (50-paid, 55-concurrency, 56-crash,
// 84-admin-api, 85-admin-ui): the test mint, the fake exchange and a models.json as harness
// services, keys made from tokens, the balance API, `routstr audit`, SSE parsing and PostgreSQL
// wiping. Not a test file (node --test only runs *.test.js).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startExchange } from '../../exchange/fake-exchange.js';
import { startMint } from '../../mint/mint.js';
import { mintTokens, walletFor } from '../../mint/testkit.js';
import { BIN, fetchWithTimeout } from './harness.js';

export const sum = (proofs) => proofs.reduce((a, p) => a + Number(p.amount), 0);

/** The account a token names: "sk-" + hex(sha256(token)) (routstr-api.md §2.2). */
export function keyOfToken(token) {
  return `sk-${crypto.createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** A syntactically valid key nobody holds. */
export function randomKey() {
  return `sk-${crypto.randomBytes(32).toString('hex')}`;
}

/**
 * The test mint as a harness service: routstr gets CASHU_MINTS. `svc.mint` is the mint,
 * `svc.wallet` a cashu-ts 2.5.3 wallet on it, `svc.token(sats)` a fresh cashuB token.
 */
export function mintService(opts = {}) {
  return {
    name: 'mint',
    mint: undefined,
    wallet: undefined,
    async start() {
      this.mint = await startMint(opts);
      this.wallet = await walletFor(this.mint.url);
      return { env: { CASHU_MINTS: this.mint.url } };
    },
    async token(sats) {
      return getEncodedTokenV4({ mint: this.mint.url, proofs: await mintTokens(this.wallet, sats) });
    },
    async proofs(sats) {
      return mintTokens(this.wallet, sats);
    },
    reset() {
      this.mint?.setFault({ reset: true });
    },
    async stop() {
      await this.mint?.close();
    },
  };
}

/** The fake exchange at `price` USD per BTC as a harness service: routstr gets BTC_PRICE_SOURCES. */
export function exchangeService(price) {
  return {
    name: 'exchange',
    exchange: undefined,
    async start() {
      this.exchange = await startExchange({ price });
      return { env: { BTC_PRICE_SOURCES: this.exchange.sources } };
    },
    async stop() {
      await this.exchange?.close();
    },
  };
}

/** A models.json of `models` in the stack's dir as a harness service: routstr gets MODELS_PATH. */
export function modelsService(models) {
  return {
    name: 'models',
    file: undefined,
    start(stack) {
      this.file = path.join(stack.dir, 'models.json');
      fs.writeFileSync(this.file, JSON.stringify({ data: models }));
      return { env: { MODELS_PATH: this.file } };
    },
    stop() {},
  };
}

/** JSON of a fetch Response (null when the body is not JSON), with status and headers. */
export async function jsonOf(res) {
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}

/** GET /v1/balance/create?initial_balance_token= (or POST JSON with post: true). */
export async function createKey(base, token, { post = false } = {}) {
  const res = post
    ? await fetchWithTimeout(`${base}/v1/balance/create`, { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ initial_balance_token: token }) })
    : await fetchWithTimeout(`${base}/v1/balance/create?initial_balance_token=${encodeURIComponent(token)}`);
  return jsonOf(res);
}

/** A funded key: {key, msat}. Asserts the create succeeded. */
export async function fundedKey(base, svc, sats) {
  const token = await svc.token(sats);
  const r = await createKey(base, token);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.balance, sats * 1000, r.text);
  return { key: r.json.api_key, msat: sats * 1000, token };
}

/** GET /v1/balance/info with Bearer `key`: {status, json}. */
export async function info(base, key) {
  return jsonOf(await fetchWithTimeout(`${base}/v1/balance/info`,
    { headers: { authorization: `Bearer ${key}` } }));
}

/** The balance info of a key that must exist. */
export async function balanceOf(base, key) {
  const r = await info(base, key);
  assert.equal(r.status, 200, `balance info: ${r.text}`);
  return r.json;
}

/** Polls the key's info until `pred(json)` holds (or fails after timeoutMs with the last one). */
export async function waitInfo(base, key, pred, timeoutMs = 5000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await balanceOf(base, key);
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      assert.fail(`balance info never met ${what} within ${timeoutMs} ms: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** POST /v1/balance/topup with the token in the JSON body, or in ?cashu_token= (query: true). */
export async function topup(base, key, token, { query = false } = {}) {
  const url = query ? `${base}/v1/balance/topup?cashu_token=${encodeURIComponent(token)}`
    : `${base}/v1/balance/topup`;
  return jsonOf(await fetchWithTimeout(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`,
      ...(query ? {} : { 'content-type': 'application/json' }) },
    body: query ? undefined : JSON.stringify({ cashu_token: token }),
  }));
}

/** POST /v1/balance/refund with Bearer `key`. */
export async function refund(base, key) {
  return jsonOf(await fetchWithTimeout(`${base}/v1/balance/refund`, { method: 'POST',
    headers: { authorization: `Bearer ${key}` } }));
}

/** GET /v1/balance/history: the ledger rows of a key. */
export async function history(base, key) {
  const r = await jsonOf(await fetchWithTimeout(`${base}/v1/balance/history`,
    { headers: { authorization: `Bearer ${key}` } }));
  assert.equal(r.status, 200, r.text);
  return r.json.transactions;
}

/** A raw JSON POST to routstr (the reply parsed), for the exact error bodies. */
export async function postJson(base, path, body, headers = {}, ms = 10000) {
  return jsonOf(await fetchWithTimeout(`${base}${path}`, { method: 'POST',
    headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, ms));
}

/** `routstr audit` on a database: resolves {status, out}. Asynchronous: servers keep running. */
export function audit(databaseUrl, { timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['audit'], { cwd: os.tmpdir(), env: { PATH: process.env.PATH,
      ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '', DATABASE_URL: databaseUrl, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status, signal) => {
      clearTimeout(t);
      resolve({ status, signal, out });
    });
  });
}

/** Asserts that `routstr audit` exits 0 on the database. */
export async function assertAudit(databaseUrl, what = '') {
  const r = await audit(databaseUrl);
  assert.equal(r.status, 0, `routstr audit must pass${what ? ` (${what})` : ''}:\n${r.out}`);
  return r.out;
}

/** Splits an SSE body into events: [{event, data, raw}] (comments dropped). */
export function parseSse(text) {
  const events = [];
  for (const block of text.replace(/\r\n/g, '\n').split('\n\n')) {
    if (!block.trim()) continue;
    let event;
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length === 0 && event === undefined) continue;
    events.push({ event, data: data.join('\n'), raw: block });
  }
  return events;
}

/** PostgreSQL: wipes the database at `url` (its public schema). Throws when psql fails. */
export function pgWipe(url) {
  const r = spawnSync('psql', [url, '-qc', 'DROP SCHEMA public CASCADE; CREATE SCHEMA public'],
    { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`psql could not wipe ${url}: ${r.stderr || r.error}`);
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The key_hash a key is stored under: sha256hex of the 64 hex digits after "sk-". */
export function keyHashOf(key) {
  return crypto.createHash('sha256').update(key.slice(3).toLowerCase(), 'utf8').digest('hex');
}

/**
 * Runs one SQL query on routstr's database (sqlite3 or psql command-line client) and returns the
 * rows as arrays of strings. For reading what the HTTP API does not show (reservation states).
 */
export function dbRows(databaseUrl, sql) {
  let r;
  if (databaseUrl.startsWith('sqlite:///')) {
    r = spawnSync('sqlite3', ['-batch', '-noheader', '-separator', '|', '-cmd', '.timeout 5000',
      databaseUrl.slice('sqlite:///'.length), sql], { encoding: 'utf8', timeout: 20000 });
  } else {
    r = spawnSync('psql', [databaseUrl, '-qAtF', '|', '-c', sql], { encoding: 'utf8', timeout: 20000 });
  }
  if (r.status !== 0) throw new Error(`query failed (${sql}): ${r.stderr || r.error}`);
  return r.stdout.split('\n').filter((l) => l.length).map((l) => l.split('|'));
}

/** {status: count} of a key's reservations. */
export function reservationStates(databaseUrl, key) {
  const rows = dbRows(databaseUrl, `SELECT status, COUNT(*) FROM reservations WHERE key_hash = '${keyHashOf(key)}' GROUP BY status`);
  return Object.fromEntries(rows.map(([st, n]) => [st, Number(n)]));
}
