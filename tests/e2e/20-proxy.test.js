// 20-proxy -- the /v1 reverse proxy, request by request: what the client saw and what reached the
// upstream (operator key, no client credentials, the body byte for byte, path, query, method),
// driven by the official SDK wherever it has a call, by raw HTTP where headers must be exact.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { toFile } from 'openai';

import {
  CLIENT_CREDENTIALS, CLIENT_KEY, assertRequestId, assertSameBytes, assertUpstreamCredentials,
  rawExchange, recordingFetch, useStack,
} from './lib/harness.js';
import {
  embeddingFor, expectedChatUsage, expectedEmbeddingsUsage, parseMultipart, replyText,
  speechBytes,
} from '../upstream/fake-openai.js';

const s = useStack();

/** An SDK client that sends every client credential header, with its requests recorded. */
function client(opts = {}) {
  const recorder = recordingFetch();
  const ai = s.openai({ recorder, defaultHeaders: { ...CLIENT_CREDENTIALS }, ...opts });
  return { ai, recorder };
}

/** The one request the upstream got matches what the client sent (the proxy's forwarding). */
function checkForwarded(sent, { path, query = '' }) {
  assert.equal(s.upstream.requests.length, 1, 'exactly one request reached the upstream');
  const up = s.upstream.requests[0];
  for (const name of Object.keys(CLIENT_CREDENTIALS)) {
    assert.ok(sent.headers[name], `the client really sent ${name} (test precondition)`);
  }
  assert.equal(sent.headers.authorization, `Bearer ${CLIENT_KEY}`);
  assert.equal(up.method, sent.method, 'method kept');
  assert.equal(up.path, path, 'upstream path');
  assert.equal(up.query, query, 'query string kept');
  assertSameBytes(up.body, sent.body ?? Buffer.alloc(0), 'upstream body vs client body');
  assertUpstreamCredentials(up);
  assert.equal(up.headers.host, `127.0.0.1:${s.upstream.port}`, 'Host is the upstream, not the proxy');
  return up;
}

