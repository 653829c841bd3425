// 40-errors -- what the client gets when things go wrong: upstream errors pass through unchanged,
// a silent upstream is a 504 after UPSTREAM_IDLE_TIMEOUT_SECONDS, an unreachable one a 502, no
// upstream configured a 503, and the request caps (body, header block) hold.
import assert from 'node:assert/strict';
import { describe } from 'node:test';

import {
  assertErrorEnvelope, assertRequestId, assertSameBytes, assertUpstreamCredentials, freePort,
  useStack, withTimeout,
} from './lib/harness.js';
import { replyText } from '../upstream/fake-openai.js';

const IDLE_MS = 500;
const MAX_BODY = 4096;
const MAX_HEADER = 8192;

const s = useStack({ env: {
  UPSTREAM_IDLE_TIMEOUT_SECONDS: String(IDLE_MS / 1000),
  MAX_REQUEST_BODY_BYTES: String(MAX_BODY),
  MAX_HEADER_BYTES: String(MAX_HEADER),
} });

const messages = [{ role: 'user', content: 'hello' }];
const chat = JSON.stringify({ model: 'gpt-fake', messages });
const behave = (b) => ({ 'x-test-behavior': JSON.stringify(b) });

function postChat(headers = {}, body = chat, ms) {
  return s.fetch('/v1/chat/completions', { method: 'POST', body,
    headers: { 'content-type': 'application/json', ...headers } }, ms);
}

describe('upstream errors keep their status, headers and body', () => {
  const cases = [
    [400, { error: { message: 'bad param', type: 'invalid_request_error', param: 'x', code: null } }],
    [401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }],
    [403, { error: { message: 'forbidden', type: 'permission_error', code: 'forbidden' } }],
    [404, { error: { message: 'The model does not exist', type: 'invalid_request_error', code: 'model_not_found' } }],
    [422, { error: { message: 'unprocessable', type: 'invalid_request_error', code: 422 } }],
    [429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }],
    [500, { error: { message: 'The server had an error', type: 'server_error', code: null } }],
    [502, '<html><body>Bad gateway from the upstream\'s own proxy</body></html>\n'],
    [503, { error: { message: 'overloaded', type: 'server_error', code: 'overloaded' } }],
  ];

  for (const [status, body] of cases) {
    s.test(`upstream ${status} comes back as ${status} with the same body`, async () => {
      const headers = typeof body === 'string' ? { 'content-type': 'text/html' } : {};
      if (status === 429) headers['retry-after'] = '7';
      const r = await postChat(behave({ status, body, headers }));
      const got = Buffer.from(await r.arrayBuffer());
      assert.equal(r.status, status);
      assertRequestId(r.headers);
      assertSameBytes(got, s.upstream.requests[0].response.body, 'error body');
      assert.match(r.headers.get('content-type'), typeof body === 'string' ? /^text\/html/ : /^application\/json/);
      if (status === 429) assert.equal(r.headers.get('retry-after'), '7');
      assertUpstreamCredentials(s.upstream.requests[0]);
      assert.equal(s.upstream.requests.length, 1, 'not retried');
    });
  }

  s.test('the SDK sees the upstream error (status and message), streaming or not', async () => {
    const ai = s.openai();
    const body = { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } };
    for (const stream of [false, true]) {
      await assert.rejects(
        ai.chat.completions.create({ model: 'gpt-fake', messages, stream },
          { headers: behave({ status: 429, body }) }),
        (e) => {
          assert.equal(e.status, 429);
          assert.equal(e.constructor.name, 'RateLimitError');
          assert.deepEqual(e.error, body.error);
          return true;
        });
    }
  });
});

describe('UPSTREAM_IDLE_TIMEOUT_SECONDS=0.5', () => {
  s.test('an upstream silent before answering is a 504 with an error envelope', async () => {
    s.upstream.setBehavior({ stall: 'before-headers' });
    const t0 = Date.now();
    const r = await postChat({}, chat, 5000);
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms >= IDLE_MS - 50 && ms < IDLE_MS + 2500, `504 after ${ms} ms`);
    assertErrorEnvelope(await r.json(), r.headers);
    const up = await withTimeout(s.upstream.requests[0].closed, 2000,
      'the upstream request stayed open after the 504');
    assert.equal(up.aborted, true);
  });

  s.test('the SDK gets the 504 too', async () => {
    s.upstream.setBehavior({ stall: 'before-headers' });
    await assert.rejects(s.openai().embeddings.create({ model: 'text-embedding-fake', input: 'x' }),
      (e) => e.status === 504);
  });

  s.test('an answer within the timeout is fine', async () => {
    s.upstream.setBehavior({ delayMs: IDLE_MS / 2 });
    const r = await s.openai().chat.completions.create({ model: 'gpt-fake', messages });
    assert.equal(r.choices[0].message.content, replyText({}).text);
  });

  s.test('it bounds silence, not the whole answer: a slow drip longer than it completes', async () => {
    s.upstream.setBehavior({ dripMs: IDLE_MS * 0.5, words: 6 }); // ~2 s in all, gaps of 0.25 s
    const stream = await s.openai().chat.completions.create({ model: 'gpt-fake', messages, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, replyText({ }, { words: 6 }).text);
  });

  s.test('a stream that goes silent after it started is ended, and the upstream transfer closed', async () => {
    s.upstream.setBehavior({ holdAfter: 2 });
    try {
      const stream = await s.openai().chat.completions.create({ model: 'gpt-fake', messages, stream: true });
      const consume = (async () => { for await (const c of stream) void c; })();
      await withTimeout(consume.catch(() => {}), IDLE_MS + 2500,
        'a silent stream was not ended by the idle timeout');
      const up = await withTimeout(s.upstream.requests[0].closed, 2000,
        'the upstream transfer stayed open after the idle timeout');
      assert.equal(up.aborted, true);
      assert.equal(up.events, 2);
    } finally {
      s.upstream.release();
    }
  });
});

