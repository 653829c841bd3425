// 50-paid: the paid path end to end: keys made from Cashu tokens, requests reserved, metered
// and settled to the cost of the usage the upstream reported, the balance API around it, and
// the ledger checked by `routstr audit` after every money move.
//
// Fixed pricing: 2 sats a request, 1 and 3 sats per 1000 input and output tokens, so a chat
// costs 2000 + prompt_tokens + 3 × completion_tokens msat, computed here from the usage the fake
// upstream derives from our own request (expectedChatUsage), never from routstr's arithmetic.
//
// The mint failing: a stack of its own, where a refund's swap is refused by the mint once.
//
// Model pricing: a one-model catalogue written for the test (USD 1.25e-6 and 2.5e-6 per token),
// BTC/USD from the fake exchange at 100,000 (1 USD = 1000 sats), both fees 1, so a prompt token
// costs 1.25 msat and a completion token 2.5 msat, and a chat costs
// ceil(1.25 × prompt + 2.5 × completion) msat, rounded up once. The exchange is then made to
// disagree, fail and stall (tests/exchange/fake-exchange.js, refreshed every 0.25 s, a price
// usable for 2 s).
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { getDecodedToken, getEncodedToken, getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startMint } from '../mint/mint.js';
import { mintTokens, walletFor } from '../mint/testkit.js';
import {
  expectedChatUsage, expectedCompletionUsage, expectedEmbeddingsUsage, expectedResponsesUsage,
} from '../upstream/fake-openai.js';
import {
  assertErrorEnvelope, assertRequestId, assertUpstreamCredentials, recordingFetch, sleep, useStack,
} from './lib/harness.js';
import {
  assertAudit, balanceOf, createKey, exchangeService, fundedKey, history, info, jsonOf, keyOfToken,
  mintService, modelsService, parseSse, postJson, randomKey, refund, sum, topup, waitInfo,
} from './lib/paid.js';

const messages = [{ role: 'user', content: 'Pay me per request, exactly.' }];
const chatPath = '/v1/chat/completions';
const bearer = (key) => ({ authorization: `Bearer ${key}` });

/* ------------------------------------------------------------------------ fixed pricing */

