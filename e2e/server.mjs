// The `switchyard` binary for the browser tests: started on a loopback port the kernel picks,
// stopped when the test file ends. Shared by the Chromium and Firefox tests.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = resolve(ROOT, process.env.SWITCHYARD_BIN ?? 'target/debug/switchyard');

let server;
let serverLog = '';

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
 * Starts switchyard on a port the kernel picks (`--listen 127.0.0.1:0`, then `args`) and
 * resolves with the base URL it prints on stdout ("switchyard listening on
 * http://127.0.0.1:PORT"), once it answers `/healthz`. Fails if the binary or the wasm package
 * it serves is missing. One server at a time: a new one replaces the last.
 */
export async function startServer(args = []) {
  stopServer();
  serverLog = '';
  assert.ok(existsSync(BIN), `no server binary at ${BIN}: build it (cargo build -p switchyard-server --bin switchyard)`);
  assert.ok(existsSync(join(ROOT, 'www/pkg/switchyard_wasm.js')),
    'no wasm package: build it (wasm-pack build wasm --target web --out-dir ../www/pkg)');
  server = spawn(BIN, ['--listen', '127.0.0.1:0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const baseUrl = await new Promise((ok, fail) => {
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
  await waitForHttp(`${baseUrl}healthz`, 10_000);
  return baseUrl;
}

export function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
}
process.on('exit', stopServer);

/** A message that compresses well: the JSON a chat or a dashboard sends. */
export function compressibleJson(records) {
  const rows = [];
  for (let i = 0; i < records; i++) {
    rows.push({ id: i, user: `user-${i % 7}`, text: 'Hello, Switchyard — ünïcödé ✓', tags: ['websocket', 'deflate'], ok: i % 3 === 0 });
  }
  return JSON.stringify({ type: 'batch', rows });
}
