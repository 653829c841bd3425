// 45-wallet: the C wallet against the test mint, with cashu-ts 2.5.3 on the other side.
//
// The wallet is driven through the operator's commands (`routstr wallet ...`), each a fresh
// process on the same SQLite file, so every step also proves that what the wallet holds
// survives a restart. Tokens go both ways: minted by cashu-ts and received here; sent from here
// and received by cashu-ts. Failures of the mint (a lost swap answer) and of our own process
// (SIGKILL after the mint answered, before the proofs were stored) must lose nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getDecodedToken, getEncodedToken, getEncodedTokenV4 } from '@cashu/cashu-ts';

import { startMint } from '../mint/mint.js';
import { fakeInvoiceSat, mintTokens, walletFor } from '../mint/testkit.js';
import { BIN } from './lib/harness.js';

/** Runs `routstr wallet ...args`; resolves {code, signal, stdout, stderr}. */
function routstrWallet(home, mintUrl, args, extraEnv = {}, dbUrl = null) {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['wallet', ...args], {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '',
        DATABASE_URL: dbUrl ?? `sqlite:///${home}/wallet.db`,
        ROUTSTR_SECRET_KEY_FILE: path.join(home, 'secret.key'),
        CASHU_MINTS: mintUrl,
        LOG_LEVEL: 'info',
        ...extraEnv,
      },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code, signal) => resolve({ code, signal, stdout: stdout.trim(), stderr }));
  });
}

function newHome() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-wallet-'));
}

async function balance(home, mintUrl) {
  const r = await routstrWallet(home, mintUrl, ['balance']);
  assert.equal(r.code, 0, r.stderr);
  const row = JSON.parse(r.stdout).balances.find((b) => b.mint === mintUrl && b.unit === 'sat');
  return row ? { balance: row.balance, pending: row.pending } : { balance: 0, pending: 0 };
}

async function receive(home, mintUrl, token, env) {
  const r = await routstrWallet(home, mintUrl, ['receive', token], env);
  return { ...r, json: r.code === 0 ? JSON.parse(r.stdout) : null };
}

for (const ppk of [0, 100]) {
  describe(`wallet against a mint at ${ppk} ppk`, () => {
    let mint, cashu, home;
    before(async () => {
      mint = await startMint({ inputFeePpk: ppk });
      cashu = await walletFor(mint.url);
      home = newHome();
    });
    after(async () => {
      await mint.close();
      fs.rmSync(home, { recursive: true, force: true });
    });

    test('a token minted by cashu-ts is received with the right amount', async () => {
      const proofs = await mintTokens(cashu, 100);
      const token = getEncodedTokenV4({ mint: mint.url, proofs });
      const fee = Math.ceil((proofs.length * ppk) / 1000);
      const r = await receive(home, mint.url, token);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.amount, 100 - fee);
      assert.equal(r.json.fee, fee);
      assert.deepEqual(await balance(home, mint.url), { balance: 100 - fee, pending: 0 });
    });

    test('a cashuA (V3) token is received too', async () => {
      const proofs = await mintTokens(cashu, 8);
      const token = getEncodedToken({ mint: mint.url, proofs }, { version: 3 });
      assert.ok(token.startsWith('cashuA'));
      const before = (await balance(home, mint.url)).balance;
      const r = await receive(home, mint.url, token);
      assert.equal(r.code, 0, r.stderr);
      const fee = Math.ceil((proofs.length * ppk) / 1000);
      assert.equal((await balance(home, mint.url)).balance, before + 8 - fee);
    });

    test('the same token again is refused as already spent, and credits nothing', async () => {
      const proofs = await mintTokens(cashu, 16);
      const token = getEncodedTokenV4({ mint: mint.url, proofs });
      assert.equal((await receive(home, mint.url, token)).code, 0);
      const before = await balance(home, mint.url);
      const again = await receive(home, mint.url, token);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /spent/i);
      assert.deepEqual(await balance(home, mint.url), before);
    });

    test('a token sent by the C wallet is received by cashu-ts, change kept', async () => {
      const before = (await balance(home, mint.url)).balance;
      const r = await routstrWallet(home, mint.url, ['send', '37']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^cashuB/);
      const decoded = getDecodedToken(r.stdout);
      assert.equal(decoded.mint, mint.url);
      assert.equal(decoded.proofs.reduce((a, p) => a + p.amount, 0), 37);
      const got = await cashu.receive(r.stdout);
      const receiveFee = Math.ceil((decoded.proofs.length * ppk) / 1000);
      assert.equal(got.reduce((a, p) => a + p.amount, 0), 37 - receiveFee);
      const after = (await balance(home, mint.url)).balance;
      assert.ok(after <= before - 37 && after >= before - 37 - 2, `${before} -> ${after}`);
    });

    test('a cashuA token sent by the C wallet is received by cashu-ts', async () => {
      const r = await routstrWallet(home, mint.url, ['send', '4', '--v3']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^cashuA/);
      const got = await cashu.receive(r.stdout);
      assert.ok(got.length > 0);
    });

    test('mint funds the wallet over Lightning (NUT-04), the invoice shown first', async () => {
      const before = (await balance(home, mint.url)).balance;
      const r = await routstrWallet(home, mint.url, ['mint', '21']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /pay this invoice of 21 sat[^\n]*\nlnbc210n/);
      assert.equal(JSON.parse(r.stdout).amount, 21);
      assert.equal((await balance(home, mint.url)).balance, before + 21);
    });

    test('melt pays the invoice and keeps the change', async () => {
      const before = (await balance(home, mint.url)).balance;
      const r = await routstrWallet(home, mint.url, ['melt', fakeInvoiceSat(10)]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.amount, 10);
      const after = (await balance(home, mint.url)).balance;
      // The fee reserve (2 sat) comes back as NUT-08 change; only input fees are lost.
      const spent = before - after;
      assert.ok(spent >= 10 && spent <= 10 + 1, `melt of 10 cost ${spent}`);
      assert.equal((await balance(home, mint.url)).pending, 0);
    });
  });
}

