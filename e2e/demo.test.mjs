// End-to-end test of the demo page in a real browser (headless Chromium via playwright-core;
// firefox.test.mjs does the same in Firefox).
//
// Starts the `switchyard` binary on a free loopback port, opens the page, and checks what a
// visitor would see: the handshake verified three ways with permessage-deflate agreed, a typed
// message decoded and inflated from the exact bytes the server received, echo (compressed
// JSON too), chat between two pages, and clear messages when wasm is missing or the server
// goes away. Saves a screenshot to target/e2e/demo.png.
//
// Run from the repository root after building the wasm package and the server:
//   node --test e2e/*.test.mjs
// Environment: SWITCHYARD_BIN (default target/debug/switchyard), CHROMIUM (default
// /usr/bin/chromium). Never downloads a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { ROOT, startServer, stopServer, compressibleJson } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'target', 'e2e');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY_RE = /^[A-Za-z0-9+/]{22}==$/; // base64 of 16 bytes
const ACCEPT_RE = /^[A-Za-z0-9+/]{27}=$/; // base64 of a 20-byte SHA-1
const WAIT = 15_000;
// The server's answers to Chromium's offer (`permessage-deflate; client_max_window_bits`): 12-bit
// windows both ways, and on /inspect a fresh window for each message the browser sends.
const INSPECT_ANSWER = 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12';
const ECHO_ANSWER = 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';
const hexBytes = (s) => Buffer.from(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));
/** Raw deflate data as permessage-deflate sends it, inflated by Node's zlib (RFC 7692 §7.2.2). */
const nodeInflate = (data) => inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]),
  { finishFlush: zlibConstants.Z_SYNC_FLUSH });

let baseUrl;
let browser;

/** A fresh page that fails the test on any uncaught page error. */
async function openPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  if (options.route) await options.route(page);
  await page.goto(baseUrl);
  return { page, context, problems };
}

const text = (page, selector) => page.locator(selector).innerText();

/** The accept value computed here in Node, a third opinion independent of the page. */
const nodeAccept = (key) => createHash('sha1').update(key + GUID).digest('base64');

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/tools.sh browsers`);
  mkdirSync(SHOTS, { recursive: true });
  baseUrl = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  stopServer();
});

test('the handshake is verified three ways, with well-formed, truly equal values', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  const status = page.locator('#handshake-status');
  await status.locator('xpath=self::*[@data-verified!="pending"]').waitFor({ timeout: WAIT });
  assert.equal(await status.getAttribute('data-verified'), 'true', await status.innerText());

  const key = await text(page, '#hs-key');
  const serverAccept = await text(page, '#hs-server-accept');
  const wasmAccept = await text(page, '#hs-wasm-accept');
  const webAccept = await text(page, '#hs-webcrypto-accept');
  assert.match(key, KEY_RE);
  assert.match(serverAccept, ACCEPT_RE);
  assert.equal(wasmAccept, serverAccept);
  assert.equal(webAccept, serverAccept);
  assert.equal(nodeAccept(key), serverAccept, 'Node computes the same accept value');
  // The values shown are the ones in the raw heads, not something the page made up.
  assert.match(await text(page, '#hs-request'), new RegExp(`Sec-WebSocket-Key: ${key.replace(/[+/]/g, '\\$&')}`, 'i'));
  assert.ok((await text(page, '#hs-response')).includes(serverAccept));
  assert.match(await text(page, '#hs-response'), /^HTTP\/1\.1 101 /);
  for (const id of ['#hs-key-mark', '#hs-wasm-mark', '#hs-webcrypto-mark', '#hs-core-mark']) {
    assert.equal(await page.locator(`${id} .mark`).getAttribute('data-match'), 'true', id);
  }

  // Compression: the browser offered permessage-deflate, the server's answer is in the head
  // /inspect reports, and the page's socket (WebSocket.extensions) uses exactly that.
  assert.match(await text(page, '#hs-ext-offer'), /^permessage-deflate; client_max_window_bits$/);
  assert.match(await text(page, '#hs-request'), /^Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits/im);
  const response = await text(page, '#hs-response');
  assert.equal(response.match(/^Sec-WebSocket-Extensions: ([^\r\n]*)/im)?.[1], INSPECT_ANSWER, response);
  assert.equal(await text(page, '#hs-ext-answer'), INSPECT_ANSWER);
  assert.equal(await text(page, '#hs-ext-browser'), INSPECT_ANSWER);
  assert.equal(await page.evaluate(() => new Promise((ok) => {
    const ws = new WebSocket(`ws://${location.host}/inspect`);
    ws.onopen = () => {
      ok(ws.extensions);
      ws.close();
    };
    ws.onclose = () => ok(null);
  })), INSPECT_ANSWER);
  assert.match(await text(page, '#hs-ext-core'),
    /^permessage-deflate agreed\. Your browser compresses with a window of at most 4 KiB \(12 bits\) and empties its window after every message; the server with at most 4 KiB \(12 bits\) and keeps its window/);
  for (const id of ['#hs-ext-browser-mark', '#hs-ext-core-mark']) {
    assert.equal(await page.locator(`${id} .mark`).getAttribute('data-match'), 'true', id);
  }
  assert.deepEqual(problems, []);
  await context.close();
});

