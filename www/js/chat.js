// Panels 4 and 5: echo and chat, two ordinary WebSocket conversations.
import { $, el, hex } from './util.js';
import { liveSocket } from './socket.js';

const MAX_LOG = 200;

function log(list, ...parts) {
  // Spaces between the parts, so the entry also reads right as plain text.
  list.append(el('li', {}, ...parts.flatMap((part, i) => (i ? [' ', part] : [part]))));
  while (list.children.length > MAX_LOG) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

const dir = (arrow) => el('span', { class: 'dir' }, arrow);
const sys = (text) => el('span', { class: 'sys' }, text);
const asText = (data) => (typeof data === 'string' ? data : `[${data.byteLength} binary bytes: ${hex(new Uint8Array(data))}]`);

function closeNote(list, event, wasOpen) {
  if (wasOpen) log(list, sys(`connection closed (code ${event.code})`));
}

export function initEcho() {
  const list = $('echo-log');
  const socket = liveSocket('/echo', $('echo-status'), {
    onopen: () => log(list, sys('connected to /echo')),
    onmessage: (event) => log(list, dir('←'), asText(event.data)),
    onclose: (event, wasOpen) => closeNote(list, event, wasOpen),
  });
  $('echo-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('echo-input').value;
    if (socket.send(text)) log(list, dir('→'), text);
    else log(list, el('span', { class: 'err' }, 'not connected: nothing sent'));
  });
}

/** What people type travels as JSON `{"name": ..., "text": ...}`; anything else is shown as is. */
function parseLine(text) {
  try {
    const line = JSON.parse(text);
    if (line && typeof line.text === 'string') {
      return { name: typeof line.name === 'string' ? line.name : null, text: line.text };
    }
  } catch {
    // Not JSON: a plain text line from another client.
  }
  return { name: null, text };
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 10_000;
// A connection that stayed open this long was a good one: the next retry starts from
// RETRY_FIRST_MS again. One the server closes at once (1013 when the history cannot be
// replayed, 1008 for a member too slow for a busy room) keeps backing off.
const STABLE_MS = 5000;

/**
 * The chat panel: the server sends `joined`, then `message`s numbered by `seq`, and `error`s.
 * The page remembers the last `seq` and `epoch` it saw; when the socket drops it reconnects
 * by itself with `?since=…&epoch=…`, and the server replays what it missed, so a restart of
 * the node (with Redis keeping the history) loses nothing. A jump in `seq` is shown.
 */
export function initChat() {
  const list = $('chat-log');
  const name = $('chat-name');
  name.value = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
  let position = null; // { epoch, seq }: the last message seen
  let retryMs = RETRY_FIRST_MS;
  let retryTimer = null;
  let openedAt = null;
  const onJoined = (joined) => {
    if (!position) {
      log(list, sys(`joined room ${joined.room} at seq ${joined.seq}`));
    } else if (joined.recovered && joined.seq === position.seq) {
      log(list, sys(`rejoined room ${joined.room}: nothing missed`));
    } else if (joined.recovered) {
      const missed = joined.seq - position.seq;
      const range = missed === 1 ? `seq ${joined.seq}` : `seq ${position.seq + 1}–${joined.seq}`;
      log(list, sys(`rejoined room ${joined.room}: replaying ${missed} missed (${range})`));
    } else {
      log(list, sys(`rejoined room ${joined.room}: what was missed is no longer in the history`));
    }
    if (!position || !joined.recovered) position = { epoch: joined.epoch, seq: joined.seq };
  };
  const onMessage = (message) => {
    if (position && message.epoch === position.epoch && message.seq > position.seq + 1) {
      log(list, el('span', { class: 'err' }, `missed seq ${position.seq + 1}–${message.seq - 1}`));
    }
    position = { epoch: message.epoch, seq: message.seq };
    const line = parseLine(message.text);
    log(list, el('span', { class: 'seq' }, `#${message.seq}`),
      ...(line.name ? [el('span', { class: 'who' }, line.name)] : []), line.text);
  };
  const socket = liveSocket('/chat', $('chat-status'), {
    query: () => (position ? `?since=${position.seq}&epoch=${encodeURIComponent(position.epoch)}` : ''),
    onopen: () => {
      openedAt = Date.now();
      clearTimeout(retryTimer);
    },
    onmessage: (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        log(list, el('span', { class: 'err' }, `unexpected: ${asText(event.data)}`));
        return;
      }
      if (message.type === 'joined') onJoined(message);
      else if (message.type === 'message') onMessage(message);
      else if (message.type === 'error') log(list, el('span', { class: 'err' }, `${message.reason}: ${message.detail}`));
    },
    onclose: (event, wasOpen) => {
      closeNote(list, event, wasOpen);
      clearTimeout(retryTimer);
      if (openedAt !== null && Date.now() - openedAt >= STABLE_MS) retryMs = RETRY_FIRST_MS;
      openedAt = null;
      // Jittered, so that the pages a restart disconnected do not all come back at once.
      const delay = Math.round(retryMs * (0.75 + Math.random() / 2));
      log(list, sys(`reconnecting in ${(delay / 1000).toFixed(1)} s…`));
      retryTimer = setTimeout(() => socket.connect(), delay);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    },
  });
  $('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    if (socket.send(JSON.stringify({ name: name.value.trim() || 'guest', text }))) input.value = '';
    else log(list, el('span', { class: 'err' }, 'not connected: nothing sent'));
  });
}
