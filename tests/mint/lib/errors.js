// Cashu error codes (cashu.md §4 "Error codes", nuts error_codes.md) and the MintError that the
// HTTP layer turns into `HTTP 400 {"detail": ..., "code": ...}`.

export const E = Object.freeze({
  NOT_ALLOWED: 10000, // generic "not allowed" / malformed request (nutshell's NotAllowedError)
  PROOF_INVALID: 10001, // proof verification failed
  SPENT: 11001, // proofs already spent
  PENDING: 11002, // proofs pending
  OUTPUTS_SIGNED: 11003, // outputs already signed
  OUTPUTS_PENDING: 11004,
  UNBALANCED: 11005, // transaction not balanced
  AMOUNT_LIMIT: 11006, // amount outside limit / no key for amount
  DUP_INPUTS: 11007,
  DUP_OUTPUTS: 11008,
  MULTI_UNIT: 11009, // inputs (or outputs) of several units
  UNIT_MISMATCH: 11010, // inputs and outputs not of the same unit
  AMOUNTLESS: 11011, // amountless invoice not supported
  AMOUNT_NE_INVOICE: 11012,
  UNIT_UNSUPPORTED: 11013,
  MAX_INPUTS: 11014,
  MAX_OUTPUTS: 11015,
  KEYSET_UNKNOWN: 12001,
  KEYSET_INACTIVE: 12002,
  KEYSET_EXPIRED: 12003,
  QUOTE_NOT_PAID: 20001,
  QUOTE_ISSUED: 20002,
  MINTING_DISABLED: 20003,
  LN_FAILED: 20004,
  QUOTE_PENDING: 20005,
  INVOICE_PAID: 20006,
  QUOTE_EXPIRED: 20007,
});

export class MintError extends Error {
  constructor(code, detail) {
    super(detail);
    this.code = code;
    this.detail = detail;
  }
}

/** Throws MintError(code, detail) when `cond` is true. */
export function failIf(cond, code, detail) {
  if (cond) throw new MintError(code, detail);
}
