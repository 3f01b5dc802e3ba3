// The demo over https:// in real browsers, trusting the server's own certificate
// (`switchyard --tls-self-signed`) in a fresh NSS profile: headless Chromium (playwright-core)
// loads the page over HTTP/2 and its WebSocket goes over HTTP/2 too (RFC 8441), as /inspect
// reports; with --no-http2 the same page runs over HTTP/1.1, its 101 verified three ways. Firefox ESR
// (geckodriver) opens its WebSocket over HTTP/2 with network.http.http2.websockets set.
//
// Needs certutil (libnss3-tools), Chromium and Firefox ESR and geckodriver:
// scripts/tools.sh browsers. Never downloads anything.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = resolve(ROOT, process.env.SWITCHYARD_BIN ?? 'target/debug/switchyard');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const WAIT = 20_000;

const cleanups = [];
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-e2e-${name}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts `switchyard --tls-self-signed` (and `extra` flags) on a free port; resolves with the
 * https base URL and the path of the certificate file it logged.
 */
function startServer(extra = []) {
  assert.ok(existsSync(BIN), `no server binary at ${BIN}: cargo build -p switchyard-server`);
  const server = spawn(BIN, ['--listen', '127.0.0.1:0', '--tls-self-signed', ...extra], {
    cwd: ROOT,
    env: { ...process.env, RUST_LOG: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => server.exitCode === null && server.kill('SIGTERM'));
  let log = '';
  let url = null;
  let cert = null;
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`switchyard did not start:\n${log}`)), 20_000);
    const seen = () => {
      if (url && cert) {
        clearTimeout(timer);
        ok({ url, cert });
      }
    };
    server.stdout.on('data', (chunk) => {
      url ??= String(chunk).match(/listening on (https:\/\/127\.0\.0\.1:\d+)/)?.[1] ?? null;
      seen();
    });
    server.stderr.on('data', (chunk) => {
      log = (log + chunk).slice(-8000);
      // The log may be coloured or not; the path ends at whitespace.
      cert ??= log.match(/cert=(\S+\.pem)/)?.[1] ?? null;
      seen();
    });
    server.once('exit', (code) => fail(new Error(`switchyard exited (${code}):\n${log}`)));
  });
}

/** A fresh NSS database in `dir` that trusts `cert` for TLS servers. */
function trustIn(dir, cert, trust) {
  try {
    execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password']);
    execFileSync('certutil', ['-A', '-n', 'switchyard-test', '-t', trust, '-i', cert, '-d', `sql:${dir}`]);
  } catch (error) {
    throw new Error(`certutil failed (scripts/tools.sh browsers installs libnss3-tools): ${error.message}`);
  }
}

/** Opens a WebSocket to /inspect from the page and resolves with the server's first report. */
const inspectReport = (page) => page.evaluate(() => new Promise((ok, fail) => {
  const ws = new WebSocket(`${location.origin.replace('https', 'wss')}/inspect`);
  ws.onmessage = (event) => { ok(JSON.parse(event.data)); ws.close(1000); };
  ws.onerror = () => fail(new Error('the WebSocket failed'));
}));

