// Panel 1: the opening handshake, verified three ways.
//
// The server's first message on /inspect holds the raw request head it received from this
// browser and the raw response head it sent back. The page recomputes the accept value with
// switchyard-core (wasm) and with WebCrypto, and lets the core check the whole 101 answer,
// permessage-deflate's answer included (RFC 7692 §7.1), against what the browser offered.
import { $, setMark, headerValue } from './util.js';
import { webCryptoAccept } from './webcrypto.js';

const FIELDS = ['hs-key', 'hs-server-accept', 'hs-wasm-accept', 'hs-webcrypto-accept', 'hs-core-check',
  'hs-ext-offer', 'hs-ext-answer', 'hs-ext-browser', 'hs-ext-core'];
const MARKS = ['hs-key-mark', 'hs-wasm-mark', 'hs-webcrypto-mark', 'hs-core-mark', 'hs-ext-browser-mark',
  'hs-ext-core-mark'];

function verdict(state, text) {
  const status = $('handshake-status');
  status.dataset.verified = state;
  status.textContent = text;
}

/** Back to "waiting" (a new connection is on its way). */
export function resetHandshake() {
  verdict('pending', "Waiting for the server's report…");
  for (const id of FIELDS) $(id).textContent = '—';
  for (const id of MARKS) $(id).replaceChildren();
  $('hs-request').textContent = '—';
  $('hs-response').textContent = '—';
  $('hs-http2-note').hidden = true;
}

/** The handshake could not be seen at all (server down, wasm missing, bad report). */
export function handshakeFailed(why) {
  verdict('false', `✗ Not verified: ${why}`);
}

/** The `name: value` fields of an HTTP/2 report, pseudo-headers included (`:method`...). */
function h2Fields(text) {
  const fields = new Map();
  for (const line of text.split('\n')) {
    const at = line.indexOf(': ', line.startsWith(':') ? 1 : 0);
    if (at > 0) fields.set(line.slice(0, at).toLowerCase(), line.slice(at + 2));
  }
  return fields;
}

/**
 * The handshake of a WebSocket over HTTP/2 (RFC 8441): an extended CONNECT answered 200. There
 * is no Sec-WebSocket-Key, so no Sec-WebSocket-Accept to recompute (§5: their processing is
 * "superseded by the :protocol pseudo-header field"; over HTTP/1.1 the accept shows that the
 * server understood a WebSocket handshake, RFC 6455 §1.3, which here the server's answer to
 * :protocol websocket shows). What can be checked still is: version 13, the origin, the
 * :protocol, and the negotiation.
 */
