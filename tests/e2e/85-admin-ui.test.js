// 85-admin-ui: the operator's dashboard (web/admin/, served at /admin/) in a real browser:
// Debian's chromium, headless, driven by playwright-core, against routstr with the test mint,
// the fake exchange (BTC/USD 100,000: 1 USD = 1000 sats) and the fake upstream.
//
// The static files first, over plain HTTP: types, the security headers (CSP without inline
// script, nosniff, no framing), 304 on a matching ETag, no way out of the web root (dot segments,
// hidden files, a symlink pointing outside, an oversized file), and a browser at / sent to
// /admin/ while API clients keep the JSON summary.
//
// Then the browser: a wrong password is refused (message shown, no cookie); after paid traffic
// the overview shows the API's balances; every page renders without an error and is saved as a
// screenshot, desktop and phone (375 px, where nothing may overflow sideways), under
// build/test-output/admin-ui/; a withdrawal made in the page shows a token with a QR code that
// cashu-ts redeems for exactly the amount; a price set in the models page shows in /v1/models
// and a model disabled there disappears from it; the upstream key and a setting are changed
// through their forms. Throughout, the page must log no error, no request may fail
// unexpectedly, and no request may leave for a host other than the node (no CDN).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { getDecodedToken } from '@cashu/cashu-ts';
import { chromium } from 'playwright-core';

import { walletFor } from '../mint/testkit.js';
import { REPO, fetchWithTimeout, sleep, useStack } from './lib/harness.js';
import { exchangeService, fundedKey, jsonOf, mintService, modelsService, sum } from './lib/paid.js';

const PASSWORD = 'ui-e2e-battery-staple';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = path.join(REPO, 'build/test-output/admin-ui');
const MODEL = {
  id: 'test/easy-model',
  name: 'Easy model',
  created: 1700000000,
  context_length: 1000,
  // 0.1 and 0.2 sat a token: a few chats earn the operator enough sats to withdraw some.
  pricing: { prompt: '0.0001', completion: '0.0002', request: '0' },
  top_provider: { context_length: 1000, max_completion_tokens: 200 },
};
const OTHER = { ...MODEL, id: 'test/other-model', name: 'Other model' };
const PAGES = ['overview', 'keys', 'models', 'upstream', 'settings', 'transactions', 'requests', 'withdraw'];
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1280, height: 900 };

/** GET with the path sent exactly as given (fetch and URL would resolve "..", "%2e"). */
function rawGet(base, p, headers = {}) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, headers, agent: false }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(parts).toString('utf8') }));
    });
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function assertSecurityHeaders(h, what) {
  const csp = h['content-security-policy'] ?? '';
  assert.match(csp, /default-src 'none'/, `${what}: CSP ${csp}`);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: only our own scripts, none inline`);
  assert.ok(!/unsafe-inline|unsafe-eval|https?:/.test(csp), `${what}: no inline, eval or other host: ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.equal(h['x-frame-options'], 'DENY', what);
  assert.equal(h['cache-control'], 'no-cache', what);
  assert.match(h.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/, what);
}

