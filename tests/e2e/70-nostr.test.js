// 70-nostr: the node announces itself on Nostr and discovers its peers (issue 7; clients.md §1.2
// and §1.4, spec/routstr-api.md §7).
//
// Services: the test relay (tests/relay/relay.js, which checks every EVENT with nostr-tools'
// verifyEvent) and the test mint (for a `mint` tag). routstr runs with RELAYS=<the relay>,
// HTTP_URL=https://node.example, a fixed NSEC and NOSTR_BACKOFF_MIN_MS=100. nostr-tools signs
// the other providers' announcements and checks ours.
//
// The file skips itself while the binary does not serve GET /v1/providers/ (the Nostr side is
// wired into main.c and routes.c by the lead: see app/nostr_app.h).
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe } from 'node:test';
import { finalizeEvent, getPublicKey, nip19, verifyEvent } from 'nostr-tools';

import { startMint } from '../mint/mint.js';
import { relayService } from '../relay/relay.js';
import { Routstr, VERSION, sleep, useStack } from './lib/harness.js';

const SK_HEX = '67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa';
const NSEC = nip19.nsecEncode(Uint8Array.from(Buffer.from(SK_HEX, 'hex')));
const PUBKEY = getPublicKey(Uint8Array.from(Buffer.from(SK_HEX, 'hex')));
const NPUB = nip19.npubEncode(PUBKEY);

let mint;
const mintService = {
  name: 'mint',
  async start() {
    mint = await startMint({});
    return { env: { CASHU_MINTS: mint.url } };
  },
  async stop() { await mint?.close(); },
};
const relaySvc = relayService();
const ENV = { HTTP_URL: 'https://node.example', NSEC, NAME: 'E2E Node',
  DESCRIPTION: 'Announced by "70-nostr"', NOSTR_BACKOFF_MIN_MS: '100' };
const s = useStack({ upstream: false, services: [mintService, relaySvc], env: ENV });
const relay = () => relaySvc.instance;

/** Whether this binary serves /v1/providers/ (asked once, after the stack started). */
let wiredCheck;
function wired() {
  wiredCheck ??= (async () => {
    const r = await s.fetch('/v1/providers/');
    const text = await r.text();
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    if (r.status === 200 && Array.isArray(body?.providers)) return '';
    return `GET /v1/providers/ answered ${r.status}: the Nostr side is not wired into this ` +
      'binary yet (nostr_app_start in main.c, nostr_app_providers in routes.c)';
  })();
  return wiredCheck;
}

/** s.test() that skips with the reason while the route is not wired. */
function ntest(name, fn, opts = {}) {
  s.test(name, { timeout: 30000, ...opts }, async (t) => {
    const why = await wired();
    if (why) {
      t.skip(why);
      return;
    }
    await fn(t);
  });
}

const ours = () => relay().received.filter((e) => e.event?.pubkey === PUBKEY && e.event.kind === 38421);

async function providers(query = '') {
  const r = await s.fetch(`/v1/providers/${query}`);
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.ok(Array.isArray(body.providers), JSON.stringify(body));
  return body.providers;
}

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

function announce(sk, d, urls, { at = Math.floor(Date.now() / 1000), name = 'Peer' } = {}) {
  return finalizeEvent({
    kind: 38421,
    created_at: at,
    tags: [['d', d], ...urls.map((u) => ['u', u]), ['mint', 'https://mint.peer.example'],
      ['version', '0.4.5']],
    content: JSON.stringify({ name, about: `${name} sells tokens` }),
  }, sk);
}
const key = (n) => Uint8Array.from(Buffer.alloc(32, 0).fill(n, 31));

