// The mint's state and protocol rules: keysets, spent/pending proofs, issued signatures,
// mint and melt quotes, fees, NUT-08 change. Every operation is synchronous, so each request is
// atomic in Node's single thread; each mutation is written to the optional state file before
// the answer leaves (crash tests). The HTTP layer (../mint.js) only maps routes to these methods.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { E, MintError, failIf } from './errors.js';
import { parsePoint, secretToY, verifyProofC, blindSign, pubHex, sha256 } from './crypto.js';
import { buildKeyset, initialSpecs, rotatedSpecs, keysetInfo, keysetWithKeys, DEFAULT_MAX_ORDER } from './keysets.js';
import { fakeInvoice, invoiceMsat } from './bolt11.js';

const now = () => Math.floor(Date.now() / 1000);
const isAmount = (a, min = 1) => Number.isSafeInteger(a) && a >= min;
const own = (obj, key) => (typeof key === 'string' && Object.hasOwn(obj, key) ? obj[key] : undefined);

/** A UUID v7 (time-ordered), as NUT-04/05 recommend for quote ids. */
export function uuidv7() {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Splits `amount` into powers of two, largest first (the keys every keyset has). */
export function splitPow2(amount) {
  const out = [];
  for (let bit = 62; bit >= 0; bit--) {
    const v = 2 ** bit;
    if (amount >= v) {
      out.push(v);
      amount -= v;
    }
  }
  return out;
}

function emptyState(seed, specs) {
  return { version: 1, seed, specs, spent: {}, pending: {}, signed: {}, mintQuotes: {}, meltQuotes: {}, cache: {} };
}

export class Ledger {
  /**
   * opts: seed, stateFile, inputFeePpk, keysetV2, secondKeyset, keepOldActive, secondKeysetFeePpk,
   * msat, feeReserve (sat, default 2), lnFee (sat actually spent on Lightning, default 0),
   * maxInputs / maxOutputs (default 1000), quoteTtl (s, default 3600), maxOrder (keys per keyset),
   * maxMintAmount (default 2^40).
   */
  constructor(opts = {}) {
    this.opts = opts;
    this.stateFile = opts.stateFile || null;
    this.maxOrder = opts.maxOrder || DEFAULT_MAX_ORDER;
    this.state = this.loadState() || emptyState(opts.seed || randomBytes(32).toString('hex'), initialSpecs(opts));
    this.buildKeysets();
    this.infoPubkey = pubHex(sha256(`${this.state.seed}|info`));
    this.save();
  }

  // ---- persistence ----

  loadState() {
    if (!this.stateFile || !existsSync(this.stateFile)) return null;
    const s = JSON.parse(readFileSync(this.stateFile, 'utf8'));
    if (this.opts.seed && s.seed !== this.opts.seed) throw new Error(`state file ${this.stateFile} has another seed`);
    return s;
  }

  /** Writes the whole state synchronously (tmp file + rename, so a crash never leaves half a file). */
  save() {
    if (!this.stateFile) return;
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.stateFile);
  }

  // ---- keysets ----

  buildKeysets() {
    const cache = this.keysetCache || new Map();
    this.keysets = this.state.specs.map((spec) => {
      const key = JSON.stringify({ ...spec, active: undefined });
      if (!cache.has(key)) cache.set(key, buildKeyset(this.state.seed, spec, this.maxOrder));
      return { ...cache.get(key), active: spec.active };
    });
    this.keysetCache = cache;
    this.byId = new Map(this.keysets.map((k) => [k.id, k]));
    failIf(this.byId.size !== this.keysets.length, E.NOT_ALLOWED, 'keyset id collision');
  }

  /** Adds a new active keyset for `unit`; older ones of that unit become inactive unless keepOldActive. */
  rotate(unit = 'sat', opts = {}) {
    this.state.specs = rotatedSpecs(this.state.specs, unit, opts);
    this.buildKeysets();
    this.save();
    return keysetInfo(this.keysets[this.keysets.length - 1]);
  }

  keysFor(id) {
    const ks = this.byId.get(id);
    failIf(!ks, E.KEYSET_UNKNOWN, 'keyset is not known');
    return { keysets: [keysetWithKeys(ks)] };
  }

  activeKeys() {
    return { keysets: this.keysets.filter((k) => k.active).map(keysetWithKeys) };
  }

  allKeysets() {
    return { keysets: this.keysets.map(keysetInfo) };
  }

  units() {
    return [...new Set(this.keysets.filter((k) => k.active).map((k) => k.unit))];
  }

  /** fee = ceil(Σ input_fee_ppk of each input's keyset / 1000) (NUT-02). */
  fee(inputs) {
    const ppk = inputs.reduce((sum, p) => sum + (this.byId.get(p.id)?.inputFeePpk || 0), 0);
    return Math.ceil(ppk / 1000);
  }

  // ---- validation of inputs (proofs) and outputs (blinded messages) ----

  checkShape(list, name, max, maxCode) {
    failIf(!Array.isArray(list), E.NOT_ALLOWED, `${name} must be an array`);
    failIf(list.length > max, maxCode, `too many ${name} (max ${max})`);
  }

  /** Verifies the proofs; returns {total, unit, Ys}. Throws on any invalid, spent or pending proof. */
  verifyInputs(inputs) {
    this.checkShape(inputs, 'inputs', this.opts.maxInputs || 1000, E.MAX_INPUTS);
    failIf(inputs.length === 0, E.NOT_ALLOWED, 'no inputs provided');
    const secrets = new Set(inputs.map((p) => p?.secret));
    failIf(secrets.size !== inputs.length, E.DUP_INPUTS, 'duplicate inputs provided');
    const units = new Set();
    let total = 0;
    const Ys = inputs.map((p) => {
      units.add(this.verifyProof(p).unit);
      total += p.amount;
      return secretToY(p.secret);
    });
    failIf(units.size > 1, E.MULTI_UNIT, 'inputs of multiple units');
    this.checkUnspent(Ys);
    return { total, unit: [...units][0], Ys };
  }

  verifyProof(p) {
    failIf(!p || typeof p.secret !== 'string' || typeof p.C !== 'string' || typeof p.id !== 'string',
      E.NOT_ALLOWED, 'malformed proof');
    failIf(!isAmount(p.amount), E.PROOF_INVALID, 'proof verification failed: bad amount');
    const ks = this.byId.get(p.id);
    failIf(!ks, E.KEYSET_UNKNOWN, 'keyset is not known');
    const priv = ks.privKeys[String(p.amount)];
    failIf(!priv, E.PROOF_INVALID, 'proof verification failed: no key for amount');
    failIf(!verifyProofC(p.secret, p.C, priv), E.PROOF_INVALID, 'proof verification failed');
    return ks;
  }

  checkUnspent(Ys) {
    failIf(Ys.some((Y) => Object.hasOwn(this.state.spent, Y)), E.SPENT, 'Token already spent.');
    failIf(Ys.some((Y) => Object.hasOwn(this.state.pending, Y)), E.PENDING, 'proofs are pending');
  }

  /** Checks blinded messages; `blank` (NUT-08) skips the amount check. Returns {total, unit}. */
  verifyOutputs(outputs, { blank = false } = {}) {
    this.checkShape(outputs, 'outputs', this.opts.maxOutputs || 1000, E.MAX_OUTPUTS);
    const Bs = outputs.map((o) => String(o?.B_).toLowerCase());
    failIf(new Set(Bs).size !== Bs.length, E.DUP_OUTPUTS, 'duplicate outputs provided');
    const units = new Set();
    let total = 0;
    for (const o of outputs) {
      units.add(this.verifyOutput(o, blank).unit);
      total += blank ? 0 : o.amount;
    }
    failIf(units.size > 1, E.MULTI_UNIT, 'outputs of multiple units');
    failIf(Bs.some((B) => Object.hasOwn(this.state.signed, B)), E.OUTPUTS_SIGNED, 'outputs have already been signed before');
    return { total, unit: [...units][0] };
  }

  verifyOutput(o, blank) {
    failIf(!o || typeof o.id !== 'string', E.NOT_ALLOWED, 'malformed output');
    const ks = this.byId.get(o.id);
    failIf(!ks, E.KEYSET_UNKNOWN, 'keyset is not known');
    failIf(!ks.active, E.KEYSET_INACTIVE, 'keyset is inactive, cannot sign messages');
    failIf(!parsePoint(o.B_), E.NOT_ALLOWED, 'invalid B_ (not a 33-byte compressed point)');
    if (!blank) {
      failIf(!isAmount(o.amount) || !ks.privKeys[String(o.amount)], E.AMOUNT_LIMIT, `invalid output amount: ${o.amount}`);
    }
    return ks;
  }

  // ---- signing and spending (the only mutations of proofs and signatures) ----

  /** Signs outputs (with `amounts` overriding theirs, for NUT-08 change) and records them for restore. */
  signOutputs(outputs, amounts = outputs.map((o) => o.amount)) {
    return outputs.map((o, i) => {
      const ks = this.byId.get(o.id);
      const B_ = o.B_.toLowerCase();
      const sig = blindSign(parsePoint(B_), ks.privKeys[String(amounts[i])], amounts[i], ks.id);
      this.state.signed[B_] = { output: { amount: amounts[i], id: ks.id, B_ }, signature: sig };
      return sig;
    });
  }

  markSpent(inputs, Ys) {
    Ys.forEach((Y, i) => {
      const w = inputs[i].witness;
      this.state.spent[Y] = w == null ? null : typeof w === 'string' ? w : JSON.stringify(w);
      delete this.state.pending[Y];
    });
  }

  // ---- NUT-03 swap ----

  swap(body) {
    const inputs = body?.inputs;
    const outputs = body?.outputs;
    const ins = this.verifyInputs(inputs);
    const outs = this.verifyOutputs(outputs);
    failIf(outputs.length === 0, E.NOT_ALLOWED, 'no outputs provided');
    failIf(ins.unit !== outs.unit, E.UNIT_MISMATCH, 'inputs and outputs not of same unit');
    const fee = this.fee(inputs);
    failIf(ins.total - fee !== outs.total, E.UNBALANCED,
      `transaction is not balanced: inputs ${ins.total} - fee ${fee} != outputs ${outs.total}`);
    this.markSpent(inputs, ins.Ys);
    const signatures = this.signOutputs(outputs);
    this.save();
    return { signatures };
  }

  // ---- NUT-04 mint (fake Lightning: every quote is PAID at once) ----

  requireUnit(unit) {
    failIf(!this.units().includes(unit), E.UNIT_UNSUPPORTED, `unit not supported: ${unit}`);
  }

  createMintQuote(body) {
    const unit = body?.unit ?? 'sat';
    this.requireUnit(unit);
    failIf(!isAmount(body?.amount) || body.amount > (this.opts.maxMintAmount || 2 ** 40), E.AMOUNT_LIMIT,
      'amount outside of limit range');
    failIf(body.pubkey != null, E.NOT_ALLOWED, 'NUT-20 locked quotes are not supported by this test mint');
    const msat = unit === 'msat' ? BigInt(body.amount) : BigInt(body.amount) * 1000n;
    const q = { quote: uuidv7(), request: fakeInvoice(msat), amount: body.amount, unit, state: 'PAID',
      expiry: now() + (this.opts.quoteTtl || 3600) };
    this.state.mintQuotes[q.quote] = q;
    this.save();
    return { ...q };
  }

  mintQuote(id) {
    const q = own(this.state.mintQuotes, id);
    failIf(!q, E.NOT_ALLOWED, 'quote not found');
    return q;
  }

  mint(body) {
    const q = this.mintQuote(body?.quote);
    failIf(q.state === 'ISSUED', E.QUOTE_ISSUED, 'quote already issued');
    failIf(q.state !== 'PAID', E.QUOTE_NOT_PAID, 'quote not paid');
    failIf(q.expiry < now(), E.QUOTE_EXPIRED, 'quote expired');
    const outs = this.verifyOutputs(body.outputs);
    failIf(body.outputs.length === 0, E.NOT_ALLOWED, 'no outputs provided');
    failIf(outs.unit !== q.unit, E.UNIT_MISMATCH, 'outputs not of the quote unit');
    failIf(outs.total !== q.amount, E.UNBALANCED, `outputs ${outs.total} != quote amount ${q.amount}`);
    const signatures = this.signOutputs(body.outputs);
    q.state = 'ISSUED';
    this.save();
    return { signatures };
  }

  // ---- NUT-05 melt (+ NUT-08 change) ----

  meltAmount(body, unit) {
    const invoice = invoiceMsat(body.request);
    const opt = body.options?.amountless?.amount_msat;
    failIf(invoice === null && opt == null, E.AMOUNTLESS, 'amountless invoice: give options.amountless.amount_msat');
    failIf(invoice !== null && opt != null && BigInt(opt) !== invoice, E.AMOUNT_NE_INVOICE,
      'amount in request does not equal invoice');
    const msat = invoice ?? BigInt(opt);
    failIf(msat <= 0n, E.AMOUNT_LIMIT, 'amount outside of limit range');
    return Number(unit === 'msat' ? msat : (msat + 999n) / 1000n);
  }

  createMeltQuote(body) {
    failIf(typeof body?.request !== 'string' || !body.request, E.NOT_ALLOWED, 'request (bolt11) missing');
    const unit = body.unit ?? 'sat';
    this.requireUnit(unit);
    const reserveSat = this.opts.feeReserve ?? 2;
    const q = { quote: uuidv7(), request: body.request, amount: this.meltAmount(body, unit), unit,
      fee_reserve: unit === 'msat' ? reserveSat * 1000 : reserveSat, state: 'UNPAID',
      expiry: now() + (this.opts.quoteTtl || 3600), payment_preimage: null };
    this.state.meltQuotes[q.quote] = q;
    this.save();
    return q;
  }

  meltQuote(id) {
    const q = own(this.state.meltQuotes, id);
    failIf(!q, E.NOT_ALLOWED, 'quote not found');
    return q;
  }

  /** Public view of a melt quote (drops the bookkeeping of pending melts). */
  meltView(q) {
    const { pendingInputs, pendingOutputs, overpaid, ...pub } = q;
    return pub;
  }

  /**
   * `pay(quote)` is the fake Lightning backend: it returns 'PAID', 'PENDING' or 'FAILED'.
   * FAILED answers 20004 and leaves the inputs unspent; PENDING marks them PENDING until
   * settleMelts() runs.
   */
  melt(body, pay = () => 'PAID') {
    const q = this.meltQuote(body?.quote);
    failIf(q.state === 'PAID', E.INVOICE_PAID, 'invoice already paid');
    failIf(q.state === 'PENDING', E.QUOTE_PENDING, 'quote is pending');
    failIf(q.expiry < now(), E.QUOTE_EXPIRED, 'quote expired');
    const ins = this.verifyInputs(body.inputs);
    failIf(ins.unit !== q.unit, E.UNIT_MISMATCH, 'inputs not of the quote unit');
    const outputs = body.outputs || [];
    const outs = outputs.length ? this.verifyOutputs(outputs, { blank: true }) : null;
    failIf(outs && outs.unit !== q.unit, E.UNIT_MISMATCH, 'change outputs not of the quote unit');
    const fee = this.fee(body.inputs);
    const need = q.amount + q.fee_reserve + fee;
    failIf(ins.total < need, E.UNBALANCED, `not enough inputs: ${ins.total} < amount + fee_reserve + fee = ${need}`);
    const result = pay(q);
    failIf(result === 'FAILED', E.LN_FAILED, 'Lightning payment failed');
    const lnFee = Math.min(this.opts.lnFee ?? 0, q.fee_reserve);
    Object.assign(q, { pendingInputs: body.inputs.map((p, i) => ({ Y: ins.Ys[i], witness: p.witness ?? null })),
      pendingOutputs: outputs.map((o) => ({ id: o.id, B_: o.B_ })), overpaid: ins.total - fee - q.amount - lnFee });
    if (result === 'PENDING') {
      q.state = 'PENDING';
      for (const Y of ins.Ys) this.state.pending[Y] = q.quote;
    } else {
      this.finishMelt(q, 'PAID');
    }
    this.save();
    return this.meltView(q);
  }

  /** Ends a melt: PAID spends the inputs and signs the change; FAILED releases them. */
  finishMelt(q, outcome) {
    const inputs = q.pendingInputs;
    if (outcome === 'PAID') {
      this.markSpent(inputs, inputs.map((p) => p.Y));
      q.change = this.signChange(q.pendingOutputs, q.overpaid);
      q.state = 'PAID';
      q.payment_preimage = randomBytes(32).toString('hex');
    } else {
      for (const p of inputs) delete this.state.pending[p.Y];
      q.state = 'UNPAID';
    }
    delete q.pendingInputs;
    delete q.pendingOutputs;
    delete q.overpaid;
  }

  /** NUT-08: split the overpaid amount, largest first, over as many blanks as needed (or given). */
  signChange(blanks, overpaid) {
    if (!blanks.length || overpaid <= 0) return [];
    const amounts = splitPow2(overpaid).slice(0, blanks.length);
    return this.signOutputs(blanks.slice(0, amounts.length), amounts);
  }

  /** Settles every PENDING melt as 'PAID' or 'FAILED'; returns how many. */
  settleMelts(outcome) {
    const pending = Object.values(this.state.meltQuotes).filter((q) => q.state === 'PENDING');
    for (const q of pending) this.finishMelt(q, outcome);
    if (pending.length) this.save();
    return pending.length;
  }

  // ---- NUT-07 checkstate, NUT-09 restore ----

  checkState(body) {
    failIf(!Array.isArray(body?.Ys), E.NOT_ALLOWED, 'Ys must be an array');
    const states = body.Ys.map((y) => {
      failIf(!parsePoint(y), E.NOT_ALLOWED, `invalid Y: ${y}`);
      const Y = y.toLowerCase();
      if (Object.hasOwn(this.state.spent, Y)) return { Y: y, state: 'SPENT', witness: this.state.spent[Y] };
      if (Object.hasOwn(this.state.pending, Y)) return { Y: y, state: 'PENDING', witness: null };
      return { Y: y, state: 'UNSPENT', witness: null };
    });
    return { states };
  }

  restore(body) {
    failIf(!Array.isArray(body?.outputs), E.NOT_ALLOWED, 'outputs must be an array');
    const outputs = [];
    const signatures = [];
    for (const o of body.outputs) {
      const rec = own(this.state.signed, String(o?.B_).toLowerCase());
      if (!rec) continue;
      outputs.push(rec.output);
      signatures.push(rec.signature);
    }
    return { outputs, signatures };
  }

  // ---- for tests ----

  counts() {
    const s = this.state;
    return {
      spent: Object.keys(s.spent).length,
      pending: Object.keys(s.pending).length,
      signatures: Object.keys(s.signed).length,
      mintQuotes: Object.keys(s.mintQuotes).length,
      meltQuotes: Object.keys(s.meltQuotes).length,
      keysets: this.keysets.map(keysetInfo),
    };
  }
}

export { MintError };