describe('lost answers and crashes lose nothing', () => {
  let mint, cashu, home;
  before(async () => {
    mint = await startMint({});
    cashu = await walletFor(mint.url);
    home = newHome();
  });
  after(async () => {
    await mint.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('a swap whose answer is lost is restored at once (NUT-09)', async () => {
    const token = getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, 50) });
    mint.setFault({ dropAfterSwap: true });
    const r = await receive(home, mint.url, token);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.amount, 50);
    assert.match(r.stderr, /restored/);
    assert.deepEqual(await balance(home, mint.url), { balance: 50, pending: 0 });
  });

  test('a send whose swap answer is lost still gives a token that redeems', async () => {
    mint.setFault({ dropAfterSwap: true });
    const r = await routstrWallet(home, mint.url, ['send', '5']);
    assert.equal(r.code, 0, r.stderr);
    const got = await cashu.receive(r.stdout);
    assert.equal(got.reduce((a, p) => a + p.amount, 0), 5);
    assert.deepEqual(await balance(home, mint.url), { balance: 45, pending: 0 });
  });

  test('SIGKILL after the mint answered, before the proofs were stored: recover gets it all', async () => {
    const token = getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, 30) });
    const killed = await receive(home, mint.url, token,
      { ROUTSTR_TEST_FAULT: 'wallet.swap_answered' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.deepEqual(await balance(home, mint.url), { balance: 45, pending: 0 });
    const rec = await routstrWallet(home, mint.url, ['recover']);
    assert.equal(rec.code, 0, rec.stderr);
    assert.equal(JSON.parse(rec.stdout).amount, 30);
    assert.deepEqual(await balance(home, mint.url), { balance: 75, pending: 0 });
    // Recovering again finds nothing left to do and changes nothing.
    const again = await routstrWallet(home, mint.url, ['recover']);
    assert.equal(JSON.parse(again.stdout).amount, 0);
    assert.deepEqual(await balance(home, mint.url), { balance: 75, pending: 0 });
  });

  test('SIGKILL during a send: recover keeps every sat', async () => {
    // A wallet holding one 64 proof must swap to send 7.
    const home2 = newHome();
    try {
      const token = getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, 64) });
      assert.equal((await receive(home2, mint.url, token)).code, 0);
      const killed = await routstrWallet(home2, mint.url, ['send', '7'],
        { ROUTSTR_TEST_FAULT: 'wallet.swap_answered' });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      assert.deepEqual(await balance(home2, mint.url), { balance: 0, pending: 64 });
      const rec = await routstrWallet(home2, mint.url, ['recover']);
      assert.equal(rec.code, 0, rec.stderr);
      // The token was never handed out: all the swap's outputs come back to us.
      assert.equal(JSON.parse(rec.stdout).amount, 64);
      assert.deepEqual(await balance(home2, mint.url), { balance: 64, pending: 0 });
    } finally {
      fs.rmSync(home2, { recursive: true, force: true });
    }
  });

  test('a token from an untrusted mint is refused, naming the trusted mints', async () => {
    const other = await startMint({});
    try {
      const w2 = await walletFor(other.url);
      const token = getEncodedTokenV4({ mint: other.url, proofs: await mintTokens(w2, 4) });
      const r = await receive(home, mint.url, token);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /untrusted mint/);
      assert.ok(r.stderr.includes(mint.url));
    } finally {
      await other.close();
    }
  });

  test('a mint answer slower than MINT_OPERATION_TIMEOUT_SECONDS is unknown, then recovered', async () => {
    const token = getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, 16) });
    const before = (await balance(home, mint.url)).balance;
    // The keysets are known from earlier tests (kept in the database): only the swap is slow.
    mint.setFault({ delayMs: 1500 });
    const r = await receive(home, mint.url, token, { MINT_OPERATION_TIMEOUT_SECONDS: '0.5' });
    mint.setFault({ reset: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lost|recover/);
    assert.equal((await balance(home, mint.url)).balance, before); // nothing credited yet...
    const rec = await routstrWallet(home, mint.url, ['recover']);
    assert.equal(rec.code, 0, rec.stderr);
    assert.equal(JSON.parse(rec.stdout).amount, 16); // ...and nothing lost
    assert.equal((await balance(home, mint.url)).balance, before + 16);
  });

  test('check drops proofs that were spent behind our back', async () => {
    // A copy of the database taken now still holds the proofs a send is about to spend.
    const copy = newHome();
    try {
      const r = await routstrWallet(home, mint.url, ['send', '3']);
      assert.equal(r.code, 0, r.stderr);
      await cashu.receive(r.stdout);
      fs.copyFileSync(path.join(home, 'secret.key'), path.join(copy, 'secret.key'));
      const now = (await balance(home, mint.url)).balance;
      // Mark a proof spent at the mint that our database still lists: spend our own proofs
      // through cashu-ts with a token made by an exact send, then roll our database back.
      // Each command is its own process: between two, the SQLite file is complete on its own.
      fs.copyFileSync(path.join(home, 'wallet.db'), path.join(copy, 'wallet.db'));
      const s = await routstrWallet(home, mint.url, ['send', '1']);
      assert.equal(s.code, 0, s.stderr);
      await cashu.receive(s.stdout);
      const stale = await routstrWallet(copy, mint.url, ['balance']);
      assert.equal(JSON.parse(stale.stdout).balances[0].balance, now);
      const chk = await routstrWallet(copy, mint.url, ['check']);
      assert.equal(chk.code, 0, chk.stderr);
      assert.ok(JSON.parse(chk.stdout).amount >= 1);
      const after = JSON.parse((await routstrWallet(copy, mint.url, ['balance'])).stdout);
      assert.equal(after.balances[0].balance, now - JSON.parse(chk.stdout).amount);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  test('a malformed token is refused and nothing changes', async () => {
    const r = await receive(home, mint.url, 'cashuBnot-a-token');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /malformed/);
    const before = await balance(home, mint.url);
    assert.equal((await receive(home, mint.url, 'cashuAeyJub3QiOiJqc29uIn0')).code, 1);
    assert.deepEqual(await balance(home, mint.url), before);
  });
});