describe('Nostr: announcement and discovery', () => {
  ntest('the announcement reaches the relay, verifies, and carries the exact tags', async () => {
    const got = await relay().waitFor(() => ours().find((e) => e.ok), 15000, 'our announcement');
    const ev = got.event;
    // A fresh copy: the relay's verifyEvent cached its verdict on the object it received.
    assert.equal(verifyEvent(JSON.parse(JSON.stringify(ev))), true,
      'nostr-tools verifies our id and signature');
    assert.deepEqual(ev.tags, [
      ['d', PUBKEY.slice(0, 12)],
      ['u', 'https://node.example'],
      ['mint', mint.url.replace(/\/+$/, '')],
      ['version', VERSION],
    ]);
    assert.deepEqual(JSON.parse(ev.content), { name: 'E2E Node', about: 'Announced by "70-nostr"' });
    assert.ok(Math.abs(ev.created_at - Date.now() / 1000) < 120);
    assert.equal(ours().length, 1, 'published once');
    const info = await (await s.fetch('/v1/info')).json();
    assert.equal(info.npub, NPUB, '/v1/info shows the npub of NSEC');
  });

  ntest('providers signed by nostr-tools are listed; forged and future ones are not', async () => {
    const probe = http.createServer((req, res) => {
      res.writeHead(req.url === '/v1/info' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'Peer B', version: '0.4.5' }));
    });
    await new Promise((r) => probe.listen(0, '127.0.0.2', r));
    const peerB = `http://127.0.0.2:${probe.address().port}`;
    try {
      const now = Math.floor(Date.now() / 1000);
      const a1 = announce(key(2), 'peer-a', ['https://a-old.example'], { at: now - 100 });
      const a2 = announce(key(2), 'peer-a', ['https://a.example', 'http://peeraaaa.onion'],
        { at: now - 50, name: 'Peer A' });
      const b = announce(key(3), 'peer-b', [peerB], { name: 'Peer B' });
      const forged = { ...announce(key(4), 'forged', ['https://forged.example']) };
      forged.content = JSON.stringify({ name: 'Evil', about: 'tampered after signing' });
      const future = announce(key(5), 'future', ['https://future.example'], { at: now + 3600 });
      for (const ev of [a1, a2, b]) assert.ok(relay().publish(ev));
      relay().inject(forged); // a relay that does not check signatures
      relay().inject(future);

      const list = await waitFor(async () => {
        const l = await providers();
        return l.some((p) => p.id === 'peer-a' && p.endpoint_url === 'https://a.example') &&
          l.some((p) => p.id === 'peer-b') ? l : null;
      }, 10000, 'peers in /v1/providers/');
      await sleep(300);
      const ids = (await providers()).map((p) => p.id);
      assert.ok(!ids.includes('forged'), 'a forged signature is ignored');
      assert.ok(!ids.includes('future'), 'an event an hour ahead is ignored');
      const a = list.find((p) => p.id === 'peer-a');
      assert.deepEqual(a, {
        id: 'peer-a', pubkey: a2.pubkey, created_at: a2.created_at, kind: 38421,
        endpoint_url: 'https://a.example', endpoint_urls: ['https://a.example', 'http://peeraaaa.onion'],
        name: 'Peer A', description: 'Peer A sells tokens', mint_urls: ['https://mint.peer.example'],
        version: '0.4.5', content: a2.content,
      });
      assert.ok(list.some((p) => p.pubkey === PUBKEY && p.endpoint_url === 'https://node.example'),
        'our own announcement is listed too');

      const onlyA = await providers(`?pubkey=${a2.pubkey}`);
      assert.deepEqual(onlyA.map((p) => p.id), ['peer-a']);

      const withHealth = await providers('?include_json=true');
      const hb = withHealth.find((x) => x.provider.id === 'peer-b');
      assert.deepEqual(hb.health, { status_code: 200, endpoint: 'info',
        json: { name: 'Peer B', version: '0.4.5' } });
      const ha = withHealth.find((x) => x.provider.id === 'peer-a');
      assert.equal(ha.health.endpoint, 'error');

      const redirect = await s.fetch('/v1/providers?include_json=false');
      await redirect.arrayBuffer();
      assert.equal(redirect.status, 307);
      assert.equal(redirect.headers.get('location'), '/v1/providers/?include_json=false');
    } finally {
      await new Promise((r) => probe.close(r));
    }
  });

  ntest('a relay that drops connections is retried with exponential backoff', async () => {
    const r = relay();
    r.mode = 'drop';
    r.attempts = 0;
    r.attemptTimes = [];
    const t0 = Date.now();
    r.dropAll();
    await sleep(3000);
    const times = r.attemptTimes.map((t) => t - t0);
    // Base 100 ms doubling, ±20 %: attempts near 0.1, 0.3, 0.7, 1.5, 3.1 s.
    assert.ok(times.length >= 3 && times.length <= 6, `attempts at ${times.join(', ')} ms`);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // Each delay doubles; with ±20 % jitter the worst ratio of two in a row is 1.6/1.2 = 1.33.
    for (let i = 1; i < gaps.length; i++) {
      assert.ok(gaps[i] > gaps[i - 1] * 1.2, `gaps grow: ${gaps.join(', ')} ms`);
    }
    r.mode = 'normal';
    const reqs = r.reqs.length;
    await r.waitFor(() => r.reqs.length > reqs, 8000, 'a new subscription after the relay healed');
    await sleep(300);
    assert.equal(ours().length, 1, 'the announcement on the relay is up to date: not sent again');
  });

  ntest('a restart with a changed HTTP_URL republishes; an unchanged one does not', async () => {
    const restart = async (env) => {
      const old = s.routstr;
      const res = await old.stop();
      assert.deepEqual({ code: res.code, killed: res.killed }, { code: 0, killed: false });
      s.routstr = new Routstr({ env: { ...old.env, ...env }, dir: s.dir });
      await s.routstr.start();
    };
    const before1 = ours().length;
    const reqs = relay().reqs.length;
    await restart({});
    await relay().waitFor(() => relay().reqs.slice(reqs).some((q) => q.filters[0].authors),
      10000, 'our own-events REQ after the restart');
    await sleep(500);
    assert.equal(ours().length, before1, 'same settings: nothing republished');

    await restart({ HTTP_URL: 'https://node2.example/v1' });
    const second = await relay().waitFor(() => ours().length > before1 && ours().at(-1), 15000,
      'a republished announcement');
    assert.ok(second.ok);
    assert.deepEqual(second.event.tags.filter((t) => t[0] === 'u'), [['u', 'https://node2.example']]);
    assert.deepEqual(second.event.tags[0], ['d', PUBKEY.slice(0, 12)], 'the same provider id');
    const first = ours()[0].event;
    assert.ok(second.event.created_at >= first.created_at);
    const mine = await waitFor(async () => (await providers(`?pubkey=${PUBKEY}`))
      .find((p) => p.endpoint_url === 'https://node2.example'), 10000, 'our new URL listed');
    assert.equal(mine.id, PUBKEY.slice(0, 12));
  });
});
