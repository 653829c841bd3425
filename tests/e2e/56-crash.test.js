// 56-crash: kill -9 at a random moment while paid requests are in flight, restart on the same
// SQLite file, and the ledger must still add up (clients.md §3 lessons 9 and 11: money state
// is written with its ledger row in one transaction; a reservation nobody will settle is
// released, here by the restart's sweep).
//
// 20 rounds of: start routstr, check what the previous round left (audit passes, no reservation
// active, every charge a client was told about is in the ledger at that amount, nothing charged
// more than it reserved, every top-up token the mint saw spent credited once and every other one
// still usable), fire a mix of streamed and non-streamed requests at a slow upstream (and, every
// other round or so, a top-up), SIGKILL at a random moment. The moments come from a seeded PRNG:
// the seed is printed, and E2E_SEED=<seed> replays a run. A last round kills the node at the
// exact moment a top-up's swap was answered by the mint (ROUTSTR_TEST_FAULT) and checks that the
// restart's recovery credits it. A second test does the same to a refund: the client must still
// get its token (or its balance back) after the restart, exactly once; a third to the change of
// an X-Cashu request, which the refund endpoint then hands over. Two more kill the node between
// two steps no mint saw: a refund debited before its payout was saved (the restart credits the
// key back), a token's redemption claimed before its receive was saved (the token works after).
//
// Prices: 1 sat a request plus 1 sat per 1000 output tokens, max_tokens 40 (the fake upstream
// then answers exactly 40 tokens): every request reserves and costs R = 1040 msat.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startUpstream } from '../upstream/fake-openai.js';
import { fetchWithTimeout, OPERATOR_KEY, Routstr, sleep, withTimeout } from './lib/harness.js';
import {
  assertAudit, dbRows, fundedKey, history, mintService, parseSse, prng, reservationStates,
  waitInfo,
} from './lib/paid.js';

const ROUNDS = Number(process.env.E2E_CRASH_ROUNDS ?? 20);
const PER_ROUND = 6;
const MAX_TOKENS = 40;
const R = 1000 + MAX_TOKENS;
const SEED = Number(process.env.E2E_SEED ?? (Date.now() % 2147483647));
const rand = prng(SEED);
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

let upstream;
let dir;
let env;
const mints = mintService();
let current; // the routstr process of the round

before(async () => {
  upstream = await startUpstream();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-e2e-crash-'));
  const mintEnv = (await mints.start()).env;
  env = {
    HOST: '127.0.0.1',
    UPSTREAM_BASE_URL: upstream.baseURL,
    UPSTREAM_API_KEY: OPERATOR_KEY,
    DATABASE_URL: `sqlite:///${path.join(dir, 'routstr.db')}`,
    ROUTSTR_SECRET_KEY_FILE: path.join(dir, 'secret.key'),
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
    FIXED_PRICING: 'true',
    FIXED_COST_PER_REQUEST: '1',
    FIXED_PER_1K_INPUT_TOKENS: '0',
    FIXED_PER_1K_OUTPUT_TOKENS: '1',
    ...mintEnv,
  };
});

after(async () => {
  // A process that never spawned (the binary being rebuilt) has no exit to wait for.
  if (current?.proc && !current.exit && !current.spawnError) {
    await withTimeout(current.kill(), 10000, 'routstr did not die on SIGKILL').catch(() => {});
  }
  await upstream?.close();
  await mints.stop();
  if (dir && !process.env.E2E_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

/** One paid request; resolves what the client saw: {rid, complete, cost, status, error}. */
async function fire(base, key, stream, behavior) {
  const out = { stream, rid: null, status: null, complete: false, cost: null, error: null };
  try {
    const res = await fetchWithTimeout(`${base}/v1/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`,
        'x-test-behavior': JSON.stringify(behavior) },
      body: JSON.stringify({ model: 'gpt-fake', stream, max_tokens: MAX_TOKENS,
        messages: [{ role: 'user', content: 'Crash me if you can.' }] }) }, 15000);
    out.rid = res.headers.get('x-routstr-request-id');
    out.status = res.status;
    const text = await res.text();
    if (res.status !== 200) return out;
    if (stream) {
      const events = parseSse(text);
      if (events.at(-1)?.data !== '[DONE]') return out;
      const u = events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data))
        .find((c) => c.usage?.cost);
      if (u) {
        out.cost = u.usage.cost.total_msats;
        out.complete = true;
      }
    } else {
      out.cost = JSON.parse(text).usage.cost.total_msats;
      out.complete = true;
    }
  } catch (err) {
    out.error = String(err?.message ?? err);
  }
  return out;
}