async function chromiumWith(home) {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/tools.sh browsers`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    // Chromium on Linux reads the user's NSS database under $HOME/.pki/nssdb.
    env: { ...process.env, HOME: home },
    args: ['--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic'],
  });
}

test('Chromium loads the demo over https and HTTP/2, and its WebSocket goes over HTTP/2', { timeout: 90_000 }, async () => {
  const { url, cert } = await startServer();
  const home = tempDir('chromium-home');
  execFileSync('mkdir', ['-p', join(home, '.pki', 'nssdb')]);
  trustIn(join(home, '.pki', 'nssdb'), cert, 'CP,,');
  const browser = await chromiumWith(home);
  try {
    const page = await browser.newPage();
    const response = await page.goto(`${url}/`);
    assert.equal(response.status(), 200);
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol), 'h2');

    // The page's own /inspect WebSocket: the panel shows the HTTP/2 exchange, verified.
    const status = page.locator('#handshake-status');
    await status.locator('xpath=self::*[@data-verified!="pending"]').waitFor({ timeout: WAIT });
    assert.equal(await status.getAttribute('data-verified'), 'true', await status.innerText());
    assert.match(await page.locator('#hs-response').innerText(), /^:status: 200/);
    assert.match(await page.locator('#hs-request').innerText(), /^:protocol: websocket$/m);
    const note = await page.locator('#hs-http2-note').innerText();
    assert.match(note, /RFC 8441/);
    assert.match(note, /no Sec-WebSocket-Accept/);
    // The reason RFC 8441 §5 gives: the key and accept's role is superseded by :protocol.
    assert.match(note, /RFC 8441 §5 drops both, that role "superseded by the :protocol pseudo-header field"/);

    // permessage-deflate, which Chromium offers, is negotiated over HTTP/2 as over HTTP/1.1.
    assert.match(await page.locator('#hs-response').innerText(), /^sec-websocket-extensions: permessage-deflate/m);

    // What the server saw, asked directly: an extended CONNECT over HTTP/2.
    const report = await inspectReport(page);
    assert.equal(report.http_version, 'HTTP/2');
    assert.match(report.request, /^:method: CONNECT$/m);
    assert.match(report.request, /^sec-websocket-version: 13$/m);
    assert.equal(report.accept, '');
  } finally {
    await browser.close();
  }
});

test('with --no-http2 the same page runs over HTTP/1.1 with a 101', { timeout: 90_000 }, async () => {
  // With permessage-deflate, as served by default: wss:// over HTTP/1.1 agrees to it too.
  const { url, cert } = await startServer(['--no-http2']);
  const home = tempDir('chromium-home-h1');
  execFileSync('mkdir', ['-p', join(home, '.pki', 'nssdb')]);
  trustIn(join(home, '.pki', 'nssdb'), cert, 'CP,,');
  const browser = await chromiumWith(home);
  try {
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol), 'http/1.1');
    const report = await inspectReport(page);
    assert.equal(report.http_version, 'HTTP/1.1');
    assert.match(report.response, /^HTTP\/1\.1 101 /);
    assert.match(report.accept, /^[A-Za-z0-9+/]{27}=$/);
    // The page verifies the 101 three ways, as over plain http.
    const status = page.locator('#handshake-status');
    await status.locator('xpath=self::*[@data-verified!="pending"]').waitFor({ timeout: WAIT });
    assert.equal(await status.getAttribute('data-verified'), 'true', await status.innerText());
    assert.match(await page.locator('#hs-response').innerText(), /^HTTP\/1\.1 101 /);
    assert.equal(await page.locator('#hs-wasm-accept').innerText(), await page.locator('#hs-server-accept').innerText());
    assert.equal(await page.locator('#hs-http2-note').isHidden(), true);
    assert.match(report.response, /^Sec-WebSocket-Extensions: permessage-deflate/m);
    assert.match(await page.locator('#hs-ext-core').innerText(), /permessage-deflate agreed/);
  } finally {
    await browser.close();
  }
});

/** A WebDriver command to geckodriver. */
async function webdriver(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json)}`);
  return json.value;
}

test('Firefox opens its WebSocket over HTTP/2 with network.http.http2.websockets', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(FIREFOX), `no Firefox at ${FIREFOX}: scripts/tools.sh browsers`);
  const { url, cert } = await startServer();
  const profile = tempDir('firefox-profile');
  trustIn(profile, cert, 'CT,C,C');
  const driver = spawn('geckodriver', ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => driver.exitCode === null && driver.kill('SIGTERM'));
  driver.on('error', (error) => assert.fail(`geckodriver cannot start (scripts/tools.sh browsers): ${error.message}`));
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('geckodriver printed no address')), 20_000);
    driver.stdout.on('data', (chunk) => {
      const found = String(chunk).match(/Listening on (\S+:\d+)/);
      if (found) {
        clearTimeout(timer);
        ok(`http://${found[1]}`);
      }
    });
  });
  const session = await webdriver(base, 'POST', '/session', {
    capabilities: {
      alwaysMatch: {
        browserName: 'firefox',
        'moz:firefoxOptions': {
          binary: FIREFOX,
          args: ['-headless', '-profile', profile],
          prefs: { 'network.http.http2.websockets': true },
        },
      },
    },
  });
  const id = session.sessionId;
  try {
    await webdriver(base, 'POST', `/session/${id}/url`, { url: `${url}/` });
    const protocol = await webdriver(base, 'POST', `/session/${id}/execute/sync`, {
      script: "return performance.getEntriesByType('navigation')[0].nextHopProtocol;",
      args: [],
    });
    assert.equal(protocol, 'h2');
    const report = await webdriver(base, 'POST', `/session/${id}/execute/async`, {
      script: `const done = arguments[arguments.length - 1];
        const ws = new WebSocket(location.origin.replace('https', 'wss') + '/inspect');
        ws.onmessage = (event) => { done(JSON.parse(event.data)); ws.close(1000); };
        ws.onerror = () => done({ error: 'the WebSocket failed' });`,
      args: [],
    });
    assert.equal(report.http_version, 'HTTP/2', JSON.stringify(report));
    assert.match(report.request, /^:protocol: websocket$/m);
    assert.match(report.request, /^sec-websocket-version: 13$/m);
  } finally {
    await webdriver(base, 'DELETE', `/session/${id}`);
  }
});