describe('fixed pricing', () => {
  const mints = mintService();
  const s = useStack({
    services: [mints],
    env: { FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '2', FIXED_PER_1K_INPUT_TOKENS: '1',
      FIXED_PER_1K_OUTPUT_TOKENS: '3' },
  });
  const db = () => s.routstr.env.DATABASE_URL;
  /** The fixed-price cost in msat of a usage object. */
  const costOf = (u) => 2000 + u.prompt_tokens * 1 + u.completion_tokens * 3;
  /** The reservation of a request without max_tokens: the per-request price. */
  const R = 2000;

  s.test('a key is made from a token by GET and POST create; the same token again is the same key', async () => {
    const t1 = await mints.token(100);
    const a = await createKey(s.url, t1);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(Object.keys(a.json).sort(), ['api_key', 'balance']);
    assert.equal(a.json.api_key, keyOfToken(t1), 'the key is sk- + sha256hex(token)');
    assert.equal(a.json.balance, 100000, 'balance in msat');

    const t2 = await mints.token(50);
    const b = await createKey(s.url, t2, { post: true });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.api_key, keyOfToken(t2));
    assert.equal(b.json.balance, 50000);

    const spent = mints.mint.counts().spent;
    const again = await createKey(s.url, t1);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.api_key, a.json.api_key);
    assert.equal(again.json.balance, 100000, 'a second create with the same token credits nothing');
    assert.equal(mints.mint.counts().spent, spent, 'the token is not redeemed twice');

    const i = await balanceOf(s.url, a.json.api_key);
    assert.equal(i.api_key, a.json.api_key);
    assert.equal(i.balance, 100000);
    assert.equal(i.reserved, 0);
    await assertAudit(db());
  });

  s.test('a chat debits exactly the metered cost: body, headers, balance and ledger agree', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 100);
    const rec = recordingFetch();
    const ai = s.openai({ apiKey: key, recorder: rec });
    const { data, response } = await ai.chat.completions.create({ model: 'gpt-fake', messages })
      .withResponse();
    const up = s.upstream.requests.at(-1);
    assertUpstreamCredentials(up);
    assert.equal(up.body.toString('utf8'), rec.last.body.toString('utf8'),
      'a non-streamed body is forwarded unchanged');
    const usage = expectedChatUsage(up.json);
    const cost = costOf(usage);
    assert.equal(data.usage.prompt_tokens, usage.prompt_tokens);
    assert.equal(data.usage.completion_tokens, usage.completion_tokens);
    assert.equal(data.usage.cost.total_msats, cost, 'usage.cost.total_msats');
    assert.equal(data.usage.cost.base_msats, 2000);
    assert.equal(data.usage.cost.input_msats, usage.prompt_tokens);
    assert.equal(data.usage.cost.output_msats, 3 * usage.completion_tokens);
    assert.equal(data.usage.cost_sats, Math.floor(cost / 1000));
    assert.equal(data.usage.remaining_balance_msats, msat - cost);
    assert.equal(data.cost.total_msats, cost, 'the legacy top-level cost');
    assert.equal(Number(response.headers.get('x-routstr-cost-msats')), cost);
    assert.equal(Number(response.headers.get('x-routstr-input-cost-msats')), usage.prompt_tokens);
    assert.equal(Number(response.headers.get('x-routstr-output-cost-msats')),
      3 * usage.completion_tokens);
    const rid = assertRequestId(response.headers);

    const i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat - cost, 'the balance fell by the cost');
    assert.equal(i.reserved, 0);
    assert.equal(i.total_spent, cost);
    assert.equal(i.total_requests, 1);
    const charges = (await history(s.url, key)).filter((x) => x.request_id === rid);
    assert.equal(charges.length, 1, 'one ledger row for the request');
    assert.equal(charges[0].amount, cost);
    assert.equal(charges[0].type, 'out');
    await assertAudit(db());
  });

  s.test('a streamed chat: include_usage forced upstream, one usage chunk with the cost before [DONE]', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 100);
    const sent = { model: 'gpt-fake', messages, stream: true, temperature: 0.5 };
    const res = await s.fetch(chatPath, { method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(key) }, body: JSON.stringify(sent) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const text = await res.text();
    const up = s.upstream.requests.at(-1);
    assert.deepEqual(up.json.stream_options, { include_usage: true },
      'the upstream was asked for usage although the client did not ask');
    const { stream_options: _, ...rest } = up.json;
    assert.deepEqual(rest, sent, 'nothing else in the body changed');

    const events = parseSse(text);
    const done = events.filter((e) => e.data === '[DONE]');
    assert.equal(done.length, 1, 'data: [DONE] exactly once');
    assert.equal(events.at(-1).data, '[DONE]', '[DONE] is last');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const usageChunks = chunks.filter((c) => c.usage);
    assert.equal(usageChunks.length, 1, `exactly one chunk with usage, got ${usageChunks.length}`);
    assert.equal(chunks.at(-1), usageChunks[0], 'the usage chunk comes right before [DONE]');
    assert.deepEqual(usageChunks[0].choices, [], 'the usage chunk has choices: []');
    const usage = expectedChatUsage(up.json);
    const cost = costOf(usage);
    assert.equal(usageChunks[0].usage.prompt_tokens, usage.prompt_tokens);
    assert.equal(usageChunks[0].usage.completion_tokens, usage.completion_tokens);
    assert.equal(usageChunks[0].usage.cost.total_msats, cost);
    assert.equal(usageChunks[0].usage.remaining_balance_msats, msat - cost);
    const content = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta?.content ?? '')
      .join('');
    assert.equal([...content].length, usage.completion_tokens, 'every content chunk got through');

    const i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat - cost);
    assert.equal(i.reserved, 0);
    await assertAudit(db());
  });

  s.test('a streamed chat through the openai SDK: the final chunk carries the cost; the debit matches', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 100);
    const ai = s.openai({ apiKey: key });
    const stream = await ai.chat.completions.create({ model: 'gpt-fake', messages, stream: true });
    const got = [];
    for await (const c of stream) got.push(c);
    const withUsage = got.filter((c) => c.usage);
    assert.equal(withUsage.length, 1, 'one chunk with usage');
    assert.equal(got.at(-1), withUsage[0], 'and it is the last');
    const usage = expectedChatUsage(s.upstream.requests.at(-1).json);
    const cost = costOf(usage);
    assert.equal(withUsage[0].usage.cost.total_msats, cost);
    assert.equal((await balanceOf(s.url, key)).balance, msat - cost);
    await assertAudit(db());
  });

  s.test('a client that asks include_usage itself: its body is forwarded byte for byte', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 50);
    const body = JSON.stringify({ model: 'gpt-fake', messages, stream: true,
      stream_options: { include_usage: true } });
    const res = await s.fetch(chatPath, { method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(key) }, body });
    const events = parseSse(await res.text());
    assert.equal(s.upstream.requests.at(-1).body.toString('utf8'), body);
    const usageChunks = events.filter((e) => e.data !== '[DONE]' && JSON.parse(e.data).usage);
    assert.equal(usageChunks.length, 1);
    const cost = costOf(expectedChatUsage(JSON.parse(body)));
    assert.equal(JSON.parse(usageChunks[0].data).usage.cost.total_msats, cost);
    assert.equal((await balanceOf(s.url, key)).balance, msat - cost);
  });

  s.test('completions, embeddings and Responses (plain and streamed) are billed from their usage', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 100);
    const ai = s.openai({ apiKey: key });
    let spent = 0;
    const check = async (what, cost, reported) => {
      spent += cost;
      assert.equal(reported, cost, `${what}: the cost reported`);
      assert.equal((await balanceOf(s.url, key)).balance, msat - spent, `${what}: the debit`);
    };
    const last = () => s.upstream.requests.at(-1).json;

    const c = await ai.completions.create({ model: 'gpt-fake', prompt: 'Complete me, legacy style.' });
    let u = expectedCompletionUsage(last());
    await check('completions', costOf(u), c.usage.cost?.total_msats);

    const e = await ai.embeddings.create({ model: 'text-embedding-fake', input: ['one', 'two three'] });
    u = expectedEmbeddingsUsage(last());
    await check('embeddings', 2000 + u.prompt_tokens, e.usage.cost?.total_msats);

    const r = await ai.responses.create({ model: 'gpt-fake', input: 'Respond to me.' });
    const ru = expectedResponsesUsage(last());
    await check('responses', 2000 + ru.input_tokens + 3 * ru.output_tokens, r.usage.cost?.total_msats);

    const rs = await ai.responses.create({ model: 'gpt-fake', input: 'Respond to me, streamed.',
      stream: true });
    let completed;
    for await (const ev of rs) if (ev.type === 'response.completed') completed = ev;
    const rsu = expectedResponsesUsage(last());
    await check('streamed responses', 2000 + rsu.input_tokens + 3 * rsu.output_tokens,
      completed?.response?.usage?.cost?.total_msats);

    // A streamed legacy completion whose client asked for usage: the usage chunk, with the
    // cost, must come before data: [DONE] (clients stop reading there).
    const body = { model: 'gpt-fake', prompt: 'Stream me, legacy style.', stream: true,
      stream_options: { include_usage: true } };
    const res = await s.fetch('/v1/completions', { method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(key) }, body: JSON.stringify(body) });
    const events = parseSse(await res.text());
    const doneAt = events.findIndex((x) => x.data === '[DONE]');
    const usageAt = events.findIndex((x) => x.data !== '[DONE]' && JSON.parse(x.data).usage);
    assert.ok(usageAt !== -1, 'the usage chunk is delivered');
    assert.equal(doneAt, events.length - 1, `[DONE] is the last event (events: ${events.map((x) => x.data.slice(0, 40)).join(' | ')})`);
    assert.ok(usageAt < doneAt, 'the usage chunk comes before [DONE]');
    u = expectedCompletionUsage(body);
    await check('streamed completions', costOf(u), JSON.parse(events[usageAt].data).usage.cost?.total_msats);
    await assertAudit(db());
  });

  s.test('top-up with a JSON body and with ?cashu_token= answers {"msats"} and credits the key', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 10);
    const t1 = await mints.token(20);
    const a = await topup(s.url, key, t1);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json, { msats: 20000 });
    const t2 = await mints.token(30);
    const b = await topup(s.url, key, t2, { query: true });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(b.json, { msats: 30000 });
    assert.equal((await balanceOf(s.url, key)).balance, msat + 50000);
    // The same token again is spent: nothing more is credited.
    const again = await topup(s.url, key, t1);
    assert.equal(again.status, 400, again.text);
    assert.equal(again.json.error.type, 'token_already_spent', again.text);
    assert.equal((await balanceOf(s.url, key)).balance, msat + 50000);
    await assertAudit(db());
  });

  s.test('refund pays the balance as a token that redeems for "sats"; a retried refund gets the same token', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 40);
    const ai = s.openai({ apiKey: key });
    const chat = await ai.chat.completions.create({ model: 'gpt-fake', messages });
    const left = msat - chat.usage.cost.total_msats;
    const r = await refund(s.url, key);
    assert.equal(r.status, 200, r.text);
    const n = Math.floor(left / 1000);
    assert.deepEqual(Object.keys(r.json).sort(), ['sats', 'token']);
    assert.equal(r.json.sats, String(n), 'sats is a string, whole sats of the balance');
    assert.match(r.json.token, /^cashu[AB]/);
    assert.equal(sum(getDecodedToken(r.json.token).proofs), n, 'the token holds what it says');
    const i = await balanceOf(s.url, key);
    assert.equal(i.balance, left - n * 1000, 'only the sub-sat rest stays');
    assert.equal(i.reserved, 0);

    const again = await refund(s.url, key);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.token, r.json.token, 'a retried refund returns the same token');
    assert.equal(again.json.sats, String(n));

    const proofs = await mints.wallet.receive(r.json.token);
    assert.equal(sum(proofs), n, 'cashu-ts redeems the refund for N sats');
    await assertAudit(db());
  });

  s.test('refund while a request is in flight → 400 "Cannot refund key. There are ongoing requests…"', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 20);
    s.upstream.setBehavior({ delayMs: 1500 });
    const ai = s.openai({ apiKey: key });
    const pending = ai.chat.completions.create({ model: 'gpt-fake', messages });
    await s.upstream.waitForRequests(1); // reserved before it was forwarded
    const r = await refund(s.url, key);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.detail, 'Cannot refund key. There are ongoing requests for this api key.');
    const chat = await pending;
    const cost = chat.usage.cost.total_msats;
    assert.equal((await balanceOf(s.url, key)).balance, msat - cost,
      'the refused refund took nothing');
    const ok = await refund(s.url, key);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.sats, String(Math.floor((msat - cost) / 1000)));
    await assertAudit(db());
  });

  s.test('402 insufficient_quota / insufficient_balance when the key cannot cover the reservation', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 1);
    const r = await postJson(s.url, chatPath, { model: 'gpt-fake', messages }, bearer(key));
    assert.equal(r.status, 402, r.text);
    assertErrorEnvelope(r.json, r.headers);
    assert.equal(r.json.error.type, 'insufficient_quota');
    assert.equal(r.json.error.code, 'insufficient_balance');
    // A reservation that grows with max_tokens: 2000 + 3 × 10000 msat on a 20-sat key.
    const big = await fundedKey(s.url, mints, 20);
    const r2 = await postJson(s.url, chatPath, { model: 'gpt-fake', messages, max_tokens: 10000 },
      bearer(big.key));
    assert.equal(r2.status, 402, r2.text);
    assert.equal(r2.json.error.code, 'insufficient_balance');
    assert.equal(s.upstream.requests.length, 0, 'nothing reached the upstream');
    // The openai SDK sees the same.
    await assert.rejects(s.openai({ apiKey: key }).chat.completions.create({ model: 'gpt-fake',
      messages }), (err) => err.status === 402 && err.type === 'insufficient_quota' &&
      err.code === 'insufficient_balance');
    assert.deepEqual([(await balanceOf(s.url, key)).balance, (await balanceOf(s.url, big.key)).balance],
      [msat, big.msat], 'a refused request costs nothing');
    await assertAudit(db());
  });

  s.test('a token sent as the Bearer key twice is one account, redeemed once, named sk-sha256(token)', async () => {
    const token = await mints.token(30);
    const proofsIn = getDecodedToken(token).proofs.length;
    const spent0 = mints.mint.counts().spent;
    const ai = s.openai({ apiKey: token });
    const c1 = await ai.chat.completions.create({ model: 'gpt-fake', messages });
    assert.equal(mints.mint.counts().spent, spent0 + proofsIn, 'the first use redeems the token');
    const c2 = await ai.chat.completions.create({ model: 'gpt-fake', messages });
    assert.equal(mints.mint.counts().spent, spent0 + proofsIn, 'the second use does not redeem again');
    const total = c1.usage.cost.total_msats + c2.usage.cost.total_msats;
    const key = keyOfToken(token);
    const byKey = await balanceOf(s.url, key);
    assert.equal(byKey.balance, 30000 - total, 'both requests were paid from one account');
    assert.equal(byKey.total_requests, 2);
    const byToken = await balanceOf(s.url, token);
    assert.equal(byToken.api_key, key, 'the token names the key sk-sha256hex(token)');
    assert.equal(byToken.balance, 30000 - total);
    await assertAudit(db());
  });

  s.test('a token as the key worth less than the reservation: 402, and the key keeps its value', async () => {
    const proofs = await mints.proofs(1);
    const token = getEncodedToken({ mint: mints.mint.url, proofs }, { version: 3 });
    assert.match(token, /^cashuA/);
    const r = await postJson(s.url, chatPath, { model: 'gpt-fake', messages }, bearer(token));
    assert.equal(r.status, 402, r.text);
    assert.equal(r.json.error.code, 'insufficient_balance');
    const i = await balanceOf(s.url, keyOfToken(token));
    assert.equal(i.balance, 1000, 'the redeemed token stays on its key (sk-sha256 of the cashuA string)');
    assert.equal((await topup(s.url, keyOfToken(token), await mints.token(5))).status, 200);
    const ok = await s.openai({ apiKey: token }).chat.completions.create({ model: 'gpt-fake', messages });
    assert.equal((await balanceOf(s.url, keyOfToken(token))).balance, 6000 - ok.usage.cost.total_msats);
    await assertAudit(db());
  });

  s.test('50 concurrent first uses of one token credit it once', { timeout: 30000 }, async () => {
    const token = await mints.token(200);
    const proofsIn = getDecodedToken(token).proofs.length;
    const spent0 = mints.mint.counts().spent;
    const ai = s.openai({ apiKey: token, timeout: 20000 });
    const results = await Promise.allSettled(Array.from({ length: 50 },
      () => ai.chat.completions.create({ model: 'gpt-fake', messages })));
    const failed = results.filter((x) => x.status === 'rejected');
    assert.equal(failed.length, 0, `every use succeeds: ${failed.map((x) => x.reason?.message).join('; ')}`);
    const costs = results.map((x) => x.value.usage.cost.total_msats);
    const i = await balanceOf(s.url, keyOfToken(token));
    assert.equal(i.balance, 200000 - costs.reduce((a, b) => a + b, 0),
      'credited once, every request charged');
    assert.equal(i.reserved, 0);
    assert.equal(i.total_requests, 50);
    assert.equal(mints.mint.counts().spent, spent0 + proofsIn, 'one redemption at the mint');
    await assertAudit(db());
  });

  s.test('an unknown key → 401 invalid_api_key; no credentials → 402 with a payment request; nothing forwarded', async () => {
    const unknown = await postJson(s.url, chatPath, { model: 'gpt-fake', messages },
      bearer(randomKey()));
    assert.equal(unknown.status, 401, unknown.text);
    assertErrorEnvelope(unknown.json, unknown.headers);
    assert.equal(unknown.json.error.code, 'invalid_api_key');
    assert.equal(unknown.json.error.type, 'invalid_request_error');

    const malformed = await postJson(s.url, chatPath, { model: 'gpt-fake', messages },
      bearer('sk-not-a-key'));
    assert.equal(malformed.status, 401, malformed.text);
    assert.equal(malformed.json.error.code, 'invalid_api_key');

    // No credentials at all: 402 with a NUT-18 payment request in X-Cashu (routstr-api.md, top
    // section: the deliberate difference from the reference's 401).
    const none = await postJson(s.url, chatPath, { model: 'gpt-fake', messages });
    assert.equal(none.status, 402, none.text);
    assertErrorEnvelope(none.json, none.headers);
    assert.equal(none.json.error.type, 'payment_required');
    assert.match(none.headers.get('x-cashu') ?? '', /^creqA/, 'a NUT-18 payment request in X-Cashu');

    await assert.rejects(s.openai({ apiKey: randomKey() }).chat.completions.create({
      model: 'gpt-fake', messages }), (err) => err.status === 401 && err.code === 'invalid_api_key');
    const inf = await info(s.url, randomKey());
    assert.equal(inf.status, 401, inf.text);
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('an upstream 500 passes through and releases the reservation: nothing charged', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 10);
    const upstreamError = { error: { message: 'the fake upstream broke', type: 'server_error',
      param: null, code: 'fake_500' } };
    s.upstream.setBehavior({ status: 500, body: upstreamError });
    const r = await postJson(s.url, chatPath, { model: 'gpt-fake', messages }, bearer(key));
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, upstreamError, 'the upstream error passes through');
    const rs = await postJson(s.url, chatPath, { model: 'gpt-fake', messages, stream: true },
      bearer(key));
    assert.equal(rs.status, 500);
    const i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat, 'balance unchanged');
    assert.equal(i.reserved, 0, 'no reservation left');
    assert.equal(i.total_spent, 0);
    await assertAudit(db());
  });

  s.test('a client gone mid-stream is charged at most its reservation, and the reservation ends', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 10);
    s.upstream.setBehavior({ words: 40, holdAfter: 3 });
    const ctl = new AbortController();
    const res = await s.fetch(chatPath, { method: 'POST', signal: ctl.signal,
      headers: { 'content-type': 'application/json', ...bearer(key) },
      body: JSON.stringify({ model: 'gpt-fake', messages, stream: true }) });
    assert.equal(res.status, 200);
    const rid = assertRequestId(res.headers);
    const reader = res.body.getReader();
    const first = await reader.read();
    assert.ok(first.value?.length > 0, 'the stream began');
    assert.equal((await balanceOf(s.url, key)).reserved, R, 'the reservation is held while streaming');
    ctl.abort();
    const up = s.upstream.requests.at(-1);
    const closed = await Promise.race([up.closed, sleep(5000).then(() => null)]);
    assert.ok(closed?.aborted, 'the upstream transfer was aborted');
    const i = await waitInfo(s.url, key, (x) => x.reserved === 0, 5000, 'reserved == 0');
    const charged = msat - i.balance;
    assert.ok(charged <= R, `charged ${charged} msat, more than the reservation ${R}`);
    assert.ok(charged > 0, 'a request cut by the client is never free (an estimate is charged)');
    const rows = (await history(s.url, key)).filter((x) => x.request_id === rid);
    assert.equal(rows.length, 1, 'one ledger row for the cut request');
    assert.equal(rows[0].amount, charged);
    await assertAudit(db());
  });

  s.test('an answer without usage is charged an estimate, marked so, never more than the reservation', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 20);
    s.upstream.setBehavior({ usage: null });
    const ai = s.openai({ apiKey: key });
    const { data, response } = await ai.chat.completions.create({ model: 'gpt-fake', messages })
      .withResponse();
    const est = data.usage?.cost;
    assert.ok(est, `the cost is still reported: ${JSON.stringify(data.usage)}`);
    assert.equal(est.estimated, true, 'the cost object says it was estimated');
    assert.ok(est.total_msats > 0 && est.total_msats <= R, `estimate ${est.total_msats} in (0, ${R}]`);
    assert.equal(Number(response.headers.get('x-routstr-cost-msats')), est.total_msats);
    let i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat - est.total_msats);

    // Streamed: the upstream sends no usage chunk although asked; routstr still ends the stream
    // with one usage chunk carrying the (estimated) cost, then [DONE].
    const res = await s.fetch(chatPath, { method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(key) },
      body: JSON.stringify({ model: 'gpt-fake', messages, stream: true }) });
    const events = parseSse(await res.text());
    assert.equal(events.at(-1).data, '[DONE]');
    const withUsage = events.slice(0, -1).map((e) => JSON.parse(e.data)).filter((c) => c.usage);
    assert.equal(withUsage.length, 1, 'one usage chunk');
    const sc = withUsage[0].usage.cost;
    assert.equal(sc.estimated, true);
    assert.ok(sc.total_msats > 0 && sc.total_msats <= R);
    i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat - est.total_msats - sc.total_msats);
    assert.equal(i.reserved, 0);
    await assertAudit(db());
  });

  s.test('an upstream that breaks mid-stream: the client sees a cut stream, is charged at most R', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 10);
    s.upstream.setBehavior({ words: 30, cutAfter: 4 });
    const r = await s.raw(chatPath, { method: 'POST', allowTruncated: true,
      headers: { 'content-type': 'application/json', ...bearer(key) },
      body: JSON.stringify({ model: 'gpt-fake', messages, stream: true }) });
    assert.equal(r.status, 200);
    assert.equal(r.complete, false, 'a broken upstream never looks like a complete answer');
    assert.ok(!r.body.toString().includes('[DONE]'), 'no [DONE] after a broken upstream');
    const i = await waitInfo(s.url, key, (x) => x.reserved === 0, 5000, 'reserved == 0');
    const charged = msat - i.balance;
    assert.ok(charged > 0 && charged <= R, `charged ${charged}, expected in (0, ${R}]`);
    await assertAudit(db());
  });

  s.test('requests without token usage pay the per-request price: GET /v1/models/{id}, speech', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 10);
    const g = await s.fetch('/v1/models/gpt-fake', { headers: bearer(key) });
    assert.equal(g.status, 200);
    assert.equal((await g.json()).id, 'gpt-fake');
    assert.equal(Number(g.headers.get('x-routstr-cost-msats')), 2000);
    assert.equal((await balanceOf(s.url, key)).balance, msat - 2000);
    const sp = await s.fetch('/v1/audio/speech', { method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(key) },
      body: JSON.stringify({ model: 'tts-fake', input: 'Say it.', voice: 'alloy' }) });
    assert.equal(sp.status, 200);
    assert.equal((await sp.arrayBuffer()).byteLength, 65536, 'the audio passes through whole');
    const i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat - 4000, 'speech costs the per-request price, never 0');
    assert.equal(i.reserved, 0);
    await assertAudit(db());
  });

  s.test('a refund after new credit never hands back the previous refund\'s token', async () => {
    const { key } = await fundedKey(s.url, mints, 10);
    const first = await refund(s.url, key);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.sats, '10');
    await mints.wallet.receive(first.json.token); // the client collects it
    const t = await topup(s.url, key, await mints.token(3));
    assert.equal(t.status, 200, t.text);
    const chat = await s.openai({ apiKey: key }).chat.completions.create({ model: 'gpt-fake', messages });
    const left = 3000 - chat.usage.cost.total_msats;
    assert.ok(left > 0 && left < 1000, `a sub-sat rest is left: ${left}`);
    const again = await refund(s.url, key);
    assert.notEqual(again.json?.token, first.json.token,
      `the old token (already collected) came back for a different balance: ${again.text}`);
    assert.equal(again.status, 400, again.text);
    assert.equal(again.json.detail, 'Balance too small to refund');
    assert.equal((await balanceOf(s.url, key)).balance, left);
  });

  s.test('a key with only a sub-sat rest: refund → 400 "Balance too small to refund"', async () => {
    const { key } = await fundedKey(s.url, mints, 3);
    const chat = await s.openai({ apiKey: key }).chat.completions.create({ model: 'gpt-fake', messages });
    const left = 3000 - chat.usage.cost.total_msats;
    const r = await refund(s.url, key);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.detail, 'Balance too small to refund');
    assert.equal((await balanceOf(s.url, key)).balance, left);
  });

  s.test('refund with a token nobody deposited: 401 key_not_found, the token is not redeemed', async () => {
    const proofs = await mints.proofs(5);
    const token = getEncodedTokenV4({ mint: mints.mint.url, proofs });
    const r = await refund(s.url, token);
    assert.equal(r.status, 401, `refund must not create a key (routstr-api.md §1.4.1 B): ${r.text}`);
    assert.equal(r.json.error.code, 'key_not_found');
    const states = await mints.wallet.checkProofsStates(proofs);
    assert.ok(states.every((x) => x.state === 'UNSPENT'), 'the token is still the client\'s');
  });

  s.test('a token is spent once across create, top-up and Bearer', async () => {
    const { key } = await fundedKey(s.url, mints, 5);
    const { token: used } = await fundedKey(s.url, mints, 5);
    const t = await topup(s.url, key, used);
    assert.equal(t.status, 400, `a token that made a key cannot top up another: ${t.text}`);
    assert.equal(t.json.error.code, 'cashu_token_already_spent');
    const fresh = await mints.token(4);
    assert.equal((await topup(s.url, key, fresh)).status, 200);
    const c = await createKey(s.url, fresh);
    assert.equal(c.status, 400, `a token used for a top-up cannot make a key: ${c.text}`);
    assert.equal(c.json.error.code, 'cashu_token_already_spent');
    const b = await postJson(s.url, chatPath, { model: 'gpt-fake', messages }, bearer(fresh));
    assert.equal(b.status, 400, b.text);
    assert.equal((await balanceOf(s.url, key)).balance, 9000);
    await assertAudit(db());
  });

  s.test('a first use whose swap answer is lost still credits the key exactly once', async () => {
    const token = await mints.token(12);
    mints.mint.setFault({ dropAfterSwap: true });
    const r = await createKey(s.url, token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.balance, 12000);
    const again = await createKey(s.url, token);
    assert.equal(again.json.balance, 12000);
    await assertAudit(db());
  });

  s.test('refunds and top-ups racing on one key: every sat is either refunded or still there', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 8);
    let deposited = msat;
    let refunded = 0;
    const seen = new Set();
    for (let k = 0; k < 5; k++) {
      const tok = await mints.token(5);
      const [rf, tp] = await Promise.all([refund(s.url, key), topup(s.url, key, tok)]);
      if (tp.status === 200) deposited += tp.json.msats;
      else assert.fail(`top-up failed: ${tp.status} ${tp.text}`);
      if (rf.status === 200 && seen.has(rf.json.token)) {
        // The idempotent answer of an empty key: the last refund's token again, nothing new.
      } else if (rf.status === 200) {
        seen.add(rf.json.token);
        refunded += 1000 * sum(await mints.wallet.receive(rf.json.token));
      } else {
        assert.ok([400, 409].includes(rf.status), `${rf.status} ${rf.text}`);
      }
    }
    const left = (await balanceOf(s.url, key)).balance;
    assert.equal(refunded + left, deposited, `refunded ${refunded} + left ${left} = deposited ${deposited}`);
    await assertAudit(db());
  });

  s.test('a client gone before any answer is charged nothing; the upstream transfer is aborted', async () => {
    const { key, msat } = await fundedKey(s.url, mints, 10);
    s.upstream.setBehavior({ delayMs: 3000 });
    const ctl = new AbortController();
    const pending = s.fetch(chatPath, { method: 'POST', signal: ctl.signal,
      headers: { 'content-type': 'application/json', ...bearer(key) },
      body: JSON.stringify({ model: 'gpt-fake', messages, stream: true }) }).catch((e) => e);
    const [up] = await s.upstream.waitForRequests(1);
    assert.equal((await balanceOf(s.url, key)).reserved, R);
    ctl.abort();
    await pending;
    const closed = await Promise.race([up.closed, sleep(5000).then(() => null)]);
    assert.ok(closed?.aborted, 'the upstream transfer was aborted');
    const i = await waitInfo(s.url, key, (x) => x.reserved === 0, 5000, 'reserved == 0');
    assert.equal(i.balance, msat, 'nothing charged');
    assert.equal(i.total_spent, 0);
    await assertAudit(db());
  });

  s.test('a token from an untrusted mint → 400 invalid_token / cashu_untrusted_mint naming the trusted mint', async () => {
    const other = await startMint({});
    try {
      const w = await walletFor(other.url);
      const proofs = await mintTokens(w, 8);
      const token = getEncodedTokenV4({ mint: other.url, proofs });
      for (const r of [await createKey(s.url, token),
        await postJson(s.url, chatPath, { model: 'gpt-fake', messages }, bearer(token))]) {
        assert.equal(r.status, 400, r.text);
        assert.deepEqual(Object.keys(r.json).sort(), ['error', 'request_id'], r.text);
        assert.equal(r.json.error.type, 'invalid_token');
        assert.equal(r.json.error.code, 'cashu_untrusted_mint');
        assert.ok(r.json.error.message.includes(mints.mint.url),
          `the message names the trusted mint: ${r.json.error.message}`);
        assert.equal(r.json.request_id, r.headers.get('x-routstr-request-id'));
      }
      const states = await w.checkProofsStates(proofs);
      assert.ok(states.every((x) => x.state === 'UNSPENT'), 'the token is still the client\'s');
      assert.equal((await info(s.url, keyOfToken(token))).status, 401, 'no account was made');
      assert.equal(s.upstream.requests.length, 0);
    } finally {
      await other.close();
    }
    await assertAudit(db());
  });
});