const TOPUP_SATS = 3;
const topups = []; // {token, proofs, credited}

/** POST /v1/balance/topup; resolves {status, json} or {error}. */
async function topupOnce(base, key, token, ms) {
  try {
    const res = await fetchWithTimeout(`${base}/v1/balance/topup`, { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ cashu_token: token }) }, ms);
    const text = await res.text();
    return { status: res.status, text, json: res.status === 200 ? JSON.parse(text) : null };
  } catch (err) {
    return { error: String(err?.message ?? err) };
  }
}

/**
 * Every top-up so far: a token the mint saw spent must be credited (once), a token it did not see
 * must still top up at once. Then the key's deposits must be the initial one plus one per credit.
 */
async function checkTopups(base, key, initialMsat, what) {
  for (const tp of topups.filter((x) => !x.credited)) {
    const states = (await mints.wallet.checkProofsStates(tp.proofs)).map((x) => x.state);
    if (states.every((x) => x === 'SPENT')) {
      tp.credited = true;
      continue;
    }
    assert.ok(states.every((x) => x === 'UNSPENT'), `a top-up token half spent: ${states}, ${what}`);
    const again = await topupOnce(base, key, tp.token, 10000); // generous: CI machines are slow
    assert.equal(again.status, 200, `a top-up token the mint never took is still usable ` +
      `(${again.error ?? again.text}), ${what}`);
    assert.equal(again.json.msats, TOPUP_SATS * 1000);
    tp.credited = true;
  }
  const want = initialMsat + TOPUP_SATS * 1000 * topups.filter((x) => x.credited).length;
  const deadline = Date.now() + 5000;
  let got;
  for (;;) {
    got = (await history(base, key)).filter((x) => x.source === 'deposit')
      .reduce((a, x) => a + x.amount, 0);
    if (got === want || Date.now() > deadline) break;
    await sleep(100); // the restart's wallet recovery runs in the background
  }
  assert.equal(got, want, `deposits = the first + one per top-up token the mint took, ${what}`);
}

/** What a restart must show after a crash with `fired` requests of the last round. */
async function checkAfterRestart(base, key, fired, round) {
  const what = `round ${round} (seed ${SEED})`;
  // The restart's sweep releases what the killed process left active.
  const i = await waitInfo(base, key, (x) => x.reserved === 0, 5000, `reserved == 0 after restart, ${what}`);
  assert.equal(reservationStates(env.DATABASE_URL, key).active ?? 0, 0,
    `no reservation left active, ${what}`);
  await assertAudit(env.DATABASE_URL, what);
  const rows = await history(base, key);
  const charges = new Map(rows.filter((x) => x.request_id).map((x) => [x.request_id, x.amount]));
  for (const f of fired) {
    if (f.complete) {
      assert.equal(charges.get(f.rid), f.cost,
        `a charge the client was told about (${f.rid}: ${f.cost} msat) is in the ledger, ${what}`);
    } else if (f.rid && charges.has(f.rid)) {
      assert.ok(charges.get(f.rid) <= R, `a cut request charged at most its reservation, ${what}`);
    }
  }
  return i;
}

