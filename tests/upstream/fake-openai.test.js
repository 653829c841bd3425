// fake-openai.test.js -- the fake upstream, driven directly by the official SDK (no routstr), so
// an end-to-end failure is never the fake's fault. Run: node --test upstream/
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import {
  embeddingFor, expectedChatUsage, expectedEmbeddingsUsage, expectedResponsesUsage, replyText,
  speechBytes, startUpstream,
} from './fake-openai.js';

let up;
let ai;
before(async () => {
  up = await startUpstream();
  ai = new OpenAI({ baseURL: up.baseURL, apiKey: 'sk-direct', maxRetries: 0, timeout: 5000 });
});
afterEach(() => up.reset());
after(() => up.close());

const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hi 🎉' }];

test('chat completion: usage from the request, record of the raw body', async () => {
  const r = await ai.chat.completions.create({ model: 'gpt-fake', messages });
  assert.equal(r.choices[0].message.content, replyText({}).text);
  assert.deepEqual(r.usage, expectedChatUsage({ messages }));
  assert.equal(r.usage.prompt_tokens, 'Be brief.Say hi 🎉'.length - 1); // the emoji is one code point
  const rec = up.requests[0];
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1/chat/completions');
  assert.equal(rec.headers.authorization, 'Bearer sk-direct');
  assert.deepEqual(JSON.parse(rec.body.toString()), { model: 'gpt-fake', messages });
});

test('max_tokens truncates the reply and sets finish_reason length', async () => {
  const r = await ai.chat.completions.create({ model: 'gpt-fake', messages, max_tokens: 7 });
  assert.equal(r.choices[0].message.content, 'Hello f');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 7);
});

test('streamed chat: chunks, then a usage chunk only with include_usage, then [DONE]', async () => {
  const s = await ai.chat.completions.create({ model: 'gpt-fake', messages, stream: true,
    stream_options: { include_usage: true } });
  let text = '';
  let usage;
  for await (const c of s) {
    text += c.choices[0]?.delta?.content ?? '';
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, replyText({}).text);
  assert.deepEqual(usage, expectedChatUsage({ messages }));
  assert.match(up.requests[0].response.body.toString(), /data: \[DONE\]\n\n$/);

  const s2 = await ai.chat.completions.create({ model: 'gpt-fake', messages, stream: true });
  for await (const c of s2) assert.equal(c.usage, undefined);
  assert.ok(!up.requests[1].response.body.toString().includes('"usage"'));
});

test('hold, release and the client abort are visible on the record', async () => {
  up.setBehavior({ holdAfter: 2 });
  const s = await ai.chat.completions.create({ model: 'gpt-fake', messages, stream: true });
  const it = s[Symbol.asyncIterator]();
  await it.next();
  await it.next();
  assert.equal(up.requests[0].response.events, 2);
  s.controller.abort();
  const r = await up.requests[0].closed;
  assert.equal(r.aborted, true);
  assert.equal(r.finished, false);

  up.setBehavior({ holdAfter: 1 });
  const s2 = await ai.chat.completions.create({ model: 'gpt-fake', messages, stream: true });
  const it2 = s2[Symbol.asyncIterator]();
  await it2.next();
  up.release();
  for (;;) if ((await it2.next()).done) break;
  const r2 = await up.requests[1].closed;
  assert.equal(r2.finished, true);
  assert.equal(r2.aborted, false);
});

test('cutAfter destroys the socket mid-stream', async () => {
  up.setBehavior({ cutAfter: 3 });
  const s = await ai.chat.completions.create({ model: 'gpt-fake', messages, stream: true });
  let text = '';
  await assert.rejects(async () => {
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
  });
  assert.equal(text, 'Hello from', 'what was written before the cut reaches the client');
  const r = await up.requests[0].closed;
  assert.equal(r.cut, true);
  assert.equal(r.aborted, false);
  assert.equal(r.events, 3);
});

