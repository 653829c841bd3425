// Offline checks of the mint's own helpers: v1/v2 keyset ids against the official NUT-02
// vectors, the fake bolt11 amount rule, fees and the power-of-two split used for NUT-08 change.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { keysetIdV1, keysetIdV2 } from '../lib/crypto.js';
import { fakeInvoice, fakeInvoiceSat, invoiceMsat } from '../lib/bolt11.js';
import { Ledger, splitPow2 } from '../lib/ledger.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const VECTOR_PATHS = [
  here('../../vectors/cashu/nut02-keyset-ids.json'),
  here('../../vectors/nut02-keyset-ids.json'),
  '/work/shared/test-vectors/cashu/nut02-keyset-ids.json',
];
const vectorFile = VECTOR_PATHS.find((p) => existsSync(p));
const vectors = vectorFile && JSON.parse(readFileSync(vectorFile, 'utf8'));

test('keyset id v1 matches the NUT-02 vectors', { skip: !vectors && 'no vector file' }, () => {
  for (const v of vectors.v1) {
    const keys = Object.fromEntries(Object.entries(v.keys).map(([a, h]) => [a, Buffer.from(h, 'hex')]));
    assert.equal(keysetIdV1(keys), v.expected_id);
  }
});

test('keyset id v2 matches the NUT-02 vectors', { skip: !vectors && 'no vector file' }, () => {
  for (const v of vectors.v2) {
    assert.equal(keysetIdV2(v.keys, v.unit, v.input_fee_ppk, v.final_expiry), v.expected_id, v.name);
  }
});

test('fake bolt11 amounts follow the BOLT11 multipliers', () => {
  assert.equal(invoiceMsat('lnbc10n1qqqq'), 1000n); // 1 sat
  assert.equal(invoiceMsat('lnbc2500u1pvjluez'), 250000000n);
  assert.equal(invoiceMsat('lnbc1m1qq'), 100000000n);
  assert.equal(invoiceMsat('lnbc15p1qq'), null); // 1.5 msat is not an amount
  assert.equal(invoiceMsat('lnbc20p1qq'), 2n);
  assert.equal(invoiceMsat('LNBC10N1QQ'), 1000n);
  assert.equal(invoiceMsat('lnbc1pvjluez'), null); // amountless
  assert.equal(invoiceMsat('anything at all'), null);
  assert.equal(invoiceMsat('lnbc10n1with1ones1inside'), 1000n); // not bech32: earlier "1"s are tried
  assert.equal(invoiceMsat(fakeInvoiceSat(21)), 21000n);
  assert.equal(invoiceMsat(fakeInvoice(1234n)), 1234n);
  assert.match(fakeInvoiceSat(100), /^lnbc1000n1p[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$/);
});

test('fee is ceil(sum of ppk / 1000), per transaction', () => {
  const ledger = new Ledger({ seed: 'unit', inputFeePpk: 100, maxOrder: 4 });
  const id = ledger.keysets[0].id;
  const proofs = (n) => Array.from({ length: n }, () => ({ id }));
  assert.deepEqual([1, 3, 10, 11, 20, 21].map((n) => ledger.fee(proofs(n))), [1, 1, 1, 2, 2, 3]);
  assert.equal(new Ledger({ seed: 'unit0', maxOrder: 4 }).fee(proofs(5)), 0);
});

test('change split: powers of two, largest first', () => {
  assert.deepEqual(splitPow2(900), [512, 256, 128, 4]);
  assert.deepEqual(splitPow2(1), [1]);
  assert.deepEqual(splitPow2(0), []);
});

test('keys are deterministic from the seed', () => {
  const a = new Ledger({ seed: 'same', maxOrder: 8 });
  const b = new Ledger({ seed: 'same', maxOrder: 8 });
  const c = new Ledger({ seed: 'other', maxOrder: 8 });
  assert.equal(a.keysets[0].id, b.keysets[0].id);
  assert.notEqual(a.keysets[0].id, c.keysets[0].id);
});
