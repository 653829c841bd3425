// Keyset rotation: a newer active keyset while the old one, now inactive, stays valid for inputs
// (NUT-02). Outputs on the inactive keyset are refused with 12002.
import test from 'node:test';
import assert from 'node:assert/strict';
import { getEncodedTokenV4, OutputData } from '@cashu/cashu-ts';
import { startMint } from '../mint.js';
import { walletFor, mintTokens, sum, api, rejectsCode } from '../testkit.js';

test('secondKeyset: a newer active keyset, the old one inactive but still served', async (t) => {
  const m = await startMint({ secondKeyset: true });
  t.after(() => m.close());
  const { keysets } = (await api(m.url, '/v1/keysets')).body;
  assert.deepEqual(keysets.map((k) => k.active), [false, true]);
  const active = (await api(m.url, '/v1/keys')).body.keysets;
  assert.deepEqual(active.map((k) => k.id), [keysets[1].id]);
  assert.equal((await api(m.url, `/v1/keys/${keysets[0].id}`)).body.keysets[0].active, false);
  const wallet = await walletFor(m.url);
  assert.equal(wallet.keysetId, keysets[1].id);
  const proofs = await mintTokens(wallet, 8);
  assert.ok(proofs.every((p) => p.id === keysets[1].id));

  const both = await startMint({ secondKeyset: true, keepOldActive: true });
  t.after(() => both.close());
  assert.deepEqual((await api(both.url, '/v1/keysets')).body.keysets.map((k) => k.active), [true, true]);
});

test('rotation at run time: old proofs are accepted as inputs, not as outputs', async (t) => {
  const m = await startMint();
  t.after(() => m.close());
  const alice = await walletFor(m.url);
  const oldId = alice.keysetId;
  const old = await mintTokens(alice, 40);
  const oldKeys = await alice.getKeys();

  const { keyset } = (await api(m.url, '/test/rotate', { unit: 'sat' })).body;
  assert.notEqual(keyset.id, oldId);
  const bob = await walletFor(m.url);
  assert.equal(bob.keysetId, keyset.id);

  const outputsOnOld = OutputData.createRandomData(40, oldKeys).map((o) => o.blindedMessage);
  await rejectsCode(bob.mint.swap({ inputs: old, outputs: outputsOnOld }), 12002);
  const q = await bob.createMintQuote(2);
  await rejectsCode(bob.mint.mint({ quote: q.quote, outputs: OutputData.createRandomData(2, oldKeys).map((o) => o.blindedMessage) }), 12002);

  const received = await bob.receive(getEncodedTokenV4({ mint: m.url, proofs: old }));
  assert.equal(sum(received), 40);
  assert.ok(received.every((p) => p.id === keyset.id));
});
