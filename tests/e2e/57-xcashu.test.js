// 57-xcashu: pay per request with a token in the X-Cashu header (clients.md §1.2, NUT-24 style).
//
// The openai SDK sends the token as a default header; cashu-ts mints it and redeems the change.
// Prices are fixed (2 sats a request, 1 and 3 sats per 1000 input and output tokens), so every
// change is computable from the usage the fake upstream reports: change = amount - ceil(cost/1000).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe } from 'node:test';
import OpenAI from 'openai';
import { decodePaymentRequest, getDecodedToken, getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startMint } from '../mint/mint.js';
import { mintTokens, walletFor } from '../mint/testkit.js';
import { BIN, useStack } from './lib/harness.js';

let mint, cashu;
const mintService = {
  name: 'mint',
  async start() {
    mint = await startMint({});
    cashu = await walletFor(mint.url);
    return { env: { CASHU_MINTS: mint.url } };
  },
  async stop() { await mint.close(); },
};

const s = useStack({
  services: [mintService],
  env: { FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '2', FIXED_PER_1K_INPUT_TOKENS: '1',
    FIXED_PER_1K_OUTPUT_TOKENS: '3' },
});

const sum = (proofs) => proofs.reduce((a, p) => a + p.amount, 0);
const token = async (sats) => getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, sats) });
const messages = [{ role: 'user', content: 'Pay me per request.' }];
/** The fixed-price cost in msat of a usage object. */
const costOf = (u) => 2000 + u.prompt_tokens * 1 + u.completion_tokens * 3;

