// Node's built-in `http2` as an RFC 8441 client of switchyard: over TLS (ALPN h2) when given
// a CA file, else cleartext with prior knowledge. On one connection: echo of text, binary and
// a fragmented message with a close from the client; a close from the server (1002 after an
// unmasked frame). Usage: node h2_websocket.mjs HOST PORT [CA_FILE]. Prints "ok" or fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';

const [host, port, caFile] = process.argv.slice(2);
const scheme = caFile ? 'https' : 'http';
const authority = `${host}:${port}`;

function frame(opcode, payload, { fin = true, masked = true } = {}) {
  const n = payload.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  const bit = masked ? 0x80 : 0;
  if (n < 126) head.push(bit | n);
  else if (n < 65536) head.push(bit | 126, n >> 8, n & 0xff);
  else {
    head.push(bit | 127, 0, 0, 0, 0);
    head.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** Reads server frames off a stream, one at a time. */
function reader(stream) {
  let buf = Buffer.alloc(0);
  let waiting = null;
  let ended = false;
  const parse = () => {
    if (buf.length < 2) return null;
    assert.equal(buf[1] & 0x80, 0, 'server frames are not masked');
    let n = buf[1] & 0x7f;
    let at = 2;
    if (n === 126) { if (buf.length < 4) return null; n = buf.readUInt16BE(2); at = 4; }
    else if (n === 127) { if (buf.length < 10) return null; n = Number(buf.readBigUInt64BE(2)); at = 10; }
    if (buf.length < at + n) return null;
    const f = { fin: (buf[0] & 0x80) !== 0, opcode: buf[0] & 0x0f, payload: buf.subarray(at, at + n) };
    buf = buf.subarray(at + n);
    return f;
  };
  const wake = () => { if (waiting) { const w = waiting; waiting = null; w(); } };
  stream.on('data', (chunk) => { buf = Buffer.concat([buf, chunk]); wake(); });
  stream.on('end', () => { ended = true; wake(); });
  return {
    async next() {
      for (;;) {
        const f = parse();
        if (f) return f;
        assert.ok(!ended, 'END_STREAM before the frame');
        await new Promise((resolve) => { waiting = resolve; });
      }
    },
    async end() {
      while (!ended) await new Promise((resolve) => { waiting = resolve; });
    },
  };
}

const client = http2.connect(`${scheme}://${authority}`, caFile ? { ca: readFileSync(caFile) } : {});
client.on('error', (e) => { console.error(e); process.exit(1); });
await new Promise((resolve) => client.once('remoteSettings', resolve));
assert.equal(client.remoteSettings.enableConnectProtocol, true);
if (caFile) assert.equal(client.alpnProtocol, 'h2');

async function websocket(path) {
  const stream = client.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': scheme, ':path': path,
    ':authority': authority, 'sec-websocket-version': '13',
  });
  const headers = await new Promise((resolve) => stream.once('response', resolve));
  assert.equal(headers[':status'], 200);
  assert.equal(headers['sec-websocket-accept'], undefined);
  return { stream, frames: reader(stream) };
}

// Echo, then a close from the client.
let ws = await websocket('/echo');
ws.stream.write(frame(0x1, Buffer.from('hello from node')));
let f = await ws.frames.next();
assert.deepEqual([f.fin, f.opcode, f.payload.toString()], [true, 0x1, 'hello from node']);
const blob = randomBytes(100_000);
ws.stream.write(frame(0x2, blob));
f = await ws.frames.next();
assert.equal(f.opcode, 0x2);
assert.ok(f.payload.equals(blob));
ws.stream.write(Buffer.concat([
  frame(0x1, Buffer.from('frag'), { fin: false }),
  frame(0x0, Buffer.from('mented')),
]));
f = await ws.frames.next();
assert.deepEqual([f.fin, f.opcode, f.payload.toString()], [true, 0x1, 'fragmented']);
const bye = Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]);
ws.stream.write(frame(0x8, bye));
f = await ws.frames.next();
assert.equal(f.opcode, 0x8);
assert.equal(f.payload.readUInt16BE(0), 1000);
await ws.frames.end();
ws.stream.end();

// A close from the server: an unmasked frame is a protocol error, 1002.
ws = await websocket('/echo');
ws.stream.write(frame(0x1, Buffer.from('unmasked'), { masked: false }));
f = await ws.frames.next();
assert.equal(f.opcode, 0x8);
assert.equal(f.payload.readUInt16BE(0), 1002);
ws.stream.write(frame(0x8, Buffer.from([0x03, 0xea])));
await ws.frames.end();
ws.stream.end();

client.close();
console.log('ok');
