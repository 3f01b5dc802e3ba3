// One WebSocket to one route, with a status pill, clear messages when it cannot connect or
// closes, and a way to reconnect.
import { setPill, showProblem, clearProblem, wsUrl, describeClose } from './util.js';

/**
 * Connects to `path` and keeps the pill and the banner honest. Handlers: `onopen()`,
 * `onmessage(event)`, `onclose(event, wasOpen)`, and `query()`, the query string to add to
 * the URL at each (re)connection. Returns `{ send(data) -> bool, connect(), extensions() }`;
 * `connect` does nothing while a socket is connecting or open, so two retries never make two
 * sockets, and `extensions()` is what the browser agreed to (`WebSocket.extensions`).
 */
export function liveSocket(path, pill, handlers) {
  let socket = null;
  const connect = () => {
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    setPill(pill, 'connecting', `${path}: connecting…`);
    let opened = false;
    socket = new WebSocket(wsUrl(path + (handlers.query?.() ?? '')));
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('open', () => {
      opened = true;
      setPill(pill, 'ok', `${path}: open`);
      clearProblem(path);
      handlers.onopen?.();
    });
    socket.addEventListener('message', (event) => handlers.onmessage?.(event));
    socket.addEventListener('close', (event) => {
      if (opened) {
        setPill(pill, 'closed', `${path}: closed ${event.code}`);
        showProblem(path, { kind: 'closed', detail: describeClose(event), retry: connect });
      } else {
        setPill(pill, 'error', `${path}: unreachable`);
        showProblem(path, { kind: 'unreachable', detail: `close code ${event.code}`, retry: connect });
      }
      handlers.onclose?.(event, opened);
    });
  };
  connect();
  return {
    send(data) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(data);
      return true;
    },
    connect,
    extensions: () => socket?.extensions ?? '',
  };
}
