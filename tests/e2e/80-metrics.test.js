// 80-metrics: GET /metrics in the Prometheus text format 0.0.4.
//
// Every scrape is read twice: by a Prometheus text-format parser (parse-prometheus-text-format)
// and by a strict line checker here (sample syntax, label escaping, HELP/TYPE once and before
// the samples, families contiguous, no duplicate series, histogram buckets cumulative with +Inf
// equal to _count), since the parser is lenient.
//
// Then paid traffic moves the counters by exactly what the test can compute on its own: fixed
// pricing (2 sats a request, 1 and 3 sats per 1000 prompt and completion tokens), the usage the
// fake upstream derives from our own request, the ledger (balance before and after), the tokens
// the test mint issued and redeemed.
//
// Access: loopback is open; routstr listens on 0.0.0.0 and the test reaches it through this
// machine's non-loopback address, where it needs Authorization: Bearer $METRICS_TOKEN (401
// without, 403 when no token is configured).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';

import { expectedChatUsage } from '../upstream/fake-openai.js';
import { assertErrorEnvelope, fetchWithTimeout, withTimeout, useStack } from './lib/harness.js';
import { balanceOf, createKey, fundedKey, mintService, postJson, refund } from './lib/paid.js';

const TOKEN = 'metrics-e2e-token-0123456789';
const MODEL = 'test/metrics-model';
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const chatPath = '/v1/chat/completions';
const bearer = (key) => ({ authorization: `Bearer ${key}` });

/** A non-loopback address of this machine, as a URL host, or undefined. */
function externalHost() {
  const all = Object.values(os.networkInterfaces()).flat().filter((a) => a && !a.internal);
  const v4 = all.find((a) => a.family === 'IPv4');
  if (v4) return v4.address;
  const v6 = all.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80'));
  return v6 ? `[${v6.address}]` : undefined;
}
const EXTERNAL = externalHost();
const noExternal = EXTERNAL ? false : 'this machine has no non-loopback address to connect from';

/** The catalogue of the stack: one model, so the model label is predictable. */
function modelsService() {
  return {
    name: 'models',
    start(stack) {
      const file = path.join(stack.dir, 'models.json');
      fs.writeFileSync(file, JSON.stringify({ data: [{
        id: MODEL, name: 'Metrics model', created: 1700000000, description: 'for 80-metrics',
        context_length: 1000,
        architecture: { modality: 'text->text', input_modalities: ['text'],
          output_modalities: ['text'], tokenizer: 'Other', instruct_type: null },
        pricing: { prompt: '0.000001', completion: '0.000002', request: '0', image: '0',
          web_search: '0', internal_reasoning: '0' },
        top_provider: { context_length: 1000, max_completion_tokens: 200, is_moderated: false },
        per_request_limits: null,
      }] }));
      return { env: { MODELS_PATH: file } };
    },
    stop() {},
  };
}

