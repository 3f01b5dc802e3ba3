// Node's `ws` (npm) as an independent permessage-deflate peer for the interop tests.
//
//   node ws_peer.mjs server          echo server on 127.0.0.1; prints "PORT <n>" then serves
//   node ws_peer.mjs client URL N    sends the N test messages, checks each echo, exits 0
//   node ws_peer.mjs bench           a plain echo server for bench/ (no greeting), compressing
//                                    as switchyard's binary does: 12-bit windows both ways,
//                                    takeover, level 6, memLevel 5, threshold 32
//
// ws's server has compression off by default and its client on: both are turned on here, with
// threshold 0 so every message is compressed. Both roles print the agreed extension as
// "EXTENSIONS <value>" before anything else.
import { WebSocket, WebSocketServer } from 'ws';

const deflate = { threshold: 0 };

function message(i) {
  const size = [0, 1, 16, 100, 1000, 10000, 70000][i % 7];
  const record = JSON.stringify({ id: i, user: 'peer', text: 'the quick brown fox '.repeat(3) });
  const text = record.repeat(Math.floor(size / 60) + 1).slice(0, size);
  return i % 5 === 4 ? Buffer.from(text) : text;
}

const [mode, url, count] = process.argv.slice(2);
if (mode === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate, maxPayload: 1 << 22 });
  wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ extensions: ws.extensions }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
} else if (mode === 'bench') {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: 1 << 22,
    perMessageDeflate: {
      zlibDeflateOptions: { level: 6, memLevel: 5 },
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
      threshold: 32,
    },
  });
  wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
} else if (mode === 'client' && url && count) {
  const n = Number(count);
  const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: 1 << 22 });
  let i = 0;
  let sent;
  const next = () => {
    if (i === n) {
      console.log(`OK ${n}`);
      ws.close(1000);
      return;
    }
    sent = message(i);
    ws.send(sent, { binary: typeof sent !== 'string' });
  };
  ws.on('open', () => {
    console.log(`EXTENSIONS ${ws.extensions}`);
    next();
  });
  ws.on('message', (data, isBinary) => {
    const want = typeof sent === 'string' ? Buffer.from(sent) : sent;
    if (isBinary !== (typeof sent !== 'string') || !Buffer.from(data).equals(want)) {
      console.log(`MISMATCH ${i}`);
      process.exit(1);
    }
    i += 1;
    next();
  });
  ws.on('error', (e) => {
    console.log(`ERROR ${e.message}`);
    process.exit(1);
  });
} else {
  console.error('usage: ws_peer.mjs server | client URL N');
  process.exit(2);
}
