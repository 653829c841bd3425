// End-to-end with the real wallet library @cashu/cashu-ts 2.5.3: mint (quote → mint), send
// (swap), receive, double spend (11001), checkstate, DLEQ on every signature, melt with NUT-08
// change, and the protocol errors a wallet can provoke.
import test from 'node:test';
import assert from 'node:assert/strict';
import { getEncodedTokenV4, getDecodedToken, hasValidDleq, OutputData } from '@cashu/cashu-ts';
import { startMint } from '../mint.js';
import { walletFor, mintTokens, sum, rejectsCode, states, fakeInvoiceSat } from '../testkit.js';

async function setup(t, opts = {}) {
  const m = await startMint(opts);
  t.after(() => m.close());
  const wallet = await walletFor(m.url);
  return { m, wallet, keys: await wallet.getKeys() };
}

const outputsFor = (amount, keys) => OutputData.createRandomData(amount, keys).map((o) => o.blindedMessage);

test('mint, send as cashuB, receive; double spend is 11001', async (t) => {
  const { m, wallet, keys } = await setup(t);
  const proofs = await mintTokens(wallet, 100);
  assert.equal(sum(proofs), 100);
  assert.ok(proofs.every((p) => p.dleq && hasValidDleq(p, keys)), 'DLEQ on minted proofs');

  const { keep, send } = await wallet.send(30, proofs, { includeDleq: true });
  assert.equal(sum(send), 30);
  assert.equal(sum(keep), 70);
  const kept = new Set(keep.map((p) => p.secret));
  const swapped = proofs.filter((p) => !kept.has(p.secret)); // cashu-ts swaps only what it selects
  assert.ok(swapped.length > 0);
  assert.deepEqual(await states(wallet, proofs), proofs.map((p) => (kept.has(p.secret) ? 'UNSPENT' : 'SPENT')));

  const token = getEncodedTokenV4({ mint: m.url, proofs: send });
  assert.ok(token.startsWith('cashuB'));
  assert.ok(getDecodedToken(token).proofs.every((p) => hasValidDleq(p, keys)), 'DLEQ survives the token');

  const bob = await walletFor(m.url);
  const received = await bob.receive(token, { requireDleq: true });
  assert.equal(sum(received), 30);
  assert.ok(received.every((p) => hasValidDleq(p, keys)));
  assert.deepEqual(await states(wallet, send), send.map(() => 'SPENT'));
  assert.deepEqual(await states(bob, received), received.map(() => 'UNSPENT'));

  await rejectsCode(bob.receive(token), 11001);
  const carol = await walletFor(m.url);
  await rejectsCode(carol.receive(token), 11001);
  assert.equal(m.counts().spent, swapped.length + send.length);
});

test('swap answers carry a verifiable DLEQ', async (t) => {
  const { wallet, keys } = await setup(t);
  const proofs = await mintTokens(wallet, 64);
  const outputs = outputsFor(64, keys);
  const { signatures } = await wallet.mint.swap({ inputs: proofs, outputs });
  assert.equal(signatures.length, outputs.length);
  for (const [i, s] of signatures.entries()) {
    assert.match(s.dleq.e, /^[0-9a-f]{64}$/);
    assert.match(s.dleq.s, /^[0-9a-f]{64}$/);
    assert.equal(s.amount, outputs[i].amount);
  }
});

test('melt with NUT-08 change: the unused fee_reserve comes back', async (t) => {
  const { wallet, keys } = await setup(t);
  const proofs = await mintTokens(wallet, 64);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(10));
  assert.equal(quote.amount, 10);
  assert.equal(quote.fee_reserve, 2);
  const { send, keep } = await wallet.send(12, proofs);
  const res = await wallet.meltProofs(quote, send);
  assert.equal(res.quote.state, 'PAID');
  assert.match(res.quote.payment_preimage, /^[0-9a-f]{64}$/);
  assert.equal(sum(res.change), 2, 'the unused fee reserve comes back');
  assert.ok(res.change.every((p) => hasValidDleq(p, keys)));
  assert.deepEqual(await states(wallet, send), send.map(() => 'SPENT'));
  assert.equal((await wallet.checkMeltQuote(quote.quote)).state, 'PAID');
  await rejectsCode(wallet.meltProofs(quote, keep), 20006);

});

test('melt: the Lightning fee really paid (lnFee) is kept, the rest comes back', async (t) => {
  const { wallet } = await setup(t, { lnFee: 1 });
  const proofs = await mintTokens(wallet, 52);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(20));
  const res = await wallet.meltProofs(quote, proofs); // 52 in: 20 paid, 1 Lightning fee, 31 back
  assert.equal(sum(res.change), 52 - 20 - 1);
  assert.equal((await wallet.checkMeltQuote(quote.quote)).change.length, res.change.length);
});

test('melt refuses too few inputs (11005) and keeps them unspent', async (t) => {
  const { wallet } = await setup(t);
  const proofs = await mintTokens(wallet, 10);
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(9)); // needs 9 + 2
  await rejectsCode(wallet.meltProofs(quote, proofs), 11005);
  assert.deepEqual(await states(wallet, proofs), proofs.map(() => 'UNSPENT'));
});

test('protocol errors: 11003, 11005, 11007, 11008, 12001, 10001, 20002', async (t) => {
  const { wallet, keys } = await setup(t);
  const proofs = await mintTokens(wallet, 16);
  const swap = (inputs, outputs) => wallet.mint.swap({ inputs, outputs });

  await rejectsCode(swap(proofs, outputsFor(15, keys)), 11005);
  await rejectsCode(swap(proofs, outputsFor(17, keys)), 11005);
  await rejectsCode(swap([...proofs, proofs[0]], outputsFor(32, keys)), 11007);
  const dup = outputsFor(8, keys)[0];
  await rejectsCode(swap(proofs, [dup, dup]), 11008);
  await rejectsCode(swap(proofs.map((p) => ({ ...p, id: '00aaaaaaaaaaaaaa' })), outputsFor(16, keys)), 12001);
  await rejectsCode(swap(proofs, outputsFor(16, keys).map((o) => ({ ...o, id: '00aaaaaaaaaaaaaa' }))), 12001);
  const forged = proofs.map((p) => ({ ...p, secret: p.secret.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) }));
  await rejectsCode(swap(forged, outputsFor(16, keys)), 10001);
  await rejectsCode(swap(proofs.map((p) => ({ ...p, amount: p.amount * 2 })), outputsFor(32, keys)), 10001);
  assert.deepEqual(await states(wallet, proofs), proofs.map(() => 'UNSPENT'), 'failed swaps spend nothing');

  const outputs = outputsFor(16, keys);
  await swap(proofs, outputs);
  const more = await mintTokens(wallet, 16);
  await rejectsCode(swap(more, outputs), 11003);

  const q = await wallet.createMintQuote(4);
  await wallet.mintProofs(4, q.quote);
  await rejectsCode(wallet.mintProofs(4, q.quote), 20002);
});

test('msat keyset', async (t) => {
  const m = await startMint({ msat: true });
  t.after(() => m.close());
  const wallet = await walletFor(m.url, { unit: 'msat' });
  const proofs = await mintTokens(wallet, 5000);
  assert.equal(sum(proofs), 5000);
  assert.equal(wallet.keysets.find((k) => k.id === proofs[0].id).unit, 'msat');
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(3));
  assert.equal(quote.amount, 3000);
  assert.equal(quote.fee_reserve, 2000);
  const res = await wallet.meltProofs(quote, proofs);
  assert.equal(sum(res.change), 2000);
});