function audit() {
  const r = spawnSync(BIN, ['audit'], { env: { PATH: process.env.PATH,
    DATABASE_URL: s.routstr.env.DATABASE_URL }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

describe('X-Cashu', () => {
  s.test('no credentials: 402 with a NUT-18 payment request in X-Cashu, which a token then pays', async () => {
    const body = JSON.stringify({ model: 'gpt-fake', messages });
    const r = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 402);
    assert.deepEqual((await r.json()).error.type, 'payment_required');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const req = decodePaymentRequest(r.headers.get('x-cashu'));
    assert.equal(req.unit, 'sat');
    assert.deepEqual(req.mints, [mint.url]);
    assert.equal(req.amount, 2, 'the reservation of a 2-sat request');
    const paid = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': await token(req.amount + 1) },
      body });
    assert.equal(paid.status, 200);
    await paid.arrayBuffer();
    assert.equal(s.upstream.requests.length, 1);
  });

  s.test('a chat paid with X-Cashu returns the exact change, which cashu-ts redeems', async () => {
    const t = await token(64);
    const ai = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', defaultHeaders: { 'X-Cashu': t } });
    const { data, response } = await ai.chat.completions.create({ model: 'gpt-fake', messages })
      .withResponse();
    const cost = costOf(data.usage);
    assert.equal(data.usage.cost.total_msats, cost);
    assert.equal(Number(response.headers.get('x-routstr-cost-msats')), cost);
    const change = response.headers.get('x-cashu');
    assert.ok(change?.startsWith('cashuB'), 'change in the X-Cashu header');
    assert.equal(sum(getDecodedToken(change).proofs), 64 - Math.ceil(cost / 1000));
    assert.equal(sum(await cashu.receive(change)), 64 - Math.ceil(cost / 1000));
    const up = s.upstream.requests[0];
    assert.equal(up.headers['x-cashu'], undefined, 'the token never reaches the upstream');
    audit();
  });

  s.test('streaming, compatibility mode: the stream is held and the change is in the header', async () => {
    const t = await token(32);
    const ai = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', defaultHeaders: { 'X-Cashu': t } });
    const { data: stream, response } = await ai.chat.completions
      .create({ model: 'gpt-fake', messages, stream: true }).withResponse();
    const change = response.headers.get('x-cashu');
    let usage = null, chunks = 0;
    for await (const c of stream) { chunks++; if (c.usage) usage = c.usage; }
    assert.ok(chunks > 1 && usage, 'content chunks and one usage chunk');
    assert.equal(sum(await cashu.receive(change)), 32 - Math.ceil(costOf(usage) / 1000));
  });

  s.test('streaming, live mode: chunks as they come, the change as a last event before [DONE]', async () => {
    const t = await token(32);
    const r = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': t, 'X-Cashu-Stream': 'live' },
      body: JSON.stringify({ model: 'gpt-fake', messages, stream: true }),
    });
    assert.equal(r.headers.get('x-cashu'), null, 'no change header: it comes at the end');
    const text = await r.text();
    const events = text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    const change = /^event: cashu-change\ndata: (.*)$/m.exec(events.at(-2));
    assert.ok(change, `a cashu-change event before [DONE]: ${events.at(-2)}`);
    const usage = JSON.parse(events.at(-3).slice(6)).usage;
    const { token: ct, sats } = JSON.parse(change[1]);
    assert.equal(sats, 32 - Math.ceil(costOf(usage) / 1000));
    assert.equal(sum(await cashu.receive(ct)), sats);
  });

  s.test('the same token twice: 400 token_already_spent, and no token echoed back', async () => {
    const t = await token(16);
    const post = () => fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': t },
      body: JSON.stringify({ model: 'gpt-fake', messages }) });
    assert.equal((await post()).status, 200);
    const again = await post();
    assert.equal(again.status, 400);
    assert.equal((await again.json()).error.type, 'token_already_spent');
    assert.equal(again.headers.get('x-cashu'), null);
  });

  s.test('a token worth less than the reservation: 402 minimum_balance_required, token echoed', async () => {
    const t = await token(1);
    const r = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': t },
      body: JSON.stringify({ model: 'gpt-fake', messages }) });
    assert.equal(r.status, 402);
    const body = await r.json();
    assert.equal(body.detail.type, 'minimum_balance_required');
    assert.equal(body.detail.amount_required_msat, 2000);
    assert.equal(r.headers.get('x-cashu'), t, 'still the client token: handed back');
    assert.equal(sum(await cashu.receive(t)), 1, 'and still spendable');
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('100 concurrent requests with one token: exactly one is served', async () => {
    const t = await token(16);
    const results = await Promise.all(Array.from({ length: 100 }, () =>
      fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
        headers: { 'content-type': 'application/json', 'X-Cashu': t },
        body: JSON.stringify({ model: 'gpt-fake', messages }) }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })));
    assert.equal(results.filter((c) => c === 200).length, 1, JSON.stringify(results));
    assert.equal(s.upstream.requests.length, 1);
    audit();
  });

  s.test('an upstream 500 refunds the whole amount, in the header and in error.refund_token', async () => {
    const t = await token(16);
    s.upstream.setBehavior({ status: 500, body: { error: { message: 'boom', type: 'server_error' } } });
    const r = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': t },
      body: JSON.stringify({ model: 'gpt-fake', messages }) });
    assert.equal(r.status, 500);
    const body = await r.json();
    assert.equal(body.error.message, 'boom');
    assert.equal(body.error.refund_token, r.headers.get('x-cashu'));
    assert.equal(sum(await cashu.receive(body.error.refund_token)), 16);
    audit();
  });

  s.test('lost change is fetched again with POST /v1/wallet/refund and the original token', async () => {
    const t = await token(32);
    const r = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': t },
      body: JSON.stringify({ model: 'gpt-fake', messages }) });
    const change = r.headers.get('x-cashu');
    await r.arrayBuffer();
    const again = await fetch(`${s.baseURL}/wallet/refund`, { method: 'POST', headers: { 'X-Cashu': t } });
    assert.equal(again.status, 200);
    assert.equal((await again.json()).token, change);
    assert.equal(again.headers.get('x-cashu'), change);
    const unknown = await fetch(`${s.baseURL}/balance/refund`, { method: 'POST',
      headers: { 'X-Cashu': await token(2) } });
    assert.equal(unknown.status, 404);
  });

  s.test('a mint that loses the swap answer: no double credit, nothing lost', async () => {
    const t = await token(32);
    mint.setFault({ dropAfterSwap: true });
    const r = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Cashu': t },
      body: JSON.stringify({ model: 'gpt-fake', messages }) });
    assert.equal(r.status, 200, await r.clone().text());
    const body = await r.json();
    assert.equal(sum(await cashu.receive(r.headers.get('x-cashu'))),
      32 - Math.ceil(body.usage.cost.total_msats / 1000));
    audit();
  });
});