function showHttp2Handshake(request, response) {
  const req = h2Fields(request);
  const res = h2Fields(response);
  const version = req.get('sec-websocket-version') ?? '(missing)';
  const origin = req.get('origin') ?? '(none)';
  const protocolAnswer = res.get('sec-websocket-protocol') ?? null;
  const extensionAnswer = res.get('sec-websocket-extensions') ?? null;
  const note = $('hs-http2-note');
  note.hidden = false;
  note.textContent =
    `This WebSocket runs over HTTP/2 (RFC 8441): your browser sent :method ${req.get(':method')} with ` +
    `:protocol ${req.get(':protocol')} on ${req.get(':path')} and the server answered :status ` +
    `${res.get(':status')}. There is no Sec-WebSocket-Key (your browser sent ` +
    `${req.has('sec-websocket-key') ? 'one anyway' : 'none'}) and so no Sec-WebSocket-Accept: over ` +
    'HTTP/1.1 the accept shows that the server understood a WebSocket handshake (RFC 6455 §1.3), and ' +
    'RFC 8441 §5 drops both, that role "superseded by the :protocol pseudo-header field": the server ' +
    'answered a request for :protocol websocket. The version, origin and negotiation are checked instead.';
  $('hs-key').textContent = '(none over HTTP/2)';
  $('hs-server-accept').textContent = '(none over HTTP/2)';
  $('hs-wasm-accept').textContent = 'not applicable: no key to hash';
  $('hs-webcrypto-accept').textContent = 'not applicable: no key to hash';
  // Only what the browser offered may be agreed (RFC 6455 §4.2.2, §9.1; RFC 8441 §5).
  const offered = (name) => (req.get(name) ?? '').split(',').map((e) => e.split(';')[0].trim().toLowerCase());
  const agreed = (answer) => answer.split(';')[0].trim().toLowerCase();
  const checks = [
    [req.get(':method') === 'CONNECT' && req.get(':protocol') === 'websocket', 'an extended CONNECT for websocket'],
    [res.get(':status') === '200', 'answered 200'],
    [version === '13', `Sec-WebSocket-Version ${version}`],
    [origin === location.origin, `Origin ${origin} (this page's)`],
    [protocolAnswer === null || offered('sec-websocket-protocol').includes(protocolAnswer),
      `subprotocol: ${protocolAnswer ?? 'none agreed'}`],
    [extensionAnswer === null || offered('sec-websocket-extensions').includes(agreed(extensionAnswer)),
      `extensions: ${extensionAnswer === null ? 'none agreed' : `${extensionAnswer}, as your browser offered`}`],
  ];
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  $('hs-core-check').textContent = checks.map(([ok, what]) => `${ok ? '✓' : '✗'} ${what}`).join('; ');
  setMark($('hs-core-mark'), failed.length === 0, 'valid', 'disagrees');
  if (failed.length === 0) {
    verdict('true', '✓ Verified over HTTP/2: an extended CONNECT answered 200, version 13, your ' +
      'page\'s origin, and no subprotocol or extension agreed that your browser did not offer.');
  } else {
    handshakeFailed(failed.join('; '));
  }
}

/** The agreement the core read, in words. */
function describeAgreement(deflate) {
  const window = (bits) => `${2 ** bits / 1024} KiB (${bits} bits)`;
  const browser = deflate.clientNoContextTakeover
    ? 'empties its window after every message'
    : 'keeps its window from message to message';
  const server = deflate.serverNoContextTakeover
    ? 'empties its window after every message'
    : 'keeps its window from message to message';
  return `permessage-deflate agreed. Your browser compresses with a window of at most ` +
    `${window(deflate.clientMaxWindowBits)} and ${browser}; the server with at most ` +
    `${window(deflate.serverMaxWindowBits)} and ${server}.`;
}

/**
 * The compression rows: what the browser offered and the server answered (from the raw heads),
 * what the browser says it uses, and what the core read from them (`check`, null when the core
 * refused the handshake or is not loaded).
 */
function showExtensions(request, response, browserExtensions, check, problems) {
  const offer = headerValue(request, 'Sec-WebSocket-Extensions');
  const answer = headerValue(response, 'Sec-WebSocket-Extensions');
  $('hs-ext-offer').textContent = offer ?? '(none offered)';
  $('hs-ext-answer').textContent = answer ?? '(none: no extension agreed)';
  $('hs-ext-browser').textContent = browserExtensions || '(none)';
  // Chromium reports the server's answer whole, Firefox only the extensions' names.
  const names = (list) => (list ?? '').split(',').map((element) => element.split(';')[0].trim().toLowerCase())
    .filter(Boolean).join(', ');
  const same = names(browserExtensions) === names(answer);
  const whole = browserExtensions === (answer ?? '');
  setMark($('hs-ext-browser-mark'), same, whole ? "the server's answer" : 'the extension the server agreed',
    "not the server's answer");
  if (!same) problems.push("the browser reports other extensions than the server's answer");
  if (!check) {
    $('hs-ext-core').textContent = 'not read: see the check above';
    setMark($('hs-ext-core-mark'), false, '', 'not checked');
  } else if (check.deflate) {
    $('hs-ext-core').textContent = describeAgreement(check.deflate);
    setMark($('hs-ext-core-mark'), true, 'valid for the offer');
  } else {
    $('hs-ext-core').textContent = 'No compression: every message travels as it is.';
    setMark($('hs-ext-core-mark'), true, 'valid');
  }
}

