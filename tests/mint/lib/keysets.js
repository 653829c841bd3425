// Keysets of the test mint: deterministic keys from (seed, label), v1 ("00") or v2 ("01") ids,
// and their NUT-01 / NUT-02 JSON forms. A keyset "spec" is the persisted, key-free description:
// { label, unit, version: 1|2, inputFeePpk, active }.
import { newKeys, keysetIdV1, keysetIdV2, sha256 } from './crypto.js';

/** Number of keys per keyset: amounts 1, 2, 4, ... 2^63, like nutshell's default. */
export const DEFAULT_MAX_ORDER = 64;

/** Builds a keyset (with private keys) from the master seed (string) and a spec. */
export function buildKeyset(seed, spec, maxOrder = DEFAULT_MAX_ORDER) {
  const { privKeys, pubKeys, v1Id } = newKeys(maxOrder, sha256(`${seed}|keyset|${spec.label}`));
  const pubHexByAmount = {};
  for (const amount of Object.keys(privKeys)) pubHexByAmount[amount] = Buffer.from(pubKeys[amount]).toString('hex');
  const ppk = spec.inputFeePpk || 0;
  const id = spec.version === 2 ? keysetIdV2(pubHexByAmount, spec.unit, ppk, null) : keysetIdV1(pubKeys);
  return { ...spec, inputFeePpk: ppk, id, privKeys, pubHexByAmount, finalExpiry: null };
}

/** NUT-02 entry: {id, unit, active, input_fee_ppk, final_expiry}. */
export function keysetInfo(ks) {
  return { id: ks.id, unit: ks.unit, active: ks.active, input_fee_ppk: ks.inputFeePpk, final_expiry: ks.finalExpiry };
}

/** NUT-01 entry: the NUT-02 entry plus `keys` {"<amount>": "<33-byte hex>"} in ascending order. */
export function keysetWithKeys(ks) {
  return { ...keysetInfo(ks), keys: { ...ks.pubHexByAmount } };
}

/** The keyset specs a fresh mint starts with, from the startMint options. */
export function initialSpecs(opts) {
  const version = opts.keysetV2 ? 2 : 1;
  const ppk = opts.inputFeePpk || 0;
  const specs = [{ label: 'sat-0', unit: 'sat', version, inputFeePpk: ppk, active: true }];
  if (opts.secondKeyset) {
    specs[0].active = Boolean(opts.keepOldActive);
    specs.push({ label: 'sat-1', unit: 'sat', version, inputFeePpk: opts.secondKeysetFeePpk ?? ppk, active: true });
  }
  if (opts.msat) specs.push({ label: 'msat-0', unit: 'msat', version, inputFeePpk: ppk, active: true });
  return specs;
}

/** Spec of the next keyset when rotating `unit`: a new label, the old ones made inactive. */
export function rotatedSpecs(specs, unit, { inputFeePpk, version, keepOldActive } = {}) {
  const same = specs.filter((s) => s.unit === unit);
  const last = same[same.length - 1];
  const next = {
    label: `${unit}-${same.length}`,
    unit,
    version: version ?? last?.version ?? 1,
    inputFeePpk: inputFeePpk ?? last?.inputFeePpk ?? 0,
    active: true,
  };
  const old = specs.map((s) => (s.unit === unit && !keepOldActive ? { ...s, active: false } : s));
  return [...old, next];
}