test(`${ROUNDS} rounds of kill -9 under paid load: the ledger survives every one`,
  { timeout: 120000 }, async (t) => {
    t.diagnostic(`seed ${SEED} (E2E_SEED=${SEED} replays this run)`);
    process.stderr.write(`56-crash: seed ${SEED}\n`);
    const t0 = Date.now();
    current = new Routstr({ env, dir });
    await current.start();
    const { key, msat } = await fundedKey(current.url, mints, 1000);
    let fired = [];
    let spentBound = 0; // the most all rounds so far could have charged
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1) {
        current = new Routstr({ env, dir });
        await current.start();
        await checkAfterRestart(current.url, key, fired, round - 1);
        await checkTopups(current.url, key, msat, `round ${round - 1} (seed ${SEED})`);
        const i = await waitInfo(current.url, key, (x) => x.reserved === 0);
        const deposited = msat + TOPUP_SATS * 1000 * topups.length;
        assert.ok(deposited - i.balance <= spentBound, `charged ${deposited - i.balance} msat in all, ` +
          `more than the ${spentBound} msat the requests reserved (seed ${SEED})`);
      }
      // A fresh token minted before the round starts, sent at a random moment in it.
      const tp = rand() < 0.5 ? { proofs: await mints.proofs(TOPUP_SATS), credited: false } : null;
      if (tp) {
        tp.token = getEncodedTokenV4({ mint: mints.mint.url, proofs: tp.proofs });
        topups.push(tp);
      }
      fired = [];
      const pending = [];
      for (let k = 0; k < PER_ROUND; k++) {
        const stream = rand() < 0.5;
        const behavior = stream ? { dripMs: between(10, 120), words: 12 }
          : { delayMs: between(0, 700), words: 12 };
        pending.push(fire(current.url, key, stream, behavior));
      }
      if (tp) {
        const base = current.url;
        pending.push(sleep(between(0, 600)).then(() => topupOnce(base, key, tp.token, 15000))
          .then(() => null));
      }
      spentBound += PER_ROUND * R;
      await sleep(between(0, 900));
      await current.kill();
      fired = (await Promise.all(pending)).filter(Boolean);
      const done = fired.filter((f) => f.complete).length;
      t.diagnostic(`round ${round}: ${done}/${PER_ROUND} answered before the kill`);
      for (const f of fired.filter((x) => x.complete)) assert.equal(f.cost, R, 'each request costs R');
    }
    // The final crash is cleaned up too; then a crash at the exact moment the mint answered a
    // top-up's swap (outputs saved, proofs not yet stored): the restart's recovery credits it.
    current = new Routstr({ env, dir });
    await current.start();
    await checkAfterRestart(current.url, key, fired, ROUNDS);
    await checkTopups(current.url, key, msat, `round ${ROUNDS} (seed ${SEED})`);
    await current.stop();
    current = new Routstr({ env: { ...env, ROUTSTR_TEST_FAULT: 'wallet.swap_answered' }, dir });
    await current.start();
    const faultProofs = await mints.proofs(TOPUP_SATS);
    const faultTp = { proofs: faultProofs, credited: false,
      token: getEncodedTokenV4({ mint: mints.mint.url, proofs: faultProofs }) };
    topups.push(faultTp);
    const killed = await topupOnce(current.url, key, faultTp.token, 10000);
    assert.ok(killed.error, `the fault point killed the node before it answered: ${killed.text}`);
    assert.equal((await current.exited).signal, 'SIGKILL');
    current = new Routstr({ env, dir });
    await current.start();
    await checkTopups(current.url, key, msat, 'after a kill at wallet.swap_answered');
    assert.ok(faultTp.credited);
    const i = await checkAfterRestart(current.url, key, [], ROUNDS + 1);
    assert.ok(msat + TOPUP_SATS * 1000 * topups.length - i.balance <= spentBound);
    const res = await current.stop();
    assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null },
      `routstr exits 0 on SIGTERM:\n${current.tail()}`);
    await assertAudit(env.DATABASE_URL, 'at the end');
    t.diagnostic(`${ROUNDS} rounds in ${Date.now() - t0} ms`);
  });

