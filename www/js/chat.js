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

/** Chat messages travel as JSON `{"name": ..., "text": ...}`; anything else is shown as is. */
function parseChat(data) {
  if (typeof data !== 'string') return { text: asText(data) };
  try {
    const message = JSON.parse(data);
    if (message && typeof message.text === 'string') {
      return { name: typeof message.name === 'string' ? message.name : null, text: message.text };
    }
  } catch {
    // Not JSON: a plain text line from another client.
  }
  return { text: data };
}

export function initChat() {
  const list = $('chat-log');
  const name = $('chat-name');
  name.value = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
  const socket = liveSocket('/chat', $('chat-status'), {
    onopen: () => log(list, sys('joined /chat')),
    onmessage: (event) => {
      const message = parseChat(event.data);
      log(list, ...(message.name ? [el('span', { class: 'who' }, message.name)] : []), message.text);
    },
    onclose: (event, wasOpen) => closeNote(list, event, wasOpen),
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