// Several routstr processes on one PostgreSQL: wallet operations and keyset counters are
// serialised by the database (conditional updates on rows), not by a lock file.
const PG = process.env.PG_TEST_URL;
describe('two processes sharing one PostgreSQL wallet', { skip: !PG && 'PG_TEST_URL unset' }, () => {
  let mint, cashu, home;
  before(async () => {
    const wipe = spawnSync('psql', [PG, '-qc',
      'SET client_min_messages TO warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public']);
    assert.equal(wipe.status, 0, String(wipe.stderr));
    mint = await startMint({});
    cashu = await walletFor(mint.url);
    home = newHome();
  });
  after(async () => {
    await mint.close();
    fs.rmSync(home, { recursive: true, force: true });
  });
  const run = (args) => routstrWallet(home, mint.url, args, {}, PG);
  const pgBalance = async () => {
    const r = await run(['balance']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).balances.find((b) => b.mint === mint.url)?.balance ?? 0;
  };

  test('concurrent receives each get their own counters and credit in full', async () => {
    const tokens = [];
    for (const amount of [64, 32, 16, 8]) {
      tokens.push(getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, amount) }));
    }
    const results = await Promise.all(tokens.map((t) => run(['receive', t])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.equal(await pgBalance(), 120);
  });

  test('concurrent sends never spend one proof twice; every token redeems', async () => {
    const results = await Promise.all([run(['send', '10']), run(['send', '20']), run(['send', '5'])]);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const got = [];
    for (const r of results) {
      const proofs = await cashu.receive(r.stdout);
      got.push(proofs.reduce((a, p) => a + p.amount, 0));
    }
    assert.deepEqual(got.sort((a, b) => a - b), [5, 10, 20]);
    assert.equal(await pgBalance(), 120 - 35);
  });
});

