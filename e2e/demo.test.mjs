// End-to-end test of the demo page in a real browser (headless Chromium via playwright-core).
//
// Starts the `switchyard` binary on a free loopback port, opens the page, and checks what a
// visitor would see: the handshake verified three ways, a typed message decoded from the exact
// bytes the server received, echo, chat between two pages, and clear messages when wasm is
// missing or the server goes away. Saves a screenshot to target/e2e/demo.png.
//
// Run from the repository root after building the wasm package and the server:
//   node --test e2e/
// Environment: SWITCHYARD_BIN (default target/debug/switchyard), CHROMIUM (default
// /usr/bin/chromium). Never downloads a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = resolve(ROOT, process.env.SWITCHYARD_BIN ?? 'target/debug/switchyard');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'target', 'e2e');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY_RE = /^[A-Za-z0-9+/]{22}==$/; // base64 of 16 bytes
const ACCEPT_RE = /^[A-Za-z0-9+/]{27}=$/; // base64 of a 20-byte SHA-1
const WAIT = 15_000;

let server;
let serverLog = '';
let baseUrl;
let browser;

async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`switchyard exited (${server.exitCode}):\n${serverLog}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`switchyard did not answer ${url} within ${ms} ms:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts switchyard on a port the kernel picks (`--listen 127.0.0.1:0`) and resolves with the
 * base URL it prints on stdout ("switchyard listening on http://127.0.0.1:PORT").
 */
function startServer() {
  server = spawn(BIN, ['--listen', '127.0.0.1:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((ok, fail) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`switchyard printed no address within 20 s:\n${serverLog}`)), 20_000);
    const keep = (chunk) => {
      serverLog = (serverLog + chunk).slice(-8000);
    };
    server.stderr.on('data', keep);
    server.stdout.on('data', (chunk) => {
      keep(chunk);
      stdout += chunk;
      const found = stdout.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (found) {
        clearTimeout(timer);
        ok(`${found[1]}/`);
      }
    });
    server.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`switchyard exited (${code ?? signal}) before listening:\n${serverLog}`));
    });
  });
}

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
}
process.on('exit', stopServer);

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
  assert.ok(existsSync(BIN), `no server binary at ${BIN}: build it (cargo build -p switchyard-server --bin switchyard)`);
  assert.ok(existsSync(join(ROOT, 'www/pkg/switchyard_wasm.js')),
    'no wasm package: build it (wasm-pack build wasm --target web --out-dir ../www/pkg)');
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/tools.sh browsers`);
  mkdirSync(SHOTS, { recursive: true });
  baseUrl = await startServer();
  await waitForHttp(`${baseUrl}healthz`, 10_000);
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
  assert.deepEqual(problems, []);
  await context.close();
});

test('the inspector decodes the masked bytes the server received into what was typed', { timeout: 30_000 }, async () => {
  const { page, context, problems } = await openPage();
  await page.locator('#conn-status[data-state="ok"]').waitFor({ timeout: WAIT });

  const message = 'Hello, Switchyard — ünïcödé ✓';
  await page.fill('#inspect-input', message);
  await page.click('#inspect-send');
  await page.locator('#inspect-match[data-match="true"]').waitFor({ timeout: WAIT });
  assert.equal(await text(page, '#inspect-decoded'), JSON.stringify(message));
  assert.equal(await text(page, '#inspect-typed'), JSON.stringify(message));

  // Check the page's hex independently: unmask the shown bytes here with the shown key.
  const hexBytes = (s) => Uint8Array.from(s.trim().split(/\s+/), (h) => parseInt(h, 16));
  const key = hexBytes(await text(page, '#inspect-mask-key'));
  const masked = hexBytes(await text(page, '#inspect-masked'));
  assert.equal(key.length, 4);
  const unmasked = masked.map((b, i) => b ^ key[i % 4]);
  assert.deepEqual(Buffer.from(unmasked).toString('utf8'), message);
  assert.deepEqual([...hexBytes(await text(page, '#inspect-unmasked'))], [...unmasked]);
  const fields = await text(page, '#inspect-fields');
  assert.match(fields, /Opcode\s+0x1 — text/);
  assert.match(fields, /MASK\s+1/);
  assert.match(fields, new RegExp(`Payload length\\s+${Buffer.byteLength(message)} bytes`));

  // A binary frame.
  await page.check('input[name="inspect-mode"][value="binary"]');
  await page.fill('#inspect-input', 'de ad be ef 00 ff');
  await page.click('#inspect-send');
  await page.waitForFunction(() => document.querySelector('#inspect-typed').textContent === 'de ad be ef 00 ff',
    null, { timeout: WAIT });
  assert.equal(await page.locator('#inspect-match').getAttribute('data-match'), 'true');
  assert.match(await text(page, '#inspect-fields'), /Opcode\s+0x2 — binary/);
  assert.equal(await text(page, '#inspect-unmasked'), 'de ad be ef 00 ff');

  // A frame longer than the server reports whole gets a clear explanation, not a wrong decode.
  await page.check('input[name="inspect-mode"][value="text"]');
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
