// fake-openai.js -- a deterministic OpenAI-compatible upstream for the end-to-end tests.
//
// It records every request it receives (method, raw path and query, headers, the body as the
// exact bytes) and answers like the OpenAI API, with numbers a test can compute from its own
// request: see the token rule below and the exported helpers (expectedChatUsage & co.), so the
// billing tests can check a debit without trusting the proxy's arithmetic.
//
// Token rule: one token per Unicode code point.
//   prompt_tokens     = code points of the prompt text (chat: every message's string content
//                       and text parts, concatenated; completions: the prompt(s); responses:
//                       instructions + input text; embeddings: each input, or a token array's
//                       length)
//   completion_tokens = code points of the reply text
// The reply is the first `words` (default 8) words of WORDS, truncated to max_tokens /
// max_completion_tokens / max_output_tokens code points when the request sets one (then
// finish_reason is "length"). This never equals the proxy's chars/4 estimate, so a test can tell
// a metered cost from an estimated one.
//
// Behaviour per request comes from setBehavior() (applies to every later request) merged with
// the JSON of the request header `x-test-behavior` (which the proxy forwards):
//   delayMs          wait before answering (the status line)
//   status, body,    answer this instead: body object -> JSON, string/Buffer -> as is;
//   headers            headers are added to any answer (array value -> repeated header)
//   stall            'before-headers': never answer; 'after-headers': send the status line and
//                    headers, then nothing
//   words            number of reply words (stream content chunks)
//   dripMs           pause between SSE events (and between speech pieces)
//   holdAfter        after this many SSE events, wait until release() is called
//   cutAfter         after this many SSE events, destroy the socket (a broken upstream)
//   usage            object: report these usage numbers instead; null: report no usage at all
//   bytes            size of the speech answer (default 65536)
//   only             apply this behaviour only to requests whose path ends with this string
//
// Each record's `response` tells what happened to the answer: `events` (SSE events written, with
// `eventTimes` when each was written),
// `body` (bytes written), `finished`, `aborted` (the peer closed before the answer finished:
// the proxy aborted the transfer), `cut` (we destroyed it on purpose), and `record.closed` is a
// promise that settles when the response is closed either way.
//
// CLI: node tests/upstream/fake-openai.js [--port N] [--host H]
import http from 'node:http';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const WORDS = ('Hello from the fake upstream, every word arrives as its own chunk and the ' +
  'text is always the same so tests can predict it exactly.').split(' ');
export const CREATED = 1700000000;
export const MODELS = ['gpt-fake', 'gpt-fake-mini', 'text-embedding-fake', 'whisper-fake', 'tts-fake'];

/* ------------------------------------------------------------------ deterministic content */

/** Tokens of a string under the fake's rule: one per Unicode code point. */
export function countTokens(s) {
  return [...String(s)].length;
}

function partsText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

/** The prompt text of a chat completion request (every message's text, concatenated). */
export function chatPromptText(body) {
  return (body?.messages ?? []).map((m) => partsText(m?.content)).join('');
}

/** The prompt text of a legacy completion request. */
export function completionPromptText(body) {
  const p = body?.prompt;
  if (Array.isArray(p)) return p.filter((x) => typeof x === 'string').join('');
  return typeof p === 'string' ? p : '';
}

/** The prompt text of a Responses API request (instructions, then the input's text). */
export function responsesPromptText(body) {
  let s = typeof body?.instructions === 'string' ? body.instructions : '';
  const input = body?.input;
  if (typeof input === 'string') return s + input;
  for (const item of Array.isArray(input) ? input : []) s += partsText(item?.content);
  return s;
}

/** The reply text for a request body (see the token rule in the file comment). */
export function replyText(body, behavior = {}) {
  const n = behavior.words ?? 8;
  const words = [];
  for (let i = 0; i < n; i++) words.push(WORDS[i % WORDS.length]);
  let text = words.join(' ');
  const max = body?.max_tokens ?? body?.max_completion_tokens ?? body?.max_output_tokens;
  let truncated = false;
  if (Number.isInteger(max) && max >= 0 && countTokens(text) > max) {
    text = [...text].slice(0, max).join('');
    truncated = true;
  }
  return { text, finish: truncated ? 'length' : 'stop' };
}

/** Splits a reply into stream pieces: one word each, with its leading space. */
export function replyPieces(text) {
  return text === '' ? [] : text.split(/(?=\s)/);
}