/* --------------------------------------------------------------- the strict format check */

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]Inf|NaN)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (${VALUE})$`);
const LABEL_G = new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, 'g');

const unescape = (v) => v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));

/** Checks 'text' line by line against the 0.0.4 text format; returns the samples. */
function checkFormat(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  assert.ok(!text.includes('\r'), 'no carriage returns');
  const types = new Map(); // family -> type
  const helped = new Set();
  const done = new Set(); // families whose samples are over
  const seen = new Set();
  const samples = [];
  let current;
  const familyOf = (name) => {
    if (types.has(name) && types.get(name) !== 'histogram') return name;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && types.get(base) === 'histogram') return base;
    }
    return undefined;
  };
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    assert.ok(line.length > 0, `no empty lines (${where})`);
    let m;
    if ((m = /^# HELP (\S+) (.*)$/.exec(line))) {
      assert.match(m[1], new RegExp(`^${NAME}$`), where);
      assert.ok(!helped.has(m[1]), `HELP once per family (${where})`);
      assert.ok(!/\\[^\\n]/.test(m[2].replace(/\\\\/g, '')), `HELP escapes only \\\\ and \\n (${where})`);
      helped.add(m[1]);
      continue;
    }
    if ((m = /^# TYPE (\S+) (\S+)$/.exec(line))) {
      assert.match(m[2], /^(counter|gauge|histogram)$/, where);
      assert.ok(!types.has(m[1]), `TYPE once per family (${where})`);
      assert.ok(helped.has(m[1]), `HELP comes before TYPE (${where})`);
      types.set(m[1], m[2]);
      if (current) done.add(current);
      current = m[1];
      continue;
    }
    assert.ok(!line.startsWith('#'), `no other comments (${where})`);
    m = SAMPLE.exec(line);
    assert.ok(m, `a sample: name{labels} value (${where})`);
    const family = familyOf(m[1]);
    assert.ok(family, `the sample's family has a TYPE line before it (${where})`);
    assert.equal(family, current, `a family's samples are contiguous (${where})`);
    assert.ok(!done.has(family), where);
    assert.match(family, /^(routstr_|process_)/, `our names are prefixed (${where})`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL_G)) {
      assert.ok(!(k in labels), `a label once per sample (${where})`);
      labels[k] = unescape(v);
    }
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `no duplicate series (${where})`);
    seen.add(key);
    const value = Number(m[3].replace('Inf', 'Infinity'));
    if (types.get(family) === 'counter') assert.ok(value >= 0, `counters are not negative (${where})`);
    samples.push({ name: m[1], family, labels, value });
  }
  // Histograms: per label set, buckets in ascending le, cumulative, +Inf last and = _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map();
    for (const s of samples.filter((x) => x.family === family)) {
      const { le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      if (!groups.has(k)) groups.set(k, { buckets: [], sum: undefined, count: undefined });
      const g = groups.get(k);
      if (s.name.endsWith('_bucket')) {
        assert.ok(le !== undefined, `${family}_bucket has le`);
        g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
      } else if (s.name.endsWith('_sum')) g.sum = s.value;
      else g.count = s.value;
    }
    for (const g of groups.values()) {
      assert.ok(g.buckets.length >= 2, `${family}: buckets`);
      for (let j = 1; j < g.buckets.length; j++) {
        assert.ok(g.buckets[j][0] > g.buckets[j - 1][0], `${family}: le ascending`);
        assert.ok(g.buckets[j][1] >= g.buckets[j - 1][1], `${family}: buckets are cumulative`);
      }
      assert.equal(g.buckets.at(-1)[0], Infinity, `${family}: the last bucket is +Inf`);
      assert.equal(g.buckets.at(-1)[1], g.count, `${family}: +Inf bucket = _count`);
      assert.ok(Number.isFinite(g.sum), `${family}: _sum`);
    }
  }
  return { types, samples };
}

/** One scrape, checked and parsed: value(name, labels) reads a sample (0 when absent). */
async function scrape(base, headers = {}) {
  const res = await fetchWithTimeout(`${base}/metrics`, { headers });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(res.headers.get('content-type'), CONTENT_TYPE);
  const { types, samples } = checkFormat(text);
  const parsed = parsePrometheus(text);
  // The parser agrees with the checker on families and their types.
  assert.deepEqual(parsed.map((f) => [f.name, f.type.toLowerCase()]), [...types.entries()]);
  const family = (name) => {
    const f = parsed.find((x) => x.name === name);
    assert.ok(f, `family ${name} in the exposition`);
    return f;
  };
  return {
    text,
    parsed,
    types,
    samples,
    /** A counter's or gauge's value for exactly these labels (0 when that series is absent). */
    value(name, labels = {}) {
      const f = family(name);
      const m = f.metrics.find((x) => JSON.stringify(Object.entries(x.labels ?? {}).sort()) ===
        JSON.stringify(Object.entries(labels).sort()));
      return m ? Number(m.value) : 0;
    },
    histogram(name) {
      const f = family(name);
      assert.equal(f.type, 'HISTOGRAM');
      const m = f.metrics[0];
      return { count: Number(m.count), sum: Number(m.sum), buckets: m.buckets };
    },
  };
}

const requests = (m, route, model, status) =>
  m.value('routstr_requests_total', { route, model, status: String(status) });

/* ----------------------------------------------------------------------------- the suite */