/** Runs `fn(env, dir)` on a database of its own (a fresh SQLite file), killing what is left. */
async function withOwnDb(name, fn) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `routstr-e2e-crash-${name}-`));
  const e = { ...env, DATABASE_URL: `sqlite:///${path.join(d, 'routstr.db')}`,
    ROUTSTR_SECRET_KEY_FILE: path.join(d, 'secret.key') };
  try {
    await fn(e, d);
  } finally {
    if (current?.proc && !current.exit && !current.spawnError) {
      await withTimeout(current.kill(), 10000, 'routstr did not die').catch(() => {});
    }
    if (!process.env.E2E_KEEP_TMP) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** Sends `req()` until it answers 200 (after a restart's recovery), up to 10 s; its JSON. */
async function retried(t, what, req) {
  const answers = [];
  for (let k = 0; k < 50; k++) {
    const r = await req();
    const text = await r.text();
    answers.push(`${r.status} ${text.slice(0, 120)}`);
    if (r.status === 200) {
      t.diagnostic(`${what}: answers after the restart: ${answers.join(' | ')}`);
      return JSON.parse(text);
    }
    await sleep(200);
  }
  assert.fail(`${what} never answered 200 after the restart: ${answers.join(' | ')}`);
}

/** Starts routstr on `e` with the fault point `fault`, sends `req()`, and checks it died there. */
async function killedAt(e, d, fault, req) {
  current = new Routstr({ env: { ...e, ROUTSTR_TEST_FAULT: fault }, dir: d });
  await current.start();
  const killed = await req(current.url).then((r) => r.text()).catch((err) => err);
  assert.ok(killed instanceof Error, `the node died at ${fault} before answering: ${killed}`);
  assert.equal((await current.exited).signal, 'SIGKILL');
  current = new Routstr({ env: e, dir: d });
  await current.start();
}

test('a refund killed right after the mint answered its swap: after the restart the client still gets it, once',
  { timeout: 60000 }, async (t) => {
    // A database of its own: the wallet holds one 16-sat proof, so a refund of 14 needs a swap.
    await withOwnDb('refund', async (e, d) => {
      current = new Routstr({ env: e, dir: d });
      await current.start();
      const { key } = await fundedKey(current.url, mints, 16);
      const c = await fire(current.url, key, false, {});
      assert.ok(c.complete, 'a paid chat first');
      const left = 16000 - c.cost;
      const n = Math.floor(left / 1000);
      await current.stop();
      await killedAt(e, d, 'wallet.swap_answered', (base) => fetchWithTimeout(`${base}/v1/balance/refund`,
        { method: 'POST', headers: { authorization: `Bearer ${key}` } }, 10000));

      const paid = await retried(t, 'refund', () => fetchWithTimeout(`${current.url}/v1/balance/refund`,
        { method: 'POST', headers: { authorization: `Bearer ${key}` } }));
      assert.equal(paid.sats, String(n));
      const proofs = await mints.wallet.receive(paid.token);
      assert.equal(proofs.reduce((a, p) => a + p.amount, 0), n, 'the token is worth the refund');
      const i = await waitInfo(current.url, key, () => true);
      assert.equal(i.balance, left - n * 1000, 'the key keeps only its sub-sat rest');
      assert.deepEqual(dbRows(e.DATABASE_URL, 'SELECT state FROM refunds'), [['done']],
        'one refund, paid with the token the interrupted swap made');
      await assertAudit(e.DATABASE_URL);
      await current.stop();
    });
  });

test('the change of an X-Cashu request killed right after the mint answered its swap: the refund endpoint hands it over after the restart, once',
  { timeout: 60000 }, async (t) => {
    await withOwnDb('change', async (e, d) => {
      // The payout fault only: the X-Cashu token's own receive swaps too, and must go through.
      const token = await mints.token(16); // one 16-sat proof: a change of 14 needs a swap
      await killedAt(e, d, 'wallet.send_swap_answered', (base) => fetchWithTimeout(
        `${base}/v1/chat/completions`, { method: 'POST',
          headers: { 'content-type': 'application/json', 'x-cashu': token },
          body: JSON.stringify({ model: 'gpt-fake', max_tokens: MAX_TOKENS,
            messages: [{ role: 'user', content: 'Change, please.' }] }) }, 10000));
      const n = Math.floor((16000 - R) / 1000);

      const refund = () => fetchWithTimeout(`${current.url}/v1/wallet/refund`, { method: 'POST',
        headers: { 'x-cashu': token } });
      const paid = await retried(t, 'change', refund);
      assert.equal(paid.sats, String(n));
      // Asked again, the same token: one payout, not two.
      const again = await refund().then((r) => r.json());
      assert.equal(again.token, paid.token);
      const proofs = await mints.wallet.receive(paid.token);
      assert.equal(proofs.reduce((a, p) => a + p.amount, 0), n, 'the token is worth the change');
      assert.deepEqual(dbRows(e.DATABASE_URL, 'SELECT state FROM refunds'), [['done']],
        'one change, paid with the token the interrupted swap made');
      await assertAudit(e.DATABASE_URL);
      await current.stop();
    });
  });

test('a refund killed after its debit, before its payout was saved: the restart credits the key back, and the refund then pays once',
  { timeout: 60000 }, async (t) => {
    await withOwnDb('debited', async (e, d) => {
      current = new Routstr({ env: e, dir: d });
      await current.start();
      const { key } = await fundedKey(current.url, mints, 16);
      await current.stop();
      await killedAt(e, d, 'refund.debited', (base) => fetchWithTimeout(`${base}/v1/balance/refund`,
        { method: 'POST', headers: { authorization: `Bearer ${key}` } }, 10000));
      // Nothing went to the mint: the restart's sweep gives the key its 16 sats back.
      const i = await waitInfo(current.url, key, (x) => x.balance === 16000, 5000, 'the refund reversed');
      assert.equal(i.reserved, 0);
      assert.deepEqual(dbRows(e.DATABASE_URL, 'SELECT state FROM refunds'), [['failed']]);
      const r = await fetchWithTimeout(`${current.url}/v1/balance/refund`, { method: 'POST',
        headers: { authorization: `Bearer ${key}` } });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const paid = JSON.parse(text);
      assert.equal(paid.sats, '16');
      const proofs = await mints.wallet.receive(paid.token);
      assert.equal(proofs.reduce((a, p) => a + p.amount, 0), 16, 'paid once, in full');
      const rows = dbRows(e.DATABASE_URL, 'SELECT kind, amount_msat FROM ledger WHERE key_hash <> \'owner\'');
      assert.deepEqual(rows.map(String).sort(), ['deposit,16000', 'refund,-16000', 'refund,-16000',
        'refund_reversal,16000'], 'deposit, the refund killed, its reversal, the refund paid');
      await assertAudit(e.DATABASE_URL);
      await current.stop();
    });
  });

test('a token whose redemption was claimed when the node died: after the restart it still works, once',
  { timeout: 60000 }, async (t) => {
    await withOwnDb('claimed', async (e, d) => {
      const token = await mints.token(8);
      await killedAt(e, d, 'redemption.claimed', (base) => fetchWithTimeout(`${base}/v1/balance/info`,
        { headers: { authorization: `Bearer ${token}` } }, 10000));
      // The mint never saw the token (no receive was saved): the claim is dropped at the start.
      const first = await retried(t, 'the token', () => fetchWithTimeout(`${current.url}/v1/balance/info`,
        { headers: { authorization: `Bearer ${token}` } }));
      assert.equal(first.balance, 8000);
      const again = await waitInfo(current.url, token, () => true);
      assert.equal(again.api_key, first.api_key, 'one account for the token');
      assert.equal(again.balance, 8000, 'credited once');
      assert.deepEqual(dbRows(e.DATABASE_URL, 'SELECT state FROM redemptions'), [['done']]);
      await assertAudit(e.DATABASE_URL);
      await current.stop();
    });
  });
