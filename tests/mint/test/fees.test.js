// Input fees (NUT-02 input_fee_ppk = 100): fee = ceil(Σppk / 1000) per transaction, so a
// receiver nets less than the token's face value unless the sender includes the fee.
import test from 'node:test';
import assert from 'node:assert/strict';
import { getEncodedTokenV4, OutputData } from '@cashu/cashu-ts';
import { startMint } from '../mint.js';
import { walletFor, mintTokens, sum, rejectsCode, states, fakeInvoiceSat } from '../testkit.js';

test('100 ppk: receiving pays the fee; includeFees makes up for it', async (t) => {
  const m = await startMint({ inputFeePpk: 100 });
  t.after(() => m.close());
  const alice = await walletFor(m.url);
  assert.equal(alice.keysets[0].input_fee_ppk, 100);
  const proofs = await mintTokens(alice, 200);

  const { keep, send } = await alice.send(20, proofs);
  assert.equal(sum(send), 20);
  const fee = alice.getFeesForProofs(send);
  assert.equal(fee, Math.ceil((send.length * 100) / 1000));
  const bob = await walletFor(m.url);
  const got = await bob.receive(getEncodedTokenV4({ mint: m.url, proofs: send }));
  assert.equal(sum(got), 20 - fee, 'the receiver nets face value minus the input fee');

  const withFee = await alice.send(20, keep, { includeFees: true });
  const got2 = await bob.receive(getEncodedTokenV4({ mint: m.url, proofs: withFee.send }));
  assert.equal(sum(got2), 20);
});

test('100 ppk: swap must balance as inputs - fee == outputs', async (t) => {
  const m = await startMint({ inputFeePpk: 100 });
  t.after(() => m.close());
  const wallet = await walletFor(m.url);
  const keys = await wallet.getKeys();
  const proofs = await mintTokens(wallet, 16);
  const outputs = (n) => OutputData.createRandomData(n, keys).map((o) => o.blindedMessage);
  await rejectsCode(wallet.mint.swap({ inputs: proofs, outputs: outputs(16) }), 11005);
  const net = 16 - Math.ceil((proofs.length * 100) / 1000);
  const { signatures } = await wallet.mint.swap({ inputs: proofs, outputs: outputs(net) });
  assert.equal(signatures.reduce((a, s) => a + s.amount, 0), net);
});

test('100 ppk: melt needs amount + fee_reserve + input fee', async (t) => {
  const m = await startMint({ inputFeePpk: 100 });
  t.after(() => m.close());
  const wallet = await walletFor(m.url);
  const proofs = await mintTokens(wallet, 64);
  const { send, keep } = await wallet.send(12, proofs, { includeFees: false });
  const quote = await wallet.createMeltQuote(fakeInvoiceSat(10));
  await rejectsCode(wallet.meltProofs(quote, send), 11005); // 12 < 10 + 2 + fee
  assert.deepEqual(await states(wallet, send), send.map(() => 'UNSPENT'));
  const res = await wallet.meltProofs(quote, [...send, ...keep]);
  const inputs = [...send, ...keep];
  assert.equal(sum(res.change), sum(inputs) - 10 - wallet.getFeesForProofs(inputs));
});