describe('admin dashboard', () => {
  const mints = mintService();
  const s = useStack({
    services: [mints, exchangeService(100000), modelsService([MODEL, OTHER])],
    env: { ADMIN_PASSWORD: PASSWORD, FIXED_PRICING: 'false', EXCHANGE_FEE: '1',
      UPSTREAM_PROVIDER_FEE: '1', PRICING_REFRESH_INTERVAL_SECONDS: '0.5', PRICE_MAX_AGE_SECONDS: '60' },
  });

  let browser;
  let context;
  let page;
  const shots = new Set();
  /** What the page did wrong: console errors, page errors, failed and foreign requests. */
  const problems = [];
  /** Responses >= 400 the tests cause on purpose: [method, path, status]. */
  const expected = [];
  const origin = () => new URL(s.url).origin;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: scripts/deps.sh test installs Debian's chromium`);
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: DESKTOP });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin() });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // Chromium logs every response >= 400 as "Failed to load resource"; those are checked
      // one by one below.
      if (/Failed to load resource: the server responded with a status of/.test(m.text())) return;
      problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on('request', (r) => {
      const u = r.url();
      if (u.startsWith('data:')) return;
      if (new URL(u).origin !== origin()) problems.push(`request to another host: ${u}`);
    });
    page.on('response', (r) => {
      if (r.status() < 400) return;
      const p = new URL(r.url()).pathname;
      const i = expected.findIndex(([m, ep, st]) => m === r.request().method() && ep === p && st === r.status());
      if (i >= 0) expected.splice(i, 1);
      else problems.push(`HTTP ${r.status()}: ${r.request().method()} ${p}`);
    });
  });
  after(async () => {
    await browser?.close();
  });

  /** The page's own call of the admin API (its session cookie), parsed. */
  const pageApi = (p) => page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin' });
    return { status: r.status, json: await r.json() };
  }, `/admin/api/${p}`);

  /** Navigates to a page and waits until it has rendered its data. */
  async function open(name) {
    await page.evaluate((h) => { location.hash = h; }, `#/${name}`);
    await page.waitForSelector(`main[data-page="${name}"]:not([aria-busy])`, { timeout: 10000 });
    const err = await page.$('main .msg.error');
    assert.equal(err, null, `${name}: ${err && await err.textContent()}`);
  }

  async function shot(name) {
    const file = `${name}.png`;
    await page.screenshot({ path: path.join(OUT, file), fullPage: true });
    shots.add(file);
  }

  /** Nothing wider than the viewport: a phone scrolls only inside tables. */
  async function assertNoSideScroll(what) {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= PHONE.width, `${what}: the page is ${w} px wide at ${PHONE.width} px`);
  }

  let keyA;
  async function chat(key) {
    const r = await jsonOf(await s.fetch('/v1/chat/completions', { method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL.id, max_tokens: 40,
        messages: [{ role: 'user', content: 'Earn the operator something.' }] }) }));
    assert.equal(r.status, 200, r.text);
    return r.json.usage.cost.total_msats;
  }

  /* ----------------------------------------------------------------- static files */

  s.test('static files: types, security headers, validators; a browser at / goes to /admin/', async () => {
    const files = [['/admin/', /^text\/html; charset=utf-8$/], ['/admin/index.html', /^text\/html/],
      ['/admin/app.js', /^text\/javascript/], ['/admin/style.css', /^text\/css/],
      ['/admin/vendor/qrcode.js', /^text\/javascript/], ['/admin/favicon.svg', /^image\/svg\+xml$/]];
    for (const [p, type] of files) {
      const r = await rawGet(s.url, p);
      assert.equal(r.status, 200, `${p}: ${r.body.slice(0, 200)}`);
      assert.match(r.headers['content-type'], type, p);
      assertSecurityHeaders(r.headers, p);
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), p);
      const again = await rawGet(s.url, p, { 'if-none-match': r.headers.etag });
      assert.equal(again.status, 304, `${p} with its ETag`);
      assert.equal(again.body, '');
    }
    const index = await rawGet(s.url, '/admin/');
    assert.ok(!/<script>|<script(?![^>]*\bsrc=)[^>]*>/.test(index.body), 'no inline script in index.html');
    assert.ok(!/https?:\/\//.test(index.body), 'index.html names no other host');

    const moved = await rawGet(s.url, '/admin');
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, '/admin/');
    const browserRoot = await rawGet(s.url, '/', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    assert.equal(browserRoot.status, 302);
    assert.equal(browserRoot.headers.location, '/admin/');
    const apiRoot = await rawGet(s.url, '/', { accept: 'application/json' });
    assert.equal(apiRoot.status, 200);
    assert.equal(JSON.parse(apiRoot.body).status, 'running');
    assert.match(apiRoot.headers.vary ?? '', /Accept/);

    const head = await fetchWithTimeout(`${s.url}/admin/app.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')),
      fs.statSync(path.join(REPO, 'web/admin/app.js')).size, 'HEAD says the length of the file');
    const post = await fetchWithTimeout(`${s.url}/admin/app.js`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  s.test('static files: no dot segments, hidden files, unknown types, or long paths', async () => {
    for (const p of ['/admin/../VERSION', '/admin/vendor/../../web/admin/app.js', '/admin/%2e%2e/x.js',
      '/admin/.hidden.js', '/admin//app.js', '/admin/app.js/', '/admin/vendor', '/admin/vendor/',
      '/admin/nope.js', '/admin/app.exe', '/admin/app', `/admin/${'a'.repeat(300)}.js`,
      '/admin/app%2ejs', '/admin/app.js%00.html']) {
      const r = await rawGet(s.url, p);
      assert.equal(r.status, 404, `${p} must be 404, got ${r.status}: ${r.body.slice(0, 120)}`);
      assert.equal(JSON.parse(r.body).error.type, 'not_found', p);
    }
  });

  /* ----------------------------------------------------------------- the browser */

  s.test('a wrong password is refused: message shown, no session', { timeout: 30000 }, async () => {
    expected.push(['GET', '/admin/api/session', 401], ['POST', '/admin/api/login', 401]);
    await page.goto(`${s.url}/`); // a browser at / lands on the dashboard, i.e. the login page
    assert.equal(new URL(page.url()).pathname, '/admin/');
    await page.waitForSelector('#login-form');
    await shot('login');
    await page.fill('#password', 'not-the-password');
    await page.click('#login-button');
    const msg = await page.waitForSelector('#login-msg .msg.error');
    assert.match(await msg.textContent(), /wrong password/i);
    assert.deepEqual((await context.cookies()).filter((c) => c.name === 'routstr_admin'), []);
    expected.push(['GET', '/admin/api/overview', 401]);
    assert.equal((await pageApi('overview')).status, 401, 'no session after a wrong password');
    assert.ok(await page.isHidden('#top'), 'no navigation before logging in');
    await shot('login-refused');
  });

  s.test('log in; the overview shows the balances and totals of the API', { timeout: 30000 }, async () => {
    ({ key: keyA } = await fundedKey(s.url, mints, 60));
    const { key: keyB } = await fundedKey(s.url, mints, 40);
    let earned = 0;
    // Wait for a BTC/USD price: the model's sats prices need one.
    for (let i = 0; ; i++) {
      const m = (await jsonOf(await s.fetch('/v1/models'))).json.data.find((x) => x.id === MODEL.id);
      if (m?.sats_pricing) break;
      assert.ok(i < 100, 'no sats price within 5 s');
      await sleep(50);
    }
    earned += await chat(keyA);
    earned += await chat(keyA);
    earned += await chat(keyB);
    assert.ok(earned >= 10000, `the chats earn enough to withdraw from: ${earned} msat`);

    await page.fill('#password', PASSWORD);
    await page.click('#login-button');
    await page.waitForSelector('main[data-page="overview"]:not([aria-busy])');
    assert.ok(await page.isVisible('#top'));
    const cookie = (await context.cookies()).find((c) => c.name === 'routstr_admin');
    assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));

    const o = (await pageApi('overview')).json;
    assert.equal(o.totals.earned_msat, earned, 'the API counts what the chats cost');
    assert.equal(o.balances.length, 1);
    const b = o.balances[0];
    assert.equal(b.wallet_msat, 100000);
    const fmt = (msat) => `${new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 }).format(msat / 1000)} sat`;
    const card = `#balances .balance[data-mint="${b.mint}"]`;
    for (const k of ['wallet', 'owed', 'owner']) {
      const el = await page.$(`${card} dd.${k}`);
      assert.ok(el, `${k} shown`);
      assert.equal(Number(await el.getAttribute('data-msat')), b[`${k}_msat`], k);
      assert.equal((await el.textContent()).trim(), fmt(b[`${k}_msat`]), k);
    }
    assert.equal(b.owner_msat, earned, 'what the operator owns is what was earned');
    const earnedEl = await page.$('#totals [data-k="earned"]');
    assert.equal(Number(await earnedEl.getAttribute('data-msat')), earned);
    assert.match(await page.textContent('#totals [data-k="requests"] .value'), /^3$/);
    assert.match(await page.textContent('#totals [data-k="keys"] .value'), /^2$/);
    // The chart: 30 bars, today's the tallest (the only one).
    const bars = await page.$$eval('.chart rect.bar', (rs) => rs.map((r) => Number(r.getAttribute('height'))));
    assert.equal(bars.length, 30);
    assert.ok(bars[29] > 0 && bars.slice(0, 29).every((x) => x === 0), JSON.stringify(bars));
    await shot('overview');
    await page.setViewportSize(PHONE);
    await assertNoSideScroll('overview');
    await shot('overview-phone');
    await page.setViewportSize(DESKTOP);
  });

  s.test('every page renders the API\'s data, desktop and phone (screenshots)', { timeout: 60000 }, async () => {
    for (const name of PAGES) {
      await open(name);
      await shot(name);
    }
    // Spot checks that the pages show the API's data.
    await open('keys');
    const keys = (await pageApi('keys?limit=50&offset=0&order=last_used')).json;
    assert.equal(keys.total, 2);
    for (const k of keys.keys) assert.ok((await page.textContent('main table')).includes(k.hash_prefix), k.hash_prefix);
    await open('transactions');
    assert.equal(await page.$$eval('main tbody tr', (r) => r.length), (await pageApi('transactions?limit=100')).json.total);
    await page.selectOption('#tx-filter select[name=kind]', 'charge');
    await page.click('#tx-filter button[type=submit]');
    await page.waitForFunction(() => [...document.querySelectorAll('main tbody tr td:nth-child(3)')]
      .every((td) => td.textContent === 'charge'));
    assert.equal(await page.$$eval('main tbody tr', (r) => r.length), 3, 'three charges');
    await open('requests');
    assert.equal(await page.$$eval('main tbody tr', (r) => r.length), 3, 'three requests');
    assert.equal((await page.$$eval('main tbody td', (t) => t.map((x) => x.textContent))).filter((x) => x === 'settled').length, 3);
    await open('upstream');
    assert.match(await page.textContent('#upstream-mask'), /^sk-…|^sk-.*[a-f0-9]{4}$|^\*\*\*\*$/);

    await page.setViewportSize(PHONE);
    for (const name of PAGES) {
      await open(name);
      await assertNoSideScroll(name);
      await shot(`${name}-phone`);
    }
    await page.setViewportSize(DESKTOP);
  });

  s.test('withdraw in the page: the token is shown with a QR code and redeems for exactly the amount', { timeout: 30000 }, async () => {
    const before = (await pageApi('overview')).json.balances[0];
    await open('withdraw');
    await page.fill('#withdraw-amount', '3');
    await page.click('#withdraw-button');
    await page.waitForSelector('#token, #withdraw-msg .msg.error', { timeout: 10000 });
    assert.equal(await page.$('#withdraw-msg .msg.error'), null,
      `withdrawal refused: ${await page.textContent('#withdraw-msg')} (owner ${before.owner_msat} msat)`);
    const token = await page.inputValue('#token');
    assert.match(token, /^cashuB/);
    assert.equal(sum(getDecodedToken(token).proofs), 3);
    const modules = Number(await page.getAttribute('#token-qr', 'data-modules'));
    assert.ok(modules >= 21, `a QR code is drawn (${modules} modules)`);
    await page.click('#copy-token');
    await page.waitForFunction(() => /Copied/.test(document.querySelector('#withdraw-result [role=status]')?.textContent),
      null, { timeout: 5000 });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token, 'Copy puts the token on the clipboard');
    await shot('withdraw-token');
    await page.setViewportSize(PHONE);
    await assertNoSideScroll('withdraw with a token');
    await shot('withdraw-token-phone');
    await page.setViewportSize(DESKTOP);

    const wallet = await walletFor(mints.mint.url);
    const got = await wallet.receive(token);
    assert.equal(sum(got), 3, 'cashu-ts redeems the token for exactly 3 sats');
    const afterW = (await pageApi('overview')).json.balances[0];
    assert.equal(afterW.owner_msat, before.owner_msat - 3000);
    assert.equal(afterW.wallet_msat, before.wallet_msat - 3000);
    await page.waitForFunction((m) => document.querySelector('#owner-balances strong')?.dataset.msat === String(m),
      afterW.owner_msat);

    // More than the operator owns: the API's refusal is shown, nothing moves.
    expected.push(['POST', '/admin/api/withdraw', 400]);
    await page.fill('#withdraw-amount', String(Math.floor(afterW.owner_msat / 1000) + 1));
    await page.click('#withdraw-button');
    const err = await page.waitForSelector('#withdraw-msg .msg.error');
    assert.ok((await err.textContent()).length > 0);
    assert.equal((await pageApi('overview')).json.balances[0].owner_msat, afterW.owner_msat);
  });

  s.test('models page: a price override shows in /v1/models; a disabled model disappears', { timeout: 30000 }, async () => {
    await open('models');
    const row = `tr[data-model="${MODEL.id}"]`;
    const inputs = await page.$$(`${row} input.price`);
    assert.equal(inputs.length, 3);
    await inputs[0].fill('0.0003');
    await inputs[1].fill('0.0004');
    await page.click(`${row} button.save`);
    await page.waitForSelector('#models-msg .msg.ok');
    const m = (await jsonOf(await s.fetch('/v1/models'))).json.data.find((x) => x.id === MODEL.id);
    assert.ok(Math.abs(m.sats_pricing.prompt - 0.3) < 1e-9, `0.0003 USD = 0.3 sat: ${JSON.stringify(m.sats_pricing)}`);
    assert.ok(Math.abs(m.sats_pricing.completion - 0.4) < 1e-9);
    assert.equal(m.pricing.prompt, 0.0003);
    assert.equal(await page.inputValue(`${row} input.price >> nth=0`), '0.0003', 'the page shows the saved override');
    await shot('models-override');

    const other = `tr[data-model="${OTHER.id}"]`;
    await page.uncheck(`${other} input[type=checkbox]`);
    await page.waitForSelector(`${other}.off`);
    let ids = (await jsonOf(await s.fetch('/v1/models'))).json.data.map((x) => x.id);
    assert.ok(!ids.includes(OTHER.id) && ids.includes(MODEL.id), JSON.stringify(ids));
    await page.check(`${other} input[type=checkbox]`);
    await page.waitForSelector(`${other}:not(.off)`);
    ids = (await jsonOf(await s.fetch('/v1/models'))).json.data.map((x) => x.id);
    assert.ok(ids.includes(OTHER.id));

    await page.click(`${row} button:has-text("Clear")`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.value === '', `${row} input.price`);
    const back = (await jsonOf(await s.fetch('/v1/models'))).json.data.find((x) => x.id === MODEL.id);
    assert.ok(Math.abs(back.sats_pricing.prompt - 0.1) < 1e-9, 'the file\'s price again');
    await page.click('#models-reload');
    // The message of the save before is still shown until the reload's replaces it.
    await page.waitForSelector('#models-msg .msg.ok:has-text("Reloaded")');
    assert.match(await page.textContent('#models-msg'), /Reloaded 2 models/);
  });

  s.test('upstream and settings forms change the node; the key is never shown', { timeout: 30000 }, async () => {
    const newKey = 'sk-ui-set-upstream-key-0123456789-WXYZ';
    await open('upstream');
    await page.fill('#upstream-key', newKey);
    await page.click('main form button[type=submit]');
    await page.waitForSelector('#upstream-msg .msg.ok');
    const mask = (await pageApi('upstream')).json.api_key_masked;
    assert.match(mask, /^sk-.*WXYZ$/);
    assert.equal(await page.textContent('#upstream-mask'), mask, 'the page shows the mask');
    assert.ok(!(await page.content()).includes(newKey), 'the key is not in the page');
    const c = await chat(keyA);
    assert.ok(c > 0);
    assert.equal(s.upstream.requests.at(-1).headers.authorization, `Bearer ${newKey}`, 'the next request uses the new key');

    await open('settings');
    await page.fill('#settings-form input[name=name]', 'Dashboard Node');
    await page.click('#settings-form button[type=submit]');
    await page.waitForSelector('#settings-msg .msg.ok');
    assert.equal((await pageApi('settings')).json.name, 'Dashboard Node');
    assert.equal((await jsonOf(await s.fetch('/v1/info'))).json.name, 'Dashboard Node');

    expected.push(['PUT', '/admin/api/settings', 400]);
    await page.fill('#settings-form input[name=exchange_fee]', '5000');
    await page.click('#settings-form button[type=submit]');
    const err = await page.waitForSelector('#settings-msg .msg.error');
    assert.match(await err.textContent(), /exchange_fee/i, 'the refusal names the field');
    await shot('settings-refused');
  });

  s.test('log out ends the session; no console error, failed or foreign request all along', { timeout: 30000 }, async (t) => {
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    expected.push(['GET', '/admin/api/overview', 401]);
    assert.equal((await pageApi('overview')).status, 401);
    assert.deepEqual(problems, [], 'the page logged no error and made no unexpected request');
    assert.deepEqual(expected, [], 'every expected refusal happened');
    t.diagnostic(`screenshots in ${path.relative(REPO, OUT)}/: ${[...shots].join(', ')}`);
    for (const f of shots) assert.ok(fs.statSync(path.join(OUT, f)).size > 1000, f);
  });
});