/**
 * Shows and checks one handshake. `sy` is the wasm module, or null if it failed to load (then
 * the handshake cannot be verified, and says so); `browserExtensions` is the socket's
 * `WebSocket.extensions`. `httpVersion` is the server's `http_version`: over HTTP/2 there is
 * no key and accept to verify (see above).
 */
export async function showHandshake(sy, request, response, browserExtensions, httpVersion = 'HTTP/1.1') {
  $('hs-http2-note').hidden = true;
  if (httpVersion === 'HTTP/2') {
    $('hs-request').textContent = request;
    $('hs-response').textContent = response;
    showHttp2Handshake(request, response);
    return;
  }
  $('hs-request').textContent = request;
  $('hs-response').textContent = response;
  // Read for display only; the core parses both heads itself below.
  const key = headerValue(request, 'Sec-WebSocket-Key');
  const serverAccept = headerValue(response, 'Sec-WebSocket-Accept');
  $('hs-key').textContent = key ?? '(missing)';
  $('hs-server-accept').textContent = serverAccept ?? '(missing)';
  const problems = [];
  if (key === null) problems.push('the request has no Sec-WebSocket-Key');
  if (serverAccept === null) problems.push('the response has no Sec-WebSocket-Accept');

  // One: switchyard-core, compiled to wasm.
  if (!sy) {
    $('hs-wasm-accept').textContent = 'unavailable: the wasm core failed to load';
    setMark($('hs-wasm-mark'), false, '', 'not computed');
    problems.push('switchyard-core (wasm) is not loaded');
  } else if (key !== null) {
    const keyOk = sy.isValidKey(key);
    setMark($('hs-key-mark'), keyOk, 'base64 of 16 bytes', 'not base64 of 16 bytes');
    if (!keyOk) problems.push('the key is not base64 of 16 bytes');
    const wasmAccept = sy.acceptKey(key);
    $('hs-wasm-accept').textContent = wasmAccept;
    const ok = wasmAccept === serverAccept && sy.verifyAccept(key, serverAccept);
    setMark($('hs-wasm-mark'), ok);
    if (!ok) problems.push('switchyard-core computes a different accept value');
  }

  // Two: WebCrypto, independent of the core.
  try {
    const webAccept = await webCryptoAccept(key ?? '');
    $('hs-webcrypto-accept').textContent = webAccept;
    const ok = webAccept === serverAccept;
    setMark($('hs-webcrypto-mark'), ok);
    if (!ok) problems.push('WebCrypto computes a different accept value');
  } catch (error) {
    $('hs-webcrypto-accept').textContent = error.message;
    setMark($('hs-webcrypto-mark'), false, '', 'not computed');
    problems.push('WebCrypto could not compute the accept value');
  }

  // Three: the core's own handshake code judges both heads, as a server and as a client would.
  let check = null;
  if (sy) {
    try {
      check = sy.verifyHandshake(request, response);
      const ok = check.key === key && check.accept === serverAccept;
      $('hs-core-check').textContent =
        `101 accepted: the request is a valid upgrade for ${check.path}, and the answer has ` +
        `Upgrade, Connection and the right Sec-WebSocket-Accept`;
      setMark($('hs-core-mark'), ok, 'valid', 'disagrees');
      if (!ok) problems.push('the core read different values from the heads');
    } catch (error) {
      $('hs-core-check').textContent = error.message;
      setMark($('hs-core-mark'), false, '', 'refused');
      problems.push(`the core refused the handshake (${error.message})`);
    }
  } else {
    $('hs-core-check').textContent = 'unavailable: the wasm core failed to load';
    setMark($('hs-core-mark'), false, '', 'not checked');
  }
  showExtensions(request, response, browserExtensions, check, problems);

  if (problems.length === 0) {
    verdict('true', '✓ Verified: the server answered your browser\'s key with exactly the accept ' +
      'value switchyard-core and WebCrypto compute, and the core accepts the whole exchange.');
  } else {
    handshakeFailed(problems.join('; '));
  }
}
