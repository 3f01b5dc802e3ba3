// The demo page in headless Firefox: Debian's firefox-esr driven through geckodriver (built by
// `scripts/tools.sh browsers`) with selenium-webdriver. Playwright's own Firefox build cannot
// be had here, and Firefox matters on its own: it offers a bare `permessage-deflate`, with no
// `client_max_window_bits`, so the server cannot hold it to a small window and must answer
// `client_no_context_takeover` instead (RFC 7692 §7.1.1.2, §7.1.2.2). Firefox's
// `WebSocket.extensions` names the extension only; the whole answer is read from the response
// head /inspect reports.
//
// A missing browser or driver fails these tests; nothing is skipped and nothing downloaded.
// Environment: FIREFOX (default /usr/bin/firefox-esr), GECKODRIVER (default: geckodriver on
// PATH, else ~/.cargo/bin/geckodriver), SWITCHYARD_BIN as for the Chromium test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { Builder, By, until } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import { startServer, stopServer, compressibleJson } from './server.mjs';

const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const GECKODRIVER = process.env.GECKODRIVER ?? findGeckodriver();
const WAIT = 20_000;
// The server's answer on /inspect to Firefox's bare offer: a 12-bit window for what the
// server sends, and a fresh window for each message Firefox sends.
const FIREFOX_ANSWER = 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12';

let baseUrl;
let driver;

function findGeckodriver() {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), join(homedir(), '.cargo', 'bin')];
  const found = dirs.map((dir) => join(dir, 'geckodriver')).find((path) => existsSync(path));
  return found ?? 'geckodriver (not found on PATH nor in ~/.cargo/bin)';
}

const text = async (selector) => (await driver.findElement(By.css(selector))).getText();
const waitFor = (selector) => driver.wait(until.elementLocated(By.css(selector)), WAIT, `waiting for ${selector}`);

/** The page's uncaught errors, collected by a listener the test installs. */
const pageErrors = () => driver.executeScript('return window.__errors');

async function openPage() {
  await driver.get(baseUrl);
  await driver.executeScript(`
    window.__errors = [];
    window.addEventListener('error', (e) => window.__errors.push(e.message));
    window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
  `);
}

before(async () => {
  assert.ok(existsSync(FIREFOX), `no Firefox at ${FIREFOX}: scripts/tools.sh browsers`);
  assert.ok(existsSync(GECKODRIVER), `no geckodriver at ${GECKODRIVER}: scripts/tools.sh browsers`);
  baseUrl = await startServer();
  const options = new firefox.Options().setBinary(FIREFOX).addArguments('-headless');
  // A driver path given up front: selenium-webdriver then never looks for one to download.
  const service = new firefox.ServiceBuilder(GECKODRIVER);
  driver = await new Builder().forBrowser('firefox').setFirefoxOptions(options).setFirefoxService(service).build();
});

after(async () => {
  await driver?.quit();
  stopServer();
});

test('Firefox offers a bare permessage-deflate and the server answers client_no_context_takeover', { timeout: 60_000 }, async () => {
  await openPage();
  await waitFor('#handshake-status:not([data-verified="pending"])');
  const status = await driver.findElement(By.css('#handshake-status'));
  assert.equal(await status.getAttribute('data-verified'), 'true', await status.getText());
  assert.equal(await text('#hs-ext-offer'), 'permessage-deflate');
  // The answer exactly as /inspect reports the bytes it wrote; the page's socket names it.
  const response = await text('#hs-response');
  assert.equal(response.match(/^Sec-WebSocket-Extensions: ([^\r\n]*)/im)?.[1], FIREFOX_ANSWER, response);
  assert.equal(await text('#hs-ext-answer'), FIREFOX_ANSWER);
  assert.equal(await text('#hs-ext-browser'), 'permessage-deflate');
  assert.match(await text('#hs-ext-browser-mark'), /the extension the server agreed/);
  assert.match(await text('#hs-ext-core'),
    /permessage-deflate agreed\. Your browser compresses with a window of at most 32 KiB \(15 bits\) and empties its window after every message; the server with at most 4 KiB \(12 bits\)/);
  for (const id of ['#hs-key-mark', '#hs-wasm-mark', '#hs-webcrypto-mark', '#hs-core-mark', '#hs-ext-browser-mark', '#hs-ext-core-mark']) {
    assert.equal(await driver.findElement(By.css(`${id} .mark`)).getAttribute('data-match'), 'true', id);
  }
  assert.deepEqual(await pageErrors(), []);
});

