// Small helpers shared by the panels: DOM, hex, WebSocket URLs, close codes.
// Nothing here knows WebSocket's wire format: frames and handshakes go through the wasm core.

/** `document.getElementById`, failing loudly if the page and the script disagree. */
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node;
}

/** A new element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/** A green or red mark; `data-match` lets tests read it. */
export function mark(ok, yes = 'match', no = 'mismatch') {
  return el('span', { class: `mark ${ok ? 'ok' : 'bad'}`, 'data-match': String(ok) },
    ok ? `✓ ${yes}` : `✗ ${no}`);
}

/** Replaces a node's content with a mark. */
export function setMark(node, ok, yes, no) {
  node.replaceChildren(mark(ok, yes, no));
}

export function hex(bytes, sep = ' ') {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(sep);
}

/** Bytes from hex text such as "de ad be ef" or "deadbeef"; null if it is not hex. */
export function parseHex(text) {
  const digits = text.replace(/[\s,:]|0x/gi, '');
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) return null;
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function sameBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The ws:// or wss:// URL of a route on the server that served this page. */
export function wsUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

/** The value of one header field in a raw HTTP head, for display (null when absent). */
export function headerValue(head, name) {
  const wanted = name.toLowerCase();
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) {
      return line.slice(colon + 1).trim();
    }
  }
  return null;
}

// Plain-language meanings of the close codes a visitor may meet (RFC 6455 §7.4.1; 1012 and
// 1013 from the IANA WebSocket Close Code Number Registry, §11.7).
const CLOSE_MEANINGS = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code',
  1006: 'closed without a close frame',
  1007: 'invalid payload data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'a required extension was not agreed',
  1011: 'server error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failed',
};

/** "code 1000 (normal closure), reason "bye"" for a CloseEvent. */
export function describeClose(event) {
  const meaning = CLOSE_MEANINGS[event.code] ?? 'unknown code';
  const reason = event.reason ? `, reason "${event.reason}"` : ', no reason given';
  return `code ${event.code} (${meaning})${reason}`;
}

/** Sets a status pill's text and state (connecting, ok, closed, error). */
export function setPill(node, state, text) {
  node.dataset.state = state;
  node.textContent = text;
}

// The page-wide banner. When the server goes away every socket reports it at once: problems
// of the same kind and detail are merged into one line naming every route, so the visitor
// reads one clear story.
const problems = new Map();

/**
 * Reports a problem from `source` (a route such as "/echo", or "wasm"). `kind` groups lines:
 * "unreachable" and "closed" problems with the same `detail` share one line. `retry`, if given,
 * is run by the Reconnect button.
 */
export function showProblem(source, { kind = 'other', detail, retry }) {
  problems.set(source, { kind, detail, retry });
  renderBanner();
}

/** Clears `source`'s problem (it recovered). */
export function clearProblem(source) {
  problems.delete(source);
  renderBanner();
}

function routes(list) {
  return list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}

function renderBanner() {
  const groups = new Map();
  for (const [source, problem] of problems) {
    const id = `${problem.kind}\n${problem.detail}`;
    if (!groups.has(id)) groups.set(id, { ...problem, sources: [] });
    groups.get(id).sources.push(source);
  }
  const lines = [...groups.values()].map(({ kind, detail, sources }) => {
    if (kind === 'unreachable') {
      return `Cannot reach the server at ${location.host} (${routes(sources)}: ${detail}). ` +
        'Is switchyard running? Start it with: make run';
    }
    if (kind === 'closed') {
      const what = sources.length === 1 ? `The ${sources[0]} connection` : `The ${routes(sources)} connections`;
      return `${what} closed: ${detail}.`;
    }
    return detail;
  });
  $('banner-text').replaceChildren(...lines.map((line) => el('div', {}, line)));
  const retries = [...problems.values()].map(({ retry }) => retry).filter(Boolean);
  const button = $('banner-retry');
  button.hidden = retries.length === 0;
  button.onclick = () => retries.forEach((retry) => retry());
  $('banner').hidden = lines.length === 0;
}
