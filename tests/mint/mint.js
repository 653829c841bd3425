// Test mint for routstr's tests: a small Cashu mint (NUT-00..09, 12, optional 19) on 127.0.0.1
// with fake Lightning (mint quotes are PAID at once, melts pay at once) and injectable faults.
// Signing, DLEQ, hash_to_curve and v1 keyset ids come from @cashu/crypto (see lib/crypto.js).
// It is a fixture, not product code. See README.md for the API, the CLI and the conventions.
//
//   import { startMint } from './mint/mint.js';
//   const m = await startMint({ inputFeePpk: 100 });   // m.url, m.port, m.setFault(), m.close()
//
//   node tests/mint/mint.js --port 3338 [--fee-ppk 100] [--keyset-v2] [--second-keyset] ...
//   → prints "mint listening on http://127.0.0.1:3338" once ready.
import { createServer } from 'node:http';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ledger } from './lib/ledger.js';
import { Faults } from './lib/faults.js';
import { MintError, E } from './lib/errors.js';

const VERSION = 'routstr-test-mint/0.1.0';
const CACHED_PATHS = ['/v1/mint/bolt11', '/v1/melt/bolt11', '/v1/swap'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** NUT-06 info: advertises what this mint really does. */
function mintInfo(ledger, url, opts) {
  const units = ledger.units();
  const method = (unit, extra) => ({ method: 'bolt11', unit, min_amount: 1, max_amount: opts.maxMintAmount || 2 ** 40, ...extra });
  const nuts = {
    4: { methods: units.map((u) => method(u, { options: { description: true } })), disabled: false },
    5: { methods: units.map((u) => method(u, { options: { amountless: true } })), disabled: false },
    7: { supported: true }, 8: { supported: true }, 9: { supported: true },
    10: { supported: false }, 11: { supported: false }, 12: { supported: true },
    14: { supported: false }, 20: { supported: false },
  };
  if (opts.nut19) {
    nuts[19] = { ttl: opts.nut19Ttl ?? null, cached_endpoints: CACHED_PATHS.map((path) => ({ method: 'POST', path })) };
  }
  return {
    name: 'routstr test mint', pubkey: ledger.infoPubkey, version: VERSION,
    description: 'Cashu test mint with fake Lightning (tests only)', description_long: '',
    contact: [], motd: '', icon_url: null, urls: [url], time: Math.floor(Date.now() / 1000), tos_url: null, nuts,
  };
}

/** Maps (method, path) to a ledger call. Returns the JSON body of a 200, or throws. */
function route(ctx, method, path, body) {
  const { ledger, faults } = ctx;
  const get = method === 'GET';
  const post = method === 'POST';
  let m;
  if (get && path === '/v1/info') return mintInfo(ledger, ctx.url, ctx.opts);
  if (get && path === '/v1/keys') return ledger.activeKeys();
  if (get && (m = /^\/v1\/keys\/([^/]+)$/.exec(path))) return ledger.keysFor(m[1]);
  if (get && path === '/v1/keysets') return ledger.allKeysets();
  if (post && path === '/v1/swap') return ledger.swap(body);
  if (post && path === '/v1/mint/quote/bolt11') return ledger.createMintQuote(body);
  if (get && (m = /^\/v1\/mint\/quote\/bolt11\/([^/]+)$/.exec(path))) return ledger.mintQuote(m[1]);
  if (post && path === '/v1/mint/bolt11') return ledger.mint(body);
  if (post && path === '/v1/melt/quote/bolt11') return ledger.createMeltQuote(body);
  if (get && (m = /^\/v1\/melt\/quote\/bolt11\/([^/]+)$/.exec(path))) return ledger.meltView(ledger.meltQuote(m[1]));
  if (post && path === '/v1/melt/bolt11') return ledger.melt(body, () => faults.lightningOutcome());
  if (post && path === '/v1/checkstate') return ledger.checkState(body);
  if (post && path === '/v1/restore') return ledger.restore(body);
  return undefined;
}

/** The /test/* control endpoints (never delayed nor faulted). */
function testRoute(ctx, method, path, body) {
  if (path === '/test/state') return { ...ctx.ledger.counts(), faults: ctx.faults.get() };
  if (path === '/test/fault' && method === 'POST') return { faults: ctx.faults.set(body) };
  if (path === '/test/fault') return { faults: ctx.faults.get() };
  if (path === '/test/rotate' && method === 'POST') return { keyset: ctx.ledger.rotate(body?.unit, body || {}) };
  return undefined;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** Runs a route and turns its outcome into [status, body]. */
function dispatch(fn, ctx, method, path, raw) {
  let body;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    return [400, { detail: 'invalid JSON body', code: E.NOT_ALLOWED }];
  }
  try {
    const out = fn(ctx, method, path, body);
    return out === undefined ? [404, { detail: 'Not Found' }] : [200, out];
  } catch (err) {
    if (err instanceof MintError) return [400, { detail: err.detail, code: err.code }];
    if (path.startsWith('/test/')) return [400, { detail: String(err.message), code: E.NOT_ALLOWED }];
    return [500, { detail: `internal error: ${err.message}` }];
  }
}

/** Handles one /v1 request: faults, the NUT-19 cache, the ledger call, then answer or drop. */
async function handleMint(ctx, req, res, path, raw) {
  const { faults } = ctx;
  const [status, body] = faults.take500(path)
    ? [500, { detail: 'injected fault: HTTP 500' }]
    : cachedDispatch(ctx, req.method, path, raw);
  const delay = faults.delayFor(path);
  if (delay) await sleep(delay);
  if (status === 200 && faults.takeDrop(path)) return req.socket.destroy();
  send(res, status, body);
}

/** NUT-19: a byte-identical POST to a cached path gets the stored success answer. */
function cachedDispatch(ctx, method, path, raw) {
  const { ledger, opts } = ctx;
  const cacheable = opts.nut19 && method === 'POST' && CACHED_PATHS.includes(path);
  const key = `${method} ${path}\n${raw}`;
  if (cacheable && ledger.state.cache[key]) return [200, ledger.state.cache[key]];
  const [status, body] = dispatch(route, ctx, method, path, raw);
  if (cacheable && status === 200) {
    ledger.state.cache[key] = body;
    ledger.save();
  }
  return [status, body];
}

async function handle(ctx, req, res) {
  const path = req.url.split('?')[0].replace(/\/+$/, '') || '/';
  const raw = await readBody(req);
  if (path.startsWith('/test/')) {
    const [status, body] = dispatch(testRoute, ctx, req.method, path, raw);
    return send(res, status, body);
  }
  return handleMint(ctx, req, res, path, raw);
}

/**
 * Starts a mint. opts (all optional): port (0 = free port), host ('127.0.0.1'), seed (keys are
 * derived from it; random if absent), stateFile (JSON persistence), inputFeePpk, keysetV2,
 * secondKeyset, keepOldActive, secondKeysetFeePpk, msat, feeReserve (sat, 2), lnFee (sat, 0),
 * nut19, nut19Ttl, maxInputs, maxOutputs, quoteTtl, maxOrder, maxMintAmount, faults ({...}).
 * Returns { url, port, close(), setFault(patch), faults(), rotate(unit, opts), counts(), ledger, state }.
 */
export async function startMint(opts = {}) {
  const ledger = new Ledger(opts);
  const faults = new Faults((outcome) => ledger.settleMelts(outcome));
  if (opts.faults) faults.set(opts.faults);
  const ctx = { ledger, faults, opts, url: '' };
  const server = createServer((req, res) => {
    handle(ctx, req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { detail: `internal error: ${err.message}` });
    });
  });
  const host = opts.host || '127.0.0.1';
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, host, resolve);
  });
  const port = server.address().port;
  ctx.url = `http://${host}:${port}`;
  return {
    url: ctx.url,
    port,
    ledger,
    get state() {
      return ledger.state;
    },
    setFault: (patch) => faults.set(patch),
    faults: () => faults.get(),
    rotate: (unit = 'sat', o = {}) => ledger.rotate(unit, o),
    counts: () => ledger.counts(),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

// ---- CLI ----

const FLAGS = {
  '--port': ['port', Number], '--host': ['host', String], '--seed': ['seed', String],
  '--state': ['stateFile', String], '--fee-ppk': ['inputFeePpk', Number],
  '--second-fee-ppk': ['secondKeysetFeePpk', Number], '--fee-reserve': ['feeReserve', Number],
  '--ln-fee': ['lnFee', Number], '--delay-ms': ['delayMs', Number], '--max-order': ['maxOrder', Number],
  '--nut19-ttl': ['nut19Ttl', Number], '--path-delay': ['pathDelay', String],
};
const SWITCHES = {
  '--keyset-v2': 'keysetV2', '--second-keyset': 'secondKeyset', '--keep-old-active': 'keepOldActive',
  '--msat': 'msat', '--nut19': 'nut19',
};

export function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (SWITCHES[flag]) opts[SWITCHES[flag]] = true;
    else if (FLAGS[flag]) {
      const [key, conv] = FLAGS[flag];
      opts[key] = conv(inline ?? argv[++i]);
    } else throw new Error(`unknown argument: ${argv[i]}`);
  }
  if (opts.delayMs) opts.faults = { delayMs: opts.delayMs };
  if (opts.pathDelay) { // "/v1/swap=20"
    const [path, ms] = opts.pathDelay.split('=');
    if (!path.startsWith('/') || !(Number(ms) >= 0)) throw new Error(`--path-delay wants PATH=MS: ${opts.pathDelay}`);
    opts.faults = { ...opts.faults, pathDelayMs: { [path]: Number(ms) } };
    delete opts.pathDelay;
  }
  return opts;
}

async function main() {
  const m = await startMint(parseArgs(process.argv.slice(2)));
  console.log(`mint listening on ${m.url}`);
  const stop = () => m.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const isMain = process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (isMain) {
  main().catch((err) => {
    console.error(`mint: ${err.message}`);
    process.exit(1);
  });
}