// No browser sends a message in several frames on demand, nor makes the server drop reports:
// here the page's sends go nowhere (WebSocket.send is stubbed) and the inspector is fed
// reports built with the core's own encoder, as its socket would feed the server's.
test('the inspector takes a message in several frames, and finds its place after dropped reports', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  await page.locator('#conn-status[data-state="ok"]').waitFor({ timeout: WAIT });
  await page.locator('#handshake-status[data-verified="true"]').waitFor({ timeout: WAIT });
  const seen = await page.evaluate(async () => {
    const sy = window.switchyard;
    const inspector = await import('/js/inspector.js');
    WebSocket.prototype.send = () => {};
    const send = (typed) => {
      document.querySelector('#inspect-input').value = typed;
      document.querySelector('#inspect-send').click();
    };
    const hexOf = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    const frame = (fin, opcode, payload, dropped = 0) => ({
      type: 'frame',
      raw_hex: hexOf(sy.encodeFrame(fin, opcode, [1, 2, 3, 4], new TextEncoder().encode(payload))),
      dropped,
    });
    const state = () => ({
      match: document.querySelector('#inspect-match').dataset.match ?? null,
      decoded: document.querySelector('#inspect-decoded').textContent,
      note: document.querySelector('#inspect-note').textContent,
    });
    const seen = {};
    send('Hello');
    inspector.onFrameReport(sy, frame(false, 0x1, 'Hel'));
    seen.first = state();
    // A ping between the fragments (RFC 6455 §5.4), then the last fragment.
    inspector.onFrameReport(sy, frame(true, 0x9, 'ping'));
    inspector.onFrameReport(sy, frame(true, 0x0, 'lo'));
    seen.whole = state();
    // Three sends; the server dropped the first two's reports.
    send('one');
    send('two');
    send('three');
    inspector.onFrameReport(sy, frame(true, 0x1, 'three', 2));
    seen.resync = state();
    return seen;
  });
  assert.match(seen.first.note, /Frame 1 of a message in several frames/);
  assert.equal(seen.whole.match, 'true', JSON.stringify(seen.whole));
  assert.equal(seen.whole.decoded, JSON.stringify('Hello'));
  assert.match(seen.whole.note, /came in 2 frames/);
  assert.equal(seen.resync.match, 'true', JSON.stringify(seen.resync));
  assert.equal(seen.resync.decoded, JSON.stringify('three'));
  assert.match(seen.resync.note, /dropped 2 frame reports/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the inspector shows the compressed bytes the server received and the message the core inflated', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  await page.locator('#conn-status[data-state="ok"]').waitFor({ timeout: WAIT });
  await page.locator('#handshake-status[data-verified="true"]').waitFor({ timeout: WAIT });

  const message = 'Hello, Switchyard — ünïcödé ✓';
  await page.fill('#inspect-input', message);
  await page.click('#inspect-send');
  await page.locator('#inspect-match[data-match="true"]').waitFor({ timeout: WAIT });
  assert.equal(await text(page, '#inspect-decoded'), JSON.stringify(message));
  assert.equal(await text(page, '#inspect-typed'), JSON.stringify(message));

  // Check the page's hex independently: unmask the shown bytes here with the shown key, and
  // inflate them with Node's zlib.
  const key = hexBytes(await text(page, '#inspect-mask-key'));
  const masked = hexBytes(await text(page, '#inspect-masked'));
  assert.equal(key.length, 4);
  const deflated = masked.map((b, i) => b ^ key[i % 4]);
  assert.deepEqual([...hexBytes(await text(page, '#inspect-unmasked'))], [...deflated]);
  assert.equal(nodeInflate(deflated).toString('utf8'), message);
  const fields = await text(page, '#inspect-fields');
  assert.match(fields, /RSV1 RSV2 RSV3\s+1 0 0 — RSV1 set: the payload is compressed \(permessage-deflate/);
  assert.match(fields, /Opcode\s+0x1 — text/);
  assert.match(fields, /MASK\s+1/);
  assert.match(fields, new RegExp(`Payload length\\s+${deflated.length} bytes`));
  assert.equal(await page.locator('#inspect-inflated').getAttribute('data-state'), 'ok');
  assert.match(await text(page, '#inspect-inflated'),
    new RegExp(`^${Buffer.byteLength(message)} bytes inflated from ${deflated.length} on the wire`));

  // A binary frame.
  await page.check('input[name="inspect-mode"][value="binary"]');
  await page.fill('#inspect-input', 'de ad be ef 00 ff');
  await page.click('#inspect-send');
  await page.waitForFunction(() => document.querySelector('#inspect-typed').textContent === 'de ad be ef 00 ff',
    null, { timeout: WAIT });
  assert.equal(await page.locator('#inspect-match').getAttribute('data-match'), 'true');
  assert.match(await text(page, '#inspect-fields'), /Opcode\s+0x2 — binary/);
  assert.equal(await text(page, '#inspect-decoded'), 'de ad be ef 00 ff');

  // A long JSON message: its compressed bytes are reported whole, however many, and shrink.
  const json = compressibleJson(400);
  await page.check('input[name="inspect-mode"][value="text"]');
  await page.fill('#inspect-input', json);
  await page.click('#inspect-send');
  await page.waitForFunction((n) => document.querySelector('#inspect-typed').textContent.length === n,
    JSON.stringify(json).length, { timeout: WAIT });
  assert.equal(await page.locator('#inspect-match').getAttribute('data-match'), 'true', await text(page, '#inspect-match'));
  const bigKey = hexBytes(await text(page, '#inspect-mask-key'));
  const bigDeflated = hexBytes(await text(page, '#inspect-masked')).map((b, i) => b ^ bigKey[i % 4]);
  assert.equal(nodeInflate(bigDeflated).toString('utf8'), json);
  assert.ok(bigDeflated.length * 5 < Buffer.byteLength(json), `${bigDeflated.length} bytes on the wire`);
  assert.equal(await text(page, '#inspect-decoded'), JSON.stringify(json));
  // ...and the next frame is matched with what was typed for it.
  await page.fill('#inspect-input', 'after');
  await page.click('#inspect-send');
  await page.waitForFunction(() => document.querySelector('#inspect-typed').textContent === '"after"', null, { timeout: WAIT });
  assert.equal(await page.locator('#inspect-match').getAttribute('data-match'), 'true');
  assert.deepEqual(problems, []);
  await context.close();
});

test('compressible JSON echoes whole over /echo with compression', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  const messages = [compressibleJson(10), compressibleJson(3000), compressibleJson(10), 'short'];
  const result = await page.evaluate(async (messages) => {
    const ws = new WebSocket(`ws://${location.host}/echo`);
    await new Promise((ok, fail) => {
      ws.onopen = ok;
      ws.onclose = (e) => fail(new Error(`/echo closed: ${e.code}`));
    });
    const echoes = [];
    for (const message of messages) {
      const echo = new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
      ws.send(message);
      echoes.push(await echo);
    }
    ws.close();
    return { extensions: ws.extensions, echoes };
  }, messages);
  assert.equal(result.extensions, ECHO_ANSWER);
  assert.equal(result.echoes.length, messages.length);
  result.echoes.forEach((echo, i) => assert.ok(echo === messages[i], `message ${i} (${messages[i].length} bytes) came back changed`));
  assert.deepEqual(problems, []);
  await context.close();
});

