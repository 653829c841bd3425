// 60-shutdown -- SIGTERM: routstr stops accepting, lets in-flight requests (plain and streamed)
// finish, and exits 0; SHUTDOWN_GRACE_SECONDS bounds how long it waits. Each test runs its own
// node, since each ends it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import http from 'node:http';

import { Stack, rawRequest, sleep, withTimeout } from './lib/harness.js';
import { replyText } from '../upstream/fake-openai.js';

const messages = [{ role: 'user', content: 'hello' }];

/** Runs fn with a fresh stack, always cleaning it up; failures show routstr's stderr. */
async function withStack(t, opts, fn) {
  const st = new Stack(opts);
  await st.start();
  try {
    await fn(st);
  } catch (err) {
    t.diagnostic(`routstr stderr (last lines):\n${st.routstr.tail(40)}`);
    throw err;
  } finally {
    await st.routstr.kill();
    await st.stop();
  }
}

/** After SIGTERM: a request on a new connection is not served (refused, or at most a 503). */
async function assertNotAccepting(st) {
  let late;
  try {
    late = (await rawRequest(`${st.url}/v1/models/gpt-fake`, { timeoutMs: 1000 })).status;
  } catch (err) {
    late = `not served (${err.code ?? err.message})`;
  }
  assert.ok(String(late).startsWith('not served') || late === 503,
    `a request on a new connection after SIGTERM got ${late}`);
}

test('an idle node exits 0 promptly on SIGTERM', async (t) => {
  await withStack(t, {}, async (st) => {
    const res = await st.routstr.stop();
    assert.deepEqual([res.code, res.signal], [0, null]);
    assert.ok(res.ms < 2000, `exit took ${res.ms} ms`);
  });
});

test('SIGTERM during a slow request: it finishes, nothing new is accepted, exit 0', { timeout: 20000 },
  async (t) => {
    await withStack(t, { env: { SHUTDOWN_GRACE_SECONDS: '10' } }, async (st) => {
      st.upstream.setBehavior({ delayMs: 1200, only: '/chat/completions' });
      const pending = st.openai().chat.completions.create({ model: 'gpt-fake', messages });
      pending.catch(() => {});
      await st.upstream.waitForRequests(1, 3000);
      st.routstr.proc.kill('SIGTERM');
      await sleep(150);
      assert.equal(st.routstr.exit, undefined, 'routstr exited with a request in flight');
      await assertNotAccepting(st);

      const r = await withTimeout(pending, 5000, 'the in-flight request did not finish');
      assert.equal(r.choices[0].message.content, replyText({}).text);
      const doneAt = Date.now();
      const exit = await withTimeout(st.routstr.exited, 5000, 'routstr did not exit after the request');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - doneAt < 3000, 'routstr exits soon after the last request');
      assert.equal(st.upstream.requests.length, 1, 'nothing else reached the upstream');
    });
  });

test('SIGTERM: a new request on an idle kept-alive connection is not forwarded', { timeout: 20000 },
  async (t) => {
    await withStack(t, { env: { SHUTDOWN_GRACE_SECONDS: '10' } }, async (st) => {
      // One kept-alive connection, idle when SIGTERM comes.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const get = (p) => new Promise((resolve, reject) => {
        const req = http.get(`${st.url}${p}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, socket: req.reusedSocket }));
        });
        req.setTimeout(3000, () => req.destroy(new Error('timed out')));
        req.on('error', reject);
      });
      try {
        assert.equal((await get('/health')).status, 200);
        st.upstream.setBehavior({ delayMs: 1200, only: '/chat/completions' });
        const pending = st.openai().chat.completions.create({ model: 'gpt-fake', messages });
        pending.catch(() => {});
        await st.upstream.waitForRequests(1, 3000);
        st.routstr.proc.kill('SIGTERM');
        await sleep(150);
        let late;
        try {
          const r = await get('/v1/models/gpt-fake');
          late = `${r.status}${r.socket ? ' on the kept-alive connection' : ''}`;
        } catch (err) {
          late = `not served (${err.code ?? err.message})`;
        }
        assert.equal(st.upstream.requests.length, 1,
          `a request sent after SIGTERM reached the upstream (client got ${late})`);
        assert.ok(late.startsWith('not served') || late.startsWith('503'), `client got ${late}`);
        await withTimeout(pending, 5000, 'the in-flight request did not finish');
        assert.deepEqual(await withTimeout(st.routstr.exited, 5000, 'no exit'), { code: 0, signal: null });
      } finally {
        agent.destroy();
      }
    });
  });

test('SIGTERM during a stream: the stream runs to its end, exit 0', { timeout: 20000 }, async (t) => {
  await withStack(t, { env: { SHUTDOWN_GRACE_SECONDS: '10' } }, async (st) => {
    st.upstream.setBehavior({ dripMs: 100, words: 10 });
    const stream = await st.openai().chat.completions.create({ model: 'gpt-fake', messages,
      stream: true, stream_options: { include_usage: true } });
    const it = stream[Symbol.asyncIterator]();
    let text = '';
    for (let i = 0; i < 3; i++) text += (await it.next()).value.choices[0]?.delta?.content ?? '';
    st.routstr.proc.kill('SIGTERM');
    let usage;
    for (let r = await withTimeout(it.next(), 3000, 'stream stalled after SIGTERM'); !r.done;
      r = await withTimeout(it.next(), 3000, 'stream stalled after SIGTERM')) {
      text += r.value.choices[0]?.delta?.content ?? '';
      if (r.value.usage) usage = r.value.usage;
    }
    assert.equal(text, replyText({}, { words: 10 }).text);
    assert.ok(usage, 'the stream got to its usage chunk');
    const exit = await withTimeout(st.routstr.exited, 5000, 'routstr did not exit after the stream');
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});

test('SHUTDOWN_GRACE_SECONDS bounds the wait for a request that never ends', { timeout: 20000 },
  async (t) => {
    await withStack(t, { env: { SHUTDOWN_GRACE_SECONDS: '0.5' } }, async (st) => {
      st.upstream.setBehavior({ stall: 'before-headers' });
      const pending = st.fetch('/v1/chat/completions', { method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-fake', messages }) }, 10000);
      pending.catch(() => {});
      await st.upstream.waitForRequests(1, 3000);
      const t0 = Date.now();
      st.routstr.proc.kill('SIGTERM');
      const exit = await withTimeout(st.routstr.exited, 3000,
        'routstr did not exit after SHUTDOWN_GRACE_SECONDS');
      const ms = Date.now() - t0;
      assert.ok(ms >= 400, `exited after ${ms} ms, before the grace period`);
      assert.deepEqual(exit, { code: 0, signal: null });
      // The client is not left hanging: it gets an error status or a closed connection.
      const outcome = await withTimeout(pending.then((r) => r.status, () => 'closed'), 2000,
        'the client was left hanging after routstr exited');
      assert.ok(outcome === 'closed' || outcome >= 500, `client got ${outcome}`);
      await withTimeout(st.upstream.requests[0].closed, 2000, 'the upstream request stayed open');
    });
  });
