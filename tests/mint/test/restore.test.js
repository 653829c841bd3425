// NUT-09 restore: the mint returns the signatures it issued for known B_ (and only those), so a
// deterministic (NUT-13) cashu-ts wallet can rebuild its proofs from its seed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OutputData } from '@cashu/cashu-ts';
import { startMint } from '../mint.js';
import { walletFor, mintTokens, sum, states, api } from '../testkit.js';

test('a seeded wallet restores minted and swapped proofs', async (t) => {
  const m = await startMint();
  t.after(() => m.close());
  const bip39seed = randomBytes(64);
  const wallet = await walletFor(m.url, { bip39seed });
  const proofs = await mintTokens(wallet, 64, { counter: 0 });
  const { keep, send } = await wallet.send(10, proofs, { counter: proofs.length });
  const live = [...keep, ...send];

  const again = await walletFor(m.url, { bip39seed });
  const restored = await again.restore(0, 20);
  const st = await states(again, restored.proofs);
  const unspent = restored.proofs.filter((_, i) => st[i] === 'UNSPENT');
  assert.equal(sum(unspent), 64);
  assert.deepEqual(unspent.map((p) => p.secret).sort(), live.map((p) => p.secret).sort());
  assert.equal(restored.proofs.length, proofs.length + live.length);
});

test('/v1/restore returns outputs and signatures (with DLEQ) of known B_ only', async (t) => {
  const m = await startMint();
  t.after(() => m.close());
  const wallet = await walletFor(m.url);
  const keys = await wallet.getKeys();
  const quote = await wallet.createMintQuote(5);
  const outputs = OutputData.createRandomData(5, keys).map((o) => o.blindedMessage);
  const minted = await wallet.mint.mint({ quote: quote.quote, outputs });
  const unknown = OutputData.createRandomData(2, keys).map((o) => o.blindedMessage);

  const res = await api(m.url, '/v1/restore', { outputs: [unknown[0], ...outputs, ...unknown.slice(1)] });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.outputs, outputs);
  assert.deepEqual(res.body.signatures, minted.signatures);
  assert.ok(res.body.signatures.every((s) => s.dleq?.e && s.dleq?.s));
});
