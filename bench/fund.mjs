#!/usr/bin/env node
// fund.mjs -- the sk- key of the billed routstr (bench/run.sh), made the way a client makes one:
// a token minted by cashu-ts on the test mint of tests/mint (Lightning is fake there: a quote is
// paid at once), deposited with GET /v1/balance/create?initial_balance_token=.
//
//   node bench/fund.mjs --mint URL --routstr URL --sats N --key-file F
//
// Writes the key to F (mode 0600; it is never printed) and prints
// "FUNDED {"sats":N,"balance_msat":...}". Needs tests/node_modules (npm ci in tests/).
import fs from 'node:fs';

import { mintTokens, walletFor } from '../tests/mint/testkit.js';

const a = {};
for (let i = 2; i < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const sats = Number(a.sats);
if (!a.mint || !a.routstr || !a['key-file'] || !Number.isSafeInteger(sats) || sats <= 0) {
  console.error('usage: fund.mjs --mint URL --routstr URL --sats N --key-file F');
  process.exit(2);
}

const wallet = await walletFor(a.mint);
const proofs = await mintTokens(wallet, sats);
// A cashuA (v3) token: base64url of its JSON, which needs no CBOR encoder here.
const token = 'cashuA' + Buffer.from(JSON.stringify({
  token: [{ mint: a.mint, proofs: proofs.map(({ id, amount, secret, C }) => ({ id, amount, secret, C })) }],
  unit: 'sat',
})).toString('base64url');
const res = await fetch(`${a.routstr}/v1/balance/create?initial_balance_token=${encodeURIComponent(token)}`);
const text = await res.text();
let j = null;
try {
  j = JSON.parse(text);
} catch { /* reported below */ }
if (res.status !== 200 || !j || j.balance !== sats * 1000 || !String(j.api_key).startsWith('sk-')) {
  console.error(`fund.mjs: create answered ${res.status}: ${text.slice(0, 300)}`);
  process.exit(1);
}
fs.writeFileSync(a['key-file'], j.api_key, { mode: 0o600 });
console.log('FUNDED ' + JSON.stringify({ sats, balance_msat: j.balance }));