test('the wasm API behaves from JavaScript: frames, errors with close codes, keys', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  await page.locator('#wasm-status[data-state="ok"]').waitFor({ timeout: WAIT });
  const result = await page.evaluate(() => {
    const sy = window.switchyard;
    const caught = (f) => {
      try {
        f();
        return null;
      } catch (e) {
        return { isError: e instanceof Error, name: e.name, kind: e.kind, closeCode: e.closeCode, reason: e.reason, message: e.message };
      }
    };
    const hello = sy.encodeFrame(true, 1, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), new TextEncoder().encode('Hello'));
    const decoded = sy.decodeFrame(hello);
    return {
      hello: Array.from(hello),
      unmaskedHello: Array.from(sy.encodeFrame(true, 1, undefined, new TextEncoder().encode('Hello'))),
      decodedText: new TextDecoder().decode(decoded.payload),
      maskKey: Array.from(decoded.maskKey),
      accept: sy.acceptKey('dGhlIHNhbXBsZSBub25jZQ=='),
      verify: [sy.verifyAccept('dGhlIHNhbXBsZSBub25jZQ==', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='), sy.verifyAccept('dGhlIHNhbXBsZSBub25jZQ==', 'nope')],
      key: sy.generateKey(),
      reserved: caught(() => sy.decodeFrame(new Uint8Array([0x83, 0x00]))),
      badUtf8Close: caught(() => sy.decodeFrame(new Uint8Array([0x88, 0x03, 0x03, 0xe8, 0xff]))),
      short: caught(() => sy.decodeFrame(new Uint8Array([0x81]))),
      shortPayload: caught(() => sy.decodeFrame(new Uint8Array([0x81, 0x05, 0x48]))),
      badMask: caught(() => sy.encodeFrame(true, 1, new Uint8Array(3), new Uint8Array())),
      // A limit is a JavaScript number: 2^32 and more is no limit (not 0, wrapped round).
      wideLimit: new TextDecoder().decode(sy.receiveMessage('', hello, 2 ** 32).data),
      undefinedLimit: caught(() => sy.receiveMessage('', hello, undefined)),
      negativeLimit: caught(() => sy.receiveMessage('', hello, -1)),
    };
  });
  assert.deepEqual(result.hello, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  assert.deepEqual(result.unmaskedHello, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  assert.equal(result.decodedText, 'Hello');
  assert.deepEqual(result.maskKey, [0x37, 0xfa, 0x21, 0x3d]);
  assert.equal(result.accept, 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.deepEqual(result.verify, [true, false]);
  assert.match(result.key, KEY_RE);
  assert.deepEqual(
    { ...result.reserved, message: undefined },
    { isError: true, name: 'ProtocolError', kind: 'protocol', closeCode: 1002, reason: 'reserved opcode', message: undefined },
  );
  assert.equal(result.badUtf8Close.closeCode, 1007);
  assert.equal(result.short.kind, 'incomplete');
  assert.match(result.short.message, /incomplete frame: need more bytes/);
  assert.match(result.shortPayload.message, /declares a 5-byte payload but only 1 bytes follow/);
  assert.equal(result.badMask.kind, 'argument');
  assert.equal(result.wideLimit, 'Hello');
  assert.equal(result.undefinedLimit.kind, 'argument');
  assert.equal(result.negativeLimit.kind, 'argument');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the calculator gives any key\'s accept value, from the core and from WebCrypto', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  await page.locator('#wasm-status[data-state="ok"]').waitFor({ timeout: WAIT });
  // The RFC 6455 §1.3 example is the default.
  await page.locator('#calc-mark .mark[data-match="true"]').waitFor({ timeout: WAIT });
  assert.equal(await text(page, '#calc-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  // A random key from generateKey, then a key a server would refuse: both still hash.
  await page.click('#calc-random');
  const key = await page.inputValue('#calc-key');
  assert.match(key, KEY_RE);
  await page.waitForFunction((k) => document.querySelector('#calc-webcrypto').textContent !== '—' &&
    document.querySelector('#calc-accept').textContent !== 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', key, { timeout: WAIT });
  assert.equal(await text(page, '#calc-accept'), nodeAccept(key));
  await page.locator('#calc-mark .mark[data-match="true"]').waitFor({ timeout: WAIT });
  assert.match(await text(page, '#calc-valid'), /valid key/);
  await page.fill('#calc-key', 'not a key');
  await page.waitForFunction(() => document.querySelector('#calc-valid').textContent.includes('refuse'), null, { timeout: WAIT });
  assert.equal(await text(page, '#calc-accept'), nodeAccept('not a key'));
  await page.waitForFunction((v) => document.querySelector('#calc-webcrypto').textContent === v, nodeAccept('not a key'), { timeout: WAIT });
  assert.deepEqual(problems, []);
  await context.close();
});

test('echo returns what was sent, and two pages chat', { timeout: 30_000 }, async () => {
  const a = await openPage();
  const b = await openPage();
  for (const { page } of [a, b]) {
    await page.locator('#echo-status[data-state="ok"]').waitFor({ timeout: WAIT });
    await page.locator('#chat-status[data-state="ok"]').waitFor({ timeout: WAIT });
  }
  await a.page.fill('#echo-input', 'echo me');
  await a.page.click('#echo-form button');
  await a.page.locator('#echo-log li', { hasText: '← echo me' }).waitFor({ timeout: WAIT });

  const line = `hello from A ${Math.random().toString(36).slice(2, 8)}`;
  await a.page.fill('#chat-name', 'alice');
  await a.page.fill('#chat-input', line);
  await a.page.click('#chat-form button');
  const seen = b.page.locator('#chat-log li', { hasText: line });
  await seen.waitFor({ timeout: WAIT });
  assert.match(await seen.innerText(), /^#\d+ alice /, 'the seq, the name, the text');

  await b.page.fill('#chat-name', 'bob');
  await b.page.fill('#chat-input', 'hi alice');
  await b.page.click('#chat-form button');
  await a.page.locator('#chat-log li', { hasText: 'hi alice' }).waitFor({ timeout: WAIT });

  // Another member's name and text are shown as text, never read as markup: a script that
  // ran would set the flag, an element made of them would be found.
  const markup = '<img src=x onerror="window.injected=1"><b id="injected">bold</b>';
  await b.page.fill('#chat-name', '<i id="injected-name">mallory</i>');
  await b.page.fill('#chat-input', markup);
  await b.page.click('#chat-form button');
  const shown = a.page.locator('#chat-log li', { hasText: markup });
  await shown.waitFor({ timeout: WAIT });
  // (The name field keeps its first 24 characters.)
  assert.match(await shown.innerText(), /<i id="injected-name">/);
  assert.equal(await a.page.locator('#injected, #injected-name, #chat-log img').count(), 0);
  assert.equal(await a.page.evaluate(() => window.injected), undefined);

  // The screenshot: the whole page with every panel in use.
  await a.page.fill('#inspect-input', 'Hello, WebSocket!');
  await a.page.click('#inspect-send');
  await a.page.locator('#inspect-match[data-match="true"]').waitFor({ timeout: WAIT });
  await a.page.locator('#handshake-status[data-verified="true"]').waitFor({ timeout: WAIT });
  await a.page.screenshot({ path: join(SHOTS, 'demo.png'), fullPage: true });

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test('a chat room that closes at once is retried less and less often', { timeout: 30_000 }, async () => {
  // A node that answers `joined` and closes at once (1013: the history it would replay is
  // gone): the page backs off, rather than reconnecting every second for ever.
  const route = (p) => p.routeWebSocket('**/chat**', (ws) => {
    ws.send(JSON.stringify({ type: 'joined', room: 'lobby', epoch: 'e', seq: 0, recovered: false }));
    ws.close({ code: 1013, reason: 'history unavailable' });
  });
  const { page, context, problems } = await openPage({ route });
  const retries = page.locator('#chat-log li', { hasText: 'reconnecting in' });
  await retries.nth(2).waitFor({ timeout: WAIT });
  const delays = (await retries.allInnerTexts()).slice(0, 3).map((line) => Number(/in ([\d.]+) s/.exec(line)[1]));
  assert.ok(delays[0] < delays[1] && delays[1] < delays[2], `${delays}`);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a page whose chat drops rejoins where it left off, and the room replays what it missed', { timeout: 30_000 }, async () => {
  // Page A's chat sockets pass through the test (forwarded to the real server), so the test
  // can cut one while the server and page B stay up, and hold A's reconnection back until B
  // has spoken twice.
  const pageSides = [];
  const serverSides = [];
  let letBack;
  const mayReconnect = new Promise((resolve) => { letBack = resolve; });
  const route = (p) => p.routeWebSocket('**/chat**', async (ws) => {
    pageSides.push(ws);
    if (pageSides.length > 1) await mayReconnect;
    serverSides.push(ws.connectToServer());
  });
  const a = await openPage({ route });
  const b = await openPage();
  for (const { page } of [a, b]) {
    await page.locator('#chat-status[data-state="ok"]').waitFor({ timeout: WAIT });
  }
  const tag = Math.random().toString(36).slice(2, 8);
  const say = async (line) => {
    await b.page.fill('#chat-input', line);
    await b.page.click('#chat-form button');
    await b.page.locator('#chat-log li', { hasText: line }).waitFor({ timeout: WAIT });
  };
  await b.page.fill('#chat-name', 'bob');
  await say(`before the drop ${tag}`);
  const seenBefore = a.page.locator('#chat-log li', { hasText: `before the drop ${tag}` });
  await seenBefore.waitFor({ timeout: WAIT });
  const lastSeq = Number(/^#(\d+) /.exec(await seenBefore.innerText())[1]);

  // The drop: both sides of A's socket close, as when a node restarts behind a proxy.
  await serverSides[0].close();
  await pageSides[0].close({ code: 1012, reason: 'service restart' });
  await a.page.locator('#chat-log li', { hasText: 'reconnecting in' }).waitFor({ timeout: WAIT });
  const missed = [`missed one ${tag}`, `missed two ${tag}`];
  for (const line of missed) await say(line);
  letBack();

  // A asks for what followed the last message it saw, and the room sends exactly that.
  await a.page.locator('#chat-log li', { hasText: 'replaying 2 missed' }).waitFor({ timeout: WAIT });
  const query = new URL(pageSides[1].url()).searchParams;
  assert.equal(query.get('since'), String(lastSeq));
  assert.ok(query.get('epoch'), 'the epoch of the history it saw');
  for (const [i, line] of missed.entries()) {
    const shown = a.page.locator('#chat-log li', { hasText: line });
    await shown.waitFor({ timeout: WAIT });
    assert.equal(await shown.count(), 1, `${line} shown once`);
    assert.match(await shown.innerText(), new RegExp(`^#${lastSeq + 1 + i} bob `));
  }
  const log = await a.page.locator('#chat-log li').allInnerTexts();
  assert.equal(log.filter((entry) => entry.includes(`before the drop ${tag}`)).length, 1, 'nothing seen twice');
  assert.ok(!log.some((entry) => entry.startsWith('missed seq')), log.join('\n'));
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test('a handshake report without its response is said to be unverifiable, not thrown', { timeout: 30_000 }, async () => {
  const route = (p) => p.routeWebSocket('**/inspect**', (ws) => {
    ws.send(JSON.stringify({ type: 'handshake', request: 'GET /inspect HTTP/1.1\r\nHost: x\r\n\r\n' }));
  });
  const { page, context, problems } = await openPage({ route });
  const status = page.locator('#handshake-status[data-verified="false"]');
  await status.waitFor({ timeout: WAIT });
  assert.match(await status.innerText(), /lacks the request or the response/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a page whose wasm fails to load says so and verifies nothing', { timeout: 30_000 }, async () => {
  const { page, context } = await openPage({
    route: (p) => p.route('**/switchyard_wasm_bg.wasm', (route) => route.fulfill({ status: 404, body: 'gone' })),
  });
  await page.locator('#wasm-status[data-state="error"]').waitFor({ timeout: WAIT });
  assert.match(await text(page, '#banner'), /WebAssembly core failed to load/);
  await page.locator('#handshake-status[data-verified="false"]').waitFor({ timeout: WAIT });
  assert.match(await text(page, '#handshake-status'), /wasm/);
  await context.close();
});

test('without compression the page says so, and cuts a long frame with a clear explanation', { timeout: 30_000 }, async () => {
  baseUrl = await startServer(['--no-deflate']);
  try {
    const { page, context, problems } = await openPage();
    await page.locator('#handshake-status[data-verified="true"]').waitFor({ timeout: WAIT });
    assert.equal(await text(page, '#hs-ext-offer'), 'permessage-deflate; client_max_window_bits');
    assert.equal(await text(page, '#hs-ext-answer'), '(none: no extension agreed)');
    assert.equal(await text(page, '#hs-ext-browser'), '(none)');
    assert.match(await text(page, '#hs-ext-core'), /^No compression/);
    assert.doesNotMatch(await text(page, '#hs-response'), /Sec-WebSocket-Extensions/i);

    await page.fill('#inspect-input', 'Hello');
    await page.click('#inspect-send');
    await page.locator('#inspect-match[data-match="true"]').waitFor({ timeout: WAIT });
    assert.match(await text(page, '#inspect-fields'), /RSV1 RSV2 RSV3\s+0 0 0 — no extension applies/);
    assert.equal(await page.locator('#inspect-inflated').getAttribute('data-state'), 'none');
    assert.equal(await text(page, '#inspect-unmasked'), '48 65 6c 6c 6f');

    // Uncompressed, a frame longer than the server reports whole is explained, not misread.
    await page.fill('#inspect-input', 'x'.repeat(5000));
    await page.click('#inspect-send');
    await page.locator('#inspect-error:not([hidden])').waitFor({ timeout: WAIT });
    assert.match(await text(page, '#inspect-error'), /too long to inspect: the server reports only its first 4096 of its 5008 bytes/);
    // ...and the next frame is matched with what was typed for it.
    await page.fill('#inspect-input', 'after');
    await page.click('#inspect-send');
    await page.waitForFunction(() => document.querySelector('#inspect-typed').textContent === '"after"', null, { timeout: WAIT });
    assert.equal(await page.locator('#inspect-match').getAttribute('data-match'), 'true');
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    // Back to the default server for the tests after this one.
    baseUrl = await startServer();
  }
});

// Last: it stops the server.
test('when the server goes away, the page says the connection closed', { timeout: 30_000 }, async () => {
  const { page, context } = await openPage();
  await page.locator('#handshake-status[data-verified="true"]').waitFor({ timeout: WAIT });
  stopServer();
  await page.locator('#conn-status[data-state="closed"]').waitFor({ timeout: WAIT });
  const banner = await text(page, '#banner');
  assert.match(banner, /The [^\n]*\/inspect[^\n]* connections? closed: code \d{4}/);
  assert.ok(await page.locator('#banner-retry').isVisible());
  // Reconnecting to a server that is gone says it cannot be reached.
  await page.click('#banner-retry');
  await page.locator('#conn-status[data-state="error"]').waitFor({ timeout: WAIT });
  assert.match(await text(page, '#banner'), /Cannot reach the server/);
  await page.screenshot({ path: join(SHOTS, 'server-down.png') });
  await context.close();
});