/* libevent 2.1's evhttp answers an over-cap body itself, before routstr sees the request, with
 * its own HTML page: no x-routstr-request-id and no JSON envelope are possible there (evhttp
 * 2.1 has no error hook). What matters and is checked: the status, that the connection is
 * closed, and that nothing reached the upstream. See README, "Known limits". */
describe('request caps', () => {
  s.test(`a body over MAX_REQUEST_BODY_BYTES (${MAX_BODY}) is a 413 and is not forwarded`, async () => {
    const r = await s.fetch('/v1/echo/big', { method: 'POST', body: Buffer.alloc(MAX_BODY + 1000, 0x61),
      headers: { 'content-type': 'application/octet-stream' } });
    await r.arrayBuffer();
    assert.equal(r.status, 413);
    assert.equal(r.headers.get('connection'), 'close');
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('a chunked body over the cap is a 413 and is not forwarded', async () => {
    const r = await s.raw('/v1/echo/big', { method: 'POST', chunks: [Buffer.alloc(3000, 0x62),
      Buffer.alloc(3000, 0x63)], headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(r.status, 413);
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('a body of exactly the cap is forwarded', async () => {
    const body = Buffer.alloc(MAX_BODY, 0x64);
    const r = await s.fetch('/v1/echo/edge', { method: 'POST', body,
      headers: { 'content-type': 'application/octet-stream' } });
    await r.arrayBuffer();
    assert.equal(r.status, 200);
    assertSameBytes(s.upstream.requests[0].body, body, 'body at the cap');
  });

  s.test(`a header block over MAX_HEADER_BYTES (${MAX_HEADER}) is refused and not forwarded`, async () => {
    let status;
    try {
      status = (await s.raw('/v1/models/gpt-fake', { headers: { 'x-big': 'x'.repeat(MAX_HEADER + 2000) } })).status;
    } catch (err) {
      status = err.code; // a server may also just close the connection
    }
    assert.ok([400, 413, 431].includes(status), `status ${status}`);
    assert.equal(s.upstream.requests.length, 0);
    const ok = await s.raw('/v1/models/gpt-fake', { headers: { 'x-big': 'x'.repeat(MAX_HEADER / 2) } });
    assert.equal(ok.status, 200, 'a header block under the cap is fine');
    assert.equal(s.upstream.requests[0].headers['x-big'].length, MAX_HEADER / 2);
  });
});

describe('an unreachable upstream', () => {
  let closedPort;
  const st = useStack({ upstream: false, env: () => ({
    UPSTREAM_BASE_URL: `http://127.0.0.1:${closedPort}/v1`,
    UPSTREAM_CONNECT_TIMEOUT_SECONDS: '2',
  }) });
  // freePort() is async: take it before the stack starts (its before() runs after this one's).
  st.services.unshift({ name: 'closed-port', async start() { closedPort = await freePort(); },
    async stop() {} });

  st.test('is a 502 with an error envelope, quickly', async () => {
    const t0 = Date.now();
    const r = await st.fetch('/v1/chat/completions', { method: 'POST', body: chat,
      headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 502);
    assert.ok(Date.now() - t0 < 3000);
    assertErrorEnvelope(await r.json(), r.headers);
  });

  st.test('the SDK sees the 502', async () => {
    await assert.rejects(st.openai().models.retrieve('gpt-fake'), (e) => e.status === 502);
  });
});

describe('no UPSTREAM_BASE_URL', () => {
  const st = useStack({ upstream: false, env: { UPSTREAM_BASE_URL: null } });

  st.test('proxied requests are a 503 naming UPSTREAM_BASE_URL', async () => {
    for (const [method, path] of [['POST', '/v1/chat/completions'], ['GET', '/v1/models/gpt-fake']]) {
      const r = await st.fetch(path, { method, body: method === 'POST' ? chat : undefined,
        headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 503, `${method} ${path}`);
      const j = await r.json();
      assertErrorEnvelope(j, r.headers);
      assert.match(j.error.message, /UPSTREAM_BASE_URL/);
    }
  });

  st.test('the node itself still answers', async () => {
    for (const p of ['/health', '/', '/v1/info']) {
      const r = await st.fetch(p);
      await r.arrayBuffer();
      assert.equal(r.status, 200, p);
    }
  });
});
