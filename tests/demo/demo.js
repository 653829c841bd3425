// demo.js -- `make demo`: the whole product in one command, on loopback.
//
// Starts the test mint, the fake OpenAI upstream and routstr (fixed prices: 2 sats a request
// plus 1 and 3 sats per 1000 input and output tokens), mints a 64-sat token with cashu-ts, pays
// one chat request with it in the X-Cashu header through the official openai SDK, and prints
// the answer, what it cost, and the change that came back (which cashu-ts then redeems).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { getDecodedToken, getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startMint } from '../mint/mint.js';
import { mintTokens, walletFor } from '../mint/testkit.js';
import { startUpstream } from '../upstream/fake-openai.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = process.env.ROUTSTR_BIN ?? path.join(REPO, 'build/routstr');

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const mint = await startMint({});
const upstream = await startUpstream({});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-demo-'));
const port = await freePort();
const node = spawn(BIN, [], {
  cwd: dir,
  env: {
    PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warning',
    UPSTREAM_BASE_URL: `${upstream.url}/v1`, UPSTREAM_API_KEY: 'sk-operator-demo',
    CASHU_MINTS: mint.url, DATABASE_URL: `sqlite:///${dir}/routstr.db`,
    ROUTSTR_SECRET_KEY_FILE: path.join(dir, 'secret.key'),
    FIXED_PRICING: 'true', FIXED_COST_PER_REQUEST: '2',
    FIXED_PER_1K_INPUT_TOKENS: '1', FIXED_PER_1K_OUTPUT_TOKENS: '3',
  },
  stdio: ['ignore', 'inherit', 'pipe'],
});
let logs = '';
node.stderr.on('data', (d) => { logs += d; });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try { if ((await fetch(`${base}/health`)).ok) break; } catch {}
  if (i > 100) { console.error(logs); process.exit(1); }
  await new Promise((r) => setTimeout(r, 50));
}

let code = 0;
try {
  const wallet = await walletFor(mint.url);
  const token = getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(wallet, 64) });
  console.log(`paying with a 64 sat token from ${mint.url}`);
  const ai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', defaultHeaders: { 'X-Cashu': token } });
  const { data, response } = await ai.chat.completions
    .create({ model: 'gpt-demo', messages: [{ role: 'user', content: 'Say hello to routstr.' }] })
    .withResponse();
  const change = response.headers.get('x-cashu');
  const changeSats = getDecodedToken(change).proofs.reduce((a, p) => a + p.amount, 0);
  console.log(`answer:  ${data.choices[0].message.content}`);
  console.log(`usage:   ${data.usage.prompt_tokens} in, ${data.usage.completion_tokens} out`);
  console.log(`cost:    ${data.usage.cost.total_msats} msat (X-Routstr-Cost-Msats: ${response.headers.get('x-routstr-cost-msats')})`);
  console.log(`change:  ${changeSats} sat in the X-Cashu header: ${change.slice(0, 40)}...`);
  const back = await wallet.receive(change);
  console.log(`cashu-ts redeemed the change: ${back.reduce((a, p) => a + p.amount, 0)} sat`);
} catch (err) {
  console.error('demo failed:', err);
  console.error(logs);
  code = 1;
} finally {
  node.kill('SIGTERM');
  await new Promise((r) => node.once('exit', r));
  await upstream.close();
  await mint.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