/* ----------------------------------------------------------------- the mint failing */

// A stack of its own, so the node's wallet holds only what these tests give it: a deposit of 16
// sats is one 16 proof, and a refund of 13 sats then needs a swap at the mint.
describe('the mint failing under a refund', () => {
  const mints = mintService();
  const s = useStack({
    services: [mints],
    env: { FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '2', FIXED_PER_1K_INPUT_TOKENS: '1',
      FIXED_PER_1K_OUTPUT_TOKENS: '3' },
  });
  const db = () => s.routstr.env.DATABASE_URL;

  s.test('a refund whose swap fails at the mint loses nothing: the retry pays exactly once', async () => {
    const { key } = await fundedKey(s.url, mints, 16);
    const chat = await s.openai({ apiKey: key }).chat.completions.create({ model: 'gpt-fake', messages });
    const left = 16000 - chat.usage.cost.total_msats;
    const n = Math.floor(left / 1000);
    mints.mint.setFault({ fail500Once: '/v1/swap' });
    const first = await refund(s.url, key);
    assert.equal(mints.mint.faults().fail500Once ?? null, null, 'the refund went to the mint and failed there');
    assert.notEqual(first.status, 200, first.text);
    assert.ok([500, 502, 503].includes(first.status), `${first.status} ${first.text}`);
    const after = await balanceOf(s.url, key);
    const tokens = [];
    for (let k = 0; k < 10 && tokens.length === 0; k++) {
      const r = await refund(s.url, key);
      if (r.status === 200) tokens.push(r.json);
      else await sleep(300);
    }
    assert.equal(tokens.length, 1, `a retried refund pays (first answer ${first.status} ${first.text}, ` +
      `balance after it ${JSON.stringify(after)})`);
    assert.equal(tokens[0].sats, String(n));
    assert.equal(sum(await mints.wallet.receive(tokens[0].token)), n, 'the whole balance, once');
    assert.equal((await balanceOf(s.url, key)).balance, left - n * 1000);
    await assertAudit(db());
  });
});

