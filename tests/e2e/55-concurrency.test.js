// 55-concurrency: many paid requests at once on one key must never spend more than the key
// holds (clients.md §3 lessons 1-3: reserve atomically at admission, settle after).
//
// Prices make every request cost exactly what it reserves: 1 sat a request plus 1 sat per 1000
// output tokens, and max_tokens 20 (the fake upstream then answers exactly 20 tokens), so
// R = cost = 1000 + 20 = 1020 msat. A key of 51 sats = 50 × 1020 msat can pay for exactly 50.
// 200 concurrent requests, streamed and not, must give exactly 50 answers 200 and 150 answers
// 402, fifty charged reservations, a balance of deposit − Σ charges (here 0, never below), and
// a ledger that `routstr audit` accepts. The same on PostgreSQL, then with two routstr processes
// sharing the one PostgreSQL database (skipped when PG_TEST_URL is unset): both serve paid
// requests at once, the over-subscribed burst still pays exactly 50, one token sent as the key
// to both at once is redeemed once, and deposits redeemed by both at once all land (the wallet's
// NUT-13 counters are shared through the database). The PostgreSQL database is wiped first.
//
// A second round on SQLite lets requests cost more than they reserve (no max_tokens: R = 1000,
// cost = 1000 + 48): the overrun may only come out of money no other request holds, so the
// balance still never goes below 0 and every charge lies between R and the metered cost.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe } from 'node:test';
import { getDecodedToken } from '@cashu/cashu-ts';

import { expectedChatUsage } from '../upstream/fake-openai.js';
import { fetchWithTimeout, Routstr, useStack } from './lib/harness.js';
import {
  assertAudit, balanceOf, createKey, fundedKey, history, keyOfToken, mintService, parseSse, pgWipe,
  reservationStates,
} from './lib/paid.js';

const PG = process.env.PG_TEST_URL;
const N = 200;
const PAYABLE = 50;
const MAX_TOKENS = 20;
const R = 1000 + MAX_TOKENS;
const DEPOSIT_SATS = (PAYABLE * R) / 1000; // 51
const PRICES = { FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '1', FIXED_PER_1K_OUTPUT_TOKENS: '1',
  FIXED_PER_1K_INPUT_TOKENS: '0' };
const messages = [{ role: 'user', content: 'Many at once.' }];

/**
 * One paid chat, streamed or not, on `base`. Resolves {status, cost, rid, body}: cost is the
 * usage.cost.total_msats the client was told (from the body or the stream's usage chunk).
 */
