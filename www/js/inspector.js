// Panel 2: the frame inspector. The visitor sends a message; the server reports the exact
// bytes it received; the page decodes them with switchyard-core (wasm), inflates a compressed
// one with the core's permessage-deflate, and compares.
import { $, el, hex, parseHex, sameBytes } from './util.js';

// Messages sent and not yet reported, oldest first: the server reports frames in order.
const pending = [];
// The raw data frames of the message being reported, until its final frame (FIN): a
// message is compared with what was sent once, whole, however many frames it came in.
const fragments = [];
// The server's count of frame reports it dropped (it keeps at most 64 waiting), as last
// seen; when it grows, the reports that follow are matched with what was sent afresh.
const dropped = { seen: 0, resync: false };
// What the /inspect handshake agreed: the server's Sec-WebSocket-Extensions answer, and the
// route's message limit, which bounds what a message may inflate to.
const agreement = { extensions: '', messageLimit: 0 };
const RSV1 = 0b100;
// Payload bytes shown in the byte map before "… N more".
const SHOWN_PAYLOAD = 48;

function inlineError(text) {
  const node = $('inspect-error');
  node.textContent = text;
  node.hidden = !text;
}

/** Wires the form; `send(data)` sends on the /inspect socket and returns false if it is not open. */
export function initInspector(send) {
  const input = $('inspect-input');
  const mode = () => document.querySelector('input[name="inspect-mode"]:checked').value;
  for (const radio of document.querySelectorAll('input[name="inspect-mode"]')) {
    radio.addEventListener('change', () => {
      input.value = mode() === 'text' ? 'Hello' : 'de ad be ef 00 ff';
      inlineError('');
    });
  }
  $('inspect-form').addEventListener('submit', (event) => {
    event.preventDefault();
    inlineError('');
    let bytes;
    let data;
    if (mode() === 'text') {
      data = input.value;
      bytes = new TextEncoder().encode(data);
    } else {
      bytes = parseHex(input.value);
      if (!bytes) {
        inlineError('Binary mode takes hex bytes, such as "de ad be ef".');
        return;
      }
      data = bytes;
    }
    if (!send(data)) {
      inlineError('Not connected to /inspect: the frame was not sent.');
      return;
    }
    pending.push({ mode: mode(), bytes, typed: input.value });
  });
}

/** Forgets what was in flight (the connection was replaced). */
export function resetInspector() {
  pending.length = 0;
  fragments.length = 0;
  dropped.seen = 0;
  dropped.resync = false;
  setAgreement('', 0);
}

/** What the connection's handshake agreed (from its report). */
export function setAgreement(extensions, messageLimit) {
  agreement.extensions = extensions;
  agreement.messageLimit = messageLimit;
}

/** The bytes of `parts`, one after another. */
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * For a compressed message (RSV1 on its first frame, RFC 7692 §6): the message the core
 * inflated from the raw bytes of its frames, or why it could not. Null for an uncompressed one.
 */
function inflate(sy, first, parts) {
  if (!(first.rsv & RSV1)) return null;
  try {
    return { message: sy.receiveMessage(agreement.extensions, concat(parts), agreement.messageLimit) };
  } catch (error) {
    const close = error.kind === 'protocol' ? ` The server closes the connection with ${error.closeCode} (${error.reason}).` : '';
    return { error: `receiveMessage refused it: ${error.message}.${close}` };
  }
}

/** The raw bytes of a frame report: the server sends them as `raw_hex`. */
function rawBytes(report) {
  if (typeof report.raw_hex === 'string') return parseHex(report.raw_hex);
  return null;
}

