// gen-fixtures.js -- writes tests/relay/fixtures/nip01.json, the NIP-01 and NIP-19 fixtures the C
// unit tests (tests/unit/test_nostr_event.c) check against: events signed by nostr-tools with
// the exact canonical serialization it hashed, and npub/nsec pairs it encoded.
//
// Run once from tests/ (`node relay/gen-fixtures.js`) and commit the output; the C tests read
// the JSON file, never Node. Keys are fixed so the file is reproducible except for the
// signatures (BIP-340 signing draws fresh auxiliary randomness).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { finalizeEvent, getEventHash, getPublicKey, nip19, serializeEvent, verifyEvent }
  from 'nostr-tools';

const hex = (b) => Buffer.from(b).toString('hex');
const fromHex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));

const secretKeys = [
  '0000000000000000000000000000000000000000000000000000000000000001',
  '67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa', // NIP-19's example
  'b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef',
  'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140', // n - 1
];

const keys = secretKeys.map((sk) => {
  const pub = getPublicKey(fromHex(sk));
  return { sk, pubkey: pub, nsec: nip19.nsecEncode(fromHex(sk)), npub: nip19.npubEncode(pub) };
});

// Contents and tags that exercise every escaping rule of NIP-01 and what JSON.stringify does
// beyond it (other C0 controls as \u00xx, DEL and non-ASCII verbatim).
const contents = [
  '',
  'hello',
  'quote " and backslash \\ and slash /',
  'line\nbreak\rcr\ttab\bbackspace\fformfeed',
  'controls \u0000 \u0001 \u0007 \u000b \u000e \u001b \u001f end',
  'del \u007f and c1 \u0080 \u009f',
  'unicode é ñ ü ß € 中文 日本語 😀 🚀 \u2028 \u2029 \ufeff',
  '{"name":"My Node","about":"A \\"quoted\\" node"}',
  '\\u0041 is not unescaped: \\n stays two characters',
];

const events = [];
const signer = fromHex(secretKeys[2]);
contents.forEach((content, i) => {
  const ev = finalizeEvent({
    kind: i === 0 ? 38421 : 1,
    created_at: 1750000000 + i,
    tags: i % 2 === 0 ? [] : [['d', `id-${i}`], ['u', 'https://node.example'], ['t', content],
      ['e', 'x', '', 'mention'], []],
    content,
  }, signer);
  if (!verifyEvent(ev) || getEventHash(ev) !== ev.id) throw new Error('nostr-tools disagrees');
  events.push({ serialized: serializeEvent(ev), event: { ...ev } });
});
// A kind-38421 announcement like clients.md §1.4.
const ann = finalizeEvent({
  kind: 38421,
  created_at: 1750000100,
  tags: [['d', 'abc123'], ['u', 'https://node.example.com'], ['u', 'http://xxxxxxxx.onion'],
    ['mint', 'https://mint.example.com'], ['version', '0.1.0']],
  content: JSON.stringify({ name: 'My Node', about: 'Fast, private' }),
}, fromHex(secretKeys[1]));
events.push({ serialized: serializeEvent(ann), event: { ...ann } });
for (const e of events) delete e.event[Object.getOwnPropertySymbols(e.event)[0]];

const out = { generator: 'nostr-tools 2.25.2 (tests/relay/gen-fixtures.js)', keys, events };
const file = fileURLToPath(new URL('./fixtures/nip01.json', import.meta.url));
fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${file}: ${keys.length} keys, ${events.length} events`);