async function chat(base, key, { stream, maxTokens = MAX_TOKENS }) {
  const t0 = Date.now();
  const body = { model: 'gpt-fake', messages, stream,
    ...(maxTokens == null ? {} : { max_tokens: maxTokens }) };
  const res = await fetchWithTimeout(`${base}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body) }, 30000);
  const text = await res.text();
  const rid = res.headers.get('x-routstr-request-id');
  let cost;
  if (res.status === 200 && stream) {
    const events = parseSse(text);
    assert.equal(events.at(-1)?.data, '[DONE]', `stream ends with [DONE]: ${text.slice(-300)}`);
    const usage = events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data))
      .filter((c) => c.usage);
    assert.equal(usage.length, 1, 'one usage chunk');
    cost = usage[0].usage.cost.total_msats;
  } else if (res.status === 200) {
    cost = JSON.parse(text).usage.cost.total_msats;
  }
  return { status: res.status, cost, rid, text, ms: Date.now() - t0 };
}

/** Fires N requests at once across `bases` (round robin), a third of them streamed. */
function burst(bases, key, opts = {}) {
  return Promise.all(Array.from({ length: N }, (_, i) => chat(bases[i % bases.length], key,
    { stream: i % 3 === 0, ...opts })));
}

/** The checks shared by every exact-price run. */
async function checkExact(results, { base, key, db }) {
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  assert.deepEqual(Object.keys(statuses).sort(), ['200', '402'].filter((s) => statuses[s]),
    `only 200 and 402 answers: ${JSON.stringify(statuses)} ` +
    `${results.find((r) => ![200, 402].includes(r.status))?.text ?? ''}`);
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 402);
  assert.equal(ok.length, PAYABLE, `exactly ${PAYABLE} requests paid (${JSON.stringify(statuses)})`);
  assert.equal(refused.length, N - PAYABLE);
  for (const r of refused) {
    const j = JSON.parse(r.text);
    assert.equal(j.error.code, 'insufficient_balance', r.text);
  }
  for (const r of ok) assert.equal(r.cost, R, 'every paid request cost exactly its reservation');
  const charged = ok.reduce((a, r) => a + r.cost, 0);

  const i = await balanceOf(base, key);
  assert.ok(i.balance >= 0, `balance never negative: ${i.balance}`);
  assert.equal(i.reserved, 0, 'no reservation left');
  assert.equal(i.balance, DEPOSIT_SATS * 1000 - charged, 'balance = deposit − Σ charges');
  assert.equal(i.total_spent, charged);

  const states = reservationStates(db, key);
  assert.equal(states.charged ?? 0, ok.length, `charged reservations = 200 answers: ${JSON.stringify(states)}`);
  assert.equal(states.active ?? 0, 0, 'no active reservation');

  const rows = await history(base, key);
  const charges = rows.filter((x) => x.request_id);
  assert.equal(charges.length, ok.length, 'one ledger charge per 200 answer');
  const byRid = new Map(charges.map((x) => [x.request_id, x.amount]));
  for (const r of ok) assert.equal(byRid.get(r.rid), r.cost, `the charge of ${r.rid} is what its answer said`);
  for (const r of refused) assert.equal(byRid.has(r.rid), false, 'a 402 is never charged');
  await assertAudit(db);
}

/* ------------------------------------------------------------------------------- SQLite */

describe('SQLite', () => {
  const mints = mintService();
  const s = useStack({ services: [mints], env: PRICES });

  s.test(`${N} concurrent requests on a key that can pay for ${PAYABLE}: exactly ${PAYABLE} paid`,
    { timeout: 60000 }, async () => {
      const { key } = await fundedKey(s.url, mints, DEPOSIT_SATS);
      s.upstream.setBehavior({ delayMs: 20, dripMs: 5 });
      const results = await burst([s.url], key);
      await checkExact(results, { base: s.url, key, db: s.routstr.env.DATABASE_URL });
    });

  s.test('requests that cost more than they reserve: the overrun never spends past the balance',
    { timeout: 60000 }, async () => {
      const { key, msat } = await fundedKey(s.url, mints, DEPOSIT_SATS);
      s.upstream.setBehavior({ delayMs: 20, dripMs: 5 });
      const results = await burst([s.url], key, { maxTokens: null });
      const usage = expectedChatUsage({ messages });
      const metered = 1000 + usage.completion_tokens; // input is free here
      const ok = results.filter((r) => r.status === 200);
      const others = results.filter((r) => r.status !== 200);
      assert.ok(others.every((r) => r.status === 402), `only 200 and 402: ${others.find((r) => r.status !== 402)?.text}`);
      assert.ok(ok.length >= Math.floor(msat / metered), `at least what the balance pays for at the metered cost (${ok.length})`);
      assert.ok(ok.length <= Math.floor(msat / 1000), `at most what it reserves for (${ok.length})`);
      for (const r of ok) {
        assert.ok(r.cost >= 1000 && r.cost <= metered, `a charge between R and the metered cost: ${r.cost}`);
      }
      const charged = ok.reduce((a, r) => a + r.cost, 0);
      const i = await balanceOf(s.url, key);
      assert.ok(i.balance >= 0 && i.reserved === 0, JSON.stringify(i));
      assert.equal(i.balance, msat - charged, 'balance = deposit − Σ charges the clients were told');
      const states = reservationStates(s.routstr.env.DATABASE_URL, key);
      assert.equal(states.charged ?? 0, ok.length);
      assert.equal(states.active ?? 0, 0);
      await assertAudit(s.routstr.env.DATABASE_URL);
    });
});

/* --------------------------------------------------------------------------- PostgreSQL */

describe('PostgreSQL', { skip: PG ? false : 'PG_TEST_URL is not set' }, () => {
  const mints = mintService();
  const wipe = { name: 'pg-wipe', start() { pgWipe(PG); return { env: { DATABASE_URL: PG } }; },
    stop() {} };
  const s = useStack({ services: [mints, wipe], env: PRICES });

  s.test(`${N} concurrent requests on one key: exactly ${PAYABLE} paid, the ledger adds up`,
    { timeout: 60000 }, async () => {
      const { key } = await fundedKey(s.url, mints, DEPOSIT_SATS);
      s.upstream.setBehavior({ delayMs: 20, dripMs: 5 });
      const results = await burst([s.url], key);
      await checkExact(results, { base: s.url, key, db: PG });
    });

  s.test('two routstr processes on one PostgreSQL, concurrent load on one key: both serve, no over-spend',
    { timeout: 60000 }, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-e2e-second-'));
      const second = new Routstr({ env: { ...s.routstr.env }, dir });
      await second.start();
      try {
        const bases = [s.url, second.url];
        // Enough for everyone: 40 at once across both processes all pay, each process serving 20.
        const rich = await fundedKey(second.url, mints, 41); // 40 × 1020 msat = 40.8 sats
        assert.equal((await balanceOf(s.url, rich.key)).balance, 41000,
          'the first process sees the key the second made');
        s.upstream.setBehavior({ delayMs: 20, dripMs: 5 });
        const all = await Promise.all(Array.from({ length: 40 }, (_, i) =>
          chat(bases[i % 2], rich.key, { stream: i % 4 < 2 })));
        assert.deepEqual(all.map((r) => r.status), Array(40).fill(200),
          `both processes serve every paid request: ${all.find((r) => r.status !== 200)?.text}`);
        const richInfo = await balanceOf(s.url, rich.key);
        assert.equal(richInfo.balance, 41000 - 40 * R);
        assert.equal(richInfo.reserved, 0);

        // Over-subscribed: 200 at once across both on a key that pays for 50.
        const { key } = await fundedKey(s.url, mints, DEPOSIT_SATS);
        const results = await burst(bases, key);
        const tally = [0, 1].map((k) => JSON.stringify(results.filter((r, i) => i % 2 === k)
          .reduce((a, r) => ({ ...a, [r.status]: (a[r.status] ?? 0) + 1 }), {})));
        t.diagnostic(`answers per process: ${tally.join(' / ')}`);
        await checkExact(results, { base: second.url, key, db: PG });

        // One token sent as the Bearer key by 20 requests at once, split across both processes:
        // one redemption, one account.
        const token = await mints.token(100);
        const spent0 = mints.mint.counts().spent;
        const firsts = await Promise.all(Array.from({ length: 20 }, (_, i) =>
          chat(bases[i % 2], token, { stream: i % 2 === 0 })));
        assert.deepEqual(firsts.map((r) => r.status), Array(20).fill(200),
          `every first use is served: ${firsts.find((r) => r.status !== 200)?.text}`);
        assert.equal(mints.mint.counts().spent - spent0, getDecodedToken(token).proofs.length,
          'the token was redeemed once');
        const ti = await balanceOf(s.url, keyOfToken(token));
        assert.equal(ti.balance, 100000 - firsts.reduce((a, r) => a + r.cost, 0), 'credited once');

        // Different tokens redeemed at once by both processes: the wallet's NUT-13 counters are
        // shared through the database, so no two swaps may use the same outputs.
        const tokens = await Promise.all(Array.from({ length: 12 }, () => mints.token(3)));
        const made = await Promise.all(tokens.map((t, i) => createKey(bases[i % 2], t)));
        assert.deepEqual(made.map((r) => r.status), Array(12).fill(200),
          `every deposit is credited: ${made.find((r) => r.status !== 200)?.text}`);
        assert.ok(made.every((r) => r.json.balance === 3000));
        await assertAudit(PG);
      } finally {
        const res = await second.stop();
        fs.rmSync(dir, { recursive: true, force: true });
        assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null },
          `the second routstr exits 0:\n${second.tail()}`);
      }
    });
});