/** Handles one `{"type":"frame"}` report. `sy` is the wasm module (null if it failed). */
export function onFrameReport(sy, report) {
  const raw = rawBytes(report);
  if (!raw) {
    inlineError('The server reported a frame without its raw bytes.');
    return;
  }
  if (!sy) {
    inlineError('The server reported a frame, but the wasm core failed to load, so it cannot be decoded here.');
    return;
  }
  let frame;
  try {
    frame = sy.decodeFrame(raw);
  } catch (error) {
    pending.shift();
    if (report.truncated) {
      const whole = report.raw_length ? ` of its ${report.raw_length}` : '';
      inlineError(`That frame is too long to inspect: the server reports only its first ${raw.length}` +
        `${whole} bytes, so decodeFrame cannot take it whole (${error.message}).`);
    } else if (error.kind === 'protocol') {
      inlineError(`decodeFrame refused the bytes: ${error.message}. A peer would close the connection ` +
        `with ${error.closeCode} (${error.reason}).`);
    } else {
      inlineError(`decodeFrame: ${error.message}.`);
    }
    return;
  }
  if (typeof report.dropped === 'number' && report.dropped > dropped.seen) {
    // Reports were dropped: which sends they answered is unknown, so the next message is
    // matched with the first send that equals it (see `nextSent`).
    dropped.seen = report.dropped;
    dropped.resync = true;
    fragments.length = 0;
  }
  if (frame.isControl) {
    // Not something the visitor typed: note it without replacing the frame on display.
    const why = frame.opcodeName === 'pong' ? ": its automatic answer to the server's keepalive ping" : '';
    note(`Your browser also sent a ${frame.opcodeName} frame ` +
      `(${frame.payloadLength} payload bytes, masked with ${hex(frame.maskKey ?? [])})${why}.`);
    return;
  }
  fragments.push(raw);
  if (!frame.fin) {
    // RFC 6455 §5.4: a message may come in several frames (a browser splits a long one);
    // control frames may come between them.
    note(`Frame ${fragments.length} of a message in several frames (FIN clear): it is shown ` +
      'once its final frame arrives.');
    return;
  }
  const parts = fragments.splice(0);
  const first = parts.length > 1 ? sy.decodeFrame(parts[0]) : frame;
  if (parts.length > 1) {
    note(`This message came in ${parts.length} frames (RSV1 on the first only, when compressed: ` +
      'RFC 7692 §6); the last is shown, and the message is all of them.');
  }
  const inflated = inflate(sy, first, parts);
  // Uncompressed, the message is its frames' payloads, one after another.
  const message = inflated
    ? (inflated.error ? null : inflated.message.data)
    : concat(parts.map((part) => sy.decodeFrame(part).payload));
  render(frame, raw, nextSent(message), inflated, message, parts.length);
}

/** Shows `text` below the inspector, without replacing the frame on display. */
function note(text) {
  const node = $('inspect-note');
  node.textContent = text;
  node.hidden = false;
}

/**
 * What was sent that this message answers: the oldest send, or, after the server dropped
 * reports, the first send equal to it (those before it had their reports dropped).
 */
function nextSent(message) {
  if (dropped.resync) {
    dropped.resync = false;
    const at = message ? pending.findIndex((sent) => sameBytes(message, sent.bytes)) : -1;
    if (at > 0) {
      note(`The server dropped ${dropped.seen} frame reports it could not keep (at most 64 wait): ` +
        `${at} message(s) sent before this one went unreported.`);
      pending.splice(0, at);
    }
  }
  return pending.shift();
}

function lengthForm(frame) {
  const bits = { 2: '7-bit field', 4: '16-bit extended length', 10: '64-bit extended length' };
  return bits[frame.headerLength - (frame.masked ? 4 : 0)];
}

function rsvMeaning(rsv) {
  if (rsv === RSV1) return 'RSV1 set: the payload is compressed (permessage-deflate, RFC 7692 §6)';
  return rsv ? 'set: only an extension may use them' : 'no extension applies to this frame';
}