// Version-2 keysets ("01" + 64 hex, NUT-02) with NUT-13 v2 (HMAC) secrets, and a rotated mint.
// cashu-ts 2.5.3 cannot use 01 keysets; the 4.8.0 alias is the peer here (spec/cashu.md §6).
describe('01 keysets and rotation', () => {
  let home;
  before(() => { home = newHome(); });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  test('tokens of a 01 keyset (short ids in V4) redeem here, and ours redeem in cashu-ts 4.8', async () => {
    const { Wallet, getEncodedToken: encode4 } = await import('cashu-ts4');
    const mint = await startMint({ keysetV2: true, inputFeePpk: 100 });
    try {
      const alice = new Wallet(mint.url);
      await alice.loadMint();
      assert.match(alice.keysetId, /^01[0-9a-f]{64}$/);
      const quote = await alice.createMintQuoteBolt11(64);
      const proofs = await alice.mintProofsBolt11(64, quote);
      const token = encode4({ mint: mint.url, proofs });
      const fee = Math.ceil((proofs.length * 100) / 1000);
      const r = await receive(home, mint.url, token);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.amount, 64 - fee);
      const s = await routstrWallet(home, mint.url, ['send', '9']);
      assert.equal(s.code, 0, s.stderr);
      const bob = new Wallet(mint.url);
      await bob.loadMint();
      const got = await bob.receive(s.stdout);
      assert.ok(got.length > 0);
    } finally {
      await mint.close();
    }
  });

  test('after a rotation, proofs of the old keyset are taken and new outputs use the active one', async () => {
    const mint = await startMint({ secondKeyset: true });
    try {
      const ids = (await (await fetch(`${mint.url}/v1/keysets`)).json()).keysets;
      const active = ids.find((k) => k.active).id;
      const cashu = await walletFor(mint.url);
      const token = getEncodedTokenV4({ mint: mint.url, proofs: await mintTokens(cashu, 32) });
      const h = newHome();
      try {
        const r = await receive(h, mint.url, token);
        assert.equal(r.code, 0, r.stderr);
        const s = await routstrWallet(h, mint.url, ['send', '32']);
        assert.equal(s.code, 0, s.stderr);
        const decoded = getDecodedToken(s.stdout);
        assert.ok(decoded.proofs.every((p) => active.startsWith(p.id) || p.id === active));
      } finally {
        fs.rmSync(h, { recursive: true, force: true });
      }
    } finally {
      await mint.close();
    }
  });
});
