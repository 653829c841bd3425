// Injected faults, set both in-process (setFault) and over HTTP (POST /test/fault) as a test
// driving a spawned mint would: delayMs, fail500Once, dropAfterSwap / dropAfter, lightningFail,
// meltPending, plus NUT-19 replay of a lost swap answer.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OutputData } from '@cashu/cashu-ts';
import { parseArgs, startMint } from '../mint.js';
import { walletFor, mintTokens, sum, states, api, assertCode, rejectsCode, fakeInvoiceSat } from '../testkit.js';

async function setup(t, opts) {
  const m = await startMint(opts);
  t.after(() => m.close());
  return { m, wallet: await walletFor(m.url) };
}

test('delayMs delays every /v1 answer, not /test', async (t) => {
  const { m } = await setup(t);
  m.setFault({ delayMs: 300 });
  let t0 = Date.now();
  assert.equal((await api(m.url, '/v1/keysets')).status, 200);
  assert.ok(Date.now() - t0 >= 290, `took ${Date.now() - t0} ms`);
  t0 = Date.now();
  await api(m.url, '/test/state');
  assert.ok(Date.now() - t0 < 250);
  await api(m.url, '/test/fault', { delayMs: 0 });
  t0 = Date.now();
  await api(m.url, '/v1/keysets');
  assert.ok(Date.now() - t0 < 250);
});

test('pathDelayMs delays only the listed paths; --path-delay sets it from the CLI', async (t) => {
  const { m, wallet } = await setup(t);
  m.setFault({ pathDelayMs: { '/v1/swap': 300 } });
  let t0 = Date.now();
  const proofs = await mintTokens(wallet, 8);
  assert.ok(Date.now() - t0 < 250, `minting took ${Date.now() - t0} ms`);
  t0 = Date.now();
  await wallet.send(3, proofs);
  assert.ok(Date.now() - t0 >= 290, `the swap took ${Date.now() - t0} ms`);
  assert.throws(() => m.setFault({ pathDelayMs: 5 }), /pathDelayMs/);
  assert.deepEqual(parseArgs(['--path-delay', '/v1/swap=20']).faults, { pathDelayMs: { '/v1/swap': 20 } });
  assert.throws(() => parseArgs(['--path-delay', 'swap']), /PATH=MS/);
});

test('fail500Once: one HTTP 500 for that path, nothing processed', async (t) => {
  const { m, wallet } = await setup(t);
  const proofs = await mintTokens(wallet, 32);
  m.setFault({ fail500Once: '/v1/swap' });
  await assert.rejects(wallet.send(5, proofs), (err) => err.status === 500 || /500/.test(err.message));
  assert.deepEqual(await states(wallet, proofs), ['UNSPENT']);
  assert.equal(m.faults().fail500Once, null);
  const { send } = await wallet.send(5, proofs);
  assert.equal(sum(send), 5);

  await api(m.url, '/test/fault', { fail500Once: '/v1/keysets' });
  assert.equal((await api(m.url, '/v1/info')).status, 200, 'other paths unaffected');
  assert.equal((await api(m.url, '/v1/keysets')).status, 500);
  assert.equal((await api(m.url, '/v1/keysets')).status, 200);
});

test('dropAfterSwap (over HTTP): swap done, answer lost, restore recovers it', async (t) => {
  const { m } = await setup(t);
  const bip39seed = randomBytes(64);
  const wallet = await walletFor(m.url, { bip39seed });
  const proofs = await mintTokens(wallet, 64, { counter: 0 });
  const before = (await api(m.url, '/test/state')).body;

  assert.equal((await api(m.url, '/test/fault', { dropAfterSwap: true })).status, 200);
  await assert.rejects(wallet.send(10, proofs, { counter: 10 }));
  assert.deepEqual(await states(wallet, proofs), ['SPENT'], 'the swap happened');
  const after = (await api(m.url, '/test/state')).body;
  assert.equal(after.spent, before.spent + 1);
  assert.ok(after.signatures > before.signatures);
  assert.equal(after.faults.dropAfterSwap, false, 'fires once');

  const { proofs: restored } = await wallet.restore(10, 20);
  assert.equal(sum(restored), 64);
  assert.deepEqual(await states(wallet, restored), restored.map(() => 'UNSPENT'));
  const { send } = await wallet.send(10, restored);
  assert.equal(sum(send), 10, 'the next swap is answered normally');
});

