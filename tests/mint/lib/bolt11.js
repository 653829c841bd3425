// Fake Lightning invoices. The mint never talks to Lightning: it only needs an amount.
// Encoding follows the real BOLT11 human-readable part: "ln" + currency + amount + multiplier,
// then the separator "1" and bech32 data (whose alphabet has no "1"). Multipliers of a bitcoin:
// m = 1e-3, u = 1e-6, n = 1e-9 (= 100 msat), p = 1e-12 (= 0.1 msat). So 1 sat = "lnbc10n1...".
// The same rule is what cashu-ts 4.x checks quotes against.
import { randomBytes } from 'node:crypto';

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const MSAT_PER = { m: 100000000n, u: 100000n, n: 100n };
const MSAT_PER_BTC = 100000000000n;

/** Random bech32 characters (never "1"). */
function bech32Noise(n) {
  return [...randomBytes(n)].map((b) => BECH32[b & 31]).join('');
}

/** A fake mainnet invoice for `msat` millisatoshi: "lnbc<msat/100>n1<data>" (or "p" if needed). */
export function fakeInvoice(msat) {
  const m = BigInt(msat);
  const hrpAmount = m % 100n === 0n ? `${m / 100n}n` : `${m * 10n}p`;
  return `lnbc${hrpAmount}1p${bech32Noise(100)}`;
}

/** Convenience for tests: a fake invoice for `sat` satoshi ("lnbc<sat*10>n1..."). */
export const fakeInvoiceSat = (sat) => fakeInvoice(BigInt(sat) * 1000n);

/** Parses an HRP ("lnbc2500u") into msat (BigInt), null if it has no amount, undefined if not HRP-like. */
function hrpMsat(hrp) {
  const m = /^ln[a-z]+?(\d*)([munp]?)$/.exec(hrp);
  if (!m) return undefined;
  const [, digits, mult] = m;
  if (digits === '') return mult === '' ? null : undefined;
  const n = BigInt(digits);
  if (mult === '') return n * MSAT_PER_BTC;
  if (mult === 'p') return n % 10n === 0n ? n / 10n : undefined;
  return n * MSAT_PER[mult];
}

/**
 * Amount of a (fake) bolt11 invoice in msat as a BigInt, or null when the string carries no
 * amount (amountless invoice, or any string that is not BOLT11-like: the fake Lightning accepts
 * anything). The separator is the last "1" as in bech32; for fake data that contains "1"s,
 * earlier "1"s are tried until the part before it reads as an HRP.
 */
export function invoiceMsat(request) {
  const s = String(request).trim().toLowerCase().replace(/^lightning:/, '');
  for (let sep = s.lastIndexOf('1'); sep >= 3; sep = s.lastIndexOf('1', sep - 1)) {
    const v = hrpMsat(s.slice(0, sep));
    if (v !== undefined) return v;
  }
  return null;
}
