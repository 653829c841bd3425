// The CLI as other processes use it (spawn, wait for "mint listening on URL"), and the --state
// file: killed with SIGKILL right after answering, the restarted mint keeps its keys, its spent
// proofs and its issued signatures.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { getEncodedTokenV4 } from '@cashu/cashu-ts';
import { walletFor, mintTokens, sum, states, api, rejectsCode } from '../testkit.js';

const MINT = fileURLToPath(new URL('../mint.js', import.meta.url));

/** Spawns the CLI; resolves {url, child} once it prints its ready line. */
function spawnMint(args) {
  const child = spawn(process.execPath, [MINT, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^mint listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
      if (m) resolve({ url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`mint exited with ${code} before ready: ${out}`)));
  });
}

const exited = (child) => new Promise((r) => child.once('exit', (code, signal) => r(signal || code)));

test('CLI flags: fees, second keyset, v2 ids, nut19; SIGTERM exits cleanly', async (t) => {
  const { url, child } = await spawnMint(['--fee-ppk', '100', '--second-keyset', '--keyset-v2', '--nut19']);
  t.after(() => child.kill('SIGKILL'));
  const { keysets } = (await api(url, '/v1/keysets')).body;
  assert.deepEqual(keysets.map((k) => [k.id.slice(0, 2), k.active, k.input_fee_ppk]), [['01', false, 100], ['01', true, 100]]);
  assert.ok((await api(url, '/v1/info')).body.nuts['19']);
  child.kill('SIGTERM');
  assert.equal(await exited(child), 0);
});

test('--state survives SIGKILL: keys, spent proofs and signatures kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'testmint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateFile = join(dir, 'mint.json');

  const first = await spawnMint(['--state', stateFile]);
  t.after(() => first.child.kill('SIGKILL'));
  const bip39seed = randomBytes(64);
  const alice = await walletFor(first.url, { bip39seed });
  const proofs = await mintTokens(alice, 64, { counter: 0 });
  const { keep, send } = await alice.send(10, proofs, { counter: 1 });
  const keysetsBefore = (await api(first.url, '/v1/keysets')).body;
  first.child.kill('SIGKILL');
  await exited(first.child);

  const second = await spawnMint(['--state', stateFile, '--fee-ppk', '500']); // keyset flags ignored
  t.after(() => second.child.kill('SIGTERM'));
  assert.deepEqual((await api(second.url, '/v1/keysets')).body, keysetsBefore);
  const bob = await walletFor(second.url);
  await rejectsCode(bob.mint.swap({ inputs: proofs, outputs: [] }), 11001);
  assert.deepEqual(await states(bob, [...keep, ...send]), [...keep, ...send].map(() => 'UNSPENT'));
  const got = await bob.receive(getEncodedTokenV4({ mint: second.url, proofs: send }));
  assert.equal(sum(got), 10);

  const again = await walletFor(second.url, { bip39seed });
  const { proofs: restored } = await again.restore(0, 10);
  assert.equal(restored.length, proofs.length + keep.length + send.length);
});