test('dropAfter /v1/melt/bolt11: melt paid, answer lost, quote shows PAID with change', async (t) => {
  const { m, wallet } = await setup(t);
  const proofs = await mintTokens(wallet, 16);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(5));
  m.setFault({ dropAfter: '/v1/melt/bolt11' });
  await assert.rejects(wallet.meltProofs(quote, proofs));
  const q = await wallet.checkMeltQuote(quote.quote);
  assert.equal(q.state, 'PAID');
  assert.equal(q.change.reduce((a, s) => a + s.amount, 0), 11);
  assert.deepEqual(await states(wallet, proofs), ['SPENT']);
});

test('lightningFail: melt answers 20004 and the inputs stay spendable', async (t) => {
  const { m, wallet } = await setup(t);
  const proofs = await mintTokens(wallet, 16);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(5));
  await api(m.url, '/test/fault', { lightningFail: true });
  await rejectsCode(wallet.meltProofs(quote, proofs), 20004);
  assert.deepEqual(await states(wallet, proofs), ['UNSPENT']);
  assert.equal((await wallet.checkMeltQuote(quote.quote)).state, 'UNPAID');
  m.setFault({ lightningFail: false });
  const res = await wallet.meltProofs(quote, proofs);
  assert.equal(res.quote.state, 'PAID');
});

test('meltPending: inputs PENDING (11002 on reuse) until the fault is cleared', async (t) => {
  const { m, wallet } = await setup(t);
  const proofs = await mintTokens(wallet, 16);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(5));
  m.setFault({ meltPending: true });
  const keys = await wallet.getKeys();
  const blanks = [1, 2, 3, 4].map(() => OutputData.createSingleRandomData(1, keys.id).blindedMessage);
  const res = await wallet.mint.melt({ quote: quote.quote, inputs: proofs, outputs: blanks });
  assert.equal(res.state, 'PENDING');
  assert.deepEqual(await states(wallet, proofs), ['PENDING']);
  await rejectsCode(wallet.send(3, proofs), 11002);
  await rejectsCode(wallet.mint.melt({ quote: quote.quote, inputs: proofs, outputs: [] }), 20005);

  await api(m.url, '/test/fault', { meltPending: false });
  const q = await wallet.checkMeltQuote(quote.quote);
  assert.equal(q.state, 'PAID');
  assert.equal(q.change.reduce((a, s) => a + s.amount, 0), 11);
  assert.deepEqual(await states(wallet, proofs), ['SPENT']);
});

test('meltPending cleared with lightningFail set: the melt fails, inputs released', async (t) => {
  const { m, wallet } = await setup(t);
  const proofs = await mintTokens(wallet, 16);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(5));
  m.setFault({ meltPending: true });
  assert.equal((await wallet.mint.melt({ quote: quote.quote, inputs: proofs, outputs: [] })).state, 'PENDING');
  m.setFault({ meltPending: false, lightningFail: true });
  assert.equal((await wallet.checkMeltQuote(quote.quote)).state, 'UNPAID');
  assert.deepEqual(await states(wallet, proofs), ['UNSPENT']);
});

test('NUT-19: the identical swap request replays the cached answer', async (t) => {
  const { m, wallet } = await setup(t, { nut19: true });
  const keys = await wallet.getKeys();
  const proofs = await mintTokens(wallet, 8);
  const body = JSON.stringify({ inputs: proofs, outputs: OutputData.createRandomData(8, keys).map((o) => o.blindedMessage) });
  const post = () => fetch(`${m.url}/v1/swap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  m.setFault({ dropAfterSwap: true });
  await assert.rejects(post());
  const replay = await post();
  assert.equal(replay.status, 200);
  const { signatures } = await replay.json();
  assert.equal(signatures.length, 1);
  assert.deepEqual(m.ledger.restore(JSON.parse(body)).signatures, signatures);
  const other = JSON.parse(body);
  other.outputs = OutputData.createRandomData(8, keys).map((o) => o.blindedMessage);
  assertCode(await api(m.url, '/v1/swap', other), 11001);
});
