// app.js -- the operator's dashboard: a page per hash route (#/overview, #/keys, ...), all its
// data from the JSON API under /admin/api/ (docs/admin-api.md), same origin, session cookie.
//
// No framework and no HTML strings: every element is made with h() and text goes in as text, so
// nothing the API returns (model names, refund addresses, error messages) can become markup. A
// 401 from any call but login shows the login page; other errors show the envelope's message.
// Money comes as msat and is shown in sats with up to three decimals.
'use strict';

(() => {
  const main = document.getElementById('main');
  const top = document.getElementById('top');

  /* ------------------------------------------------------------------ helpers */

  /** Makes an element: h('td', {class: 'num', dataset: {msat: 5}}, 'text', child, ...). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });
  /** "1,234.567 sat" from msat. */
  function sats(msat) {
    if (msat === null || msat === undefined) return '—';
    return `${nf.format(Number(msat) / 1000)} sat`;
  }
  /** A cell holding an amount, its exact msat in data-msat. */
  function satCell(msat, extra = {}) {
    return h('td', { class: 'num', dataset: { msat: String(msat ?? '') }, ...extra }, sats(msat));
  }
  /** "2026-11-28 14:05" (UTC) from UNIX seconds. */
  function when(unix) {
    if (unix === null || unix === undefined) return '—';
    return new Date(unix * 1000).toISOString().slice(0, 16).replace('T', ' ');
  }
  function usd(x) {
    if (x === null || x === undefined) return '';
    return String(Number(x));
  }

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }
  class AuthError extends Error {}

  /** Calls the admin API: method, path under /admin/api/, optional JSON body. A 401 shows the
   * login page (with a note that the session ended, unless 'quiet') and throws AuthError. */
  async function api(method, path, body, { quiet = false } = {}) {
    const opt = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(`/admin/api/${path}`, opt);
    } catch (e) {
      throw new ApiError(0, `The node did not answer (${e.message})`, 'network');
    }
    let data = null;
    try {
      data = await res.json();
    } catch { /* an empty or non-JSON body */ }
    if (res.status === 401 && path !== 'login') {
      showLogin(quiet ? null : 'Your session has ended: log in again.');
      throw new AuthError('unauthorized');
    }
    if (!res.ok) {
      const e = data && data.error;
      let msg = (e && e.message) || `${res.status} ${res.statusText}`;
      const retry = res.headers.get('Retry-After');
      if (res.status === 429 && retry) msg += ` Try again in ${retry} s.`;
      throw new ApiError(res.status, msg, e && e.code);
    }
    return data;
  }

  function message(kind, text) {
    return h('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  }
  /** Shows an error in 'where' (replacing an older message there), ignoring AuthError. */
  function fail(where, e) {
    if (e instanceof AuthError) return;
    where.replaceChildren(message('error', e.message || String(e)));
  }
  function ok(where, text) {
    where.replaceChildren(message('ok', text));
  }

  /** A table: columns [{label, num}], rows of <tr>. */
  function table(columns, rows, empty = 'Nothing yet.') {
    const head = h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)));
    const body = rows.length ? rows
      : [h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty))];
    return h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, head), h('tbody', {}, body)));
  }

  /** Previous/next buttons for a list of 'total' with limit/offset in 'state'. */
  function pager(state, total, reload) {
    const from = total === 0 ? 0 : state.offset + 1;
    const to = Math.min(state.offset + state.limit, total);
    return h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'secondary', disabled: state.offset === 0,
        onclick: () => { state.offset = Math.max(0, state.offset - state.limit); reload(); } }, '‹ Newer'),
      h('span', { class: 'muted small' }, `${from}–${to} of ${total}`),
      h('button', { type: 'button', class: 'secondary', disabled: to >= total,
        onclick: () => { state.offset += state.limit; reload(); } }, 'Older ›'));
  }

  function page(title, ...children) {
    document.title = `${title} · routstr`;
    main.replaceChildren(h('h1', {}, title), ...children);
  }

  /* ------------------------------------------------------------------ login */

  function showLogin(note) {
    top.hidden = true;
    if (location.hash !== '#/login') {
      loginReturn = location.hash && location.hash !== '#/login' ? location.hash : '#/overview';
      history.replaceState(null, '', '#/login');
    }
    const msg = h('div', { id: 'login-msg' }, note ? message('error', note) : null);
    const pw = h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password',
      required: true, autofocus: true });
    const button = h('button', { type: 'submit', id: 'login-button' }, 'Log in');
    const form = h('form', { class: 'stack', id: 'login-form', onsubmit: async (ev) => {
      ev.preventDefault();
      button.disabled = true;
      try {
        await api('POST', 'login', { password: pw.value });
        pw.value = '';
        location.hash = loginReturn || '#/overview';
        if (location.hash === (loginReturn || '#/overview')) route();
      } catch (e) {
        fail(msg, e.status === 401 ? new Error('Wrong password.') : e);
        pw.select();
      } finally {
        button.disabled = false;
      }
    } }, h('label', {}, 'Password', pw), button);
    document.title = 'Log in · routstr';
    main.dataset.page = 'login';
    main.replaceChildren(h('div', { class: 'card login' }, h('h1', {}, 'routstr dashboard'), msg, form));
    pw.focus();
  }
  let loginReturn = '#/overview';

  /* ------------------------------------------------------------------ overview */

  /** Bars of earned sats per day: an SVG stretched to the card's width (so bars only), the
   * labels in HTML around it so they keep their size on a phone. */
  function earningsChart(days) {
    const W = 300, H = 100;
    const max = Math.max(1, ...days.map((d) => d.earned_msat));
    const bw = W / Math.max(1, days.length);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
      'aria-label': 'Earnings per day, last 30 days' });
    svg.append(s('line', { class: 'axis', x1: 0, y1: H, x2: W, y2: H, 'vector-effect': 'non-scaling-stroke' }));
    days.forEach((d, i) => {
      const bh = (H * d.earned_msat) / max;
      const bar = s('rect', { class: 'bar', x: i * bw + bw * 0.1, y: H - bh, width: bw * 0.8, height: bh });
      bar.append(s('title', {}, `${d.day}: ${sats(d.earned_msat)}, ${d.requests} requests`));
      svg.append(bar);
    });
    return h('div', { class: 'chart' },
      h('div', { class: 'muted small' }, `max ${sats(max === 1 && days.every((d) => !d.earned_msat) ? 0 : max)} a day`),
      svg,
      h('div', { class: 'axis-labels muted small' }, h('span', {}, days[0]?.day ?? ''),
        h('span', {}, days[days.length - 1]?.day ?? '')));
  }

  function stat(label, value, attrs = {}) {
    return h('div', { class: 'card stat', ...attrs }, h('div', { class: 'label' }, label),
      h('div', { class: 'value' }, value));
  }

  async function overview() {
    const o = await api('GET', 'overview');
    const t = o.totals;
    const earned30 = o.earnings.reduce((a, d) => a + d.earned_msat, 0);
    const req30 = o.earnings.reduce((a, d) => a + d.requests, 0);
    const balances = o.balances.map((b) => h('div', { class: 'card balance', dataset: { mint: b.mint } },
      h('h3', {}, b.mint, h('span', { class: 'muted' }, ` · ${b.unit}`)),
      h('dl', {},
        h('dt', {}, 'Wallet'), h('dd', { class: 'wallet', dataset: { msat: b.wallet_msat } }, sats(b.wallet_msat)),
        h('dt', {}, 'Owed to users'), h('dd', { class: 'owed', dataset: { msat: b.owed_msat } }, sats(b.owed_msat)),
        h('dt', {}, 'Yours'), h('dd', { class: 'owner', dataset: { msat: b.owner_msat } }, sats(b.owner_msat)))));
    page('Overview',
      h('h2', {}, 'Balances'),
      balances.length ? h('div', { class: 'grid', id: 'balances' }, balances)
        : h('p', { class: 'muted' }, 'No mint is trusted (CASHU_MINTS): this node takes no eCash.'),
      h('h2', {}, 'Totals'),
      h('div', { class: 'grid stats', id: 'totals' },
        stat('Earned', sats(t.earned_msat), { dataset: { msat: t.earned_msat, k: 'earned' } }),
        stat('Withdrawn', sats(t.withdrawn_msat), { dataset: { msat: t.withdrawn_msat, k: 'withdrawn' } }),
        stat('Reserved now', sats(t.reserved_msat), { dataset: { msat: t.reserved_msat, k: 'reserved' } }),
        stat('Requests', nf.format(t.requests), { dataset: { k: 'requests' } }),
        stat('Keys', nf.format(t.keys), { dataset: { k: 'keys' } })),
      h('h2', {}, 'Earnings, last 30 days'),
      h('div', { class: 'card' }, earningsChart(o.earnings),
        h('p', { class: 'muted small' }, `${sats(earned30)} from ${nf.format(req30)} requests in 30 days (UTC days).`)));
  }

  /* ------------------------------------------------------------------ keys */

  const keysState = { limit: 50, offset: 0, order: 'last_used' };
  async function keys() {
    const st = keysState;
    const d = await api('GET', `keys?limit=${st.limit}&offset=${st.offset}&order=${st.order}`);
    const order = h('select', { id: 'keys-order', onchange: () => { st.order = order.value; st.offset = 0; keys().catch(showError); } },
      [['last_used', 'Last used'], ['created', 'Created'], ['balance', 'Balance'], ['spent', 'Spent']]
        .map(([v, l]) => h('option', { value: v }, l)));
    order.value = st.order;
    const rows = d.keys.map((k) => h('tr', {},
      h('td', {}, h('code', {}, k.hash_prefix)), satCell(k.balance_msat), satCell(k.reserved_msat),
      satCell(k.total_spent_msat), h('td', { class: 'num' }, nf.format(k.total_requests)),
      h('td', {}, when(k.created_at)), h('td', {}, when(k.last_used_at)), h('td', {}, when(k.expiry_time)),
      h('td', { class: 'mono small' }, k.refund_address || '—'),
      h('td', {}, h('a', { href: `#/transactions?key=${k.hash_prefix}` }, 'ledger'))));
    page('Keys',
      h('div', { class: 'row' }, h('label', {}, 'Order by', order)),
      h('div', { class: 'card' }, table([{ label: 'Key' }, { label: 'Balance', num: 1 }, { label: 'Reserved', num: 1 },
        { label: 'Spent', num: 1 }, { label: 'Requests', num: 1 }, { label: 'Created' }, { label: 'Last used' },
        { label: 'Expires' }, { label: 'Refund address' }, { label: '' }], rows, 'No keys yet.'),
      pager(st, d.total, () => keys().catch(showError))),
      h('p', { class: 'muted small' }, 'A key is shown by the first 8 hex digits of its stored hash; the key itself is never kept.'));
  }

  /* ------------------------------------------------------------------ models */

  /** A number input for a USD-per-token price; '' means "the file's price". */
  function priceInput(value, placeholder, label) {
    return h('input', { type: 'number', class: 'price', step: 'any', min: '0', inputmode: 'decimal',
      'aria-label': label, value: value === null || value === undefined ? '' : usd(value),
      placeholder: usd(placeholder) });
  }

  async function models() {
    const d = await api('GET', 'models');
    const status = h('div', { id: 'models-msg' });
    const reload = h('button', { type: 'button', class: 'secondary', id: 'models-reload', onclick: async () => {
      reload.disabled = true;
      try {
        const r = await api('POST', 'models/reload', {});
        await models();
        ok(document.getElementById('models-msg'), `Reloaded ${r.models} models from ${r.source}.`);
      } catch (e) {
        fail(status, e);
      } finally {
        reload.disabled = false;
      }
    } }, 'Reload models file');
    const rows = d.models.map((m) => {
      const ov = m.override || {};
      const inputs = ['prompt', 'completion', 'request'].map((k) =>
        priceInput(ov[k], m.pricing[k], `${m.id} ${k} price override (USD per token)`));
      const enabled = h('input', { type: 'checkbox', checked: m.enabled, 'aria-label': `${m.id} enabled` });
      const rowMsg = h('div', { class: 'small' });
      const save = async (body) => {
        try {
          await api('PUT', `models/${encodeURIComponent(m.id)}`, body);
          await models();
          ok(document.getElementById('models-msg'), `Saved ${m.id}.`);
        } catch (e) {
          fail(rowMsg, e);
        }
      };
      enabled.addEventListener('change', () => save({ enabled: enabled.checked }));
      const saveBtn = h('button', { type: 'button', class: 'save', onclick: () => {
        const o = {};
        ['prompt', 'completion', 'request'].forEach((k, i) => {
          const v = inputs[i].value.trim();
          o[k] = v === '' ? null : Number(v);
        });
        const none = Object.values(o).every((v) => v === null);
        save({ override: none ? null : o });
      } }, 'Save');
      const clearBtn = h('button', { type: 'button', class: 'secondary', disabled: !m.override,
        onclick: () => save({ override: null }) }, 'Clear');
      const sp = m.sats_pricing || {};
      return h('tr', { class: m.enabled ? null : 'off', dataset: { model: m.id } },
        h('td', {}, h('div', {}, h('code', {}, m.id)), h('div', { class: 'muted small' }, m.name)),
        h('td', {}, h('label', { class: 'check' }, enabled, m.enabled ? 'on' : 'off')),
        h('td', { class: 'num mono small' }, usd(m.pricing.prompt), h('br'), usd(m.pricing.completion), h('br'), usd(m.pricing.request)),
        h('td', { class: 'num mono small' }, sp.prompt !== undefined ? [usd(sp.prompt), h('br'), usd(sp.completion), h('br'), usd(sp.request)] : '—'),
        h('td', {}, h('div', { class: 'stack' }, inputs)),
        h('td', {}, h('div', { class: 'actions' }, saveBtn, clearBtn), rowMsg));
    });
    page('Models',
      h('div', { class: 'row' }, reload, h('span', { class: 'muted small' }, `Catalogue: ${d.source || 'none'}`)),
      status,
      h('div', { class: 'card' }, table([{ label: 'Model' }, { label: 'Enabled' },
        { label: 'USD / token (prompt, completion, request)', num: 1 }, { label: 'sats (same)', num: 1 },
        { label: 'Override (empty: the file’s)' }, { label: '' }], rows, 'No models: set MODELS_PATH.')),
      h('p', { class: 'muted small' }, 'A price override takes effect at once, here and in /v1/models. A disabled model disappears from /v1/models and is refused.'));
  }

  /* ------------------------------------------------------------------ upstream */

  async function upstream() {
    const u = await api('GET', 'upstream');
    const msg = h('div', { id: 'upstream-msg' });
    const base = h('input', { type: 'url', id: 'upstream-base', value: u.base_url, placeholder: 'https://api.openai.com/v1' });
    const key = h('input', { type: 'password', id: 'upstream-key', autocomplete: 'off', placeholder: 'leave empty to keep the key' });
    const put = async (body, done) => {
      try {
        await api('PUT', 'upstream', body);
        await upstream();
        ok(document.getElementById('upstream-msg'), done);
      } catch (e) {
        fail(msg, e);
      }
    };
    page('Upstream',
      msg,
      h('div', { class: 'card' },
        h('form', { class: 'stack', onsubmit: (ev) => {
          ev.preventDefault();
          const body = { base_url: base.value.trim() };
          if (key.value !== '') body.api_key = key.value;
          put(body, 'Saved: the next request uses it.');
        } },
        h('label', {}, 'Base URL', base),
        h('div', {}, h('span', { class: 'muted' }, 'API key: '),
          h('code', { id: 'upstream-mask' }, u.api_key_set ? u.api_key_masked : 'not set')),
        h('label', {}, 'New API key', key),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save'),
          h('button', { type: 'button', class: 'secondary', disabled: !u.api_key_set,
            onclick: () => { if (confirm('Remove the upstream API key?')) put({ api_key: '' }, 'The key is removed.'); } },
          'Remove key')))),
      h('p', { class: 'muted small' }, 'The key is stored encrypted and never shown again, only its first and last characters.'));
  }

  /* ------------------------------------------------------------------ settings */

  const SETTINGS = [
    ['name', 'Name', 'text'], ['description', 'Description', 'text'], ['http_url', 'Public URL', 'text'],
    ['onion_url', 'Onion URL', 'text'], ['cashu_mints', 'Trusted mints (one per line)', 'list'],
    ['relays', 'Nostr relays (one per line)', 'list'], ['fixed_pricing', 'Fixed pricing', 'bool'],
    ['fixed_cost_per_request', 'Fixed: sats per request', 'int'],
    ['fixed_per_1k_input_tokens', 'Fixed: sats per 1000 input tokens', 'int'],
    ['fixed_per_1k_output_tokens', 'Fixed: sats per 1000 output tokens', 'int'],
    ['exchange_fee', 'Exchange fee (multiplier)', 'float'], ['upstream_provider_fee', 'Provider fee (multiplier)', 'float'],
    ['tolerance_percentage', 'Tolerance (%)', 'float'], ['min_request_msat', 'Smallest reservation (msat)', 'int'],
  ];

  async function settings() {
    const cur = await api('GET', 'settings');
    const msg = h('div', { id: 'settings-msg' });
    const fields = {};
    const controls = SETTINGS.filter(([k]) => k in cur).map(([k, label, kind]) => {
      let el;
      if (kind === 'bool') {
        el = h('input', { type: 'checkbox', name: k, checked: cur[k] });
        fields[k] = { el, get: () => el.checked };
        return h('label', { class: 'check' }, el, label);
      }
      if (kind === 'list') {
        el = h('textarea', { name: k, rows: 3, value: (cur[k] || []).join('\n') });
        fields[k] = { el, get: () => el.value.split(/[\n,]/).map((x) => x.trim()).filter(Boolean) };
      } else {
        el = h('input', { type: kind === 'text' ? 'text' : 'number', name: k, value: String(cur[k] ?? ''),
          step: kind === 'float' ? 'any' : '1', min: kind === 'text' ? null : '0' });
        fields[k] = { el, get: () => (kind === 'text' ? el.value : Number(el.value)) };
      }
      return h('label', {}, label, el);
    });
    const form = h('form', { class: 'stack', id: 'settings-form', onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {};
      for (const [k, f] of Object.entries(fields)) {
        const v = f.get();
        if (JSON.stringify(v) !== JSON.stringify(cur[k])) body[k] = v;
      }
      if (Object.keys(body).length === 0) {
        ok(msg, 'Nothing changed.');
        return;
      }
      try {
        await api('PUT', 'settings', body);
        await settings();
        ok(document.getElementById('settings-msg'), `Saved: ${Object.keys(body).join(', ')}.`);
      } catch (e) {
        fail(msg, e);
      }
    } }, controls, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')));
    page('Settings', msg, h('div', { class: 'card' }, form),
      h('p', { class: 'muted small' }, 'Saved settings take effect at once and win over the environment from then on.'));
  }

  /* ------------------------------------------------------------------ transactions, requests */

  /** The query of the current hash ("#/transactions?key=ab12" → {key: 'ab12'}). */
  function hashQuery() {
    const i = location.hash.indexOf('?');
    return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
  }
  function toUnix(dateStr, endOfDay) {
    if (!dateStr) return null;
    const t = Date.parse(`${dateStr}T00:00:00Z`) / 1000;
    return endOfDay ? t + 86399 : t;
  }

  const KINDS = ['deposit', 'charge', 'refund', 'refund_reversal', 'withdraw', 'payout_fee', 'owner_receive',
    'owner_mint', 'owner_melt', 'proofs_lost'];
  const txState = { limit: 100, offset: 0, key: '', kind: '', since: '', until: '' };

  async function transactions() {
    const st = txState;
    const q = hashQuery();
    if (q.has('key')) {
      st.key = q.get('key');
      st.offset = 0;
      history.replaceState(null, '', '#/transactions');
    }
    const p = new URLSearchParams({ limit: st.limit, offset: st.offset });
    if (st.key) p.set('key', st.key);
    if (st.kind) p.set('kind', st.kind);
    if (st.since) p.set('since', toUnix(st.since, false));
    if (st.until) p.set('until', toUnix(st.until, true));
    const d = await api('GET', `transactions?${p}`);
    const key = h('input', { type: 'text', name: 'key', value: st.key, placeholder: 'hash prefix or owner', autocomplete: 'off' });
    const kind = h('select', { name: 'kind' }, h('option', { value: '' }, 'any'), KINDS.map((k) => h('option', { value: k }, k)));
    kind.value = st.kind;
    const since = h('input', { type: 'date', name: 'since', value: st.since });
    const until = h('input', { type: 'date', name: 'until', value: st.until });
    const reload = () => transactions().catch(showError);
    const rows = d.transactions.map((t) => h('tr', {},
      h('td', {}, when(t.created_at)), h('td', {}, h('code', {}, t.key)), h('td', {}, t.kind),
      satCell(t.amount_msat), h('td', { class: 'mono small' }, t.request_id || '—')));
    page('Transactions',
      h('form', { class: 'row', id: 'tx-filter', onsubmit: (ev) => {
        ev.preventDefault();
        Object.assign(st, { key: key.value.trim(), kind: kind.value, since: since.value, until: until.value, offset: 0 });
        reload();
      } }, h('label', {}, 'Key', key), h('label', {}, 'Kind', kind), h('label', {}, 'Since', since),
      h('label', {}, 'Until', until), h('button', { type: 'submit' }, 'Filter')),
      h('div', { class: 'card' }, table([{ label: 'When (UTC)' }, { label: 'Key' }, { label: 'Kind' },
        { label: 'Amount', num: 1 }, { label: 'Request' }], rows, 'No transactions match.'), pager(st, d.total, reload)));
  }

  const STATUSES = ['reserved', 'settled', 'released'];
  const reqState = { limit: 100, offset: 0, status: '', model: '', key: '' };

  async function requests() {
    const st = reqState;
    const p = new URLSearchParams({ limit: st.limit, offset: st.offset });
    for (const k of ['status', 'model', 'key']) if (st[k]) p.set(k, st[k]);
    const d = await api('GET', `requests?${p}`);
    const status = h('select', { name: 'status' }, h('option', { value: '' }, 'any'), STATUSES.map((k) => h('option', { value: k }, k)));
    status.value = st.status;
    const model = h('input', { type: 'text', name: 'model', value: st.model, autocomplete: 'off' });
    const key = h('input', { type: 'text', name: 'key', value: st.key, placeholder: 'hash prefix', autocomplete: 'off' });
    const reload = () => requests().catch(showError);
    const rows = d.requests.map((r) => h('tr', {},
      h('td', {}, when(r.created_at)), h('td', {}, h('code', {}, r.key)), h('td', {}, r.model), h('td', { class: 'mono small' }, r.path),
      h('td', {}, r.status), satCell(r.reserved_msat), satCell(r.cost_msat), h('td', {}, when(r.settled_at))));
    page('Requests',
      h('form', { class: 'row', id: 'req-filter', onsubmit: (ev) => {
        ev.preventDefault();
        Object.assign(st, { status: status.value, model: model.value.trim(), key: key.value.trim(), offset: 0 });
        reload();
      } }, h('label', {}, 'Status', status), h('label', {}, 'Model', model), h('label', {}, 'Key', key),
      h('button', { type: 'submit' }, 'Filter')),
      h('div', { class: 'card' }, table([{ label: 'When (UTC)' }, { label: 'Key' }, { label: 'Model' }, { label: 'Path' },
        { label: 'Status' }, { label: 'Reserved', num: 1 }, { label: 'Cost', num: 1 }, { label: 'Settled' }], rows,
      'No requests match.'), pager(st, d.total, reload)));
  }

  /* ------------------------------------------------------------------ withdraw */

  /** The QR code of 'text' as an SVG (error correction L, the smallest version that fits). */
  function qrSvg(text) {
    if (typeof window.qrcode !== 'function') return h('p', { class: 'muted' }, 'QR code library missing.');
    const qr = window.qrcode(0, 'L');
    qr.addData(text, 'Byte');
    try {
      qr.make();
    } catch {
      return h('p', { class: 'muted' }, 'This token is too long for a QR code: copy it instead.');
    }
    const n = qr.getModuleCount();
    const q = 4; // the quiet zone
    let d = '';
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + q},${r + q}h1v1h-1z`;
    }
    const svg = s('svg', { viewBox: `0 0 ${n + 2 * q} ${n + 2 * q}`, 'shape-rendering': 'crispEdges', role: 'img',
      'aria-label': 'QR code of the token', id: 'token-qr', 'data-modules': n });
    svg.append(s('rect', { width: n + 2 * q, height: n + 2 * q, fill: '#fff' }), s('path', { d, fill: '#000' }));
    return h('div', { class: 'qr' }, svg);
  }

  async function copyText(text, area) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      area.select(); // no clipboard API (plain http): leave it selected for the user
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
  }

  async function withdraw() {
    const o = await api('GET', 'overview');
    const msg = h('div', { id: 'withdraw-msg' });
    const out = h('div', { id: 'withdraw-result' });
    const amount = h('input', { type: 'number', id: 'withdraw-amount', min: '1', step: '1', required: true, inputmode: 'numeric' });
    const mint = h('select', { id: 'withdraw-mint' }, o.balances.map((b) =>
      h('option', { value: b.mint }, `${b.mint} — ${sats(b.owner_msat)} yours`)));
    const button = h('button', { type: 'submit', id: 'withdraw-button' }, 'Withdraw');
    const form = h('form', { class: 'stack', onsubmit: async (ev) => {
      ev.preventDefault();
      const n = Number(amount.value);
      if (!Number.isInteger(n) || n <= 0) {
        fail(msg, new Error('Enter a whole number of sats.'));
        return;
      }
      button.disabled = true;
      msg.replaceChildren();
      try {
        const r = await api('POST', 'withdraw', { amount_sat: n, mint: mint.value || undefined });
        const area = h('textarea', { class: 'token', id: 'token', readonly: true, rows: 6, value: r.token });
        const copied = h('span', { class: 'muted small', role: 'status' });
        out.replaceChildren(h('div', { class: 'card stack' },
          h('h2', {}, `Token for ${nf.format(r.amount_sat)} ${r.unit}`),
          h('p', { class: 'muted small' }, `From ${r.mint}. This token is the money: keep it until it is redeemed.`),
          area,
          h('div', { class: 'actions' }, h('button', { type: 'button', id: 'copy-token', onclick: async () => {
            copied.textContent = (await copyText(r.token, area)) ? 'Copied.' : 'Select the text and copy it.';
          } }, 'Copy'), copied),
          qrSvg(r.token)));
        amount.value = '';
        await refreshOwner(mint);
      } catch (e) {
        fail(msg, e);
      } finally {
        button.disabled = false;
      }
    } },
    h('label', {}, 'Amount (sat)', amount),
    o.balances.length > 1 ? h('label', {}, 'Mint', mint) : null,
    h('div', { class: 'actions' }, button));
    const owner = o.balances.map((b) => h('li', {}, `${b.mint}: `, h('strong', { dataset: { msat: b.owner_msat } }, sats(b.owner_msat))));
    page('Withdraw',
      h('div', { class: 'card' }, h('p', {}, 'Yours to withdraw (wallet minus what users hold):'),
        h('ul', { id: 'owner-balances' }, owner), form),
      msg, out);
  }

  /** After a withdrawal: the amounts in the list and the select follow the new overview. */
  async function refreshOwner(select) {
    const o = await api('GET', 'overview');
    const list = document.getElementById('owner-balances');
    if (!list) return;
    list.replaceChildren(...o.balances.map((b) => h('li', {}, `${b.mint}: `, h('strong', { dataset: { msat: b.owner_msat } }, sats(b.owner_msat)))));
    for (const opt of select.options) {
      const b = o.balances.find((x) => x.mint === opt.value);
      if (b) opt.textContent = `${b.mint} — ${sats(b.owner_msat)} yours`;
    }
  }

  /* ------------------------------------------------------------------ routing */

  const PAGES = { overview, keys, models, upstream, settings, transactions, requests, withdraw };

  function showError(e) {
    if (e instanceof AuthError) return;
    main.replaceChildren(message('error', e.message || String(e)));
  }

  let generation = 0;
  async function route() {
    const name = (location.hash.replace(/^#\/?/, '').split('?')[0]) || 'overview';
    if (name === 'login') {
      showLogin();
      return;
    }
    const fn = PAGES[name];
    if (!fn) {
      location.hash = '#/overview';
      return;
    }
    top.hidden = false;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
    const mine = ++generation;
    main.setAttribute('aria-busy', 'true');
    try {
      await fn();
      if (mine === generation) main.dataset.page = name;
    } catch (e) {
      if (mine === generation) showError(e);
    } finally {
      main.removeAttribute('aria-busy');
    }
  }

  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await api('POST', 'logout', {});
    } catch { /* logged out either way */ }
    loginReturn = '#/overview';
    showLogin();
  });
  window.addEventListener('hashchange', route);

  // First load: a page needs a session; without one, the login page (no "ended" note).
  (async () => {
    try {
      await api('GET', 'session', undefined, { quiet: true });
    } catch (e) {
      if (!(e instanceof AuthError)) showError(e);
      return;
    }
    if (location.hash === '#/login' || location.hash === '') location.hash = '#/overview';
    else route();
  })();
})();
