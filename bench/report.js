#!/usr/bin/env node
// report.js -- turns one run of bench/run.sh into bench/results/DATE.md (printed on stdout).
//
//   node bench/report.js RAW.jsonl
//
// RAW.jsonl holds one JSON object per measurement, plus a {"s":"meta"} line (the run's versions
// and settings), a {"s":"commands"} line (the command lines run) and a {"s":"nginx_conf"} line.
// run.sh keeps it beside the report as DATE.raw.jsonl, so a report can be rendered again.
//
// Every figure is the median over rounds of that round's value (a round's value is itself a
// median or a count over that round), with the spread across rounds as [min–max]. "Added" is
// computed per round against that round's direct figure, then summarised the same way.
'use strict';
const fs = require('fs');

const [rawPath] = process.argv.slice(2);
const raw = fs.readFileSync(rawPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const meta = (raw.find((r) => r.s === 'meta') || {}).meta || {};
// "kind<TAB>command" lines, one per command run: keep the first of each distinct line, by kind.
const KINDS = {
  mock: 'mock upstream (CPU 1)', nginx: 'nginx baseline (CPU 0)', routstr: 'routstr (CPU 0)',
  warmup: 'warm-up', s1: 'S1', s1x: 'S1 calibration (client on CPU 0)', s3warm: 'S3 warm-up', s3: 'S3', s5: 'S5 SSE', s5paced: 'S5 paced SSE',
  s6warm: 'S6 warm-up of each fresh proxy', s6: 'S6', s7warm: 'S7 warm-up', s7: 'S7 slow reader',
  s7kill: 'S7 killed client', cg: 'callgrind', mint: 'test mint (CPU 1), which funds the billed key',
  routstr_billed: 'routstr billed (CPU 0)', fund: 'the billed key: a cashu-ts token deposited through the balance API',
  billed: 'the billed key\'s account after the run',
};
KINDS.sx = 'SX X-Cashu: test mint and client (CPU 1), two billed routstr (CPU 0)';
const cmdGroups = new Map();
const cmdLines = ((raw.find((r) => r.s === 'commands') || {}).text || '').split('\n').filter(Boolean);
for (const line of cmdLines) {
  const [kind, c] = line.split('\t');
  if (!cmdGroups.has(kind)) cmdGroups.set(kind, []);
  if (!cmdGroups.get(kind).includes(c)) cmdGroups.get(kind).push(c);
}
const cmds = [...cmdGroups].map(([k, cs]) => `# ${KINDS[k] || k}\n${cs.join('\n')}`).join('\n');
const nginxConf = ((raw.find((r) => r.s === 'nginx_conf') || {}).text || '').trim() || null;

const PATHS = ['direct', 'nginx', 'routstr'];
const BILLED = 'routstr billed';
const NOT_YET = 'not measured yet';
// The billed column: filled from rows of path "routstr_billed" (a second routstr with billing ON
// and a funded sk- key), "not measured yet" in a run without them (BENCH_BILLED=0, old runs).
const BK = 'routstr_billed';
const HAS_B = raw.some((r) => r.path === BK);
const ALL = [...PATHS, BK];
const PROX = ['nginx', 'routstr', BK];
const B = (v) => (HAS_B ? v : NOT_YET);
const cols = (f) => [...PATHS.map(f), B(f(BK))];

const median = (a) => {
  const s = a.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((x, y) => x - y);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stat = (a) => {
  const s = a.filter((x) => x !== null && x !== undefined && !Number.isNaN(x));
  return s.length ? { med: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length } : null;
};
const num = (v, d = 0) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
const cell = (st, d = 0) => {
  if (!st) return '—';
  if (st.n === 1 || st.min === st.max) return num(st.med, d);
  return `${num(st.med, d)} [${num(st.min, d)}–${num(st.max, d)}]`;
};
const signed = (st, d = 0) => {
  if (!st) return '—';
  const f = (v) => (v > 0 ? '+' : '') + num(v, d);
  if (st.n === 1 || st.min === st.max) return f(st.med);
  return `${f(st.med)} [${f(st.min)}–${f(st.max)}]`;
};
const rows = (s) => raw.filter((r) => r.s === s);
const byRound = (s, path, f) => rows(s).filter((r) => r.path === path).map(f);
const added = (s, path, f) => {
  const d = new Map(rows(s).filter((r) => r.path === 'direct').map((r) => [r.round, f(r)]));
  return rows(s).filter((r) => r.path === path && d.has(r.round)).map((r) => f(r) - d.get(r.round));
};
const table = (head, body) =>
  [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i ? '---:' : '---')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const out = [];
const p = (s = '') => out.push(s);
const targets = [];

// ---------------------------------------------------------------- figures
const s1 = {};
for (const path of ALL) {
  s1[path] = {};
  for (const q of ['p50', 'p90', 'p99']) {
    s1[path][q] = stat(byRound('s1', path, (r) => r.wrk[q]));
    s1[path]['add_' + q] = path === 'direct' ? null : stat(added('s1', path, (r) => r.wrk[q]));
  }
  s1[path].reqs = stat(byRound('s1', path, (r) => r.wrk.requests));
  s1[path].errors = byRound('s1', path, (r) => errs(r.wrk)).reduce((a, b) => a + b, 0);
}
function errs(w) {
  return w.err_connect + w.err_read + w.err_write + w.err_status + w.err_timeout;
}

const s3 = {};
for (const path of ALL) {
  const rps = (r) => r.wrk.requests / (r.wrk.duration_us / 1e6);
  const cpu = (r) => ((r.proxy_ticks / r.clk_tck) * 1e6) / r.wrk.requests;
  s3[path] = {
    rps: stat(byRound('s3', path, rps)),
    cpu: path === 'direct' ? null : stat(byRound('s3', path, cpu)),
    busy: path === 'direct' ? null : stat(byRound('s3', path, (r) => (r.proxy_ticks / r.clk_tck / (r.wall_ns / 1e9)) * 100)),
    mock: stat(byRound('s3', path, (r) => ((r.mock_ticks / r.clk_tck) * 1e6) / r.wrk.requests)),
    p50: stat(byRound('s3', path, (r) => r.wrk.p50)),
    p99: stat(byRound('s3', path, (r) => r.wrk.p99)),
    errors: byRound('s3', path, (r) => errs(r.wrk)).reduce((a, b) => a + b, 0),
    accepts: stat(byRound('s3', path, (r) => (r.mock_accepts === undefined ? null : r.mock_accepts))),
    others: path === 'direct' ? null : stat(byRound('s3', path, (r) => (r.cpu0_busy_ticks === undefined ? null :
      (Math.max(0, r.cpu0_busy_ticks - r.proxy_ticks) / r.clk_tck / (r.wall_ns / 1e9)) * 100))),
    steal: stat(byRound('s3', path, (r) => (r.cpu0_steal_ticks === undefined ? null : (r.cpu0_steal_ticks / r.clk_tck / (r.wall_ns / 1e9)) * 100))),
  };
}

const s5 = {};
for (const path of ALL) {
  const g = (k, f) => ({
    abs: stat(byRound('s5', path, f)),
    add: path === 'direct' ? null : stat(added('s5', path, f)),
  });
  s5[path] = {
    ttfb: g('ttfb', (r) => r.sse.ttfb_p50),
    ttfb90: g('ttfb90', (r) => r.sse.ttfb_p90),
    total: g('total', (r) => r.sse.total_p50),
    total90: g('total90', (r) => r.sse.total_p90),
    pttfb: g('pttfb', (r) => r.paced.ttfb_p50),
    ptotal: g('ptotal', (r) => r.paced.total_p50),
    pevent: g('pevent', (r) => r.paced.event_mean_p50),
    failures: byRound('s5', path, (r) => r.sse.failures + r.paced.failures).reduce((a, b) => a + b, 0),
    events: [...new Set(byRound('s5', path, (r) => `${r.sse.events_min}/${r.paced.events_min}`))].join(', '),
  };
}

const s6n = [...new Set(rows('s6').map((r) => r.n))].sort((a, b) => a - b);
const s6 = {};
for (const n of s6n) {
  s6[n] = {};
  for (const path of PROX) {
    const rs = rows('s6').filter((r) => r.n === n && r.path === path);
    s6[n][path] = {
      kb: stat(rs.map((r) => (r.client.open ? (r.held_kb - r.base_kb) / r.client.open : null))),
      base: stat(rs.map((r) => r.base_kb)),
      held: stat(rs.map((r) => r.held_kb)),
      after: stat(rs.map((r) => r.after_kb)),
      fds: stat(rs.map((r) => (r.fd_held - r.fd_base) / Math.max(1, r.client.open))),
      open: rs.map((r) => r.client.open).join('/'),
      failed: rs.reduce((a, r) => a + r.client.failed, 0),
      errors: rs.map((r) => JSON.stringify(r.client.errors)).filter((e) => e !== '{}').join(' '),
      openMs: stat(rs.map((r) => r.client.open_ms)),
    };
  }
}

const s7 = {};
for (const r of rows('s7')) {
  const m = (r.mock_log || '').split(' ');
  s7[r.path] = {
    start: r.rss_start_kb, max: r.rss_max_kb, end: r.rss_end_kb, growth: r.rss_max_kb - r.rss_start_kb,
    samples: r.series_kb.length, client: r.client, expect: r.expect_body_bytes,
    mockBytes: m.length >= 6 ? Number(m[3]) : null, mockSecs: m.length >= 6 ? Number(m[4]) : null,
  };
}
const s7k = {};
for (const r of rows('s7kill')) {
  const m = (r.mock_log || '').split(' ');
  const sent = m.length >= 6 ? Number(m[3]) : null;
  const at = m.length >= 6 ? Number(m[5]) : null;
  s7k[r.path] = { sent, stopAfter: at !== null ? at - r.t_kill : null, read: r.client_read_bytes,
                  status: r.after_status, rss: r.rss_kb, logged: !!r.mock_log, expect: r.expect_body_bytes };
  // stopped: the upstream ended the transfer short of the whole answer (and not before the kill)
  s7k[r.path].stopped = !r.mock_log ? false : sent < r.expect_body_bytes;
}

const cg = {};
for (const path of PROX) {
  const rs = rows('cg').filter((r) => r.path === path).sort((a, b) => a.n - b.n);
  if (rs.length === 2 && rs.every((r) => r.ir && r.succeeded === r.n))
    cg[path] = { per: (rs[1].ir - rs[0].ir) / (rs[1].n - rs[0].n), n1: rs[0].n, n2: rs[1].n, ir1: rs[0].ir, ir2: rs[1].ir };
  else if (rs.length) cg[path] = { error: rs.map((r) => `${r.n} requests: ${r.succeeded} ok, Ir ${r.ir}`).join('; ') };
}

// The billed key after the run: deposit − requests × cost must be what it holds (routstr counts
// the requests: reserved and not released), with nothing reserved and the audit clean.
const bill = rows('billed')[0] || null;
if (bill) {
  const i = bill.info;
  bill.n = i.total_requests;
  bill.held = i.balance + i.reserved;
  bill.expect = bill.fund_msat - bill.n * bill.cost_msat;
  bill.ok = bill.held === bill.expect && i.reserved === 0 && i.total_spent === bill.n * bill.cost_msat &&
    bill.audit_status === 0;
}

const cgSplit = {};
for (const r of rows('cgsplit')) cgSplit[r.path] = r.split;

// ---------------------------------------------------------------- targets
const verdict = (ok) => (ok === null ? 'not measured' : ok ? '**met**' : '**not met**');
{
  const a = s1.routstr.add_p50, b = s1.nginx.add_p50;
  const ok = a && b ? a.med <= b.med + 25 : null;
  targets.push(['S1 added p50 ≤ nginx added p50 + 25 µs',
    a && b ? `routstr +${num(a.med)} µs vs nginx +${num(b.med)} µs (limit +${num(b.med + 25)} µs)` : '—', verdict(ok)]);
}
{
  const a = s3.routstr.cpu, b = s3.nginx.cpu;
  const ok = a && b ? a.med <= 1.25 * b.med : null;
  targets.push(['S3 routstr CPU per request ≤ 1.25 × nginx',
    a && b ? `${num(a.med, 1)} µs vs nginx ${num(b.med, 1)} µs = ${num(a.med / b.med, 2)}×` : '—', verdict(ok)]);
}
{
  const per = s6n.map((n) => [n, s6[n].routstr.kb]).filter(([, k]) => k);
  const ok = per.length ? per.every(([n, k]) => k.med <= 20 && s6[n].routstr.failed === 0) : null;
  targets.push(['S6 ≤ 20 KB per idle SSE stream (routstr)',
    per.length ? per.map(([n, k]) => `${num(k.med, 1)} KB at ${n}`).join(', ') : '—', verdict(ok)]);
}
{
  const a = s7.routstr, k = s7k.routstr;
  let ok = null, txt = '—';
  if (a) {
    const complete = a.client && a.client.complete && a.client.body_bytes === a.expect;
    const stopped = k ? k.stopped : null;
    ok = a.growth < 1024 && complete && stopped !== false;
    txt = `RSS max − start ${num(a.growth)} KB over ${a.samples} samples; stream ${complete ? 'complete' : 'NOT complete'}` +
      (k ? `; killed client: upstream ${stopped ? 'stopped' : 'did NOT stop'}` : '');
  }
  targets.push(['S7 RSS flat under a slow reader (< 1 MB growth for an 8 MB stream), upstream stops when the client dies', txt, verdict(ok)]);
}

// ---------------------------------------------------------------- document
p(`# routstr benchmark — ${meta.date}`);
p();
if (meta.quick) p('**Smoke run (BENCH_QUICK=1): too short to quote.**\n');
if ((!meta.routstr_bin || meta.routstr_bin === 'build/routstr') && !meta.routstr_bin_note)
  p(`- commit \`${meta.commit}\`; \`build/routstr\` (${meta.routstr_version}) built by \`make\` from the working tree` +
    `${meta.src_dirty ? ', which had uncommitted changes under src/ or in the Makefile' : ''}`);
else
  p(`- commit \`${meta.commit}\`; measured binary ${meta.routstr_version}` +
    `${meta.routstr_bin_note ? ', ' + meta.routstr_bin_note : ` \`${meta.routstr_bin}\``}`);
p(`- packages: ${meta.nginx} (Debian ${meta.nginx_pkg}, echo module ${meta.echo_pkg}), wrk ${meta.wrk}, ` +
  `libcurl ${meta.libcurl} (Debian ${meta.libcurl_pkg}), libevent ${meta.libevent} (Debian ${meta.libevent_pkg}), ` +
  `h2load ${meta.h2load}, Node ${meta.node}, ${meta.valgrind || 'no valgrind'}`);
p(`- machine: ${meta.ncpu} × ${meta.cpu}, Linux ${meta.kernel}, open files limit ${meta.nofile}`);
p(`- placement: routstr and the nginx baseline (1 worker) on CPU ${meta.proxy_cpu} (\`taskset -c ${meta.proxy_cpu}\`); ` +
  `mock upstream (nginx + echo module, 1 worker) and every load generator on CPU ${meta.load_cpu}; all on 127.0.0.1`);
p('- routstr runs with `LOG_LEVEL=warning`: at the default `info` it writes one log line per request, which would ' +
  'dominate these figures. ' + (HAS_B ? 'The "routstr" column is billing OFF: a free node (`FIXED_PRICING=true ' +
  'FIXED_COST_PER_REQUEST=0`) forwards with no auth, reservation or ledger. "routstr billed" is a second routstr, same ' +
  `binary and placement (it runs when the other does not), with billing ON: \`FIXED_PRICING=true FIXED_COST_PER_REQUEST=${meta.billed_cost_sats}\` ` +
  '(nothing per token), every request sent with an `sk-` key and reserved then charged in a SQLite ledger ' +
  '(`DATABASE_URL` in the temp dir). The key was funded with ' + `${meta.billed_fund_sats} sats ` +
  'by a token minted with cashu-ts on the test mint of `tests/mint` and deposited through `/v1/balance/create`. ' +
  'Both run with `RELAYS=` (empty): no Nostr relay connections.' :
  'Every routstr figure is billing OFF: a free node (`FIXED_PRICING=true FIXED_COST_PER_REQUEST=0`) forwards with no ' +
  'auth, reservation or ledger; `RELAYS=` (empty) keeps it off the Nostr relays. The "routstr billed" column (an ' +
  '`sk-` key on SQLite) is not measured yet.'));
p(`- method: \`../shared/BENCH.md\`. Rounds interleaved direct, nginx, routstr${HAS_B ? ', routstr billed' : ''} (${meta.rounds} rounds); a figure is the ` +
  'median of the round medians, [min–max] across rounds. "Added" = path − direct, paired within each round. µs throughout.');
p(`- whole run: ${meta.elapsed_secs} s; load average ${meta.loadavg_start || '?'} at the start, ${meta.loadavg_end || '?'} at the end ` +
  '(the machine is shared: other engineers\' builds, tests and fuzzers run beside the benchmark, unpinned)');
p();

p('## Summary');
p();
const sum = [];
sum.push(['S1 latency p50, 1 connection (µs)', cell(s1.direct.p50), cell(s1.nginx.p50), cell(s1.routstr.p50), B(cell(s1[BK].p50))]);
{
  const x = stat(rows('s1x').map((r) => r.wrk.p50));
  if (x) sum.push(['S1 calibration: direct with the client on the other CPU, p50 (µs)', cell(x), '—', '—', '—']);
}
sum.push(['S1 added p50 / p99 (µs)', '—', `${signed(s1.nginx.add_p50)} / ${signed(s1.nginx.add_p99)}`,
  `${signed(s1.routstr.add_p50)} / ${signed(s1.routstr.add_p99)}`,
  B(`${signed(s1[BK].add_p50)} / ${signed(s1[BK].add_p99)}`)]);
sum.push([`S3 throughput, ${meta.s3_conns} connections (req/s)`, cell(s3.direct.rps), cell(s3.nginx.rps), cell(s3.routstr.rps), B(cell(s3[BK].rps))]);
sum.push(['S3 proxy CPU per request (µs)', '—', cell(s3.nginx.cpu, 1), cell(s3.routstr.cpu, 1), B(cell(s3[BK].cpu, 1))]);
sum.push(['S5 SSE time to first byte p50 (µs)', cell(s5.direct.ttfb.abs), cell(s5.nginx.ttfb.abs), cell(s5.routstr.ttfb.abs), B(cell(s5[BK].ttfb.abs))]);
sum.push(['S5 SSE total p50 (µs)', cell(s5.direct.total.abs), cell(s5.nginx.total.abs), cell(s5.routstr.total.abs), B(cell(s5[BK].total.abs))]);
sum.push(['S5 per-chunk forward delay, paced SSE (µs)', '—', signed(s5.nginx.pevent.add), signed(s5.routstr.pevent.add), B(signed(s5[BK].pevent.add))]);
for (const n of s6n)
  sum.push([`S6 memory per idle stream at ${n} (KB)`, '—', cell(s6[n].nginx.kb, 1), cell(s6[n].routstr.kb, 1), B(cell(s6[n][BK].kb, 1))]);
sum.push(['S7 RSS growth, 8 MB read at ' + Math.round(meta.s7_rate / 1024) + ' KB/s (KB)', '—',
  s7.nginx ? num(s7.nginx.growth) : '—', s7.routstr ? num(s7.routstr.growth) : '—', B(s7[BK] ? num(s7[BK].growth) : '—')]);
const stopTxt = (k) => (!k ? '—' : k.stopped ? `yes, ${num(k.stopAfter * 1000)} ms after the kill` : 'no');
sum.push(['S7 killed client: upstream transfer stopped', '—', stopTxt(s7k.nginx), stopTxt(s7k.routstr), B(stopTxt(s7k[BK]))]);
sum.push(['instructions per request (callgrind)', '—', cg.nginx && cg.nginx.per ? num(cg.nginx.per) : '—',
  cg.routstr && cg.routstr.per ? num(cg.routstr.per) : '—',
  B(cg[BK] && cg[BK].per ? num(cg[BK].per) : '—')]);
if (bill)
  sum.push(['billed key after the run: deposit − requests × cost = balance, audit clean', '—', '—', '—',
    `${bill.ok ? 'yes' : '**NO**'} (${bill.n} requests)`]);
p(table(['', 'direct', 'nginx', 'routstr', BILLED], sum));
p();
p('### Targets (reported, not gated)');
p();
p(table(['target', 'figure', 'verdict'], targets));
p();

p('## S1 added latency at low load');
p();
p(`wrk, 1 connection, keep-alive, \`POST ${'/v1/chat/completions'}\` with a 100-byte JSON body, answer ~300 bytes ` +
  `of JSON with \`usage\` (Content-Length). ${meta.s1_secs} s per path per round.`);
p();
const s1rows = [];
for (const q of ['p50', 'p90', 'p99']) s1rows.push([`latency ${q}`, ...cols((x) => cell(s1[x][q]))]);
for (const q of ['p50', 'p90', 'p99']) s1rows.push([`added ${q}`, '—', signed(s1.nginx['add_' + q]), signed(s1.routstr['add_' + q]), B(signed(s1[BK]['add_' + q]))]);
s1rows.push(['requests per round', ...cols((x) => cell(s1[x].reqs))]);
s1rows.push(['errors (all rounds)', ...cols((x) => String(s1[x].errors))]);
p(table(['', ...PATHS, BILLED], s1rows));
p();
{
  const x = {};
  for (const q of ['p50', 'p90', 'p99']) x[q] = stat(rows('s1x').map((r) => r.wrk[q]));
  if (x.p50) {
    p(`Calibration, same rounds: direct with wrk on CPU ${meta.proxy_cpu} instead (client and mock on different CPUs, ` +
      `two cross-CPU wake-ups per request where a proxied request has four): p50 ${cell(x.p50)}, p90 ${cell(x.p90)}, ` +
      `p99 ${cell(x.p99)} µs, against ${cell(s1.direct.p50)} µs at p50 with both on CPU ${meta.load_cpu}. Twice the p50 ` +
      `difference, ${num(2 * (x.p50.med - s1.direct.p50.med))} µs, is what the placement alone adds to a proxied request here.`);
    p();
  }
}

p('## S3 saturation');
p();
p(`wrk, ${meta.s3_conns} connections, keep-alive, same request as S1; ${meta.s3_warm_secs} s warm-up then ${meta.s3_secs} s measured ` +
  'per path per round. CPU per request = (utime + stime of the proxy process, from `/proc/PID/stat`, over the measured run) ÷ ' +
  'requests completed; for nginx the worker process. "busy" is that CPU time over wall time (100 % = CPU 0 saturated). ' +
  'The mock upstream and wrk share CPU 1, so the direct figure is what one core serves when it does both ends. ' +
  '"Connections the mock accepted" counts new upstream connections in the measured run (direct: wrk\'s own ' +
  `${meta.s3_conns}); a proxy that reuses its upstream connections opens none.`);
p();
p(table(['', ...PATHS, BILLED], [
  ['requests/s', ...cols((x) => cell(s3[x].rps))],
  ['proxy CPU per request (µs)', '—', cell(s3.nginx.cpu, 1), cell(s3.routstr.cpu, 1), B(cell(s3[BK].cpu, 1))],
  ['proxy CPU busy (%)', '—', cell(s3.nginx.busy), cell(s3.routstr.busy), B(cell(s3[BK].busy))],
  [`CPU ${meta.proxy_cpu} time not charged to the proxy: other processes, interrupts (%)`, '—', cell(s3.nginx.others), cell(s3.routstr.others), B(cell(s3[BK].others))],
  [`CPU ${meta.proxy_cpu} stolen by the hypervisor (%)`, ...cols((x) => cell(s3[x].steal))],
  ['mock upstream CPU per request (µs)', ...cols((x) => cell(s3[x].mock, 1))],
  ['latency p50 (µs)', ...cols((x) => cell(s3[x].p50))],
  ['latency p99 (µs)', ...cols((x) => cell(s3[x].p99))],
  ['connections the mock accepted during the run', ...cols((x) => cell(s3[x].accepts))],
  ['errors (all rounds)', ...cols((x) => String(s3[x].errors))],
]));
p();

p('## S5 streaming');
p();
p(`\`bench/client.js sse\`: streamed chat completions one after another on one keep-alive connection, timed on the raw socket. ` +
  `"SSE": 20 chunks, a usage chunk and \`[DONE]\` written back to back (${meta.s5_n} requests per path per round). ` +
  `"paced SSE": the same 22 events 5 ms apart (${meta.s5_paced_n} requests per path per round). Time to first byte = first ` +
  'byte of the status line; total = end of the chunked body; mean event arrival = mean over the 22 events of their arrival ' +
  'time since the request was sent, so its "added" is the per-chunk forward delay.');
p();
const s5rows = [
  ['SSE time to first byte p50', ...cols((x) => cell(s5[x].ttfb.abs))],
  ['SSE time to first byte p90', ...cols((x) => cell(s5[x].ttfb90.abs))],
  ['SSE total p50', ...cols((x) => cell(s5[x].total.abs))],
  ['SSE total p90', ...cols((x) => cell(s5[x].total90.abs))],
  ['SSE added time to first byte p50', '—', signed(s5.nginx.ttfb.add), signed(s5.routstr.ttfb.add), B(signed(s5[BK].ttfb.add))],
  ['SSE added total p50', '—', signed(s5.nginx.total.add), signed(s5.routstr.total.add), B(signed(s5[BK].total.add))],
  ['paced SSE time to first byte p50', ...cols((x) => cell(s5[x].pttfb.abs))],
  ['paced SSE total p50', ...cols((x) => cell(s5[x].ptotal.abs))],
  ['paced SSE mean event arrival p50', ...cols((x) => cell(s5[x].pevent.abs))],
  ['paced SSE per-chunk forward delay', '—', signed(s5.nginx.pevent.add), signed(s5.routstr.pevent.add), B(signed(s5[BK].pevent.add))],
  ['events per answer (SSE/paced, min)', ...cols((x) => s5[x].events)],
  ['failed requests (all rounds)', ...cols((x) => String(s5[x].failures))],
];
p(table(['µs', ...PATHS, BILLED], s5rows));
p();

p('## S6 memory per idle stream');
p();
p(`\`bench/client.js hold\`: N connections, each a streamed request whose upstream sends one event and then stays idle ` +
  '(an SSE comment every 5 s, which is how the echo mock notices a gone peer). For each N and round a fresh proxy is ' +
  'started and warmed (1 s of wrk, 20 connections); RSS (`VmRSS` of routstr, of the nginx worker) is read before the ' +
  'streams open and 1 s after all N have their first event. KB per stream = RSS delta ÷ N (kernel socket buffers are ' +
  `not in RSS). ${meta.s6_rounds} rounds per N; direct has no proxy to measure.`);
p();
const s6rows = [];
for (const n of s6n) {
  for (const path of HAS_B ? PROX : ['nginx', 'routstr']) {
    const x = s6[n][path];
    s6rows.push([String(n), path === BK ? BILLED : path, cell(x.kb, 1), cell(x.base), cell(x.held), cell(x.after), cell(x.fds, 2), x.open + (x.failed ? ` (${x.failed} failed ${x.errors})` : ''), cell(x.openMs)]);
  }
  if (!HAS_B) s6rows.push([String(n), BILLED, NOT_YET, '', '', '', '', '', '']);
}
const againRows = rows('s6').filter((r) => r.again);
if (againRows.length) {
  p(table(['N', 'path', 'KB per stream', 'RSS before (KB)', 'RSS held (KB)', 'RSS after release (KB)', 'fds per stream', 'streams open', 'time to open all (ms)'], s6rows));
  s6rows.length = 0;
  p();
  p('Reuse check: after the last round of the largest N, the same N streams again on the same process. If the memory ' +
    'of the first hold is reused, the second hold ends near the first one\'s RSS; if streams leaked, it adds another N × KB.');
  p();
  p(table(['N', 'path', 'RSS held, 1st hold (KB)', 'RSS after release (KB)', 'RSS held, 2nd hold (KB)', 'RSS after 2nd release (KB)', '2nd − 1st held, per stream (KB)', 'streams open (2nd)'],
    againRows.map((r) => [String(r.n), r.path === BK ? BILLED : r.path, num(r.held_kb), num(r.after_kb), num(r.again.held_kb), num(r.again.after_kb),
      num((r.again.held_kb - r.held_kb) / r.n, 2), `${r.again.client.open}${r.again.client.failed ? ` (${r.again.client.failed} failed)` : ''}`])));
}
for (const r of rows('s6skip')) s6rows.push([String(r.n), 'skipped', `needs 2×${r.n} descriptors, limit ${r.nofile}`, '', '', '', '', '', '']);
if (s6rows.length)
  p(table(['N', 'path', 'KB per stream', 'RSS before (KB)', 'RSS held (KB)', 'RSS after release (KB)', 'fds per stream', 'streams open', 'time to open all (ms)'], s6rows));
p();

p('## S7 backpressure');
p();
p(`\`bench/client.js slow\`: one streamed request for the 8 MB SSE answer, read at ${Math.round(meta.s7_rate / 1024)} KB/s; ` +
  'the clients of every proxy run at the same time (each proxy has its own). RSS sampled every 0.5 s from the start of ' +
  'the request to its end. The mock sends through a fixed 64 KB socket buffer, but the proxy\'s own sockets autotune: ' +
  'on loopback the kernel holds several MB between mock and client, which is why the mock finishes sending well before ' +
  'the client finishes reading. That memory is the kernel\'s, not the proxy\'s RSS. ' +
  `Then, for each proxy, a new client of a 64 MB stream (larger than what the kernel buffers) is killed (SIGKILL) ${meta.s7_kill_after} s ` +
  'in; the mock upstream logs the end of that transfer with the bytes it had sent (nginx `$bytes_sent`) and the time, which ' +
  'tells whether and when the proxy let go of the upstream.' + (HAS_B ? ' The billed routstr ends a stream with its ' +
  'usage and cost chunk, so its client reads a few hundred bytes more than the mock sent.' : ''));
p();
const s7rows = [];
const pp = ['nginx', 'routstr'];
const pcols = (f) => [...pp.map(f), B(f(BK))];
const s7v = (f) => pcols((x) => (s7[x] ? f(s7[x]) : '—'));
const s7kv = (f) => pcols((x) => (s7k[x] ? f(s7k[x]) : '—'));
s7rows.push(['RSS at start (KB)', ...s7v((x) => num(x.start))]);
s7rows.push(['RSS max (KB)', ...s7v((x) => num(x.max))]);
s7rows.push(['RSS max − start (KB)', ...s7v((x) => num(x.growth))]);
s7rows.push(['RSS at end (KB)', ...s7v((x) => num(x.end))]);
s7rows.push(['samples', ...s7v((x) => String(x.samples))]);
s7rows.push(['client: body bytes / expected', ...s7v((x) => `${x.client.body_bytes} / ${x.expect}`)]);
s7rows.push(['client: complete, seconds', ...s7v((x) => `${x.client.complete ? 'yes' : 'NO'}, ${num(x.client.secs, 1)} s`)]);
s7rows.push(['mock: done sending after (s)', ...s7v((x) => num(x.mockSecs, 1))]);
s7rows.push(['killed client (64 MB stream): bytes it had read', ...s7kv((x) => num(x.read))]);
s7rows.push(['killed client: bytes the mock sent in all', ...s7kv((x) => (x.logged ? `${num(x.sent)} of ${x.expect}` : 'transfer still running 10 s after the kill'))]);
s7rows.push(['killed client: mock transfer ended, ms after the kill', ...s7kv((x) => (x.stopAfter === null ? '—' : num(x.stopAfter * 1000)))]);
s7rows.push(['killed client: upstream transfer stopped', ...s7kv((x) => (x.stopped ? 'yes' : 'NO'))]);
s7rows.push(['next request through the proxy: status', ...s7kv((x) => x.status)]);
s7rows.push(['RSS after the kill (KB)', ...s7kv((x) => num(x.rss))]);
p(table(['', ...pp, BILLED], s7rows));
p();

p('## Instructions per request');
p();
if (Object.keys(cg).length === 0) p('Not measured in this run (valgrind missing, or the time budget was spent).');
else {
  p('`valgrind --tool=callgrind`, the proxy alone under valgrind on CPU 0, h2load `--h1 -c 1` sending the S1 request. ' +
    'Two runs per proxy with different request counts; instructions per request = difference of the totals ÷ difference ' +
    'of the counts, so start-up and shutdown cancel out. nginx runs as one process (`master_process off`).');
  p();
  p(table(['', 'nginx', 'routstr', BILLED], [
    ['instructions per request', ...pcols((x) => (cg[x] && cg[x].per ? num(cg[x].per) : cg[x] ? cg[x].error : '—'))],
    ['totals (Ir) at n1 / n2 requests', ...pcols((x) => (cg[x] && cg[x].per ? `${cg[x].ir1} / ${cg[x].ir2} (n = ${cg[x].n1} / ${cg[x].n2})` : '—'))],
  ]));
  if (cgSplit.routstr) {
    p();
    p('Where the instructions of one request go (self cost per shared object, from `callgrind_annotate`, same ' +
      'difference of two runs; objects under 50 instructions per request left out):');
    p();
    const objs = [...new Set([...Object.keys(cgSplit.routstr.objects), ...Object.keys((cgSplit.nginx || {}).objects || {})])]
      .sort((a, b) => (cgSplit.routstr.objects[b] || 0) - (cgSplit.routstr.objects[a] || 0));
    p(table(['object', 'nginx', 'routstr'], objs.map((o) => [o === '?' ? '(inlined, object not named)' : o,
      num(((cgSplit.nginx || {}).objects || {})[o] || null), num(cgSplit.routstr.objects[o] || null)])));
    p();
    p('routstr\'s most expensive functions per request (self cost; libcurl has no symbols in Debian, so its functions show as addresses):');
    p();
    const fns = cgSplit.routstr.functions.sort((a, b) => b[2] - a[2]).slice(0, 15);
    p(table(['function', 'object', 'instructions per request'], fns.map(([f, o, v]) => [`\`${f}\``, o, num(v)])));
  }
}
p();

if (bill) {
  const i = bill.info;
  p('## The billed key\'s account');
  p();
  p('After every scenario, `GET /v1/balance/info` with the key, then `routstr audit` on the billed node\'s database. ' +
    'Requests are routstr\'s own count (`total_requests`: reserved and not released; a load generator does not count ' +
    'the requests still in flight when its time is up). Every one costs the fixed price, so the key must hold exactly ' +
    'its deposit minus requests × cost.');
  p();
  p(table(['', 'msat'], [
    ['deposit', num(bill.fund_msat)],
    [`requests × cost (${bill.n} × ${bill.cost_msat})`, num(bill.n * bill.cost_msat)],
    ['deposit − requests × cost', num(bill.expect)],
    ['balance held (spendable + reserved)', num(bill.held)],
    ['reserved', num(i.reserved)],
    ['total spent', num(i.total_spent)],
  ]));
  p();
  p(`Balance as expected: ${bill.held === bill.expect ? 'yes' : `**NO** (off by ${num(bill.held - bill.expect)} msat)`}; ` +
    `nothing reserved: ${i.reserved === 0 ? 'yes' : '**NO**'}; total spent = requests × cost: ` +
    `${i.total_spent === bill.n * bill.cost_msat ? 'yes' : '**NO**'}; \`routstr audit\` exit status ${bill.audit_status}: ` +
    `\`${(bill.audit || '').split('\n')[0]}\``);
  p();
}

sxSection();

if (cmds) {
p('## Command lines');
p();
p('`$TMP` is the run\'s temp dir under `bench/tmp/`; ports are picked free at start (the direct URL is the mock\'s ' +
  'own port). Each distinct command line once, in the order first run.');
p();
p('```sh');
p(cmds);
p('```');
p();
}
if (nginxConf) {
  p('<details><summary>nginx baseline configuration (generated)</summary>');
  p();
  p('```nginx');
  p(nginxConf);
  p('```');
  p();
  p('</details>');
}
process.stdout.write(out.join('\n') + '\n');

// ---------------------------------------------------------------- SX X-Cashu (issue 5)
// Rows {"s":"sx", round, mode: plain|speculative, upstream: fast|slow, swap_ms, res: client.js
// xcashu's RESULT}. A section of its own (no direct/nginx columns: only routstr takes X-Cashu).
function sxSection() {
  const sx = rows('sx');
  if (sx.length === 0) {
    if (rows('sxskip').length) {
      p('## SX X-Cashu latency, plain vs speculative');
      p();
      p(`Not measured: ${rows('sxskip')[0].why}.`);
      p();
    }
    return;
  }
  const ms = (v) => (v === null || v === undefined ? null : v / 1000);
  const of = (mode, up, f) => sx.filter((r) => r.mode === mode && r.upstream === up).map((r) => f(r.res));
  const saved = (up, q) => {
    const plain = new Map(sx.filter((r) => r.mode === 'plain' && r.upstream === up).map((r) => [r.round, r.res[q]]));
    return sx.filter((r) => r.mode === 'speculative' && r.upstream === up && plain.has(r.round))
      .map((r) => ms(plain.get(r.round) - r.res[q]));
  };
  p('## SX X-Cashu latency, plain vs speculative (issue 5)');
  p();
  p(`Requests paid per request with \`X-Cashu\` (a fresh 1-sat token each, minted with cashu-ts before timing; ` +
    `no key), one keep-alive connection, \`POST /v1/chat/completions\` not streamed, to two billed routstr processes ` +
    `on CPU ${meta.proxy_cpu} (fixed price 1 sat, SQLite), one with \`CASHU_SPECULATIVE=false\`, one with \`true\`. ` +
    `The test mint of \`tests/mint\` answers every swap ${sx[0].swap_ms} ms after doing it (\`--path-delay\`). ` +
    'Upstream "fast": the mock\'s JSON at once; "slow": the same after 50 ms (`?mock=slow`). ' +
    `${meta.sx_n} timed requests per process, upstream and round (${meta.sx_rounds} round${meta.sx_rounds === 1 ? '' : 's'}); ms, median of the rounds [min–max].`);
  p();
  const body = [];
  for (const up of ['fast', 'slow']) {
    for (const q of ['total_p50', 'total_p90']) {
      body.push([`${up} upstream, ${q.replace('total_', '')}`, cell(stat(of('plain', up, (r) => ms(r[q]))), 1),
        cell(stat(of('speculative', up, (r) => ms(r[q]))), 1), signed(stat(saved(up, q)), 1)]);
    }
    body.push([`${up} upstream, failed requests (all rounds)`,
      String(of('plain', up, (r) => r.failures).reduce((a, b) => a + b, 0)),
      String(of('speculative', up, (r) => r.failures).reduce((a, b) => a + b, 0)), '—']);
  }
  p(table(['', 'plain', 'speculative', 'plain − speculative'], body));
  p();
}