function render(frame, raw, sent, inflated, message, frames) {
  inlineError('');
  $('inspect-result').hidden = false;

  // The byte map: every header byte coloured by the field it holds, then the payload.
  const keyStart = frame.headerLength - (frame.masked ? 4 : 0);
  const segment = (i) =>
    i === 0 ? 'seg-b0' : i === 1 ? 'seg-b1' : i < keyStart ? 'seg-ext' : i < frame.headerLength ? 'seg-key' : 'seg-payload';
  const shown = Math.min(raw.length, frame.headerLength + SHOWN_PAYLOAD);
  const cells = [];
  for (let i = 0; i < shown; i++) cells.push(el('span', { class: segment(i) }, hex([raw[i]])));
  if (raw.length > shown) cells.push(el('span', { class: 'more' }, `… ${raw.length - shown} more bytes`));
  $('inspect-bytes').replaceChildren(...cells);

  const bit = (on) => (on ? '1' : '0');
  const rows = [
    ['FIN', `${bit(frame.fin)} — ${frame.fin ? 'the final frame of its message' : 'more frames follow'}`],
    ['RSV1 RSV2 RSV3', `${(frame.rsv >> 2) & 1} ${(frame.rsv >> 1) & 1} ${frame.rsv & 1} — ${rsvMeaning(frame.rsv)}`],
    ['Opcode', `0x${frame.opcode.toString(16)} — ${frame.opcodeName}`],
    ['MASK', `${bit(frame.masked)} — ${frame.masked ? 'masked, as every client frame must be' : 'not masked'}`],
    ['Payload length', `${frame.payloadLength} bytes, in the ${lengthForm(frame)}`],
    ['Header length', `${frame.headerLength} bytes (frame: ${frame.frameLength} bytes)`],
  ];
  if (frame.closeCode !== undefined) rows.push(['Close', `${frame.closeCode} "${frame.closeReason}"`]);
  $('inspect-fields').replaceChildren(
    ...rows.map(([name, value]) => el('tr', {}, el('th', {}, name), el('td', {}, value))),
  );

  $('inspect-mask-key').textContent = frame.maskKey ? hex(frame.maskKey) : '(none)';
  $('inspect-masked').textContent = hex(frame.maskedPayload) || '(empty)';
  $('inspect-unmasked').textContent = hex(frame.payload) || '(empty)';
  $('inspect-unmasked-note').textContent = inflated
    ? 'byte XOR key[i mod 4]: deflate data, not yet the message'
    : 'byte XOR key[i mod 4]';
  // The message's bytes: inflated by the core when compressed, else the payload itself.
  const inflatedCell = $('inspect-inflated');
  inflatedCell.dataset.state = inflated ? (inflated.error ? 'error' : 'ok') : 'none';
  if (!inflated) {
    inflatedCell.textContent = frames > 1
      ? `nothing to inflate: RSV1 is clear on the first frame, the ${frames} payloads are the message`
      : 'nothing to inflate: RSV1 is clear, the payload is the message';
  } else if (inflated.error) {
    inflatedCell.textContent = inflated.error;
  } else {
    const wire = frames > 1 ? `its ${frames} frames' payloads` : `${frame.payloadLength} on the wire`;
    inflatedCell.textContent = `${message.length} bytes inflated from ${wire}, ` +
      `by switchyard-core's receive path (inflating within the ${agreement.messageLimit}-byte message limit)`;
  }
  const asText = frame.opcodeName === 'text' || sent?.mode === 'text';
  if (message === null) {
    $('inspect-decoded').textContent = '—';
  } else {
    $('inspect-decoded').textContent = asText
      ? JSON.stringify(new TextDecoder().decode(message))
      : hex(message) || '(empty)';
  }
  $('inspect-typed').textContent = sent ? (sent.mode === 'text' ? JSON.stringify(sent.typed) : hex(sent.bytes)) : '—';

  const match = $('inspect-match');
  if (!sent) {
    match.dataset.match = 'false';
    match.textContent = '✗ The server reported a frame this page did not send.';
  } else if (message !== null && sameBytes(message, sent.bytes)) {
    match.dataset.match = 'true';
    match.textContent = inflated
      ? `✓ The inflated message equals what you sent (${sent.bytes.length} bytes` +
        `${frames > 1 ? '' : `, ${frame.payloadLength} on the wire`}).`
      : `✓ The decoded payload equals what you sent (${sent.bytes.length} bytes).`;
  } else if (message === null) {
    match.dataset.match = 'false';
    match.textContent = '✗ The compressed message could not be inflated: see above.';
  } else {
    match.dataset.match = 'false';
    match.textContent = '✗ The decoded payload differs from what you sent.';
  }
}