function usageTriple(prompt, completion) {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function expectedChatUsage(body, behavior = {}) {
  return usageTriple(countTokens(chatPromptText(body)), countTokens(replyText(body, behavior).text));
}

export function expectedCompletionUsage(body, behavior = {}) {
  return usageTriple(countTokens(completionPromptText(body)),
    countTokens(replyText(body, behavior).text));
}

export function expectedResponsesUsage(body, behavior = {}) {
  const input = countTokens(responsesPromptText(body));
  const output = countTokens(replyText(body, behavior).text);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

function embeddingInputs(body) {
  const input = body?.input;
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.every((x) => typeof x === 'number')) return [input];
  return Array.isArray(input) ? input : [];
}

function inputTokens(x) {
  return Array.isArray(x) ? x.length : countTokens(x);
}

export function expectedEmbeddingsUsage(body) {
  const n = embeddingInputs(body).reduce((a, x) => a + inputTokens(x), 0);
  return { prompt_tokens: n, total_tokens: n };
}

/** The embedding vector for one input: multiples of 1/16, exact in float32 and in JSON. */
export function embeddingFor(input, dims = 8) {
  const t = inputTokens(input);
  const v = [];
  for (let j = 0; j < dims; j++) v.push(((t + j * 7) % 16) / 16 - 0.5);
  return v;
}

/** The speech answer: n bytes of a fixed pattern. */
export function speechBytes(n = 65536) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** Parses a multipart/form-data body: [{name, filename, contentType, data: Buffer}]. */
export function parseMultipart(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!m) return null;
  const delim = Buffer.from(`--${m[1] ?? m[2].trim()}`);
  const parts = [];
  let pos = body.indexOf(delim);
  while (pos !== -1) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    pos += 2; // CRLF after the delimiter
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd === -1) return null;
    const head = body.subarray(pos, headEnd).toString('utf8');
    const next = body.indexOf(delim, headEnd + 4);
    if (next === -1) return null;
    const data = body.subarray(headEnd + 4, next - 2); // minus the CRLF before the delimiter
    const disp = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? '';
    parts.push({
      name: /\bname="([^"]*)"/i.exec(disp)?.[1],
      filename: /\bfilename="([^"]*)"/i.exec(disp)?.[1],
      contentType: /content-type:\s*([^\r\n]*)/i.exec(head)?.[1],
      data,
    });
    pos = next;
  }
  return parts;
}

/* ------------------------------------------------------------------------------- server */

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseBehaviorHeader(v) {
  if (!v) return {};
  try {
    const o = JSON.parse(Array.isArray(v) ? v[0] : v);
    return o && typeof o === 'object' ? o : {};
  } catch {
    return {};
  }
}

function mergeBehavior(global, path, header) {
  const g = global.only && !path.endsWith(global.only) ? {} : global;
  const { only, ...rest } = g; // eslint-disable-line no-unused-vars
  return { ...rest, ...header };
}

/**
 * Starts the fake upstream. opts: {port = 0, host = '127.0.0.1', behavior = {}, quiet = true}.
 * Returns {url (origin), baseURL (url + '/v1'), port, requests, setBehavior, release, reset,
 * waitForRequests, close}.
 */