test('stall before headers: a client that leaves is seen as an abort', async () => {
  const ctl = new AbortController();
  const p = fetch(`${up.baseURL}/chat/completions`, { method: 'POST', signal: ctl.signal,
    headers: { 'content-type': 'application/json', 'x-test-behavior': '{"stall":"before-headers"}' },
    body: JSON.stringify({ model: 'gpt-fake', messages }) });
  await up.waitForRequests(1);
  ctl.abort();
  await assert.rejects(p);
  const r = await up.requests[0].closed;
  assert.equal(r.aborted, true);
  assert.equal(r.status, undefined);
});

test('failure behaviour: status and JSON body; delay', async () => {
  up.setBehavior({ status: 429, body: { error: { message: 'slow down', type: 'rate_limit', code: 'x' } } });
  await assert.rejects(ai.chat.completions.create({ model: 'gpt-fake', messages }),
    (e) => e.status === 429 && e.error.message === 'slow down');
  up.setBehavior({ delayMs: 200 });
  const t0 = Date.now();
  await ai.models.list();
  assert.ok(Date.now() - t0 >= 190);
});

test('embeddings: base64 (the SDK default) and floats', async () => {
  const input = ['abc', 'hello world'];
  const r = await ai.embeddings.create({ model: 'text-embedding-fake', input });
  assert.deepEqual(r.data.map((d) => d.embedding), input.map((x) => embeddingFor(x)));
  assert.deepEqual(r.usage, expectedEmbeddingsUsage({ input }));
  const f = await ai.embeddings.create({ model: 'text-embedding-fake', input: 'abc',
    encoding_format: 'float', dimensions: 4 });
  assert.deepEqual(f.data[0].embedding, embeddingFor('abc', 4));
});

test('responses: JSON and SSE with response.completed usage', async () => {
  const body = { model: 'gpt-fake', instructions: 'Be brief.', input: 'Say hi' };
  const r = await ai.responses.create(body);
  assert.equal(r.output_text, replyText({}).text);
  assert.deepEqual(r.usage, expectedResponsesUsage(body));
  const s = await ai.responses.create({ ...body, stream: true });
  let done;
  let text = '';
  for await (const e of s) {
    if (e.type === 'response.output_text.delta') text += e.delta;
    if (e.type === 'response.completed') done = e;
  }
  assert.equal(text, replyText({}).text);
  assert.deepEqual(done.response.usage, expectedResponsesUsage(body));
  assert.match(up.requests[1].response.body.toString(), /^event: response\.created\n/);
});

test('transcription multipart and speech bytes', async () => {
  const audio = Buffer.from('RIFF fake wav payload \u0000\u0001\u0002 end');
  const r = await ai.audio.transcriptions.create({ model: 'whisper-fake',
    file: await toFile(audio, 'clip.wav', { type: 'audio/wav' }) });
  assert.match(r.text, /^fake transcript of clip\.wav \(\d+ bytes/);
  const parts = up.requests[0].multipart;
  assert.deepEqual(parts.find((p) => p.name === 'file').data, audio);
  assert.equal(parts.find((p) => p.name === 'model').data.toString(), 'whisper-fake');

  const sp = await ai.audio.speech.create({ model: 'tts-fake', voice: 'alloy', input: 'hi' });
  assert.equal(sp.headers.get('content-type'), 'audio/mpeg');
  assert.deepEqual(Buffer.from(await sp.arrayBuffer()), speechBytes());
});

test('models: list, retrieve with an encoded slash, delete; echo of any method', async () => {
  const list = await ai.models.list();
  assert.ok(list.data.some((m) => m.id === 'gpt-fake'));
  const m = await ai.models.retrieve('openai/gpt-4o');
  assert.equal(m.id, 'openai/gpt-4o');
  assert.equal(up.requests[1].path, '/v1/models/openai%2Fgpt-4o');
  const d = await ai.models.delete('ft:gpt-fake:x');
  assert.equal(d.deleted, true);
  const res = await new Promise((resolve) => {
    const req = http.request(`${up.baseURL}/echo/a?b=1`, { method: 'PATCH' }, (r) => {
      let s = '';
      r.on('data', (c) => { s += c; });
      r.on('end', () => resolve(JSON.parse(s)));
    });
    req.end('xyz');
  });
  assert.deepEqual({ m: res.method, p: res.path, q: res.query, n: res.body_length },
    { m: 'PATCH', p: '/v1/echo/a', q: 'b=1', n: 3 });
});
