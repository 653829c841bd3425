// Version-2 ("01", 66 hex) keyset ids, driven by cashu-ts 4.8.0 (npm alias `cashu-ts4`), which
// understands them; cashu-ts 2.5.3 does not (cashu.md §6), so it is only checked to fail loudly.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, getEncodedToken, sumProofs, hasValidDleq, MintOperationError } from 'cashu-ts4';
import { startMint } from '../mint.js';
import { api, walletFor, fakeInvoiceSat } from '../testkit.js';

const total = (proofs) => Number(sumProofs(proofs).toString());

async function rejects4(promise, code) {
  await assert.rejects(promise, (err) => err instanceof MintOperationError && err.code === code);
}

test('01 keysets with cashu-ts 4.8.0: mint, send, receive, double spend, melt, fees', async (t) => {
  const m = await startMint({ keysetV2: true, inputFeePpk: 100 });
  t.after(() => m.close());
  const { keysets } = (await api(m.url, '/v1/keysets')).body;
  assert.match(keysets[0].id, /^01[0-9a-f]{64}$/);

  const alice = new Wallet(m.url);
  await alice.loadMint();
  assert.equal(alice.keysetId, keysets[0].id);
  const keyset = alice.getKeyset();
  const quote = await alice.createMintQuoteBolt11(100);
  const proofs = await alice.mintProofsBolt11(100, quote);
  assert.equal(total(proofs), 100);
  assert.ok(proofs.every((p) => hasValidDleq(p, keyset, { require: true })));

  const { keep, send } = await alice.send(20, proofs, { includeFees: true });
  const token = getEncodedToken({ mint: m.url, proofs: send });
  const bob = new Wallet(m.url);
  await bob.loadMint();
  assert.equal(total(await bob.receive(token)), 20, 'includeFees covers the 100 ppk');
  await rejects4(bob.receive(token), 11001);

  const mq = await alice.createMeltQuoteBolt11(fakeInvoiceSat(10));
  const res = await alice.meltProofsBolt11(mq, keep);
  assert.equal(res.quote.state, 'PAID');
  const fee = Number(alice.getFeesForProofs(keep).toString());
  assert.equal(total(res.change), total(keep) - 10 - fee);
});

test('01 keysets with a rotation: both ids are v2', async (t) => {
  const m = await startMint({ keysetV2: true, secondKeyset: true });
  t.after(() => m.close());
  const ids = (await api(m.url, '/v1/keysets')).body.keysets.map((k) => k.id);
  assert.equal(ids.length, 2);
  assert.ok(ids.every((id) => /^01[0-9a-f]{64}$/.test(id)));
  const w = new Wallet(m.url);
  await w.loadMint();
  assert.equal(w.keysetId, ids[1]);
});

test('cashu-ts 2.5.3 cannot use a mint whose only keyset is 01', async (t) => {
  const m = await startMint({ keysetV2: true });
  t.after(() => m.close());
  await assert.rejects(walletFor(m.url), /keyset/i);
});
