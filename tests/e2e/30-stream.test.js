// 30-stream -- streamed answers go through chunk by chunk as they arrive, and a client that leaves
// stops the upstream transfer (mid-stream, in a silent gap, or before the upstream answered).
//
// The streamed requests here already carry stream_options.include_usage=true, so even when the
// proxy starts forcing it (billing), their bodies must still arrive byte for byte.
import assert from 'node:assert/strict';
import { describe } from 'node:test';

import {
  CLIENT_CREDENTIALS, assertRequestId, assertSameBytes, assertUpstreamCredentials, recordingFetch,
  sleep, useStack, withTimeout,
} from './lib/harness.js';
import {
  expectedChatUsage, expectedCompletionUsage, expectedResponsesUsage, replyPieces, replyText,
} from '../upstream/fake-openai.js';

const s = useStack();

const messages = [{ role: 'user', content: 'Stream me a sentence, please.' }];
const chatBody = { model: 'gpt-fake', messages, stream: true, stream_options: { include_usage: true } };

function client() {
  const recorder = recordingFetch();
  const ai = s.openai({ recorder, defaultHeaders: { ...CLIENT_CREDENTIALS } });
  return { ai, recorder };
}

function checkForwarded(sent, path) {
  const up = s.upstream.requests[0];
  assert.equal(up.method, 'POST');
  assert.equal(up.path, path);
  assertSameBytes(up.body, sent.body, 'upstream body vs client body');
  assertUpstreamCredentials(up);
  return up;
}

/** The upstream's answer to request i closes within ms (the proxy aborted it, or it finished). */
function upstreamClosed(i, ms, what) {
  return withTimeout(s.upstream.requests[i].closed, ms, what);
}

describe('chunks arrive as the upstream sends them', () => {
  s.test('SDK stream: the first chunks reach the client while the upstream holds the rest', async () => {
    s.upstream.setBehavior({ holdAfter: 2 }); // role chunk + first word, then wait for release()
    const { ai, recorder } = client();
    try {
      const stream = await withTimeout(ai.chat.completions.create(chatBody), 3000,
        'the response headers did not reach the client while the upstream held the stream');
      const it = stream[Symbol.asyncIterator]();
      const c1 = await withTimeout(it.next(), 3000,
        'chunk 1 did not reach the client while the upstream held the stream: the proxy buffers');
      const c2 = await withTimeout(it.next(), 3000,
        'chunk 2 did not reach the client while the upstream held the stream: the proxy buffers');
      assert.equal(c1.value.choices[0].delta.role, 'assistant');
      assert.equal(c2.value.choices[0].delta.content, replyPieces(replyText({}).text)[0]);
      const up = s.upstream.requests[0];
      assert.equal(up.response.events, 2, 'the upstream had sent only 2 events');
      assert.equal(up.response.finished, false);

      s.upstream.release();
      let text = c2.value.choices[0].delta.content;
      let usage;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        text += r.value.choices[0]?.delta?.content ?? '';
        if (r.value.usage) usage = r.value.usage;
      }
      assert.equal(text, replyText({}).text);
      assert.deepEqual(usage, expectedChatUsage(chatBody));
      checkForwarded(recorder.last, '/v1/chat/completions');
    } finally {
      s.upstream.release();
    }
  });

  s.test('dripped stream: chunk arrival times follow the upstream, not its end', async () => {
    const dripMs = 120;
    s.upstream.setBehavior({ dripMs, words: 6 });
    const { ai } = client();
    const stream = await ai.chat.completions.create(chatBody);
    const arrivals = [];
    for await (const c of stream) if (c.choices[0]?.delta?.content) arrivals.push(Date.now());
    const up = s.upstream.requests[0];
    await up.closed;
    const lastWrite = up.response.eventTimes.at(-1);
    assert.equal(arrivals.length, 6);
    assert.ok(arrivals[0] < lastWrite - 3 * dripMs,
      `the first word arrived ${lastWrite - arrivals[0]} ms before the upstream's last write; ` +
      `expected more than ${3 * dripMs} ms`);
    // The word k was written at eventTimes[k + 1] (after the role chunk); it must not wait for later ones.
    for (let k = 0; k < arrivals.length - 1; k++) {
      assert.ok(arrivals[k] < up.response.eventTimes[k + 2],
        `word ${k} reached the client only after the upstream wrote the next event`);
    }
  });

  s.test('raw SSE: the client gets exactly the bytes the upstream sent', async () => {
    const body = JSON.stringify(chatBody);
    const r = await s.fetch('/v1/chat/completions', { method: 'POST', body,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/event-stream/);
    assertRequestId(r.headers);
    const got = Buffer.from(await r.arrayBuffer());
    const up = s.upstream.requests[0];
    await up.closed;
    assertSameBytes(got, up.response.body, 'SSE bytes');
    assert.match(got.toString(), /data: \[DONE\]\n\n$/);
    assertSameBytes(up.body, Buffer.from(body), 'request body');
  });

  s.test('Responses API stream (SDK): events in order, usage in response.completed', async () => {
    s.upstream.setBehavior({ holdAfter: 5 });
    const { ai, recorder } = client();
    const body = { model: 'gpt-fake', instructions: 'Be brief.', input: 'Say something.', stream: true };
    try {
      const stream = await ai.responses.create(body);
      const it = stream[Symbol.asyncIterator]();
      const types = [];
      for (let i = 0; i < 5; i++) {
        const e = await withTimeout(it.next(), 3000,
          `event ${i + 1} did not reach the client while the upstream held the stream`);
        types.push(e.value.type);
      }
      assert.deepEqual(types.slice(0, 2), ['response.created', 'response.in_progress']);
      s.upstream.release();
      let text = '';
      let completed;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        if (r.value.type === 'response.output_text.delta') text += r.value.delta;
        if (r.value.type === 'response.completed') completed = r.value;
      }
      text = replyPieces(replyText({}).text)[0] + text;
      assert.equal(text, replyText({}).text);
      assert.deepEqual(completed.response.usage, expectedResponsesUsage(body));
      checkForwarded(recorder.last, '/v1/responses');
    } finally {
      s.upstream.release();
    }
  });

  s.test('legacy completions stream (SDK)', async () => {
    const { ai, recorder } = client();
    const body = { model: 'gpt-fake', prompt: 'Once upon a time', stream: true,
      stream_options: { include_usage: true }, max_tokens: 20 };
    const stream = await ai.completions.create(body);
    let text = '';
    let usage;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, replyText(body).text);
    assert.deepEqual(usage, expectedCompletionUsage(body));
    checkForwarded(recorder.last, '/v1/completions');
  });
});

