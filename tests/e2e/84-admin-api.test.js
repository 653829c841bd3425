// 84-admin-api: the operator's dashboard API (docs/admin-api.md) on a real routstr with the test
// mint, the fake exchange (BTC/USD 100,000: 1 USD = 1000 sats) and the fake upstream.
//
// Sessions: every route but login answers 401 without a valid cookie; a wrong password 401; the
// cookie's attributes; logout ends the session; five failures from one address make even the
// right password 429 with Retry-After (run last: it locks this stack's address out). A password
// generated at first start is printed exactly once and never again on restart; ADMIN_PASSWORD
// replaces it.
//
// Money: after paid traffic the overview is exact (owed = the keys' balances, owner = wallet -
// owed = the costs charged, today's earnings = those costs); a withdrawal is a token cashu-ts
// redeems for exactly that amount, the overview drops by it, more than the operator owns is 400
// with nothing moved, and `routstr audit` passes after each step. On PostgreSQL, two processes
// asked at the same moment for withdrawals that together exceed what the operator owns pay one.
//
// Models: a price override changes /v1/models and what a request costs; a disabled model
// disappears and is refused as unknown; reload reads an edited models.json (a bad one is refused,
// the old catalogue kept). Upstream: a key set through the API is used for the next request and
// never appears in any response. Settings: a bad value is 400 and nothing is stored; stored
// settings win over the environment across a restart (SQLite, and PostgreSQL with PG_TEST_URL,
// where a second process on the same database picks a change up by itself).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getDecodedToken, getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startMint } from '../mint/mint.js';
import { mintTokens, walletFor } from '../mint/testkit.js';
import { relayService } from '../relay/relay.js';
import { expectedChatUsage } from '../upstream/fake-openai.js';
import { REPO, Routstr, Stack, fetchWithTimeout, runRoutstr, sleep, useStack } from './lib/harness.js';
import {
  assertAudit, balanceOf, createKey, dbRows, exchangeService, fundedKey, jsonOf, keyHashOf,
  mintService, modelsService, pgWipe, sum,
} from './lib/paid.js';

const PASSWORD = 'admin-e2e-correct-horse';
const MODEL = {
  id: 'test/easy-model',
  name: 'Easy model',
  created: 1700000000,
  context_length: 1000,
  pricing: { prompt: '0.00000125', completion: '0.0000025', request: '0' },
  top_provider: { context_length: 1000, max_completion_tokens: 200 },
};
const OTHER = { ...MODEL, id: 'test/other-model', name: 'Other model' };
const NEW_UPSTREAM_KEY = 'sk-admin-set-upstream-KEY-0123456789-zyxw';

/** Every admin route with a method it answers. */
const ROUTES = [
  ['GET', '/admin/api/session'], ['POST', '/admin/api/logout'], ['GET', '/admin/api/overview'],
  ['POST', '/admin/api/withdraw'], ['GET', '/admin/api/keys'], ['GET', '/admin/api/transactions'],
  ['GET', '/admin/api/requests'], ['GET', '/admin/api/models'],
  ['PUT', '/admin/api/models/test%2Feasy-model'], ['POST', '/admin/api/models/reload'],
  ['GET', '/admin/api/upstream'], ['PUT', '/admin/api/upstream'], ['GET', '/admin/api/settings'],
  ['PUT', '/admin/api/settings'], ['GET', '/admin/api/nothing-here'],
];

/**
 * An admin API client for one routstr: remembers its session cookie and every response text
 * (so a test can check a secret never appeared in any of them).
 */
function adminClient(base) {
  const c = {
    cookie: undefined,
    seen: [],
    async call(method, p, body, { cookie = c.cookie, headers = {} } = {}) {
      const h = { ...headers };
      if (cookie) h.cookie = cookie;
      if (body !== undefined && h['content-type'] === undefined) h['content-type'] = 'application/json';
      const r = await jsonOf(await fetchWithTimeout(`${base()}${p}`, { method, headers: h,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) }));
      c.seen.push(r.text, JSON.stringify([...r.headers]));
      return r;
    },
    get: (p, o) => c.call('GET', p, undefined, o),
    post: (p, b = {}, o) => c.call('POST', p, b, o),
    put: (p, b, o) => c.call('PUT', p, b, o),
    async login(password = PASSWORD, o = {}) {
      const r = await c.call('POST', '/admin/api/login', { password }, { cookie: null, ...o });
      if (r.status === 200) c.cookie = r.headers.get('set-cookie').split(';')[0];
      return r;
    },
  };
  return c;
}

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.equal(typeof r.json.request_id, 'string');
}

const chatBody = (model = MODEL.id) => ({ model, messages: [{ role: 'user', content: 'Price me exactly.' }],
  max_tokens: 47 });

