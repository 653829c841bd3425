// Thin wrappers around the reference library @cashu/crypto 0.3.4 (hash_to_curve, BDHKE signing,
// proof verification, NUT-12 DLEQ, NUT-02 v1 keyset ids). The package must be require()d: its ESM
// subpath exports are broken (cashu.md §7). Hex in, hex out; points are compressed SEC1.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';

const require = createRequire(import.meta.url);
const common = require('@cashu/crypto/modules/common');
const mint = require('@cashu/crypto/modules/mint');
const nut12 = require('@cashu/crypto/modules/mint/NUT12');

const POINT_HEX = /^0[23][0-9a-f]{64}$/;
const hex = (bytes) => Buffer.from(bytes).toString('hex');

/** Parses a 33-byte compressed point given as hex; returns null if it is not one. */
export function parsePoint(h) {
  if (typeof h !== 'string' || !POINT_HEX.test(h.toLowerCase())) return null;
  try {
    return common.pointFromHex(h.toLowerCase());
  } catch {
    return null;
  }
}

/** Y = hash_to_curve(utf8(secret)), as compressed hex: the proof's identifier (NUT-07). */
export function secretToY(secret) {
  return common.hashToCurve(Buffer.from(secret, 'utf8')).toHex(true);
}

/** True iff C == k·hash_to_curve(secret) for private key `priv` (Uint8Array). */
export function verifyProofC(secret, C, priv) {
  const point = parsePoint(C);
  if (!point) return false;
  return mint.verifyProof({ C: point, secret: Buffer.from(secret, 'utf8'), amount: 0, id: '' }, priv);
}

/** Signs blinded message B_ (a point) with `priv`: C_ = k·B_, plus a NUT-12 DLEQ proof {e, s}. */
export function blindSign(B_, priv, amount, id) {
  const sig = mint.createBlindSignature(B_, priv, amount, id);
  const dleq = nut12.createDLEQProof(B_, priv);
  return { id, amount, C_: sig.C_.toHex(true), dleq: { e: hex(dleq.e), s: hex(dleq.s) } };
}

/** Keys for amounts 2^0 .. 2^(n-1), derived by BIP32 from `seed` (32 bytes). */
export function newKeys(n, seed) {
  const pair = mint.createNewMintKeys(n, seed);
  return { privKeys: pair.privKeys, pubKeys: pair.pubKeys, v1Id: pair.keysetId };
}

/** Public key (compressed hex) of a private key. */
export function pubHex(priv) {
  return hex(mint.getPubKeyFromPrivKey(priv));
}

/** NUT-02 v1 keyset id ("00" + 14 hex), by the reference library. */
export function keysetIdV1(pubKeys) {
  return common.deriveKeysetId(pubKeys);
}

/**
 * NUT-02 v2 keyset id: "01" + hex(SHA256("1:<hex>,2:<hex>,...|unit:<u>[|input_fee_ppk:<n>]
 * [|final_expiry:<t>]")). @cashu/crypto 0.3.4 predates v2, so this one is ours
 * (checked against the official vectors in test/keyset-id.test.js).
 */
export function keysetIdV2(pubHexByAmount, unit, inputFeePpk, finalExpiry) {
  const amounts = Object.keys(pubHexByAmount).map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let pre = amounts.map((a) => `${a}:${pubHexByAmount[a.toString()].toLowerCase()}`).join(',');
  pre += `|unit:${unit}`;
  if (inputFeePpk) pre += `|input_fee_ppk:${inputFeePpk}`;
  if (finalExpiry) pre += `|final_expiry:${finalExpiry}`;
  return '01' + createHash('sha256').update(pre, 'utf8').digest('hex');
}

export const sha256 = (data) => createHash('sha256').update(data).digest();