/* ------------------------------------------------------------------------ model pricing */

const MODEL = {
  id: 'test/easy-model',
  name: 'Easy model',
  created: 1700000000,
  description: 'round prices for the paid-path tests',
  context_length: 1000,
  architecture: { modality: 'text->text', input_modalities: ['text'], output_modalities: ['text'],
    tokenizer: 'Other', instruct_type: null },
  pricing: { prompt: '0.00000125', completion: '0.0000025', request: '0', image: '0',
    web_search: '0', internal_reasoning: '0' },
  top_provider: { context_length: 1000, max_completion_tokens: 200, is_moderated: false },
  per_request_limits: null,
};
const BTC_USD = 100000;
/** msat per token: USD per token × 1000 sats per USD × 1000. */
const IN_MSAT = 1.25;
const OUT_MSAT = 2.5;
/** ceil(1.25 p + 2.5 c) in integers: (125 p + 250 c) / 100 rounded up. */
const modelCost = (u) => Math.ceil((125 * u.prompt_tokens + 250 * u.completion_tokens) / 100);

describe('model pricing', () => {
  const mints = mintService();
  const ex = exchangeService(BTC_USD);
  const services = [mints, ex, modelsService([MODEL])];
  const s = useStack({
    services,
    env: { FIXED_PRICING: 'false', EXCHANGE_FEE: '1', UPSTREAM_PROVIDER_FEE: '1',
      PRICING_REFRESH_INTERVAL_SECONDS: '0.25', PRICE_MAX_AGE_SECONDS: '2' },
  });
  const db = () => s.routstr.env.DATABASE_URL;

  /** /v1/models once the first BTC/USD price is in. */
  async function pricedModels() {
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await jsonOf(await s.fetch('/v1/models'));
      assert.equal(r.status, 200, r.text);
      const m = r.json.data.find((x) => x.id === MODEL.id || x.id === 'easy-model');
      if (m?.sats_pricing) return { list: r.json, m };
      if (Date.now() > deadline) assert.fail(`no sats_pricing after 5 s: ${r.text}`);
      await sleep(50);
    }
  }

  s.test('/v1/models: numeric USD pricing and sats_pricing per token, with max_cost in sats', async () => {
    const { list, m } = await pricedModels();
    assert.equal(list.object, undefined, 'no "object":"list"');
    const keys = ['prompt', 'completion', 'request', 'image', 'web_search', 'internal_reasoning',
      'input_cache_read', 'input_cache_write', 'max_prompt_cost', 'max_completion_cost', 'max_cost'];
    for (const k of keys) {
      assert.equal(typeof m.pricing[k], 'number', `pricing.${k} is a number`);
      assert.equal(typeof m.sats_pricing[k], 'number', `sats_pricing.${k} is a number`);
    }
    const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)),
      `${what}: ${a}, expected ${b}`);
    near(m.pricing.prompt, 1.25e-6, 'pricing.prompt (fees 1)');
    near(m.pricing.completion, 2.5e-6, 'pricing.completion');
    near(m.sats_pricing.prompt, IN_MSAT / 1000, 'sats_pricing.prompt');
    near(m.sats_pricing.completion, OUT_MSAT / 1000, 'sats_pricing.completion');
    // §4.3, cl 1000 > mct 200: (cl − mct)·p + mct·c = 800 × 1.25e-6 + 200 × 2.5e-6 USD.
    near(m.pricing.max_cost, 0.0015, 'pricing.max_cost (USD)');
    near(m.sats_pricing.max_cost, 1.5, 'sats_pricing.max_cost (sats)');
    near(m.sats_pricing.max_prompt_cost, 1.25, 'sats_pricing.max_prompt_cost');
    near(m.sats_pricing.max_completion_cost, 0.5, 'sats_pricing.max_completion_cost');
  });

  s.test('a chat is charged tokens × sats price × 1000, rounded up once', async () => {
    await pricedModels();
    const { key, msat } = await fundedKey(s.url, mints, 20);
    // 17 prompt tokens (1.25 × 17 = 21.25) and 47 completion tokens (2.5 × 47 = 117.5):
    // rounded once 139 msat; rounding each part would give 140.
    const body = { model: MODEL.id, messages: [{ role: 'user', content: 'Price me exactly.' }],
      max_tokens: 47 };
    const ai = s.openai({ apiKey: key });
    const { data, response } = await ai.chat.completions.create(body).withResponse();
    const usage = expectedChatUsage(s.upstream.requests.at(-1).json);
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], [17, 47]);
    const cost = modelCost(usage);
    assert.equal(cost, 139);
    assert.equal(data.usage.cost.total_msats, cost, 'usage.cost.total_msats');
    assert.equal(data.usage.cost.input_msats + data.usage.cost.output_msats + data.usage.cost.base_msats,
      cost, 'the parts add up to the total');
    assert.equal(Number(response.headers.get('x-routstr-cost-msats')), cost);
    const i = await balanceOf(s.url, key);
    assert.equal(i.balance, msat - cost);
    assert.equal(i.reserved, 0);

    const stream = await ai.chat.completions.create({ ...body, stream: true });
    let last;
    for await (const c of stream) if (c.usage) last = c;
    assert.equal(last.usage.cost.total_msats, cost, 'the same price streamed');
    assert.equal((await balanceOf(s.url, key)).balance, msat - 2 * cost);
    await assertAudit(db());
  });

  s.test('the reservation follows §3.2: a key that cannot cover it gets 402 naming it', async () => {
    await pricedModels();
    const { key, msat } = await fundedKey(s.url, mints, 1);
    // A prompt long enough for no prompt discount, no max_tokens: R = trunc(1.5 × 1000 × 0.99).
    const r = await postJson(s.url, chatPath, { model: MODEL.id,
      messages: [{ role: 'user', content: 'x'.repeat(2400) }] }, bearer(key));
    assert.equal(r.status, 402, r.text);
    assert.equal(r.json.error.type, 'insufficient_quota');
    assert.equal(r.json.error.code, 'insufficient_balance');
    assert.match(r.json.error.message, /\b1485 mSats required/);
    assert.equal((await balanceOf(s.url, key)).balance, msat);
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('an unknown model → 400 invalid_model, nothing forwarded or charged', async () => {
    await pricedModels();
    const { key, msat } = await fundedKey(s.url, mints, 5);
    const r = await postJson(s.url, chatPath, { model: 'no-such-model', messages }, bearer(key));
    assert.equal(r.status, 400, r.text);
    assertErrorEnvelope(r.json, r.headers);
    assert.equal(r.json.error.type, 'invalid_model');
    assert.equal(s.upstream.requests.length, 0);
    assert.equal((await balanceOf(s.url, key)).balance, msat);
    await assert.rejects(s.openai({ apiKey: key }).chat.completions.create({ model: 'gpt-4o',
      messages }), (err) => err.status === 400 && err.type === 'invalid_model');
  });

  s.test('model lookup is case-insensitive and drops a -YYYYMMDD suffix', async () => {
    await pricedModels();
    const { key, msat } = await fundedKey(s.url, mints, 20);
    const ai = s.openai({ apiKey: key });
    let spent = 0;
    for (const model of ['TEST/EASY-MODEL', 'Easy-Model', 'easy-model-20250101',
      'test/easy-model-20240718']) {
      const c = await ai.chat.completions.create({ model, messages });
      const usage = expectedChatUsage(s.upstream.requests.at(-1).json);
      assert.equal(c.usage.cost.total_msats, modelCost(usage), `${model} is priced as ${MODEL.id}`);
      spent += modelCost(usage);
    }
    const bad = await postJson(s.url, chatPath, { model: 'easy-model-2025', messages }, bearer(key));
    assert.equal(bad.status, 400, `a suffix that is not a date is not stripped: ${bad.text}`);
    assert.equal(bad.json.error.type, 'invalid_model');
    assert.equal((await balanceOf(s.url, key)).balance, msat - spent);
    await assertAudit(db());
  });

  s.test('BTC/USD is the minimum valid quote: bad and failing sources are ignored', async () => {
    await pricedModels();
    const near = (a, b) => Math.abs(a - b) <= 1e-9 * Math.abs(b);
    async function waitPrompt(sats, what) {
      const deadline = Date.now() + 5000;
      let m;
      while (Date.now() < deadline) {
        ({ m } = await pricedModels());
        if (near(m.sats_pricing.prompt, sats)) return;
        await sleep(50);
      }
      assert.fail(`${what}: sats_pricing.prompt ${m.sats_pricing.prompt}, expected ${sats}`);
    }
    try {
      ex.exchange.setPrice(50000, 'coinbase'); // the lowest: 2000 sats per USD
      await waitPrompt(1.25e-6 * 2000, 'the minimum of three quotes (Coinbase)');
      ex.exchange.setPrice(40000, 'binance');
      await waitPrompt(1.25e-6 * 2500, 'the minimum of three quotes (Binance)');
      ex.exchange.setMode('bad', 'coinbase'); // its answer has no price any more
      ex.exchange.setMode('fail', 'binance');
      ex.exchange.setPrice(80000, 'kraken');
      await waitPrompt(1.25e-6 * 1250, 'the one valid quote (Kraken)');
    } finally {
      ex.exchange.reset();
    }
    await waitPrompt(1.25e-6 * 1000, 'back to 100,000');
  });

  /** Polls a priced request with an unknown key (costs nothing) until it is answered `status`. */
  async function waitPricedStatus(status, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await postJson(s.url, chatPath, { model: MODEL.id, messages }, bearer(randomKey()));
      if (r.status === status) return r;
      if (Date.now() > deadline) {
        assert.fail(`priced requests still answer ${r.status} after ${timeoutMs} ms: ${r.text}`);
      }
      await sleep(50);
    }
  }

  s.test('the exchange down past PRICE_MAX_AGE_SECONDS → 503 for priced requests; back when it recovers', async () => {
    await pricedModels();
    const { key, msat } = await fundedKey(s.url, mints, 20);
    await waitPricedStatus(401, 3000); // priced and usable: an unknown key is the only problem
    ex.exchange.setMode('fail');
    const t0 = Date.now();
    const r503 = await waitPricedStatus(503, 6000);
    const waited = Date.now() - t0;
    // The last good price was at most one refresh (0.25 s) before t0; it is usable for 2 s.
    assert.ok(waited >= 1500, `503 after ${waited} ms: the price was given up before it was 2 s old`);
    assertErrorEnvelope(r503.json, r503.headers);
    const seen = s.upstream.requests.length;
    const paid = await postJson(s.url, chatPath, { model: MODEL.id, messages }, bearer(key));
    assert.equal(paid.status, 503, paid.text);
    assert.equal(s.upstream.requests.length, seen, 'nothing forwarded without a price');
    assert.equal((await balanceOf(s.url, key)).balance, msat, 'nothing charged');

    ex.exchange.setMode('ok');
    await waitPricedStatus(401, 5000);
    const ok = await postJson(s.url, chatPath, { model: MODEL.id, messages }, bearer(key));
    assert.equal(ok.status, 200, ok.text);
    await assertAudit(db());
  });

  s.test('an exchange that stalls also ends in 503 once the price is too old', async () => {
    await pricedModels();
    await waitPricedStatus(401, 3000);
    ex.exchange.setMode('stall');
    const t0 = Date.now();
    await waitPricedStatus(503, 6000);
    assert.ok(Date.now() - t0 >= 1500, 'not before the price is 2 s old');
    // The stalled fetch is still open when the stack stops: routstr must still exit 0 in time.
  });
});