/* ------------------------------------------------------------------- one node, SQLite */

describe('admin API', () => {
  const mints = mintService();
  const models = modelsService([MODEL, OTHER]);
  const s = useStack({
    services: [mints, exchangeService(100000), models],
    env: { ADMIN_PASSWORD: PASSWORD, FIXED_PRICING: 'false', EXCHANGE_FEE: '1',
      UPSTREAM_PROVIDER_FEE: '1', PRICING_REFRESH_INTERVAL_SECONDS: '0.5',
      PRICE_MAX_AGE_SECONDS: '60' },
  });
  const db = () => s.routstr.env.DATABASE_URL;
  const admin = adminClient(() => s.url);
  const v1 = [];  // every /v1 response text, checked for the upstream key
  async function chat(key, body = chatBody()) {
    const r = await jsonOf(await s.fetch('/v1/chat/completions', { method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body) }));
    v1.push(r.text, JSON.stringify([...r.headers]));
    return r;
  }
  async function pricedModel(id = MODEL.id) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await jsonOf(await s.fetch('/v1/models'));
      v1.push(r.text);
      const m = r.json.data.find((x) => x.id === id);
      if (m?.sats_pricing) return m;
      if (Date.now() > deadline) assert.fail(`no sats_pricing for ${id}: ${r.text}`);
      await sleep(50);
    }
  }
  const overview = async () => {
    const r = await admin.get('/admin/api/overview');
    assert.equal(r.status, 200, r.text);
    return r.json;
  };

  s.test('without a session every route is 401; a bogus cookie too', async () => {
    for (const cookie of [undefined, 'routstr_admin=not-a-session', 'other=1']) {
      for (const [method, p] of ROUTES) {
        const r = await admin.call(method, p, method === 'GET' ? undefined : {}, { cookie });
        assertError(r, 401, 'admin_session_required');
      }
    }
  });

  s.test('login: wrong password 401; the right one sets a strict HttpOnly cookie; logout ends it', async () => {
    assertError(await admin.login('wrong'), 401, 'invalid_password');
    assertError(await admin.call('POST', '/admin/api/login', { password: PASSWORD },
      { headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    const r = await admin.login();
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ok: true });
    const sc = r.headers.get('set-cookie');
    assert.match(sc, /^routstr_admin=[A-Za-z0-9_-]{43}; /);
    for (const attr of ['Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=43200']) {
      assert.ok(sc.split('; ').includes(attr), `${attr} in ${sc}`);
    }
    assert.ok(!/Secure/.test(sc), 'no Secure over plain http');
    const behind = await admin.login(PASSWORD, { headers: { 'x-forwarded-proto': 'https' } });
    assert.ok(behind.headers.get('set-cookie').split('; ').includes('Secure'), 'Secure behind https');
    const sess = await admin.get('/admin/api/session');
    assert.equal(sess.status, 200, sess.text);
    assert.ok(sess.json.expires_at > Date.now() / 1000 + 43000);
    // Only the token's hash is stored.
    const token = admin.cookie.split('=')[1];
    const stored = dbRows(db(), 'SELECT token_hash FROM admin_sessions').map((x) => x[0]);
    assert.ok(!stored.includes(token) && stored.length >= 2);

    assertError(await admin.post('/admin/api/withdraw', 'amount_sat=1',
      { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415,
    'unsupported_media_type');
    const old = admin.cookie;
    const out = await admin.post('/admin/api/logout');
    assert.equal(out.status, 200, out.text);
    assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
    assertError(await admin.get('/admin/api/session', { cookie: old }), 401, 'admin_session_required');
    assert.equal((await admin.login()).status, 200);
  });

  let keyA;
  let keyB;
  let costs = 0;
  s.test('a price override changes /v1/models and the cost billed', async () => {
    const before = await pricedModel();
    assert.ok(Math.abs(before.sats_pricing.prompt - 0.00125) < 1e-12, JSON.stringify(before));
    const r = await admin.put('/admin/api/models/test%2Feasy-model',
      { override: { prompt: 0.0001, completion: 0.0002, request: 0 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, MODEL.id);
    assert.deepEqual(r.json.override, { prompt: 0.0001, completion: 0.0002, request: 0 });
    assert.equal(r.json.pricing.prompt, 0.0001);
    const m = await pricedModel();
    assert.ok(Math.abs(m.sats_pricing.prompt - 0.1) < 1e-12, `0.0001 USD = 0.1 sat: ${m.sats_pricing.prompt}`);
    assert.ok(Math.abs(m.sats_pricing.completion - 0.2) < 1e-12);

    ({ key: keyA } = await fundedKey(s.url, mints, 50));
    ({ key: keyB } = await fundedKey(s.url, mints, 30));
    const c = await chat(keyA);
    assert.equal(c.status, 200, c.text);
    const u = expectedChatUsage(s.upstream.requests.at(-1).json);
    const cost = 100 * u.prompt_tokens + 200 * u.completion_tokens;
    assert.equal(c.json.usage.cost.total_msats, cost);
    assert.equal((await balanceOf(s.url, keyA)).balance, 50000 - cost);
    costs += cost;
    const list = await admin.get('/admin/api/models');
    const easy = list.json.models.find((x) => x.id === MODEL.id);
    assert.ok(easy.sats_pricing && easy.enabled === true);
    assert.equal(list.json.models.find((x) => x.id === OTHER.id).override, null);
    assertError(await admin.put('/admin/api/models/nope%2Fmodel', { enabled: false }), 404, 'model_not_found');
    assertError(await admin.put('/admin/api/models/test%2Feasy-model', { override: { prompt: -1 } }),
      400, 'invalid_setting');
  });

  s.test('overview: owed = the keys\' balances, owner = wallet - owed = costs, earnings today', async () => {
    const c = await chat(keyB);
    assert.equal(c.status, 200, c.text);
    costs += c.json.usage.cost.total_msats;
    const a = (await balanceOf(s.url, keyA)).balance;
    const b = (await balanceOf(s.url, keyB)).balance;
    const o = await overview();
    assert.equal(o.balances.length, 1, JSON.stringify(o));
    const [bal] = o.balances;
    assert.equal(bal.mint, mints.mint.url);
    assert.equal(bal.unit, 'sat');
    assert.equal(bal.wallet_msat, 80000, 'the two deposits');
    assert.equal(bal.owed_msat, a + b);
    assert.equal(bal.owner_msat, 80000 - (a + b));
    assert.equal(bal.owner_msat, costs);
    assert.deepEqual(o.totals, { keys: 2, requests: 2, earned_msat: costs, withdrawn_msat: 0,
      reserved_msat: 0 });
    assert.equal(o.earnings.length, 30);
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(o.earnings.at(-1), { day: today, earned_msat: costs, requests: 2 });
    assert.equal(o.earnings.reduce((x, d) => x + d.earned_msat, 0), costs);
    await assertAudit(db(), 'after paid traffic');
  });

  s.test('keys, transactions and requests, with filters', async () => {
    const pa = keyHashOf(keyA).slice(0, 8);
    const pb = keyHashOf(keyB).slice(0, 8);
    const k = await admin.get('/admin/api/keys?order=balance&limit=1');
    assert.equal(k.status, 200, k.text);
    assert.equal(k.json.total, 2);
    assert.equal(k.json.keys.length, 1);
    assert.equal(k.json.keys[0].hash_prefix, pa, 'the larger balance first');
    assert.equal(k.json.keys[0].balance_msat, (await balanceOf(s.url, keyA)).balance);
    assert.equal(k.json.keys[0].total_requests, 1);
    assert.ok(!k.text.includes(keyHashOf(keyA)), 'never the full hash');
    const page2 = await admin.get('/admin/api/keys?order=balance&limit=1&offset=1');
    assert.equal(page2.json.keys[0].hash_prefix, pb);
    const past = await admin.get('/admin/api/keys?offset=10');
    assert.deepEqual(past.json, { keys: [], total: 2 });
    assertError(await admin.get('/admin/api/keys?order=nope'), 400, 'invalid_parameter');
    assertError(await admin.get('/admin/api/keys?limit=0'), 400, 'invalid_parameter');

    const t = await admin.get(`/admin/api/transactions?key=${pa}&kind=charge`);
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.total, 1);
    assert.equal(t.json.transactions[0].key, pa);
    assert.equal(t.json.transactions[0].kind, 'charge');
    assert.ok(t.json.transactions[0].amount_msat < 0);
    const deposits = await admin.get('/admin/api/transactions?kind=deposit');
    assert.equal(deposits.json.total, 2);
    assert.equal(sum(deposits.json.transactions.map((x) => ({ amount: x.amount_msat }))), 80000);
    const future = await admin.get(`/admin/api/transactions?since=${Math.floor(Date.now() / 1000) + 100}`);
    assert.equal(future.json.total, 0);
    assertError(await admin.get('/admin/api/transactions?key=XYZ'), 400, 'invalid_parameter');

    const rq = await admin.get(`/admin/api/requests?status=settled&key=${pb}`);
    assert.equal(rq.status, 200, rq.text);
    assert.equal(rq.json.total, 1);
    const [one] = rq.json.requests;
    assert.equal(one.key, pb);
    assert.equal(one.model, MODEL.id);
    assert.equal(one.path, '/v1/chat/completions');
    assert.equal(one.status, 'settled');
    assert.equal(typeof one.cost_msat, 'number');
    assert.equal((await admin.get(`/admin/api/requests?model=${encodeURIComponent(MODEL.id)}`)).json.total, 2);
    assert.equal((await admin.get('/admin/api/requests?status=reserved')).json.total, 0);
    assertError(await admin.get('/admin/api/requests?status=bogus'), 400, 'invalid_parameter');
  });

  s.test('withdraw: a token for exactly the amount; more than the operator owns moves nothing', async () => {
    const before = await overview();
    const owner = before.balances[0].owner_msat;
    assert.ok(owner >= 6000, `enough to withdraw: ${owner}`);
    const r = await admin.post('/admin/api/withdraw', { amount_sat: 5 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.amount_sat, 5);
    assert.equal(r.json.mint, mints.mint.url);
    assert.equal(r.json.unit, 'sat');
    assert.match(r.json.token, /^cashuB/);
    assert.equal(sum(getDecodedToken(r.json.token).proofs), 5);
    const got = await mints.wallet.receive(r.json.token);
    assert.equal(sum(got), 5, 'cashu-ts redeems it for exactly 5 sats');
    const afterW = await overview();
    assert.equal(afterW.balances[0].wallet_msat, before.balances[0].wallet_msat - 5000);
    assert.equal(afterW.balances[0].owner_msat, owner - 5000);
    assert.equal(afterW.balances[0].owed_msat, before.balances[0].owed_msat);
    assert.equal(afterW.totals.withdrawn_msat, 5000);
    const rows = await admin.get('/admin/api/transactions?key=owner&kind=withdraw');
    assert.equal(rows.json.total, 1);
    assert.equal(rows.json.transactions[0].amount_msat, -5000);
    assert.equal(rows.json.transactions[0].key, 'owner');
    await assertAudit(db(), 'after a withdrawal');

    const ledgerBefore = (await admin.get('/admin/api/transactions')).json.total;
    const proofsBefore = dbRows(db(), "SELECT COUNT(*), SUM(amount) FROM proofs WHERE state = 'unspent'");
    const tooMuch = Math.floor(afterW.balances[0].owner_msat / 1000) + 1;
    assertError(await admin.post('/admin/api/withdraw', { amount_sat: tooMuch }), 400,
      'insufficient_owner_balance');
    assertError(await admin.post('/admin/api/withdraw', { amount_sat: 0 }), 400, 'invalid_amount');
    assertError(await admin.post('/admin/api/withdraw', { amount_sat: 1, mint: 'http://127.0.0.1:1' }),
      400, 'invalid_mint');
    assert.deepEqual(await overview(), afterW, 'nothing moved');
    assert.equal((await admin.get('/admin/api/transactions')).json.total, ledgerBefore);
    assert.deepEqual(dbRows(db(), "SELECT COUNT(*), SUM(amount) FROM proofs WHERE state = 'unspent'"),
      proofsBefore);
    await assertAudit(db(), 'after a refused withdrawal');
  });

  s.test('a disabled model disappears from /v1/models and is refused as unknown', async () => {
    const r = await admin.put('/admin/api/models/test%2Fother-model', { enabled: false });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.enabled, false);
    const list = await jsonOf(await s.fetch('/v1/models'));
    assert.ok(!list.json.data.some((x) => x.id === OTHER.id), 'hidden');
    const c = await chat(keyA, chatBody(OTHER.id));
    assert.equal(c.status, 400, c.text);
    assert.equal(c.json.error.type, 'invalid_model');
    const back = await admin.put('/admin/api/models/test%2Fother-model', { enabled: true });
    assert.equal(back.json.enabled, true);
    await pricedModel(OTHER.id);
    // The override set before survived the toggle.
    const easy = (await admin.get('/admin/api/models')).json.models.find((x) => x.id === MODEL.id);
    assert.deepEqual(easy.override, { prompt: 0.0001, completion: 0.0002, request: 0 });
  });

  s.test('reload reads an edited models.json; a bad file is refused and the old one kept', async () => {
    const NEW = { ...MODEL, id: 'test/new-model', name: 'New model' };
    fs.writeFileSync(models.file, JSON.stringify({ data: [MODEL, OTHER, NEW] }));
    const r = await admin.post('/admin/api/models/reload');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { models: 3, source: models.file });
    await pricedModel(NEW.id);
    // Overrides apply to the reloaded catalogue.
    assert.ok(Math.abs((await pricedModel()).sats_pricing.prompt - 0.1) < 1e-12);
    fs.writeFileSync(models.file, '{"data": [ {"id": 5} ]');
    assertError(await admin.post('/admin/api/models/reload'), 400, 'invalid_models_file');
    await pricedModel(NEW.id);
    fs.writeFileSync(models.file, JSON.stringify({ data: [MODEL, OTHER] }));
  });

  s.test('the upstream key set here is used upstream and never shown', async () => {
    const g = await admin.get('/admin/api/upstream');
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.base_url, s.upstream.baseURL);
    assert.equal(g.json.api_key_set, true);
    assert.equal(g.json.api_key_masked, 'sk-…cdef', 'the environment\'s key, masked');
    const p = await admin.put('/admin/api/upstream', { api_key: NEW_UPSTREAM_KEY });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json, { base_url: s.upstream.baseURL, api_key_set: true,
      api_key_masked: 'sk-…zyxw' });
    assertError(await admin.put('/admin/api/upstream', { api_key: 'has space' }), 400, 'invalid_setting');
    assertError(await admin.put('/admin/api/upstream', { base_url: 'ftp://x' }), 400, 'invalid_setting');
    const c = await chat(keyA);
    assert.equal(c.status, 200, c.text);
    assert.equal(s.upstream.requests.at(-1).headers.authorization, `Bearer ${NEW_UPSTREAM_KEY}`);
    // Stored sealed, never in the clear.
    const stored = dbRows(db(), "SELECT value FROM settings WHERE key = 'upstream_api_key'")[0][0];
    assert.ok(stored.length > 2 * NEW_UPSTREAM_KEY.length && !stored.includes('KEY'));
    for (const p2 of ['/admin/api/settings', '/admin/api/upstream', '/admin/api/overview',
      '/admin/api/models', '/admin/api/transactions']) await admin.get(p2);
    v1.push(await (await s.fetch('/v1/info')).text(), await (await s.fetch('/')).text());
    for (const text of [...admin.seen, ...v1]) {
      assert.ok(!text.includes(NEW_UPSTREAM_KEY) && !text.includes('0123456789-zyxw'),
        `the upstream key leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(!s.routstr.stderr.includes(NEW_UPSTREAM_KEY), 'never logged');
    assert.ok(!s.routstr.stderr.includes(PASSWORD), 'the password is never logged');
  });

  s.test('settings: a bad value is 400 and nothing is stored; a good one takes effect at once', async () => {
    const before = await admin.get('/admin/api/settings');
    assert.equal(before.status, 200, before.text);
    assert.deepEqual(Object.keys(before.json).sort(), ['cashu_mints', 'description',
      'exchange_fee', 'fixed_cost_per_request', 'fixed_per_1k_input_tokens',
      'fixed_per_1k_output_tokens', 'fixed_pricing', 'http_url', 'min_request_msat', 'name',
      'onion_url', 'relays', 'tolerance_percentage', 'upstream_provider_fee']);
    assert.deepEqual(before.json.cashu_mints, [mints.mint.url]);
    for (const bad of [{ name: 'X', exchange_fee: -1 }, { name: 'X', http_url: 'not a url' },
      { name: 'X', cashu_mints: ['ftp://mint'] }, { name: 'X', fixed_pricing: 'yes' },
      { name: 'X', relays: ['https://not-a-relay'] }, { name: 'X', nonsense: 1 },
      { name: 'X', min_request_msat: 1.5 }]) {
      const r = await admin.put('/admin/api/settings', bad);
      assertError(r, 400, 'invalid_setting');
      const field = Object.keys(bad)[1];
      assert.ok(r.json.error.message.startsWith(`${field}:`), r.json.error.message);
    }
    assert.deepEqual((await admin.get('/admin/api/settings')).json, before.json, 'nothing stored');
    assert.equal(dbRows(db(), "SELECT COUNT(*) FROM settings WHERE key = 'NAME'")[0][0], '0');
    const ok = await admin.put('/admin/api/settings', { name: 'Admin-set name', description: 'd2',
      tolerance_percentage: 2.5 });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.name, 'Admin-set name');
    assert.equal(ok.json.tolerance_percentage, 2.5);
    const info = await jsonOf(await s.fetch('/v1/info'));
    assert.equal(info.json.name, 'Admin-set name');
    assert.equal(info.json.description, 'd2');
    await assertAudit(db(), 'at the end');
  });

  s.test('password checks run off the loop, two at a time: more at once are 429 while the node keeps serving', async () => {
    const logins = Array.from({ length: 6 }, () => adminClient(() => s.url));
    const pending = logins.map((c) => c.login());
    // While the checks run (scrypt on their threads), the loop still answers.
    const health = await s.fetch('/health');
    assert.equal(health.status, 200);
    const rs = await Promise.all(pending);
    const statuses = rs.map((r) => r.status).sort();
    assert.ok(statuses.every((x) => x === 200 || x === 429), statuses.join(','));
    assert.ok(statuses.filter((x) => x === 200).length >= 2, `two checked at once: ${statuses}`);
    assert.ok(statuses.includes(429), `six at once exceed two: ${statuses}`);
    for (const r of rs.filter((x) => x.status === 429)) {
      assertError(r, 429, 'too_many_login_attempts');
      assert.equal(r.headers.get('retry-after'), '1');
    }
    for (const c of logins.filter((_, i) => rs[i].status === 200)) {
      assert.equal((await c.get('/admin/api/session')).status, 200, 'each 200 is a session');
    }
  });

  s.test('five failed logins lock the address out for 15 minutes, even with the right password', async () => {
    for (let i = 0; i < 5; i++) assertError(await admin.login(`wrong-${i}`), 401, 'invalid_password');
    for (const pw of ['wrong-again', PASSWORD]) {
      const r = await admin.login(pw);
      assertError(r, 429, 'too_many_login_attempts');
      const after = Number(r.headers.get('retry-after'));
      assert.ok(after > 800 && after <= 900, `Retry-After ${after}`);
    }
    // A session made before still works.
    assert.equal((await admin.get('/admin/api/session')).status, 200);
  });
});

/* ------------------------------------------------------------- Nostr settings at runtime */

describe('admin settings reach the Nostr announcement', () => {
  const relaySvc = relayService();
  const s = useStack({ upstream: false, services: [relaySvc],
    env: { ADMIN_PASSWORD: PASSWORD, HTTP_URL: 'https://node.example', NAME: 'Before',
      RELAYS: '', NOSTR_BACKOFF_MIN_MS: '100' } });
  const admin = adminClient(() => s.url);
  const announcements = () => relaySvc.instance.received
    .filter((e) => e.event?.kind === 38421 && e.ok).map((e) => JSON.parse(e.event.content));

  s.test('relays set in the dashboard are connected; a new name is announced again', { timeout: 30000 }, async () => {
    assert.equal((await admin.login()).status, 200);
    await sleep(300);
    assert.equal(announcements().length, 0, 'no relay at start');
    const r = await admin.put('/admin/api/settings', { relays: [relaySvc.instance.url] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.relays, [relaySvc.instance.url]);
    await relaySvc.instance.waitFor(() => announcements().some((c) => c.name === 'Before'), 20000,
      'the announcement on the relay set at runtime');
    const n = await admin.put('/admin/api/settings', { name: 'After' });
    assert.equal(n.status, 200, n.text);
    await relaySvc.instance.waitFor(() => announcements().some((c) => c.name === 'After'), 20000,
      'the renamed announcement');
  });
});

/* --------------------------------------------------------------- mints changed at runtime */

describe('admin: trusted mints changed at runtime', () => {
  const m1 = mintService();
  let m2;
  const s = useStack({ services: [m1], env: { ADMIN_PASSWORD: PASSWORD, CASHU_MINTS: '',
    FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '1' } });
  after(async () => { await m2?.close(); });
  const admin = adminClient(() => s.url);
  const tokenOf = async (mint, sats) => getEncodedTokenV4({ mint: mint.url,
    proofs: await mintTokens(await walletFor(mint.url), sats) });

  s.test('a node without mints opens its wallet; a mint taken off the list is refused', { timeout: 30000 }, async () => {
    assert.equal((await admin.login()).status, 200);
    const before = await createKey(s.url, await m1.token(4));
    assert.notEqual(before.status, 200, 'no wallet at start');
    const put = await admin.put('/admin/api/settings', { cashu_mints: [m1.mint.url] });
    assert.equal(put.status, 200, put.text);
    let made;
    for (const t0 = Date.now(); ; await sleep(50)) { // the wallet opens asynchronously
      made = await createKey(s.url, await m1.token(8));
      if (made.status === 200 || Date.now() - t0 > 5000) break;
    }
    assert.equal(made.status, 200, made.text);
    assert.equal(made.json.balance, 8000);
    m2 = await startMint({});
    assert.equal((await admin.put('/admin/api/settings',
      { cashu_mints: [m2.url, m1.mint.url] })).status, 200);
    const fromM2 = await createKey(s.url, await tokenOf(m2, 5));
    assert.equal(fromM2.status, 200, fromM2.text);
    const o = await admin.get('/admin/api/overview');
    assert.deepEqual(o.json.balances.map((b) => [b.mint, b.wallet_msat]),
      [[m2.url, 5000], [m1.mint.url, 8000]], 'the primary first');
    assert.equal((await admin.put('/admin/api/settings', { cashu_mints: [m2.url] })).status, 200);
    const refused = await createKey(s.url, await m1.token(3));
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.error.code, 'cashu_untrusted_mint');
    assert.deepEqual((await jsonOf(await s.fetch('/v1/info'))).json.mints, [m2.url]);
    await assertAudit(s.routstr.env.DATABASE_URL);
  });
});

/* ------------------------------------------ withdrawals from two processes on one PostgreSQL */

describe('withdrawals from two processes on one PostgreSQL', {
  skip: process.env.PG_TEST_URL ? false : 'PG_TEST_URL not set' }, () => {
  const mints = mintService();
  const stack = new Stack({ services: [mints],
    env: { DATABASE_URL: process.env.PG_TEST_URL, ADMIN_PASSWORD: PASSWORD } });
  let second;
  before(async () => {
    pgWipe(process.env.PG_TEST_URL);
    await stack.start();
    second = new Routstr({ env: { ...stack.routstr.env }, dir: stack.dir });
    await second.start();
    // A user's 40 sats in the wallet too: proofs enough for both, so only the owner's limit stops one.
    await fundedKey(stack.url, mints, 40);
  });
  after(async () => {
    await second?.stop();
    await stack.stop();
    pgWipe(process.env.PG_TEST_URL);
  });

  test('at the same moment on each process, two withdrawals of more than half of what the operator owns: one is paid', { timeout: 60000 }, async () => {
    const a = adminClient(() => stack.url);
    const b = adminClient(() => second.url);
    assert.equal((await a.login()).status, 200);
    b.cookie = a.cookie; // sessions live in the database: one login serves both
    for (let round = 1; round <= 5; round++) {
      // The operator's own money: a token the node's wallet receives (routstr wallet receive).
      const rec = await runRoutstr(['wallet', 'receive', await mints.token(10)],
        { env: stack.routstr.env, cwd: stack.dir, timeoutMs: 20000 });
      assert.equal(rec.code, 0, rec.stderr);
      const owned = (await a.get('/admin/api/overview')).json.balances[0].owner_msat;
      assert.equal(owned, 10000, `round ${round}: the operator owns 10 sats`);
      const rs = await Promise.all([a.post('/admin/api/withdraw', { amount_sat: 7 }),
        b.post('/admin/api/withdraw', { amount_sat: 7 })]);
      const paid = rs.filter((r) => r.status === 200);
      assert.equal(paid.length, 1, `round ${round}: exactly one paid: ${rs.map((r) => r.text).join(' | ')}`);
      const refused = rs.find((r) => r.status !== 200);
      assertError(refused, 400, 'insufficient_owner_balance');
      assert.equal(sum(await mints.wallet.receive(paid[0].json.token)), 7);
      const o = (await a.get('/admin/api/overview')).json;
      assert.equal(o.balances[0].owner_msat, 3000, `round ${round}: 3 sats left`);
      // What is left goes too, so the next round starts from nothing.
      const rest = await b.post('/admin/api/withdraw', { amount_sat: 3 });
      assert.equal(rest.status, 200, rest.text);
      await mints.wallet.receive(rest.json.token);
      await assertAudit(process.env.PG_TEST_URL, `round ${round}`);
    }
  });
});

/* ------------------------------------------------- the password and settings across restarts */

/**
 * One node restarted on the same database: a generated password is printed once; settings
 * stored through the API win over the environment after a restart; ADMIN_PASSWORD replaces the
 * stored password. With `pg`, on PostgreSQL, where a second process picks up a change itself.
 */
function restartSuite(name, pg) {
  describe(name, { skip: pg && !process.env.PG_TEST_URL ? 'PG_TEST_URL not set' : false }, () => {
    // The shipped catalogue, in a file of this suite's own (a test edits it).
    const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-e2e-models-'));
    const modelsFile = path.join(modelsDir, 'models.json');
    const shipped = JSON.parse(fs.readFileSync(path.join(REPO, 'models.example.json'), 'utf8'));
    fs.writeFileSync(modelsFile, JSON.stringify(shipped));
    const stack = new Stack({ env: { ...(pg ? { DATABASE_URL: process.env.PG_TEST_URL } : {}),
      NAME: 'FromEnv', EXCHANGE_FEE: '1.005', MODELS_PATH: modelsFile } });
    const extra = [];
    before(async () => {
      if (pg) pgWipe(process.env.PG_TEST_URL);
      await stack.start();
    });
    after(async () => {
      for (const r of extra) await r.stop();
      const res = await stack.stop();
      assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null },
        stack.routstr.tail());
      if (pg) pgWipe(process.env.PG_TEST_URL);
      fs.rmSync(modelsDir, { recursive: true, force: true });
    });
    const generated = (text) => [...text.matchAll(/generated the admin password.*shown this once: ([A-Za-z0-9_-]+)/g)]
      .map((m) => m[1]);
    let url = () => stack.url;
    const admin = adminClient(() => url());

    async function restart(env = {}) {
      const res = await stack.routstr.stop();
      assert.equal(res.code, 0, stack.routstr.tail());
      stack.routstr = new Routstr({ env: { ...stack.routstr.env, ...env }, dir: stack.dir });
      await stack.routstr.start();
    }

    test('a generated password is printed once, works, and is never printed again', { timeout: 30000 }, async () => {
      const [pw, ...more] = generated(stack.routstr.stderr);
      assert.ok(pw, `no generated password in:\n${stack.routstr.stderr}`);
      assert.equal(more.length, 0, 'printed exactly once');
      assert.equal(pw.length, 24);
      assert.equal((await admin.login(pw)).status, 200);
      const put = await admin.put('/admin/api/settings', { name: 'Persisted', exchange_fee: 1.02 });
      assert.equal(put.status, 200, put.text);
      await restart({ NAME: 'FromEnvAgain' });
      assert.deepEqual(generated(stack.routstr.stderr), [], 'not printed on restart');
      assert.ok(!stack.routstr.stderr.includes(pw));
      assert.equal((await admin.get('/admin/api/session')).status, 200, 'sessions survive a restart');
      assert.equal((await admin.login(pw)).status, 200, 'the same password after a restart');
      const info = await jsonOf(await stack.fetch('/v1/info'));
      assert.equal(info.json.name, 'Persisted', 'the database wins over the environment');
      const st = await admin.get('/admin/api/settings');
      assert.equal(st.json.exchange_fee, 1.02);
      assert.equal(st.json.description, 'A Routstr Node', 'what was never set follows the environment');
    });

    test('ADMIN_PASSWORD replaces the stored password at start', { timeout: 30000 }, async () => {
      await restart({ ADMIN_PASSWORD: 'set-by-env-0987' });
      assert.deepEqual(generated(stack.routstr.stderr), []);
      assertError(await admin.login('wrong'), 401, 'invalid_password');
      assert.equal((await admin.login('set-by-env-0987')).status, 200);
      assert.ok(!stack.routstr.stderr.includes('set-by-env-0987'), 'never logged');
      await assertAudit(stack.routstr.env.DATABASE_URL);
    });

    test('a free node refuses a disabled model too', async () => {
      const off = await admin.put('/admin/api/models/openai%2Fgpt-4o-mini', { enabled: false });
      assert.equal(off.status, 200, off.text);
      const refused = await jsonOf(await fetchWithTimeout(`${stack.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }) }));
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.error.type, 'invalid_model');
      const n = stack.upstream.requests.length;
      const served = await jsonOf(await fetchWithTimeout(`${stack.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) }));
      assert.equal(served.status, 200, served.text);
      assert.equal(stack.upstream.requests.length, n + 1, 'only the enabled one went upstream');
      const on = await admin.put('/admin/api/models/openai%2Fgpt-4o-mini', { enabled: true });
      assert.equal(on.json.enabled, true);
    });

    if (pg) {
      test('a second process on the same database picks a change up within 5 seconds', { timeout: 30000 }, async () => {
        const second = new Routstr({ env: { ...stack.routstr.env }, dir: stack.dir });
        extra.push(second);
        await second.start();
        const infoOf = async (r) => (await jsonOf(await fetchWithTimeout(`${r.url}/v1/info`))).json;
        assert.equal((await infoOf(second)).name, 'Persisted');
        const put = await admin.put('/admin/api/settings', { name: 'Changed on one' });
        assert.equal(put.status, 200, put.text);
        assert.equal((await infoOf(stack.routstr)).name, 'Changed on one', 'at once on this one');
        const t0 = Date.now();
        while ((await infoOf(second)).name !== 'Changed on one') {
          assert.ok(Date.now() - t0 < 7000, 'the second process did not pick the change up');
          await sleep(200);
        }
        // The second process shares the sessions too.
        url = () => second.url;
        assert.equal((await admin.get('/admin/api/session')).status, 200);
        url = () => stack.url;

        // A reload on one process: the other reads the file again.
        const added = { ...shipped.data[0], id: 'test/added-by-reload', name: 'Added by reload' };
        fs.writeFileSync(modelsFile, JSON.stringify({ ...shipped, data: [...shipped.data, added] }));
        const rl = await admin.post('/admin/api/models/reload');
        assert.equal(rl.status, 200, rl.text);
        assert.equal(rl.json.models, shipped.data.length + 1);
        const idsOf = async (r) => (await jsonOf(await fetchWithTimeout(`${r.url}/v1/models`))).json.data
          .map((m) => m.id);
        assert.ok((await idsOf(stack.routstr)).includes(added.id), 'at once on this one');
        const t1 = Date.now();
        while (!(await idsOf(second)).includes(added.id)) {
          assert.ok(Date.now() - t1 < 7000, 'the second process did not read the reloaded file');
          await sleep(200);
        }
      });
    }
  });
}

restartSuite('admin settings across restarts (SQLite)', false);
restartSuite('admin settings across restarts (PostgreSQL)', true);