describe('metrics with METRICS_TOKEN', () => {
  const mints = mintService();
  const s = useStack({
    services: [mints, modelsService()],
    env: { HOST: '0.0.0.0', METRICS_TOKEN: TOKEN, FIXED_PRICING: 'true',
      FIXED_COST_PER_REQUEST: '2', FIXED_PER_1K_INPUT_TOKENS: '1', FIXED_PER_1K_OUTPUT_TOKENS: '3' },
  });
  const costOf = (u) => 2000 + u.prompt_tokens * 1 + u.completion_tokens * 3;

  s.test('the exposition parses and has every family with its type', async () => {
    const m = await scrape(s.url);
    const want = {
      routstr_requests_total: 'counter', routstr_llm_tokens_total: 'counter',
      routstr_cashu_tokens_total: 'counter', routstr_cashu_msat_total: 'counter',
      routstr_earned_msat_total: 'counter', routstr_reserved_msat: 'gauge',
      routstr_upstream_latency_seconds: 'histogram', routstr_upstream_duration_seconds: 'histogram',
      routstr_mint_calls_total: 'counter', routstr_mint_errors_total: 'counter',
      routstr_open_streams: 'gauge', routstr_open_requests: 'gauge',
      process_start_time_seconds: 'gauge', routstr_build_info: 'gauge',
    };
    assert.deepEqual(Object.fromEntries(m.types), want);
    const start = m.value('process_start_time_seconds');
    assert.ok(start > Date.now() / 1000 - 600 && start <= Date.now() / 1000, `start time ${start}`);
    const build = m.parsed.find((f) => f.name === 'routstr_build_info').metrics;
    assert.equal(build.length, 1);
    assert.match(build[0].labels.version, /^\d+\.\d+\.\d+/);
    // The latency buckets span 5 ms to 300 s.
    const le = Object.keys(m.histogram('routstr_upstream_latency_seconds').buckets);
    assert.ok(le.includes('0.005') && le.includes('300') && le.includes('+Inf'), le.join(' '));
    assert.equal(m.value('routstr_reserved_msat'), 0);
    assert.equal(m.value('routstr_open_streams'), 0);
  });

  s.test('the counters move by exactly the paid traffic: requests, tokens, msat, latency', async () => {
    const m0 = await scrape(s.url);
    const { key, msat } = await fundedKey(s.url, mints, 50);
    const m1 = await scrape(s.url);
    assert.equal(m1.value('routstr_cashu_tokens_total', { direction: 'in' }) -
      m0.value('routstr_cashu_tokens_total', { direction: 'in' }), 1, 'one token redeemed');
    assert.equal(m1.value('routstr_cashu_msat_total', { direction: 'in' }) -
      m0.value('routstr_cashu_msat_total', { direction: 'in' }), msat, 'its value credited');
    assert.ok(m1.value('routstr_mint_calls_total') > m0.value('routstr_mint_calls_total'),
      'the redemption called the mint');
    assert.equal(requests(m1, 'balance', '', 200) - requests(m0, 'balance', '', 200), 1,
      'the create is counted under the balance route');

    const body = { model: MODEL, messages: [{ role: 'user', content: 'Count me, exactly.' }] };
    const before = await balanceOf(s.url, key);
    const r = await postJson(s.url, chatPath, body, bearer(key));
    assert.equal(r.status, 200, r.text);
    const usage = expectedChatUsage(body);
    assert.deepEqual({ prompt: r.json.usage.prompt_tokens, completion: r.json.usage.completion_tokens },
      { prompt: usage.prompt_tokens, completion: usage.completion_tokens });
    const after = await balanceOf(s.url, key);
    const charged = before.balance - after.balance;
    assert.equal(charged, costOf(usage), 'the ledger charged the metered cost');

    const m2 = await scrape(s.url);
    assert.equal(requests(m2, 'chat_completions', MODEL, 200) -
      requests(m1, 'chat_completions', MODEL, 200), 1);
    assert.equal(m2.value('routstr_earned_msat_total') - m1.value('routstr_earned_msat_total'),
      charged, 'earned = the ledger cost');
    assert.equal(m2.value('routstr_llm_tokens_total', { direction: 'in' }) -
      m1.value('routstr_llm_tokens_total', { direction: 'in' }), usage.prompt_tokens);
    assert.equal(m2.value('routstr_llm_tokens_total', { direction: 'out' }) -
      m1.value('routstr_llm_tokens_total', { direction: 'out' }), usage.completion_tokens);
    assert.equal(m2.value('routstr_reserved_msat'), 0, 'the reservation is over');
    const h1 = m1.histogram('routstr_upstream_latency_seconds');
    const h2 = m2.histogram('routstr_upstream_latency_seconds');
    assert.equal(h2.count - h1.count, 1, 'one upstream answer timed');
    assert.ok(h2.sum > h1.sum, 'its latency added to _sum');
    assert.equal(m2.histogram('routstr_upstream_duration_seconds').count -
      m1.histogram('routstr_upstream_duration_seconds').count, 1);

    // A model outside the catalogue (fixed pricing takes it) is labelled "other"; a request
    // with no credentials is 402 under its model.
    const other = await postJson(s.url, chatPath, { ...body, model: 'not/in-the-catalogue' },
      bearer(key));
    assert.equal(other.status, 200, other.text);
    const unpaid = await postJson(s.url, chatPath, body);
    assert.equal(unpaid.status, 402, unpaid.text);
    const m3 = await scrape(s.url);
    assert.equal(requests(m3, 'chat_completions', 'other', 200) -
      requests(m2, 'chat_completions', 'other', 200), 1);
    assert.equal(requests(m3, 'chat_completions', MODEL, 402) -
      requests(m2, 'chat_completions', MODEL, 402), 1);
    assert.equal(m3.value('routstr_reserved_msat'), 0);

    // The refund pays the balance out as a token: cashu out by its value.
    const left = (await balanceOf(s.url, key)).balance;
    const rf = await refund(s.url, key);
    assert.equal(rf.status, 200, rf.text);
    const m4 = await scrape(s.url);
    assert.equal(m4.value('routstr_cashu_tokens_total', { direction: 'out' }) -
      m3.value('routstr_cashu_tokens_total', { direction: 'out' }), 1);
    assert.equal(m4.value('routstr_cashu_msat_total', { direction: 'out' }) -
      m3.value('routstr_cashu_msat_total', { direction: 'out' }), Number(rf.json.sats) * 1000);
    assert.equal(Number(rf.json.sats), Math.floor(left / 1000));
  });

  s.test('a stream is counted open while it flows, with its reservation, and closed after', async () => {
    const { key } = await fundedKey(s.url, mints, 20);
    const m0 = await scrape(s.url);
    s.upstream.setBehavior({ holdAfter: 2 });
    const ai = s.openai({ apiKey: key });
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Stream and be counted.' }],
      stream: true };
    try {
      const stream = await withTimeout(ai.chat.completions.create(body), 5000, 'stream headers');
      const it = stream[Symbol.asyncIterator]();
      await withTimeout(it.next(), 5000, 'first chunk');
      const mid = await scrape(s.url);
      assert.equal(mid.value('routstr_open_streams'), 1, 'one stream open');
      assert.equal(mid.value('routstr_reserved_msat'), 2000, 'its reservation: the request price');
      s.upstream.release();
      let usage;
      for (let r = await it.next(); !r.done; r = await it.next()) usage = r.value.usage ?? usage;
      assert.ok(usage, 'the stream ended with its usage');
      const u = expectedChatUsage(body);
      const m1 = await scrape(s.url);
      assert.equal(m1.value('routstr_open_streams'), 0, 'the stream is closed');
      assert.equal(m1.value('routstr_reserved_msat'), 0);
      assert.equal(requests(m1, 'chat_completions', MODEL, 200) -
        requests(m0, 'chat_completions', MODEL, 200), 1);
      assert.equal(m1.value('routstr_earned_msat_total') - m0.value('routstr_earned_msat_total'),
        costOf(u));
      assert.equal(m1.value('routstr_llm_tokens_total', { direction: 'out' }) -
        m0.value('routstr_llm_tokens_total', { direction: 'out' }), u.completion_tokens);
    } finally {
      s.upstream.release();
    }
  });

  s.test('a spent token is a mint error of class 11xxx', async () => {
    const token = await mints.token(5);
    await mints.wallet.receive(token); // spent at the mint before routstr sees it
    const m0 = await scrape(s.url);
    const r = await createKey(s.url, token);
    assert.equal(r.status, 400, r.text);
    const m1 = await scrape(s.url);
    const refused = { kind: 'refused', code_class: '11xxx' };
    assert.equal(m1.value('routstr_mint_errors_total', refused) -
      m0.value('routstr_mint_errors_total', refused), 1);
    assert.equal(m1.value('routstr_cashu_tokens_total', { direction: 'in' }),
      m0.value('routstr_cashu_tokens_total', { direction: 'in' }), 'nothing redeemed');
  });

  s.test('from a non-loopback address: 401 without the bearer token, 200 with it', { skip: noExternal }, async () => {
    const base = `http://${EXTERNAL}:${s.routstr.port}`;
    for (const headers of [{}, bearer('wrong-token'), { authorization: TOKEN },
      bearer(`${TOKEN}x`)]) {
      const res = await fetchWithTimeout(`${base}/metrics`, { headers });
      const json = await res.json();
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="metrics"');
      assertErrorEnvelope(json, res.headers);
      assert.equal(json.error.code, 'invalid_metrics_token');
    }
    const m = await scrape(base, bearer(TOKEN));
    assert.ok(requests(m, 'metrics', '', 401) >= 4, 'the refusals are counted too');
  });
});

describe('metrics without METRICS_TOKEN', () => {
  const s = useStack({ env: { HOST: '0.0.0.0' } });

  s.test('loopback is open', async () => {
    const m = await scrape(s.url);
    assert.equal(m.value('routstr_earned_msat_total'), 0, 'a free node earns nothing');
  });

  s.test('any other peer gets 403, even with a bearer token', { skip: noExternal }, async () => {
    const res = await fetchWithTimeout(`http://${EXTERNAL}:${s.routstr.port}/metrics`,
      { headers: bearer('anything') });
    const json = await res.json();
    assert.equal(res.status, 403);
    assertErrorEnvelope(json, res.headers);
    assert.equal(json.error.code, 'metrics_forbidden');
  });
});