describe('SDK calls', () => {
  s.test('chat completion', async () => {
    const { ai, recorder } = client();
    const messages = [{ role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hello in one word — ünïcödé 🎉' }];
    const { data, response } = await ai.chat.completions
      .create({ model: 'gpt-fake', messages, temperature: 0.2 }, { query: { 'api-version': '2024-10-21' } })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'gpt-fake');
    assert.equal(data.choices[0].message.content, replyText({}).text);
    assert.deepEqual(data.usage, expectedChatUsage({ messages }));
    assertRequestId(response.headers);
    assert.equal(response.headers.get('x-request-id'), 'req_fake_1', 'upstream headers come back');
    assert.equal(response.headers.get('openai-processing-ms'), '7');
    const up = checkForwarded(recorder.last, { path: '/v1/chat/completions',
      query: 'api-version=2024-10-21' });
    assert.equal(up.headers['content-type'], 'application/json');
    assert.equal(up.headers['x-stainless-lang'], 'js', 'ordinary client headers are forwarded');
  });

  s.test('embeddings (the SDK asks for base64 and decodes it)', async () => {
    const { ai, recorder } = client();
    const input = ['first text', 'second, longer text', 'ß'];
    const r = await ai.embeddings.create({ model: 'text-embedding-fake', input });
    assert.deepEqual(r.data.map((d) => d.embedding), input.map((x) => embeddingFor(x)));
    assert.deepEqual(r.usage, expectedEmbeddingsUsage({ input }));
    const up = checkForwarded(recorder.last, { path: '/v1/embeddings' });
    assert.equal(up.json.encoding_format, 'base64');
  });

  s.test('audio transcription: a multipart body arrives byte for byte', async () => {
    const { ai, recorder } = client();
    // Bytes that trip naive multipart handling: CRLFs, boundary-like dashes, NULs, high bytes.
    const audio = Buffer.alloc(200 * 1024);
    for (let i = 0; i < audio.length; i++) audio[i] = (i * 131 + 17) & 0xff;
    Buffer.from('\r\n--\r\n------formdata-undici-0\r\n\r\n').copy(audio, 1000);
    const r = await ai.audio.transcriptions.create({ model: 'whisper-fake', language: 'en',
      file: await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' }) });
    assert.match(r.text, new RegExp(`^fake transcript of speech\\.mp3 \\(${audio.length} bytes`));
    const up = checkForwarded(recorder.last, { path: '/v1/audio/transcriptions' });
    assert.equal(up.headers['content-type'], recorder.last.headers['content-type'],
      'content-type with its boundary is forwarded');
    const parts = parseMultipart(up.body, up.headers['content-type']);
    assertSameBytes(parts.find((p) => p.name === 'file').data, audio, 'uploaded file');
  });

  s.test('audio speech: a binary answer comes back byte for byte', async () => {
    const { ai, recorder } = client();
    const r = await ai.audio.speech.create({ model: 'tts-fake', voice: 'alloy', input: 'Hello.' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'audio/mpeg');
    assertRequestId(r.headers);
    assertSameBytes(Buffer.from(await r.arrayBuffer()), speechBytes(), 'speech bytes');
    checkForwarded(recorder.last, { path: '/v1/audio/speech' });
  });

  s.test('GET /v1/models is the node catalogue in the Routstr shape, not forwarded', async () => {
    const { ai } = client();
    const list = await ai.models.list();
    assert.ok(list.data.length > 0);
    for (const m of list.data) {
      for (const k of ['prompt', 'completion', 'request', 'image', 'web_search',
        'internal_reasoning', 'max_prompt_cost', 'max_completion_cost', 'max_cost']) {
        assert.equal(typeof m.pricing[k], 'number', `${m.id} pricing.${k}`);
      }
    }
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('GET with an encoded slash in the path: models.retrieve("openai/gpt-4o")', async () => {
    const { ai, recorder } = client();
    const m = await ai.models.retrieve('openai/gpt-4o');
    assert.equal(m.id, 'openai/gpt-4o');
    checkForwarded(recorder.last, { path: '/v1/models/openai%2Fgpt-4o' });
  });

  s.test('GET with a query string: chat.completions.list({limit, order})', async () => {
    const { ai, recorder } = client();
    const page = await ai.chat.completions.list({ limit: 2, order: 'asc', metadata: { k: 'v w' } });
    assert.deepEqual(page.data, []);
    const q = new URL(recorder.last.url).search.slice(1);
    assert.ok(q.includes('limit=2'), q);
    checkForwarded(recorder.last, { path: '/v1/chat/completions', query: q });
  });

  s.test('DELETE: models.delete', async () => {
    const { ai, recorder } = client();
    const d = await ai.models.delete('ft:gpt-fake:org:1');
    assert.equal(d.deleted, true);
    assert.equal(d.id, 'ft:gpt-fake:org:1');
    checkForwarded(recorder.last, { path: '/v1/models/ft:gpt-fake:org:1' });
  });
});

describe('raw HTTP', () => {
  s.test('PATCH, PUT, DELETE (with bodies) and GET keep their method, raw path, query and body', async () => {
    for (const method of ['PATCH', 'PUT', 'DELETE', 'GET']) {
      s.upstream.reset();
      const hasBody = method !== 'GET';
      const body = hasBody ? Buffer.from(`{"op":"${method}","n":[1,2,3]}`) : undefined;
      const path = '/v1/echo/a%20b/c%2Fd';
      const query = 'q=x%26y&z=%F0%9F%8E%89&empty=&flag';
      const r = await s.raw(`${path}?${query}`, { method, body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` } });
      assert.equal(r.status, 200, `${method}: ${r.body}`);
      assertRequestId(r.headers);
      const j = JSON.parse(r.body);
      assert.equal(j.method, method);
      const up = s.upstream.requests[0];
      assert.equal(up.method, method);
      assert.equal(up.path, '/v1/echo/a%20b/c%2Fd', `${method}: raw path kept`);
      assert.equal(up.query, query, `${method}: raw query kept`);
      assertSameBytes(up.body, body ?? Buffer.alloc(0), `${method} body`);
      assertUpstreamCredentials(up);
    }
  });

  s.test('a body on GET or DELETE is forwarded, never read as a second request', async () => {
    for (const method of ['GET', 'DELETE']) {
      s.upstream.reset();
      // The body is itself a request: a server that skips it would run it (a desync).
      const inner = 'GET /v1/echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
      const out = await rawExchange(s.routstr.port, `${method} /v1/echo/outer HTTP/1.1\r\n` +
        `Host: x\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`, { idleMs: 300 });
      assert.deepEqual(out.match(/^HTTP\/1\.[01] \d{3}/gm), ['HTTP/1.1 200'], `${method}: one answer`);
      assert.deepEqual(s.upstream.requests.map((r) => `${r.method} ${r.path}`),
        [`${method} /v1/echo/outer`], `${method}: only the outer request reaches the upstream`);
      assertSameBytes(s.upstream.requests[0].body, Buffer.from(inner), `${method} body`);
    }
  });

  s.test('a JSON body that a re-serialiser would change is forwarded byte for byte', async () => {
    const body = Buffer.from('{ "model" : "gpt-fake",\n\t"messages":[{"role":"user","content":' +
      '"h\\u00e9llo \\ud83c\\udf89 \\"quoted\\" \\/ slash"}],  "seed": 12345678901234567890,' +
      ' "temperature":0.70, "top_p": 1e0, "extra": {"z": 1, "a": 2, "z": 3}, "n": null }\n');
    const r = await s.fetch('/v1/chat/completions', { method: 'POST', body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` } });
    const got = Buffer.from(await r.arrayBuffer());
    assert.equal(r.status, 200, got.toString());
    const up = s.upstream.requests[0];
    assertSameBytes(up.body, body, 'upstream body');
    assertSameBytes(got, up.response.body, 'client body vs upstream answer');
  });

  s.test('a 1 MiB binary body and a chunked request body arrive intact', async () => {
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 251 + (i >> 10)) & 0xff;
    const r = await s.raw('/v1/echo/upload', { method: 'POST', body: big,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) } });
    assert.equal(r.status, 200, r.body.toString().slice(0, 200));
    assertSameBytes(s.upstream.requests[0].body, big, '1 MiB body');

    s.upstream.reset();
    const pieces = [Buffer.from('{"model":"gpt-fake",'), Buffer.from('"messages":[{"role":"user",'),
      Buffer.from('"content":"chunked"}]}')];
    const c = await s.raw('/v1/chat/completions', { method: 'POST', chunks: pieces,
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
    assert.equal(c.status, 200, c.body.toString());
    assertSameBytes(s.upstream.requests[0].body, Buffer.concat(pieces), 'chunked request body');
    assert.equal(JSON.parse(c.body).choices[0].message.content, replyText({}).text);
  });

  s.test('client credentials never reach the upstream, whatever their case', async () => {
    const mixed = {
      Authorization: `Bearer ${CLIENT_KEY}`,
      'X-API-Key': CLIENT_CREDENTIALS['x-api-key'],
      Cookie: CLIENT_CREDENTIALS.cookie,
      'X-Cashu': CLIENT_CREDENTIALS['x-cashu'],
      'Refund-LNURL': CLIENT_CREDENTIALS['refund-lnurl'],
      'Key-Expiry-Time': CLIENT_CREDENTIALS['key-expiry-time'],
      'Proxy-Authorization': CLIENT_CREDENTIALS['proxy-authorization'],
      'X-Custom-Kept': 'kept',
      'Content-Type': 'application/json',
    };
    const r = await s.raw('/v1/models/gpt-fake', { headers: mixed });
    assert.equal(r.status, 200);
    const up = s.upstream.requests[0];
    assertUpstreamCredentials(up);
    assert.equal(up.headers['x-custom-kept'], 'kept', 'other headers are forwarded');
  });

  s.test('hop-by-hop request headers are not forwarded', async () => {
    const r = await s.raw('/v1/models/gpt-fake', { headers: {
      'Keep-Alive': 'timeout=5, max=100',
      TE: 'trailers',
      'X-Custom-Kept': 'kept',
    } });
    assert.equal(r.status, 200);
    const up = s.upstream.requests[0];
    assert.equal(up.headers['keep-alive'], undefined, 'keep-alive');
    assert.equal(up.headers.te, undefined, 'te');
    assert.equal(up.headers['x-custom-kept'], 'kept');
  });

  s.test('headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1)', async () => {
    const r = await s.raw('/v1/models/gpt-fake', { headers: {
      Connection: 'keep-alive, X-Hop-Custom',
      'X-Hop-Custom': 'for the proxy only',
    } });
    assert.equal(r.status, 200);
    const up = s.upstream.requests[0];
    assert.equal(up.headers['x-hop-custom'], undefined, 'a header named in Connection is dropped');
  });

  s.test('the upstream status, headers and body come back unchanged', async () => {
    const behavior = { status: 201, body: { created: true, id: 'obj_1' }, headers: {
      'x-upstream-custom': 'yes', 'x-multi': ['one', 'two'], 'set-cookie': ['a=1; Path=/', 'b=2'],
      'cache-control': 'private, max-age=7' } };
    const r = await s.raw('/v1/echo/create', { method: 'POST', body: '{}', headers: {
      'content-type': 'application/json', 'x-test-behavior': JSON.stringify(behavior) } });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-upstream-custom'], 'yes');
    assert.equal(r.headers['x-multi'], 'one, two');
    assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2']);
    assert.equal(r.headers['cache-control'], 'private, max-age=7');
    assert.equal(r.headers['content-type'], 'application/json');
    assertRequestId(r.headers);
    assertSameBytes(r.body, s.upstream.requests[0].response.body, 'body');

    s.upstream.reset();
    const nc = await s.raw('/v1/echo/nothing', { method: 'DELETE', headers: {
      'x-test-behavior': JSON.stringify({ status: 204, headers: { 'x-done': '1' } }) } });
    assert.equal(nc.status, 204);
    assert.equal(nc.headers['x-done'], '1');
    assert.equal(nc.body.length, 0);
  });
});

describe('UPSTREAM_BASE_URL with another prefix (and a trailing slash)', () => {
  const st = useStack({ env: (stack) => ({ UPSTREAM_BASE_URL: `${stack.upstream.url}/api/openai/` }) });

  st.test('/v1/<rest> goes to UPSTREAM_BASE_URL/<rest>', async () => {
    const r = await st.fetch('/v1/models/gpt-fake?limit=3');
    await r.arrayBuffer();
    const up = st.upstream.requests[0];
    assert.equal(up.path, '/api/openai/models/gpt-fake');
    assert.equal(up.query, 'limit=3');
    assert.equal(r.status, 200);
  });
});

describe('without UPSTREAM_API_KEY', () => {
  const st = useStack({ env: { UPSTREAM_API_KEY: null } });

  st.test('no Authorization reaches the upstream', async () => {
    const recorder = recordingFetch();
    const ai = st.openai({ recorder, defaultHeaders: { ...CLIENT_CREDENTIALS } });
    const r = await ai.chat.completions.create({ model: 'gpt-fake',
      messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.choices[0].message.content, replyText({}).text);
    assertUpstreamCredentials(st.upstream.requests[0], null);
  });
});
