// The demo page's entry point: load switchyard-core (wasm), then open the connections.
import { $, headerValue, setPill, showProblem } from './js/util.js';
import { GUID } from './js/webcrypto.js';
import { resetHandshake, showHandshake, handshakeFailed } from './js/handshake.js';
import { initInspector, resetInspector, setAgreement, onFrameReport } from './js/inspector.js';
import { initCalculator } from './js/calculator.js';
import { initEcho, initChat } from './js/chat.js';
import { liveSocket } from './js/socket.js';

/** The wasm module, or null when it failed to load (the page then says so everywhere). */
async function loadCore() {
  const pill = $('wasm-status');
  try {
    const core = await import('./pkg/switchyard_wasm.js');
    await core.default();
    setPill(pill, 'ok', 'wasm: switchyard-core loaded');
    // For the curious, in the developer console.
    window.switchyard = core;
    return core;
  } catch (error) {
    setPill(pill, 'error', 'wasm: failed to load');
    showProblem('wasm', {
      detail: `The WebAssembly core failed to load (${error.message}). Handshake checks and frame ` +
        'decoding need it; build it with: wasm-pack build wasm --target web --out-dir ../www/pkg',
    });
    return null;
  }
}

function connectInspect(core) {
  let seenHandshake = false;
  const inspect = liveSocket('/inspect', $('conn-status'), {
    onopen: () => {
      seenHandshake = false;
      resetHandshake();
      resetInspector();
    },
    onmessage: (event) => {
      let report;
      try {
        report = JSON.parse(event.data);
      } catch {
        handshakeFailed('the server sent a report that is not JSON');
        return;
      }
      if (report.type === 'handshake') {
        seenHandshake = true;
        if (typeof report.request !== 'string' || typeof report.response !== 'string') {
          handshakeFailed('the server\'s report lacks the request or the response it describes');
          return;
        }
        // Its checks run one after the other (WebCrypto is asynchronous); whatever fails in
        // them is said on the page, not left to the console.
        showHandshake(core, report.request, report.response, inspect.extensions(), report.http_version)
          .catch((error) => handshakeFailed(`the page could not check it (${error.message})`));
        // The server's answer as it wrote it: Firefox's WebSocket.extensions names the
        // extension only, without the parameters the core needs to inflate.
        setAgreement(headerValue(report.response, 'Sec-WebSocket-Extensions') ?? '', report.message_limit);
      } else if (report.type === 'frame') {
        onFrameReport(core, report);
      }
    },
    onclose: (event, wasOpen) => {
      if (!seenHandshake) {
        handshakeFailed(wasOpen
          ? `the /inspect connection closed before the server's report (code ${event.code})`
          : 'the server cannot be reached');
      }
    },
  });
  initInspector((data) => inspect.send(data));
}

async function main() {
  $('guid').textContent = GUID;
  const core = await loadCore();
  initCalculator(core);
  connectInspect(core);
  initEcho();
  initChat();
}

main().catch((error) => showProblem('page', { detail: `The page failed to start: ${error.message}` }));