export async function startUpstream(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const requests = [];
  let behavior = { ...(opts.behavior ?? {}) };
  const holds = new Set();
  const sockets = new Set();
  const waiters = new Set();
  let seq = 0;

  const server = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const record = makeRecord(req, res, Buffer.concat(chunks));
      requests.push(record);
      for (const w of waiters) w();
      serve(record, req, res).catch((err) => {
        record.error = String(err?.stack ?? err);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: String(err), type: 'fake_error', code: 500 } }));
        } else {
          res.destroy();
        }
      });
    });
  });
  // Streams may stay silent for as long as a test wants; keep-alive like a real API.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => socket.destroy());

  function makeRecord(req, res, body) {
    const q = req.url.indexOf('?');
    const record = {
      seq: ++seq,
      method: req.method,
      url: req.url,
      path: q === -1 ? req.url : req.url.slice(0, q),
      query: q === -1 ? '' : req.url.slice(q + 1),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      httpVersion: req.httpVersion,
      body,
      json: undefined,
      receivedAt: Date.now(),
      behavior: undefined,
      response: {
        status: undefined,
        headers: undefined,
        events: 0,
        eventTimes: [],
        chunks: [],
        body: Buffer.alloc(0),
        headersAt: undefined,
        firstByteAt: undefined,
        finishedAt: undefined,
        closedAt: undefined,
        finished: false,
        aborted: false,
        cut: false,
      },
      closed: undefined,
    };
    const ct = String(req.headers['content-type'] ?? '');
    if (/json/i.test(ct) && body.length) {
      try {
        record.json = JSON.parse(body.toString('utf8'));
      } catch {
        record.json = undefined;
      }
    }
    record.behavior = mergeBehavior(behavior, record.path, parseBehaviorHeader(req.headers['x-test-behavior']));
    record.closed = new Promise((resolve) => {
      res.on('close', () => {
        const r = record.response;
        r.closedAt = Date.now();
        r.finished = res.writableFinished;
        r.aborted = !res.writableFinished && !r.cut;
        r.body = Buffer.concat(r.chunks);
        resolve(r);
      });
    });
    // Keep `response.body` current while the answer is being written.
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    const note = (c) => {
      if (c == null || typeof c === 'function') return;
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
      if (!b.length) return;
      record.response.firstByteAt ??= Date.now();
      record.response.chunks.push(b);
      record.response.body = Buffer.concat(record.response.chunks);
    };
    res.write = (c, ...a) => { note(c); return write(c, ...a); };
    res.end = (c, ...a) => {
      note(c);
      const r = end(c, ...a);
      record.response.finishedAt = Date.now();
      return r;
    };
    return record;
  }

  function isGone(res) {
    return res.destroyed || res.writableEnded || res.socket == null || res.socket.destroyed;
  }

  // Waits ms, or less if the response closes first. Returns false if it closed.
  async function pause(res, ms) {
    if (ms <= 0) return !isGone(res);
    await new Promise((resolve) => {
      const t = setTimeout(done, ms);
      res.once('close', done);
      function done() {
        clearTimeout(t);
        res.off('close', done);
        resolve();
      }
    });
    return !isGone(res);
  }

  // Waits for release() or the response closing. Returns false if it closed.
  async function hold(res) {
    await new Promise((resolve) => {
      const done = () => {
        holds.delete(done);
        res.off('close', done);
        resolve();
      };
      holds.add(done);
      res.once('close', done);
    });
    return !isGone(res);
  }

  function writeHead(record, res, status, headers) {
    const extra = record.behavior.headers ?? {};
    const all = { ...headers, ...extra };
    record.response.status = status;
    record.response.headers = all;
    record.response.headersAt = Date.now();
    res.writeHead(status, all);
  }

  function sendJson(record, res, status, obj, headers = {}) {
    const body = Buffer.from(JSON.stringify(obj));
    writeHead(record, res, status, {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'x-request-id': `req_fake_${record.seq}`,
      'openai-processing-ms': '7',
      ...headers,
    });
    if (record.behavior.stall === 'after-headers') {
      res.flushHeaders();
      return;
    }
    res.end(body);
  }

  // Writes SSE events (strings, already framed) with drip/hold/cut/stall applied.
  async function sendSse(record, res, events) {
    writeHead(record, res, 200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_fake_${record.seq}`,
    });
    res.flushHeaders();
    const b = record.behavior;
    if (b.stall === 'after-headers') return;
    for (let i = 0; i < events.length; i++) {
      if (i > 0 && b.dripMs && !(await pause(res, b.dripMs))) return;
      if (isGone(res)) return;
      const cutNow = b.cutAfter != null && record.response.events + 1 >= b.cutAfter;
      // A response is corked until the next tick: before a cut, wait until the bytes are out.
      const flushed = cutNow ? new Promise((resolve) => res.write(events[i], resolve))
        : res.write(events[i]);
      record.response.events++;
      record.response.eventTimes.push(Date.now());
      const sent = record.response.events;
      if (cutNow) {
        await flushed;
        record.response.cut = true;
        res.socket?.destroy();
        return;
      }
      if (b.holdAfter != null && sent === b.holdAfter && !(await hold(res))) return;
    }
    res.end();
  }

  async function serve(record, req, res) {
    const b = record.behavior;
    if (b.stall === 'before-headers') return; // the response stays open until the peer leaves
    if (b.delayMs && !(await pause(res, b.delayMs))) return;
    if (b.status != null || b.body !== undefined) {
      const status = b.status ?? 200;
      let body = b.body ?? '';
      let ct = 'text/plain';
      if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
        body = JSON.stringify(body);
        ct = 'application/json';
      }
      body = Buffer.from(body);
      const bodyless = status === 204 || status === 304 || req.method === 'HEAD';
      writeHead(record, res, status, bodyless ? {} : {
        'content-type': ct, 'content-length': String(body.length),
      });
      if (b.stall === 'after-headers') return res.flushHeaders();
      return res.end(bodyless ? undefined : body);
    }
    return route(record, req, res);
  }

  async function route(record, req, res) {
    const { method, path } = record;
    const body = record.json ?? {};
    const b = record.behavior;
    const usageOverride = (u) => (b.usage === undefined ? u : b.usage);

    if (method === 'POST' && path.endsWith('/chat/completions')) {
      const model = body.model ?? 'gpt-fake';
      const { text, finish } = replyText(body, b);
      const usage = usageOverride(expectedChatUsage(body, b));
      const id = `chatcmpl-fake-${record.seq}`;
      if (body.stream === true) {
        const includeUsage = body.stream_options?.include_usage === true;
        const base = { id, object: 'chat.completion.chunk', created: CREATED, model,
          system_fingerprint: 'fp_fake' };
        const chunk = (delta, fin) => ({ ...base,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: fin }],
          ...(includeUsage ? { usage: null } : {}) });
        const events = [chunk({ role: 'assistant', content: '' }, null)];
        for (const p of replyPieces(text)) events.push(chunk({ content: p }, null));
        events.push(chunk({}, finish));
        if (includeUsage && usage !== null) events.push({ ...base, choices: [], usage });
        const framed = events.map((e) => `data: ${JSON.stringify(e)}\n\n`);
        framed.push('data: [DONE]\n\n');
        return sendSse(record, res, framed);
      }
      return sendJson(record, res, 200, {
        id, object: 'chat.completion', created: CREATED, model, system_fingerprint: 'fp_fake',
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null },
          logprobs: null, finish_reason: finish }],
        ...(usage === null ? {} : { usage }),
      });
    }

    if (method === 'POST' && path.endsWith('/completions')) {
      const model = body.model ?? 'gpt-fake';
      const { text, finish } = replyText(body, b);
      const usage = usageOverride(expectedCompletionUsage(body, b));
      const id = `cmpl-fake-${record.seq}`;
      const base = { id, object: 'text_completion', created: CREATED, model };
      if (body.stream === true) {
        const includeUsage = body.stream_options?.include_usage === true;
        const chunk = (t, fin) => ({ ...base,
          choices: [{ text: t, index: 0, logprobs: null, finish_reason: fin }] });
        const events = replyPieces(text).map((p) => chunk(p, null));
        events.push(chunk('', finish));
        if (includeUsage && usage !== null) events.push({ ...base, choices: [], usage });
        const framed = events.map((e) => `data: ${JSON.stringify(e)}\n\n`);
        framed.push('data: [DONE]\n\n');
        return sendSse(record, res, framed);
      }
      return sendJson(record, res, 200, {
        ...base,
        choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
        ...(usage === null ? {} : { usage }),
      });
    }

    if (method === 'POST' && path.endsWith('/embeddings')) {
      const inputs = embeddingInputs(body);
      const dims = Number.isInteger(body.dimensions) ? body.dimensions : 8;
      const usage = usageOverride(expectedEmbeddingsUsage(body));
      const data = inputs.map((x, index) => {
        const v = embeddingFor(x, dims);
        const embedding = body.encoding_format === 'base64'
          ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
        return { object: 'embedding', index, embedding };
      });
      return sendJson(record, res, 200, {
        object: 'list', data, model: body.model ?? 'text-embedding-fake',
        ...(usage === null ? {} : { usage }),
      });
    }

    if (method === 'POST' && path.endsWith('/responses')) {
      const model = body.model ?? 'gpt-fake';
      const { text, finish } = replyText(body, b);
      const usage = usageOverride(expectedResponsesUsage(body, b));
      const id = `resp_fake_${record.seq}`;
      const msgId = `msg_fake_${record.seq}`;
      const part = { type: 'output_text', text, annotations: [], logprobs: [] };
      const item = { type: 'message', id: msgId, status: 'completed', role: 'assistant',
        content: [part] };
      const resp = (status, output, u) => ({
        id, object: 'response', created_at: CREATED, status, model, output,
        incomplete_details: finish === 'length' && status === 'completed'
          ? { reason: 'max_output_tokens' } : null,
        error: null, instructions: body.instructions ?? null, usage: u,
        parallel_tool_calls: true, tool_choice: 'auto', tools: [], text: { format: { type: 'text' } },
      });
      if (body.stream === true) {
        let n = 0;
        const ev = (type, o) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: n++, ...o })}\n\n`;
        const events = [
          ev('response.created', { response: resp('in_progress', [], null) }),
          ev('response.in_progress', { response: resp('in_progress', [], null) }),
          ev('response.output_item.added', { output_index: 0,
            item: { ...item, status: 'in_progress', content: [] } }),
          ev('response.content_part.added', { item_id: msgId, output_index: 0, content_index: 0,
            part: { ...part, text: '' } }),
        ];
        for (const p of replyPieces(text)) {
          events.push(ev('response.output_text.delta', { item_id: msgId, output_index: 0,
            content_index: 0, delta: p, logprobs: [] }));
        }
        events.push(ev('response.output_text.done', { item_id: msgId, output_index: 0,
          content_index: 0, text, logprobs: [] }));
        events.push(ev('response.content_part.done', { item_id: msgId, output_index: 0,
          content_index: 0, part }));
        events.push(ev('response.output_item.done', { output_index: 0, item }));
        events.push(ev('response.completed', { response: resp('completed', [item], usage) }));
        return sendSse(record, res, events);
      }
      return sendJson(record, res, 200, resp('completed', [item], usage));
    }

    if (method === 'POST' && path.endsWith('/audio/transcriptions')) {
      const parts = parseMultipart(record.body, req.headers['content-type']);
      record.multipart = parts;
      const file = parts?.find((p) => p.name === 'file');
      if (!file) {
        return sendJson(record, res, 400, { error: { message: 'file is required',
          type: 'invalid_request_error', param: 'file', code: null } });
      }
      const sha = crypto.createHash('sha256').update(file.data).digest('hex').slice(0, 16);
      return sendJson(record, res, 200, {
        text: `fake transcript of ${file.filename} (${file.data.length} bytes, sha256 ${sha})`,
      });
    }

    if (method === 'POST' && path.endsWith('/audio/speech')) {
      const bytes = speechBytes(b.bytes ?? 65536);
      writeHead(record, res, 200, { 'content-type': 'audio/mpeg',
        'x-request-id': `req_fake_${record.seq}` });
      if (b.stall === 'after-headers') return res.flushHeaders();
      for (let off = 0; off < bytes.length; off += 16384) {
        if (off > 0 && b.dripMs && !(await pause(res, b.dripMs))) return;
        if (isGone(res)) return;
        res.write(bytes.subarray(off, off + 16384));
      }
      return res.end();
    }

    if (path.endsWith('/models') && method === 'GET') {
      return sendJson(record, res, 200, { object: 'list', data: MODELS.map((id) => (
        { id, object: 'model', created: CREATED, owned_by: 'fake' })) });
    }

    const mm = /\/models\/([^/]+)$/.exec(path);
    if (mm && (method === 'GET' || method === 'DELETE')) {
      const id = decodeURIComponent(mm[1]);
      if (method === 'DELETE') return sendJson(record, res, 200, { id, object: 'model', deleted: true });
      return sendJson(record, res, 200, { id, object: 'model', created: CREATED, owned_by: 'fake' });
    }

    if (method === 'GET' && path.endsWith('/chat/completions')) {
      return sendJson(record, res, 200, { object: 'list', data: [], first_id: null,
        last_id: null, has_more: false });
    }

    if (/\/echo(\/|$)/.test(path)) {
      return sendJson(record, res, 200, {
        method, path, query: record.query, body_length: record.body.length,
        body_sha256: crypto.createHash('sha256').update(record.body).digest('hex'),
      });
    }

    return sendJson(record, res, 404, { error: { message: `Unknown request URL: ${method} ${path}`,
      type: 'invalid_request_error', param: null, code: 'unknown_url' } });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;
  const url = `http://${host}:${port}`;

  return {
    url,
    baseURL: `${url}/v1`,
    port,
    requests,
    server,
    /** Replaces the behaviour applied to every later request. */
    setBehavior(b = {}) {
      behavior = { ...b };
    },
    /** Lets every held stream go on. */
    release() {
      for (const done of [...holds]) done();
    },
    /** Forgets recorded requests and behaviour (between tests). */
    reset() {
      requests.length = 0;
      behavior = {};
      this.release();
    },
    /** Resolves when at least n requests have been recorded (or rejects after timeoutMs). */
    waitForRequests(n = 1, timeoutMs = 5000) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`upstream: ${requests.length} request(s) after ${timeoutMs} ms, wanted ${n}`));
        }, timeoutMs);
        function check() {
          if (requests.length < n) return;
          clearTimeout(t);
          waiters.delete(check);
          resolve(requests.slice());
        }
        waiters.add(check);
      });
    },
    async close() {
      this.release();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
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
    process.stdout.write('usage: node fake-openai.js [--port N] [--host H]\n');
    process.exit(0);
  }
  const port = Number(argv.length ? argValue(argv, '--port') ?? 0 : 0);
  const host = argValue(argv, '--host') ?? '127.0.0.1';
  const up = await startUpstream({ port, host });
  process.stdout.write(`upstream listening on ${up.url}\n`);
  const stop = async () => {
    await up.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