describe('a client that leaves stops the upstream transfer', () => {
  s.test('abort mid-stream (while the upstream keeps dripping)', async () => {
    s.upstream.setBehavior({ dripMs: 100, words: 60 }); // about 6 s if nobody stops it
    const { ai } = client();
    const stream = await ai.chat.completions.create(chatBody);
    const it = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) await withTimeout(it.next(), 3000, `chunk ${i + 1}`);
    const t0 = Date.now();
    stream.controller.abort();
    const r = await upstreamClosed(0, 2000,
      'the upstream stream went on after the client aborted (the proxy did not abort the transfer)');
    assert.equal(r.aborted, true, 'the upstream saw its answer closed before the end');
    assert.ok(r.events < 20, `the upstream sent ${r.events} events before it was stopped`);
    assert.ok(Date.now() - t0 < 2000);
  });

  s.test('abort during a silent gap (the upstream is holding, nothing is written)', async () => {
    s.upstream.setBehavior({ holdAfter: 2 });
    const { ai } = client();
    try {
      const stream = await ai.chat.completions.create(chatBody);
      const it = stream[Symbol.asyncIterator]();
      await withTimeout(it.next(), 3000, 'chunk 1');
      await withTimeout(it.next(), 3000, 'chunk 2');
      stream.controller.abort();
      const r = await upstreamClosed(0, 2000,
        'the proxy did not notice the client left during a silent gap (no write to fail): ' +
        'the upstream transfer stayed open');
      assert.equal(r.aborted, true);
      assert.equal(r.events, 2);
    } finally {
      s.upstream.release();
    }
  });

  s.test('abort before the upstream answered', async () => {
    s.upstream.setBehavior({ stall: 'before-headers' });
    const ctl = new AbortController();
    const p = s.fetch('/v1/chat/completions', { method: 'POST', signal: ctl.signal,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-fake', messages }) });
    p.catch(() => {});
    await s.upstream.waitForRequests(1, 3000);
    await sleep(50);
    ctl.abort();
    await assert.rejects(p);
    const r = await upstreamClosed(0, 2000,
      'the upstream request stayed open after the client left before any answer');
    assert.equal(r.aborted, true);
    assert.equal(r.status, undefined);
  });

  s.test('the proxy still serves after aborted streams', async () => {
    const { ai } = client();
    const r = await ai.chat.completions.create({ model: 'gpt-fake', messages });
    assert.equal(r.choices[0].message.content, replyText({}).text);
  });
});

describe('an upstream that breaks mid-stream', () => {
  // The race is between routstr writing what it relayed and closing the client connection, so
  // each case is tried many times: every try must deliver every byte the upstream sent.
  const TRIES = 40;
  const body = JSON.stringify({ model: 'gpt-fake', messages, stream: true });

  s.test(`raw: every byte sent before the break reaches the client, then the stream ends (${TRIES} tries)`,
    { timeout: 30000 }, async () => {
      const bad = [];
      for (let i = 0; i < TRIES; i++) {
        s.upstream.reset();
        s.upstream.setBehavior({ cutAfter: 4 }); // role chunk + 3 words, then the socket is destroyed
        let r;
        try {
          r = await s.raw('/v1/chat/completions', { method: 'POST', body, allowTruncated: true,
            timeoutMs: 3000, headers: { 'content-type': 'application/json' } });
        } catch (err) {
          bad.push(`try ${i}: no answer at all (${err.code ?? err.message})`);
          continue;
        }
        const up = await s.upstream.requests[0].closed;
        if (r.status !== 200 || !r.body.equals(up.body)) {
          bad.push(`try ${i}: status ${r.status}, ${r.body.length} of the ${up.body.length} bytes the ` +
            'upstream sent before breaking');
        }
      }
      assert.deepEqual(bad, [], `${bad.length} of ${TRIES} tries lost data:\n${bad.join('\n')}`);
    });

  s.test('SDK: the client gets what was sent, then the stream ends (10 tries)', async () => {
    const bad = [];
    for (let i = 0; i < 10; i++) {
      s.upstream.reset();
      s.upstream.setBehavior({ cutAfter: 4 });
      const { ai } = client();
      let text = '';
      const consume = (async () => {
        const stream = await ai.chat.completions.create(chatBody);
        for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      })();
      let err;
      await withTimeout(consume.catch((e) => { err = e; }), 3000,
        'the client stream did not end after the upstream broke');
      const want = replyPieces(replyText({}).text).slice(0, 3).join('');
      if (text !== want) bad.push(`try ${i}: got ${JSON.stringify(text)}${err ? ` then ${err.message}` : ''}`);
    }
    assert.deepEqual(bad, [], `the client lost what the upstream had sent:\n${bad.join('\n')}`);
  });
});
