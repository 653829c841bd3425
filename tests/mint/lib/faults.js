// Injected faults, settable at run time with setFault({...}) or POST /test/fault.
//   delayMs       every /v1 answer is delayed by this many ms (after the work is done)
//   pathDelayMs   {"/v1/swap": 20, ...}: answers to these paths are delayed by this many ms
//                 (after the work is done), on top of delayMs
//   fail500Once   the next request to this path (e.g. "/v1/swap"; true = any /v1 path) gets
//                 HTTP 500 without being processed
//   dropAfterSwap the next successful swap is processed (inputs spent, signatures recorded for
//                 restore) and then the socket is destroyed without an answer
//   dropAfter     the same for any path, e.g. "/v1/melt/bolt11" or "/v1/mint/bolt11"
//   lightningFail every melt fails with 20004 (inputs stay unspent) while set
//   meltPending   every melt stays PENDING (inputs PENDING) while set; clearing it settles those
//                 melts as PAID (or as failed, if lightningFail is set at that moment)
//   reset: true   clears everything first
const DEFAULTS = { delayMs: 0, pathDelayMs: {}, fail500Once: null, dropAfterSwap: false, dropAfter: null, lightningFail: false, meltPending: false };

export class Faults {
  constructor(onMeltPendingCleared = () => {}) {
    this.f = { ...DEFAULTS };
    this.onMeltPendingCleared = onMeltPendingCleared;
  }

  /** Merges `patch` into the faults (unknown keys are an error); returns the current faults. */
  set(patch = {}) {
    const wasPending = this.f.meltPending;
    const { reset, ...rest } = patch || {};
    const unknown = Object.keys(rest).filter((k) => !(k in DEFAULTS));
    if (unknown.length) throw new Error(`unknown fault option(s): ${unknown.join(', ')}`);
    if (reset) this.f = { ...DEFAULTS };
    if (rest.pathDelayMs !== undefined && (typeof rest.pathDelayMs !== 'object' || rest.pathDelayMs === null)) {
      throw new Error('pathDelayMs must be an object {path: ms}');
    }
    Object.assign(this.f, rest);
    if (wasPending && !this.f.meltPending) this.onMeltPendingCleared(this.f.lightningFail ? 'FAILED' : 'PAID');
    return this.get();
  }

  get() {
    return { ...this.f };
  }

  get delayMs() {
    return Number(this.f.delayMs) || 0;
  }

  /** How long the answer to a request of this path waits. */
  delayFor(path) {
    return this.delayMs + (Number(this.f.pathDelayMs?.[path]) || 0);
  }

  /** True (once) if this request must answer HTTP 500. */
  take500(path) {
    const want = this.f.fail500Once;
    if (!want || (want !== true && want !== path)) return false;
    this.f.fail500Once = null;
    return true;
  }

  /** True (once) if the answer to this processed request must be lost. */
  takeDrop(path) {
    if (path === '/v1/swap' && this.f.dropAfterSwap) {
      this.f.dropAfterSwap = false;
      return true;
    }
    if (this.f.dropAfter && this.f.dropAfter === path) {
      this.f.dropAfter = null;
      return true;
    }
    return false;
  }

  /** The fake Lightning backend's verdict for a melt. */
  lightningOutcome() {
    if (this.f.lightningFail) return 'FAILED';
    return this.f.meltPending ? 'PENDING' : 'PAID';
  }
}
