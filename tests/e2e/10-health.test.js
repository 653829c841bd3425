// 10-health -- the node's own endpoints: /, /health, /v1/info, unknown paths, the request id on
// every answer, and CORS (preflight, allowed origins, exposed headers).
import assert from 'node:assert/strict';
import { describe } from 'node:test';

import {
  EXPOSED_HEADERS, VERSION, assertErrorEnvelope, assertRequestId, useStack,
} from './lib/harness.js';

const NODE = {
  NAME: 'e2e-node',
  DESCRIPTION: 'A node under test',
  HTTP_URL: 'https://node.example.com',
  ONION_URL: 'http://abcdefghij234567.onion',
  // The node's key: /v1/info shows the npub derived from it (NIP-19).
  NSEC: '67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa',
  CASHU_MINTS: 'https://mint.one.example, https://mint.two.example/',
};

const s = useStack({ env: NODE });

describe('node endpoints', () => {
  s.test('GET / answers the node JSON', async () => {
    const r = await s.fetch('/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assertRequestId(r.headers);
    const j = await r.json();
    assert.equal(j.name, NODE.NAME);
    assert.equal(j.description, NODE.DESCRIPTION);
    assert.equal(j.version, VERSION);
    assert.equal(j.status, 'running');
    assert.equal(s.upstream.requests.length, 0, '/ is not forwarded');
  });

  s.test('GET /health answers 200 with a request id', async () => {
    const r = await s.fetch('/health');
    assert.equal(r.status, 200);
    assertRequestId(r.headers);
    await r.arrayBuffer();
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('GET /v1/info has the node info shape and is not forwarded', async () => {
    const r = await s.fetch('/v1/info');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assertRequestId(r.headers);
    const j = await r.json();
    assert.deepEqual(j, {
      name: NODE.NAME,
      description: NODE.DESCRIPTION,
      version: VERSION,
      npub: 'npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg',
      mints: ['https://mint.one.example', 'https://mint.two.example'],
      http_url: NODE.HTTP_URL,
      onion_url: NODE.ONION_URL,
      child_key_cost_msats: 0,
      // Ours, beside the reference's fields: the opt-in live X-Cashu stream.
      x_cashu: { live_stream_header: 'X-Cashu-Stream: live', live_change_event: 'cashu-change' },
    });
    assert.equal(s.upstream.requests.length, 0, '/v1/info is answered locally');
  });

  s.test('an unknown path outside /v1 is a 404 JSON error envelope, not forwarded', async () => {
    for (const p of ['/nope', '/v2/chat/completions', '/v1foo/bar']) {
      const r = await s.fetch(p);
      assert.equal(r.status, 404, p);
      assert.match(r.headers.get('content-type') ?? '', /json/, p);
      assertErrorEnvelope(await r.json(), r.headers);
    }
    assert.equal(s.upstream.requests.length, 0);
  });

  s.test('every answer has a distinct x-routstr-request-id', async () => {
    const ids = new Set();
    for (const p of ['/', '/health', '/v1/info', '/nope', '/v1/models']) {
      const r = await s.fetch(p);
      await r.arrayBuffer();
      ids.add(assertRequestId(r.headers));
    }
    assert.equal(ids.size, 5, 'request ids are unique per request');
  });
});

describe('CORS with the default CORS_ORIGINS (*)', () => {
  const origin = 'https://app.example';

  s.test('a preflight is answered 204 locally', async () => {
    const r = await s.fetch('/v1/chat/completions', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-cashu',
      },
    });
    assert.equal(r.status, 204);
    assert.ok(['*', origin].includes(r.headers.get('access-control-allow-origin')),
      `allow-origin: ${r.headers.get('access-control-allow-origin')}`);
    const methods = (r.headers.get('access-control-allow-methods') ?? '').toUpperCase();
    assert.ok(methods === '*' || methods.includes('POST'), `allow-methods: ${methods}`);
    const allowed = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['authorization', 'content-type', 'x-cashu']) {
      assert.ok(allowed === '*' || allowed.includes(h), `allow-headers lacks ${h}: ${allowed}`);
    }
    assertRequestId(r.headers);
    assert.equal((await r.arrayBuffer()).byteLength, 0);
    assert.equal(s.upstream.requests.length, 0, 'a preflight is not forwarded');
  });

  s.test('responses carry allow-origin and expose the routstr headers', async () => {
    for (const p of ['/v1/info', '/v1/models']) {
      const r = await s.fetch(p, { headers: { origin } });
      await r.arrayBuffer();
      assert.equal(r.status, 200, p);
      assert.ok(['*', origin].includes(r.headers.get('access-control-allow-origin')), p);
      const exposed = (r.headers.get('access-control-expose-headers') ?? '').toLowerCase()
        .split(',').map((x) => x.trim());
      for (const h of EXPOSED_HEADERS) assert.ok(exposed.includes(h), `${p}: ${h} not exposed`);
    }
  });
});

describe('CORS with a list of origins', () => {
  const st = useStack({ env: { CORS_ORIGINS: 'https://a.example,https://b.example' } });

  st.test('an allowed origin is echoed, another gets no allow-origin', async () => {
    const ok = await st.fetch('/v1/info', { headers: { origin: 'https://b.example' } });
    await ok.arrayBuffer();
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://b.example');

    const pre = await st.fetch('/v1/chat/completions', { method: 'OPTIONS', headers: {
      origin: 'https://a.example', 'access-control-request-method': 'POST' } });
    await pre.arrayBuffer();
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://a.example');

    const bad = await st.fetch('/v1/info', { headers: { origin: 'https://evil.example' } });
    await bad.arrayBuffer();
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
  });
});
