// fake-exchange.js -- a fake BTC/USD price server for the paid-path tests.
//
// It answers the JSON shapes of the three exchanges routstr reads by default (routstr-api.md
// §4.2), each at a path of its own, so a test points routstr at all three with
//
//   BTC_PRICE_SOURCES = ex.sources   // "http://127.0.0.1:P/kraken|result.XXBTZUSD.c.0,
//                                    //  http://127.0.0.1:P/coinbase|data.amount,
//                                    //  http://127.0.0.1:P/binance|price"
//
//   GET /kraken    {"error":[],"result":{"XXBTZUSD":{"a":[..],"b":[..],"c":["<price>","0.01"],..}}}
//                  (also at the real path /0/public/Ticker?pair=XBTUSD)
//   GET /coinbase  {"data":{"amount":"<price>","base":"BTC","currency":"USD"}}
//                  (also /v2/prices/BTC-USD/spot)
//   GET /binance   {"symbol":"BTCUSDT","price":"<price>"}   (also /api/v3/ticker/price)
//
// Prices are decimal strings, as the exchanges send them. The price is settable for all sources
// or one (setPrice(p) / setPrice(p, 'coinbase')), and so is the mode, for all or one source:
//   'ok'     answer the price
//   'fail'   HTTP 500 with a JSON error (an exchange that is down)
//   'bad'    HTTP 200 with a body that has no price at the path
//   'stall'  accept the request and never answer (until close() or the mode changes back)
// Every request is counted per source (`hits`), so a test can wait for the next refresh round.
//
//   import { startExchange } from '../exchange/fake-exchange.js';
//   const ex = await startExchange({ price: 100000 });
//   ex.setMode('fail'); await ex.nextRound(); ex.setMode('ok'); await ex.close();
//
// CLI: node tests/exchange/fake-exchange.js [--port N] [--price P]
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const SOURCES = ['kraken', 'coinbase', 'binance'];

/** The json.path routstr reads in each source's answer. */
export const PATHS = Object.freeze({
  kraken: 'result.XXBTZUSD.c.0',
  coinbase: 'data.amount',
  binance: 'price',
});

function sourceOf(path) {
  if (path === '/kraken' || path === '/0/public/Ticker') return 'kraken';
  if (path === '/coinbase' || path === '/v2/prices/BTC-USD/spot') return 'coinbase';
  if (path === '/binance' || path === '/api/v3/ticker/price') return 'binance';
  return null;
}

function fmt(price) {
  return typeof price === 'string' ? price : Number(price).toFixed(2);
}

function bodyFor(source, price) {
  const p = fmt(price);
  switch (source) {
    case 'kraken':
      return { error: [], result: { XXBTZUSD: { a: [p, '1', '1.000'], b: [p, '1', '1.000'],
        c: [p, '0.01000000'], v: ['100.0', '200.0'], p: [p, p], t: [10, 20], l: [p, p],
        h: [p, p], o: p } } };
    case 'coinbase':
      return { data: { amount: p, base: 'BTC', currency: 'USD' } };
    default:
      return { symbol: 'BTCUSDT', price: p };
  }
}

/**
 * Starts the fake exchange. opts: {port = 0, host = '127.0.0.1', price = 100000, mode = 'ok'}.
 * Returns {url, port, sources, setPrice, setMode, hits, requests, nextRound, reset, close}.
 */
export async function startExchange(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const prices = Object.fromEntries(SOURCES.map((s) => [s, opts.price ?? 100000]));
  const modes = Object.fromEntries(SOURCES.map((s) => [s, opts.mode ?? 'ok']));
  const hits = Object.fromEntries(SOURCES.map((s) => [s, 0]));
  const requests = [];
  const stalled = new Set();
  const sockets = new Set();
  const waiters = new Set();

  const server = http.createServer((req, res) => {
    const q = req.url.indexOf('?');
    const path = q === -1 ? req.url : req.url.slice(0, q);
    const source = sourceOf(path);
    requests.push({ method: req.method, url: req.url, source, at: Date.now() });
    if (source) hits[source]++;
    for (const w of [...waiters]) w();
    req.resume();
    if (!source || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: [`EGeneral:Unknown method ${path}`] }));
      return;
    }
    const mode = modes[source];
    if (mode === 'stall') {
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      return;
    }
    if (mode === 'fail') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: ['EService:Unavailable'] }));
      return;
    }
    const body = mode === 'bad' ? { error: [], result: {}, data: {}, note: 'no price here' }
      : bodyFor(source, prices[source]);
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => socket.destroy());

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;
  const url = `http://${host}:${port}`;
  const pick = (source) => (source ? [source] : SOURCES);

  return {
    url,
    port,
    /** BTC_PRICE_SOURCES for routstr: all three sources. */
    sources: SOURCES.map((s) => `${url}/${s}|${PATHS[s]}`).join(','),
    /** One source's BTC_PRICE_SOURCES entry. */
    source(name) {
      return `${url}/${name}|${PATHS[name]}`;
    },
    hits,
    requests,
    /** Sets the price (a number, or a decimal string sent as is) of every source, or of one. */
    setPrice(price, source) {
      for (const s of pick(source)) prices[s] = price;
    },
    /** 'ok' | 'fail' | 'bad' | 'stall', for every source or one. Leaving 'stall' does not
     * answer the requests already stalled; close() or the client's timeout ends them. */
    setMode(mode, source) {
      if (!['ok', 'fail', 'bad', 'stall'].includes(mode)) throw new Error(`unknown mode ${mode}`);
      for (const s of pick(source)) modes[s] = mode;
    },
    /** Resolves once every source has been asked `n` more times than now (a refresh round). */
    nextRound(n = 1, timeoutMs = 10000) {
      const want = Object.fromEntries(SOURCES.map((s) => [s, hits[s] + n]));
      const done = () => SOURCES.every((s) => hits[s] >= want[s]);
      if (done()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake exchange: no refresh round within ${timeoutMs} ms ` +
            `(hits ${JSON.stringify(hits)})`));
        }, timeoutMs);
        function check() {
          if (!done()) return;
          clearTimeout(t);
          waiters.delete(check);
          // The answer is written right after the hit is counted: give it a moment to land.
          setTimeout(resolve, 50);
        }
        waiters.add(check);
      });
    },
    /** Back to `opts.price`, mode 'ok', stalled requests dropped. */
    reset() {
      for (const s of SOURCES) {
        prices[s] = opts.price ?? 100000;
        modes[s] = 'ok';
      }
      for (const res of [...stalled]) res.destroy();
    },
    async close() {
      for (const res of [...stalled]) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The fake exchange as a harness service: gives routstr BTC_PRICE_SOURCES. */
export function exchangeService(opts = {}) {
  return {
    name: 'exchange',
    instance: undefined,
    async start() {
      this.instance = await startExchange(opts);
      return { env: { BTC_PRICE_SOURCES: this.instance.sources } };
    },
    async stop() {
      await this.instance?.close();
    },
  };
}

/* ---------------------------------------------------------------------------------- CLI */

function argValue(argv, name) {
  const i = argv.indexOf(name);
  if (i !== -1) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq ? eq.slice(name.length + 1) : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write('usage: node fake-exchange.js [--port N] [--price P]\n');
    process.exit(0);
  }
  const ex = await startExchange({ port: Number(argValue(argv, '--port') ?? 0),
    price: Number(argValue(argv, '--price') ?? 100000) });
  process.stdout.write(`exchange listening on ${ex.url}\nBTC_PRICE_SOURCES=${ex.sources}\n`);
  const stop = async () => {
    await ex.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
