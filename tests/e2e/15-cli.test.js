// 15-cli -- the command line and the configuration: --version, --help, a bad value is exit 2
// with one line on stderr, --env-file, and what wins over what (flags > environment > file).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { Routstr, VERSION, fetchWithTimeout, freePort, runRoutstr } from './lib/harness.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'routstr-e2e-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const base = { HOST: '127.0.0.1', DATABASE_URL: `sqlite:///${tmp}/cli.db` };

test('--version prints the version and exits 0', async () => {
  const r = await runRoutstr(['--version'], { env: base });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(VERSION), `stdout: ${JSON.stringify(r.stdout)}`);
});

test('--help lists the flags and the settings and exits 0', async () => {
  const r = await runRoutstr(['--help'], { env: base });
  assert.equal(r.code, 0, r.stderr);
  for (const w of ['--port', '--host', '--env-file', 'UPSTREAM_BASE_URL', 'MAX_REQUEST_BODY_BYTES']) {
    assert.ok(r.stdout.includes(w), `--help output lacks ${w}`);
  }
});

const badEnv = [
  ['PORT', 'abc'],
  ['PORT', '70000'],
  ['HOST', ''],
  ['UPSTREAM_BASE_URL', 'ftp://upstream.example/v1'],
  ['UPSTREAM_BASE_URL', 'not a url'],
  ['DATABASE_URL', 'mysql://db/x'],
  ['LOG_LEVEL', 'loud'],
  ['CASHU_MINTS', 'https://ok.example,not-a-url'],
  ['HTTP_URL', 'node.example.com'],
  ['MAX_REQUEST_BODY_BYTES', 'lots'],
  ['MAX_REQUEST_BODY_BYTES', '-5'],
  ['MAX_HEADER_BYTES', '12x'],
  ['UPSTREAM_CONNECT_TIMEOUT_SECONDS', 'soon'],
  ['UPSTREAM_IDLE_TIMEOUT_SECONDS', '-1'],
  ['CLIENT_IDLE_TIMEOUT_SECONDS', '1,5'],
  ['SHUTDOWN_GRACE_SECONDS', 'x'],
];

for (const [name, value] of badEnv) {
  test(`${name}=${JSON.stringify(value)} is refused: exit 2, one line naming it`, async () => {
    const port = await freePort();
    const r = await runRoutstr([], { env: { ...base, PORT: port, [name]: value } });
    assert.equal(r.timedOut, false, `routstr kept running with ${name}=${value}`);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.ok(lines[0].includes(name), `the line names ${name}: ${lines[0]}`);
  });
}

test('a bad flag value or an unknown flag is exit 2 with one line', async () => {
  for (const args of [['--port', 'abc'], ['--port'], ['--bogus-flag'],
    ['--env-file', path.join(tmp, 'missing.env')]]) {
    const r = await runRoutstr(args, { env: { ...base, PORT: await freePort() } });
    assert.equal(r.timedOut, false, `routstr kept running with ${args.join(' ')}`);
    assert.equal(r.code, 2, `${args.join(' ')}: exit status; stderr: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line:\n${r.stderr}`);
  }
});

test('--env-file is read; the environment wins over it, --host/--port win over both', async () => {
  const envPort = await freePort();
  const flagPort = await freePort();
  const file = path.join(tmp, 'node.env');
  fs.writeFileSync(file, [
    '# a comment',
    'NAME=from-file',
    'export DESCRIPTION="file description"',
    `PORT=${envPort}`,
    'HOST=0.0.0.0',
    `DATABASE_URL=sqlite:///${tmp}/from-file.db`,
    '',
  ].join('\n'));
  const r = new Routstr({
    env: { DESCRIPTION: 'from the environment', PORT: envPort, HOST: '0.0.0.0' },
    args: ['--env-file', file, '--port', String(flagPort), '--host', '127.0.0.1'],
    dir: tmp,
    port: flagPort,
  });
  try {
    await r.start();
    const j = await (await fetchWithTimeout(`${r.url}/`)).json();
    assert.equal(j.name, 'from-file');
    assert.equal(j.description, 'from the environment');
    const starts = r.stderr.split('\n').filter((l) => l.includes('serving http://'));
    assert.equal(starts.length, 1, `one start line:\n${r.stderr}`);
    assert.ok(starts[0].includes(`serving http://127.0.0.1:${flagPort}`), starts[0]);
    await assert.rejects(fetchWithTimeout(`http://127.0.0.1:${envPort}/health`, {}, 2000),
      'nothing listens on the PORT of the environment');
    assert.ok(fs.readdirSync(tmp).includes('from-file.db'), 'DATABASE_URL from the file is used');
  } finally {
    const res = await r.stop();
    assert.deepEqual([res.code, res.signal], [0, null], r.tail());
  }
});
