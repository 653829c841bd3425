// 58-xcashu-speculative: speculative forwarding of X-Cashu requests (issue 5).
//
// cashu-ts 2.5.3 keeps the mint's NUT-12 DLEQ (with its blinding factor r) in the proofs it mints
// and in the tokens it encodes, so its tokens qualify; a token whose proofs carry no DLEQ does
// not. The test mint answers swaps SWAP_MS late (pathDelayMs: the work is done at once, the
// answer waits), which tells the two paths apart by when the upstream sees the request:
// speculative, long before the swap answer; plain, only after it. Prices are fixed as in 57
// (2 sats a request, 1 and 3 sats per 1000 input and output tokens).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe } from 'node:test';
import { getDecodedToken, getEncodedToken, getEncodedTokenV4 } from '@cashu/cashu-ts';

import { BIN, useStack } from './lib/harness.js';
import { mintService, sum } from './lib/paid.js';

const SWAP_MS = 600;
const EARLY_MS = 400; // the upstream saw a speculative request well before the swap answer

const mint = mintService();
const s = useStack({
  services: [mint],
  env: { FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '2', FIXED_PER_1K_INPUT_TOKENS: '1',
    FIXED_PER_1K_OUTPUT_TOKENS: '3', LOG_LEVEL: 'debug' },
});

const messages = [{ role: 'user', content: 'Pay me before the mint answers.' }];
const costOf = (u) => 2000 + u.prompt_tokens * 1 + u.completion_tokens * 3;
const withoutDleq = (proofs) => proofs.map(({ dleq, ...p }) => p);
/** The upstream's own answer, recognisable anywhere it might leak. */
const MARKER = 'UPSTREAM-BYTES-THE-CLIENT-DID-NOT-PAY-FOR';

function post(token, { body = { model: 'gpt-fake', messages }, headers = {} } = {}) {
  return fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Cashu': token, ...headers },
    body: JSON.stringify(body) });
}

