// The mint's HTTP surface, checked with plain fetch: NUT-06 info, NUT-01/02 keys and keysets,
// quotes, error shapes, and the /test/* control endpoints.
import test from 'node:test';
import assert from 'node:assert/strict';
import { startMint } from '../mint.js';
import { api, assertCode, fakeInvoiceSat } from '../testkit.js';
import { secretToY } from '../lib/crypto.js';

const POINT = /^0[23][0-9a-f]{64}$/;

test('info, keys and keysets', async (t) => {
  const m = await startMint({ inputFeePpk: 100 });
  t.after(() => m.close());

  const info = (await api(m.url, '/v1/info')).body;
  assert.equal(info.nuts['4'].methods[0].unit, 'sat');
  assert.equal(info.nuts['5'].methods[0].method, 'bolt11');
  for (const n of ['7', '8', '9', '12']) assert.equal(info.nuts[n].supported, true, `NUT-${n}`);
  assert.equal(info.nuts['19'], undefined);
  assert.match(info.pubkey, POINT);

  const { keysets } = (await api(m.url, '/v1/keysets')).body;
  assert.equal(keysets.length, 1);
  assert.deepEqual(keysets[0], { id: keysets[0].id, unit: 'sat', active: true, input_fee_ppk: 100, final_expiry: null });
  assert.match(keysets[0].id, /^00[0-9a-f]{14}$/);

  const keys = (await api(m.url, '/v1/keys')).body.keysets[0];
  assert.equal(keys.id, keysets[0].id);
  assert.equal(Object.keys(keys.keys).length, 64);
  assert.equal(Object.keys(keys.keys).at(-1), (2n ** 63n).toString());
  for (const k of Object.values(keys.keys)) assert.match(k, POINT);
  assert.deepEqual((await api(m.url, `/v1/keys/${keys.id}`)).body.keysets[0], keys);
  assertCode(await api(m.url, '/v1/keys/00ffffffffffffff'), 12001);
});

test('quotes: mint PAID at once, melt amount from the fake invoice', async (t) => {
  const m = await startMint({ feeReserve: 3 });
  t.after(() => m.close());
  const mq = (await api(m.url, '/v1/mint/quote/bolt11', { amount: 21, unit: 'sat' })).body;
  assert.equal(mq.state, 'PAID');
  assert.match(mq.request, /^lnbc210n1/);
  assert.deepEqual((await api(m.url, `/v1/mint/quote/bolt11/${mq.quote}`)).body, mq);

  const melt = (await api(m.url, '/v1/melt/quote/bolt11', { request: fakeInvoiceSat(7), unit: 'sat' })).body;
  assert.equal(melt.amount, 7);
  assert.equal(melt.fee_reserve, 3);
  assert.equal(melt.state, 'UNPAID');
  assert.equal(melt.payment_preimage, null);
  const amountless = { request: 'lnbc1pfoo', unit: 'sat', options: { amountless: { amount_msat: 5500 } } };
  assert.equal((await api(m.url, '/v1/melt/quote/bolt11', amountless)).body.amount, 6);
  assertCode(await api(m.url, '/v1/melt/quote/bolt11', { request: 'not an invoice', unit: 'sat' }), 11011);
  assertCode(await api(m.url, '/v1/mint/quote/bolt11', { amount: 5, unit: 'usd' }), 11013);
  assertCode(await api(m.url, '/v1/mint/quote/bolt11', { amount: 0, unit: 'sat' }), 11006);
});

test('errors are HTTP 400 {detail, code}; unknown routes 404', async (t) => {
  const m = await startMint();
  t.after(() => m.close());
  const bad = await fetch(`${m.url}/v1/swap`, { method: 'POST', body: '{nope' });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).code, 10000);
  assertCode(await api(m.url, '/v1/swap', { inputs: [], outputs: [] }), 10000);
  assert.equal((await api(m.url, '/v1/nothing')).status, 404);
  assert.equal((await api(m.url, '//v1/keys')).status, 404, 'no URL normalization, like real mints');
  const Y = secretToY('never minted');
  assert.deepEqual((await api(m.url, '/v1/checkstate', { Ys: [Y] })).body.states, [{ Y, state: 'UNSPENT', witness: null }]);
  assertCode(await api(m.url, '/v1/checkstate', { Ys: ['zz'] }), 10000);
});

test('test endpoints: state, fault, rotate; nut19 advertised when on', async (t) => {
  const m = await startMint({ nut19: true, msat: true });
  t.after(() => m.close());
  const info = (await api(m.url, '/v1/info')).body;
  assert.deepEqual(info.nuts['19'].cached_endpoints.map((e) => e.path), ['/v1/mint/bolt11', '/v1/melt/bolt11', '/v1/swap']);
  assert.deepEqual(info.nuts['4'].methods.map((x) => x.unit), ['sat', 'msat']);

  const st = (await api(m.url, '/test/state')).body;
  assert.equal(st.spent, 0);
  assert.equal(st.keysets.length, 2);
  const f = (await api(m.url, '/test/fault', { delayMs: 5 })).body.faults;
  assert.equal(f.delayMs, 5);
  assert.equal((await api(m.url, '/test/fault', { nonsense: 1 })).status, 400);
  assert.equal((await api(m.url, '/test/fault', { reset: true })).body.faults.delayMs, 0);

  const rot = (await api(m.url, '/test/rotate', { unit: 'sat', inputFeePpk: 200 })).body.keyset;
  assert.equal(rot.active, true);
  assert.equal(rot.input_fee_ppk, 200);
  const ks = (await api(m.url, '/v1/keysets')).body.keysets.filter((k) => k.unit === 'sat');
  assert.deepEqual(ks.map((k) => k.active), [false, true]);
  assert.deepEqual((await api(m.url, '/v1/keys')).body.keysets.map((k) => k.unit).sort(), ['msat', 'sat']);
});
