// Helpers for the test mint's own tests (tests/mint/test/*.test.js) and for other suites that
// drive it with @cashu/cashu-ts 2.5.3. Kept outside test/ so `node --test mint/test/` does not
// run it as a test file.
import assert from 'node:assert/strict';
import { CashuMint, CashuWallet, MintOperationError } from '@cashu/cashu-ts';

export { fakeInvoiceSat, fakeInvoice } from './lib/bolt11.js';

export const sum = (proofs) => proofs.reduce((a, p) => a + Number(p.amount), 0);

/** A loaded cashu-ts 2.5.3 wallet for the mint at `url` (options: unit, bip39seed, ...). */
export async function walletFor(url, options = {}) {
  const wallet = new CashuWallet(new CashuMint(url), options);
  await wallet.loadMint();
  return wallet;
}

/** Mints `amount` through a (paid at once) bolt11 quote; returns the proofs. */
export async function mintTokens(wallet, amount, options) {
  const quote = await wallet.createMintQuote(amount);
  return wallet.mintProofs(amount, quote.quote, options);
}

/** Raw JSON call: returns { status, body } (body null if not JSON). */
export async function api(base, path, body, method = body === undefined ? 'GET' : 'POST') {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, body: json };
}

/** Asserts that `promise` rejects with a cashu-ts MintOperationError of this NUT error `code`. */
export async function rejectsCode(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof MintOperationError, `expected MintOperationError, got ${err}`);
    assert.equal(err.code, code, `code ${err.code}: ${err.message}`);
    return true;
  });
}

/** Asserts a raw api() answer is HTTP 400 with this `code`. */
export function assertCode(res, code) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.code, code, JSON.stringify(res.body));
}

/** NUT-07 states of `proofs`, as strings. */
export async function states(wallet, proofs) {
  return (await wallet.checkProofsStates(proofs)).map((s) => s.state);
}