test('the inspector shows the bytes Firefox compressed and the message the wasm core inflated', { timeout: 60_000 }, async () => {
  await openPage();
  await waitFor('#conn-status[data-state="ok"]');
  await waitFor('#handshake-status[data-verified="true"]');
  const input = await driver.findElement(By.css('#inspect-input'));
  const send = async (message) => {
    // Set in one go: sendKeys of 5,000 characters would take a long while.
    await driver.executeScript('arguments[0].value = arguments[1]', input, message);
    await driver.findElement(By.css('#inspect-send')).click();
    await driver.wait(async () => (await text('#inspect-typed')) === JSON.stringify(message), WAIT,
      'waiting for the report of the message sent');
    const match = await driver.findElement(By.css('#inspect-match'));
    assert.equal(await match.getAttribute('data-match'), 'true', await match.getText());
  };

  // Firefox sends a message this short as it is (no context takeover lets it: RFC 7692 §6).
  await send('Hello');
  assert.match(await text('#inspect-fields'), /RSV1 RSV2 RSV3\s+0 0 0/);
  assert.equal(await driver.findElement(By.css('#inspect-inflated')).getAttribute('data-state'), 'none');

  const message = compressibleJson(40);
  await send(message);
  assert.match(await text('#inspect-fields'), /RSV1 RSV2 RSV3\s+1 0 0 — RSV1 set: the payload is compressed/);
  assert.equal(await driver.findElement(By.css('#inspect-inflated')).getAttribute('data-state'), 'ok');

  // Inflate the shown bytes here with Node's zlib, independently of the page: unmask with the
  // shown key, put back the 00 00 ff ff the sender removed (RFC 7692 §7.2.2).
  const hexBytes = (s) => Buffer.from(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));
  const key = hexBytes(await text('#inspect-mask-key'));
  const masked = hexBytes(await text('#inspect-masked'));
  const deflated = masked.map((b, i) => b ^ key[i % 4]);
  assert.deepEqual([...hexBytes(await text('#inspect-unmasked'))], [...deflated]);
  const inflated = inflateRawSync(Buffer.concat([deflated, Buffer.from([0, 0, 0xff, 0xff])]),
    { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  assert.equal(inflated.toString('utf8'), message);
  assert.ok(deflated.length * 5 < Buffer.byteLength(message), `${deflated.length} bytes on the wire`);
  assert.equal(await text('#inspect-inflated'),
    `${Buffer.byteLength(message)} bytes inflated from ${deflated.length} on the wire, by switchyard-core's ` +
    'receive path (inflating within the 1048576-byte message limit)');
  assert.equal(await text('#inspect-decoded'), JSON.stringify(message));
  assert.deepEqual(await pageErrors(), []);
});

test('compressible JSON echoes whole over /echo with compression', { timeout: 60_000 }, async () => {
  await openPage();
  const messages = [compressibleJson(10), compressibleJson(3000), compressibleJson(10), 'short'];
  const result = await driver.executeAsyncScript(async (messages, done) => {
    try {
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
      done({ extensions: ws.extensions, echoes });
      ws.close();
    } catch (error) {
      done({ error: error.message });
    }
  }, messages);
  assert.equal(result.error, undefined);
  assert.equal(result.extensions, 'permessage-deflate');
  assert.equal(result.echoes.length, messages.length);
  result.echoes.forEach((echo, i) => assert.ok(echo === messages[i], `message ${i} (${messages[i].length} bytes) came back changed`));
  assert.deepEqual(await pageErrors(), []);
});