function audit() {
  const r = spawnSync(BIN, ['audit'], { env: { PATH: process.env.PATH,
    DATABASE_URL: s.routstr.env.DATABASE_URL }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

const speculated = (rid) => s.routstr.stderr.includes(`speculative forward ${rid} started`);

/** routstr caches the mint's keysets on its first redemption: speculation needs them. */
let warm = false;
async function warmUp() {
  if (warm) return;
  const r = await post(await mint.token(8));
  assert.equal(r.status, 200, await r.text());
  s.upstream.reset();
  warm = true;
}

describe('X-Cashu speculative forwarding', () => {
  s.test('cashu-ts tokens carry DLEQs with r; the upstream starts before the swap answers, the change is exact', async () => {
    await warmUp();
    const t = await mint.token(64);
    assert.ok(getDecodedToken(t).proofs.every((p) => p.dleq?.e && p.dleq?.s && p.dleq?.r));
    mint.mint.setFault({ pathDelayMs: { '/v1/swap': SWAP_MS } });
    const t0 = Date.now();
    const r = await post(t);
    const t1 = Date.now();
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    const [up] = s.upstream.requests;
    assert.ok(up.receivedAt - t0 < EARLY_MS, `upstream reached ${up.receivedAt - t0} ms after the send`);
    assert.ok(up.response.finishedAt - t0 < SWAP_MS, 'the upstream answered before the swap did');
    assert.ok(t1 - t0 >= SWAP_MS, `the answer waited for the swap (${t1 - t0} ms)`);
    assert.ok(speculated(r.headers.get('x-routstr-request-id')));
    const cost = costOf(body.usage);
    assert.equal(body.usage.cost.total_msats, cost);
    assert.equal(Number(r.headers.get('x-routstr-cost-msats')), cost);
    const change = r.headers.get('x-cashu');
    assert.equal(sum(getDecodedToken(change).proofs), 64 - Math.ceil(cost / 1000));
    assert.equal(sum(await mint.wallet.receive(change)), 64 - Math.ceil(cost / 1000));
    assert.equal(up.headers['x-cashu'], undefined, 'the token never reaches the upstream');
    audit();
  });

  s.test('live streaming through the gate: every chunk, then the exact change before [DONE]', async () => {
    await warmUp();
    const t = await mint.token(32);
    mint.mint.setFault({ pathDelayMs: { '/v1/swap': SWAP_MS } });
    const t0 = Date.now();
    const r = await post(t, { body: { model: 'gpt-fake', messages, stream: true },
      headers: { 'X-Cashu-Stream': 'live' } });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.ok(speculated(r.headers.get('x-routstr-request-id')));
    assert.ok(s.upstream.requests[0].receivedAt - t0 < EARLY_MS);
    const events = text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.equal(events.length - 3, s.upstream.requests[0].response.events - 2,
      'every chunk of the upstream, then its usage chunk, the change and [DONE]');
    const usage = JSON.parse(events.at(-3).slice(6)).usage;
    const { token: ct, sats } = JSON.parse(/^event: cashu-change\ndata: (.*)$/m.exec(events.at(-2))[1]);
    assert.equal(sats, 32 - Math.ceil(costOf(usage) / 1000));
    assert.equal(sum(await mint.wallet.receive(ct)), sats);
    audit();
  });

  s.test('speculative mode with a failing swap sends the client no upstream byte', async () => {
    await warmUp();
    // Spent at the mint behind routstr's back: the DLEQs verify, nothing local knows it.
    const proofs = await mint.proofs(16);
    const t = getEncodedTokenV4({ mint: mint.mint.url, proofs });
    await mint.wallet.receive(t);
    s.upstream.setBehavior({ body: { id: 'x', object: 'chat.completion', choices: [],
      marker: MARKER }, headers: { 'x-upstream-marker': MARKER } });
    mint.mint.setFault({ pathDelayMs: { '/v1/swap': SWAP_MS } });
    const t0 = Date.now();
    const r = await post(t);
    const text = await r.text();
    assert.equal(r.status, 400, text);
    const body = JSON.parse(text);
    assert.equal(body.error.type, 'token_already_spent');
    assert.equal(body.error.code, 'cashu_token_already_spent');
    assert.ok(!text.includes(MARKER), 'no upstream body');
    for (const [k, v] of r.headers) assert.ok(!v.includes(MARKER), `no upstream header (${k})`);
    assert.equal(r.headers.get('x-cashu'), null, 'a spent token is not echoed back');
    // The speculation did happen, and the upstream had answered before the swap was refused.
    assert.ok(speculated(r.headers.get('x-routstr-request-id')));
    assert.equal(s.upstream.requests.length, 1);
    const up = s.upstream.requests[0];
    assert.ok(up.receivedAt - t0 < EARLY_MS && up.response.headersAt - t0 < SWAP_MS);

    // The mint reported those proofs spent: the same proofs in another encoding (another token
    // hash, so no redemption claim stops it) are not speculated on and never reach the upstream.
    const v3 = getEncodedToken({ mint: mint.mint.url, proofs }, { version: 3 });
    const again = await post(v3);
    assert.equal(again.status, 400);
    assert.equal((await again.json()).error.type, 'token_already_spent');
    assert.ok(!speculated(again.headers.get('x-routstr-request-id')));
    assert.equal(s.upstream.requests.length, 1);
    audit();
  });

  s.test('a mint that fails the swap: its error, no upstream byte, and the token still pays later', async () => {
    await warmUp();
    const t = await mint.token(16);
    s.upstream.setBehavior({ body: { marker: MARKER }, only: '/chat/completions' });
    mint.mint.setFault({ fail500Once: '/v1/swap', pathDelayMs: { '/v1/swap': SWAP_MS } });
    const r = await post(t);
    const text = await r.text();
    assert.ok(r.status >= 500, `${r.status} ${text}`);
    assert.ok(JSON.parse(text).error.type, text);
    assert.ok(!text.includes(MARKER));
    assert.ok(speculated(r.headers.get('x-routstr-request-id')));
    assert.equal(r.headers.get('x-cashu'), t, 'nothing was spent: the token is handed back');
    s.upstream.setBehavior({});
    const ok = await post(t);
    const body = await ok.json();
    assert.equal(ok.status, 200, JSON.stringify(body));
    assert.equal(sum(await mint.wallet.receive(ok.headers.get('x-cashu'))),
      16 - Math.ceil(costOf(body.usage) / 1000));
    audit();
  });

  s.test('replays: after one spend, the same token or its proofs re-encoded never reach the upstream', async () => {
    await warmUp();
    const proofs = await mint.proofs(16);
    const t = getEncodedTokenV4({ mint: mint.mint.url, proofs });
    const first = await post(t);
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    assert.ok(speculated(first.headers.get('x-routstr-request-id')));
    for (const replay of [t, getEncodedToken({ mint: mint.mint.url, proofs }, { version: 3 })]) {
      const r = await post(replay);
      assert.equal(r.status, 400);
      assert.equal((await r.json()).error.type, 'token_already_spent');
      assert.ok(!speculated(r.headers.get('x-routstr-request-id')));
    }
    assert.equal(s.upstream.requests.length, 1);
  });

  s.test('a token without DLEQs takes the plain path: the upstream waits for the swap', async () => {
    await warmUp();
    const t = getEncodedTokenV4({ mint: mint.mint.url, proofs: withoutDleq(await mint.proofs(16)) });
    assert.ok(getDecodedToken(t).proofs.every((p) => p.dleq === undefined));
    mint.mint.setFault({ pathDelayMs: { '/v1/swap': SWAP_MS } });
    const t0 = Date.now();
    const r = await post(t);
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.ok(!speculated(r.headers.get('x-routstr-request-id')));
    assert.ok(s.upstream.requests[0].receivedAt - t0 >= SWAP_MS,
      `upstream reached ${s.upstream.requests[0].receivedAt - t0} ms after the send`);
    assert.equal(sum(await mint.wallet.receive(r.headers.get('x-cashu'))),
      16 - Math.ceil(costOf(body.usage) / 1000));
  });

  s.test('100 concurrent requests with one token while its swap is slow: exactly one served', async () => {
    await warmUp();
    const t = await mint.token(16);
    mint.mint.setFault({ pathDelayMs: { '/v1/swap': 200 } });
    const results = await Promise.all(Array.from({ length: 100 }, () => post(t).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    })));
    assert.equal(results.filter((c) => c === 200).length, 1, JSON.stringify(results));
    assert.equal(s.upstream.requests.length, 1);
    audit();
  });
});