/* ----------------------------------------------------------- WEB_DIR and its limits */

describe('dashboard files from WEB_DIR', () => {
  let root;
  let outside;
  const s = useStack({
    services: [{
      name: 'webdir',
      start(stack) {
        root = path.join(stack.dir, 'www');
        outside = path.join(stack.dir, 'secret.js');
        fs.mkdirSync(path.join(root, 'admin/sub'), { recursive: true });
        fs.writeFileSync(path.join(root, 'admin/index.html'), '<!doctype html><title>custom</title>');
        fs.writeFileSync(path.join(root, 'admin/sub/deep.js'), 'export {};');
        fs.writeFileSync(outside, 'const secret = 1;');
        fs.symlinkSync(outside, path.join(root, 'admin/escape.js'));
        fs.symlinkSync(path.join(root, 'admin/sub/deep.js'), path.join(root, 'admin/inside.js'));
        fs.symlinkSync(stack.dir, path.join(root, 'admin/up'));
        fs.writeFileSync(path.join(root, 'admin/big.js'), Buffer.alloc(3 << 20, 0x20));
        return { env: { WEB_DIR: root } };
      },
      stop() {},
    }],
    upstream: false,
  });

  s.test('WEB_DIR is served; symlinks out of it and oversized files are not', async () => {
    const index = await rawGet(s.url, '/admin/');
    assert.equal(index.status, 200);
    assert.equal(index.body, '<!doctype html><title>custom</title>');
    assert.equal((await rawGet(s.url, '/admin/sub/deep.js')).body, 'export {};');
    assert.equal((await rawGet(s.url, '/admin/inside.js')).body, 'export {};', 'a symlink within the root is fine');
    for (const p of ['/admin/escape.js', '/admin/up/secret.js', '/admin/big.js', '/admin/app.js']) {
      const r = await rawGet(s.url, p);
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.body.slice(0, 80)}`);
      assert.ok(!r.body.includes('const secret') && !r.body.includes('    '), p);
    }
  });
});
